package httpapi_test

import (
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/httpapi/pages"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

var alertText = regexp.MustCompile(`(?s)<p class="alert" role="alert">(.*?)</p>`)

// inputTag returns the <input> element with the given name attribute.
func inputTag(t *testing.T, body, name string) string {
	t.Helper()
	re := regexp.MustCompile(`<input[^>]*\bname="` + regexp.QuoteMeta(name) + `"[^>]*>`)
	tag := re.FindString(body)
	if tag == "" {
		t.Fatalf("page has no input named %q:\n%s", name, body)
	}
	return tag
}

// TestLoginPage checks the login form: the fields password managers
// recognise, a form posting to the issuer's authorization endpoint that
// carries the request, a language, and the client's name.
func TestLoginPage(t *testing.T) {
	ts := newTestServer(t)
	p := webCodeParams(weirdState)
	page := ts.openLogin(ts.newBrowser(), p)
	wantPageHeaders(t, page)

	if tag := inputTag(t, page.Body, "username"); !strings.Contains(tag, `autocomplete="username"`) {
		t.Errorf("username input lacks autocomplete=username: %s", tag)
	}
	tag := inputTag(t, page.Body, "password")
	if !strings.Contains(tag, `autocomplete="current-password"`) || !strings.Contains(tag, `type="password"`) {
		t.Errorf("password input lacks type=password autocomplete=current-password: %s", tag)
	}
	if want := `<form method="post" action="` + ts.URL + oauth.PathAuthorize + `"`; !strings.Contains(page.Body, want) {
		t.Errorf("login form does not post to %s%s:\n%s", ts.URL, oauth.PathAuthorize, page.Body)
	}
	if !regexp.MustCompile(`<html[^>]*\blang="[a-zA-Z-]+"`).MatchString(page.Body) {
		t.Error("page has no lang attribute")
	}
	if !strings.Contains(page.Body, "Web App") {
		t.Error("login page does not name the client")
	}
	carried, err := url.ParseQuery(formFields(t, page.Body).Get("gh_request"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range p {
		if carried.Get(k) != p.Get(k) {
			t.Errorf("gh_request %s = %q, want %q", k, carried.Get(k), p.Get(k))
		}
	}
	if c := setCookieNamed(page.Header, "gh_session"); c != nil {
		t.Error("the login page set a session cookie")
	}
	if c := setCookieNamed(page.Header, "gh_csrf"); c == nil || c.Value != formFields(t, page.Body).Get("gh_csrf") {
		t.Errorf("CSRF cookie %v does not match the form's token", c)
	}
}

// TestLoginFailure: bad credentials show the login page again with one
// message, whether or not the user exists; no session, no redirect.
func TestLoginFailure(t *testing.T) {
	ts := newTestServer(t)
	p := webCodeParams("st")
	var messages []string
	for _, tc := range []struct{ name, username, password string }{
		{"wrong password", userName, "wrong horse battery"},
		{"unknown user", "mallory", userPassword},
		{"password of another case", userName, strings.ToUpper(userPassword)},
		{"empty password", userName, ""},
		{"empty username", "", userPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.newBrowser()
			page := ts.openLogin(c, p)
			r := ts.submit(c, page.Body, url.Values{"username": {tc.username}, "password": {tc.password}})
			if r.Status != http.StatusOK || !isLoginPage(r.Body) {
				t.Fatalf("status %d, want the login page again: %s", r.Status, r.Body)
			}
			if loc := r.Header.Get("Location"); loc != "" {
				t.Fatalf("failed login redirected to %s", loc)
			}
			if c := setCookieNamed(r.Header, "gh_session"); c != nil {
				t.Fatalf("failed login set a session cookie %v", c)
			}
			m := alertText.FindStringSubmatch(r.Body)
			if m == nil {
				t.Fatalf("no error message on the page:\n%s", r.Body)
			}
			messages = append(messages, html.UnescapeString(m[1]))
			wantPageHeaders(t, r)
			// The browser is still signed out.
			if again := ts.authorizeGet(c, p.Encode()); !isLoginPage(again.Body) {
				t.Fatalf("after a failed login the browser is signed in: %s", again.Body)
			}
		})
	}
	if len(messages) == 0 {
		t.Fatal("no failed login produced a message")
	}
	for _, m := range messages[1:] {
		if m != messages[0] {
			t.Fatalf("messages differ, revealing which usernames exist: %q vs %q", messages[0], m)
		}
	}
}

// TestConsentPage: the consent page names the client, the user and each
// scope with its configured description.
func TestConsentPage(t *testing.T) {
	ts := newTestServer(t)
	page := ts.signInToConsent(ts.newBrowser(), withParams(webCodeParams("st"), "scope", "read write"))
	wantPageHeaders(t, page)
	for _, want := range []string{"Web App", "<code>read</code>", "Read your data", "<code>write</code>", userName} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("consent page lacks %q:\n%s", want, page.Body)
		}
	}
	if strings.Contains(page.Body, "<code>admin</code>") {
		t.Error("consent page lists a scope that was not requested")
	}
	for _, want := range []string{`value="allow"`, `value="deny"`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("consent page lacks the %s button", want)
		}
	}
}

// TestConsentDecision: deny is access_denied and allow a code, both as 303
// redirects (RFC 6749 §4.1.2, §4.1.2.1; RFC 9700 §4.12) with state and iss.
func TestConsentDecision(t *testing.T) {
	ts := newTestServer(t)
	p := webCodeParams(weirdState)
	t.Run("deny", func(t *testing.T) {
		c := ts.newBrowser()
		page := ts.signInToConsent(c, p)
		r := ts.submit(c, page.Body, url.Values{"decision": {"deny"}})
		ts.wantRedirectError(t, r, http.StatusSeeOther, redirectURI, oauth.CodeAccessDenied, weirdState, false)
		if _, q, _ := splitLocation(t, r); q.Get("code") != "" {
			t.Fatal("a denied request got a code")
		}
	})
	t.Run("allow", func(t *testing.T) {
		c := ts.newBrowser()
		page := ts.signInToConsent(c, p)
		r := ts.submit(c, page.Body, url.Values{"decision": {"allow"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", r.Status)
		}
		base, q, _ := splitLocation(t, r)
		if base != redirectURI || q.Get("code") == "" || q.Get("state") != weirdState || q.Get("iss") != ts.URL {
			t.Fatalf("Location %s", r.Header.Get("Location"))
		}
	})
	for _, decision := range []string{"", "maybe"} {
		t.Run("decision "+decision, func(t *testing.T) {
			c := ts.newBrowser()
			page := ts.signInToConsent(c, p)
			r := ts.submit(c, page.Body, url.Values{"decision": {decision}})
			wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
		})
	}
}

// TestSessionSkipsLogin: a second authorization in the same browser goes
// straight to consent; another browser must sign in.
func TestSessionSkipsLogin(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newBrowser()
	ts.authorize(c, webCodeParams("one"))
	r := ts.authorizeGet(c, withParams(webCodeParams("two"), "client_id", postID).Encode())
	if r.Status != http.StatusOK || !isConsentPage(r.Body) {
		t.Fatalf("second authorization: %d, want the consent page directly: %s", r.Status, r.Body)
	}
	if !strings.Contains(r.Body, "Post Client") {
		t.Fatal("consent page for the second client does not name it")
	}
	if other := ts.authorizeGet(ts.newBrowser(), webCodeParams("three").Encode()); !isLoginPage(other.Body) {
		t.Fatal("another browser shares the session")
	}
}

// sessionCookieOf logs browser c in and returns the login response's
// session cookie.
func (ts *testServer) sessionCookieOf(c *http.Client) *http.Cookie {
	ts.t.Helper()
	page := ts.openLogin(c, webCodeParams("st"))
	r := ts.submit(c, page.Body, url.Values{"username": {userName}, "password": {userPassword}})
	if r.Status != http.StatusSeeOther {
		ts.t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	sc := setCookieNamed(r.Header, "gh_session")
	if sc == nil || sc.Value == "" {
		ts.t.Fatalf("login set no session cookie: %v", r.Header["Set-Cookie"])
	}
	return sc
}

// TestSessionCookie: HttpOnly, SameSite=Lax, Path=/, not Secure on the
// http loopback issuer (browsers would drop it); the value is 256 random
// bits and only its hash is stored.
func TestSessionCookie(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newBrowser()
	page := ts.openLogin(c, webCodeParams("st"))
	csrf := setCookieNamed(page.Header, "gh_csrf")
	sc := ts.sessionCookieOf(c)
	for _, ck := range []*http.Cookie{sc, csrf} {
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
			t.Errorf("cookie %s: HttpOnly=%v SameSite=%v Path=%q Secure=%v; want HttpOnly, Lax, /, not Secure on http",
				ck.Name, ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure)
		}
		if ck.Domain != "" {
			t.Errorf("cookie %s has Domain %q; host-only expected", ck.Name, ck.Domain)
		}
	}
	if !base64URL43.MatchString(sc.Value) {
		t.Errorf("session id %q is not 256 bits of base64url", sc.Value)
	}
	if want := ts.Clock.Now().Add(oauth.DefaultSessionLifetime); !sc.Expires.Equal(want) {
		t.Errorf("session cookie expires %v, want %v", sc.Expires, want)
	}

	ctx := context.Background()
	if _, err := ts.Store.GetSession(ctx, sc.Value); !errors.Is(err, oauth.ErrNotFound) {
		t.Fatalf("the raw session id is a store key (err %v)", err)
	}
	sess, err := ts.Store.GetSession(ctx, oauth.HashToken(sc.Value))
	if err != nil {
		t.Fatalf("session not stored under the id's hash: %v", err)
	}
	if sess.Subject != "user-1" || sess.Username != userName || sess.Hash == sc.Value {
		t.Fatalf("stored session %+v", sess)
	}
}

// TestSecureCookiesOnHTTPSIssuer drives a server whose issuer is https
// directly through its handler: every cookie must be Secure.
// inProcessHandler returns the handler of a server with the given issuer
// (on memstore, with alice and the web client), to be driven without a
// network listener, so that the issuer can be any https URL.
func inProcessHandler(t *testing.T, issuer string) http.Handler {
	t.Helper()
	ctx := context.Background()
	store := memstore.New()
	signer, err := localsigner.New(localsigner.RS256)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := oauth.NewServer(oauth.Config{Issuer: issuer}, store, signer, passwords.Checker{})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := testHasher.Hash(userPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutUser(ctx, &oauth.User{Subject: "user-1", Username: userName, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	if err := store.PutClient(ctx, &oauth.Client{ID: webID, SecretHash: oauth.HashSecret(webSecret), Name: "Web App",
		RedirectURIs: []string{redirectURI}, GrantTypes: []string{oauth.GrantAuthorizationCode},
		ResponseTypes: []string{oauth.ResponseTypeCode}, Scopes: []string{"read"},
		TokenEndpointAuthMethod: oauth.AuthMethodBasic}); err != nil {
		t.Fatal(err)
	}
	return httpapi.New(srv, httpapi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Pages: pages.New()}).All()
}

func TestSecureCookiesOnHTTPSIssuer(t *testing.T) {
	const issuer = "https://gatehouse.example"
	h := inProcessHandler(t, issuer)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, issuer+oauth.PathAuthorize+"?"+webCodeParams("st").Encode(), nil))
	if rec.Code != http.StatusOK || !isLoginPage(rec.Body.String()) {
		t.Fatalf("authorize: %d %s", rec.Code, rec.Body)
	}
	csrf := setCookieNamed(rec.Header(), "gh_csrf")
	if csrf == nil || !csrf.Secure || !csrf.HttpOnly || csrf.SameSite != http.SameSiteLaxMode || csrf.Path != "/" {
		t.Fatalf("CSRF cookie on an https issuer: %+v", csrf)
	}

	form := formFields(t, rec.Body.String())
	form.Set("username", userName)
	form.Set("password", userPassword)
	login := func(origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, issuer+oauth.PathAuthorize, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		req.AddCookie(&http.Cookie{Name: csrf.Name, Value: csrf.Value})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, foreign := range []string{"http://gatehouse.example", "https://evil.example", "https://gatehouse.example:8443"} {
		if rec := login(foreign); rec.Code != http.StatusForbidden || setCookieNamed(rec.Header(), "gh_session") != nil {
			t.Fatalf("login with Origin %s: %d, want 403 and no session", foreign, rec.Code)
		}
	}
	rec = login(issuer)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	if loc := rec.Header().Get("Location"); !strings.HasPrefix(loc, issuer+oauth.PathAuthorize+"?") {
		t.Fatalf("login redirected to %q", loc)
	}
	sc := setCookieNamed(rec.Header(), "gh_session")
	if sc == nil || !sc.Secure || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" {
		t.Fatalf("session cookie on an https issuer: %+v", sc)
	}
}

// forgedPost is one way of forging a form post.
type forgedPost struct {
	name string
	// forge returns the browser that posts, the form and extra headers,
	// given the victim's browser and the page it was shown.
	forge func(ts *testServer, victim *http.Client, page string) (*http.Client, url.Values, http.Header)
}

var forgedPosts = []forgedPost{
	{"no gh_csrf", func(ts *testServer, v *http.Client, page string) (*http.Client, url.Values, http.Header) {
		f := formFields(ts.t, page)
		f.Del("gh_csrf")
		return v, f, nil
	}},
	{"wrong gh_csrf", func(ts *testServer, v *http.Client, page string) (*http.Client, url.Values, http.Header) {
		f := formFields(ts.t, page)
		f.Set("gh_csrf", oauth.RandomToken())
		return v, f, nil
	}},
	{"truncated gh_csrf", func(ts *testServer, v *http.Client, page string) (*http.Client, url.Values, http.Header) {
		f := formFields(ts.t, page)
		f.Set("gh_csrf", f.Get("gh_csrf")[:42])
		return v, f, nil
	}},
	{"token of another browser", func(ts *testServer, v *http.Client, page string) (*http.Client, url.Values, http.Header) {
		// The attacker's own page gives the attacker a valid token for
		// the attacker's cookie; the victim's browser has another.
		attacker := ts.newBrowser()
		ts.openLogin(attacker, webCodeParams("x"))
		return attacker, formFields(ts.t, page), nil
	}},
	{"browser without CSRF cookie", func(ts *testServer, v *http.Client, page string) (*http.Client, url.Values, http.Header) {
		return ts.newBrowser(), formFields(ts.t, page), nil
	}},
	{"empty CSRF cookie and field", func(ts *testServer, v *http.Client, page string) (*http.Client, url.Values, http.Header) {
		// A cookie planted empty (say from a sibling domain) must not
		// match an absent field.
		f := formFields(ts.t, page)
		f.Del("gh_csrf")
		return ts.newBrowser(), f, http.Header{"Cookie": {"gh_csrf="}}
	}},
	{"foreign Origin", func(ts *testServer, v *http.Client, page string) (*http.Client, url.Values, http.Header) {
		return v, formFields(ts.t, page), http.Header{"Origin": {"https://evil.example"}}
	}},
	{"opaque Origin", func(ts *testServer, v *http.Client, page string) (*http.Client, url.Values, http.Header) {
		return v, formFields(ts.t, page), http.Header{"Origin": {"null"}}
	}},
	{"client's Origin", func(ts *testServer, v *http.Client, page string) (*http.Client, url.Values, http.Header) {
		return v, formFields(ts.t, page), http.Header{"Origin": {"https://client.example"}}
	}},
	{"issuer Origin on another port", func(ts *testServer, v *http.Client, page string) (*http.Client, url.Values, http.Header) {
		u, _ := url.Parse(ts.URL)
		return v, formFields(ts.t, page), http.Header{"Origin": {"http://" + u.Hostname() + ":1"}}
	}},
}

// TestLoginCSRF: a login post that fails the double-submit check or comes
// from another origin is 403 and starts no session (login CSRF, RFC 6749
// §10.12).
func TestLoginCSRF(t *testing.T) {
	ts := newTestServer(t)
	p := webCodeParams("st")
	for _, tc := range forgedPosts {
		t.Run(tc.name, func(t *testing.T) {
			victim := ts.newBrowser()
			page := ts.openLogin(victim, p)
			c, form, hdr := tc.forge(ts, victim, page.Body)
			form.Set("username", userName)
			form.Set("password", userPassword)
			r := ts.postFormTo(c, oauth.PathAuthorize, form, hdr)
			wantHTMLErrorPage(t, r, http.StatusForbidden, "")
			if sc := setCookieNamed(r.Header, "gh_session"); sc != nil {
				t.Fatalf("forged login set a session cookie")
			}
			for _, b := range []*http.Client{c, victim} {
				if again := ts.authorizeGet(b, p.Encode()); !isLoginPage(again.Body) {
					t.Fatal("forged login signed a browser in")
				}
			}
		})
	}
	t.Run("own Origin is accepted", func(t *testing.T) {
		c := ts.newBrowser()
		page := ts.openLogin(c, p)
		form := formFields(t, page.Body)
		form.Set("username", userName)
		form.Set("password", userPassword)
		r := ts.postFormTo(c, oauth.PathAuthorize, form, http.Header{"Origin": {ts.URL}})
		if r.Status != http.StatusSeeOther || setCookieNamed(r.Header, "gh_session") == nil {
			t.Fatalf("same-origin login: %d %s", r.Status, r.Body)
		}
	})
}

// TestConsentCSRF: a forged consent post is 403 and issues nothing.
func TestConsentCSRF(t *testing.T) {
	ts := newTestServer(t)
	p := webCodeParams("st")
	for _, tc := range forgedPosts {
		for _, decision := range []string{"allow", "deny"} {
			t.Run(tc.name+"/"+decision, func(t *testing.T) {
				victim := ts.newBrowser()
				page := ts.signInToConsent(victim, p)
				c, form, hdr := tc.forge(ts, victim, page.Body)
				if c != victim && c.Jar != nil {
					// Sign the forging browser in too, so only CSRF stands
					// in the way.
					if cookies := c.Jar.Cookies(parsedURL(t, ts.URL)); len(cookies) > 0 {
						ts.signInToConsent(c, p)
					}
				}
				form.Set("decision", decision)
				r := ts.postFormTo(c, oauth.PathAuthorize, form, hdr)
				wantHTMLErrorPage(t, r, http.StatusForbidden, "")
				if strings.Contains(r.Body, "code=") {
					t.Fatal("forged consent response mentions a code")
				}
			})
		}
	}
}

func parsedURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestTamperedRequest: the request carried in the hidden gh_request field
// is validated again on every post, so changing it cannot send the browser
// (or a code) anywhere unregistered.
func TestTamperedRequest(t *testing.T) {
	ts := newTestServer(t)
	p := webCodeParams("st")
	tampered := func(kv ...string) string { return withParams(p, kv...).Encode() }
	cases := []struct {
		name, request string
		status        int
		redirectTo    string // "" for an error page
		code          string
	}{
		{"unregistered redirect_uri", tampered("redirect_uri", "https://evil.example/cb"), 400, "", oauth.CodeInvalidRequest},
		{"redirect_uri with trailing slash", tampered("redirect_uri", redirectURI+"/"), 400, "", oauth.CodeInvalidRequest},
		{"another client", tampered("client_id", publicID), 400, "", oauth.CodeInvalidRequest},
		{"unknown client", tampered("client_id", "nobody"), 400, "", oauth.CodeInvalidRequest},
		{"repeated redirect_uri", p.Encode() + "&redirect_uri=" + url.QueryEscape("https://evil.example/cb"), 400, "", oauth.CodeInvalidRequest},
		{"scope widened", tampered("scope", "read admin"), 303, redirectURI, oauth.CodeInvalidScope},
	}
	for _, tc := range cases {
		for _, step := range []string{"login", "consent"} {
			t.Run(step+"/"+tc.name, func(t *testing.T) {
				c := ts.newBrowser()
				var r response
				if step == "login" {
					page := ts.openLogin(c, p)
					r = ts.submit(c, page.Body, url.Values{"gh_request": {tc.request},
						"username": {userName}, "password": {userPassword}})
				} else {
					page := ts.signInToConsent(c, p)
					r = ts.submit(c, page.Body, url.Values{"gh_request": {tc.request}, "decision": {"allow"}})
				}
				if tc.redirectTo == "" {
					wantHTMLErrorPage(t, r, tc.status, tc.code)
					if strings.Contains(r.Header.Get("Location"), "evil") {
						t.Fatal("redirected to the tampered URI")
					}
					return
				}
				ts.wantRedirectError(t, r, tc.status, tc.redirectTo, tc.code, "st", false)
			})
		}
	}
}

// TestPageSecurityHeaders: every page is uncacheable, unframeable and under
// a CSP that allows only the hashed inline stylesheet; the form-action of
// authorization pages allows the client's redirect origin, and no other.
func TestPageSecurityHeaders(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newBrowser()
	login := ts.openLogin(c, webCodeParams("st"))
	consent := ts.signInToConsent(c, webCodeParams("st"))
	_, challenge := pkce()
	loopbackConsent := ts.authorizeGet(c, url.Values{"response_type": {"code"}, "client_id": {publicID},
		"redirect_uri": {"http://127.0.0.1:51234/cb"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}.Encode())
	errPage := ts.authorizeGet(c, withParams(webCodeParams("st"), "client_id", "nobody").Encode())
	logout := ts.get(c, oauth.PathLogout)
	signedOut := ts.postFormTo(c, oauth.PathLogout, url.Values{"gh_csrf": {formFields(t, logout.Body).Get("gh_csrf")}}, nil)
	forbidden := ts.postFormTo(c, oauth.PathLogout, url.Values{}, nil)

	pages := []struct {
		name       string
		r          response
		formAction []string
	}{
		{"login", login, []string{"'self'", "https://client.example"}},
		{"consent", consent, []string{"'self'", "https://client.example"}},
		{"loopback consent", loopbackConsent, []string{"'self'", "http://127.0.0.1:51234"}},
		{"error", errPage, []string{"'self'"}},
		{"logout", logout, []string{"'self'"}},
		{"signed out", signedOut, []string{"'self'"}},
		{"forbidden", forbidden, []string{"'self'"}},
	}
	for _, pg := range pages {
		t.Run(pg.name, func(t *testing.T) {
			if ct := pg.r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("Content-Type %q (status %d)", ct, pg.r.Status)
			}
			wantPageHeaders(t, pg.r)
			csp := pg.r.Header.Get("Content-Security-Policy")
			fa, ok := cspDirective(csp, "form-action")
			if !ok {
				t.Fatalf("no form-action in %q", csp)
			}
			if got := strings.Fields(fa); strings.Join(got, " ") != strings.Join(pg.formAction, " ") {
				t.Fatalf("form-action %q, want %q", fa, strings.Join(pg.formAction, " "))
			}
			for _, d := range []string{"base-uri"} {
				if _, ok := cspDirective(csp, d); !ok {
					t.Errorf("CSP lacks %s: %q", d, csp)
				}
			}
		})
	}
	if loopbackConsent.Status != http.StatusOK || !isConsentPage(loopbackConsent.Body) {
		t.Fatalf("loopback consent page: %d", loopbackConsent.Status)
	}
	if signedOut.Status != http.StatusOK || forbidden.Status != http.StatusForbidden {
		t.Fatalf("logout statuses %d, %d", signedOut.Status, forbidden.Status)
	}
}

// TestSessionExpiry: after the session lifetime (12 h) the login page is
// shown again, and a consent post is not honoured.
func TestSessionExpiry(t *testing.T) {
	ts := newTestServer(t, func(c *oauth.Config) { c.SessionIdleTimeout = 24 * time.Hour })
	c := ts.newBrowser()
	p := webCodeParams("st")
	consent := ts.signInToConsent(c, p)

	ts.Clock.Advance(11*time.Hour + 59*time.Minute)
	if r := ts.authorizeGet(c, p.Encode()); !isConsentPage(r.Body) {
		t.Fatalf("a session younger than 12 h was not honoured: %s", r.Body)
	}
	ts.Clock.Advance(time.Hour + time.Minute) // 13 h
	if r := ts.authorizeGet(c, p.Encode()); r.Status != http.StatusOK || !isLoginPage(r.Body) {
		t.Fatalf("expired session: %d, want the login page: %s", r.Status, r.Body)
	}
	r := ts.submit(c, consent.Body, url.Values{"decision": {"allow"}})
	if r.Header.Get("Location") != "" || !isLoginPage(r.Body) {
		t.Fatalf("consent with an expired session: %d Location %q, want the login page", r.Status, r.Header.Get("Location"))
	}

	t.Run("idle timeout", func(t *testing.T) {
		ts := newTestServer(t) // idle timeout 1 h
		c := ts.newBrowser()
		ts.signInToConsent(c, p)
		for range 5 { // used every 50 minutes for over 4 hours: alive
			ts.Clock.Advance(50 * time.Minute)
			if r := ts.authorizeGet(c, p.Encode()); !isConsentPage(r.Body) {
				t.Fatalf("a session used within its idle timeout ended: %d %s", r.Status, r.Body)
			}
		}
		ts.Clock.Advance(time.Hour + time.Second)
		if r := ts.authorizeGet(c, p.Encode()); !isLoginPage(r.Body) {
			t.Fatal("a session unused for longer than its idle timeout was honoured")
		}
	})

	t.Run("configured lifetime", func(t *testing.T) {
		ts := newTestServer(t, func(c *oauth.Config) { c.SessionLifetime = time.Hour })
		c := ts.newBrowser()
		ts.signInToConsent(c, p)
		ts.Clock.Advance(time.Hour)
		if r := ts.authorizeGet(c, p.Encode()); !isLoginPage(r.Body) {
			t.Fatal("a session past its configured lifetime was honoured")
		}
	})
}

// TestLogout: GET shows a confirmation form; POST with the CSRF token ends
// the session server-side; without it, 403 and the session lives on.
func TestLogout(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	c := ts.newBrowser()
	sc := ts.sessionCookieOf(c)
	p := webCodeParams("st")

	page := ts.get(c, oauth.PathLogout)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `<form method="post" action="`+ts.URL+oauth.PathLogout+`"`) {
		t.Fatalf("GET /logout: %d, want a form posting to /logout: %s", page.Status, page.Body)
	}
	wantPageHeaders(t, page)
	if _, err := ts.Store.GetSession(ctx, oauth.HashToken(sc.Value)); err != nil {
		t.Fatal("GET /logout ended the session")
	}
	token := formFields(t, page.Body).Get("gh_csrf")

	for _, tc := range []struct {
		name string
		form url.Values
		hdr  http.Header
	}{
		{"no token", url.Values{}, nil},
		{"wrong token", url.Values{"gh_csrf": {oauth.RandomToken()}}, nil},
		{"foreign Origin", url.Values{"gh_csrf": {token}}, http.Header{"Origin": {"https://evil.example"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.postFormTo(c, oauth.PathLogout, tc.form, tc.hdr)
			wantHTMLErrorPage(t, r, http.StatusForbidden, "")
			if ck := setCookieNamed(r.Header, "gh_session"); ck != nil {
				t.Fatal("forged logout touched the session cookie")
			}
			if _, err := ts.Store.GetSession(ctx, oauth.HashToken(sc.Value)); err != nil {
				t.Fatal("forged logout ended the session")
			}
			if r := ts.authorizeGet(c, p.Encode()); !isConsentPage(r.Body) {
				t.Fatal("forged logout signed the browser out")
			}
		})
	}
	t.Run("another browser's token", func(t *testing.T) {
		other := ts.newBrowser()
		otherToken := formFields(t, ts.get(other, oauth.PathLogout).Body).Get("gh_csrf")
		r := ts.postFormTo(c, oauth.PathLogout, url.Values{"gh_csrf": {otherToken}}, nil)
		wantHTMLErrorPage(t, r, http.StatusForbidden, "")
	})

	r := ts.postFormTo(c, oauth.PathLogout, url.Values{"gh_csrf": {token}}, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("POST /logout: %d %s", r.Status, r.Body)
	}
	wantPageHeaders(t, r)
	cleared := setCookieNamed(r.Header, "gh_session")
	if cleared == nil || cleared.MaxAge >= 0 || cleared.Value != "" || cleared.Path != "/" || !cleared.HttpOnly {
		t.Fatalf("logout did not clear the session cookie: %+v", cleared)
	}
	if _, err := ts.Store.GetSession(ctx, oauth.HashToken(sc.Value)); !errors.Is(err, oauth.ErrNotFound) {
		t.Fatalf("session still stored after logout (err %v)", err)
	}
	if r := ts.authorizeGet(c, p.Encode()); !isLoginPage(r.Body) {
		t.Fatal("after logout the next authorization did not show the login page")
	}
	// A browser that kept the old cookie is signed out too: the session is
	// gone server-side.
	replay := ts.newBrowser()
	replay.Jar.SetCookies(parsedURL(t, ts.URL), []*http.Cookie{{Name: "gh_session", Value: sc.Value, Path: "/"}})
	if r := ts.authorizeGet(replay, p.Encode()); !isLoginPage(r.Body) {
		t.Fatal("the old session cookie still works after logout")
	}
}

// TestPagesEscape: everything a request or a registration puts on a page
// is HTML-escaped, so neither a client name nor a crafted request can
// inject markup into Gatehouse's origin.
func TestPagesEscape(t *testing.T) {
	ts := newTestServer(t)
	const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	if err := ts.Store.PutClient(context.Background(), &oauth.Client{
		ID: "evil-app", SecretHash: oauth.HashSecret(postSecret), Name: evil,
		RedirectURIs: []string{redirectURI}, GrantTypes: []string{oauth.GrantAuthorizationCode},
		ResponseTypes: []string{oauth.ResponseTypeCode}, Scopes: []string{"read"},
		TokenEndpointAuthMethod: oauth.AuthMethodPost,
	}); err != nil {
		t.Fatal(err)
	}
	p := withParams(webCodeParams(evil), "client_id", "evil-app")
	c := ts.newBrowser()
	login := ts.openLogin(c, p)
	consent := ts.signInToConsent(c, p)
	repeated := ts.authorizeGet(ts.newBrowser(), webCodeParams("st").Encode()+"&"+url.QueryEscape(evil)+"=1&"+url.QueryEscape(evil)+"=2")
	wantHTMLErrorPage(t, repeated, http.StatusBadRequest, oauth.CodeInvalidRequest)
	for name, r := range map[string]response{"login": login, "consent": consent, "error": repeated} {
		if strings.Contains(r.Body, "<script>") || strings.Contains(r.Body, "<img") {
			t.Errorf("%s page contains unescaped markup:\n%s", name, r.Body)
		}
	}
	if !strings.Contains(consent.Body, html.EscapeString("<script>alert(1)</script>")) {
		t.Errorf("consent page does not show the client name escaped:\n%s", consent.Body)
	}
	// The request survives the round trip through the hidden field intact.
	carried, err := url.ParseQuery(formFields(t, consent.Body).Get("gh_request"))
	if err != nil || carried.Get("state") != evil {
		t.Fatalf("state after the hidden field: %q, %v", carried.Get("state"), err)
	}
	r := ts.submit(c, consent.Body, url.Values{"decision": {"allow"}})
	if _, q, _ := splitLocation(t, r); q.Get("state") != evil || q.Get("code") == "" {
		t.Fatalf("Location %s", r.Header.Get("Location"))
	}
}

// TestCSRFOriginSerialization: browsers send the Origin header in its
// serialized form (RFC 6454 §6.2: lower-case host, default port omitted),
// so an issuer written with an explicit default port or capitals must
// still accept its own pages' posts, and still refuse other origins.
func TestCSRFOriginSerialization(t *testing.T) {
	for _, issuer := range []string{"https://gatehouse.example", "https://gatehouse.example:443", "https://Gatehouse.Example"} {
		t.Run(issuer, func(t *testing.T) {
			h := inProcessHandler(t, issuer)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, issuer+oauth.PathAuthorize+"?"+webCodeParams("st").Encode(), nil))
			if rec.Code != http.StatusOK || !isLoginPage(rec.Body.String()) {
				t.Fatalf("authorize: %d %s", rec.Code, rec.Body)
			}
			csrf := setCookieNamed(rec.Header(), "gh_csrf")
			form := formFields(t, rec.Body.String())
			form.Set("username", userName)
			form.Set("password", userPassword)
			post := func(origin string) int {
				req := httptest.NewRequest(http.MethodPost, issuer+oauth.PathAuthorize, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", origin)
				req.AddCookie(&http.Cookie{Name: csrf.Name, Value: csrf.Value})
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec.Code
			}
			for _, foreign := range []string{"https://gatehouse.example:8443", "http://gatehouse.example", "https://evil.example"} {
				if got := post(foreign); got != http.StatusForbidden {
					t.Errorf("Origin %s: %d, want 403", foreign, got)
				}
			}
			if got := post("https://gatehouse.example"); got != http.StatusSeeOther {
				t.Errorf("the issuer's own Origin as a browser sends it: %d, want 303", got)
			}
		})
	}
}
