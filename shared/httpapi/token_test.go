package httpapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
)

// TestGrantTypeErrors covers the grant_type rules of RFC 6749 §5.2.
func TestGrantTypeErrors(t *testing.T) {
	base := newTestServer(t)
	svc := basic(serviceID, serviceSecret)
	web := basic(webID, webSecret)
	mig := basic(passwordID, passwordSec)
	tests := []struct {
		name string
		body string
		auth string
		err  string
	}{
		{"unknown grant type", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code", svc, "unsupported_grant_type"},
		{"made-up grant type", "grant_type=magic", svc, "unsupported_grant_type"},
		{"implicit is not a token grant", "grant_type=implicit&client_id=" + implicitID, "", "unsupported_grant_type"},
		{"grant type is case-sensitive", "grant_type=Client_Credentials", svc, "unsupported_grant_type"},
		{"missing grant_type", "scope=read", svc, "invalid_request"},
		{"missing grant_type, empty body", "", svc, "invalid_request"},
		{"service may not use authorization_code", "grant_type=authorization_code&code=abc", svc, "unauthorized_client"},
		{"service may not use refresh_token", "grant_type=refresh_token&refresh_token=abc", svc, "unauthorized_client"},
		{"service may not use password", formOf("grant_type", "password", "username", userName, "password", userPassword), svc, "unauthorized_client"},
		{"web may not use client_credentials", "grant_type=client_credentials", web, "unauthorized_client"},
		{"web may not use password", formOf("grant_type", "password", "username", userName, "password", userPassword), web, "unauthorized_client"},
		{"migrator may not use authorization_code", "grant_type=authorization_code&code=abc", mig, "unauthorized_client"},
		{"migrator may not use client_credentials", "grant_type=client_credentials", mig, "unauthorized_client"},
		// spa IS registered for client_credentials; it is refused because
		// it is a public client (RFC 6749 §4.4).
		{"public client may not use client_credentials", "grant_type=client_credentials&client_id=" + publicID, "", "unauthorized_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base.withT(t).post(oauth.PathToken, tc.body, tc.auth)
			wantError(t, r, http.StatusBadRequest, tc.err)
			wantNoStore(t, r)
			if strings.Contains(r.Body, "access_token") {
				t.Fatalf("error response carries a token: %s", r.Body)
			}
		})
	}
}

// TestClientCredentials covers RFC 6749 §4.4 and the scope rules of §3.3.
func TestClientCredentials(t *testing.T) {
	base := newTestServer(t)
	tests := []struct {
		name      string
		scope     []string // raw scope parameter; nil = omitted
		auth      string
		extra     string
		wantScope string
		err       string
	}{
		{name: "omitted scope is the registered scope", wantScope: "read write admin"},
		{name: "empty scope is the registered scope", scope: []string{""}, wantScope: "read write admin"},
		{name: "subset", scope: []string{"read"}, wantScope: "read"},
		{name: "two of three", scope: []string{"write read"}, wantScope: "read write"},
		{name: "all", scope: []string{"admin read write"}, wantScope: "read write admin"},
		{name: "duplicates collapse", scope: []string{"read read"}, wantScope: "read"},
		{name: "outside the registered scope", scope: []string{"delete"}, err: "invalid_scope"},
		{name: "partly outside", scope: []string{"read delete"}, err: "invalid_scope"},
		{name: "case matters", scope: []string{"READ"}, err: "invalid_scope"},
		{name: "double quote", scope: []string{`read"`}, err: "invalid_scope"},
		{name: "backslash", scope: []string{`re\ad`}, err: "invalid_scope"},
		{name: "tab", scope: []string{"read\twrite"}, err: "invalid_scope"},
		{name: "DEL", scope: []string{"read\x7f"}, err: "invalid_scope"},
		{name: "non-ASCII", scope: []string{"réad"}, err: "invalid_scope"},
		{name: "NUL", scope: []string{"read\x00"}, err: "invalid_scope"},
		{name: "post client: subset", auth: "post", scope: []string{"read"}, wantScope: "read"},
		{name: "post client: outside its scope", auth: "post", scope: []string{"write"}, err: "invalid_scope"},
		{name: "post client: omitted", auth: "post", wantScope: "read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := base.withT(t)
			body := "grant_type=client_credentials"
			if tc.scope != nil {
				body += "&scope=" + url.QueryEscape(tc.scope[0])
			}
			auth, client := basic(serviceID, serviceSecret), serviceID
			if tc.auth == "post" {
				body += "&" + formOf("client_id", postID, "client_secret", postSecret)
				auth, client = "", postID
			}
			r := ts.post(oauth.PathToken, body, auth)
			wantNoStore(t, r)
			if tc.err != "" {
				wantError(t, r, http.StatusBadRequest, tc.err)
				return
			}
			m := mustOK(t, "client credentials", r)
			if _, ok := m["refresh_token"]; ok {
				t.Fatalf("client credentials issued a refresh token (RFC 6749 §4.4.3): %s", r.Body)
			}
			if !sameScope(str(m, "scope"), tc.wantScope) {
				t.Fatalf("scope %q, want %q", m["scope"], tc.wantScope)
			}
			in := wantActive(t, ts.introspectResp(str(m, "access_token"), ""))
			if !sameScope(str(in, "scope"), tc.wantScope) || str(in, "client_id") != client || str(in, "sub") != client {
				t.Fatalf("introspection disagrees with the response: %v", in)
			}
		})
	}
}

// TestPasswordGrant covers RFC 6749 §4.3.
func TestPasswordGrant(t *testing.T) {
	base := newTestServer(t)
	var wrongDescription string
	tests := []struct {
		name, username, password, scope string
		err                             string
	}{
		{name: "ok", username: userName, password: userPassword},
		{name: "ok with narrower scope", username: userName, password: userPassword, scope: "read"},
		{name: "wrong password", username: userName, password: "incorrect horse", err: "invalid_grant"},
		{name: "unknown user", username: "mallory", password: userPassword, err: "invalid_grant"},
		{name: "username is case-sensitive", username: "ALICE", password: userPassword, err: "invalid_grant"},
		{name: "missing username", password: userPassword, err: "invalid_request"},
		{name: "missing password", username: userName, err: "invalid_request"},
		{name: "scope outside the client's", username: userName, password: userPassword, scope: "admin", err: "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := base.withT(t)
			r := ts.passwordGrant(tc.username, tc.password, tc.scope)
			wantNoStore(t, r)
			if tc.err != "" {
				wantError(t, r, http.StatusBadRequest, tc.err)
				if strings.Contains(r.Body, tc.password) && tc.password != "" {
					t.Fatalf("error echoes the password: %s", r.Body)
				}
				if tc.err == "invalid_grant" {
					d := str(r.JSON(t), "error_description")
					if wrongDescription == "" {
						wrongDescription = d
					} else if d != wrongDescription {
						t.Fatalf("descriptions differ between bad-credential cases (user enumeration): %q vs %q", d, wrongDescription)
					}
				}
				return
			}
			m := mustOK(t, "password grant", r)
			want := tc.scope
			if want == "" {
				want = "read write"
			}
			if !sameScope(str(m, "scope"), want) || str(m, "refresh_token") == "" {
				t.Fatalf("password grant response: %s", r.Body)
			}
			in := wantActive(t, ts.introspectResp(str(m, "access_token"), ""))
			if str(in, "sub") != "user-1" || str(in, "username") != userName || str(in, "client_id") != passwordID {
				t.Fatalf("introspection: %v", in)
			}
			// Its refresh token works for its client.
			mustOK(t, "refresh", ts.refreshWith(basic(passwordID, passwordSec), str(m, "refresh_token"), ""))
		})
	}
}

// TestCodeExchange covers RFC 6749 §4.1.3 and RFC 7636 §4.6.
func TestCodeExchange(t *testing.T) {
	base := newTestServer(t)
	otherVerifier, _ := pkce()
	tests := []struct {
		name   string
		edit   func(f url.Values)
		auth   string
		err    string
		status int
	}{
		{name: "happy path"},
		{name: "redirect_uri mismatch", edit: func(f url.Values) { f.Set("redirect_uri", "https://client.example/other") }, err: "invalid_grant"},
		{name: "redirect_uri differs by a trailing slash", edit: func(f url.Values) { f.Set("redirect_uri", redirectURI+"/") }, err: "invalid_grant"},
		{name: "redirect_uri omitted although sent", edit: func(f url.Values) { f.Del("redirect_uri") }, err: "invalid_grant"},
		{name: "PKCE verifier missing", edit: func(f url.Values) { f.Del("code_verifier") }, err: "invalid_grant"},
		{name: "PKCE verifier wrong", edit: func(f url.Values) { f.Set("code_verifier", otherVerifier) }, err: "invalid_grant"},
		{name: "PKCE verifier is the challenge", edit: func(f url.Values) { f.Set("code_verifier", oauth.S256Challenge(f.Get("code_verifier"))) }, err: "invalid_grant"},
		{name: "PKCE verifier too short", edit: func(f url.Values) { f.Set("code_verifier", strings.Repeat("a", 42)) }, err: "invalid_grant"},
		{name: "PKCE verifier too long", edit: func(f url.Values) { f.Set("code_verifier", strings.Repeat("a", 129)) }, err: "invalid_grant"},
		{name: "PKCE verifier bad characters", edit: func(f url.Values) { f.Set("code_verifier", strings.Repeat("a", 42)+"+/=") }, err: "invalid_grant"},
		{name: "PKCE verifier with a space", edit: func(f url.Values) { f.Set("code_verifier", strings.Repeat("a", 30)+" "+strings.Repeat("b", 20)) }, err: "invalid_grant"},
		{name: "PKCE verifier truncated", edit: func(f url.Values) { v := f.Get("code_verifier"); f.Set("code_verifier", v[:len(v)-1]) }, err: "invalid_grant"},
		{name: "code of another client", auth: "post", err: "invalid_grant"},
		{name: "code missing", edit: func(f url.Values) { f.Del("code") }, err: "invalid_request"},
		{name: "code unknown", edit: func(f url.Values) { f.Set("code", oauth.RandomToken()) }, err: "invalid_grant"},
		{name: "code of 10 KB", edit: func(f url.Values) { f.Set("code", strings.Repeat("c", 10<<10)) }, err: "invalid_grant"},
		{name: "code altered", edit: func(f url.Values) { f.Set("code", alterLast(f.Get("code"))) }, err: "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := base.withT(t)
			code, verifier := ts.codeFor("read write")
			f := url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {redirectURI}, "code_verifier": {verifier}}
			if tc.edit != nil {
				tc.edit(f)
			}
			auth := basic(webID, webSecret)
			if tc.auth == "post" {
				f.Set("client_id", postID)
				f.Set("client_secret", postSecret)
				auth = ""
			}
			r := ts.post(oauth.PathToken, f.Encode(), auth)
			wantNoStore(t, r)
			if tc.err != "" {
				wantError(t, r, http.StatusBadRequest, tc.err)
				return
			}
			m := mustOK(t, "exchange", r)
			if str(m, "access_token") == "" || str(m, "refresh_token") == "" || !sameScope(str(m, "scope"), "read write") {
				t.Fatalf("exchange response: %s", r.Body)
			}
		})
	}
}

// alterLast changes the last character of s.
func alterLast(s string) string {
	if strings.HasSuffix(s, "A") {
		return s[:len(s)-1] + "B"
	}
	return s[:len(s)-1] + "A"
}

// TestCodeReplayRevokesGrant covers RFC 6749 §4.1.2 and RFC 9700 §4.5: a
// second redemption fails and revokes what the first one issued.
func TestCodeReplayRevokesGrant(t *testing.T) {
	ts := newTestServer(t)
	code, verifier := ts.codeFor("read")
	first := mustOK(t, "first exchange", ts.exchange(code, verifier))
	access, refresh := str(first, "access_token"), str(first, "refresh_token")
	if !ts.active(access) {
		t.Fatal("fresh access token inactive")
	}
	wantActive(t, ts.webIntrospects(refresh, ""))
	r := ts.exchange(code, verifier)
	wantError(t, r, http.StatusBadRequest, "invalid_grant")
	wantNoStore(t, r)
	if ts.active(access) {
		t.Error("after a code replay, the first exchange's access token is still active")
	}
	wantInactive(t, ts.webIntrospects(refresh, ""))
	wantError(t, ts.refresh(refresh, ""), http.StatusBadRequest, "invalid_grant")
	// A third try is still refused.
	wantError(t, ts.exchange(code, verifier), http.StatusBadRequest, "invalid_grant")
}

// TestCodeReplayAfterRefreshRevokesNewestTokens: the replay revokes tokens
// issued by refreshing the first exchange's refresh token too.
func TestCodeReplayAfterRefreshRevokesNewestTokens(t *testing.T) {
	ts := newTestServer(t)
	code, verifier := ts.codeFor("read")
	first := mustOK(t, "first exchange", ts.exchange(code, verifier))
	next := mustOK(t, "refresh", ts.refresh(str(first, "refresh_token"), ""))
	wantError(t, ts.exchange(code, verifier), http.StatusBadRequest, "invalid_grant")
	if ts.active(str(next, "access_token")) {
		t.Error("access token from a refresh of the replayed code's grant is still active")
	}
	wantError(t, ts.refresh(str(next, "refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
}

// TestCodeExpiry: codes live 60 s (Config.CodeLifetime default).
func TestCodeExpiry(t *testing.T) {
	ts := newTestServer(t)
	code, verifier := ts.codeFor("read")
	ts.Clock.Advance(59 * time.Second)
	mustOK(t, "exchange at 59 s", ts.exchange(code, verifier))

	code, verifier = ts.codeFor("read")
	ts.Clock.Advance(61 * time.Second)
	r := ts.exchange(code, verifier)
	wantError(t, r, http.StatusBadRequest, "invalid_grant")
	wantNoStore(t, r)
}

// TestCodeWithoutPKCE: a confidential client may skip PKCE, but then a
// code_verifier at the token endpoint is refused (RFC 9700 §2.1.1), and the
// redirect_uri rules still apply.
func TestCodeWithoutPKCE(t *testing.T) {
	base := newTestServer(t)
	someVerifier, _ := pkce()
	tests := []struct {
		name string
		form url.Values
		err  string
	}{
		{"no verifier", url.Values{"redirect_uri": {redirectURI}}, ""},
		{"verifier sent", url.Values{"redirect_uri": {redirectURI}, "code_verifier": {someVerifier}}, "invalid_grant"},
		{"malformed verifier sent", url.Values{"redirect_uri": {redirectURI}, "code_verifier": {"x"}}, "invalid_grant"},
		{"redirect_uri omitted", url.Values{}, "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := base.withT(t)
			code := ts.codeWithoutPKCE("read")
			tc.form.Set("grant_type", "authorization_code")
			tc.form.Set("code", code)
			r := ts.post(oauth.PathToken, tc.form.Encode(), basic(webID, webSecret))
			if tc.err != "" {
				wantError(t, r, http.StatusBadRequest, tc.err)
				return
			}
			mustOK(t, "exchange", r)
		})
	}
}

// TestCodeRedirectURIOmittedAtAuthorization: when the authorization
// request omitted redirect_uri (one registered URI), the token request may
// omit it or repeat the registered URI, but not name another (§4.1.3).
func TestCodeRedirectURIOmittedAtAuthorization(t *testing.T) {
	base := newTestServer(t)
	tests := []struct {
		name     string
		redirect string
		err      string
	}{
		{"omitted", "", ""},
		{"registered URI", redirectURI, ""},
		{"another URI", "https://client.example/other", "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := base.withT(t)
			verifier, challenge := pkce()
			u := ts.authorize(ts.newBrowser(), url.Values{"response_type": {"code"}, "client_id": {postID},
				"scope": {"read"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}})
			f := url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
				"code_verifier": {verifier}, "client_id": {postID}, "client_secret": {postSecret}}
			if tc.redirect != "" {
				f.Set("redirect_uri", tc.redirect)
			}
			r := ts.post(oauth.PathToken, f.Encode(), "")
			if tc.err != "" {
				wantError(t, r, http.StatusBadRequest, tc.err)
				return
			}
			mustOK(t, "exchange", r)
		})
	}
}

// TestRefreshRotation covers RFC 9700 §4.14.2: every refresh returns a new
// refresh token and the old one stops working.
func TestRefreshRotation(t *testing.T) {
	ts := newTestServer(t)
	tok := ts.tokens("read write")
	rt1 := str(tok, "refresh_token")
	r := ts.refresh(rt1, "")
	wantNoStore(t, r)
	next := mustOK(t, "refresh", r)
	rt2 := str(next, "refresh_token")
	if rt2 == "" || rt2 == rt1 {
		t.Fatalf("refresh did not rotate: old %q new %q", rt1, rt2)
	}
	if str(next, "access_token") == str(tok, "access_token") || !sameScope(str(next, "scope"), "read write") {
		t.Fatalf("refresh response: %s", r.Body)
	}
	wantInactive(t, ts.webIntrospects(rt1, "refresh_token"))
	wantActive(t, ts.webIntrospects(rt2, "refresh_token"))
	// The old token is dead, and the chain goes on with the new one.
	wantError(t, ts.refresh(rt1, ""), http.StatusBadRequest, "invalid_grant")
}

// TestRefreshReuseRevokesGrant: presenting a rotated refresh token revokes
// the whole grant, newest tokens included (RFC 9700 §4.14.2).
func TestRefreshReuseRevokesGrant(t *testing.T) {
	ts := newTestServer(t)
	tok := ts.tokens("read write")
	rt1, at1 := str(tok, "refresh_token"), str(tok, "access_token")
	second := mustOK(t, "refresh 1", ts.refresh(rt1, ""))
	third := mustOK(t, "refresh 2", ts.refresh(str(second, "refresh_token"), ""))
	rt3, at3 := str(third, "refresh_token"), str(third, "access_token")
	if !ts.active(at3) {
		t.Fatal("newest access token inactive before the reuse")
	}
	wantActive(t, ts.webIntrospects(rt3, ""))

	r := ts.refresh(rt1, "")
	wantError(t, r, http.StatusBadRequest, "invalid_grant")
	wantNoStore(t, r)

	wantError(t, ts.refresh(rt3, ""), http.StatusBadRequest, "invalid_grant")
	for name, at := range map[string]string{"first": at1, "second": str(second, "access_token"), "newest": at3} {
		if ts.active(at) {
			t.Errorf("%s access token still active after refresh token reuse", name)
		}
	}
	wantInactive(t, ts.webIntrospects(rt3, ""))
}

// TestRefreshScope covers RFC 6749 §6: the scope may be narrowed, never
// widened, and the new refresh token keeps the original scope.
func TestRefreshScope(t *testing.T) {
	t.Run("narrow then original", func(t *testing.T) {
		ts := newTestServer(t)
		tok := ts.tokens("read write")
		narrow := mustOK(t, "narrowed refresh", ts.refresh(str(tok, "refresh_token"), "read"))
		if !sameScope(str(narrow, "scope"), "read") {
			t.Fatalf("narrowed scope %q, want read", narrow["scope"])
		}
		_, claims := ts.verifyAccessToken(str(narrow, "access_token"), ts.URL)
		if claims["scope"] != "read" {
			t.Fatalf("narrowed access token scope %v, want read", claims["scope"])
		}
		if in := wantActive(t, ts.webIntrospects(str(narrow, "refresh_token"), "")); !sameScope(str(in, "scope"), "read write") {
			t.Fatalf("narrowing changed the refresh token's scope to %q", in["scope"])
		}
		again := mustOK(t, "refresh without scope", ts.refresh(str(narrow, "refresh_token"), ""))
		if !sameScope(str(again, "scope"), "read write") {
			t.Fatalf("refresh after narrowing got %q, want the original read write", again["scope"])
		}
	})
	t.Run("widen", func(t *testing.T) {
		ts := newTestServer(t)
		tok := ts.tokens("read")
		rt := str(tok, "refresh_token")
		for _, scope := range []string{"read write", "write", "admin", "read\\"} {
			r := ts.refresh(rt, scope)
			wantError(t, r, http.StatusBadRequest, "invalid_scope")
			wantNoStore(t, r)
		}
		// A refused scope does not use up the token.
		if m := mustOK(t, "refresh", ts.refresh(rt, "")); !sameScope(str(m, "scope"), "read") {
			t.Fatalf("scope %q, want read", m["scope"])
		}
	})
}

// TestRefreshErrors covers refresh tokens that must not work.
func TestRefreshErrors(t *testing.T) {
	t.Run("another client's token", func(t *testing.T) {
		ts := newTestServer(t)
		webRT := str(ts.tokens("read"), "refresh_token")
		migRT := str(mustOK(t, "password grant", ts.passwordGrant(userName, userPassword, "read")), "refresh_token")
		wantError(t, ts.refresh(migRT, ""), http.StatusBadRequest, "invalid_grant")
		wantError(t, ts.refreshWith(basic(passwordID, passwordSec), webRT, ""), http.StatusBadRequest, "invalid_grant")
		wantError(t, ts.refreshWith("", webRT, "", "client_id", postID, "client_secret", postSecret), http.StatusBadRequest, "invalid_grant")
		wantError(t, ts.refreshWith("", webRT, "", "client_id", publicID), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("expired", func(t *testing.T) {
		ts := newTestServer(t)
		rt := str(ts.tokens("read"), "refresh_token")
		ts.Clock.Advance(31 * 24 * time.Hour)
		r := ts.refresh(rt, "")
		wantError(t, r, http.StatusBadRequest, "invalid_grant")
		wantNoStore(t, r)
	})
	t.Run("each rotation starts a new lifetime", func(t *testing.T) {
		ts := newTestServer(t)
		rt := str(ts.tokens("read"), "refresh_token")
		ts.Clock.Advance(20 * 24 * time.Hour)
		rt = str(mustOK(t, "refresh at day 20", ts.refresh(rt, "")), "refresh_token")
		ts.Clock.Advance(20 * 24 * time.Hour)
		mustOK(t, "refresh at day 40", ts.refresh(rt, ""))
	})
	base := newTestServer(t)
	garbage := map[string]string{
		"word":                "garbage",
		"two parts":           "a.b",
		"well-formed unknown": oauth.RandomToken() + "." + oauth.RandomToken(),
		"access token":        str(base.ccToken("read"), "access_token"),
		"10 KB":               strings.Repeat("r", 10<<10),
		"unicode":             "ʀᴇꜰʀᴇꜱʜ.ᴛᴏᴋᴇɴ",
	}
	for name, tok := range garbage {
		t.Run("garbage/"+name, func(t *testing.T) {
			r := base.withT(t).refresh(tok, "")
			wantError(t, r, http.StatusBadRequest, "invalid_grant")
			wantNoStore(t, r)
		})
	}
	t.Run("missing", func(t *testing.T) {
		wantError(t, base.withT(t).post(oauth.PathToken, "grant_type=refresh_token", basic(webID, webSecret)),
			http.StatusBadRequest, "invalid_request")
	})
}

// TestTokenResponse covers RFC 6749 §5.1: the JSON members and headers of
// every grant's response, and the per-client access token lifetime.
func TestTokenResponse(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name        string
		get         func(ts *testServer) response
		expiresIn   float64
		wantRefresh bool
		scope       string
	}{
		{"client credentials (5 min client)", func(ts *testServer) response {
			return ts.post(oauth.PathToken, "grant_type=client_credentials&scope=read", basic(serviceID, serviceSecret))
		}, 300, false, "read"},
		{"client credentials (default lifetime)", func(ts *testServer) response {
			return ts.post(oauth.PathToken, formOf("grant_type", "client_credentials", "client_id", postID, "client_secret", postSecret), "")
		}, 3600, false, "read"},
		{"authorization code", func(ts *testServer) response {
			code, v := ts.codeFor("read write")
			return ts.exchange(code, v)
		}, 3600, true, "read write"},
		{"refresh", func(ts *testServer) response {
			return ts.refresh(str(ts.tokens("read write"), "refresh_token"), "write")
		}, 3600, true, "write"},
		{"password", func(ts *testServer) response { return ts.passwordGrant(userName, userPassword, "read") }, 3600, true, "read"},
		{"public client code", func(ts *testServer) response {
			m := ts.publicTokens("read")
			return ts.refreshWith("", str(m, "refresh_token"), "", "client_id", publicID)
		}, 3600, true, "read"},
	}
	allowed := []string{"access_token", "expires_in", "refresh_token", "scope", "token_type"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.get(ts.withT(t))
			wantNoStore(t, r)
			m := mustOK(t, "token", r)
			for _, k := range keysOf(m) {
				if !slices.Contains(allowed, k) {
					t.Errorf("unexpected member %q in the token response", k)
				}
			}
			if str(m, "access_token") == "" {
				t.Error("no access_token")
			}
			if m["token_type"] != "Bearer" {
				t.Errorf("token_type %v, want Bearer", m["token_type"])
			}
			if m["expires_in"] != tc.expiresIn {
				t.Errorf("expires_in %v, want %v", m["expires_in"], tc.expiresIn)
			}
			if !sameScope(str(m, "scope"), tc.scope) {
				t.Errorf("scope %v, want %q", m["scope"], tc.scope)
			}
			if _, has := m["refresh_token"]; has != tc.wantRefresh || (has && str(m, "refresh_token") == "") {
				t.Errorf("refresh_token present=%v (%v), want %v", has, m["refresh_token"], tc.wantRefresh)
			}
			// expires_in agrees with the token's own lifetime.
			_, claims := ts.withT(t).verifyAccessToken(str(m, "access_token"), ts.URL)
			exp, _ := claims.GetExpirationTime()
			iat, _ := claims.GetIssuedAt()
			if got := exp.Sub(iat.Time).Seconds(); got != tc.expiresIn {
				t.Errorf("token lifetime exp-iat = %v s, response says %v", got, tc.expiresIn)
			}
		})
	}
}

// TestTokenErrorResponse covers RFC 6749 §5.2: error members only, JSON,
// never cached, for 400 and 401 alike.
func TestTokenErrorResponse(t *testing.T) {
	base := newTestServer(t)
	tests := []struct {
		name   string
		body   string
		auth   string
		status int
	}{
		{"invalid_request", "scope=read", basic(serviceID, serviceSecret), 400},
		{"invalid_client", "grant_type=client_credentials", basic(serviceID, "nope"), 401},
		{"invalid_grant", "grant_type=refresh_token&refresh_token=x", basic(webID, webSecret), 400},
		{"unauthorized_client", "grant_type=password&username=a&password=b", basic(serviceID, serviceSecret), 400},
		{"unsupported_grant_type", "grant_type=x", basic(serviceID, serviceSecret), 400},
		{"invalid_scope", "grant_type=client_credentials&scope=nope", basic(serviceID, serviceSecret), 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base.withT(t).post(oauth.PathToken, tc.body, tc.auth)
			wantError(t, r, tc.status, tc.name)
			wantNoStore(t, r)
			wantDescriptionCharset(t, r)
			for _, k := range keysOf(r.JSON(t)) {
				if k != "error" && k != "error_description" && k != "error_uri" {
					t.Errorf("unexpected member %q in an error response: %s", k, r.Body)
				}
			}
		})
	}
}

// TestAccessTokenFormat covers RFC 9068 §2: header and claims, verified as
// a resource server would, against the served JWKS.
func TestAccessTokenFormat(t *testing.T) {
	t.Run("RS256", func(t *testing.T) { testAccessTokenFormat(t, newTestServer(t), "RS256") })
	t.Run("ES256", func(t *testing.T) {
		signer, err := localsigner.New(localsigner.ES256)
		if err != nil {
			t.Fatal(err)
		}
		testAccessTokenFormat(t, newTestServerWith(t, signer), "ES256")
	})
}

func testAccessTokenFormat(t *testing.T, base *testServer, alg string) {
	kty := map[string]string{"RS256": "RSA", "ES256": "EC"}[alg]
	tests := []struct {
		name      string
		token     func(ts *testServer) string
		sub       string
		clientID  string
		scope     string
		username  string
		lifetime  int64
		grantUser bool
	}{
		{"user token", func(ts *testServer) string { return str(ts.tokens("read write"), "access_token") },
			"user-1", webID, "read write", userName, 3600, true},
		{"refreshed user token", func(ts *testServer) string {
			return str(mustOK(ts.t, "refresh", ts.refresh(str(ts.tokens("read write"), "refresh_token"), "read")), "access_token")
		}, "user-1", webID, "read", userName, 3600, true},
		{"password token", func(ts *testServer) string {
			return str(mustOK(ts.t, "password", ts.passwordGrant(userName, userPassword, "")), "access_token")
		}, "user-1", passwordID, "read write", userName, 3600, true},
		{"client credentials token", func(ts *testServer) string { return str(ts.ccToken("admin"), "access_token") },
			serviceID, serviceID, "admin", "", 300, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := base.withT(t)
			tok := tc.token(ts)
			header, claims := ts.verifyAccessToken(tok, ts.URL)
			if header["typ"] != "at+jwt" {
				t.Errorf("typ %v, want at+jwt (RFC 9068 §2.1)", header["typ"])
			}
			if header["alg"] != alg {
				t.Errorf("alg %v, want %s", header["alg"], alg)
			}
			kid, _ := header["kid"].(string)
			var found bool
			for _, k := range ts.jwks().Keys {
				if k.Kid == kid {
					found = true
					if k.Kty != kty || k.Alg != alg || k.Use != "sig" {
						t.Errorf("JWKS key %+v, want kty %s alg %s use sig", k, kty, alg)
					}
				}
			}
			if !found || kid != mustKID(t, ts.Signer) {
				t.Errorf("kid %q not in the JWKS or not the signer's %q", kid, mustKID(t, ts.Signer))
			}
			for _, c := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"} {
				if _, ok := claims[c]; !ok {
					t.Errorf("claim %q missing (RFC 9068 §2.2)", c)
				}
			}
			if claims["iss"] != ts.URL {
				t.Errorf("iss %v, want %s", claims["iss"], ts.URL)
			}
			if claims["sub"] != tc.sub {
				t.Errorf("sub %v, want %s", claims["sub"], tc.sub)
			}
			aud, _ := claims.GetAudience()
			if !slices.Equal([]string(aud), []string{ts.URL}) {
				t.Errorf("aud %v, want [%s] (the issuer by default)", aud, ts.URL)
			}
			if claims["client_id"] != tc.clientID {
				t.Errorf("client_id %v, want %s", claims["client_id"], tc.clientID)
			}
			if !sameScope(str(claims, "scope"), tc.scope) {
				t.Errorf("scope %v, want %q", claims["scope"], tc.scope)
			}
			if jti := str(claims, "jti"); len(jti) < 16 {
				t.Errorf("jti %q is too short to be unique", jti)
			}
			exp, _ := claims.GetExpirationTime()
			iat, _ := claims.GetIssuedAt()
			if now := ts.Clock.Now(); iat.After(now) || now.Sub(iat.Time) > 2*time.Second {
				t.Errorf("iat %v is not now (%v)", iat, now)
			}
			if got := exp.Unix() - iat.Unix(); got != tc.lifetime {
				t.Errorf("lifetime %d s, want %d", got, tc.lifetime)
			}
			if u := str(claims, "preferred_username"); u != tc.username {
				t.Errorf("preferred_username %q, want %q", u, tc.username)
			}
			if in := wantActive(t, ts.introspectResp(tok, "")); str(in, "jti") != str(claims, "jti") {
				t.Errorf("introspection jti %v, token jti %v", in["jti"], claims["jti"])
			}
		})
	}
	t.Run("jti is unique", func(t *testing.T) {
		ts := base.withT(t)
		seen := map[string]bool{}
		for range 5 {
			_, claims := ts.verifyAccessToken(str(ts.ccToken("read"), "access_token"), ts.URL)
			jti := str(claims, "jti")
			if seen[jti] {
				t.Fatalf("jti %q repeated", jti)
			}
			seen[jti] = true
		}
	})
}

// TestAccessTokenConfiguredAudience: Config.Audience replaces the default
// aud, and introspection accepts the tokens.
func TestAccessTokenConfiguredAudience(t *testing.T) {
	aud := []string{"https://api.example", "https://other.example"}
	ts := newTestServer(t, func(c *oauth.Config) { c.Audience = aud })
	for name, tok := range map[string]string{
		"client credentials": str(ts.ccToken("read"), "access_token"),
		"user":               str(ts.tokens("read"), "access_token"),
	} {
		t.Run(name, func(t *testing.T) {
			ts := ts.withT(t)
			_, claims := ts.verifyAccessToken(tok, "https://api.example")
			got, _ := claims.GetAudience()
			if !slices.Equal([]string(got), aud) {
				t.Fatalf("aud %v, want %v", got, aud)
			}
			if slices.Contains([]string(got), ts.URL) {
				t.Fatalf("aud %v still names the issuer", got)
			}
			in := wantActive(t, ts.introspectResp(tok, ""))
			if a, _ := in["aud"].([]any); len(a) != 2 || a[0] != aud[0] || a[1] != aud[1] {
				t.Fatalf("introspection aud %v, want %v", in["aud"], aud)
			}
		})
	}
	// A token of the same key and issuer but for the default audience is
	// not accepted by this server.
	claims := ts.baseClaims()
	claims["aud"] = []string{ts.URL}
	wantInactive(t, ts.introspectResp(ts.signWithServerKey(claims, nil), ""))
	claims["aud"] = aud[:1]
	wantActive(t, ts.introspectResp(ts.signWithServerKey(claims, nil), ""))
}

// TestAccessTokenNotVerifiableWithWrongKey makes sure verifyAccessToken's
// success means something: a token checked against another key fails.
func TestAccessTokenNotVerifiableWithWrongKey(t *testing.T) {
	ts := newTestServer(t)
	other := newTestServer(t)
	tok := str(ts.ccToken("read"), "access_token")
	set := other.jwks()
	_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return set.Keys[0].PublicKey() },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(ts.Clock.Now))
	if err == nil {
		t.Fatal("token verified with another server's key")
	}
}

// TestErrorDescriptionCharset covers RFC 6749 §5.2: error_description is
// printable ASCII without '"' and '\', even when it quotes the request.
func TestErrorDescriptionCharset(t *testing.T) {
	base := newTestServer(t)
	svc := basic(serviceID, serviceSecret)
	tests := []struct {
		name, path, body, auth string
	}{
		{"unsupported grant type", oauth.PathToken, "grant_type=magic", svc},
		{"unsupported grant type with quotes and unicode", oauth.PathToken, "grant_type=" + url.QueryEscape(`"mägic"\`), svc},
		{"unsupported grant type with control characters", oauth.PathToken, "grant_type=a%00%0Ab%09", svc},
		{"scope not allowed", oauth.PathToken, "grant_type=client_credentials&scope=delete", svc},
		{"scope not allowed, unicode", oauth.PathToken, "grant_type=client_credentials&scope=" + url.QueryEscape("réad"), svc},
		{"repeated parameter", oauth.PathToken, "grant_type=client_credentials&grant_type=client_credentials", svc},
		{"repeated unicode parameter", oauth.PathToken, url.QueryEscape("gränt") + "=1&" + url.QueryEscape("gränt") + "=2", svc},
		{"malformed code_verifier", oauth.PathToken, "grant_type=authorization_code&code=CODE&redirect_uri=" + url.QueryEscape(redirectURI) + "&code_verifier=short", basic(webID, webSecret)},
		{"repeated token (introspect)", oauth.PathIntrospect, "token=a&token=b", svc},
		{"repeated token (revoke)", oauth.PathRevoke, "token=a&token=b", svc},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := base.withT(t)
			body := tc.body
			if strings.Contains(body, "code=CODE") {
				code, _ := ts.codeFor("read")
				body = strings.Replace(body, "CODE", url.QueryEscape(code), 1)
			}
			r := ts.post(tc.path, body, tc.auth)
			if r.Status < 400 {
				t.Fatalf("status %d, want an error: %s", r.Status, r.Body)
			}
			if str(r.JSON(t), "error_description") == "" {
				t.Fatalf("no error_description: %s", r.Body)
			}
			wantDescriptionCharset(t, r)
		})
	}
}
