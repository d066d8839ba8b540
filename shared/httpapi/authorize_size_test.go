package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// TestAuthorizeRequestSize: an authorization request larger than 8 KiB, as
// a query string or a form, is the 400 error page, never a redirect: a
// 20,000-character state would otherwise come back in a 20 KB Location
// header, which common HTTP clients refuse (Node's fetch fails at 16 KB),
// and which API Gateway would never deliver.
func TestAuthorizeRequestSize(t *testing.T) {
	ts := newTestServer(t)
	p := webCodeParams("st")
	signedIn := ts.newBrowser()
	ts.allow(signedIn, p)
	huge := withParams(p, "state", strings.Repeat("s", 20000))

	t.Run("GET, signed in and allowed", func(t *testing.T) {
		wantHTMLErrorPage(t, ts.authorizeGet(signedIn, huge.Encode()), http.StatusBadRequest, oauth.CodeInvalidRequest)
	})
	t.Run("GET, signed out", func(t *testing.T) {
		wantHTMLErrorPage(t, ts.authorizeGet(ts.newBrowser(), huge.Encode()), http.StatusBadRequest, oauth.CodeInvalidRequest)
	})
	t.Run("POST of the parameters", func(t *testing.T) {
		r := ts.postFormTo(signedIn, oauth.PathAuthorize, huge, nil)
		wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
	})
	t.Run("just over 8 KiB", func(t *testing.T) {
		raw := p.Encode() + "&state="
		raw += strings.Repeat("s", oauth.MaxAuthorizeRequestBytes+1-len(raw))
		wantHTMLErrorPage(t, ts.authorizeGet(signedIn, raw), http.StatusBadRequest, oauth.CodeInvalidRequest)
		r := ts.postFormTo(signedIn, oauth.PathAuthorize, mustParse(t, raw), nil)
		wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
	})
	t.Run("consent form", func(t *testing.T) {
		c := ts.newBrowser()
		page := ts.signInToConsent(c, p)
		r := ts.submit(c, page.Body, url.Values{"decision": {"allow"}, "gh_request": {huge.Encode()}})
		wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
	})
	t.Run("login form", func(t *testing.T) {
		c := ts.newBrowser()
		page := ts.openLogin(c, p)
		r := ts.submit(c, page.Body, url.Values{"username": {userName}, "password": {userPassword}, "gh_request": {huge.Encode()}})
		wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
		if setCookieNamed(r.Header, "gh_session") != nil {
			t.Fatal("a refused login form started a session")
		}
	})
	t.Run("a large state that fits comes back verbatim", func(t *testing.T) {
		state := strings.Repeat("s", 6000)
		u := ts.authorize(ts.newBrowser(), withParams(p, "state", state))
		if u.Query().Get("state") != state || u.Query().Get("code") == "" {
			t.Fatalf("state of %d bytes: redirect %.200s", len(state), u)
		}
	})
}

func mustParse(t *testing.T, raw string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// locationRecorder wraps a handler and records the length of every
// Location header it writes.
type locationRecorder struct {
	mu        sync.Mutex
	max       int
	redirects int
	tooLong   []string
}

func (l *locationRecorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&locationWriter{ResponseWriter: w, l: l}, r)
	})
}

type locationWriter struct {
	http.ResponseWriter
	l *locationRecorder
}

func (w *locationWriter) WriteHeader(status int) {
	if loc := w.Header().Get("Location"); loc != "" {
		w.l.mu.Lock()
		w.l.redirects++
		w.l.max = max(w.l.max, len(loc))
		if len(loc) > oauth.MaxRedirectBytes {
			w.l.tooLong = append(w.l.tooLong, fmt.Sprintf("%d bytes: %.120s...", len(loc), loc))
		}
		w.l.mu.Unlock()
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *locationWriter) Write(b []byte) (int, error) { return w.ResponseWriter.Write(b) }

// TestAuthorizeLocationBound: no Location header the authorization endpoint
// writes exceeds 8 KiB (oauth.MaxRedirectBytes), over every redirect it
// can write: errors redirected to the client (a bad request, prompt=none,
// a denial, a server fault), a code, an implicit token, and the login's
// redirect back to the endpoint; with states of every size up to past the
// limit, written raw with the characters that grow most when re-encoded,
// and a client whose registered redirect URI is long. A request whose
// response would not fit is the error page.
func TestAuthorizeLocationBound(t *testing.T) {
	rec := &locationRecorder{}
	clk := &clock{now: time.Now().Truncate(time.Second)}
	mem := memstore.New()
	mem.Now = clk.Now
	faulty := &faultyStore{Store: mem, fail: map[string]error{}}
	signer, err := localsigner.New(localsigner.RS256)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerOn(t, signer, backend{store: faulty, admin: mem, clock: clk, handler: rec.wrap})
	ts.Store = mem

	longURI := "https://client.example/" + strings.Repeat("l", oauth.MaxRedirectURIBytes-len("https://client.example/"))
	if err := mem.PutClient(context.Background(), &oauth.Client{
		ID: "long-redirect", Name: "Long", RedirectURIs: []string{longURI},
		GrantTypes: []string{oauth.GrantAuthorizationCode}, ResponseTypes: []string{oauth.ResponseTypeCode},
		Scopes: []string{"read"}, TokenEndpointAuthMethod: oauth.AuthMethodNone,
	}); err != nil {
		t.Fatal(err)
	}
	p := withParams(webCodeParams("x"), "state", "") // the flows add a raw state
	_, challenge := pkce()
	long := url.Values{"response_type": {"code"}, "client_id": {"long-redirect"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	implicit := url.Values{"response_type": {"token"}, "client_id": {implicitID}, "redirect_uri": {redirectURI}}
	signedIn := ts.newBrowser()
	ts.allow(signedIn, p)
	ts.allow(signedIn, long)
	if u := ts.authorize(signedIn, implicit); u.Fragment == "" {
		t.Fatalf("implicit: %s", u)
	}

	// get sends a raw query and follows the redirect back to the
	// authorization endpoint a login answers with.
	type flow struct {
		name string
		run  func(rawState string) response
	}
	get := func(c *http.Client, params url.Values, rawState string) response {
		return ts.authorizeGet(c, params.Encode()+"&state="+rawState)
	}
	flows := []flow{
		{"invalid_scope", func(s string) response { return get(ts.newBrowser(), withParams(p, "scope", "admin"), s) }},
		{"unsupported_response_type quoting the request", func(s string) response {
			return get(ts.newBrowser(), withParams(p, "response_type", strings.Repeat(`"`, len(s))), "st")
		}},
		{"login_required", func(s string) response { return get(ts.newBrowser(), withParams(p, "prompt", "none"), s) }},
		{"code at once", func(s string) response { return get(signedIn, p, s) }},
		{"code at once, long registered URI", func(s string) response { return get(signedIn, long, s) }},
		{"implicit token", func(s string) response { return get(signedIn, implicit, s) }},
		{"login, consent, allow", func(s string) response {
			c := ts.newBrowser()
			return ts.throughPages(c, get(c, withParams(p, "prompt", "consent"), s), "allow")
		}},
		{"login, consent, deny", func(s string) response {
			c := ts.newBrowser()
			return ts.throughPages(c, get(c, withParams(p, "prompt", "login consent"), s), "deny")
		}},
		{"server_error issuing the code", func(s string) response {
			faulty.failWith("CreateCode", errors.New("disk on fire"))
			defer faulty.failWith("CreateCode", nil)
			return get(signedIn, p, s)
		}},
	}
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			redirected, refused := 0, 0
			for n := 0; n <= oauth.MaxAuthorizeRequestBytes+200; n += 97 {
				for _, ch := range []string{"s", ":"} { // ":" is sent raw and re-encoded as %3A
					r := f.run(strings.Repeat(ch, n))
					switch {
					case r.Status == http.StatusFound || r.Status == http.StatusSeeOther:
						redirected++
					case r.Status == http.StatusBadRequest && r.Header.Get("Location") == "":
						refused++
					default:
						t.Fatalf("state of %d %q: %d, want a redirect or the 400 page:\n%.500s", n, ch, r.Status, r.Body)
					}
				}
			}
			if redirected == 0 || refused == 0 {
				t.Errorf("%d redirects and %d refusals: the sizes tried miss the limit", redirected, refused)
			}
		})
	}
	for _, s := range rec.tooLong {
		t.Errorf("Location over %d bytes: %s", oauth.MaxRedirectBytes, s)
	}
	t.Logf("%d redirects, the longest Location %d bytes", rec.redirects, rec.max)
	if rec.max < oauth.MaxRedirectBytes*3/4 {
		t.Errorf("the longest Location was %d bytes: the test did not come near the limit", rec.max)
	}
}

// throughPages takes r, the response to an authorization request in
// browser c, through the login page and the consent page (answering
// decision), as far as they are shown, and returns the last response.
func (ts *testServer) throughPages(c *http.Client, r response, decision string) response {
	ts.t.Helper()
	if r.Status != http.StatusOK || !isLoginPage(r.Body) {
		return r
	}
	r = ts.submit(c, r.Body, url.Values{"username": {userName}, "password": {userPassword}})
	if r.Status != http.StatusSeeOther {
		return r
	}
	r = ts.getAbs(c, r.Header.Get("Location"))
	if r.Status != http.StatusOK || !isConsentPage(r.Body) {
		return r
	}
	return ts.submit(c, r.Body, url.Values{"decision": {decision}})
}
