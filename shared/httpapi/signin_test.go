package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// signIn logs browser c in through the login page of params and returns
// the redirect the login answers with (back to the authorization
// endpoint).
func (ts *testServer) signIn(c *http.Client, params url.Values) *url.URL {
	ts.t.Helper()
	page := ts.openLogin(c, params)
	resp := ts.submit(c, page.Body, url.Values{"username": {userName}, "password": {userPassword}})
	if resp.Status != http.StatusSeeOther {
		ts.t.Fatalf("login: status %d: %s", resp.Status, resp.Body)
	}
	return resp.Location(ts.t)
}

// allow runs params through login (if needed) and the consent page, allowing.
func (ts *testServer) allow(c *http.Client, params url.Values) {
	ts.t.Helper()
	u := ts.authorize(c, params)
	if u.Query().Get("code") == "" {
		ts.t.Fatalf("no code after allowing: %s", u)
	}
}

// wantClientRedirect fails unless r redirects to the client with the
// given error (or a code, for error ""), the state and iss.
func wantClientRedirect(t *testing.T, ts *testServer, r response, wantError string) *url.URL {
	t.Helper()
	if r.Status != http.StatusFound && r.Status != http.StatusSeeOther {
		t.Fatalf("status %d, want a redirect to the client: %s", r.Status, r.Body)
	}
	u := r.Location(t)
	if !strings.HasPrefix(u.String(), redirectURI+"?") {
		t.Fatalf("redirect to %s, want the client's %s", u, redirectURI)
	}
	q := u.Query()
	switch {
	case wantError == "" && q.Get("code") == "":
		t.Fatalf("redirect %s carries no code", u)
	case wantError != "" && (q.Get("error") != wantError || q.Has("code")):
		t.Fatalf("redirect %s: error %q, want %q and no code", u, q.Get("error"), wantError)
	}
	if q.Get("state") != "st" || q.Get("iss") != ts.URL {
		t.Errorf("redirect %s: state %q iss %q", u, q.Get("state"), q.Get("iss"))
	}
	return u
}

// TestPromptNone: prompt=none never shows a page (OpenID Connect Core
// §3.1.2.1): without a session it answers login_required, without consent
// consent_required, and with both it issues the code at once.
func TestPromptNone(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newBrowser()
	p := webCodeParams("st")
	none := withParams(p, "prompt", "none")

	wantClientRedirect(t, ts, ts.authorizeGet(c, none.Encode()), oauth.CodeLoginRequired)

	ts.signIn(c, p)
	wantClientRedirect(t, ts, ts.authorizeGet(c, none.Encode()), oauth.CodeConsentRequired)

	ts.allow(c, p)
	wantClientRedirect(t, ts, ts.authorizeGet(c, none.Encode()), "")

	// A sign-in older than max_age needs a login: login_required.
	ts.Clock.Advance(10 * time.Minute)
	wantClientRedirect(t, ts, ts.authorizeGet(c, withParams(none, "max_age", "300").Encode()), oauth.CodeLoginRequired)
	wantClientRedirect(t, ts, ts.authorizeGet(c, withParams(none, "max_age", "3600").Encode()), "")

	// More scopes than allowed need consent.
	wantClientRedirect(t, ts, ts.authorizeGet(c, withParams(none, "scope", "read write").Encode()), oauth.CodeConsentRequired)

	// none with another value is a malformed request.
	wantClientRedirect(t, ts, ts.authorizeGet(c, withParams(p, "prompt", "none login").Encode()), oauth.CodeInvalidRequest)
}

// TestPromptAndMaxAgeValidation: unknown prompt values and malformed
// max_age are invalid_request, sent to the client.
func TestPromptAndMaxAgeValidation(t *testing.T) {
	ts := newTestServer(t)
	p := webCodeParams("st")
	for _, kv := range [][2]string{
		{"prompt", "create"}, {"prompt", "none consent"}, {"max_age", "-1"}, {"max_age", "ten"}, {"max_age", "1.5"},
	} {
		r := ts.authorizeGet(ts.newBrowser(), withParams(p, kv[0], kv[1]).Encode())
		wantClientRedirect(t, ts, r, oauth.CodeInvalidRequest)
	}
	// select_account is accepted (one browser has one session).
	if r := ts.authorizeGet(ts.newBrowser(), withParams(p, "prompt", "select_account").Encode()); !isLoginPage(r.Body) {
		t.Errorf("prompt=select_account: %d, want the login page", r.Status)
	}
}

// TestPromptLogin: prompt=login shows the login page despite a live
// session; the sign-in that follows replaces the old session, and the
// request continues without asking again.
func TestPromptLogin(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newBrowser()
	p := webCodeParams("st")
	ts.allow(c, p)
	oldCookie := sessionCookieOf(t, c, ts.URL)

	login := withParams(p, "prompt", "login")
	back := ts.signIn(c, login)
	if back.Query().Has("prompt") {
		t.Errorf("the login sends the browser back with prompt=login (%s): it would ask again forever", back)
	}
	wantClientRedirect(t, ts, ts.getAbs(c, back.String()), "")

	if got := sessionCookieOf(t, c, ts.URL); got == oldCookie {
		t.Error("signing in again kept the old session cookie")
	}
	if _, err := ts.OAuth.SessionFromCookie(context.Background(), oldCookie); err == nil {
		t.Error("the replaced session is still live")
	}

	// max_age=0 is a fresh sign-in too, and the login satisfies it.
	c2 := ts.newBrowser()
	back = ts.signIn(c2, withParams(p, "max_age", "0"))
	if back.Query().Has("max_age") {
		t.Errorf("the login sends the browser back with max_age (%s)", back)
	}
	wantClientRedirect(t, ts, ts.getAbs(c2, back.String()), "")
}

func sessionCookieOf(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "gh_session" {
			return ck.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

// TestConsentMemory: a consent is remembered per user, client and scopes:
// the same or fewer scopes skip the page (also in a new session), more
// scopes or another client ask again, and prompt=consent always asks.
func TestConsentMemory(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newBrowser()
	read := webCodeParams("st")
	ts.allow(c, read)

	wantClientRedirect(t, ts, ts.authorizeGet(c, read.Encode()), "")
	both := withParams(read, "scope", "read write")
	if r := ts.authorizeGet(c, both.Encode()); r.Status != http.StatusOK || !isConsentPage(r.Body) {
		t.Fatalf("more scopes: %d, want the consent page", r.Status)
	}
	ts.allow(c, both)
	wantClientRedirect(t, ts, ts.authorizeGet(c, both.Encode()), "")
	wantClientRedirect(t, ts, ts.authorizeGet(c, withParams(read, "scope", "write").Encode()), "")
	if r := ts.authorizeGet(c, withParams(read, "prompt", "consent").Encode()); !isConsentPage(r.Body) {
		t.Fatalf("prompt=consent: %d, want the consent page", r.Status)
	}

	// A new browser: sign in, and the consent recorded for the user holds.
	c2 := ts.newBrowser()
	wantClientRedirect(t, ts, ts.getAbs(c2, ts.signIn(c2, both).String()), "")

	// Another client asks.
	post := withParams(read, "client_id", postID)
	if r := ts.authorizeGet(c2, post.Encode()); !isConsentPage(r.Body) {
		t.Fatalf("another client: %d, want the consent page", r.Status)
	}
	// Denying records nothing.
	consent := ts.authorizeGet(c2, post.Encode())
	wantClientRedirect(t, ts, ts.submit(c2, consent.Body, url.Values{"decision": {"deny"}}), oauth.CodeAccessDenied)
	if r := ts.authorizeGet(c2, post.Encode()); !isConsentPage(r.Body) {
		t.Fatal("a denied request is asked for again, not remembered")
	}
}

// TestFirstPartyClient: the users of a first-party client are not asked
// for consent.
func TestFirstPartyClient(t *testing.T) {
	ts := newTestServer(t)
	first, err := ts.Store.GetClient(context.Background(), webID)
	if err != nil {
		t.Fatal(err)
	}
	first.FirstParty = true
	if err := ts.Store.PutClient(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	c := ts.newBrowser()
	p := webCodeParams("st")
	wantClientRedirect(t, ts, ts.getAbs(c, ts.signIn(c, p).String()), "")
	// prompt=consent still asks.
	if r := ts.authorizeGet(c, withParams(p, "prompt", "consent").Encode()); !isConsentPage(r.Body) {
		t.Fatalf("prompt=consent, first-party client: %d, want the consent page", r.Status)
	}
}

// TestConsentPageClientLinks: the client's registered client_uri and
// logo_uri are shown as escaped text links, never loaded; a "Not you?"
// link signs in as someone else.
func TestConsentPageClientLinks(t *testing.T) {
	ts := newTestServer(t)
	cl, err := ts.Store.GetClient(context.Background(), webID)
	if err != nil {
		t.Fatal(err)
	}
	cl.ClientURI, cl.LogoURI = `https://acme.example/?a=1&b="<x>"`, "https://cdn.acme.example/logo.png"
	if err := ts.Store.PutClient(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	page := ts.signInToConsent(ts.newBrowser(), webCodeParams("st"))
	for _, want := range []string{
		`Website: <a href="https://acme.example/?a=1&amp;b=%22%3cx%3e%22" rel="noopener noreferrer">https://acme.example/?a=1&amp;b=&#34;&lt;x&gt;&#34;</a>`,
		`Logo: <a href="https://cdn.acme.example/logo.png" rel="noopener noreferrer">https://cdn.acme.example/logo.png</a>`,
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("consent page lacks %s", want)
		}
	}
	if strings.Contains(page.Body, "<img") {
		t.Error("the consent page has an image")
	}
	m := regexp.MustCompile(`<a href="([^"]*)">Not you\?</a>`).FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatal("no Not you? link")
	}
	u, err := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
	if err != nil || u.Query().Get("prompt") != "login" || u.Query().Get("client_id") != webID {
		t.Errorf("Not you? link %q: want the request with prompt=login", m[1])
	}
}

// loginAttempt posts the login form of a fresh login page with a username
// and password from browser c.
func (ts *testServer) loginAttempt(c *http.Client, username, password string) response {
	ts.t.Helper()
	page := ts.openLogin(c, webCodeParams("st"))
	return ts.submit(c, page.Body, url.Values{"username": {username}, "password": {password}})
}

var alertRE = regexp.MustCompile(`<p class="alert" role="alert">([^<]*)</p>`)

func alertOf(r response) string {
	if m := alertRE.FindStringSubmatch(r.Body); m != nil {
		return m[1]
	}
	return ""
}

// TestLoginThrottle: after LoginMaxFailures failures for a username within
// the window, every attempt with it is refused (429, Retry-After), even
// with the right password; the refusal reads the same whether or not the
// user exists; the window's end lifts it.
func TestLoginThrottle(t *testing.T) {
	ts := newTestServer(t, func(c *oauth.Config) { c.LoginMaxFailuresPerIP = 1000 })
	c := ts.newBrowser()

	nobody := "nobody-" + oauth.RandomToken()[:8]
	refusals := map[string]response{}
	for _, user := range []string{userName, nobody} {
		for i := range oauth.DefaultLoginMaxFailures {
			r := ts.loginAttempt(c, user, "wrong password")
			if r.Status != http.StatusOK || !strings.Contains(alertOf(r), "not right") {
				t.Fatalf("%s: failure %d: %d %q, want the wrong-password message", user, i+1, r.Status, alertOf(r))
			}
		}
		r := ts.loginAttempt(c, user, userPassword)
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || r.Header.Get("Location") != "" {
			t.Fatalf("%s: attempt after %d failures: %d Retry-After %q, want 429 and no sign-in",
				user, oauth.DefaultLoginMaxFailures, r.Status, r.Header.Get("Retry-After"))
		}
		refusals[user] = r
	}
	known, unknown := refusals[userName], refusals[nobody]
	if alertOf(known) == "" || alertOf(known) != alertOf(unknown) || known.Header.Get("Retry-After") != unknown.Header.Get("Retry-After") {
		t.Errorf("the refusal differs for a real and an unknown user:\n%q (Retry-After %s)\n%q (Retry-After %s)",
			alertOf(known), known.Header.Get("Retry-After"), alertOf(unknown), unknown.Header.Get("Retry-After"))
	}
	if !strings.Contains(alertOf(known), "Too many failed sign-in attempts") {
		t.Errorf("refusal message %q", alertOf(known))
	}

	// The password grant shares the throttle.
	r := ts.post(oauth.PathToken, url.Values{"grant_type": {"password"}, "username": {userName}, "password": {userPassword}}.Encode(),
		basic(passwordID, passwordSec))
	if r.Status != http.StatusBadRequest || r.JSON(t)["error"] != oauth.CodeInvalidGrant {
		t.Errorf("password grant while locked: %d %s, want invalid_grant", r.Status, r.Body)
	}

	// The next window: the right password signs in.
	ts.Clock.Advance(oauth.DefaultLoginFailureWindow)
	if r := ts.loginAttempt(c, userName, userPassword); r.Status != http.StatusSeeOther {
		t.Fatalf("after the window: %d %q, want the sign-in", r.Status, alertOf(r))
	}
}

// TestLoginThrottleClearedBySuccess: a successful sign-in clears the
// username's count, so failures spread over successes never lock a user out.
func TestLoginThrottleClearedBySuccess(t *testing.T) {
	ts := newTestServer(t, func(c *oauth.Config) { c.LoginMaxFailures = 3 })
	for round := range 3 {
		for range 2 {
			ts.loginAttempt(ts.newBrowser(), userName, "wrong")
		}
		if r := ts.loginAttempt(ts.newBrowser(), userName, userPassword); r.Status != http.StatusSeeOther {
			t.Fatalf("round %d: %d %q, want the sign-in", round, r.Status, alertOf(r))
		}
	}
}

// TestLoginThrottlePerAddress: failures from one address count across
// usernames; past LoginMaxFailuresPerIP that address is refused for any
// username, another address is not.
func TestLoginThrottlePerAddress(t *testing.T) {
	ts := newTestServer(t, func(c *oauth.Config) { c.LoginMaxFailuresPerIP = 3 })
	for range 3 {
		ts.loginAttempt(ts.newBrowser(), "user-"+oauth.RandomToken()[:6], "wrong")
	}
	if r := ts.loginAttempt(ts.newBrowser(), userName, userPassword); r.Status != http.StatusTooManyRequests {
		t.Fatalf("from the throttled address: %d, want 429", r.Status)
	}
	// The same check, in the library, from another address: allowed.
	if _, _, err := ts.OAuth.Login(context.Background(), userName, userPassword, "198.51.100.7:5555"); err != nil {
		t.Fatalf("from another address: %v", err)
	}
}

// TestConsentPostRedecides: the consent form's POST re-runs the GET's
// sign-in decision (OpenID Connect Core §3.1.2.1) on the request it
// carries, so a signed-in browser cannot post "allow" for a request that
// asks for a fresh sign-in (prompt=login, max_age=0, a sign-in older than
// max_age) or for no page at all (prompt=none), and get a code without
// the password. On memstore and on DynamoDB Local (sessions' sign-in
// times as the table keeps them).
func TestConsentPostRedecides(t *testing.T) {
	t.Run("memstore", func(t *testing.T) { testConsentPostRedecides(t, newTestServer(t)) })
	t.Run("dynamodb", func(t *testing.T) { testConsentPostRedecides(t, newDynamoServer(t).testServer) })
}

func testConsentPostRedecides(t *testing.T, ts *testServer) {
	p := webCodeParams("st")
	for _, tc := range []struct {
		name string
		// request is the authorization request the consent form posts.
		request url.Values
		// before runs after the consent page is shown, before the post.
		before func(c *http.Client)
		// wantError is the error redirected to the client; "" means the
		// login page.
		wantError string
	}{
		{name: "prompt=login and max_age=0", request: withParams(p, "prompt", "login", "max_age", "0")},
		{name: "prompt=login", request: withParams(p, "prompt", "login")},
		{name: "prompt=login consent", request: withParams(p, "prompt", "consent login")},
		{name: "max_age=0", request: withParams(p, "max_age", "0")},
		{name: "max_age exceeded while the page was open", request: withParams(p, "prompt", "consent", "max_age", "300"),
			before: func(*http.Client) { ts.Clock.Advance(10 * time.Minute) }},
		{name: "session ended", request: withParams(p, "prompt", "consent"),
			before: func(c *http.Client) {
				if err := ts.OAuth.Logout(context.Background(), sessionCookieOf(t, c, ts.URL)); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "prompt=none without consent", request: withParams(p, "prompt", "none", "scope", "read write"),
			wantError: oauth.CodeConsentRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.newBrowser()
			page := ts.signInToConsent(c, p)
			// The form as a browser would post it, with the request edited.
			if tc.before != nil {
				tc.before(c)
			}
			r := ts.submit(c, page.Body, url.Values{"decision": {"allow"}, "gh_request": {tc.request.Encode()}})
			if tc.wantError != "" {
				wantClientRedirect(t, ts, r, tc.wantError)
				return
			}
			if loc := r.Header.Get("Location"); loc != "" {
				t.Fatalf("consent post answered %d with Location %s, want the login page", r.Status, loc)
			}
			if r.Status != http.StatusOK || !isLoginPage(r.Body) {
				t.Fatalf("consent post: %d, want the login page:\n%s", r.Status, r.Body)
			}
			// The login page carries the request as the client sent it,
			// and signing in satisfies it once: the code follows (through
			// the consent page if the request asks for it).
			if got := formFields(t, r.Body).Get("gh_request"); got != tc.request.Encode() {
				t.Errorf("login page carries %q, want the request %q", got, tc.request.Encode())
			}
			back := ts.submit(c, r.Body, url.Values{"username": {userName}, "password": {userPassword}})
			if back.Status != http.StatusSeeOther {
				t.Fatalf("login: %d %s", back.Status, back.Body)
			}
			next := ts.getAbs(c, back.Header.Get("Location"))
			if isConsentPage(next.Body) {
				next = ts.submit(c, next.Body, url.Values{"decision": {"allow"}})
			}
			wantClientRedirect(t, ts, next, "")
		})
	}

	// The request as the login left it passes: the consent post of a
	// prompt=login request that was just signed in for gives the code.
	t.Run("prompt=login and max_age=0 through the pages", func(t *testing.T) {
		c := ts.newBrowser()
		ts.allow(c, p)
		ts.Clock.Advance(time.Minute)
		consent := ts.signInToConsent(c, withParams(p, "prompt", "login consent", "max_age", "0"))
		ts.Clock.Advance(30 * time.Second) // the user reads the page
		wantClientRedirect(t, ts, ts.submit(c, consent.Body, url.Values{"decision": {"allow"}}), "")
	})
}

// TestMaxAgeZero: max_age=0 asks for a fresh sign-in like prompt=login
// (OpenID Connect Core §3.1.2.1), even within the second of the last one.
func TestMaxAgeZero(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newBrowser()
	p := webCodeParams("st")
	ts.allow(c, p)
	if r := ts.authorizeGet(c, withParams(p, "max_age", "0").Encode()); r.Status != http.StatusOK || !isLoginPage(r.Body) {
		t.Fatalf("max_age=0 with a session signed in this second: %d %s, want the login page", r.Status, r.Header.Get("Location"))
	}
	wantClientRedirect(t, ts, ts.authorizeGet(c, withParams(p, "max_age", "0", "prompt", "none").Encode()), oauth.CodeLoginRequired)
}
