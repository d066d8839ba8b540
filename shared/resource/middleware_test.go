package resource

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/golang-jwt/jwt/v5"
)

func TestRequire(t *testing.T) {
	pubDER, err := x509.MarshalPKIXPublicKey(&keyA().priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	valid := func(t *testing.T, f *fixture) string { return mint(t, keyA(), f.claims(), nil) }
	withClaims := func(edit func(*oauth.AccessTokenClaims)) func(*testing.T, *fixture) string {
		return func(t *testing.T, f *fixture) string {
			c := f.claims()
			edit(c)
			return mint(t, keyA(), c, nil)
		}
	}
	withHeader := func(edit func(*jwt.Token)) func(*testing.T, *fixture) string {
		return func(t *testing.T, f *fixture) string { return mint(t, keyA(), f.claims(), edit) }
	}
	viaHeader := func(tok func(*testing.T, *fixture) string) func(*testing.T, *fixture) *http.Request {
		return func(t *testing.T, f *fixture) *http.Request { return bearer(tok(t, f)) }
	}
	const okBody = "alice|notes:read notes:write|"

	tests := []struct {
		name       string
		cfg        func(*Config)
		scopes     []string
		req        func(*testing.T, *fixture) *http.Request
		wantStatus int
		wantError  string // error attribute of the challenge; "" for none
		wantBody   string // checked on success
	}{
		{
			name:       "header token",
			req:        viaHeader(valid),
			wantStatus: http.StatusOK, wantBody: okBody,
		},
		{
			name: "lowercase scheme",
			req: func(t *testing.T, f *fixture) *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/notes", nil)
				r.Header.Set("Authorization", "bearer "+valid(t, f))
				return r
			},
			wantStatus: http.StatusOK, wantBody: okBody,
		},
		{
			name: "uppercase scheme, several spaces",
			req: func(t *testing.T, f *fixture) *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/notes", nil)
				r.Header.Set("Authorization", "BEARER   "+valid(t, f))
				return r
			},
			wantStatus: http.StatusOK, wantBody: okBody,
		},
		{
			name: "form body token, body still readable",
			req: func(t *testing.T, f *fixture) *http.Request {
				return formPost("note=hello&access_token=" + valid(t, f))
			},
			wantStatus: http.StatusOK, wantBody: okBody + "hello",
		},
		{
			name: "form body token with charset",
			req: func(t *testing.T, f *fixture) *http.Request {
				r := formPost("access_token=" + valid(t, f))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
				return r
			},
			wantStatus: http.StatusOK, wantBody: okBody,
		},
		{
			name: "form body ignored on GET",
			req: func(t *testing.T, f *fixture) *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/notes", strings.NewReader("access_token="+valid(t, f)))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return r
			},
			wantStatus: http.StatusUnauthorized,
		},
		{
			name: "form body ignored when not form-encoded",
			req: func(t *testing.T, f *fixture) *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/notes", strings.NewReader("access_token="+valid(t, f)))
				r.Header.Set("Content-Type", "text/plain")
				return r
			},
			wantStatus: http.StatusUnauthorized,
		},
		{
			name: "form body repeats access_token",
			req: func(t *testing.T, f *fixture) *http.Request {
				tok := valid(t, f)
				return formPost("access_token=" + tok + "&access_token=" + tok)
			},
			wantStatus: http.StatusBadRequest, wantError: ErrorInvalidRequest,
		},
		{
			name: "query token refused by default",
			req: func(t *testing.T, f *fixture) *http.Request {
				return httptest.NewRequest(http.MethodGet, "/notes?access_token="+valid(t, f), nil)
			},
			wantStatus: http.StatusBadRequest, wantError: ErrorInvalidRequest,
		},
		{
			name: "query token accepted when allowed",
			cfg:  func(c *Config) { c.AllowQueryToken = true },
			req: func(t *testing.T, f *fixture) *http.Request {
				return httptest.NewRequest(http.MethodGet, "/notes?x=1&access_token="+valid(t, f), nil)
			},
			wantStatus: http.StatusOK, wantBody: okBody,
		},
		{
			name: "header and form body",
			req: func(t *testing.T, f *fixture) *http.Request {
				tok := valid(t, f)
				r := formPost("access_token=" + tok)
				r.Header.Set("Authorization", "Bearer "+tok)
				return r
			},
			wantStatus: http.StatusBadRequest, wantError: ErrorInvalidRequest,
		},
		{
			name: "header and query",
			cfg:  func(c *Config) { c.AllowQueryToken = true },
			req: func(t *testing.T, f *fixture) *http.Request {
				tok := valid(t, f)
				r := httptest.NewRequest(http.MethodGet, "/notes?access_token="+tok, nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				return r
			},
			wantStatus: http.StatusBadRequest, wantError: ErrorInvalidRequest,
		},
		{
			name: "form body and query",
			cfg:  func(c *Config) { c.AllowQueryToken = true },
			req: func(t *testing.T, f *fixture) *http.Request {
				tok := valid(t, f)
				r := formPost("access_token=" + tok)
				r.URL.RawQuery = "access_token=" + tok
				return r
			},
			wantStatus: http.StatusBadRequest, wantError: ErrorInvalidRequest,
		},
		{
			name: "no token",
			req: func(t *testing.T, f *fixture) *http.Request {
				return httptest.NewRequest(http.MethodGet, "/notes", nil)
			},
			wantStatus: http.StatusUnauthorized,
		},
		{
			name: "other scheme is no bearer token",
			req: func(t *testing.T, f *fixture) *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/notes", nil)
				r.SetBasicAuth("alice", "secret")
				return r
			},
			wantStatus: http.StatusUnauthorized,
		},
		{
			name: "empty bearer credentials",
			req: func(t *testing.T, f *fixture) *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/notes", nil)
				r.Header.Set("Authorization", "Bearer")
				return r
			},
			wantStatus: http.StatusBadRequest, wantError: ErrorInvalidRequest,
		},
		{
			name: "malformed bearer credentials",
			req: func(t *testing.T, f *fixture) *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/notes", nil)
				r.Header.Set("Authorization", "Bearer a b")
				return r
			},
			wantStatus: http.StatusBadRequest, wantError: ErrorInvalidRequest,
		},
		{
			name: "two Authorization headers",
			req: func(t *testing.T, f *fixture) *http.Request {
				r := bearer(valid(t, f))
				r.Header.Add("Authorization", "Bearer "+valid(t, f))
				return r
			},
			wantStatus: http.StatusBadRequest, wantError: ErrorInvalidRequest,
		},
		{
			name: "expired",
			req: viaHeader(withClaims(func(c *oauth.AccessTokenClaims) {
				c.ExpiresAt = jwt.NewNumericDate(c.IssuedAt.Add(-time.Hour))
				c.IssuedAt = jwt.NewNumericDate(c.IssuedAt.Add(-2 * time.Hour))
			})),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name: "expired within leeway",
			req: viaHeader(withClaims(func(c *oauth.AccessTokenClaims) {
				c.ExpiresAt = jwt.NewNumericDate(c.ExpiresAt.Add(-time.Hour - 10*time.Second))
			})),
			wantStatus: http.StatusOK, wantBody: okBody,
		},
		{
			name: "issued in the future",
			req: viaHeader(withClaims(func(c *oauth.AccessTokenClaims) {
				c.IssuedAt = jwt.NewNumericDate(c.IssuedAt.Add(10 * time.Minute))
			})),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name:       "no exp",
			req:        viaHeader(withClaims(func(c *oauth.AccessTokenClaims) { c.ExpiresAt = nil })),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name:       "wrong issuer",
			req:        viaHeader(withClaims(func(c *oauth.AccessTokenClaims) { c.Issuer = "https://evil.example.test" })),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name:       "wrong audience",
			req:        viaHeader(withClaims(func(c *oauth.AccessTokenClaims) { c.Audience = jwt.ClaimStrings{"https://elsewhere.test"} })),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name:       "no audience",
			req:        viaHeader(withClaims(func(c *oauth.AccessTokenClaims) { c.Audience = nil })),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name: "one of several audiences",
			req: viaHeader(withClaims(func(c *oauth.AccessTokenClaims) {
				c.Audience = jwt.ClaimStrings{"https://elsewhere.test", "https://other.example.test"}
			})),
			wantStatus: http.StatusOK, wantBody: okBody,
		},
		{
			name:       "no client_id",
			req:        viaHeader(withClaims(func(c *oauth.AccessTokenClaims) { c.ClientID = "" })),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name: "alg none",
			req: viaHeader(func(t *testing.T, f *fixture) string {
				return mintWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, keyA().kid, f.claims())
			}),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name: "HS256 keyed with the RSA public key",
			req: viaHeader(func(t *testing.T, f *fixture) string {
				return mintWith(t, jwt.SigningMethodHS256, pubPEM, keyA().kid, f.claims())
			}),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name: "HS256 keyed with the JWK modulus",
			req: viaHeader(func(t *testing.T, f *fixture) string {
				return mintWith(t, jwt.SigningMethodHS256, keyA().priv.N.Bytes(), keyA().kid, f.claims())
			}),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name:       "no kid",
			req:        viaHeader(withHeader(func(tok *jwt.Token) { delete(tok.Header, "kid") })),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name:       "typ JWT",
			req:        viaHeader(withHeader(func(tok *jwt.Token) { tok.Header["typ"] = "JWT" })),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name:       "no typ",
			req:        viaHeader(withHeader(func(tok *jwt.Token) { delete(tok.Header, "typ") })),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name:       "typ application/at+jwt",
			req:        viaHeader(withHeader(func(tok *jwt.Token) { tok.Header["typ"] = "application/at+jwt" })),
			wantStatus: http.StatusOK, wantBody: okBody,
		},
		{
			name: "signed by an untrusted key under a trusted kid",
			req: viaHeader(func(t *testing.T, f *fixture) string {
				return mintWith(t, jwt.SigningMethodRS256, keyX().priv, keyA().kid, f.claims())
			}),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name: "alg differs from the key's alg",
			req: viaHeader(func(t *testing.T, f *fixture) string {
				return mintWith(t, jwt.SigningMethodPS256, keyA().priv, keyA().kid, f.claims())
			}),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name: "tampered payload",
			req: viaHeader(func(t *testing.T, f *fixture) string {
				parts := strings.Split(valid(t, f), ".")
				c := f.claims()
				c.Subject = "mallory"
				forged := strings.Split(mint(t, keyX(), c, nil), ".")
				return parts[0] + "." + forged[1] + "." + parts[2]
			}),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name:       "not a JWT",
			req:        viaHeader(func(*testing.T, *fixture) string { return "abc.def.ghi" }),
			wantStatus: http.StatusUnauthorized, wantError: ErrorInvalidToken,
		},
		{
			name:       "required scopes granted",
			scopes:     []string{"notes:read", "notes:write"},
			req:        viaHeader(valid),
			wantStatus: http.StatusOK, wantBody: okBody,
		},
		{
			name:       "insufficient scope",
			scopes:     []string{"notes:read", "admin"},
			req:        viaHeader(valid),
			wantStatus: http.StatusForbidden, wantError: ErrorInsufficientScope,
		},
		{
			name:       "scope prefix is not the scope",
			scopes:     []string{"notes"},
			req:        viaHeader(valid),
			wantStatus: http.StatusForbidden, wantError: ErrorInsufficientScope,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.cfg)
			rec := f.serve(f.handler(tt.scopes...), tt.req(t, f))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %q; challenge %q", rec.Code, tt.wantStatus, rec.Body, rec.Header().Get("WWW-Authenticate"))
			}
			challenge := rec.Header().Get("WWW-Authenticate")
			if rec.Code == http.StatusOK {
				if got := rec.Body.String(); got != tt.wantBody {
					t.Errorf("body %q, want %q", got, tt.wantBody)
				}
				if challenge != "" {
					t.Errorf("challenge %q on success", challenge)
				}
				return
			}
			if !strings.HasPrefix(challenge, `Bearer realm="api"`) {
				t.Errorf("challenge %q does not start with the Bearer realm", challenge)
			}
			if got := errorAttr(challenge); got != tt.wantError {
				t.Errorf("error attribute %q, want %q (challenge %q)", got, tt.wantError, challenge)
			}
			if tt.wantError == "" {
				// RFC 6750 §3.1: no error information without an attempt.
				if challenge != `Bearer realm="api"` || rec.Body.Len() != 0 {
					t.Errorf("challenge %q, body %q; want a bare challenge", challenge, rec.Body)
				}
				return
			}
			if !strings.Contains(challenge, `error_description="`) {
				t.Errorf("challenge %q lacks error_description", challenge)
			}
			var body struct{ Error, ErrorDescription, Scope string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != tt.wantError {
				t.Errorf("body %q (%v), want error %q", rec.Body, err, tt.wantError)
			}
			if tt.wantError == ErrorInsufficientScope {
				want := `scope="` + strings.Join(tt.scopes, " ") + `"`
				if !strings.Contains(challenge, want) {
					t.Errorf("challenge %q lacks %s", challenge, want)
				}
			}
		})
	}
}

func TestExpiredDescription(t *testing.T) {
	f := newFixture(t, nil)
	tok := mint(t, keyA(), f.claims(), nil)
	f.clock.Advance(2 * time.Hour)
	rec := f.serve(f.handler(), bearer(tok))
	want := `Bearer realm="api", error="invalid_token", error_description="The access token expired."`
	if got := rec.Header().Get("WWW-Authenticate"); rec.Code != http.StatusUnauthorized || got != want {
		t.Fatalf("got %d %q, want 401 %q", rec.Code, got, want)
	}
}

func TestQueryTokenResponseIsPrivate(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AllowQueryToken = true })
	tok := mint(t, keyA(), f.claims(), nil)
	rec := f.serve(f.handler(), httptest.NewRequest(http.MethodGet, "/notes?access_token="+url.QueryEscape(tok), nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "private" {
		t.Fatalf("got %d, Cache-Control %q; want 200 private (RFC 6750 §2.3)", rec.Code, rec.Header().Get("Cache-Control"))
	}
}

// Tokens refused before any key lookup must not cause JWKS fetches.
func TestUnverifiableTokensFetchNothing(t *testing.T) {
	f := newFixture(t, nil)
	h := f.handler()
	toks := []string{
		mintWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "garbage-1", f.claims()),
		mintWith(t, jwt.SigningMethodHS256, []byte("secret"), "garbage-2", f.claims()),
		mint(t, keyA(), f.claims(), func(tok *jwt.Token) { delete(tok.Header, "kid") }),
		mint(t, keyA(), f.claims(), func(tok *jwt.Token) { tok.Header["typ"] = "JWT"; tok.Header["kid"] = "garbage-3" }),
	}
	for _, tok := range toks {
		if rec := f.serve(h, bearer(tok)); rec.Code != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", rec.Code)
		}
	}
	if n := f.as.Fetches.Load(); n != 0 {
		t.Errorf("%d JWKS fetches, want 0", n)
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t, nil)
	h := f.handler()
	if rec := f.serve(h, bearer(mint(t, keyA(), f.claims(), nil))); rec.Code != http.StatusOK {
		t.Fatalf("key A: status %d", rec.Code)
	}
	if rec := f.serve(h, bearer(mint(t, keyA(), f.claims(), nil))); rec.Code != http.StatusOK {
		t.Fatalf("key A again: status %d", rec.Code)
	}
	if n := f.as.Fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after two key-A tokens, want 1 (cached)", n)
	}

	// The authorization server rotates to key B, keeping A for a while.
	f.as.SetKeys(keyB().jwk(t), keyA().jwk(t))
	f.clock.Advance(DefaultMinRefetchInterval)
	if rec := f.serve(h, bearer(mint(t, keyB(), f.claims(), nil))); rec.Code != http.StatusOK {
		t.Fatalf("key B after rotation: status %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	if n := f.as.Fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after the unknown kid, want 2 (one refetch)", n)
	}
	for _, k := range []testKey{keyA(), keyB()} {
		if rec := f.serve(h, bearer(mint(t, k, f.claims(), nil))); rec.Code != http.StatusOK {
			t.Errorf("after rotation: status %d", rec.Code)
		}
	}

	// Key A is retired; once the cache expires it is no longer accepted.
	f.as.SetKeys(keyB().jwk(t))
	f.clock.Advance(DefaultCacheTTL)
	if rec := f.serve(h, bearer(mint(t, keyA(), f.claims(), nil))); rec.Code != http.StatusUnauthorized {
		t.Errorf("retired key A: status %d, want 401", rec.Code)
	}
	if rec := f.serve(h, bearer(mint(t, keyB(), f.claims(), nil))); rec.Code != http.StatusOK {
		t.Errorf("key B: status %d", rec.Code)
	}
	if n := f.as.Fetches.Load(); n != 3 {
		t.Errorf("%d fetches, want 3 (one on TTL expiry)", n)
	}
}

func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	f := newFixture(t, nil)
	h := f.handler()
	if rec := f.serve(h, bearer(mint(t, keyA(), f.claims(), nil))); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	unknown := func(i int) string {
		return mint(t, keyX(), f.claims(), func(tok *jwt.Token) { tok.Header["kid"] = fmt.Sprintf("made-up-%d", i) })
	}
	for round, want := range []int32{1, 2, 3} {
		if round > 0 {
			f.clock.Advance(DefaultMinRefetchInterval)
		}
		for i := range 20 {
			rec := f.serve(h, bearer(unknown(i)))
			if rec.Code != http.StatusUnauthorized || errorAttr(rec.Header().Get("WWW-Authenticate")) != ErrorInvalidToken {
				t.Fatalf("unknown kid: status %d %q, want 401 invalid_token", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
		}
		// Round 0 comes right after the initial fetch and refetches
		// nothing; each later round refetches once for all 20 kids.
		if n := f.as.Fetches.Load(); n != want {
			t.Fatalf("round %d: %d fetches, want %d", round, n, want)
		}
		f.clock.Advance(DefaultMinRefetchInterval / 2)
		if rec := f.serve(h, bearer(unknown(99))); rec.Code != http.StatusUnauthorized {
			t.Fatalf("status %d", rec.Code)
		}
		if n := f.as.Fetches.Load(); n != want {
			t.Fatalf("round %d, half an interval later: %d fetches, want %d", round, n, want)
		}
	}
	// Known keys keep working throughout.
	if rec := f.serve(h, bearer(mint(t, keyA(), f.claims(), nil))); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestConcurrentRequestsShareOneFetch(t *testing.T) {
	f := newFixture(t, nil)
	h := f.handler()
	tok := mint(t, keyA(), f.claims(), nil)
	var wg sync.WaitGroup
	codes := make([]int, 50)
	for i := range codes {
		wg.Go(func() { codes[i] = f.serve(h, bearer(tok)).Code })
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: status %d", i, c)
		}
	}
	if n := f.as.Fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	check := func(t *testing.T, rec *httptest.ResponseRecorder, tok string) {
		t.Helper()
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503; challenge %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
		// RFC 6750 §3 allows the challenge on other errors: it names the
		// fault, which is not the token's.
		if c := rec.Header().Get("WWW-Authenticate"); errorAttr(c) != "temporarily_unavailable" || !strings.HasPrefix(c, "Bearer ") {
			t.Errorf("503 challenge %q, want error=\"temporarily_unavailable\"", c)
		}
		if rec.Header().Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		body := rec.Body.String()
		for _, leak := range []string{tok, keyA().kid, "alice", "127.0.0.1"} {
			if strings.Contains(body, leak) {
				t.Errorf("body %q reveals %q", body, leak)
			}
		}
	}

	t.Run("server down", func(t *testing.T) {
		f := newFixture(t, nil)
		f.as.Close()
		tok := mint(t, keyA(), f.claims(), nil)
		check(t, f.serve(f.handler(), bearer(tok)), tok)
	})

	t.Run("server error, then recovery", func(t *testing.T) {
		f := newFixture(t, nil)
		f.as.SetStatus(http.StatusInternalServerError)
		h := f.handler()
		tok := mint(t, keyA(), f.claims(), nil)
		check(t, f.serve(h, bearer(tok)), tok)
		check(t, f.serve(h, bearer(tok)), tok) // rate-limited: no new fetch
		if n := f.as.Fetches.Load(); n != 1 {
			t.Errorf("%d fetches, want 1", n)
		}
		f.as.SetStatus(0)
		f.clock.Advance(DefaultMinRefetchInterval)
		if rec := f.serve(h, bearer(tok)); rec.Code != http.StatusOK {
			t.Errorf("after recovery: status %d", rec.Code)
		}
	})

	t.Run("known keys survive an outage", func(t *testing.T) {
		f := newFixture(t, nil)
		h := f.handler()
		if rec := f.serve(h, bearer(mint(t, keyA(), f.claims(), nil))); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		f.as.SetStatus(http.StatusBadGateway)
		f.clock.Advance(DefaultCacheTTL)
		if rec := f.serve(h, bearer(mint(t, keyA(), f.claims(), nil))); rec.Code != http.StatusOK {
			t.Errorf("cached key during outage: status %d", rec.Code)
		}
		// A kid the cache does not know cannot be judged: 503, not 401.
		tok := mint(t, keyB(), f.claims(), nil)
		f.clock.Advance(DefaultMinRefetchInterval)
		check(t, f.serve(h, bearer(tok)), tok)
	})

	t.Run("not JSON", func(t *testing.T) {
		f := newFixture(t, func(c *Config) { c.JWKSURL = c.Issuer + "/nothing-here" })
		tok := mint(t, keyA(), f.claims(), nil)
		check(t, f.serve(f.handler(), bearer(tok)), tok)
	})
}

func TestChallengeQuoting(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Realm = `a "quoted" \realm` })
	rec := f.serve(f.handler(), httptest.NewRequest(http.MethodGet, "/", nil))
	want := `Bearer realm="a \"quoted\" \\realm"`
	if got := rec.Header().Get("WWW-Authenticate"); got != want {
		t.Errorf("challenge %s, want %s", got, want)
	}

	f = newFixture(t, func(c *Config) { c.Realm = "" })
	rec = f.serve(f.handler(), httptest.NewRequest(http.MethodGet, "/", nil))
	if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("challenge without realm %q, want Bearer", got)
	}
}

func TestRequirePanicsOnInvalidScope(t *testing.T) {
	f := newFixture(t, nil)
	for _, s := range []string{"", "a b", `a"b`, `a\b`, "ä"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Require(%q) did not panic", s)
				}
			}()
			f.mw.Require(s)
		}()
	}
}
