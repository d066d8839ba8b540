package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Sign-in semantics of OpenID Connect Core §3.1.2.1 (prompt, max_age,
// id_token_hint, login_hint and the parameters accepted and ignored), each
// test named after the conformance suite's module
// (openid/conformance-suite, Basic OP profile) and asserting what it does.

// oidccRun is one authorization request of the OIDC relying party in
// browser c: it signs in if the login page shows (as user, password
// userPassword), exchanges the code and returns whether the login page
// showed, the ID token and its claims.
func (ts *testServer) oidccRun(c *http.Client, user string, kv ...string) (login bool, raw string, claims idtClaims) {
	ts.t.Helper()
	verifier, challenge := pkce()
	params := withParams(url.Values{
		"response_type": {"code"}, "client_id": {idtRPID}, "redirect_uri": {redirectURI},
		"scope": {"openid"}, "state": {"st"}, "nonce": {"n"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}, kv...)
	r := ts.authorizeGet(c, params.Encode())
	if r.Status == http.StatusOK && isLoginPage(r.Body) {
		login = true
		resp := ts.submit(c, r.Body, url.Values{"username": {user}, "password": {userPassword}})
		if resp.Status != http.StatusSeeOther {
			ts.t.Fatalf("login: status %d: %s", resp.Status, resp.Body)
		}
		r = ts.getAbs(c, resp.Header.Get("Location"))
	}
	u := wantClientRedirect(ts.t, ts, r, "")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}
	tok := mustOK(ts.t, "exchange", ts.post(oauth.PathToken, form.Encode(), basic(idtRPID, idtRPSecret)))
	raw = str(tok, "id_token")
	_, claims = idtDecode(ts.t, raw)
	if claims.AuthTime == 0 {
		ts.t.Errorf("ID token without auth_time: %s", raw)
	}
	return login, raw, claims
}

func newOIDCCServer(t *testing.T) *testServer {
	ts := newTestServer(t)
	idtRegisterRPs(t, ts)
	return ts
}

// oidccParams are a valid OpenID request's parameters with kv set.
func oidccParams(kv ...string) url.Values {
	_, challenge := pkce()
	return withParams(url.Values{
		"response_type": {"code"}, "client_id": {idtRPID}, "redirect_uri": {redirectURI},
		"scope": {"openid"}, "state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}, kv...)
}

// oidcc-prompt-login: a second request with prompt=login signs the user
// in again (the login page shows despite the session) and the second ID
// token's auth_time is later than the first's, for the same sub.
func TestOIDCCPromptLogin(t *testing.T) {
	ts := newOIDCCServer(t)
	c := ts.newBrowser()
	_, _, first := ts.oidccRun(c, userName)
	ts.Clock.Advance(2 * time.Second)
	login, _, second := ts.oidccRun(c, userName, "prompt", "login")
	if !login {
		t.Fatal("prompt=login: no login page with a live session")
	}
	if second.AuthTime <= first.AuthTime || second.Sub != first.Sub {
		t.Errorf("auth_time %d then %d, sub %q then %q: want a later sign-in of the same user", first.AuthTime, second.AuthTime, first.Sub, second.Sub)
	}
	// select_account behaves as login (one browser has one session).
	ts.Clock.Advance(2 * time.Second)
	if login, _, third := ts.oidccRun(c, userName, "prompt", "select_account"); !login || third.AuthTime <= second.AuthTime {
		t.Errorf("prompt=select_account: login page %v, auth_time %d", login, third.AuthTime)
	}
}

// oidcc-prompt-none-not-logged-in: prompt=none without a session is
// login_required at the redirect URI (§3.1.2.6), with state.
func TestOIDCCPromptNoneNotLoggedIn(t *testing.T) {
	ts := newOIDCCServer(t)
	wantClientRedirect(t, ts, ts.authorizeGet(ts.newBrowser(), oidccParams("prompt", "none").Encode()), oauth.CodeLoginRequired)
	// none with any other value is invalid_request (§3.1.2.1).
	for _, p := range []string{"none login", "none consent", "select_account none"} {
		wantClientRedirect(t, ts, ts.authorizeGet(ts.newBrowser(), oidccParams("prompt", p).Encode()), oauth.CodeInvalidRequest)
	}
}

// oidcc-prompt-none-logged-in: after a sign-in, prompt=none answers at
// once with a code whose ID token names the same user and sign-in.
func TestOIDCCPromptNoneLoggedIn(t *testing.T) {
	ts := newOIDCCServer(t)
	c := ts.newBrowser()
	_, _, first := ts.oidccRun(c, userName)
	login, _, second := ts.oidccRun(c, userName, "prompt", "none")
	if login || second.Sub != first.Sub || second.AuthTime != first.AuthTime {
		t.Errorf("prompt=none: login page %v, sub %q/%q, auth_time %d/%d", login, first.Sub, second.Sub, first.AuthTime, second.AuthTime)
	}
}

// oidcc-max-age-1: a sign-in older than max_age=1 is asked again; the new
// ID token's auth_time is later.
func TestOIDCCMaxAge1(t *testing.T) {
	ts := newOIDCCServer(t)
	c := ts.newBrowser()
	_, _, first := ts.oidccRun(c, userName)
	ts.Clock.Advance(2 * time.Second)
	login, _, second := ts.oidccRun(c, userName, "max_age", "1")
	if !login || second.AuthTime <= first.AuthTime {
		t.Errorf("max_age=1 after 2 s: login page %v, auth_time %d then %d", login, first.AuthTime, second.AuthTime)
	}
}

// oidcc-max-age-10000: a sign-in younger than max_age is not asked again;
// the ID token carries the first sign-in's auth_time.
func TestOIDCCMaxAge10000(t *testing.T) {
	ts := newOIDCCServer(t)
	c := ts.newBrowser()
	_, _, first := ts.oidccRun(c, userName)
	ts.Clock.Advance(2 * time.Second)
	login, _, second := ts.oidccRun(c, userName, "max_age", "10000")
	if login || second.AuthTime != first.AuthTime {
		t.Errorf("max_age=10000: login page %v, auth_time %d then %d", login, first.AuthTime, second.AuthTime)
	}
}

// oidcc-id-token-hint: prompt=none with the ID token just issued as
// id_token_hint answers with the same sub. Also: a hint naming another
// user than the session's is login_required with prompt=none and the
// login page without; a hint that is not this server's ID token is
// invalid_request; an expired one is still a hint.
func TestOIDCCIdTokenHint(t *testing.T) {
	ts := newOIDCCServer(t)
	if err := ts.Store.PutUser(t.Context(), &oauth.User{Subject: "user-2", Username: "bob", PasswordHash: userHash}); err != nil {
		t.Fatal(err)
	}
	c := ts.newBrowser()
	_, hint, first := ts.oidccRun(c, userName)
	login, _, second := ts.oidccRun(c, userName, "prompt", "none", "id_token_hint", hint)
	if login || second.Sub != first.Sub {
		t.Errorf("prompt=none with the user's own hint: login page %v, sub %q then %q", login, first.Sub, second.Sub)
	}

	_, bobHint, bob := ts.oidccRun(ts.newBrowser(), "bob")
	if bob.Sub != "user-2" {
		t.Fatalf("bob's sub %q", bob.Sub)
	}
	// alice's session, bob's hint.
	wantClientRedirect(t, ts, ts.authorizeGet(c, oidccParams("prompt", "none", "id_token_hint", bobHint).Encode()), oauth.CodeLoginRequired)
	if r := ts.authorizeGet(c, oidccParams("id_token_hint", bobHint).Encode()); r.Status != http.StatusOK || !isLoginPage(r.Body) {
		t.Errorf("another user's hint without prompt=none: %d, want the login page", r.Status)
	}
	// Signing in then answers for whoever signed in (the hint was a hint).
	if login, _, again := ts.oidccRun(c, "bob", "id_token_hint", bobHint); !login || again.Sub != "user-2" {
		t.Errorf("sign-in after a mismatched hint: login %v, sub %q", login, again.Sub)
	}

	// Not an ID token of this server.
	parts := strings.Split(hint, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	for name, bad := range map[string]string{
		"bad signature": forged, "not a JWT": "not-a-jwt", "unsigned": parts[0] + "." + parts[1] + ".",
	} {
		r := ts.authorizeGet(c, oidccParams("prompt", "none", "id_token_hint", bad).Encode())
		if r.Status != http.StatusFound && r.Status != http.StatusSeeOther {
			t.Fatalf("%s: status %d", name, r.Status)
		}
		wantClientRedirect(t, ts, r, oauth.CodeInvalidRequest)
	}

	// An expired ID token is still a hint about the user.
	ts.Clock.Advance(2 * time.Hour)
	if login, _, late := ts.oidccRun(ts.newBrowser(), "bob", "id_token_hint", bobHint); !login || late.Sub != "user-2" {
		t.Errorf("expired hint: login %v sub %q", login, late.Sub)
	}
}

// oidcc-login-hint: login_hint is accepted and fills in the username on
// the sign-in page.
func TestOIDCCLoginHint(t *testing.T) {
	ts := newOIDCCServer(t)
	c := ts.newBrowser()
	r := ts.authorizeGet(c, oidccParams("login_hint", userName).Encode())
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `<input id="username" name="username" type="text" value="alice"`) {
		t.Fatalf("login page without the hinted username: %d\n%s", r.Status, r.Body)
	}
	if login, _, _ := ts.oidccRun(c, userName, "login_hint", userName); !login {
		t.Error("no login page")
	}
	// A hostile hint is text in an attribute, nothing more.
	r = ts.authorizeGet(ts.newBrowser(), oidccParams("login_hint", `"><script>alert(1)</script>`).Encode())
	if strings.Contains(r.Body, "<script>alert") || !strings.Contains(r.Body, `value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`) {
		t.Errorf("hostile login_hint not escaped:\n%s", r.Body)
	}
}

// oidccAccepted runs a request with kv, which the server accepts and
// ignores: the flow succeeds.
func oidccAccepted(t *testing.T, kv ...string) {
	ts := newOIDCCServer(t)
	if login, _, c := ts.oidccRun(ts.newBrowser(), userName, kv...); !login || c.Sub != "user-1" {
		t.Errorf("%v: login %v sub %q", kv, login, c.Sub)
	}
}

// oidcc-ui-locales: ui_locales is accepted (and ignored: the pages are in
// English).
func TestOIDCCUILocales(t *testing.T) { oidccAccepted(t, "ui_locales", "se") }

// oidcc-claims-locales: claims_locales is accepted and ignored.
func TestOIDCCClaimsLocales(t *testing.T) { oidccAccepted(t, "claims_locales", "se") }

// oidcc-display-page: display=page is accepted.
func TestOIDCCDisplayPage(t *testing.T) { oidccAccepted(t, "display", "page") }

// oidcc-display-popup: display=popup is accepted.
func TestOIDCCDisplayPopup(t *testing.T) { oidccAccepted(t, "display", "popup") }

// oidcc-ensure-request-with-acr-values-succeeds: acr_values is accepted
// and ignored (no acr is claimed).
func TestOIDCCEnsureRequestWithAcrValuesSucceeds(t *testing.T) {
	oidccAccepted(t, "acr_values", "1 2")
}

// oidcc-ensure-request-with-unknown-parameter-succeeds: an unknown
// parameter is ignored (RFC 6749 §3.1).
func TestOIDCCEnsureRequestWithUnknownParameterSucceeds(t *testing.T) {
	oidccAccepted(t, "extra", "foobar")
}
