package httpapi_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// TestBrowserPromptLogin: OpenID Connect sign-in semantics (Core
// §3.1.2.1) and RP-Initiated Logout 1.0 in headless Chromium, with ID
// tokens the token endpoint really issued. Alice signs in at Acme Photos
// with scope openid and the client gets an ID token. While her session
// lives, prompt=login shows the sign-in page again (no redirect), with the
// username from login_hint filled in; signing in again gives an ID token
// with a later auth_time for the same sub. prompt=select_account shows the
// sign-in page too (empty, without a hint). Then the client signs her out:
// with her latest ID token as id_token_hint straight back to its
// registered post-logout URI with state; with another user's hint only
// after she confirms. Each time the next request asks for a password.
func TestBrowserPromptLogin(t *testing.T) {
	browser := startBrowser(t)
	bs := newBrowserServer(t)
	ctx := context.Background()
	acme, err := bs.Store.GetClient(ctx, acmeID)
	if err != nil {
		t.Fatal(err)
	}
	back := bs.client.URL + "/callback"
	acme.Scopes = append([]string{"openid"}, acme.Scopes...)
	acme.PostLogoutRedirectURIs = []string{back}
	if err := bs.Store.PutClient(ctx, acme); err != nil {
		t.Fatal(err)
	}
	conf := *bs.conf
	conf.Scopes = append([]string{"openid"}, conf.Scopes...)
	bs.conf = &conf
	verifier := idtVerifier(t, bs.testServer, acmeID)
	tab := newTab(t, browser)
	rec := recordTab(t, tab)

	// idToken exchanges code as the client, verifies the ID token with
	// go-oidc and checks its nonce and subject.
	idToken := func(t *testing.T, f flow, code, nonce string) (string, idtClaims) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		tok, err := bs.conf.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
		if err != nil {
			t.Fatalf("exchanging the code: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			t.Fatalf("no id_token for scope openid: %+v", tok)
		}
		if _, err := verifier.Verify(ctx, raw); err != nil {
			t.Fatalf("go-oidc rejects the ID token: %v", err)
		}
		_, claims := idtDecode(t, raw)
		if claims.Sub != "user-1" || claims.Nonce == nil || *claims.Nonce != nonce || claims.AuthTime == 0 {
			t.Fatalf("ID token claims %+v, want sub user-1, nonce %q and an auth_time", claims, nonce)
		}
		return raw, claims
	}
	// loginShown starts a flow with extra parameters while alice's
	// session lives and checks that the browser shows the sign-in page at
	// the issuer, not the client's callback, and that no code was issued
	// on the way. It returns the username field's value.
	loginShown := func(t *testing.T, extra ...oauth2.AuthCodeOption) (flow, string) {
		t.Helper()
		codes, calls := bs.store.codes.Load(), len(bs.client.Callbacks())
		f := bs.newFlow(extra...)
		bs.startFlow(t, tab)
		waitFor(t, tab, "the sign-in page", selLoginForm+` #username`, `#callback`)
		bs.waitLoginPage(t, tab)
		if n := bs.store.codes.Load(); n != codes {
			t.Fatalf("%d codes issued before signing in again", n-codes)
		}
		if n := len(bs.client.Callbacks()); n != calls {
			t.Fatalf("the client's redirect URI was called before signing in again: %v", bs.client.Callbacks()[calls:])
		}
		username, err := chromedp.Run(tab, chromedp.Value(chromedp.ID("username")))
		if err != nil {
			t.Fatal(err)
		}
		return f, username
	}
	// signInAgain submits alice's password on the sign-in page (the
	// username field holds prefilled, if not empty) and reads the callback:
	// her consent is remembered, so no consent page comes.
	signInAgain := func(t *testing.T, f flow, prefilled string) string {
		t.Helper()
		if prefilled == "" {
			signIn(t, tab, userName, userPassword)
		} else if err := chromedp.Do(tab,
			chromedp.SendKeys(chromedp.ID("password"), userPassword),
			chromedp.Click(chromedp.CSS(selLoginSubmit)),
		); err != nil {
			t.Fatalf("signing in: %v", err)
		}
		got := readCallbackOr(t, tab, selConsentForm+`, `+selAlert)
		if got.Code == "" || got.State != f.State {
			t.Fatalf("callback after signing in again: %+v, want a code and state %q", got, f.State)
		}
		return got.Code
	}

	var first, latest idtClaims
	var latestRaw string
	if !t.Run("sign in with openid", func(t *testing.T) {
		f := bs.newFlow(oauth2.SetAuthURLParam("nonce", "n-1"))
		bs.startFlow(t, tab)
		bs.waitLoginPage(t, tab)
		signIn(t, tab, userName, userPassword)
		bs.waitConsentPage(t, tab)
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(selAllow))); err != nil {
			t.Fatal(err)
		}
		got := readCallback(t, tab)
		if got.Code == "" || got.State != f.State {
			t.Fatalf("callback: %+v, want a code and state %q", got, f.State)
		}
		latestRaw, first = idToken(t, f, got.Code, "n-1")
		latest = first
		if want := bs.Clock.Now().Unix(); first.AuthTime != want {
			t.Errorf("auth_time %d, want the sign-in's time %d", first.AuthTime, want)
		}
	}) {
		return
	}
	// Control: without prompt the live session answers at once, so the
	// sign-in pages below come from prompt, not from a lost session.
	if !t.Run("no prompt: straight back", func(t *testing.T) {
		before := len(rec.Documents())
		f := bs.newFlow(oauth2.SetAuthURLParam("nonce", "n-0"))
		bs.startFlow(t, tab)
		got := readCallbackOr(t, tab, `form, `+selAlert)
		if got.Code == "" || got.State != f.State {
			t.Fatalf("callback: %+v, want a code and state %q", got, f.State)
		}
		for _, d := range rec.Documents()[before:] {
			if strings.HasPrefix(d, bs.URL) {
				t.Fatalf("a page of the issuer was shown (%s) with a live session and no prompt", d)
			}
		}
		if _, c := idToken(t, f, got.Code, "n-0"); c.AuthTime != first.AuthTime {
			t.Errorf("auth_time %d without a new sign-in, want the session's %d", c.AuthTime, first.AuthTime)
		}
	}) {
		return
	}
	if !t.Run("prompt=login with login_hint", func(t *testing.T) {
		bs.Clock.Advance(5 * time.Second)
		f, username := loginShown(t, oauth2.SetAuthURLParam("prompt", oauth.PromptLogin),
			oauth2.SetAuthURLParam("login_hint", userName), oauth2.SetAuthURLParam("nonce", "n-2"))
		if username != userName {
			t.Errorf("username field %q, want %q from login_hint", username, userName)
		}
		if id, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.activeElement.id`)); err != nil || id != "password" {
			t.Errorf("focus on %q (%v), want the password field when the username is prefilled", id, err)
		}
		code := signInAgain(t, f, username)
		raw, second := idToken(t, f, code, "n-2")
		if second.AuthTime <= first.AuthTime || second.AuthTime != bs.Clock.Now().Unix() {
			t.Errorf("auth_time %d after signing in again at %d, want it later than the first sign-in's %d",
				second.AuthTime, bs.Clock.Now().Unix(), first.AuthTime)
		}
		latestRaw, latest = raw, second
	}) {
		return
	}
	if !t.Run("prompt=select_account", func(t *testing.T) {
		bs.Clock.Advance(5 * time.Second)
		f, username := loginShown(t, oauth2.SetAuthURLParam("prompt", oauth.PromptSelectAccount),
			oauth2.SetAuthURLParam("nonce", "n-3"))
		// Without login_hint nothing is filled in (the control for the
		// prefilled field above).
		if username != "" {
			t.Errorf("username field %q without login_hint, want it empty", username)
		}
		code := signInAgain(t, f, "")
		raw, third := idToken(t, f, code, "n-3")
		if third.AuthTime <= latest.AuthTime {
			t.Errorf("auth_time %d after signing in again, want it later than %d", third.AuthTime, latest.AuthTime)
		}
		latestRaw, latest = raw, third
	}) {
		return
	}

	logoutURL := func(params url.Values) string { return bs.URL + oauth.PathLogout + "?" + params.Encode() }
	const selConfirm = `form:has(input[name="gh_csrf"]) button[type="submit"]`
	wantSignedOut := func(t *testing.T) {
		t.Helper()
		if _, username := loginShown(t, oauth2.SetAuthURLParam("nonce", "n-x")); username != "" {
			t.Errorf("username field %q after signing out, want it empty", username)
		}
	}
	t.Run("logout with the issued ID token as hint", func(t *testing.T) {
		before := len(rec.Documents())
		if err := chromedp.Do(tab, chromedp.Navigate(logoutURL(url.Values{
			"id_token_hint": {latestRaw}, "post_logout_redirect_uri": {back}, "state": {"bye-1"}}))); err != nil {
			t.Fatal(err)
		}
		got := readCallbackOr(t, tab, `form, `+selAlert)
		if got.State != "bye-1" || got.Code != "" || got.Error != "" {
			t.Fatalf("back at the client with %+v, want state bye-1 only", got)
		}
		// No page of the issuer: the end-session endpoint redirected at once.
		docs := rec.Documents()[before:]
		if len(docs) != 1 || !strings.HasPrefix(docs[0], back+"?") {
			t.Fatalf("documents of the logout %q, want only the client's post-logout URI", docs)
		}
		if u, err := url.Parse(docs[0]); err != nil || u.Query().Get("state") != "bye-1" {
			t.Fatalf("post-logout redirect %s (%v), want state bye-1", docs[0], err)
		}
		wantSignedOut(t)
	})
	t.Run("logout with another user's hint: confirm, then back", func(t *testing.T) {
		// Sign in again after the previous subtest's logout.
		f, _ := loginShown(t, oauth2.SetAuthURLParam("nonce", "n-4"))
		signInAgain(t, f, "")
		other := bs.idTokenHint("user-2", acmeID, bs.Clock.Now().Add(time.Hour))
		if err := chromedp.Do(tab, chromedp.Navigate(logoutURL(url.Values{
			"id_token_hint": {other}, "post_logout_redirect_uri": {back}, "state": {"bye-2"}}))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, tab, "the sign-out confirmation", selConfirm, `#callback, `+selAlert)
		if loc := location(tab); !strings.HasPrefix(loc, bs.URL+oauth.PathLogout) {
			t.Fatalf("the confirmation is at %s, want the end-session endpoint", loc)
		}
		text, _ := chromedp.Run(tab, chromedp.TextContent(chromedp.CSS(`main`)))
		if !strings.Contains(text, acmeName) {
			t.Errorf("the confirmation does not name the client:\n%s", text)
		}
		calls := len(bs.client.Callbacks())
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(selConfirm))); err != nil {
			t.Fatal(err)
		}
		if got := readCallback(t, tab); got.State != "bye-2" || got.Code != "" {
			t.Fatalf("back at the client with %+v, want state bye-2 only", got)
		}
		if cbs := bs.client.Callbacks(); len(cbs) != calls+1 || !slices.Equal(cbs[calls]["state"], []string{"bye-2"}) {
			t.Fatalf("the post-logout URI received %v, want one visit with state bye-2", cbs[calls:])
		}
		wantSignedOut(t)
	})
	rec.wantNoViolations(t)
}
