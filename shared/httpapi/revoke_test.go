package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// wantRevoked checks a revocation succeeded: 200, empty body, not cached.
func wantRevoked(t *testing.T, r response) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("revocation status %d, want 200: %s", r.Status, r.Body)
	}
	if strings.TrimSpace(r.Body) != "" {
		t.Errorf("revocation body %q, want empty (RFC 7009 §2.2)", r.Body)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
}

var revokeHints = []string{"", "refresh_token", "access_token", "unknown_hint"}

// TestRevokeRefreshTokenRevokesGrant covers RFC 7009 §2.1: revoking a
// refresh token revokes it and the access tokens of its grant.
func TestRevokeRefreshTokenRevokesGrant(t *testing.T) {
	base := newTestServer(t)
	for _, hint := range revokeHints {
		t.Run("hint="+hint, func(t *testing.T) {
			ts := base.withT(t)
			tok := ts.tokens("read")
			next := mustOK(t, "refresh", ts.refresh(str(tok, "refresh_token"), ""))
			wantRevoked(t, ts.revokeWith(basic(webID, webSecret), str(next, "refresh_token"), hint))
			wantError(t, ts.refresh(str(next, "refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
			wantInactive(t, ts.webIntrospects(str(next, "refresh_token"), ""))
			if ts.active(str(next, "access_token")) {
				t.Error("access token still active after its refresh token was revoked")
			}
			if ts.active(str(tok, "access_token")) {
				t.Error("earlier access token of the grant still active")
			}
			// Revoking again is fine (§2.2: invalid tokens get 200).
			wantRevoked(t, ts.revokeWith(basic(webID, webSecret), str(next, "refresh_token"), hint))
		})
	}
}

// TestRevokeAccessToken covers RFC 7009 §2.1 for access tokens.
func TestRevokeAccessToken(t *testing.T) {
	base := newTestServer(t)
	for _, hint := range revokeHints {
		t.Run("user token/hint="+hint, func(t *testing.T) {
			ts := base.withT(t)
			tok := ts.tokens("read")
			other := ts.tokens("read")
			wantRevoked(t, ts.revokeWith(basic(webID, webSecret), str(tok, "access_token"), hint))
			wantInactive(t, ts.introspectResp(str(tok, "access_token"), ""))
			if !ts.active(str(other, "access_token")) {
				t.Error("revoking one access token revoked another grant's token")
			}
		})
		t.Run("client credentials token/hint="+hint, func(t *testing.T) {
			ts := base.withT(t)
			tok := str(ts.ccToken("read"), "access_token")
			keep := str(ts.ccToken("read"), "access_token")
			wantRevoked(t, ts.revokeWith(basic(serviceID, serviceSecret), tok, hint))
			wantInactive(t, ts.introspectResp(tok, hint))
			if !ts.active(keep) {
				t.Error("revoking one client credentials token revoked another")
			}
		})
	}
	t.Run("post client", func(t *testing.T) {
		ts := base.withT(t)
		tok := str(mustOK(t, "cc", ts.post(oauth.PathToken, formOf("grant_type", "client_credentials",
			"client_id", postID, "client_secret", postSecret), "")), "access_token")
		wantRevoked(t, ts.revokeWith("", tok, "", "client_id", postID, "client_secret", postSecret))
		wantInactive(t, ts.introspectResp(tok, ""))
	})
}

// TestRevokePublicClient: a public client revokes its own tokens with its
// client_id alone (RFC 7009 §2.1, §5).
func TestRevokePublicClient(t *testing.T) {
	base := newTestServer(t)
	t.Run("refresh token", func(t *testing.T) {
		ts := base.withT(t)
		tok := ts.publicTokens("read")
		wantRevoked(t, ts.revokeWith("", str(tok, "refresh_token"), "refresh_token", "client_id", publicID))
		wantError(t, ts.refreshWith("", str(tok, "refresh_token"), "", "client_id", publicID), http.StatusBadRequest, "invalid_grant")
		if ts.active(str(tok, "access_token")) {
			t.Error("access token still active after its refresh token was revoked")
		}
	})
	t.Run("access token", func(t *testing.T) {
		ts := base.withT(t)
		tok := ts.publicTokens("read")
		wantRevoked(t, ts.revokeWith("", str(tok, "access_token"), "", "client_id", publicID))
		if ts.active(str(tok, "access_token")) {
			t.Error("access token still active after revocation")
		}
	})
	t.Run("without client_id", func(t *testing.T) {
		ts := base.withT(t)
		tok := ts.publicTokens("read")
		r := ts.revokeWith("", str(tok, "refresh_token"), "")
		wantError(t, r, http.StatusUnauthorized, "invalid_client")
		wantNoStore(t, r)
		mustOK(t, "refresh", ts.refreshWith("", str(tok, "refresh_token"), "", "client_id", publicID))
	})
}

// TestRevokeOtherClientsToken: a client may not revoke a token issued to
// another client; the token stays live.
func TestRevokeOtherClientsToken(t *testing.T) {
	base := newTestServer(t)
	callers := map[string][]string{
		"basic client": {basic(serviceID, serviceSecret)},
		"post client":  {"", "client_id", postID, "client_secret", postSecret},
		"public":       {"", "client_id", publicID},
	}
	for name, c := range callers {
		for _, hint := range []string{"", "access_token", "refresh_token"} {
			t.Run(name+"/access token/hint="+hint, func(t *testing.T) {
				ts := base.withT(t)
				tok := ts.tokens("read")
				r := ts.revokeWith(c[0], str(tok, "access_token"), hint, c[1:]...)
				wantError(t, r, http.StatusBadRequest, "unauthorized_client")
				wantNoStore(t, r)
				if !ts.active(str(tok, "access_token")) {
					t.Error("another client revoked the access token")
				}
			})
			t.Run(name+"/refresh token/hint="+hint, func(t *testing.T) {
				ts := base.withT(t)
				tok := ts.tokens("read")
				r := ts.revokeWith(c[0], str(tok, "refresh_token"), hint, c[1:]...)
				wantError(t, r, http.StatusBadRequest, "unauthorized_client")
				wantNoStore(t, r)
				if !ts.active(str(tok, "access_token")) {
					t.Error("another client revoked the grant")
				}
				mustOK(t, "refresh by the owner", ts.refresh(str(tok, "refresh_token"), ""))
			})
		}
	}
}

// TestRevokeUnknownToken covers RFC 7009 §2.2: an invalid token is not an
// error.
func TestRevokeUnknownToken(t *testing.T) {
	base := newTestServer(t)
	other := newTestServer(t)
	tokens := map[string]string{
		"word":                  "garbage",
		"JWT-shaped junk":       "a.b.c",
		"refresh-shaped":        oauth.RandomToken() + "." + oauth.RandomToken(),
		"other server's token":  str(other.ccToken("read"), "access_token"),
		"forged token":          base.signWithServerKey(base.baseClaims(), map[string]any{"typ": "JWT"}),
		"10 KB":                 strings.Repeat("t", 10<<10),
		"unicode":               "ťøķëñ",
		"rotated refresh token": rotatedRefreshToken(base),
	}
	for name, tok := range tokens {
		for _, hint := range []string{"", "access_token", "refresh_token"} {
			t.Run(name+"/hint="+hint, func(t *testing.T) {
				wantRevoked(t, base.withT(t).revokeWith(basic(webID, webSecret), tok, hint))
			})
		}
	}
}

func rotatedRefreshToken(ts *testServer) string {
	rt := str(ts.tokens("read"), "refresh_token")
	mustOK(ts.t, "refresh", ts.refresh(rt, ""))
	return rt
}

// TestRevokeErrors covers RFC 7009 §2.1 requests that are refused.
func TestRevokeErrors(t *testing.T) {
	base := newTestServer(t)
	tok := str(base.ccToken("read"), "access_token")
	tests := []struct {
		name   string
		body   string
		auth   string
		status int
		err    string
	}{
		{"missing token", "token_type_hint=access_token", basic(serviceID, serviceSecret), 400, "invalid_request"},
		{"empty token", "token=", basic(serviceID, serviceSecret), 400, "invalid_request"},
		{"no client authentication", formOf("token", tok), "", 401, "invalid_client"},
		{"confidential client with client_id only", formOf("token", tok, "client_id", serviceID), "", 401, "invalid_client"},
		{"wrong secret", formOf("token", tok), basic(serviceID, "wrong"), 401, "invalid_client"},
		{"repeated token", formOf("token", tok, "token", tok), basic(serviceID, serviceSecret), 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := base.withT(t)
			r := ts.post(oauth.PathRevoke, tc.body, tc.auth)
			wantError(t, r, tc.status, tc.err)
			wantNoStore(t, r)
			if !ts.active(tok) {
				t.Fatal("a refused revocation revoked the token")
			}
		})
	}
}
