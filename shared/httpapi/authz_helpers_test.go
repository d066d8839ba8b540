package httpapi_test

// Helpers for the authorization endpoint, login, consent and interop tests
// (authorize_test.go, login_test.go, interop_test.go).

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

const (
	// queryClientID is registered with a redirect URI that has a query of
	// its own, which every response must keep (RFC 6749 §3.1.2).
	queryClientID    = "tenant-app"
	queryRedirectURI = "https://client.example/cb?tenant=1"
	// weirdState exercises state's verbatim round trip: spaces, the
	// characters that delimit query strings and fragments, percent signs,
	// a plus and non-ASCII text.
	weirdState = "a b&c=d/?#+%25 é☃ ü"
)

// addQueryClient registers queryClientID.
func (ts *testServer) addQueryClient() {
	ts.t.Helper()
	err := ts.Store.PutClient(context.Background(), &oauth.Client{
		ID: queryClientID, SecretHash: oauth.HashSecret(postSecret), Name: "Tenant App",
		RedirectURIs:            []string{queryRedirectURI},
		GrantTypes:              []string{oauth.GrantAuthorizationCode},
		ResponseTypes:           []string{oauth.ResponseTypeCode},
		Scopes:                  []string{"read"},
		TokenEndpointAuthMethod: oauth.AuthMethodPost,
	})
	if err != nil {
		ts.t.Fatal(err)
	}
}

// getAbs fetches an absolute URL with a browser.
func (ts *testServer) getAbs(c *http.Client, raw string) response {
	ts.t.Helper()
	req, err := http.NewRequest(http.MethodGet, raw, nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	return ts.do(c, req)
}

// authorizeGet sends an authorization request with a raw query string.
func (ts *testServer) authorizeGet(c *http.Client, rawQuery string) response {
	ts.t.Helper()
	return ts.get(c, oauth.PathAuthorize+"?"+rawQuery)
}

// postFormTo posts a raw form to path from browser c with extra headers.
func (ts *testServer) postFormTo(c *http.Client, path string, form url.Values, header http.Header) response {
	ts.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return ts.do(c, req)
}

// openLogin fetches the authorization request in a fresh browser and
// checks that it shows the login page.
func (ts *testServer) openLogin(c *http.Client, params url.Values) response {
	ts.t.Helper()
	page := ts.authorizeGet(c, params.Encode())
	if page.Status != http.StatusOK || !isLoginPage(page.Body) {
		ts.t.Fatalf("expected the login page, got %d:\n%s", page.Status, page.Body)
	}
	return page
}

// signInToConsent logs browser c in through the login page of params and returns
// the consent page the login redirect leads to. Unless params say
// otherwise, it asks for the page with prompt=consent: the user may have
// allowed the client before (consent memory).
func (ts *testServer) signInToConsent(c *http.Client, params url.Values) response {
	ts.t.Helper()
	if !params.Has("prompt") {
		params = withParams(params, "prompt", "consent")
	}
	page := ts.openLogin(c, params)
	resp := ts.submit(c, page.Body, url.Values{"username": {userName}, "password": {userPassword}})
	if resp.Status != http.StatusSeeOther {
		ts.t.Fatalf("login: status %d: %s", resp.Status, resp.Body)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, ts.URL+oauth.PathAuthorize+"?") {
		ts.t.Fatalf("login redirected to %q, not back to the authorization endpoint", loc)
	}
	consent := ts.getAbs(c, loc)
	if consent.Status != http.StatusOK || !isConsentPage(consent.Body) {
		ts.t.Fatalf("expected the consent page after login, got %d:\n%s", consent.Status, consent.Body)
	}
	return consent
}

func isLoginPage(body string) bool { return strings.Contains(body, `name="gh_action" value="login"`) }
func isConsentPage(body string) bool {
	return strings.Contains(body, `name="gh_action" value="consent"`)
}

// webCodeParams are the parameters of a valid code request for the web client.
func webCodeParams(state string) url.Values {
	_, challenge := pkce()
	return url.Values{
		"response_type": {"code"}, "client_id": {webID}, "redirect_uri": {redirectURI},
		"scope": {"read"}, "state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
}

// with returns a copy of v with the given parameters set; an empty value
// deletes the parameter.
func withParams(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	return out
}

// wantHTMLErrorPage checks an error shown to the user, never redirected.
func wantHTMLErrorPage(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d (error page %s): %s", r.Status, status, code, r.Body)
	}
	if loc := r.Header.Get("Location"); loc != "" {
		t.Fatalf("error page must not redirect, got Location %q", loc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("error page Content-Type %q", ct)
	}
	if code != "" && !strings.Contains(r.Body, "<code>"+code+"</code>") {
		t.Fatalf("error page does not show the code %s:\n%s", code, r.Body)
	}
}

// splitLocation returns a redirect's target without query and fragment,
// and its query and fragment parameters, parsed from the raw header.
func splitLocation(t *testing.T, r response) (base string, query, fragment url.Values) {
	t.Helper()
	loc := r.Header.Get("Location")
	if loc == "" {
		t.Fatalf("no Location (status %d): %s", r.Status, r.Body)
	}
	rest, frag, _ := strings.Cut(loc, "#")
	base, q, _ := strings.Cut(rest, "?")
	var err error
	if query, err = url.ParseQuery(q); err != nil {
		t.Fatalf("bad query in %q: %v", loc, err)
	}
	if fragment, err = url.ParseQuery(frag); err != nil {
		t.Fatalf("bad fragment in %q: %v", loc, err)
	}
	return base, query, fragment
}

// wantRedirectError checks an error response redirected to the client
// (RFC 6749 §4.1.2.1, §4.2.2.1; RFC 9207): the error code, a description,
// the state verbatim and the issuer, in the query or, for the implicit
// grant, the fragment; the other component must not carry them.
func (ts *testServer) wantRedirectError(t *testing.T, r response, wantStatus int, target, code, state string, inFragment bool) {
	t.Helper()
	if r.Status != wantStatus {
		t.Fatalf("status %d, want %d redirect: %s", r.Status, wantStatus, r.Body)
	}
	base, query, fragment := splitLocation(t, r)
	if base != target {
		t.Fatalf("redirected to %q, want %q", base, target)
	}
	params, other := query, fragment
	if inFragment {
		params, other = fragment, query
	}
	if got := params.Get("error"); got != code {
		t.Fatalf("error %q, want %q (Location %s)", got, code, r.Header.Get("Location"))
	}
	desc := params.Get("error_description")
	if desc == "" {
		t.Fatalf("no error_description in %s", r.Header.Get("Location"))
	}
	// RFC 6749 §4.1.2.1, §4.2.2.1: %x20-21 / %x23-5B / %x5D-7E only.
	for _, c := range desc {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			t.Fatalf("error_description %q has the character %q, outside %%x20-21 / %%x23-5B / %%x5D-7E", desc, c)
		}
	}
	if got := params.Get("state"); got != state {
		t.Fatalf("state %q, want %q verbatim", got, state)
	}
	if got := params.Get("iss"); got != ts.URL {
		t.Fatalf("iss %q, want the issuer %q (RFC 9207)", got, ts.URL)
	}
	if other.Get("error") != "" || other.Get("iss") != "" {
		t.Fatalf("response parameters in the wrong component: %s", r.Header.Get("Location"))
	}
}

// setCookieNamed returns the Set-Cookie of a response with that name.
func setCookieNamed(h http.Header, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var styleElement = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// inlineStyleHash returns the CSP source expression of a page's inline stylesheet.
func inlineStyleHash(t *testing.T, body string) string {
	t.Helper()
	m := styleElement.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page has no <style> element:\n%s", body)
	}
	sum := sha256.Sum256([]byte(m[1]))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// cspDirective returns the value of one directive of a CSP header.
func cspDirective(csp, name string) (string, bool) {
	for _, d := range strings.Split(csp, ";") {
		d = strings.TrimSpace(d)
		if n, v, _ := strings.Cut(d, " "); n == name {
			return v, true
		}
	}
	return "", false
}

// wantPageHeaders checks the headers every HTML page must have: never
// cached, never framed (RFC 6749 §10.13), a CSP that loads nothing but the
// hashed inline stylesheet.
func wantPageHeaders(t *testing.T, r response) {
	t.Helper()
	h := r.Header
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	if got := h.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options %q, want DENY", got)
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q, want nosniff", got)
	}
	if got := h.Get("Referrer-Policy"); got != "same-origin" {
		// The page URL carries the authorization request.
		t.Errorf("Referrer-Policy %q, want same-origin", got)
	}
	csp := h.Get("Content-Security-Policy")
	if v, ok := cspDirective(csp, "frame-ancestors"); !ok || v != "'none'" {
		t.Errorf("CSP frame-ancestors %q, want 'none' (CSP %q)", v, csp)
	}
	if v, ok := cspDirective(csp, "default-src"); !ok || v != "'none'" {
		t.Errorf("CSP default-src %q, want 'none' (CSP %q)", v, csp)
	}
	styleSrc, ok := cspDirective(csp, "style-src")
	if !ok {
		t.Fatalf("CSP has no style-src: %q", csp)
	}
	if want := inlineStyleHash(t, r.Body); !strings.Contains(" "+styleSrc+" ", " "+want+" ") {
		t.Errorf("CSP style-src %q does not allow the page's stylesheet %s", styleSrc, want)
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows unsafe-inline: %q", csp)
	}
}

// faultyStore is a memstore whose chosen methods fail, to check how the
// authorization endpoint reports server faults.
type faultyStore struct {
	*memstore.Store
	mu   sync.Mutex
	fail map[string]error
}

func (f *faultyStore) failWith(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = err
}

func (f *faultyStore) err(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[method]
}

func (f *faultyStore) GetClient(ctx context.Context, id string) (*oauth.Client, error) {
	if err := f.err("GetClient"); err != nil {
		return nil, err
	}
	return f.Store.GetClient(ctx, id)
}

func (f *faultyStore) CreateCode(ctx context.Context, c *oauth.AuthorizationCode, change *oauth.SessionChange) error {
	if err := f.err("CreateCode"); err != nil {
		return err
	}
	return f.Store.CreateCode(ctx, c, change)
}

func (f *faultyStore) GetSession(ctx context.Context, hash string) (*oauth.Session, error) {
	if err := f.err("GetSession"); err != nil {
		return nil, err
	}
	return f.Store.GetSession(ctx, hash)
}

func (f *faultyStore) CreateSession(ctx context.Context, s *oauth.Session) error {
	if err := f.err("CreateSession"); err != nil {
		return err
	}
	return f.Store.CreateSession(ctx, s)
}

// newFaultyTestServer is newTestServer with the grant library running on a
// faultyStore (the harness's Store field is the memstore underneath).
func newFaultyTestServer(t *testing.T) (*testServer, *faultyStore) {
	t.Helper()
	signer, err := localsigner.New(localsigner.RS256)
	if err != nil {
		t.Fatal(err)
	}
	var faulty *faultyStore
	ts := startServer(t, signer, func(mem *memstore.Store) oauth.Store {
		faulty = &faultyStore{Store: mem, fail: map[string]error{}}
		return faulty
	})
	return ts, faulty
}
