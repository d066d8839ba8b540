package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

const oidcClientID, oidcClientSecret = "oidc-web", "oidc-web-secret-0123456789abcdef"

// newOIDCServer is a test server whose web client may ask for the OpenID
// scopes, and whose user has every standard claim (OpenID Connect Core
// 1.0 §5.1).
func newOIDCServer(t *testing.T) *testServer {
	t.Helper()
	ts := newTestServer(t, func(c *oauth.Config) {
		c.ScopesSupported = append(c.ScopesSupported, "openid", "profile", "email", "address", "phone")
	})
	ctx := context.Background()
	if err := ts.Store.PutClient(ctx, &oauth.Client{ID: oidcClientID, SecretHash: oauth.HashSecret(oidcClientSecret),
		Name: "OIDC Web", RedirectURIs: []string{redirectURI},
		GrantTypes:    []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		ResponseTypes: []string{oauth.ResponseTypeCode}, Scopes: []string{"openid", "profile", "email", "address", "phone", "read"},
		TokenEndpointAuthMethod: oauth.AuthMethodBasic, FirstParty: true}); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	if err := ts.Store.PutUser(ctx, &oauth.User{Subject: "user-1", Username: userName, PasswordHash: userHash,
		Claims: &oauth.UserClaims{Name: "Alice Liddell", GivenName: "Alice", FamilyName: "Liddell",
			Email: "alice@example.com", EmailVerified: &yes, PhoneNumber: "+441234567890", PhoneNumberVerified: &no,
			Locale: "en-GB", Zoneinfo: "Europe/London", UpdatedAt: 1700000000,
			Address: &oauth.Address{Locality: "Oxford", Country: "GB"}}}); err != nil {
		t.Fatal(err)
	}
	return ts
}

// oidcToken runs the code flow for scope and returns the access token.
func (ts *testServer) oidcToken(scope string) string {
	ts.t.Helper()
	verifier, challenge := pkce()
	u := ts.authorize(ts.newBrowser(), url.Values{
		"response_type": {"code"}, "client_id": {oidcClientID}, "redirect_uri": {redirectURI},
		"scope": {scope}, "state": {"s"}, "nonce": {"n"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	})
	form := url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}
	m := mustOK(ts.t, "exchange", ts.post(oauth.PathToken, form.Encode(), basic(oidcClientID, oidcClientSecret)))
	return str(m, "access_token")
}

// wantUserInfo checks a successful UserInfo answer (§5.3.2): 200, JSON,
// not cacheable, sub the user's, and exactly the claims want.
func wantUserInfo(t *testing.T, r response, want map[string]any) {
	t.Helper()
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("userinfo: %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q; want no-store", r.Header.Get("Cache-Control"))
	}
	got := r.JSON(t)
	for k, v := range want {
		if g, ok := got[k]; !ok || !equalJSON(g, v) {
			t.Errorf("claim %s = %v; want %v (all: %v)", k, g, v, got)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("claim %s = %v released; not wanted", k, got[k])
		}
	}
}

func equalJSON(a, b any) bool {
	switch b := b.(type) {
	case int:
		f, ok := a.(float64)
		return ok && f == float64(b)
	case map[string]any:
		m, ok := a.(map[string]any)
		if !ok || len(m) != len(b) {
			return false
		}
		for k, v := range b {
			if !equalJSON(m[k], v) {
				return false
			}
		}
		return true
	}
	return a == b
}

// TestOidccUserinfoGet mirrors the conformance suite's oidcc-userinfo-get:
// GET /userinfo with the access token in the Authorization header answers
// the user's claims, with the same sub.
func TestOidccUserinfoGet(t *testing.T) {
	ts := newOIDCServer(t)
	tok := ts.oidcToken("openid profile")
	wantUserInfo(t, ts.send(http.MethodGet, oauth.PathUserInfo, "", "", "Bearer "+tok), map[string]any{
		"sub": "user-1", "name": "Alice Liddell", "given_name": "Alice", "family_name": "Liddell",
		"preferred_username": userName, "locale": "en-GB", "zoneinfo": "Europe/London", "updated_at": 1700000000,
	})
}

// TestOidccUserinfoPostHeader mirrors oidcc-userinfo-post-header: POST
// with the token in the Authorization header.
func TestOidccUserinfoPostHeader(t *testing.T) {
	ts := newOIDCServer(t)
	tok := ts.oidcToken("openid email")
	wantUserInfo(t, ts.send(http.MethodPost, oauth.PathUserInfo, "", "", "Bearer "+tok), map[string]any{
		"sub": "user-1", "email": "alice@example.com", "email_verified": true,
	})
}

// TestOidccUserinfoPostBody mirrors oidcc-userinfo-post-body: POST with
// the token as the form body's access_token (RFC 6750 §2.2).
func TestOidccUserinfoPostBody(t *testing.T) {
	ts := newOIDCServer(t)
	tok := ts.oidcToken("openid phone address")
	wantUserInfo(t, ts.send(http.MethodPost, oauth.PathUserInfo, "application/x-www-form-urlencoded", formOf("access_token", tok), ""),
		map[string]any{"sub": "user-1", "phone_number": "+441234567890", "phone_number_verified": false,
			"address": map[string]any{"locality": "Oxford", "country": "GB"}})
}

// TestUserInfoErrors: every refusal is an RFC 6750 §3 error with its
// WWW-Authenticate challenge, and changes nothing.
func TestUserInfoErrors(t *testing.T) {
	ts := newOIDCServer(t)
	tok := ts.oidcToken("openid profile")
	noOpenID := ts.oidcToken("profile read")
	machine := str(ts.ccToken("read"), "access_token")
	form := "application/x-www-form-urlencoded"
	for _, tt := range []struct {
		name, method, target, contentType, body, auth string
		status                                        int
		code, challenge                               string
	}{
		{"no token", "GET", oauth.PathUserInfo, "", "", "", 401, "", `Bearer realm="gatehouse"`},
		{"token in the query", "GET", oauth.PathUserInfo + "?access_token=" + tok, "", "", "", 400, "invalid_request", `error="invalid_request"`},
		{"two ways", "POST", oauth.PathUserInfo, form, formOf("access_token", tok), "Bearer " + tok, 400, "invalid_request", `error="invalid_request"`},
		{"not bearer", "GET", oauth.PathUserInfo, "", "", basic(webID, webSecret), 400, "invalid_request", `error="invalid_request"`},
		{"garbage", "GET", oauth.PathUserInfo, "", "", "Bearer not-a-token", 401, "invalid_token", `error="invalid_token"`},
		{"tampered", "GET", oauth.PathUserInfo, "", "", "Bearer " + tok[:len(tok)-4] + "AAAA", 401, "invalid_token", `error="invalid_token"`},
		{"client credentials token", "GET", oauth.PathUserInfo, "", "", "Bearer " + machine, 401, "invalid_token", `error="invalid_token"`},
		{"without openid", "GET", oauth.PathUserInfo, "", "", "Bearer " + noOpenID, 403, "insufficient_scope", `error="insufficient_scope"`},
		{"PUT", "PUT", oauth.PathUserInfo, "", "", "Bearer " + tok, 405, "invalid_request", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.send(tt.method, tt.target, tt.contentType, tt.body, tt.auth)
			if r.Status != tt.status {
				t.Fatalf("%d %s; want %d", r.Status, r.Body, tt.status)
			}
			if tt.code != "" && str(r.JSON(t), "error") != tt.code {
				t.Errorf("error %s; want %s", r.Body, tt.code)
			}
			if ch := r.Header.Get("WWW-Authenticate"); !strings.Contains(ch, tt.challenge) || tt.challenge != "" && !strings.HasPrefix(ch, "Bearer ") {
				t.Errorf("WWW-Authenticate %q; want %q", ch, tt.challenge)
			}
			if tt.code == "insufficient_scope" && !strings.Contains(r.Header.Get("WWW-Authenticate"), `scope="openid"`) {
				t.Errorf("WWW-Authenticate %q lacks scope=\"openid\"", r.Header.Get("WWW-Authenticate"))
			}
		})
	}

	// Revoked: the token stops answering at once.
	ts.post(oauth.PathRevoke, formOf("token", tok), basic(oidcClientID, oidcClientSecret))
	if r := ts.send("GET", oauth.PathUserInfo, "", "", "Bearer "+tok); r.Status != 401 {
		t.Errorf("revoked token: %d %s; want 401", r.Status, r.Body)
	}

	// A user deleted and re-created under the same username is another
	// subject: the old token does not reach the new user's claims.
	tok2 := ts.oidcToken("openid profile")
	ctx := context.Background()
	if err := ts.Store.PutUser(ctx, &oauth.User{Subject: "user-2", Username: userName, PasswordHash: userHash,
		Claims: &oauth.UserClaims{Name: "Someone Else"}}); err != nil {
		t.Fatal(err)
	}
	if r := ts.send("GET", oauth.PathUserInfo, "", "", "Bearer "+tok2); r.Status != 401 || strings.Contains(r.Body, "Someone") {
		t.Errorf("token of a replaced user: %d %s; want 401", r.Status, r.Body)
	}
}

// TestFirstSignInAssignsSubject: a user stored without a subject (by an
// earlier version) gets an opaque one at its first sign-in, which its
// tokens and UserInfo carry; never the username.
func TestFirstSignInAssignsSubject(t *testing.T) {
	ts := newOIDCServer(t)
	ctx := context.Background()
	if err := ts.Store.PutUser(ctx, &oauth.User{Username: userName, PasswordHash: userHash}); err != nil {
		t.Fatal(err)
	}
	tok := ts.oidcToken("openid")
	u, err := ts.Store.GetUser(ctx, userName)
	if err != nil {
		t.Fatal(err)
	}
	if u.Subject == "" || u.Subject == userName {
		t.Fatalf("subject after the first sign-in: %q", u.Subject)
	}
	wantUserInfo(t, ts.send(http.MethodGet, oauth.PathUserInfo, "", "", "Bearer "+tok), map[string]any{"sub": u.Subject})
}
