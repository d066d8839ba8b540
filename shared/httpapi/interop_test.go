package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/resource"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// These tests drive Gatehouse with golang.org/x/oauth2, a widely used
// client, so that our reading of the RFCs is checked against someone
// else's: Basic credential encoding (RFC 6749 §2.3.1), PKCE (RFC 7636),
// token and refresh responses (§5.1, §6).

// protectedAPI is a resource server guarded by shared/resource, answering
// with the token's subject, client and scope.
func protectedAPI(t *testing.T, ts *testServer, scopes ...string) *httptest.Server {
	t.Helper()
	mw, err := resource.New(resource.Config{Issuer: ts.URL, Audience: []string{ts.URL}})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(mw.Require(scopes...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := resource.ClaimsFrom(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": claims.Subject, "client_id": claims.ClientID, "scope": claims.Scope})
	})))
	t.Cleanup(api.Close)
	return api
}

func apiGetJSON(t *testing.T, c *http.Client, u string) (int, map[string]string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]string
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("API answered %q", body)
		}
	}
	return resp.StatusCode, m
}

// TestInteropClientCredentials: x/oauth2's clientcredentials gets a token
// and its client calls an API protected by shared/resource.
func TestInteropClientCredentials(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	for _, style := range []struct {
		name  string
		style oauth2.AuthStyle
	}{{"header", oauth2.AuthStyleInHeader}, {"autodetect", oauth2.AuthStyleAutoDetect}} {
		t.Run(style.name, func(t *testing.T) {
			conf := &clientcredentials.Config{ClientID: serviceID, ClientSecret: serviceSecret,
				TokenURL: ts.URL + oauth.PathToken, Scopes: []string{"read", "write"}, AuthStyle: style.style}
			tok, err := conf.Token(ctx)
			if err != nil {
				t.Fatalf("client credentials: %v", err)
			}
			if tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") || tok.RefreshToken != "" {
				t.Fatalf("token %+v", tok)
			}
			if got := tok.Extra("scope"); got != "read write" {
				t.Fatalf("scope %v", got)
			}
			if left := time.Until(tok.Expiry); left < 4*time.Minute || left > 5*time.Minute+time.Second {
				t.Fatalf("expiry in %s, want the client's 5 min", left)
			}
			if !ts.active(tok.AccessToken) {
				t.Fatal("token inactive at introspection")
			}

			api := protectedAPI(t, ts, "read")
			status, body := apiGetJSON(t, conf.Client(ctx), api.URL)
			if status != http.StatusOK || body["client_id"] != serviceID || body["sub"] != serviceID || body["scope"] != "read write" {
				t.Fatalf("API call: %d %v", status, body)
			}
			// The API refuses what the token does not grant, and no token.
			if status, _ := apiGetJSON(t, conf.Client(ctx), protectedAPI(t, ts, "admin").URL); status != http.StatusForbidden {
				t.Fatalf("insufficient scope: %d, want 403", status)
			}
			if status, _ := apiGetJSON(t, http.DefaultClient, api.URL); status != http.StatusUnauthorized {
				t.Fatalf("no token: %d, want 401", status)
			}
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		conf := &clientcredentials.Config{ClientID: serviceID, ClientSecret: "nope",
			TokenURL: ts.URL + oauth.PathToken, AuthStyle: oauth2.AuthStyleInHeader}
		_, err := conf.Token(ctx)
		var re *oauth2.RetrieveError
		if !asRetrieveError(err, &re) || re.ErrorCode != oauth.CodeInvalidClient || re.Response.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong secret: %v", err)
		}
	})
}

func asRetrieveError(err error, target **oauth2.RetrieveError) bool {
	re, ok := err.(*oauth2.RetrieveError)
	if ok {
		*target = re
	}
	return ok
}

// browserCode follows an authorization URL built by x/oauth2 through login
// and consent in a fresh browser and returns the redirect to the client.
func (ts *testServer) browserCode(t *testing.T, authURL string) (base string, query url.Values) {
	t.Helper()
	if !strings.HasPrefix(authURL, ts.URL+oauth.PathAuthorize+"?") {
		t.Fatalf("authorization URL %s", authURL)
	}
	c := ts.newBrowser()
	page := ts.getAbs(c, authURL)
	if page.Status != http.StatusOK || !isLoginPage(page.Body) {
		t.Fatalf("authorization URL: %d, want the login page: %s", page.Status, page.Body)
	}
	r := ts.submit(c, page.Body, url.Values{"username": {userName}, "password": {userPassword}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	page = ts.getAbs(c, r.Header.Get("Location"))
	if page.Status == http.StatusFound { // consent remembered from an earlier flow
		r = page
	} else {
		if !isConsentPage(page.Body) {
			t.Fatalf("expected consent: %d %s", page.Status, page.Body)
		}
		r = ts.submit(c, page.Body, url.Values{"decision": {"allow"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("consent: %d %s", r.Status, r.Body)
		}
	}
	base, query, fragment := splitLocation(t, r)
	if len(fragment) != 0 {
		t.Fatalf("fragment in a code response: %s", r.Header.Get("Location"))
	}
	return base, query
}

// refreshedAndRotated forces x/oauth2 to refresh tok and checks that the
// access token changed, the refresh token rotated, and the new pair works.
func (ts *testServer) refreshedAndRotated(t *testing.T, conf *oauth2.Config, tok *oauth2.Token) {
	t.Helper()
	ctx := context.Background()
	old := *tok
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	next, err := conf.TokenSource(ctx, &stale).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.AccessToken == "" || next.AccessToken == old.AccessToken {
		t.Fatal("refresh returned the same access token")
	}
	if next.RefreshToken == "" || next.RefreshToken == old.RefreshToken {
		t.Fatal("the refresh token did not rotate (RFC 9700 §4.14.2)")
	}
	if !next.Expiry.After(time.Now()) {
		t.Fatalf("refreshed token expiry %v", next.Expiry)
	}
	grantID, _, _ := strings.Cut(old.RefreshToken, ".")
	rt, err := ts.Store.GetRefreshToken(ctx, grantID, oauth.HashToken(old.RefreshToken))
	if err != nil || !rt.Rotated {
		t.Fatalf("old refresh token not marked rotated: %+v %v", rt, err)
	}
	if !ts.active(next.AccessToken) {
		t.Fatal("the refreshed access token is not active")
	}
	// Refresh tokens are introspected only by their own client, which a
	// public client cannot do: the store says whether they are live.
	nextGrant, _, _ := strings.Cut(next.RefreshToken, ".")
	if nrt, err := ts.Store.GetRefreshToken(ctx, nextGrant, oauth.HashToken(next.RefreshToken)); err != nil || nrt.Rotated || nrt.GrantRevoked {
		t.Fatalf("the new refresh token is not live: %+v %v", nrt, err)
	}
	// The token source goes on using the new refresh token.
	again := *next
	again.Expiry = time.Now().Add(-time.Minute)
	if third, err := conf.TokenSource(ctx, &again).Token(); err != nil || third.RefreshToken == next.RefreshToken {
		t.Fatalf("second refresh: %v", err)
	}
}

// TestInteropAuthorizationCode runs the code flow with PKCE through
// x/oauth2 for confidential clients: Basic with a secret full of reserved
// characters (so x/oauth2's form-encoding inside Basic must agree with
// ours), and client_secret_post.
func TestInteropAuthorizationCode(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		conf   *oauth2.Config
		scope  string
		extraQ bool
	}{
		{"basic", &oauth2.Config{ClientID: webID, ClientSecret: webSecret, RedirectURL: redirectURI,
			Scopes: []string{"read", "write"}, Endpoint: oauth2.Endpoint{AuthURL: ts.URL + oauth.PathAuthorize,
				TokenURL: ts.URL + oauth.PathToken, AuthStyle: oauth2.AuthStyleInHeader}}, "read write", false},
		{"post", &oauth2.Config{ClientID: postID, ClientSecret: postSecret, RedirectURL: redirectURI,
			Scopes: []string{"read"}, Endpoint: oauth2.Endpoint{AuthURL: ts.URL + oauth.PathAuthorize,
				TokenURL: ts.URL + oauth.PathToken, AuthStyle: oauth2.AuthStyleInParams}}, "read", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conf := tc.conf
			verifier := oauth2.GenerateVerifier()
			state := "st " + oauth.RandomToken()[:8]
			base, q := ts.browserCode(t, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
			if base != conf.RedirectURL || q.Get("state") != state {
				t.Fatalf("redirect %s %v", base, q)
			}
			if q.Get("iss") != ts.URL {
				t.Fatalf("iss %q, want %q (RFC 9207)", q.Get("iss"), ts.URL)
			}
			code := q.Get("code")

			tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || !strings.EqualFold(tok.Type(), "Bearer") {
				t.Fatalf("token %+v", tok)
			}
			if got := tok.Extra("scope"); got != tc.scope {
				t.Fatalf("scope %v, want %s", got, tc.scope)
			}
			if left := time.Until(tok.Expiry); left < 59*time.Minute || left > time.Hour+time.Second {
				t.Fatalf("expiry in %s, want 1 h", left)
			}
			api := protectedAPI(t, ts, "read")
			status, body := apiGetJSON(t, conf.Client(ctx, tok), api.URL)
			if status != http.StatusOK || body["sub"] != "user-1" || body["client_id"] != conf.ClientID {
				t.Fatalf("API call: %d %v", status, body)
			}

			// A second exchange of the code fails through x/oauth2 too.
			if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil ||
				!strings.Contains(err.Error(), oauth.CodeInvalidGrant) {
				t.Fatalf("replayed code: %v", err)
			}
		})
	}
	for _, tc := range cases {
		t.Run(tc.name+"/refresh", func(t *testing.T) {
			verifier := oauth2.GenerateVerifier()
			_, q := ts.browserCode(t, tc.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
			tok, err := tc.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			ts.refreshedAndRotated(t, tc.conf, tok)
		})
	}
	t.Run("wrong verifier", func(t *testing.T) {
		conf := cases[0].conf
		verifier := oauth2.GenerateVerifier()
		_, q := ts.browserCode(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		_, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		var re *oauth2.RetrieveError
		if !asRetrieveError(err, &re) || re.ErrorCode != oauth.CodeInvalidGrant {
			t.Fatalf("wrong verifier: %v", err)
		}
	})
}

// TestInteropPublicClient runs the public SPA client through x/oauth2: no
// secret, client_id in the body, PKCE, and a loopback redirect on a port of
// its own choosing (RFC 8252 §7.3).
func TestInteropPublicClient(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	for _, port := range []string{"51234", "8080"} {
		t.Run(port, func(t *testing.T) {
			redirect := "http://127.0.0.1:" + port + "/cb"
			conf := &oauth2.Config{ClientID: publicID, RedirectURL: redirect, Scopes: []string{"read"},
				Endpoint: oauth2.Endpoint{AuthURL: ts.URL + oauth.PathAuthorize, TokenURL: ts.URL + oauth.PathToken,
					AuthStyle: oauth2.AuthStyleInParams}}
			verifier := oauth2.GenerateVerifier()
			base, q := ts.browserCode(t, conf.AuthCodeURL("spa-state", oauth2.S256ChallengeOption(verifier)))
			if base != redirect || q.Get("state") != "spa-state" || q.Get("iss") != ts.URL {
				t.Fatalf("redirect %s %v", base, q)
			}
			tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if tok.Extra("scope") != "read" || tok.RefreshToken == "" {
				t.Fatalf("token %+v scope %v", tok, tok.Extra("scope"))
			}
			api := protectedAPI(t, ts, "read")
			if status, body := apiGetJSON(t, conf.Client(ctx, tok), api.URL); status != http.StatusOK || body["client_id"] != publicID {
				t.Fatalf("API call: %d %v", status, body)
			}
			ts.refreshedAndRotated(t, conf, tok)
		})
	}
	t.Run("without PKCE", func(t *testing.T) {
		conf := &oauth2.Config{ClientID: publicID, RedirectURL: "http://127.0.0.1:51234/cb", Scopes: []string{"read"},
			Endpoint: oauth2.Endpoint{AuthURL: ts.URL + oauth.PathAuthorize, TokenURL: ts.URL + oauth.PathToken}}
		r := ts.getAbs(ts.newBrowser(), conf.AuthCodeURL("s"))
		ts.wantRedirectError(t, r, http.StatusFound, "http://127.0.0.1:51234/cb", oauth.CodeInvalidRequest, "s", false)
	})
	t.Run("on another port than the one authorized", func(t *testing.T) {
		conf := &oauth2.Config{ClientID: publicID, RedirectURL: "http://127.0.0.1:51234/cb", Scopes: []string{"read"},
			Endpoint: oauth2.Endpoint{AuthURL: ts.URL + oauth.PathAuthorize, TokenURL: ts.URL + oauth.PathToken,
				AuthStyle: oauth2.AuthStyleInParams}}
		verifier := oauth2.GenerateVerifier()
		_, q := ts.browserCode(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		conf.RedirectURL = "http://127.0.0.1:51235/cb"
		_, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		var re *oauth2.RetrieveError
		if !asRetrieveError(err, &re) || re.ErrorCode != oauth.CodeInvalidGrant {
			t.Fatalf("exchange with a different loopback port: %v", err)
		}
	})
}
