package httpapi_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/golang-jwt/jwt/v5"
)

const (
	rpID        = "rp-app"
	rpLogoutURI = "https://rp.example/signed-out"
)

// addLogoutClient registers a relying party with a post-logout redirect
// URI (RP-Initiated Logout 1.0 §3.1).
func (ts *testServer) addLogoutClient() {
	ts.t.Helper()
	if err := ts.Store.PutClient(context.Background(), &oauth.Client{
		ID: rpID, Name: "Relying Party", RedirectURIs: []string{redirectURI},
		PostLogoutRedirectURIs: []string{rpLogoutURI},
		GrantTypes:             []string{oauth.GrantAuthorizationCode}, ResponseTypes: []string{oauth.ResponseTypeCode},
		Scopes: []string{"openid", "read"}, TokenEndpointAuthMethod: oauth.AuthMethodNone,
	}); err != nil {
		ts.t.Fatal(err)
	}
}

// idTokenHint signs an ID token for sub and aud with the server's key, as
// the token endpoint issues them (OpenID Connect Core §2).
func (ts *testServer) idTokenHint(sub, aud string, exp time.Time) string {
	ts.t.Helper()
	ctx := context.Background()
	kid, err := ts.Signer.KeyID(ctx)
	if err != nil {
		ts.t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(ts.Signer.Algorithm()), jwt.MapClaims{
		"iss": ts.URL, "sub": sub, "aud": aud, "iat": exp.Add(-time.Hour).Unix(), "exp": exp.Unix()})
	tok.Header["kid"] = kid
	input, err := tok.SigningString()
	if err != nil {
		ts.t.Fatal(err)
	}
	sig, err := ts.Signer.Sign(ctx, []byte(input))
	if err != nil {
		ts.t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// sessionLive reports whether the session of cookie sc is still stored.
func (ts *testServer) sessionLive(sc *http.Cookie) bool {
	_, err := ts.Store.GetSession(context.Background(), oauth.HashToken(sc.Value))
	if err != nil && !errors.Is(err, oauth.ErrNotFound) {
		ts.t.Fatal(err)
	}
	return err == nil
}

// TestRPInitiatedLogout: OpenID Connect RP-Initiated Logout 1.0. A hint
// naming the session's user ends the session at once and redirects to the
// registered URI with state (GET and POST, §2); without a hint, or with
// another user's, the user confirms first and is then redirected; an
// unregistered URI or a forged hint is an error page, never a redirect,
// and the session lives on.
func TestRPInitiatedLogout(t *testing.T) {
	ts := newTestServer(t)
	ts.addLogoutClient()
	hint := ts.idTokenHint("user-1", rpID, ts.Clock.Now().Add(time.Hour))
	wantBack := func(t *testing.T, r response, status int, state string) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
		}
		loc := r.Location(t)
		if got := loc.Scheme + "://" + loc.Host + loc.Path; got != rpLogoutURI || loc.Query().Get("state") != state {
			t.Fatalf("redirected to %s, want %s with state %q", loc, rpLogoutURI, state)
		}
	}

	t.Run("GET with the session's hint", func(t *testing.T) {
		c := ts.newBrowser()
		sc := ts.sessionCookieOf(c)
		r := ts.get(c, oauth.PathLogout+"?"+url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {rpLogoutURI}, "state": {"xyz 1"}}.Encode())
		wantBack(t, r, http.StatusFound, "xyz 1")
		if ts.sessionLive(sc) {
			t.Fatal("the session outlived the logout")
		}
		if ck := setCookieNamed(r.Header, "gh_session"); ck == nil || ck.MaxAge >= 0 {
			t.Fatal("the session cookie was not cleared")
		}
	})
	t.Run("POST with the session's hint", func(t *testing.T) {
		c := ts.newBrowser()
		sc := ts.sessionCookieOf(c)
		r := ts.postFormTo(c, oauth.PathLogout, url.Values{"id_token_hint": {hint}, "client_id": {rpID}, "post_logout_redirect_uri": {rpLogoutURI}, "state": {"s"}}, nil)
		wantBack(t, r, http.StatusSeeOther, "s")
		if ts.sessionLive(sc) {
			t.Fatal("the session outlived the logout")
		}
	})
	t.Run("an expired hint is accepted", func(t *testing.T) {
		c := ts.newBrowser()
		sc := ts.sessionCookieOf(c)
		old := ts.idTokenHint("user-1", rpID, ts.Clock.Now().Add(-24*time.Hour))
		r := ts.get(c, oauth.PathLogout+"?"+url.Values{"id_token_hint": {old}, "post_logout_redirect_uri": {rpLogoutURI}}.Encode())
		wantBack(t, r, http.StatusFound, "")
		if ts.sessionLive(sc) {
			t.Fatal("the session outlived the logout")
		}
	})
	for _, tc := range []struct {
		name   string
		params url.Values
	}{
		{"no hint", url.Values{"client_id": {rpID}, "post_logout_redirect_uri": {rpLogoutURI}, "state": {"st"}}},
		{"another user's hint", url.Values{"id_token_hint": {ts.idTokenHint("user-2", rpID, ts.Clock.Now().Add(time.Hour))}, "post_logout_redirect_uri": {rpLogoutURI}, "state": {"st"}}},
	} {
		t.Run(tc.name+": confirmation first", func(t *testing.T) {
			c := ts.newBrowser()
			sc := ts.sessionCookieOf(c)
			page := ts.get(c, oauth.PathLogout+"?"+tc.params.Encode())
			if page.Status != http.StatusOK || !strings.Contains(page.Body, `name="gh_csrf"`) || !strings.Contains(page.Body, "Relying Party") {
				t.Fatalf("GET: %d, want the confirmation page naming the client:\n%s", page.Status, page.Body)
			}
			if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://rp.example;") {
				t.Errorf("CSP %q does not let the form's redirect reach the client", csp)
			}
			if !ts.sessionLive(sc) {
				t.Fatal("the session ended before the user confirmed")
			}
			// Without the CSRF token the post is refused.
			forged := formFields(t, page.Body)
			forged.Del("gh_csrf")
			if r := ts.postFormTo(c, oauth.PathLogout, forged, nil); r.Status != http.StatusForbidden || !ts.sessionLive(sc) {
				t.Fatalf("a post without the CSRF token: %d, session live %v", r.Status, ts.sessionLive(sc))
			}
			r := ts.postFormTo(c, oauth.PathLogout, formFields(t, page.Body), nil)
			wantBack(t, r, http.StatusSeeOther, "st")
			if ts.sessionLive(sc) {
				t.Fatal("the session outlived the confirmed logout")
			}
		})
	}
	t.Run("plain sign-out page: forms post only to itself", func(t *testing.T) {
		r := ts.get(ts.newBrowser(), oauth.PathLogout)
		if fa, _ := cspDirective(r.Header.Get("Content-Security-Policy"), "form-action"); fa != "'self'" {
			t.Fatalf("form-action %q, want 'self' alone", fa)
		}
	})
	t.Run("no session, hint: straight back", func(t *testing.T) {
		c := ts.newBrowser()
		r := ts.get(c, oauth.PathLogout+"?"+url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {rpLogoutURI}, "state": {"a"}}.Encode())
		wantBack(t, r, http.StatusFound, "a")
	})
	t.Run("no redirect URI: signed-out page", func(t *testing.T) {
		c := ts.newBrowser()
		sc := ts.sessionCookieOf(c)
		r := ts.get(c, oauth.PathLogout+"?"+url.Values{"id_token_hint": {hint}}.Encode())
		if r.Status != http.StatusOK || !strings.Contains(r.Body, "You are signed out") || ts.sessionLive(sc) {
			t.Fatalf("%d, session live %v:\n%s", r.Status, ts.sessionLive(sc), r.Body)
		}
	})
	for _, tc := range []struct {
		name   string
		params url.Values
	}{
		{"unregistered URI", url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/"}, "state": {"s"}}},
		{"the client's authorization redirect URI", url.Values{"client_id": {rpID}, "post_logout_redirect_uri": {redirectURI}}},
		{"URI without a client", url.Values{"post_logout_redirect_uri": {rpLogoutURI}}},
		{"another client's hint", url.Values{"id_token_hint": {ts.idTokenHint("user-1", webID, ts.Clock.Now().Add(time.Hour))}, "post_logout_redirect_uri": {rpLogoutURI}}},
		{"client_id disagrees with the hint", url.Values{"id_token_hint": {hint}, "client_id": {webID}}},
		{"forged hint", url.Values{"id_token_hint": {hint[:len(hint)-4] + "AAAA"}, "post_logout_redirect_uri": {rpLogoutURI}}},
	} {
		t.Run(tc.name+": error page", func(t *testing.T) {
			c := ts.newBrowser()
			sc := ts.sessionCookieOf(c)
			for _, r := range []response{
				ts.get(c, oauth.PathLogout+"?"+tc.params.Encode()),
				ts.postFormTo(c, oauth.PathLogout, tc.params, nil),
			} {
				wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
				if r.Header.Get("Location") != "" || !ts.sessionLive(sc) {
					t.Fatalf("Location %q, session live %v", r.Header.Get("Location"), ts.sessionLive(sc))
				}
			}
		})
	}
}
