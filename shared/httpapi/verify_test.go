package httpapi_test

// Verification hardening of tokens against a server whose key is in KMS:
// the introspection endpoint must answer exactly {"active":false} to every
// forgery and every token outside its time window, and the shared/resource
// middleware must refuse the forgeries its own tests (shared/resource's
// TestRequire) do not already cover.

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/resource"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
)

// claimsAt are the claims of a valid client credentials access token of
// ts's deployment at time now, edited by edit.
func (ts *testServer) claimsAt(now time.Time, edit func(c jwt.MapClaims, now time.Time)) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss": ts.issuer(), "sub": serviceID, "aud": []string{ts.issuer()},
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Add(-time.Minute).Unix(),
		"jti": oauth.RandomToken()[:22], "client_id": serviceID, "scope": "read",
	}
	if edit != nil {
		edit(c, now)
	}
	return c
}

// hmacWith signs claims with HS256 keyed with secret, under the server's
// kid with typ at+jwt: the algorithm-confusion forgery, where a verifier
// that takes alg from the token would use the public key bytes as an HMAC
// key.
func hmacWith(t *testing.T, ts *testServer, secret []byte, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["typ"] = oauth.AccessTokenType
	tok.Header["kid"] = mustKID(t, ts.Signer)
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// noneWith is claims with "alg":"none" and no signature, under the
// server's kid.
func noneWith(t *testing.T, ts *testServer, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	tok.Header["typ"] = oauth.AccessTokenType
	tok.Header["kid"] = mustKID(t, ts.Signer)
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forgery is a token built at a time now, to present at introspection (and
// to the middleware, when middleware is set).
type forgery struct {
	name       string
	token      func(t *testing.T, now time.Time) string
	active     bool // a control that must be accepted
	middleware bool // not covered by shared/resource's own tests
}

// forgeries are the verification cases for a server whose signing key is
// keyID on k and whose leeway is leeway. Each is signed by the server's
// own key through KMS unless its name says otherwise.
func forgeries(ts *testServer, k *kmstest.Server, keyID string, leeway time.Duration) []forgery {
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey(keyID))
	if err != nil {
		panic(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	signed := func(edit func(jwt.MapClaims, time.Time), header map[string]any) func(*testing.T, time.Time) string {
		return func(t *testing.T, now time.Time) string {
			return signWith(t, ts.Signer, ts.claimsAt(now, edit), header)
		}
	}
	at := func(claim string, d time.Duration) func(jwt.MapClaims, time.Time) {
		return func(c jwt.MapClaims, now time.Time) { c[claim] = now.Add(d).Unix() }
	}
	return []forgery{
		{name: "control: valid", token: signed(nil, nil), active: true, middleware: true},
		{name: "alg none", token: func(t *testing.T, now time.Time) string { return noneWith(t, ts, ts.claimsAt(now, nil)) }},
		{name: "HS256 keyed with the public key PEM", token: func(t *testing.T, now time.Time) string {
			return hmacWith(t, ts, pemKey, ts.claimsAt(now, nil))
		}},
		{name: "HS256 keyed with the public key DER", middleware: true, token: func(t *testing.T, now time.Time) string {
			return hmacWith(t, ts, der, ts.claimsAt(now, nil))
		}},
		{name: "typ JWT", token: signed(nil, map[string]any{"typ": "JWT"})},
		{name: "no kid", token: signed(nil, map[string]any{"kid": nil})},
		{name: "unknown kid", token: signed(nil, map[string]any{"kid": "not-a-key-of-this-server"})},
		{name: "crit header", middleware: true, token: signed(nil, map[string]any{
			"crit": []string{"urn:example:must-understand"}, "urn:example:must-understand": true})},
		{name: "expired beyond leeway", token: signed(at("exp", -leeway-5*time.Second), nil)},
		{name: "expired within leeway", token: signed(at("exp", -leeway+5*time.Second), nil), active: true},
		{name: "nbf in the future beyond leeway", middleware: true, token: signed(at("nbf", leeway+5*time.Second), nil)},
		{name: "nbf in the future within leeway", middleware: true, token: signed(at("nbf", leeway-5*time.Second), nil), active: true},
		{name: "iat in the future beyond leeway", token: signed(at("iat", leeway+5*time.Second), nil)},
		{name: "iat in the future within leeway", token: signed(at("iat", leeway-5*time.Second), nil), active: true},
		{name: "wrong audience", token: signed(func(c jwt.MapClaims, _ time.Time) { c["aud"] = []string{"https://api.elsewhere.example"} }, nil)},
		{name: "wrong issuer", token: signed(func(c jwt.MapClaims, _ time.Time) { c["iss"] = "https://evil.example" }, nil)},
	}
}

// TestKMSIntrospectionRejectsForgeries: for each algorithm, every forgery
// introspects as exactly {"active":false}, and each control as active.
// The forgeries the resource middleware's own tests do not cover are also
// presented to it (401 invalid_token; the controls 200).
func TestKMSIntrospectionRejectsForgeries(t *testing.T) {
	for _, alg := range kmsAlgs {
		t.Run(alg, func(t *testing.T) {
			k := kmstest.NewServer(t)
			keyID := k.CreateKey(kmsKeySpec[alg])
			ts := newDeployment().container(t, newKMSSigner(t, k, alg, keyID))
			api := resourceAPI(t, ts)
			for _, f := range forgeries(ts, k, keyID, oauth.DefaultLeeway) {
				t.Run(f.name, func(t *testing.T) {
					ts := ts.withT(t)
					r := ts.introspectResp(f.token(t, ts.Clock.Now()), "")
					if f.active {
						wantActive(t, r)
					} else {
						wantInactive(t, r)
					}
					if f.middleware {
						// The middleware's clock is the real one.
						want := http.StatusUnauthorized
						if f.active {
							want = http.StatusOK
						}
						wantAPI(t, api, f.token(t, time.Now()), want)
					}
				})
			}
		})
	}
}

// TestKMSConfiguredLeeway: with the leeway configured to 10 s
// (oauth.Config.Leeway, which GATEHOUSE_TOKEN_LEEWAY sets), the time
// checks at the introspection endpoint and at the middleware (configured
// alike) move with it: a token expired 15 s ago, within the default 30 s,
// is rejected; one expired 5 s ago is accepted.
func TestKMSConfiguredLeeway(t *testing.T) {
	const leeway = 10 * time.Second
	k := kmstest.NewServer(t)
	keyID := k.CreateKey("RSA_2048")
	d := newDeployment()
	ts := d.container(t, newKMSSigner(t, k, "RS256", keyID), func(c *oauth.Config) { c.Leeway = leeway })
	if got := ts.OAuth.Config().Leeway; got != leeway {
		t.Fatalf("effective leeway %s, want %s", got, leeway)
	}
	api := resourceAPI(t, ts, func(c *resource.Config) { c.Leeway = leeway })
	// The same deployment with the default leeway, for contrast.
	lax := d.container(t, newKMSSigner(t, k, "RS256", keyID))
	laxAPI := resourceAPI(t, lax)

	for _, f := range forgeries(ts, k, keyID, leeway) {
		switch f.name {
		case "control: valid", "expired beyond leeway", "expired within leeway", "nbf in the future beyond leeway",
			"nbf in the future within leeway", "iat in the future beyond leeway", "iat in the future within leeway":
		default:
			continue // not about time
		}
		t.Run(f.name, func(t *testing.T) {
			ts, lax := ts.withT(t), lax.withT(t)
			tok := f.token(t, ts.Clock.Now())
			apiTok := f.token(t, time.Now()) // the middleware's clock is the real one
			want := http.StatusUnauthorized
			if f.active {
				wantActive(t, ts.introspectResp(tok, ""))
				want = http.StatusOK
			} else {
				wantInactive(t, ts.introspectResp(tok, ""))
			}
			wantAPI(t, api, apiTok, want)
			// Every case lies within 30 s: the default leeway accepts it.
			wantActive(t, lax.introspectResp(tok, ""))
			wantAPI(t, laxAPI, apiTok, http.StatusOK)
		})
	}
}
