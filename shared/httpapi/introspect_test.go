package httpapi_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// TestIntrospectionClientAuth covers RFC 7662 §2.1: the caller must
// authenticate, and public clients (whose client_id is no secret) may not
// introspect (§4). The token is the service's: the other clients that
// authenticate learn only that it is not theirs to ask about.
func TestIntrospectionClientAuth(t *testing.T) {
	base := newTestServer(t)
	tok := str(base.ccToken("read"), "access_token")
	tests := []struct {
		name   string
		body   string
		auth   string
		status int
		err    string
	}{
		{"basic", "", basic(serviceID, serviceSecret), 200, ""},
		{"basic, reserved-character secret, another client", "", basic(webID, webSecret), 200, ""},
		{"post, another client", formOf("client_id", postID, "client_secret", postSecret), "", 200, ""},
		{"no credentials", "", "", 401, "invalid_client"},
		{"wrong secret", "", basic(serviceID, "wrong"), 401, "invalid_client"},
		{"unknown client", "", basic("nobody", "x"), 401, "invalid_client"},
		{"public client", "client_id=" + publicID, "", 401, "invalid_client"},
		{"implicit public client", "client_id=" + implicitID, "", 401, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := "token=" + url.QueryEscape(tok)
			if tc.body != "" {
				body += "&" + tc.body
			}
			r := base.withT(t).post(oauth.PathIntrospect, body, tc.auth)
			wantNoStore(t, r)
			if tc.err != "" {
				wantError(t, r, tc.status, tc.err)
				if strings.Contains(r.Body, `"active"`) {
					t.Fatalf("refused caller learned about the token: %s", r.Body)
				}
				return
			}
			if strings.Contains(tc.name, "another client") {
				wantInactive(t, r)
				return
			}
			wantActive(t, r)
		})
	}
}

// TestIntrospectActive covers RFC 7662 §2.2 for live tokens, with every
// token_type_hint (the hint only orders lookups, §2.1). Access tokens are
// introspected by the resource server (introspection_allowed), the refresh
// token by its own client, the only one it is reported to. A refresh token
// has no "token_type": §2.2 means a type of RFC 6749 §7.1 (the access
// token's "Bearer"), and "refresh_token" is none.
func TestIntrospectActive(t *testing.T) {
	base := newTestServer(t)
	user := base.tokens("read write")
	_, userClaims := base.verifyAccessToken(str(user, "access_token"), base.URL)
	cc := base.ccToken("admin")
	_, ccClaims := base.verifyAccessToken(str(cc, "access_token"), base.URL)
	now := base.Clock.Now().Unix()
	tests := []struct {
		name  string
		token string
		auth  string         // the caller's Authorization header
		want  map[string]any // exact members; "*" means any non-empty value
	}{
		{"user access token", str(user, "access_token"), basic(serviceID, serviceSecret), map[string]any{
			"active": true, "scope": "read write", "client_id": webID, "username": userName,
			"token_type": "Bearer", "exp": float64(now + 3600), "iat": float64(now), "sub": "user-1",
			"aud": []any{base.URL}, "iss": base.URL, "jti": userClaims["jti"],
		}},
		{"client credentials access token", str(cc, "access_token"), basic(serviceID, serviceSecret), map[string]any{
			"active": true, "scope": "admin", "client_id": serviceID,
			"token_type": "Bearer", "exp": float64(now + 300), "iat": float64(now), "sub": serviceID,
			"aud": []any{base.URL}, "iss": base.URL, "jti": ccClaims["jti"],
		}},
		{"refresh token", str(user, "refresh_token"), basic(webID, webSecret), map[string]any{
			"active": true, "scope": "read write", "client_id": webID, "username": userName,
			"exp": float64(now + 30*24*3600), "iat": float64(now),
			"sub": "user-1", "iss": base.URL,
		}},
	}
	for _, tc := range tests {
		for _, hint := range []string{"", "access_token", "refresh_token", "unknown_hint"} {
			t.Run(tc.name+"/hint="+hint, func(t *testing.T) {
				r := base.withT(t).introspectAs(tc.auth, tc.token, hint)
				wantNoStore(t, r)
				m := wantActive(t, r)
				for _, k := range keysOf(m) {
					if _, ok := tc.want[k]; !ok {
						t.Errorf("unexpected member %s=%v", k, m[k])
					}
				}
				for k, want := range tc.want {
					got, ok := m[k]
					if !ok {
						t.Errorf("member %q missing", k)
						continue
					}
					if k == "scope" {
						if !sameScope(str(m, k), want.(string)) {
							t.Errorf("scope %v, want %v", got, want)
						}
						continue
					}
					if a, isSlice := want.([]any); isSlice {
						g, _ := got.([]any)
						if len(g) != len(a) || (len(a) > 0 && g[0] != a[0]) {
							t.Errorf("%s %v, want %v", k, got, want)
						}
						continue
					}
					if got != want {
						t.Errorf("%s %v (%T), want %v (%T)", k, got, got, want, want)
					}
				}
			})
		}
	}
}

// TestIntrospectInactive covers RFC 7662 §2.2: every token that is not
// live yields exactly {"active":false}, nothing else.
func TestIntrospectInactive(t *testing.T) {
	base := newTestServer(t)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other := newTestServer(t)

	// Controls: the construction used by the forged-token cases yields an
	// active token when nothing is wrong with it.
	wantActive(t, base.introspectResp(base.signWithServerKey(base.baseClaims(), nil), ""))

	revokedAT := str(base.ccToken("read"), "access_token")
	if r := base.revokeWith(basic(serviceID, serviceSecret), revokedAT, ""); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	revokedGrant := base.tokens("read")
	if r := base.revokeWith(basic(webID, webSecret), str(revokedGrant, "refresh_token"), ""); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	rotated := base.tokens("read")
	mustOK(t, "refresh", base.refresh(str(rotated, "refresh_token"), ""))

	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := base.baseClaims()
		edit(c)
		return c
	}
	valid := str(base.ccToken("read"), "access_token")
	parts := strings.Split(valid, ".")
	tamperedPayload := base.signWithServerKey(claims(func(jwt.MapClaims) {}), nil)
	tp := strings.Split(tamperedPayload, ".")
	tests := map[string]string{
		"revoked access token":                  revokedAT,
		"access token of a revoked grant":       str(revokedGrant, "access_token"),
		"refresh token of a revoked grant":      str(revokedGrant, "refresh_token"),
		"rotated refresh token":                 str(rotated, "refresh_token"),
		"word":                                  "not-a-token",
		"three empty parts":                     "..",
		"one dot":                               ".",
		"space":                                 " ",
		"NUL":                                   "\x00",
		"unicode":                               "tökën.ünïcödé.✓",
		"three parts of junk":                   "a.b.c",
		"over 4 KiB":                            strings.Repeat("x", 5000),
		"over 4 KiB JWT-shaped":                 strings.Repeat("x", 3000) + "." + strings.Repeat("y", 3000) + ".z",
		"refresh-shaped unknown":                oauth.RandomToken() + "." + oauth.RandomToken(),
		"signature removed":                     parts[0] + "." + parts[1] + ".",
		"signature of another token":            parts[0] + "." + parts[1] + "." + tp[2],
		"payload of another token":              parts[0] + "." + tp[1] + "." + parts[2],
		"forged signature (other key, our kid)": base.signWithRSAKey(otherKey, base.baseClaims()),
		"token of another server":               str(other.ccToken("read"), "access_token"),
		"other issuer": base.signWithServerKey(claims(func(c jwt.MapClaims) {
			c["iss"] = "https://evil.example"
		}), nil),
		"issuer with trailing slash": base.signWithServerKey(claims(func(c jwt.MapClaims) {
			c["iss"] = base.URL + "/"
		}), nil),
		"other audience": base.signWithServerKey(claims(func(c jwt.MapClaims) {
			c["aud"] = []string{"https://api.example"}
		}), nil),
		"no audience":               base.signWithServerKey(claims(func(c jwt.MapClaims) { delete(c, "aud") }), nil),
		"no exp":                    base.signWithServerKey(claims(func(c jwt.MapClaims) { delete(c, "exp") }), nil),
		"expired exp":               base.signWithServerKey(claims(func(c jwt.MapClaims) { c["exp"] = base.Clock.Now().Add(-time.Hour).Unix() }), nil),
		"iat in future":             base.signWithServerKey(claims(func(c jwt.MapClaims) { c["iat"] = base.Clock.Now().Add(time.Hour).Unix() }), nil),
		"no sub":                    base.signWithServerKey(claims(func(c jwt.MapClaims) { delete(c, "sub") }), nil),
		"no jti":                    base.signWithServerKey(claims(func(c jwt.MapClaims) { delete(c, "jti") }), nil),
		"no client_id":              base.signWithServerKey(claims(func(c jwt.MapClaims) { delete(c, "client_id") }), nil),
		"typ JWT":                   base.signWithServerKey(base.baseClaims(), map[string]any{"typ": "JWT"}),
		"no typ":                    base.signWithServerKey(base.baseClaims(), map[string]any{"typ": nil}),
		"no kid":                    base.signWithServerKey(base.baseClaims(), map[string]any{"kid": nil}),
		"unknown kid":               base.signWithServerKey(base.baseClaims(), map[string]any{"kid": "some-other-key"}),
		"alg none":                  noneToken(t, base),
		"alg HS256 (key confusion)": hmacToken(t, base),
	}
	for name, tok := range tests {
		for _, hint := range []string{"", "access_token", "refresh_token"} {
			t.Run(name+"/hint="+hint, func(t *testing.T) {
				r := base.withT(t).introspectResp(tok, hint)
				wantInactive(t, r)
				wantNoStore(t, r)
			})
		}
	}
}

// noneToken is a valid-looking token with "alg":"none".
func noneToken(t *testing.T, ts *testServer) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, ts.baseClaims())
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = mustKID(t, ts.Signer)
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hmacToken is HS256-signed with the public JWK's modulus as the secret,
// the classic algorithm-confusion forgery.
func hmacToken(t *testing.T, ts *testServer) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, ts.baseClaims())
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = mustKID(t, ts.Signer)
	s, err := tok.SignedString([]byte(ts.jwks().Keys[0].N))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIntrospectExpired: access tokens are inactive once past exp plus the
// verification leeway; refresh tokens past their 30 days.
func TestIntrospectExpired(t *testing.T) {
	t.Run("client credentials access token", func(t *testing.T) {
		ts := newTestServer(t)
		tok := str(ts.ccToken("read"), "access_token") // 5 min
		ts.Clock.Advance(5*time.Minute - time.Second)
		wantActive(t, ts.introspectResp(tok, ""))
		ts.Clock.Advance(time.Second + oauth.DefaultLeeway + time.Second)
		wantInactive(t, ts.introspectResp(tok, ""))
	})
	t.Run("user access token", func(t *testing.T) {
		ts := newTestServer(t)
		tok := str(ts.tokens("read"), "access_token") // 1 h
		ts.Clock.Advance(time.Hour + oauth.DefaultLeeway + time.Second)
		wantInactive(t, ts.introspectResp(tok, "access_token"))
	})
	t.Run("refresh token", func(t *testing.T) {
		ts := newTestServer(t)
		tok := str(ts.tokens("read"), "refresh_token")
		ts.Clock.Advance(29 * 24 * time.Hour)
		wantActive(t, ts.webIntrospects(tok, ""))
		ts.Clock.Advance(2 * 24 * time.Hour)
		wantInactive(t, ts.webIntrospects(tok, "refresh_token"))
	})
}

// TestIntrospectMissingToken covers RFC 7662 §2.1: token is REQUIRED.
func TestIntrospectMissingToken(t *testing.T) {
	base := newTestServer(t)
	for name, body := range map[string]string{
		"absent":    "",
		"empty":     "token=",
		"hint only": "token_type_hint=access_token",
	} {
		t.Run(name, func(t *testing.T) {
			r := base.withT(t).post(oauth.PathIntrospect, body, basic(serviceID, serviceSecret))
			wantError(t, r, http.StatusBadRequest, "invalid_request")
			wantNoStore(t, r)
		})
	}
}

// TestIntrospectWhoMayIntrospect covers RFC 7662 §4 and RFC 6749 §1.5: a
// client learns about the tokens issued to itself; the access tokens of
// other clients only with introspection_allowed (the service client, the
// resource server); a refresh token, which is for the authorization server
// alone, only when it was issued to the caller. Anyone else gets exactly
// {"active":false}, as for a token that does not exist. The attack it
// reproduces: a client without the registration (the migrator) read the
// web client's tokens, and the resource server read a refresh token and
// the username in it. Run on memstore and on DynamoDB Local, so that the
// registration also survives the clients table.
func TestIntrospectWhoMayIntrospect(t *testing.T) {
	t.Run("memstore", func(t *testing.T) { testWhoMayIntrospect(t, newTestServer(t)) })
	t.Run("dynamodb", func(t *testing.T) { testWhoMayIntrospect(t, newDynamoServer(t).testServer) })
}

func testWhoMayIntrospect(t *testing.T, ts *testServer) {
	web := ts.tokens("read")
	pw := mustOK(t, "password grant", ts.passwordGrant(userName, userPassword, "read"))
	public := ts.publicTokens("read")
	post := mustOK(t, "post client credentials", ts.post(oauth.PathToken, formOf("grant_type", "client_credentials",
		"client_id", postID, "client_secret", postSecret), ""))

	type caller struct {
		auth  string
		extra []string
	}
	callers := map[string]caller{
		"web":      {basic(webID, webSecret), nil},
		"service":  {basic(serviceID, serviceSecret), nil}, // introspection_allowed
		"migrator": {basic(passwordID, passwordSec), nil},
		"post":     {"", []string{"client_id", postID, "client_secret", postSecret}},
	}
	// active: the callers that may see each token; every other caller
	// must get {"active":false}.
	tokens := []struct {
		name   string
		token  string
		active []string
	}{
		{"web access token", str(web, "access_token"), []string{"web", "service"}},
		{"web refresh token", str(web, "refresh_token"), []string{"web"}},
		{"service access token", str(ts.ccToken("read"), "access_token"), []string{"service"}},
		{"migrator access token", str(pw, "access_token"), []string{"migrator", "service"}},
		{"migrator refresh token", str(pw, "refresh_token"), []string{"migrator"}},
		{"post access token", str(post, "access_token"), []string{"post", "service"}},
		{"public access token", str(public, "access_token"), []string{"service"}},
		{"public refresh token", str(public, "refresh_token"), nil},
	}
	unknown := ts.introspectResp(oauth.RandomToken()+"."+oauth.RandomToken(), "")
	wantInactive(t, unknown)
	for _, tok := range tokens {
		for name, c := range callers {
			for _, hint := range []string{"", "access_token", "refresh_token"} {
				t.Run(tok.name+"/by "+name+"/hint="+hint, func(t *testing.T) {
					r := ts.withT(t).introspectAs(c.auth, tok.token, hint, c.extra...)
					if slices.Contains(tok.active, name) {
						wantActive(t, r)
						return
					}
					wantInactive(t, r)
					if r.Body != unknown.Body || r.Header.Get("Content-Type") != unknown.Header.Get("Content-Type") ||
						r.Header.Get("Cache-Control") != unknown.Header.Get("Cache-Control") {
						t.Errorf("a refused token reads differently from an unknown one: %q %v, want %q %v",
							r.Body, r.Header, unknown.Body, unknown.Header)
					}
				})
			}
		}
	}
	// Being asked about changed nothing: every token still works.
	mustOK(t, "web refresh", ts.refresh(str(web, "refresh_token"), ""))
	mustOK(t, "public refresh", ts.refreshWith("", str(public, "refresh_token"), "", "client_id", publicID))
	mustOK(t, "migrator refresh", ts.refreshWith(basic(passwordID, passwordSec), str(pw, "refresh_token"), ""))
}
