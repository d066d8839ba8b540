package resource

import (
	"crypto/rand"
	"crypto/rsa"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/jwks/jwkstest"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/golang-jwt/jwt/v5"
)

const testAudience = "https://api.example.test"

// testKey is an RSA signing key with its RFC 7638 thumbprint as kid.
type testKey struct {
	priv *rsa.PrivateKey
	kid  string
}

func newTestKey() testKey {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	kid, err := oauth.Thumbprint(&priv.PublicKey)
	if err != nil {
		panic(err)
	}
	return testKey{priv, kid}
}

// Keys are generated once per test binary; RSA key generation is slow.
var (
	keyA = sync.OnceValue(newTestKey)
	keyB = sync.OnceValue(newTestKey)
	keyX = sync.OnceValue(newTestKey) // never published
)

func (k testKey) jwk(t *testing.T) oauth.JWK {
	t.Helper()
	j, err := oauth.NewJWK(&k.priv.PublicKey, k.kid, "RS256")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// fakeClock is a settable clock shared by the middleware and the tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a middleware wired to a JWKS server publishing keyA, with a
// fake clock.
type fixture struct {
	mw    *Middleware
	as    *jwkstest.Server
	clock *fakeClock
}

func newFixture(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	as := jwkstest.NewServer(t, JWKSPath, keyA().jwk(t))
	cfg := Config{
		Issuer:   as.URL,
		Audience: []string{"https://other.example.test", testAudience},
		Realm:    "api",
		Logger:   discardLogger(),
	}
	if edit != nil {
		edit(&cfg)
	}
	mw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Now().Truncate(time.Second)}
	mw.now = clock.Now
	return &fixture{mw: mw, as: as, clock: clock}
}

// handler is the protected handler: it echoes the subject and the form
// field "note" so tests see the claims and the preserved body.
func (f *fixture) handler(scopes ...string) http.Handler {
	return f.mw.Require(scopes...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := ClaimsFrom(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		_ = r.ParseForm()
		_, _ = io.WriteString(w, claims.Subject+"|"+claims.Scope+"|"+r.PostForm.Get("note"))
	}))
}

func (f *fixture) serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// claims returns valid claims for the fixture's issuer at the fake time.
func (f *fixture) claims() *oauth.AccessTokenClaims {
	now := f.clock.Now()
	return &oauth.AccessTokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    f.mw.Config().Issuer,
			Subject:   "alice",
			Audience:  jwt.ClaimStrings{testAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
			IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
			ID:        "jti-1",
		},
		ClientID: "client-1",
		Scope:    "notes:read notes:write",
	}
}

// mint signs an access token as Gatehouse does (RS256, typ at+jwt, kid);
// edit may change the header before signing.
func mint(t *testing.T, k testKey, claims *oauth.AccessTokenClaims, edit func(*jwt.Token)) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["typ"] = oauth.AccessTokenType
	tok.Header["kid"] = k.kid
	if edit != nil {
		edit(tok)
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mintWith signs claims with any method and key, with typ at+jwt and kid.
func mintWith(t *testing.T, method jwt.SigningMethod, key any, kid string, claims *oauth.AccessTokenClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["typ"] = oauth.AccessTokenType
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/notes", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func formPost(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/notes", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// errorAttr extracts error="..." from a WWW-Authenticate value (the tests
// use no escaped quotes in error codes).
func errorAttr(challenge string) string {
	_, rest, ok := strings.Cut(challenge, `error="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
