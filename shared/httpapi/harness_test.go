package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/httpapi/pages"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// Registered test fixtures. The Basic client's secret holds the characters
// RFC 6749 §2.3.1 makes clients form-encode inside Basic credentials.
const (
	webID, webSecret         = "web-app", "p:ss%w+rd/=&?"
	serviceID, serviceSecret = "service", "service-secret-0123456789"
	postID, postSecret       = "post-client", "post-secret-0123456789"
	publicID                 = "spa"
	implicitID               = "legacy-spa"
	passwordID, passwordSec  = "migrator", "migrator-secret-0123456789"
	userName, userPassword   = "alice", "correct horse battery"
	redirectURI              = "https://client.example/cb"
	loopbackURI              = "http://127.0.0.1/cb"
)

var (
	testHasher = passwords.Hasher{Memory: 64, Iterations: 1, Parallelism: 1} // cheap, for tests
	userHash   string
	hashOnce   sync.Once
)

// clock is a settable clock shared by the server and the store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testServer is a Gatehouse running on memstore (or, from
// newDynamoServer, on dynamostore) and a signer (a local key, or KMS
// through kmssigner and the kmstest double) behind httptest, with a
// browser-like client (cookie jar, no redirect following).
type testServer struct {
	t     *testing.T
	URL   string
	OAuth *oauth.Server
	// Store is the memstore underneath; nil on a dynamoServer.
	Store  *memstore.Store
	Signer oauth.Signer
	Clock  *clock
	http   *http.Client
}

func newTestServer(t *testing.T, configure ...func(*oauth.Config)) *testServer {
	t.Helper()
	signer, err := localsigner.New(localsigner.RS256)
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, signer, nil, configure...)
}

// startServer starts a test server with signer. wrap, if not nil, wraps
// the memstore the grant library uses (to inject faults); ts.Store is
// always the memstore underneath.
func startServer(t *testing.T, signer oauth.Signer, wrap func(*memstore.Store) oauth.Store, configure ...func(*oauth.Config)) *testServer {
	t.Helper()
	clk := &clock{now: time.Now().Truncate(time.Second)}
	mem := memstore.New()
	mem.Now = clk.Now
	var store oauth.Store = mem
	if wrap != nil {
		store = wrap(mem)
	}
	ts := startServerOn(t, signer, backend{store: store, admin: mem, clock: clk}, configure...)
	ts.Store = mem
	return ts
}

// storeAdmin is what seeding the fixtures needs; memstore and dynamostore
// both have it.
type storeAdmin interface {
	PutClient(ctx context.Context, c *oauth.Client) error
	PutUser(ctx context.Context, u *oauth.User) error
}

// backend is what a test server runs on: the store the grant library uses,
// the admin its fixtures are seeded through, and the clock the server and
// the store share.
type backend struct {
	store oauth.Store
	admin storeAdmin
	clock *clock
	// handler, if not nil, wraps the server's handler (to tag requests).
	handler func(http.Handler) http.Handler
}

// startServerOn starts a test server with signer on backend b, seeded with
// the fixtures. ts.Store is left nil: the caller sets it if it has one.
func startServerOn(t *testing.T, signer oauth.Signer, b backend, configure ...func(*oauth.Config)) *testServer {
	t.Helper()
	ensureUserHash()
	ts := &testServer{t: t, Signer: signer, Clock: b.clock}
	hs := httptest.NewUnstartedServer(nil)
	hs.Start()
	t.Cleanup(hs.Close)
	ts.URL = hs.URL
	cfg := oauth.Config{Issuer: hs.URL, Now: b.clock.Now, ScopesSupported: []string{"read", "write", "admin"}}
	for _, f := range configure {
		f(&cfg)
	}
	var err error
	ts.OAuth, err = oauth.NewServer(cfg, b.store, signer, passwords.Checker{})
	if err != nil {
		t.Fatal(err)
	}
	handler := httpapi.New(ts.OAuth, httpapi.Options{
		Logger:            slog.New(slog.DiscardHandler),
		ScopeDescriptions: map[string]string{"read": "Read your data"},
		Pages:             pages.New(),
	}).All()
	if b.handler != nil {
		handler = b.handler(handler)
	}
	hs.Config.Handler = handler
	seedStore(t, b.admin)
	ts.http = ts.newBrowser()
	return ts
}

// ensureUserHash computes alice's password hash once.
func ensureUserHash() {
	hashOnce.Do(func() {
		var err error
		if userHash, err = testHasher.Hash(userPassword); err != nil {
			panic(err)
		}
	})
}

// seedStore registers the test clients and user.
func seedStore(tb testing.TB, store storeAdmin) {
	tb.Helper()
	ctx := context.Background()
	clients := []*oauth.Client{
		{ID: webID, SecretHash: oauth.HashSecret(webSecret), Name: "Web App",
			RedirectURIs:  []string{redirectURI, "https://client.example/other"},
			GrantTypes:    []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			ResponseTypes: []string{oauth.ResponseTypeCode}, Scopes: []string{"read", "write"},
			TokenEndpointAuthMethod: oauth.AuthMethodBasic},
		{ID: serviceID, SecretHash: oauth.HashSecret(serviceSecret), Name: "Service",
			GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"read", "write", "admin"},
			TokenEndpointAuthMethod: oauth.AuthMethodBasic, AccessTokenLifetime: 5 * time.Minute,
			IntrospectionAllowed: true}, // the resource server: introspects every client's access tokens
		{ID: postID, SecretHash: oauth.HashSecret(postSecret), Name: "Post Client",
			RedirectURIs:  []string{redirectURI},
			GrantTypes:    []string{oauth.GrantAuthorizationCode, oauth.GrantClientCredentials, oauth.GrantRefreshToken},
			ResponseTypes: []string{oauth.ResponseTypeCode}, Scopes: []string{"read"},
			TokenEndpointAuthMethod: oauth.AuthMethodPost},
		{ID: publicID, Name: "Single Page App", RedirectURIs: []string{loopbackURI},
			GrantTypes:    []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials},
			ResponseTypes: []string{oauth.ResponseTypeCode}, Scopes: []string{"read"},
			TokenEndpointAuthMethod: oauth.AuthMethodNone},
		{ID: implicitID, Name: "Legacy SPA", RedirectURIs: []string{redirectURI},
			GrantTypes: []string{oauth.GrantImplicit}, ResponseTypes: []string{oauth.ResponseTypeToken},
			Scopes: []string{"read"}, TokenEndpointAuthMethod: oauth.AuthMethodNone},
		{ID: passwordID, SecretHash: oauth.HashSecret(passwordSec), Name: "Migrator",
			GrantTypes: []string{oauth.GrantPassword, oauth.GrantRefreshToken}, Scopes: []string{"read", "write"},
			TokenEndpointAuthMethod: oauth.AuthMethodBasic},
	}
	for _, c := range clients {
		if err := store.PutClient(ctx, c); err != nil {
			tb.Fatal(err)
		}
	}
	if err := store.PutUser(ctx, &oauth.User{Subject: "user-1", Username: userName, PasswordHash: userHash}); err != nil {
		tb.Fatal(err)
	}
}

// newBrowser returns a client with its own cookie jar that does not follow
// redirects, so tests can inspect each one.
func (ts *testServer) newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// response is a read HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// JSON decodes the body into a map.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("body is not JSON (status %d): %q", r.Status, r.Body)
	}
	return m
}

// Location parses the Location header.
func (r response) Location(t *testing.T) *url.URL {
	t.Helper()
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil || r.Header.Get("Location") == "" {
		t.Fatalf("no valid Location (status %d): %q", r.Status, r.Header.Get("Location"))
	}
	return u
}

func (ts *testServer) do(c *http.Client, req *http.Request) response {
	ts.t.Helper()
	if c == nil {
		c = ts.http
	}
	resp, err := c.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(body)}
}

// basic returns a Basic Authorization header value, form-encoding the id
// and secret first as RFC 6749 §2.3.1 requires.
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// post sends a form to path. auth, if not empty, is the Authorization
// header. form is sent raw, so tests can repeat parameters.
func (ts *testServer) post(path, rawForm, auth string) response {
	ts.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(rawForm))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return ts.do(nil, req)
}

// get fetches path with a browser.
func (ts *testServer) get(c *http.Client, path string) response {
	ts.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	return ts.do(c, req)
}

var hiddenField = regexp.MustCompile(`name="(gh_[a-z]+)" value="([^"]*)"`)

// formFields returns the hidden fields of a page's form.
func formFields(t *testing.T, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("gh_csrf") == "" {
		t.Fatalf("page has no form with a CSRF token:\n%s", page)
	}
	return v
}

// submit posts a page's form with extra fields, from a browser.
func (ts *testServer) submit(c *http.Client, page string, extra url.Values) response {
	ts.t.Helper()
	form := formFields(ts.t, page)
	for k, v := range extra {
		form[k] = v
	}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+oauth.PathAuthorize, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return ts.do(c, req)
}

// authorize runs an authorization request through login and consent in
// browser c and returns the final redirect to the client. The consent page
// is skipped when the user has allowed the client the scopes before.
func (ts *testServer) authorize(c *http.Client, params url.Values) *url.URL {
	ts.t.Helper()
	page := ts.get(c, oauth.PathAuthorize+"?"+params.Encode())
	if page.Status != http.StatusOK {
		ts.t.Fatalf("authorize: status %d: %s", page.Status, page.Body)
	}
	if strings.Contains(page.Body, `value="login"`) {
		resp := ts.submit(c, page.Body, url.Values{"username": {userName}, "password": {userPassword}})
		if resp.Status != http.StatusSeeOther {
			ts.t.Fatalf("login: status %d: %s", resp.Status, resp.Body)
		}
		page = ts.get(c, strings.TrimPrefix(resp.Header.Get("Location"), ts.URL))
	}
	if page.Status == http.StatusFound { // consent remembered
		return page.Location(ts.t)
	}
	if !strings.Contains(page.Body, `value="consent"`) {
		ts.t.Fatalf("expected the consent page, got %d:\n%s", page.Status, page.Body)
	}
	resp := ts.submit(c, page.Body, url.Values{"decision": {"allow"}})
	if resp.Status != http.StatusSeeOther {
		ts.t.Fatalf("consent: status %d: %s", resp.Status, resp.Body)
	}
	return resp.Location(ts.t)
}

// pkce returns a fresh verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	v := oauth.RandomToken() + "-._~"
	return v, oauth.S256Challenge(v)
}

// codeFor runs the code flow for the confidential web client and returns
// a code and its PKCE verifier.
func (ts *testServer) codeFor(scope string) (code, verifier string) {
	ts.t.Helper()
	verifier, challenge := pkce()
	u := ts.authorize(ts.newBrowser(), url.Values{
		"response_type": {"code"}, "client_id": {webID}, "redirect_uri": {redirectURI},
		"scope": {scope}, "state": {"xyz"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	})
	code = u.Query().Get("code")
	if code == "" {
		ts.t.Fatalf("no code in %s", u)
	}
	return code, verifier
}

// exchange redeems a code for the web client.
func (ts *testServer) exchange(code, verifier string) response {
	ts.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}
	return ts.post(oauth.PathToken, form.Encode(), basic(webID, webSecret))
}

// tokens runs a code flow and exchange and returns the token response.
func (ts *testServer) tokens(scope string) map[string]any {
	ts.t.Helper()
	code, verifier := ts.codeFor(scope)
	resp := ts.exchange(code, verifier)
	if resp.Status != http.StatusOK {
		ts.t.Fatalf("exchange: %d %s", resp.Status, resp.Body)
	}
	return resp.JSON(ts.t)
}

// introspect asks whether a token is active, as the service client.
func (ts *testServer) active(token string) bool {
	ts.t.Helper()
	resp := ts.post(oauth.PathIntrospect, url.Values{"token": {token}}.Encode(), basic(serviceID, serviceSecret))
	if resp.Status != http.StatusOK {
		ts.t.Fatalf("introspect: %d %s", resp.Status, resp.Body)
	}
	return resp.JSON(ts.t)["active"] == true
}

// refresh exchanges a refresh token for the web client.
func (ts *testServer) refresh(token, scope string) response {
	ts.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return ts.post(oauth.PathToken, form.Encode(), basic(webID, webSecret))
}

// wantError checks an OAuth JSON error response.
func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if got := r.JSON(t)["error"]; got != code {
		t.Fatalf("error %v, want %s: %s", got, code, r.Body)
	}
}
