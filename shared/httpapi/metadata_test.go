package httpapi_test

import (
	"crypto"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
)

// TestMetadata covers RFC 8414 §2 and §3: the document at both well-known
// paths, every member the server sets, and nothing else.
func TestMetadata(t *testing.T) {
	ts := newTestServer(t)
	want := map[string]any{
		"issuer":                                        ts.URL,
		"authorization_endpoint":                        ts.URL + "/authorize",
		"token_endpoint":                                ts.URL + "/token",
		"jwks_uri":                                      ts.URL + "/.well-known/jwks.json",
		"revocation_endpoint":                           ts.URL + "/revoke",
		"introspection_endpoint":                        ts.URL + "/introspect",
		"scopes_supported":                              []any{"openid", "read", "write", "admin"},
		"response_types_supported":                      []any{"code", "token", "id_token", "id_token token", "code id_token"},
		"response_modes_supported":                      []any{"query", "fragment"},
		"grant_types_supported":                         []any{"authorization_code", "implicit", "password", "client_credentials", "refresh_token"},
		"token_endpoint_auth_methods_supported":         []any{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"revocation_endpoint_auth_methods_supported":    []any{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"introspection_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		// RFC 8414 §2: required with private_key_jwt; never "none".
		"token_endpoint_auth_signing_alg_values_supported":         []any{"RS256", "PS256", "ES256"},
		"revocation_endpoint_auth_signing_alg_values_supported":    []any{"RS256", "PS256", "ES256"},
		"introspection_endpoint_auth_signing_alg_values_supported": []any{"RS256", "PS256", "ES256"},
		"code_challenge_methods_supported":                         []any{"S256"},
		"authorization_response_iss_parameter_supported":           true,
		"subject_types_supported":                                  []any{"public"},
		"id_token_signing_alg_values_supported":                    []any{"RS256"},
		// OpenID Connect Discovery 1.0 §3, RP-Initiated Logout 1.0 §2.1.
		"claims_supported":                 anySlice(oauth.ClaimsSupported),
		"claims_parameter_supported":       false,
		"request_parameter_supported":      false,
		"request_uri_parameter_supported":  false,
		"require_request_uri_registration": false,
		"end_session_endpoint":             ts.URL + "/logout",
		"userinfo_endpoint":                ts.URL + "/userinfo", // Discovery §3, Core §5.3
	}
	var bodies []string
	for _, path := range []string{oauth.PathMetadata, oauth.PathOpenIDMetadata} {
		t.Run(path, func(t *testing.T) {
			r := ts.withT(t).get(nil, path)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			wantJSONType(t, r)
			if cc := r.Header.Get("Cache-Control"); strings.Contains(cc, "no-store") || cc == "" {
				t.Errorf("Cache-Control %q: metadata is public and cacheable", cc)
			}
			got := r.JSON(t)
			for k, v := range want {
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
			for _, k := range keysOf(got) {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected member %s = %v", k, got[k])
				}
			}
			bodies = append(bodies, r.Body)
		})
	}
	if len(bodies) != 2 {
		return
	}
	if !jsonEqual(t, bodies[0], bodies[1]) {
		t.Errorf("the two metadata documents differ:\n%s\n%s", bodies[0], bodies[1])
	}
	// The advertised endpoints are served: each answers a GET with 405
	// (POST-only) or the document, never 404.
	got := map[string]string{}
	_ = json.Unmarshal([]byte(bodies[0]), &got)
	for _, k := range []string{"token_endpoint", "revocation_endpoint", "introspection_endpoint"} {
		path := strings.TrimPrefix(got[k], ts.URL)
		if r := ts.get(nil, path); r.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s (%s): GET status %d, want 405", k, path, r.Status)
		}
	}
	if r := ts.get(nil, strings.TrimPrefix(got["jwks_uri"], ts.URL)); r.Status != http.StatusOK {
		t.Errorf("jwks_uri: status %d", r.Status)
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// TestJWKS covers RFC 7517 §5 for the jwks_uri, RSA and EC.
func TestJWKS(t *testing.T) {
	es, err := localsigner.New(localsigner.ES256)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ts      *testServer
		kty     string
		members []string
	}{
		{"RS256", newTestServer(t), "RSA", []string{"alg", "e", "kid", "kty", "n", "use"}},
		{"ES256", newTestServerWith(t, es), "EC", []string{"alg", "crv", "kid", "kty", "use", "x", "y"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := tc.ts.withT(t)
			r := ts.get(nil, oauth.PathJWKS)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			wantJSONType(t, r)
			var raw struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal([]byte(r.Body), &raw); err != nil || len(raw.Keys) == 0 {
				t.Fatalf("not a JWK Set with keys: %v %s", err, r.Body)
			}
			k := raw.Keys[0]
			if !reflect.DeepEqual(keysOf(k), tc.members) {
				t.Errorf("JWK members %v, want %v (no private parts)", keysOf(k), tc.members)
			}
			if k["kid"] != mustKID(t, ts.Signer) || k["alg"] != tc.name || k["use"] != "sig" || k["kty"] != tc.kty {
				t.Errorf("JWK %v: want kid %s alg %s use sig kty %s", k, mustKID(t, ts.Signer), tc.name, tc.kty)
			}
			if tc.kty == "EC" && k["crv"] != "P-256" {
				t.Errorf("crv %v, want P-256", k["crv"])
			}
			// The key decodes and is the signer's.
			pub, err := ts.jwks().Keys[0].PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(ts.Signer.(*localsigner.Signer).Public()) {
				t.Error("the published key is not the signing key")
			}
			// Metadata names the same algorithm.
			md := ts.get(nil, oauth.PathMetadata).JSON(t)
			if algs, _ := md["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != tc.name {
				t.Errorf("id_token_signing_alg_values_supported %v, want [%s]", md["id_token_signing_alg_values_supported"], tc.name)
			}
		})
	}
}

// TestMetadataMethods: the documents are GET (and HEAD) only.
func TestMetadataMethods(t *testing.T) {
	base := newTestServer(t)
	for _, path := range []string{oauth.PathMetadata, oauth.PathOpenIDMetadata, oauth.PathJWKS} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			t.Run(method+" "+path, func(t *testing.T) {
				r := base.withT(t).send(method, path, "application/x-www-form-urlencoded", "a=b", "")
				if r.Status != http.StatusMethodNotAllowed {
					t.Fatalf("status %d, want 405: %s", r.Status, r.Body)
				}
				allow := r.Header.Get("Allow")
				if !strings.Contains(allow, "GET") || strings.Contains(allow, "POST") {
					t.Errorf("Allow %q, want GET (and HEAD) only", allow)
				}
			})
		}
		t.Run("HEAD "+path, func(t *testing.T) {
			r := base.withT(t).send(http.MethodHead, path, "", "", "")
			if r.Status != http.StatusOK || r.Body != "" {
				t.Fatalf("HEAD: status %d body %q", r.Status, r.Body)
			}
		})
	}
}

// anySlice is s as JSON decodes it into an any.
func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
