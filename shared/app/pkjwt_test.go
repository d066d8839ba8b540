package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// Keys are generated once per test binary; RSA key generation is slow.
var (
	testRSA = sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	})
	testEC = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

// jwkMap is a public JWK as a JSON object, with extra members.
func jwkMap(t *testing.T, pub any, kid, alg string, extra map[string]any) map[string]any {
	t.Helper()
	j, err := oauth.NewJWK(pub, kid, alg)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(j)
	m := map[string]any{}
	_ = json.Unmarshal(data, &m)
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// jwksJSON is a JWK Set of keys.
func jwksJSON(t *testing.T, keys ...map[string]any) json.RawMessage {
	t.Helper()
	data, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSeedClientPrivateKeyJWT: the one client validation (the seed file and
// `gatehouse clients create`) for private_key_jwt (RFC 7591 §2 jwks,
// jwks_uri; RFC 7523 §2.2).
func TestSeedClientPrivateKeyJWT(t *testing.T) {
	rsaKey := jwkMap(t, &testRSA().PublicKey, "rsa-1", "", map[string]any{"x5c": []string{"MIIB..."}, "key_ops": []string{"verify"}})
	ecKey := jwkMap(t, &testEC().PublicKey, "ec-1", "ES256", nil)
	goodSet := jwksJSON(t, rsaKey, ecKey)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	withPrivate := jwkMap(t, &testEC().PublicKey, "ec-2", "ES256", map[string]any{"d": "c2VjcmV0"})
	cc := []string{oauth.GrantClientCredentials}

	good := []struct {
		name   string
		client app.SeedClient
	}{
		{"inline keys, method by default", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKS: goodSet}},
		{"inline keys, method given", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKS: goodSet,
			TokenEndpointAuthMethod: oauth.AuthMethodPrivateKeyJWT}},
		{"jwks_uri", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKSURI: "https://svc.example.com/.well-known/jwks.json"}},
		{"jwks_uri with a query", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKSURI: "https://svc.example.com/keys?tenant=1"}},
		{"jwks_uri on loopback http", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKSURI: "http://127.0.0.1:8081/jwks.json"}},
		{"an encryption key is left out", app.SeedClient{ClientID: "svc", GrantTypes: cc,
			JWKS: jwksJSON(t, ecKey, jwkMap(t, &testRSA().PublicKey, "enc-1", "", map[string]any{"use": "enc"}))}},
		{"authorization code too", app.SeedClient{ClientID: "web", GrantTypes: []string{"authorization_code", "refresh_token"},
			RedirectURIs: []string{"https://web.example.com/cb"}, JWKSURI: "https://web.example.com/jwks"}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			if errs := c.Validate(); errs != nil {
				t.Fatalf("Validate() = %q", errs)
			}
			eq(t, c.TokenEndpointAuthMethod, oauth.AuthMethodPrivateKeyJWT)
			oc := c.OAuthClient()
			if oc.SecretHash != "" || oc.IsPublic() || oc.JWKSURI != c.JWKSURI {
				t.Errorf("OAuthClient() = %+v", oc)
			}
			if c.JWKSURI == "" {
				if oc.JWKS == nil || len(oc.JWKS.Keys) == 0 {
					t.Fatalf("no keys stored: %+v", oc)
				}
				for _, k := range oc.JWKS.Keys {
					if _, err := k.ClientKey(); err != nil || k.Use == "enc" {
						t.Errorf("stored key %+v: %v", k, err)
					}
				}
			} else if oc.JWKS != nil {
				t.Errorf("jwks stored for a jwks_uri client: %+v", oc.JWKS)
			}
		})
	}

	bad := []struct {
		name   string
		client app.SeedClient
		field  string
		msg    string // a part of the message
	}{
		{"secret too", app.SeedClient{ClientID: "svc", ClientSecret: "s", GrantTypes: cc, JWKS: goodSet,
			TokenEndpointAuthMethod: oauth.AuthMethodPrivateKeyJWT}, "client_secret", "must not have a secret"},
		{"no keys", app.SeedClient{ClientID: "svc", GrantTypes: cc, TokenEndpointAuthMethod: oauth.AuthMethodPrivateKeyJWT},
			"jwks", "jwks (the JWK Set) or jwks_uri"},
		{"JSON null keys", app.SeedClient{ClientID: "svc", GrantTypes: cc, TokenEndpointAuthMethod: oauth.AuthMethodPrivateKeyJWT,
			JWKS: json.RawMessage("null")}, "jwks", "jwks (the JWK Set) or jwks_uri"},
		{"both", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKS: goodSet, JWKSURI: "https://svc.example.com/jwks"},
			"jwks_uri", "not both"},
		{"jwks for a basic client", app.SeedClient{ClientID: "svc", ClientSecret: "s", GrantTypes: cc, JWKS: goodSet},
			"jwks", "only for token_endpoint_auth_method"},
		{"jwks_uri for a public client", app.SeedClient{ClientID: "spa", GrantTypes: []string{"authorization_code"},
			RedirectURIs: []string{"https://spa.example.com/cb"}, TokenEndpointAuthMethod: oauth.AuthMethodNone,
			JWKSURI: "https://spa.example.com/jwks"}, "jwks_uri", "only for token_endpoint_auth_method"},
		{"jwks_uri plain http", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKSURI: "http://svc.example.com/jwks"},
			"jwks_uri", "must use https"},
		{"jwks_uri relative", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKSURI: "/jwks.json"}, "jwks_uri", "not an absolute URL"},
		{"jwks_uri with a fragment", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKSURI: "https://svc.example.com/jwks#k"},
			"jwks_uri", "fragment"},
		{"jwks_uri with user info", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKSURI: "https://u:p@svc.example.com/jwks"},
			"jwks_uri", "user info"},
		{"jwks not a set", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKS: json.RawMessage(`[1, 2]`)}, "jwks", "not a JWK Set"},
		{"jwks without keys", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKS: json.RawMessage(`{}`)}, "jwks", "not a JWK Set"},
		{"jwks with an empty key list", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKS: json.RawMessage(`{"keys": []}`)},
			"jwks", "has no signing key"},
		{"a private key", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKS: jwksJSON(t, ecKey, withPrivate)},
			"jwks", `keys[1] (kid "ec-2") holds private or secret key material ("d")`},
		{"a symmetric key", app.SeedClient{ClientID: "svc", GrantTypes: cc,
			JWKS: json.RawMessage(`{"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}`)}, "jwks", `("k")`},
		{"RSA under 2048 bits", app.SeedClient{ClientID: "svc", GrantTypes: cc,
			JWKS: jwksJSON(t, jwkMap(t, &small.PublicKey, "small", "RS256", nil))}, "jwks", "weaker than 2048 bits"},
		{"no kid", app.SeedClient{ClientID: "svc", GrantTypes: cc, JWKS: jwksJSON(t, jwkMap(t, &testEC().PublicKey, "", "ES256", nil))},
			"jwks", "keys[0] has no kid"},
		{"duplicate kid", app.SeedClient{ClientID: "svc", GrantTypes: cc,
			JWKS: jwksJSON(t, ecKey, jwkMap(t, &testRSA().PublicKey, "ec-1", "RS256", nil))}, "jwks", "duplicate kid (also keys[0])"},
		{"alg not accepted", app.SeedClient{ClientID: "svc", GrantTypes: cc,
			JWKS: jwksJSON(t, jwkMap(t, &testRSA().PublicKey, "r", "RS512", nil))}, "jwks", `alg "RS512"`},
		{"alg not fitting the key", app.SeedClient{ClientID: "svc", GrantTypes: cc,
			JWKS: jwksJSON(t, jwkMap(t, &testRSA().PublicKey, "r", "ES256", nil))}, "jwks", `alg "ES256"`},
		{"only an encryption key", app.SeedClient{ClientID: "svc", GrantTypes: cc,
			JWKS: jwksJSON(t, jwkMap(t, &testRSA().PublicKey, "enc-1", "", map[string]any{"use": "enc"}))}, "jwks", "has no signing key"},
		{"too large", app.SeedClient{ClientID: "svc", GrantTypes: cc,
			JWKS: json.RawMessage(`{"keys": [], "pad": "` + strings.Repeat("x", app.MaxJWKSBytes) + `"}`)}, "jwks", "larger than"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			errs := c.Validate()
			for _, e := range errs {
				if e.Field == tt.field && strings.Contains(e.Message, tt.msg) {
					return
				}
			}
			t.Errorf("Validate() = %q; want a %s error containing %q", errs, tt.field, tt.msg)
		})
	}
}

// TestSeedFilePrivateKeyJWT: a seed file registers private_key_jwt clients,
// keeping JWK members it does not use out of the way of its strict
// decoding.
func TestSeedFilePrivateKeyJWT(t *testing.T) {
	set := jwksJSON(t, jwkMap(t, &testEC().PublicKey, "ec-1", "ES256", map[string]any{"x5t#S256": "abc"}))
	seedJSON := `{"clients": [
	  {"client_id": "inline", "grant_types": ["client_credentials"], "scope": "read", "jwks": ` + string(set) + `},
	  {"client_id": "remote", "grant_types": ["client_credentials"], "jwks_uri": "https://remote.example.com/jwks.json",
	   "token_endpoint_auth_method": "private_key_jwt"}
	]}`
	seed, err := app.ParseSeed(strings.NewReader(seedJSON))
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	if err := seed.Apply(context.Background(), store, fastHasher); err != nil {
		t.Fatal(err)
	}
	inline, err := store.GetClient(context.Background(), "inline")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := oauth.NewJWK(&testEC().PublicKey, "ec-1", "ES256")
	eq(t, inline.TokenEndpointAuthMethod, oauth.AuthMethodPrivateKeyJWT)
	eq(t, inline.JWKS, &oauth.JWKS{Keys: []oauth.JWK{want}})
	remote, err := store.GetClient(context.Background(), "remote")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, remote.JWKSURI, "https://remote.example.com/jwks.json")

	_, err = app.ParseSeed(strings.NewReader(`{"clients": [{"client_id": "x", "grant_types": ["client_credentials"],
	  "client_secret": "s", "jwks_uri": "http://x.example.com/jwks"}]}`))
	if err == nil || !strings.Contains(err.Error(), "seed: clients[0].jwks_uri: is only for token_endpoint_auth_method") {
		t.Errorf("error %v", err)
	}
}

// TestNewJWKSFetcher: the wiring's fetcher reads a client's jwks_uri.
func TestNewJWKSFetcher(t *testing.T) {
	set := jwksJSON(t, jwkMap(t, &testEC().PublicKey, "ec-1", "ES256", nil))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(set) }))
	defer srv.Close()
	f := app.NewJWKSFetcher(nil)
	got, err := f.FetchJWKS(context.Background(), srv.URL+"/jwks.json", false)
	if err != nil || len(got.Keys) != 1 || got.Keys[0].Kid != "ec-1" {
		t.Fatalf("FetchJWKS = %+v, %v", got, err)
	}
}
