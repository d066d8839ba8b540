package httpapi_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// TestBrowserRPInitiatedLogout: OpenID Connect RP-Initiated Logout 1.0 in
// headless Chromium. Alice signs in at Acme Photos; the client sends her
// browser to the end-session endpoint with her ID token as
// id_token_hint and comes back to its registered post-logout URI with its
// state, signed out. Without a hint she is asked first, and signing out
// there brings her back too; the plain sign-out link asks and ends at the
// signed-out page. Each time, the next authorization request asks for a
// password again.
func TestBrowserRPInitiatedLogout(t *testing.T) {
	browser := startBrowser(t)
	bs := newBrowserServer(t)
	ctx := context.Background()
	acme, err := bs.Store.GetClient(ctx, acmeID)
	if err != nil {
		t.Fatal(err)
	}
	back := bs.client.URL + "/callback"
	acme.PostLogoutRedirectURIs = []string{back}
	if err := bs.Store.PutClient(ctx, acme); err != nil {
		t.Fatal(err)
	}
	tab := newTab(t, browser)
	rec := recordTab(t, tab)

	signInAtAcme := func(t *testing.T) {
		t.Helper()
		bs.newFlow()
		bs.startFlow(t, tab)
		bs.waitLoginPage(t, tab)
		signIn(t, tab, userName, userPassword)
		// The consent page the first time; after that the consent is
		// remembered and the browser goes straight back.
		waitFor(t, tab, "the consent page or the callback", `#callback, `+selConsentForm+` `+selAllow, selAlert)
		consent, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector('#callback') === null`))
		if err != nil {
			t.Fatal(err)
		}
		if consent {
			if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(selAllow))); err != nil {
				t.Fatalf("consent: %v", err)
			}
		}
		if r := readCallback(t, tab); r.Code == "" {
			t.Fatalf("no code after signing in: %+v", r)
		}
	}
	wantSignedOut := func(t *testing.T) {
		t.Helper()
		bs.newFlow()
		bs.startFlow(t, tab)
		bs.waitLoginPage(t, tab) // a password again: the session is gone
	}
	logoutURL := func(params url.Values) string { return bs.URL + oauth.PathLogout + "?" + params.Encode() }
	const selConfirm = `form:has(input[name="gh_csrf"]) button[type="submit"]`

	t.Run("with the ID token as hint", func(t *testing.T) {
		signInAtAcme(t)
		hint := bs.idTokenHint("user-1", acmeID, bs.Clock.Now().Add(time.Hour))
		if err := chromedp.Do(tab, chromedp.Navigate(logoutURL(url.Values{
			"id_token_hint": {hint}, "post_logout_redirect_uri": {back}, "state": {"bye-1"}}))); err != nil {
			t.Fatal(err)
		}
		if r := readCallback(t, tab); r.State != "bye-1" || r.Code != "" {
			t.Fatalf("back at the client with %+v, want state bye-1", r)
		}
		wantSignedOut(t)
	})
	t.Run("without a hint: confirm, then back", func(t *testing.T) {
		signInAtAcme(t)
		if err := chromedp.Do(tab, chromedp.Navigate(logoutURL(url.Values{
			"client_id": {acmeID}, "post_logout_redirect_uri": {back}, "state": {"bye-2"}}))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, tab, "the sign-out confirmation", selConfirm, selAlert)
		text, _ := chromedp.Run(tab, chromedp.TextContent(chromedp.CSS(`main`)))
		if !strings.Contains(text, acmeName) {
			t.Errorf("the confirmation does not name the client:\n%s", text)
		}
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(selConfirm))); err != nil {
			t.Fatal(err)
		}
		if r := readCallback(t, tab); r.State != "bye-2" {
			t.Fatalf("back at the client with %+v, want state bye-2", r)
		}
		wantSignedOut(t)
	})
	t.Run("the plain sign-out link: confirm, signed out", func(t *testing.T) {
		signInAtAcme(t)
		if err := chromedp.Do(tab, chromedp.Navigate(bs.URL+oauth.PathLogout)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, tab, "the sign-out confirmation", selConfirm, selAlert)
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(selConfirm))); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(tab, chromedp.WaitNotPresent(chromedp.CSS(selConfirm)), chromedp.WaitVisible(chromedp.CSS(`h1`))); err != nil {
			t.Fatal(err)
		}
		text, _ := chromedp.Run(tab, chromedp.TextContent(chromedp.CSS(`h1`)))
		if text != "You are signed out" {
			t.Fatalf("after confirming: %q at %s", text, location(tab))
		}
		wantSignedOut(t)
	})
	rec.wantNoViolations(t)
}
