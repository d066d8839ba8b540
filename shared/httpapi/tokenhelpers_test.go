package httpapi_test

// Helpers for the token, client authentication, introspection, revocation,
// metadata and hygiene tests. They build on harness_test.go without
// changing it.

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/httpapi/pages"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// newTestServerWith is newTestServer with a caller-chosen signer (for the
// ES256 variant). It mirrors newTestServer step for step.
func newTestServerWith(t *testing.T, signer *localsigner.Signer, configure ...func(*oauth.Config)) *testServer {
	t.Helper()
	return startServer(t, signer, nil, configure...)
}

// withT returns a copy of ts whose helpers report to t, so subtests can
// share one server without failing their parent from the wrong goroutine.
func (ts *testServer) withT(t *testing.T) *testServer {
	c := *ts
	c.t = t
	return &c
}

// send issues any request: method, target (path and query), Content-Type
// ("" for none), raw body and Authorization header ("" for none).
func (ts *testServer) send(method, target, contentType, body, auth string) response {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.URL+target, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return ts.do(nil, req)
}

// formOf encodes name/value pairs in order, keeping repeats and empty values.
func formOf(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(pairs[i]) + "=" + url.QueryEscape(pairs[i+1]))
	}
	return b.String()
}

// mustOK fails unless r is a 200 and returns its JSON.
func mustOK(t *testing.T, what string, r response) map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", what, r.Status, r.Body)
	}
	return r.JSON(t)
}

// str returns m[key] as a string ("" if absent or not a string).
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// keysOf returns the sorted keys of m.
func keysOf(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sameScope compares space-delimited scopes as sets.
func sameScope(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// ccToken gets a client credentials token for the service client.
func (ts *testServer) ccToken(scope string) map[string]any {
	ts.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return mustOK(ts.t, "client credentials", ts.post(oauth.PathToken, form.Encode(), basic(serviceID, serviceSecret)))
}

// passwordGrant runs the password grant for the migrator client.
func (ts *testServer) passwordGrant(username, password, scope string) response {
	ts.t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return ts.post(oauth.PathToken, form.Encode(), basic(passwordID, passwordSec))
}

// codeWithoutPKCE runs the code flow for the confidential web client
// without a code_challenge and returns the code.
func (ts *testServer) codeWithoutPKCE(scope string) string {
	ts.t.Helper()
	u := ts.authorize(ts.newBrowser(), url.Values{
		"response_type": {"code"}, "client_id": {webID}, "redirect_uri": {redirectURI},
		"scope": {scope}, "state": {"s1"},
	})
	code := u.Query().Get("code")
	if code == "" {
		ts.t.Fatalf("no code in %s", u)
	}
	return code
}

// publicRedirectURI is a loopback redirect on an ephemeral port, which the
// spa client's port-less registration matches (RFC 8252 §7.3).
const publicRedirectURI = "http://127.0.0.1:49152/cb"

// publicTokens runs the code flow with PKCE for the public spa client over
// its loopback redirect and exchanges the code with client_id alone.
func (ts *testServer) publicTokens(scope string) map[string]any {
	ts.t.Helper()
	verifier, challenge := pkce()
	u := ts.authorize(ts.newBrowser(), url.Values{
		"response_type": {"code"}, "client_id": {publicID}, "redirect_uri": {publicRedirectURI},
		"scope": {scope}, "state": {"s2"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	})
	code := u.Query().Get("code")
	if code == "" {
		ts.t.Fatalf("no code in %s", u)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {publicID},
		"redirect_uri": {publicRedirectURI}, "code_verifier": {verifier}}
	return mustOK(ts.t, "public exchange", ts.post(oauth.PathToken, form.Encode(), ""))
}

// refreshWith refreshes a token with any client authentication: auth is an
// Authorization header, extra holds body parameters (client_id, ...).
func (ts *testServer) refreshWith(auth, token, scope string, extra ...string) response {
	ts.t.Helper()
	pairs := append([]string{"grant_type", "refresh_token", "refresh_token", token}, extra...)
	if scope != "" {
		pairs = append(pairs, "scope", scope)
	}
	return ts.post(oauth.PathToken, formOf(pairs...), auth)
}

// introspectResp introspects a token as the service client, the resource
// server registered with introspection_allowed: it sees every client's
// access tokens, and no refresh token but its own.
func (ts *testServer) introspectResp(token, hint string) response {
	ts.t.Helper()
	return ts.introspectAs(basic(serviceID, serviceSecret), token, hint)
}

// introspectAs introspects a token with any client authentication: auth is
// an Authorization header, extra holds body parameters (client_id, ...).
func (ts *testServer) introspectAs(auth, token, hint string, extra ...string) response {
	ts.t.Helper()
	pairs := append([]string{"token", token}, extra...)
	if hint != "" {
		pairs = append(pairs, "token_type_hint", hint)
	}
	return ts.post(oauth.PathIntrospect, formOf(pairs...), auth)
}

// webIntrospects introspects a token as the web client, which owns the
// refresh tokens of tokens(): the only client they are reported to.
func (ts *testServer) webIntrospects(token, hint string) response {
	ts.t.Helper()
	return ts.introspectAs(basic(webID, webSecret), token, hint)
}

// revokeWith revokes a token with any client authentication (see
// refreshWith).
func (ts *testServer) revokeWith(auth, token, hint string, extra ...string) response {
	ts.t.Helper()
	pairs := append([]string{"token", token}, extra...)
	if hint != "" {
		pairs = append(pairs, "token_type_hint", hint)
	}
	return ts.post(oauth.PathRevoke, formOf(pairs...), auth)
}

// wantInactive checks an introspection answer is exactly {"active":false}.
func wantInactive(t *testing.T, r response) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("introspection status %d: %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if len(m) != 1 || m["active"] != false {
		t.Fatalf("introspection of an inactive token: want exactly {\"active\":false}, got %s", r.Body)
	}
}

// wantActive checks an introspection answer is active and returns it.
func wantActive(t *testing.T, r response) map[string]any {
	t.Helper()
	m := mustOK(t, "introspection", r)
	if m["active"] != true {
		t.Fatalf("token inactive, want active: %s", r.Body)
	}
	return m
}

// wantNoStore checks the §5.1 cache headers and a JSON content type.
func wantNoStore(t *testing.T, r response) {
	t.Helper()
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store (status %d)", got, r.Status)
	}
	if got := r.Header.Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma %q, want no-cache (status %d)", got, r.Status)
	}
	wantJSONType(t, r)
}

// wantJSONType checks the Content-Type is application/json.
func wantJSONType(t *testing.T, r response) {
	t.Helper()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		t.Errorf("Content-Type %q, want application/json (status %d)", r.Header.Get("Content-Type"), r.Status)
	}
}

// wantChallenge checks RFC 9110 §15.5.2 and RFC 6749 §5.2: every 401
// carries a WWW-Authenticate challenge, HTTP Basic with a realm (the one
// scheme the endpoints accept in the Authorization header), whichever
// method the client tried; no other status carries one.
func wantChallenge(t *testing.T, r response) {
	t.Helper()
	got := r.Header.Values("WWW-Authenticate")
	if r.Status != http.StatusUnauthorized {
		if len(got) > 0 {
			t.Errorf("status %d with WWW-Authenticate %q", r.Status, got)
		}
		return
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], `Basic realm="`) {
		t.Errorf("401 with WWW-Authenticate %q, want one Basic challenge with a realm", got)
	}
}

// jwks fetches and decodes the served JWK Set.
func (ts *testServer) jwks() oauth.JWKS {
	ts.t.Helper()
	r := ts.get(nil, oauth.PathJWKS)
	if r.Status != http.StatusOK {
		ts.t.Fatalf("jwks: status %d: %s", r.Status, r.Body)
	}
	var set oauth.JWKS
	if err := json.Unmarshal([]byte(r.Body), &set); err != nil {
		ts.t.Fatalf("jwks is not a JWK Set: %v: %s", err, r.Body)
	}
	return set
}

// verifyAccessToken verifies an access token as a resource server would,
// with golang-jwt and the key fetched from the served JWKS, and returns its
// header and claims. audience is what the token must name.
func (ts *testServer) verifyAccessToken(token string, audience string) (map[string]any, jwt.MapClaims) {
	ts.t.Helper()
	set := ts.jwks()
	claims := jwt.MapClaims{}
	parsed, err := jwt.NewParser(
		jwt.WithValidMethods([]string{ts.Signer.Algorithm()}),
		jwt.WithIssuer(ts.URL),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(ts.Clock.Now),
	).ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		for _, k := range set.Keys {
			if k.Kid == kid && kid != "" {
				if k.Alg != tok.Method.Alg() {
					ts.t.Errorf("JWKS key %q is for %s, token says %s", kid, k.Alg, tok.Method.Alg())
				}
				return k.PublicKey()
			}
		}
		return nil, jwt.ErrTokenUnverifiable
	})
	if err != nil {
		ts.t.Fatalf("access token does not verify against the served JWKS: %v", err)
	}
	return parsed.Header, claims
}

// baseClaims are the claims of a valid client credentials access token of
// this server, for tests that sign variants of it.
func (ts *testServer) baseClaims() jwt.MapClaims {
	now := ts.Clock.Now()
	return jwt.MapClaims{
		"iss": ts.URL, "sub": serviceID, "aud": []string{ts.URL},
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
		"jti": oauth.RandomToken()[:22], "client_id": serviceID, "scope": "read",
	}
}

// signWithServerKey signs claims with the server's own key through its
// Signer, with the given header overrides (nil values delete a header).
func (ts *testServer) signWithServerKey(claims jwt.MapClaims, header map[string]any) string {
	ts.t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(ts.Signer.Algorithm()), claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = mustKID(ts.t, ts.Signer)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	input, err := tok.SigningString()
	if err != nil {
		ts.t.Fatal(err)
	}
	sig, err := ts.Signer.Sign(context.Background(), []byte(input))
	if err != nil {
		ts.t.Fatal(err)
	}
	return input + "." + tok.EncodeSegment(sig)
}

// signWithRSAKey signs claims with another RSA key, claiming the server's
// kid: a forged token.
func (ts *testServer) signWithRSAKey(key *rsa.PrivateKey, claims jwt.MapClaims) string {
	ts.t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = mustKID(ts.t, ts.Signer)
	s, err := tok.SignedString(key)
	if err != nil {
		ts.t.Fatal(err)
	}
	return s
}

// inProcess is a Gatehouse whose handler is called directly, without a
// listener, for benchmarks and the fuzz test. It has the same fixtures as
// the harness (seeded by seedInProcess) and discards its request log.
type inProcess struct {
	handler http.Handler
	srv     *oauth.Server
	store   *memstore.Store
	clock   *clock
	signer  *localsigner.Signer
}

const inProcessIssuer = "https://gatehouse.test"

func newInProcess(tb testing.TB) *inProcess {
	tb.Helper()
	ensureUserHash()
	clk := &clock{now: time.Now().Truncate(time.Second)}
	store := memstore.New()
	store.Now = clk.Now
	signer, err := localsigner.New(localsigner.RS256)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := oauth.NewServer(oauth.Config{Issuer: inProcessIssuer, Now: clk.Now,
		ScopesSupported: []string{"read", "write", "admin"}}, store, signer, passwords.Checker{})
	if err != nil {
		tb.Fatal(err)
	}
	p := &inProcess{
		handler: httpapi.New(srv, httpapi.Options{Logger: slog.New(slog.DiscardHandler), Pages: pages.New()}).All(),
		srv:     srv, store: store, clock: clk, signer: signer,
	}
	seedStore(tb, p.store)
	return p
}

// serve calls the handler directly and returns the recorded response.
func (p *inProcess) serve(method, target, contentType, body, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, inProcessIssuer+target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	p.handler.ServeHTTP(w, req)
	return w
}

// newCode stores a fresh authorization code for the web client directly,
// as the authorization endpoint would, and returns it with its verifier.
func (p *inProcess) newCode(tb testing.TB, scopes []string) (code, verifier string) {
	verifier, challenge := pkce()
	code = oauth.RandomToken()
	err := p.store.CreateCode(context.Background(), &oauth.AuthorizationCode{
		Hash: oauth.HashToken(code), GrantID: oauth.RandomToken(), ClientID: webID,
		RedirectURI: redirectURI, Scopes: scopes, Subject: "user-1", Username: userName,
		CodeChallenge: challenge, CodeChallengeMethod: oauth.PKCEMethodS256,
		AuthTime: p.clock.Now(), ExpiresAt: p.clock.Now().Add(time.Hour),
	}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return code, verifier
}

// wantDescriptionCharset checks an error response's error_description
// keeps to the characters RFC 6749 §5.2 allows: %x20-21 / %x23-5B /
// %x5D-7E (printable ASCII without '"' and '\').
func wantDescriptionCharset(t *testing.T, r response) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		return
	}
	d, _ := m["error_description"].(string)
	for _, c := range []byte(d) {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			t.Errorf("error_description has %q, outside the RFC 6749 §5.2 character set: %q", c, d)
			return
		}
	}
}

// mustKID returns the signer's key id.
func mustKID(t testing.TB, s oauth.Signer) string {
	t.Helper()
	kid, err := s.KeyID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return kid
}
