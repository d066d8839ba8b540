package httpapi_test

// Real-browser tests of the sign-in pages: headless Chromium, driven over
// the DevTools protocol by chromedp, signs in at the login page, answers
// the consent page and comes back to a client application on another
// origin, which exchanges the code with golang.org/x/oauth2. Each subtest
// is a fresh user: a browser context of its own (cookies), and a server of
// its own. Helpers are in browser_helpers_test.go.
//
// Without Chromium the tests skip, except under CI=true or
// GATEHOUSE_TEST_BROWSER=1 (`make test` sets it when it has one), where
// they fail. `make screenshots` runs TestBrowser/screenshots with
// GATEHOUSE_SCREENSHOTS=docs/screenshots.

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The hostile client and request of the browser's escaping test: each
// script would set window.__xss.
const (
	xssClientID         = "xss-app"
	xssClientName       = `Evil <script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">`
	xssState            = `"><script>window.__xss=3</script>' onmouseover='window.__xss=4`
	xssScopeDescription = `Admin <script>window.__xss=5</script>"><svg onload="window.__xss=6">`
	xssClientURI        = "javascript:window.__xss=7"
	xssLogoURI          = "data:text/html,<script>window.__xss=8</script>"
)

// msgWrongPassword is the start of the login page's message for a wrong
// username or password.
const msgWrongPassword = "The username or password is not right"

func TestBrowser(t *testing.T) {
	browser := startBrowser(t)

	t.Run("code flow", func(t *testing.T) {
		bs := newBrowserServer(t)
		tab := newTab(t, browser)
		rec := recordTab(t, tab)

		f := bs.newFlow()
		bs.startFlow(t, tab)
		bs.waitLoginPage(t, tab)
		lead, err := chromedp.Run(tab, chromedp.TextContent(chromedp.CSS(`main`)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(lead, acmeName) {
			t.Errorf("the login page does not name the client %q:\n%s", acmeName, lead)
		}
		signIn(t, tab, userName, userPassword)
		bs.waitConsentPage(t, tab)
		consent, err := chromedp.Run(tab, chromedp.TextContent(chromedp.CSS(`main`)))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{acmeName, userName, "profile", acmeScopeDescriptions["write"]} {
			if !strings.Contains(consent, want) {
				t.Errorf("the consent page does not show %q:\n%s", want, consent)
			}
		}
		if n := bs.store.codes.Load(); n != 0 {
			t.Fatalf("%d codes issued before the user allowed access", n)
		}
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(selAllow))); err != nil {
			t.Fatal(err)
		}
		got := readCallback(t, tab)
		if got.Code == "" || got.Error != "" || got.State != f.State || got.Iss != bs.URL {
			t.Fatalf("callback: %+v; want a code, state %q, iss %q", got, f.State, bs.URL)
		}
		if cbs := bs.client.Callbacks(); len(cbs) != 1 || cbs[0].Get("code") != got.Code {
			t.Fatalf("the client's redirect URI received %v, want the one code the page shows", cbs)
		}
		bs.exchange(t, f, got.Code)
		rec.wantNoViolations(t)

		t.Run("second authorization skips login and consent", func(t *testing.T) {
			before := len(rec.Documents())
			f2 := bs.newFlow()
			bs.startFlow(t, tab)
			// The client's home page has no form: any form on the way
			// (login, consent) fails at once.
			got2 := readCallbackOr(t, tab, `form, `+selAlert)
			if got2.Code == "" || got2.Error != "" || got2.State != f2.State || got2.Code == got.Code {
				t.Fatalf("second callback: %+v; want a new code and state %q", got2, f2.State)
			}
			// The tab went from the client's home page through the
			// authorization endpoint's redirect straight to the callback:
			// no page of the issuer was shown.
			docs := rec.Documents()[before:]
			for _, d := range docs {
				if strings.HasPrefix(d, bs.URL) {
					t.Fatalf("the second authorization showed a page of the issuer (%s); documents: %q", d, docs)
				}
			}
			if len(docs) != 2 || !strings.HasPrefix(docs[1], bs.client.URL+"/callback?") {
				t.Fatalf("documents of the second authorization %q, want the client's home page and its callback", docs)
			}
			bs.exchange(t, f2, got2.Code)
		})
	})

	t.Run("wrong password", func(t *testing.T) {
		bs := newBrowserServer(t)
		tab := newTab(t, browser)
		rec := recordTab(t, tab)
		bs.newFlow()
		bs.startFlow(t, tab)
		bs.waitLoginPage(t, tab)
		signIn(t, tab, userName, userPassword+"!")
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(selAlert))); err != nil {
			t.Fatalf("waiting for the login error: %v (at %s)", err, location(tab))
		}
		msg, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(selAlert)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg, msgWrongPassword) {
			t.Fatalf("login error %q, want %q", msg, msgWrongPassword)
		}
		// Still the login page, on the issuer, ready for another try.
		bs.waitLoginPage(t, tab)
		if n := bs.store.codes.Load(); n != 0 {
			t.Errorf("%d codes issued after a wrong password", n)
		}
		if cbs := bs.client.Callbacks(); len(cbs) != 0 {
			t.Errorf("the client's redirect URI was called: %v", cbs)
		}
		rec.wantNoViolations(t)
	})

	// Keyboard only: the login page's focus starts in the username field,
	// Tab moves to the password, Enter signs in; on the consent page Tab
	// reaches Allow, with a visible focus outline, and Enter allows.
	t.Run("keyboard only", func(t *testing.T) {
		bs := newBrowserServer(t)
		tab := newTab(t, browser)
		bs.newFlow()
		bs.startFlow(t, tab)
		bs.waitLoginPage(t, tab)
		if id, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.activeElement.id`)); err != nil || id != "username" {
			t.Fatalf("focus on the login page is on %q (%v), want the username field", id, err)
		}
		if err := chromedp.Do(tab,
			chromedp.KeyEvent(userName), chromedp.KeyEvent(kb.Tab),
			chromedp.KeyEvent(userPassword), chromedp.KeyEvent(kb.Enter),
		); err != nil {
			t.Fatal(err)
		}
		bs.waitConsentPage(t, tab)
		const focused = `(() => { const e = document.activeElement;
			return e.tagName + " " + (e.value || "") + " " + getComputedStyle(e).outlineStyle; })()`
		var at string
		for range 8 {
			if err := chromedp.Do(tab, chromedp.KeyEvent(kb.Tab)); err != nil {
				t.Fatal(err)
			}
			var err error
			if at, err = chromedp.Run(tab, chromedp.Evaluate[string](focused)); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(at, "BUTTON allow") {
				break
			}
		}
		if at != "BUTTON allow solid" {
			t.Fatalf("Tab never reached the Allow button with a visible outline (last focus: %q)", at)
		}
		if err := chromedp.Do(tab, chromedp.KeyEvent(kb.Enter)); err != nil {
			t.Fatal(err)
		}
		if got := readCallback(t, tab); got.Code == "" {
			t.Fatalf("callback after Enter on Allow: %+v, want a code", got)
		}
	})

	t.Run("deny", func(t *testing.T) {
		bs := newBrowserServer(t)
		tab := newTab(t, browser)
		// The user has never allowed Acme Photos; prompt=consent would ask
		// again even if they had.
		f := bs.newFlow(oauth2.SetAuthURLParam("prompt", oauth.PromptConsent))
		bs.startFlow(t, tab)
		bs.waitLoginPage(t, tab)
		signIn(t, tab, userName, userPassword)
		bs.waitConsentPage(t, tab)
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(selDeny))); err != nil {
			t.Fatal(err)
		}
		got := readCallback(t, tab)
		if got.Error != "access_denied" || got.Code != "" || got.State != f.State || got.Iss != bs.URL {
			t.Fatalf("callback after deny: %+v; want error access_denied, no code, state %q, iss %q", got, f.State, bs.URL)
		}
		if n := bs.store.codes.Load(); n != 0 {
			t.Errorf("%d codes issued after the user denied access", n)
		}
	})

	t.Run("consent without CSRF token", func(t *testing.T) {
		bs := newBrowserServer(t)
		tab := newTab(t, browser)
		bs.newFlow()
		bs.startFlow(t, tab)
		bs.waitLoginPage(t, tab)
		signIn(t, tab, userName, userPassword)
		bs.waitConsentPage(t, tab)
		left, err := chromedp.Run(tab, chromedp.Evaluate[int](`(() => {
			const form = document.querySelector('`+selConsentForm+`');
			form.querySelectorAll('input[name="gh_csrf"]').forEach(e => e.remove());
			return form.querySelectorAll('input[name="gh_csrf"]').length;
		})()`))
		if err != nil || left != 0 {
			t.Fatalf("removing the CSRF field: %d left, %v", left, err)
		}
		resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(selAllow)))
		if err != nil {
			t.Fatalf("posting the consent form: %v", err)
		}
		if resp.Status != 403 || !strings.HasPrefix(resp.URL, bs.URL+oauth.PathAuthorize) {
			t.Fatalf("consent without its CSRF token: %d at %s, want 403 from the authorization endpoint", resp.Status, resp.URL)
		}
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(selAlert))); err != nil {
			t.Fatalf("waiting for the error page: %v", err)
		}
		if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('form').length`)); err != nil || n != 0 {
			t.Errorf("the error page has %d forms (%v), want none", n, err)
		}
		if loc := location(tab); !strings.HasPrefix(loc, bs.URL) {
			t.Errorf("after the refused post the browser is at %s, want the issuer", loc)
		}
		if n := bs.store.codes.Load(); n != 0 {
			t.Errorf("%d codes issued for a consent form without its CSRF token", n)
		}
		if cbs := bs.client.Callbacks(); len(cbs) != 0 {
			t.Errorf("the client's redirect URI was called: %v", cbs)
		}
	})

	// A signed-in user whose consent form is edited to carry prompt=login
	// and max_age=0 (a step-up the client asked for) is asked for the
	// password, not given a code (OpenID Connect Core §3.1.2.1); signing
	// in then lets the request through once.
	t.Run("consent form cannot skip a fresh sign-in", func(t *testing.T) {
		bs := newBrowserServer(t)
		tab := newTab(t, browser)
		rec := recordTab(t, tab)
		f := bs.newFlow(oauth2.SetAuthURLParam("prompt", oauth.PromptConsent))
		bs.startFlow(t, tab)
		bs.waitLoginPage(t, tab)
		signIn(t, tab, userName, userPassword)
		bs.waitConsentPage(t, tab)
		edited, err := chromedp.Run(tab, chromedp.Evaluate[string](`(() => {
			const field = document.querySelector('`+selConsentForm+` input[name="gh_request"]');
			const q = new URLSearchParams(field.value);
			q.set("prompt", "login");
			q.set("max_age", "0");
			field.value = q.toString();
			return field.value;
		})()`))
		if err != nil || !strings.Contains(edited, "prompt=login") {
			t.Fatalf("editing the consent form: %q, %v", edited, err)
		}
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(selAllow))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, tab, "the login page", selLoginForm+` #username`, `#callback`)
		if n := bs.store.codes.Load(); n != 0 {
			t.Fatalf("%d codes issued for a consent post that needs a fresh sign-in", n)
		}
		if cbs := bs.client.Callbacks(); len(cbs) != 0 {
			t.Fatalf("the client's redirect URI was called: %v", cbs)
		}
		signIn(t, tab, userName, userPassword)
		// (Not waitConsentPage: the login page it leaves has an alert.)
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(selConsentForm+` `+selAllow)),
			chromedp.Click(chromedp.CSS(selAllow))); err != nil {
			t.Fatalf("allowing after signing in again: %v (at %s)", err, location(tab))
		}
		if got := readCallback(t, tab); got.Code == "" || got.State != f.State {
			t.Fatalf("callback after signing in again: %+v, want a code and state %q", got, f.State)
		}
		rec.wantNoViolations(t)
	})

	t.Run("login page cannot be framed", func(t *testing.T) {
		bs := newBrowserServer(t)
		f := bs.newFlow()
		// Control: the same login page without its anti-framing headers
		// is shown in the frame, so the check below can see a framed page.
		mirrored := frameableMirror(t, bs.handler) + strings.TrimPrefix(f.AuthURL, bs.URL)
		href, login := bs.framedDocument(t, newTab(t, browser), mirrored)
		if !login || href != mirrored {
			t.Fatalf("control: the frameable copy of the login page was not shown in the frame (document %q, login form %v)", href, login)
		}
		href, login = bs.framedDocument(t, newTab(t, browser), f.AuthURL)
		if login || strings.HasPrefix(href, bs.URL) {
			t.Fatalf("the login page was shown in another site's frame (document %q, login form %v)", href, login)
		}
		t.Logf("the frame shows %s", href)
	})

	// A client's name, client_uri and logo_uri, a scope description and
	// the request's state holding scripts, quotes and javascript: or data:
	// URLs show as text on the login and consent pages: no script runs
	// (window.__xss, which each would set, stays undefined), no element or
	// event handler comes of them, they link nowhere (only http(s) URLs
	// link), and the state comes back to the client intact. With the pages' CSP
	// the browser reports no violation (an injected inline script or
	// handler would be one); without it, escaping is the only defence, and
	// a control page shows the browser would run a script that got in.
	for _, csp := range []bool{true, false} {
		name := "hostile values are inert"
		if !csp {
			name += " without the CSP"
		}
		t.Run(name, func(t *testing.T) {
			var wrap func(http.Handler) http.Handler
			if !csp {
				wrap = withoutCSP
			}
			descriptions := maps.Clone(acmeScopeDescriptions)
			descriptions["admin"] = xssScopeDescription
			bs := newBrowserServerWith(t, descriptions, wrap)
			tab := newTab(t, browser)
			rec := recordTab(t, tab)
			if !csp {
				if err := chromedp.Do(tab, chromedp.Navigate(bs.URL+xssControlPath), chromedp.WaitVisible(chromedp.ID("control"))); err != nil {
					t.Fatal(err)
				}
				if s := readPageSafety(t, tab); s.XSS != "string" {
					t.Fatalf("control: window.__xss is %s after an inline script ran; the check below could not see one", s.XSS)
				}
			}
			conf := *bs.conf
			conf.ClientID, conf.ClientSecret, conf.Scopes = xssClientID, acmeSecret, []string{"profile", "admin"}
			if err := bs.Store.PutClient(context.Background(), &oauth.Client{
				ID: xssClientID, SecretHash: oauth.HashSecret(acmeSecret), Name: xssClientName,
				RedirectURIs: []string{conf.RedirectURL}, GrantTypes: []string{oauth.GrantAuthorizationCode},
				ResponseTypes: []string{oauth.ResponseTypeCode}, Scopes: conf.Scopes,
				TokenEndpointAuthMethod: oauth.AuthMethodBasic, ClientURI: xssClientURI, LogoURI: xssLogoURI,
			}); err != nil {
				t.Fatal(err)
			}
			authURL := conf.AuthCodeURL(xssState, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			if err := chromedp.Do(tab, chromedp.Navigate(authURL)); err != nil {
				t.Fatal(err)
			}
			bs.waitLoginPage(t, tab)
			if s := wantInertPage(t, tab, "login page"); !strings.Contains(s.Text, "to continue to "+xssClientName) {
				t.Errorf("the login page does not show the client's name as text:\n%s", s.Text)
			}
			signIn(t, tab, userName, userPassword)
			bs.waitConsentPage(t, tab)
			s := wantInertPage(t, tab, "consent page")
			for _, want := range []string{"Allow " + xssClientName + " to access your account?", xssScopeDescription,
				"Website: " + xssClientURI, "Logo: " + xssLogoURI} {
				if !strings.Contains(s.Text, want) {
					t.Errorf("the consent page does not show %q as text:\n%s", want, s.Text)
				}
			}
			// The client's javascript: and data: URIs are text, not
			// links: there is nothing to follow.
			if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('p.hint a').length`)); err != nil {
				t.Fatal(err)
			} else if n != 0 {
				t.Errorf("the client's javascript: and data: URIs are %d links, want text", n)
			}
			if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(selAllow))); err != nil {
				t.Fatal(err)
			}
			if got := readCallback(t, tab); got.Code == "" || got.State != xssState {
				t.Fatalf("callback: %+v; want a code and the state as sent, %q", got, xssState)
			}
			if csp {
				rec.wantNoViolations(t)
			}
		})
	}

	t.Run("screenshots", func(t *testing.T) {
		dir := screenshotDir(t)
		bs := newBrowserServer(t)
		tab := newTab(t, browser)
		bs.newFlow()
		bs.startFlow(t, tab)
		bs.waitLoginPage(t, tab)
		screenshot(t, tab, dir, "login")
		signIn(t, tab, userName, userPassword)
		bs.waitConsentPage(t, tab)
		screenshot(t, tab, dir, "consent")
	})
}
