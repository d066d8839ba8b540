package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
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

// TestAuthorizeUnredirectableErrors: a missing or unknown client, or a
// redirect URI that is not exactly registered, is shown to the user and
// never redirected (RFC 6749 §3.1.2.4, §4.1.2.1), so an attacker cannot
// use the server as an open redirector.
func TestAuthorizeUnredirectableErrors(t *testing.T) {
	ts := newTestServer(t)
	base := webCodeParams("s1")
	cases := []struct {
		name   string
		params url.Values
	}{
		{"missing client_id", withParams(base, "client_id", "")},
		{"unknown client_id", withParams(base, "client_id", "no-such-client")},
		{"different path", withParams(base, "redirect_uri", "https://client.example/cb2")},
		{"extra query", withParams(base, "redirect_uri", "https://client.example/cb?x=1")},
		{"trailing slash", withParams(base, "redirect_uri", "https://client.example/cb/")},
		{"different scheme", withParams(base, "redirect_uri", "http://client.example/cb")},
		{"different host", withParams(base, "redirect_uri", "https://evil.example/cb")},
		{"host case", withParams(base, "redirect_uri", "https://CLIENT.example/cb")},
		{"explicit port", withParams(base, "redirect_uri", "https://client.example:443/cb")},
		{"fragment", withParams(base, "redirect_uri", "https://client.example/cb#frag")},
		{"user info", withParams(base, "redirect_uri", "https://client.example@evil.example/cb")},
		{"several registered, none given", withParams(base, "redirect_uri", "")},
		{"another client's URI", withParams(base, "client_id", publicID, "redirect_uri", redirectURI)},
		{"registered URI with a query, query changed", withParams(base, "client_id", queryClientID, "redirect_uri", "https://client.example/cb?tenant=2")},
		{"registered URI with a query, query dropped", withParams(base, "client_id", queryClientID, "redirect_uri", redirectURI)},
		// Errors that would otherwise be redirected are not, when the
		// redirect URI is bad: nothing may be sent to an unverified URI.
		{"bad redirect and bad response_type", withParams(base, "redirect_uri", "https://evil.example/cb", "response_type", "bogus")},
	}
	ts.addQueryClient()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.authorizeGet(ts.newBrowser(), tc.params.Encode())
			wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
			wantPageHeaders(t, r)
		})
	}
}

// TestAuthorizeRedirectURIOmitted: a client with exactly one registered
// redirect URI may omit the parameter (RFC 6749 §3.1.2.3); the response goes
// to that URI, and the token request may then omit it too (§4.1.3).
func TestAuthorizeRedirectURIOmitted(t *testing.T) {
	ts := newTestServer(t)
	verifier, challenge := pkce()
	u := ts.authorize(ts.newBrowser(), url.Values{
		"response_type": {"code"}, "client_id": {postID}, "state": {"st"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	})
	if got := u.Scheme + "://" + u.Host + u.Path; got != redirectURI {
		t.Fatalf("redirected to %s, want the only registered URI %s", got, redirectURI)
	}
	code := u.Query().Get("code")
	if code == "" || u.Query().Get("state") != "st" {
		t.Fatalf("no code or state in %s", u)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"client_id": {postID}, "client_secret": {postSecret}}
	if r := ts.post(oauth.PathToken, form.Encode(), ""); r.Status != http.StatusOK {
		t.Fatalf("exchange without redirect_uri: %d %s", r.Status, r.Body)
	}
}

// TestAuthorizeLoopbackRedirect applies RFC 8252 §7.3: a registered loopback
// IP redirect URI matches on any port, and nothing else is relaxed.
func TestAuthorizeLoopbackRedirect(t *testing.T) {
	ts := newTestServer(t)
	_, challenge := pkce()
	base := url.Values{"response_type": {"code"}, "client_id": {publicID}, "state": {"lb"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for _, uri := range []string{
		"http://127.0.0.1:51234/cb",
		"http://127.0.0.1:1/cb",
		"http://127.0.0.1:65535/cb",
		"http://127.0.0.1/cb",
	} {
		t.Run("matches "+uri, func(t *testing.T) {
			r := ts.authorizeGet(ts.newBrowser(), withParams(base, "redirect_uri", uri).Encode())
			if r.Status != http.StatusOK || !isLoginPage(r.Body) {
				t.Fatalf("status %d, want the login page: %s", r.Status, r.Body)
			}
		})
	}
	for _, uri := range []string{
		"http://127.0.0.1:51234/other",
		"http://127.0.0.1:51234/cb/",
		"http://127.0.0.1:51234/cb?x=1",
		"http://127.0.0.1:51234/cb#f",
		"http://localhost:51234/cb",
		"http://localhost/cb",
		"http://[::1]:51234/cb",
		"https://127.0.0.1:51234/cb",
		"http://127.0.0.2:51234/cb",
		"http://user@127.0.0.1:51234/cb",
	} {
		t.Run("refuses "+uri, func(t *testing.T) {
			r := ts.authorizeGet(ts.newBrowser(), withParams(base, "redirect_uri", uri).Encode())
			wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
		})
	}
	t.Run("response goes to the port given", func(t *testing.T) {
		const uri = "http://127.0.0.1:51234/cb"
		u := ts.authorize(ts.newBrowser(), withParams(base, "redirect_uri", uri))
		if got := u.Scheme + "://" + u.Host + u.Path; got != uri {
			t.Fatalf("redirected to %s, want %s", got, uri)
		}
	})
}

// TestAuthorizeRedirectedErrors: once client and redirect URI are verified,
// every error goes back to the client with error, error_description, the
// state verbatim and iss (RFC 6749 §4.1.2.1, §4.2.2.1; RFC 9207 §2), in the
// query for code requests and the fragment for implicit ones.
func TestAuthorizeRedirectedErrors(t *testing.T) {
	ts := newTestServer(t)
	web := webCodeParams(weirdState)
	_, spaChallenge := pkce()
	spa := url.Values{"response_type": {"code"}, "client_id": {publicID}, "redirect_uri": {"http://127.0.0.1:4000/cb"},
		"state": {weirdState}, "code_challenge": {spaChallenge}, "code_challenge_method": {"S256"}}
	implicit := url.Values{"response_type": {"token"}, "client_id": {implicitID}, "redirect_uri": {redirectURI},
		"state": {weirdState}}
	cases := []struct {
		name       string
		params     url.Values
		target     string
		code       string
		inFragment bool
	}{
		{"missing response_type", withParams(web, "response_type", ""), redirectURI, oauth.CodeInvalidRequest, false},
		{"unknown response_type", withParams(web, "response_type", "code token"), redirectURI, oauth.CodeUnsupportedResponseType, false},
		{"unknown response_type with odd characters", withParams(web, "response_type", "t\u00f8ken\"\\\x01\u2603"), redirectURI, oauth.CodeUnsupportedResponseType, false},
		{"combined response_type", withParams(web, "response_type", "code token"), redirectURI, oauth.CodeUnsupportedResponseType, false},
		{"code client asks for token", withParams(web, "response_type", "token"), redirectURI, oauth.CodeUnauthorizedClient, true},
		{"implicit client asks for code", withParams(implicit, "response_type", "code"), redirectURI, oauth.CodeUnauthorizedClient, false},
		{"scope outside registration", withParams(web, "scope", "read admin"), redirectURI, oauth.CodeInvalidScope, false},
		{"scope in another case", withParams(web, "scope", "READ"), redirectURI, oauth.CodeInvalidScope, false},
		{"unknown scope", withParams(web, "scope", "nonsense"), redirectURI, oauth.CodeInvalidScope, false},
		{"malformed scope", withParams(web, "scope", `read "write"`), redirectURI, oauth.CodeInvalidScope, false},
		{"unsupported response_mode", withParams(web, "response_mode", "fragment"), redirectURI, oauth.CodeInvalidRequest, false},
		{"public client without code_challenge", withParams(spa, "code_challenge", "", "code_challenge_method", ""), "http://127.0.0.1:4000/cb", oauth.CodeInvalidRequest, false},
		{"code_challenge_method plain", withParams(web, "code_challenge_method", "plain"), redirectURI, oauth.CodeInvalidRequest, false},
		{"public client with plain", withParams(spa, "code_challenge_method", "plain"), "http://127.0.0.1:4000/cb", oauth.CodeInvalidRequest, false},
		{"code_challenge without method", withParams(web, "code_challenge_method", ""), redirectURI, oauth.CodeInvalidRequest, false},
		{"code_challenge too short", withParams(web, "code_challenge", strings.Repeat("a", 42)), redirectURI, oauth.CodeInvalidRequest, false},
		{"code_challenge too long", withParams(web, "code_challenge", strings.Repeat("a", 129)), redirectURI, oauth.CodeInvalidRequest, false},
		{"code_challenge bad characters", withParams(web, "code_challenge", strings.Repeat("a", 42)+"+"), redirectURI, oauth.CodeInvalidRequest, false},
		{"code_challenge with padding", withParams(web, "code_challenge", strings.Repeat("a", 42)+"="), redirectURI, oauth.CodeInvalidRequest, false},
		{"method without challenge", withParams(web, "code_challenge", ""), redirectURI, oauth.CodeInvalidRequest, false},
		{"implicit: scope outside registration", withParams(implicit, "scope", "write"), redirectURI, oauth.CodeInvalidScope, true},
		{"implicit: response_mode query", withParams(implicit, "response_mode", "query"), redirectURI, oauth.CodeInvalidRequest, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.authorizeGet(ts.newBrowser(), tc.params.Encode())
			ts.wantRedirectError(t, r, http.StatusFound, tc.target, tc.code, weirdState, tc.inFragment)
		})
	}
	t.Run("no state, no state parameter", func(t *testing.T) {
		r := ts.authorizeGet(ts.newBrowser(), withParams(web, "state", "", "response_type", "").Encode())
		_, q, _ := splitLocation(t, r)
		if _, ok := q["state"]; ok || q.Get("error") != oauth.CodeInvalidRequest {
			t.Fatalf("Location %s", r.Header.Get("Location"))
		}
	})
	t.Run("registered redirect URI keeps its query", func(t *testing.T) {
		ts.addQueryClient()
		p := withParams(web, "client_id", queryClientID, "redirect_uri", queryRedirectURI, "scope", "write")
		r := ts.authorizeGet(ts.newBrowser(), p.Encode())
		ts.wantRedirectError(t, r, http.StatusFound, "https://client.example/cb", oauth.CodeInvalidScope, weirdState, false)
		if _, q, _ := splitLocation(t, r); q.Get("tenant") != "1" {
			t.Fatalf("the redirect URI's own query was lost: %s", r.Header.Get("Location"))
		}
	})
}

// TestAuthorizeRepeatedParameter: a parameter sent twice is invalid_request
// (RFC 6749 §3.1). The query is parsed before the client is known, so the
// error cannot be trusted to any redirect URI: it is shown as a 400 page,
// never redirected, and never a server error.
func TestAuthorizeRepeatedParameter(t *testing.T) {
	ts := newTestServer(t)
	valid := webCodeParams("st").Encode()
	for _, extra := range []string{"scope=write", "state=other", "client_id=spa",
		"redirect_uri=" + url.QueryEscape("https://evil.example/cb"), "response_type=token", "code_challenge=x"} {
		t.Run(extra, func(t *testing.T) {
			r := ts.authorizeGet(ts.newBrowser(), valid+"&"+extra)
			if r.Status >= 500 {
				t.Fatalf("server error %d", r.Status)
			}
			wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
		})
	}
	t.Run("badly encoded query", func(t *testing.T) {
		r := ts.authorizeGet(ts.newBrowser(), valid+"&state=%zz")
		wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
	})
}

// TestAuthorizeCodeResponse: the code comes in the query with the state
// verbatim and iss = the issuer (RFC 6749 §4.1.2, RFC 9207 §2), and nothing
// in the fragment.
func TestAuthorizeCodeResponse(t *testing.T) {
	ts := newTestServer(t)
	p := webCodeParams(weirdState)
	c := ts.newBrowser()
	page := ts.signInToConsent(c, p)
	r := ts.submit(c, page.Body, url.Values{"decision": {"allow"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("consent: status %d, want 303: %s", r.Status, r.Body)
	}
	base, q, frag := splitLocation(t, r)
	if base != redirectURI {
		t.Fatalf("redirected to %s", base)
	}
	if q.Get("code") == "" || q.Get("state") != weirdState || q.Get("iss") != ts.URL {
		t.Fatalf("code response %v, want code, state %q and iss %q", q, weirdState, ts.URL)
	}
	if len(q) != 3 || len(frag) != 0 {
		t.Fatalf("unexpected parameters: query %v fragment %v", q, frag)
	}
	if q.Get("error") != "" {
		t.Fatalf("error in a success response: %v", q)
	}
}

// TestAuthorizeImplicitResponse: the implicit grant's response goes in the
// fragment (RFC 6749 §4.2.2), never the query, with every required field,
// the state and iss; the token works.
func TestAuthorizeImplicitResponse(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newBrowser()
	p := url.Values{"response_type": {"token"}, "client_id": {implicitID}, "redirect_uri": {redirectURI}, "state": {weirdState}}
	page := ts.signInToConsent(c, p)
	r := ts.submit(c, page.Body, url.Values{"decision": {"allow"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("consent: status %d: %s", r.Status, r.Body)
	}
	base, q, f := splitLocation(t, r)
	if base != redirectURI || len(q) != 0 {
		t.Fatalf("implicit response must be only in the fragment: %s", r.Header.Get("Location"))
	}
	for _, k := range []string{"access_token", "token_type", "expires_in", "scope", "state", "iss"} {
		if f.Get(k) == "" {
			t.Errorf("fragment lacks %s: %v", k, f)
		}
	}
	if f.Get("token_type") != "Bearer" || f.Get("expires_in") != "3600" || f.Get("scope") != "read" ||
		f.Get("state") != weirdState || f.Get("iss") != ts.URL {
		t.Fatalf("fragment %v", f)
	}
	if _, ok := f["refresh_token"]; ok {
		t.Fatal("the implicit grant must not issue a refresh token (RFC 6749 §4.2.2)")
	}
	if _, ok := f["code"]; ok {
		t.Fatal("code in an implicit response")
	}
	if !ts.active(f.Get("access_token")) {
		t.Fatal("implicit access token is not active")
	}

	t.Run("deny goes in the fragment", func(t *testing.T) {
		c := ts.newBrowser()
		page := ts.signInToConsent(c, p)
		r := ts.submit(c, page.Body, url.Values{"decision": {"deny"}})
		ts.wantRedirectError(t, r, http.StatusSeeOther, redirectURI, oauth.CodeAccessDenied, weirdState, true)
	})
}

// TestAuthorizeDefaultScope: an omitted scope means the client's registered
// scope (RFC 6749 §3.3), visible in the token.
func TestAuthorizeDefaultScope(t *testing.T) {
	ts := newTestServer(t)
	p := withParams(webCodeParams("st"), "scope", "")
	verifier, challenge := pkce()
	p.Set("code_challenge", challenge)
	u := ts.authorize(ts.newBrowser(), p)
	resp := ts.exchange(u.Query().Get("code"), verifier)
	if resp.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", resp.Status, resp.Body)
	}
	if got := resp.JSON(t)["scope"]; got != "read write" {
		t.Fatalf("scope %v, want the registered scope \"read write\"", got)
	}

	t.Run("requested subset", func(t *testing.T) {
		verifier, challenge := pkce()
		u := ts.authorize(ts.newBrowser(), withParams(webCodeParams("st"), "scope", "write", "code_challenge", challenge))
		resp := ts.exchange(u.Query().Get("code"), verifier)
		if got := resp.JSON(t)["scope"]; got != "write" {
			t.Fatalf("scope %v, want write", got)
		}
	})
}

// TestAuthorizeRedirectURIWithQuery: a registered redirect URI's own query
// is kept and the response parameters are added to it (RFC 6749 §3.1.2);
// the token request repeats the URI exactly.
func TestAuthorizeRedirectURIWithQuery(t *testing.T) {
	ts := newTestServer(t)
	ts.addQueryClient()
	for _, given := range []string{queryRedirectURI, ""} {
		t.Run("redirect_uri="+given, func(t *testing.T) {
			verifier, challenge := pkce()
			p := url.Values{"response_type": {"code"}, "client_id": {queryClientID}, "state": {"s t"},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
			if given != "" {
				p.Set("redirect_uri", given)
			}
			c := ts.newBrowser()
			page := ts.signInToConsent(c, p)
			r := ts.submit(c, page.Body, url.Values{"decision": {"allow"}})
			base, q, _ := splitLocation(t, r)
			if base != "https://client.example/cb" || q.Get("tenant") != "1" || q.Get("code") == "" ||
				q.Get("state") != "s t" || q.Get("iss") != ts.URL {
				t.Fatalf("Location %s", r.Header.Get("Location"))
			}
			if !strings.HasPrefix(r.Header.Get("Location"), queryRedirectURI+"&") {
				t.Fatalf("Location %s does not start with the registered URI", r.Header.Get("Location"))
			}
			form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "code_verifier": {verifier},
				"client_id": {queryClientID}, "client_secret": {postSecret}}
			if given != "" {
				form.Set("redirect_uri", given)
			}
			if resp := ts.post(oauth.PathToken, form.Encode(), ""); resp.Status != http.StatusOK {
				t.Fatalf("exchange: %d %s", resp.Status, resp.Body)
			}
		})
	}
}

var base64URL43 = regexp.MustCompile(`^[A-Za-z0-9_-]{43,}$`)

// TestAuthorizationCodes: codes carry at least 256 bits, are stored only as
// their hash, and expire after the configured lifetime, 60 s by default
// (RFC 6749 §4.1.2, §10.10; RFC 9700 §4.1).
func TestAuthorizationCodes(t *testing.T) {
	ctx := context.Background()
	t.Run("entropy and storage", func(t *testing.T) {
		ts := newTestServer(t)
		seen := map[string]bool{}
		for range 3 {
			code, _ := ts.codeFor("read")
			if !base64URL43.MatchString(code) {
				t.Fatalf("code %q is not 43+ base64url characters (256 bits)", code)
			}
			if seen[code] {
				t.Fatalf("code %q issued twice", code)
			}
			seen[code] = true
			if _, err := ts.Store.GetCode(ctx, code); !errors.Is(err, oauth.ErrNotFound) {
				t.Fatalf("the raw code is a store key (err %v)", err)
			}
			stored, err := ts.Store.GetCode(ctx, oauth.HashToken(code))
			if err != nil {
				t.Fatalf("code not stored under its hash: %v", err)
			}
			v := reflect.ValueOf(*stored)
			for i := range v.NumField() {
				if f := v.Field(i); f.Kind() == reflect.String && strings.Contains(f.String(), code) {
					t.Fatalf("stored field %s holds the raw code", v.Type().Field(i).Name)
				}
			}
			if stored.ClientID != webID || stored.Subject != "user-1" || stored.RedirectURI != redirectURI {
				t.Fatalf("stored code %+v", stored)
			}
		}
	})
	t.Run("default lifetime 60 s", func(t *testing.T) {
		ts := newTestServer(t)
		code, verifier := ts.codeFor("read")
		stored, err := ts.Store.GetCode(ctx, oauth.HashToken(code))
		if err != nil {
			t.Fatal(err)
		}
		if got := stored.ExpiresAt.Sub(ts.Clock.Now()); got != 60*time.Second {
			t.Fatalf("code lifetime %s, want 60s", got)
		}
		ts.Clock.Advance(60 * time.Second)
		wantError(t, ts.exchange(code, verifier), http.StatusBadRequest, oauth.CodeInvalidGrant)

		code, verifier = ts.codeFor("read")
		ts.Clock.Advance(59 * time.Second)
		if r := ts.exchange(code, verifier); r.Status != http.StatusOK {
			t.Fatalf("a 59 s old code was refused: %d %s", r.Status, r.Body)
		}
	})
	t.Run("configured lifetime", func(t *testing.T) {
		ts := newTestServer(t, func(c *oauth.Config) { c.CodeLifetime = 10 * time.Second })
		code, verifier := ts.codeFor("read")
		ts.Clock.Advance(10 * time.Second)
		wantError(t, ts.exchange(code, verifier), http.StatusBadRequest, oauth.CodeInvalidGrant)

		ts = newTestServer(t, func(c *oauth.Config) { c.CodeLifetime = 5 * time.Minute })
		code, verifier = ts.codeFor("read")
		stored, err := ts.Store.GetCode(ctx, oauth.HashToken(code))
		if err != nil || stored.ExpiresAt.Sub(ts.Clock.Now()) != 5*time.Minute {
			t.Fatalf("stored code %+v, %v: want a 5 min lifetime", stored, err)
		}
		ts.Clock.Advance(4 * time.Minute)
		if r := ts.exchange(code, verifier); r.Status != http.StatusOK {
			t.Fatalf("a 4 min old code with a 5 min lifetime was refused: %d %s", r.Status, r.Body)
		}
	})
}

// TestAuthorizeMethods: the endpoint takes GET and POST (RFC 6749 §3.1) and
// nothing else.
func TestAuthorizeMethods(t *testing.T) {
	ts := newTestServer(t)
	r := ts.postFormTo(ts.newBrowser(), oauth.PathAuthorize, webCodeParams("st"), nil)
	if r.Status != http.StatusOK || !isLoginPage(r.Body) {
		t.Fatalf("POST authorization request: %d, want the login page: %s", r.Status, r.Body)
	}
	req, _ := http.NewRequest(http.MethodPut, ts.URL+oauth.PathAuthorize+"?"+webCodeParams("st").Encode(), nil)
	if r := ts.do(ts.newBrowser(), req); r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d, want 405", r.Status)
	}
}

// TestAuthorizeServerFaults: a fault after the client and redirect URI are
// verified is redirected as server_error or temporarily_unavailable (RFC
// 6749 §4.1.2.1) with state and iss; a fault before that can only be shown
// as a page, with a 5xx status; a fault while signing in starts no session.
func TestAuthorizeServerFaults(t *testing.T) {
	internal := errors.New("disk on fire")
	busy := fmt.Errorf("throttled: %w", oauth.ErrUnavailable)
	for _, tc := range []struct {
		err    error
		code   string
		status int
	}{
		{internal, oauth.CodeServerError, http.StatusInternalServerError},
		{busy, oauth.CodeTemporarilyUnavailable, http.StatusServiceUnavailable},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Run("issuing the code", func(t *testing.T) {
				ts, faulty := newFaultyTestServer(t)
				c := ts.newBrowser()
				page := ts.signInToConsent(c, webCodeParams(weirdState))
				faulty.failWith("CreateCode", tc.err)
				r := ts.submit(c, page.Body, url.Values{"decision": {"allow"}})
				ts.wantRedirectError(t, r, http.StatusSeeOther, redirectURI, tc.code, weirdState, false)
				if strings.Contains(r.Header.Get("Location"), "fire") {
					t.Fatal("the internal cause leaked into the redirect")
				}
			})
			t.Run("looking up the client", func(t *testing.T) {
				ts, faulty := newFaultyTestServer(t)
				faulty.failWith("GetClient", tc.err)
				r := ts.authorizeGet(ts.newBrowser(), webCodeParams("st").Encode())
				wantHTMLErrorPage(t, r, tc.status, tc.code)
				if strings.Contains(r.Body, "fire") {
					t.Fatal("the internal cause leaked into the page")
				}
			})
			t.Run("reading the session", func(t *testing.T) {
				// A live session the store cannot read now is a fault, not
				// a reason to ask for the password again.
				ts, faulty := newFaultyTestServer(t)
				c := ts.newBrowser()
				ts.signInToConsent(c, webCodeParams("st"))
				faulty.failWith("GetSession", tc.err)
				r := ts.authorizeGet(c, webCodeParams("st").Encode())
				wantHTMLErrorPage(t, r, tc.status, tc.code)
				if isLoginPage(r.Body) {
					t.Fatal("a session-store fault showed the login page")
				}
			})
			t.Run("starting the session", func(t *testing.T) {
				ts, faulty := newFaultyTestServer(t)
				c := ts.newBrowser()
				page := ts.openLogin(c, webCodeParams("st"))
				faulty.failWith("CreateSession", tc.err)
				r := ts.submit(c, page.Body, url.Values{"username": {userName}, "password": {userPassword}})
				wantHTMLErrorPage(t, r, tc.status, tc.code)
				if setCookieNamed(r.Header, "gh_session") != nil {
					t.Fatal("a failed login set a session cookie")
				}
			})
		})
	}
}

// TestAuthorizeEmptyParameters: a parameter sent without a value is treated
// as omitted (RFC 6749 §3.1).
func TestAuthorizeEmptyParameters(t *testing.T) {
	ts := newTestServer(t)
	verifier, challenge := pkce()
	raw := "response_type=code&client_id=" + postID + "&redirect_uri=&scope=&state=&code_challenge=" + challenge +
		"&code_challenge_method=S256&response_mode="
	c := ts.newBrowser()
	page := ts.authorizeGet(c, raw)
	if page.Status != http.StatusOK || !isLoginPage(page.Body) {
		t.Fatalf("request with empty parameters: %d %s", page.Status, page.Body)
	}
	page = ts.submit(c, page.Body, url.Values{"username": {userName}, "password": {userPassword}})
	page = ts.getAbs(c, page.Header.Get("Location"))
	r := ts.submit(c, page.Body, url.Values{"decision": {"allow"}})
	base, q, _ := splitLocation(t, r)
	if base != redirectURI || q.Get("code") == "" {
		t.Fatalf("Location %s", r.Header.Get("Location"))
	}
	if _, ok := q["state"]; ok {
		t.Fatalf("an empty state came back as a parameter: %s", r.Header.Get("Location"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "code_verifier": {verifier},
		"client_id": {postID}, "client_secret": {postSecret}}
	resp := ts.post(oauth.PathToken, form.Encode(), "")
	if resp.Status != http.StatusOK || resp.JSON(t)["scope"] != "read" {
		t.Fatalf("exchange: %d %s, want the registered scope", resp.Status, resp.Body)
	}

	// An empty redirect_uri is no redirect_uri: for a client with several,
	// that is the unredirectable error.
	r = ts.authorizeGet(ts.newBrowser(), withParams(webCodeParams("st"), "redirect_uri", "").Encode()+"&redirect_uri=")
	wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
}

// TestAuthorizeIPv6Loopback: RFC 8252 §7.3 covers the IPv6 loopback
// literal too, on any port, and nothing but it.
func TestAuthorizeIPv6Loopback(t *testing.T) {
	ts := newTestServer(t)
	if err := ts.Store.PutClient(context.Background(), &oauth.Client{
		ID: "native6", Name: "Native v6", RedirectURIs: []string{"http://[::1]/cb"},
		GrantTypes: []string{oauth.GrantAuthorizationCode}, ResponseTypes: []string{oauth.ResponseTypeCode},
		Scopes: []string{"read"}, TokenEndpointAuthMethod: oauth.AuthMethodNone,
	}); err != nil {
		t.Fatal(err)
	}
	_, challenge := pkce()
	p := url.Values{"response_type": {"code"}, "client_id": {"native6"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for uri, ok := range map[string]bool{
		"http://[::1]:8080/cb":     true,
		"http://[::1]/cb":          true,
		"http://[::1]:8080/other":  false,
		"http://127.0.0.1:8080/cb": false,
		"http://localhost:8080/cb": false,
		"https://[::1]:8080/cb":    false,
		"http://[::1]:8080/cb?x=1": false,
		"http://[0::1]:8080/cb":    false,
	} {
		r := ts.authorizeGet(ts.newBrowser(), withParams(p, "redirect_uri", uri).Encode())
		if ok && (r.Status != http.StatusOK || !isLoginPage(r.Body)) {
			t.Errorf("%s: %d, want the login page", uri, r.Status)
		}
		if !ok && (r.Status != http.StatusBadRequest || r.Header.Get("Location") != "") {
			t.Errorf("%s: %d %q, want the 400 page", uri, r.Status, r.Header.Get("Location"))
		}
	}
}

// handlerWithPages returns the handler of an in-process server (memstore,
// the test fixtures) whose Options.Pages is p.
func handlerWithPages(t *testing.T, p httpapi.Pages) http.Handler {
	t.Helper()
	ensureUserHash()
	store := memstore.New()
	signer, err := localsigner.New(localsigner.RS256)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := oauth.NewServer(oauth.Config{Issuer: inProcessIssuer, ScopesSupported: []string{"read", "write", "admin"}},
		store, signer, passwords.Checker{})
	if err != nil {
		t.Fatal(err)
	}
	seedStore(t, store)
	return httpapi.New(srv, httpapi.Options{Logger: slog.New(slog.DiscardHandler), Pages: p}).All()
}

// serveTo serves one request to h and returns the response.
func serveTo(h http.Handler, method, target, body, auth string) response {
	req := httptest.NewRequest(method, inProcessIssuer+target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", formType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.String()}
}

// TestAuthorizeWithoutPages: a server built without Options.Pages (as the
// token, introspection, revocation and metadata functions are) answers
// the authorization and logout endpoints with a plain server_error, and
// serves the other endpoints as usual.
func TestAuthorizeWithoutPages(t *testing.T) {
	h := handlerWithPages(t, nil)
	for _, target := range []string{
		oauth.PathAuthorize + "?" + webCodeParams("st").Encode(),
		oauth.PathAuthorize,
		oauth.PathLogout,
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			r := serveTo(h, method, target, "", "")
			if r.Status != http.StatusInternalServerError || r.JSON(t)["error"] != oauth.CodeServerError {
				t.Errorf("%s %s without pages: %d %s, want 500 server_error", method, target, r.Status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("%s %s without pages: Content-Type %q, want JSON", method, target, ct)
			}
		}
	}
	r := serveTo(h, http.MethodPost, oauth.PathToken, "grant_type=client_credentials&scope=read", basic(serviceID, serviceSecret))
	if r.Status != http.StatusOK || str(r.JSON(t), "access_token") == "" {
		t.Fatalf("token endpoint without pages: %d %s", r.Status, r.Body)
	}
	if r := serveTo(h, http.MethodGet, oauth.PathMetadata, "", ""); r.Status != http.StatusOK {
		t.Fatalf("metadata without pages: %d %s", r.Status, r.Body)
	}
}

// failingPages is a Pages whose rendering fails after writing part of a
// page.
type failingPages struct{}

func (failingPages) Render(w io.Writer, _ httpapi.Page, _ *httpapi.PageData) error {
	_, _ = io.WriteString(w, "<!doctype html><p>half a pa")
	return errors.New("template: boom")
}

func (failingPages) StyleSrc() string { return "'none'" }

// TestAuthorizePageRenderFails: a page that cannot be rendered is a clean
// server_error, not half a page.
func TestAuthorizePageRenderFails(t *testing.T) {
	r := serveTo(handlerWithPages(t, failingPages{}), http.MethodGet, oauth.PathAuthorize+"?"+webCodeParams("st").Encode(), "", "")
	if r.Status != http.StatusInternalServerError || r.JSON(t)["error"] != oauth.CodeServerError || strings.Contains(r.Body, "half") {
		t.Fatalf("failing page: %d %s, want 500 server_error and no part of the page", r.Status, r.Body)
	}
}

// TestAuthorizeRefusesDangerousStoredRedirectURI: a client stored with a
// redirect URI that registration now refuses (a javascript: or data: URI
// runs the response as a script; the others reach no client) never gets a
// page or a redirect: every request is the 400 error page, whether the URI
// is given or implied, signed in or not, and even for errors that would
// otherwise be redirected (RFC 6749 §3.1.2.4, §4.1.2.1; RFC 8252 §7.1).
func TestAuthorizeRefusesDangerousStoredRedirectURI(t *testing.T) {
	ts := newTestServer(t)
	signedIn := ts.newBrowser()
	ts.allow(signedIn, webCodeParams("st"))
	for i, uri := range []string{
		"javascript:alert(document.domain)//",
		"data:text/html,<script>alert(1)</script>",
		"vbscript:msgbox(1)",
		"file:///etc/passwd",
		"blob:https://client.example/0f9e4c",
		"about:blank",
		"myapp:/cb",
		"http://client.example/cb",
		"https://client.example/cb#frag",
	} {
		t.Run(uri, func(t *testing.T) {
			id := fmt.Sprintf("legacy-%d", i)
			if err := ts.Store.PutClient(context.Background(), &oauth.Client{
				ID: id, Name: "Legacy", RedirectURIs: []string{uri},
				GrantTypes: []string{oauth.GrantAuthorizationCode}, ResponseTypes: []string{oauth.ResponseTypeCode},
				Scopes: []string{"read"}, TokenEndpointAuthMethod: oauth.AuthMethodNone,
			}); err != nil {
				t.Fatal(err)
			}
			_, challenge := pkce()
			p := url.Values{"response_type": {"code"}, "client_id": {id}, "state": {"st"},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
			for _, q := range []url.Values{
				p,
				withParams(p, "redirect_uri", uri),
				withParams(p, "scope", "admin"), // invalid_scope, otherwise redirected
				withParams(p, "prompt", "none"), // login_required, otherwise redirected
			} {
				for _, c := range []*http.Client{ts.newBrowser(), signedIn} {
					r := ts.authorizeGet(c, q.Encode())
					wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
					if csp := r.Header.Get("Content-Security-Policy"); strings.Contains(csp, strings.SplitN(uri, ":", 2)[0]+":") {
						t.Errorf("the page's CSP names the redirect URI's scheme: %s", csp)
					}
				}
			}
		})
	}
}

// TestAuthorizeClientWithoutRedirectURI: a client registered with no
// redirect URI (a client_credentials or password client) is told so, not
// asked to choose among several.
func TestAuthorizeClientWithoutRedirectURI(t *testing.T) {
	ts := newTestServer(t)
	for _, p := range []url.Values{
		withParams(webCodeParams("st"), "client_id", serviceID, "redirect_uri", ""),
		withParams(webCodeParams("st"), "client_id", serviceID),
	} {
		r := ts.authorizeGet(ts.newBrowser(), p.Encode())
		wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
		if !strings.Contains(r.Body, "the client has no redirect URI") || strings.Contains(r.Body, "several") {
			t.Errorf("error page for a client without redirect URIs:\n%s", r.Body)
		}
	}
}

// TestAuthorizeFunctionServesLogout: the authorize function's handler (what
// the Lambda function serves) answers GET /logout with the sign-out page
// and POST /logout with the sign-out, as template.yaml routes both to it.
func TestAuthorizeFunctionServesLogout(t *testing.T) {
	ensureUserHash()
	store := memstore.New()
	signer, err := localsigner.New(localsigner.RS256)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := oauth.NewServer(oauth.Config{Issuer: inProcessIssuer}, store, signer, passwords.Checker{})
	if err != nil {
		t.Fatal(err)
	}
	seedStore(t, store)
	h := httpapi.New(srv, httpapi.Options{Logger: slog.New(slog.DiscardHandler), Pages: pages.New()}).Authorize()

	page := serveTo(h, http.MethodGet, oauth.PathLogout, "", "")
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `action="`+inProcessIssuer+oauth.PathLogout+`"`) {
		t.Fatalf("GET /logout: %d, want the sign-out page posting to /logout:\n%s", page.Status, page.Body)
	}
	csrf := setCookieNamed(page.Header, "gh_csrf")
	if csrf == nil {
		t.Fatal("GET /logout set no CSRF cookie")
	}
	req := httptest.NewRequest(http.MethodPost, inProcessIssuer+oauth.PathLogout, strings.NewReader(url.Values{"gh_csrf": {csrf.Value}}.Encode()))
	req.Header.Set("Content-Type", formType)
	req.AddCookie(csrf)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Signed out") {
		t.Fatalf("POST /logout: %d\n%s", w.Code, w.Body)
	}
}
