package functions_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/shared/apigw/lambdatest"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// flowFixture is who the flows act as: a machine client, a web client
// (authorization code with PKCE, refresh, password grant) and its user,
// registered before the flows run.
type flowFixture struct {
	service, serviceSecret string
	web, webSecret         string
	redirect               string
	subject                string
	username, password     string
}

// newFlowFixture returns fresh credentials: every secret is random, so a
// log line containing one can only have copied it.
func newFlowFixture() flowFixture {
	return flowFixture{
		service: "svc-machine", serviceSecret: oauth.NewClientSecret(),
		web: "web-app", webSecret: oauth.NewClientSecret(),
		redirect: "https://client.example/callback",
		subject:  "user-" + oauth.RandomToken()[:8],
		username: "alice", password: "pw-" + oauth.RandomToken(),
	}
}

// clients returns the fixture's clients, as registered.
func (fx flowFixture) clients() []*oauth.Client {
	return []*oauth.Client{
		{ID: fx.service, Name: "Machine", SecretHash: oauth.HashSecret(fx.serviceSecret),
			GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"read", "write"},
			TokenEndpointAuthMethod: oauth.AuthMethodBasic,
			IntrospectionAllowed:    true}, // it introspects the web client's tokens too
		{ID: fx.web, Name: "Web App", SecretHash: oauth.HashSecret(fx.webSecret),
			RedirectURIs:  []string{fx.redirect},
			GrantTypes:    []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantPassword},
			ResponseTypes: []string{oauth.ResponseTypeCode}, Scopes: []string{"openid", "read", "profile"},
			TokenEndpointAuthMethod: oauth.AuthMethodBasic},
	}
}

// gatewayRoutes are the HTTP API's routes: which function serves what,
// as template.yaml wires them.
var gatewayRoutes = map[string][]string{
	"authorize":  {"ANY /authorize", "ANY /logout"},
	"token":      {"ANY /token"},
	"introspect": {"ANY /introspect"},
	"revoke":     {"ANY /revoke"},
	"metadata":   {"ANY /.well-known/{proxy+}"},
	"userinfo":   {"ANY /userinfo"},
}

// flowResult is what the flows saw.
type flowResult struct {
	// secrets are every credential the flows sent or received: client
	// secrets, passwords (right and wrong), Authorization headers, codes,
	// PKCE verifiers, access and refresh tokens, cookie values. No log
	// line may contain any of them.
	secrets []string
	// tokensIssued counts the successful token responses.
	tokensIssued int
	// idTokensIssued counts the ID tokens among them (each one more KMS
	// Sign).
	idTokensIssued int
	// outcomes counts, by endpoint, the outcomes the flows caused
	// ("ok" or the OAuth error code).
	outcomes map[string]map[string]int
	// grantTypes are the grant types sent to the token endpoint.
	grantTypes []string
}

func (r *flowResult) secret(s ...string) {
	for _, v := range s {
		if v != "" {
			r.secrets = append(r.secrets, v)
		}
	}
}

func (r *flowResult) outcome(endpoint, outcome string) {
	if r.outcomes[endpoint] == nil {
		r.outcomes[endpoint] = map[string]int{}
	}
	r.outcomes[endpoint][outcome]++
}

// runFlows drives every endpoint through gw as clients and a browser
// would: metadata and JWKS; client credentials (through
// golang.org/x/oauth2/clientcredentials), checked against the JWKS;
// introspection; revocation; the login page; the authorization code flow
// with PKCE (login, consent, exchange through golang.org/x/oauth2), refresh
// with rotation, a replayed code revoking the grant; the password grant;
// logout; and failures carrying wrong secrets and passwords. Cookies travel
// in the events' cookies arrays (a cookie jar on the client), form bodies
// base64-encoded, as API Gateway sends them.
func runFlows(t *testing.T, gw *lambdatest.Gateway, fx flowFixture) *flowResult {
	t.Helper()
	res := &flowResult{outcomes: map[string]map[string]int{}}
	res.secret(fx.serviceSecret, fx.webSecret, fx.password,
		basicCredentials(fx.service, fx.serviceSecret), basicCredentials(fx.web, fx.webSecret))
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, gw.Client(nil))
	api := gw.Client(nil)
	var jwks jose.JSONWebKeySet

	t.Run("metadata", func(t *testing.T) {
		resp := do(t, api, http.MethodGet, issuer+"/.well-known/oauth-authorization-server", nil, nil)
		res.outcome("metadata", "ok")
		m := decodeJSON(t, resp, http.StatusOK)
		for field, want := range map[string]string{
			"issuer":                 issuer,
			"authorization_endpoint": issuer + "/authorize",
			"token_endpoint":         issuer + "/token",
			"introspection_endpoint": issuer + "/introspect",
			"revocation_endpoint":    issuer + "/revoke",
			"jwks_uri":               issuer + "/.well-known/jwks.json",
			"userinfo_endpoint":      issuer + "/userinfo",
		} {
			if m[field] != want {
				t.Errorf("%s = %v; want %q", field, m[field], want)
			}
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "public") {
			t.Errorf("Cache-Control %q; want a public, cacheable document", cc)
		}
	})
	t.Run("jwks", func(t *testing.T) {
		resp := do(t, api, http.MethodGet, issuer+"/.well-known/jwks.json", nil, nil)
		res.outcome("jwks", "ok")
		b := readBody(t, resp, http.StatusOK, "application/json")
		if err := json.Unmarshal(b, &jwks); err != nil {
			t.Fatalf("JWKS %s: %v", b, err)
		}
		if len(jwks.Keys) != 1 {
			t.Fatalf("JWKS has %d keys; want 1: %s", len(jwks.Keys), b)
		}
		k := jwks.Keys[0]
		if k.KeyID == "" || k.Algorithm != "RS256" || k.Use != "sig" || !k.Valid() || !k.IsPublic() {
			t.Errorf("JWKS key: kid %q alg %q use %q valid %v public %v", k.KeyID, k.Algorithm, k.Use, k.Valid(), k.IsPublic())
		}
		var raw map[string][]map[string]any
		_ = json.Unmarshal(b, &raw)
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := raw["keys"][0][private]; ok {
				t.Errorf("JWKS key has private member %q", private)
			}
		}
	})
	if len(jwks.Keys) != 1 {
		t.Fatal("no JWKS: the tokens cannot be checked")
	}

	cc := clientcredentials.Config{ClientID: fx.service, ClientSecret: fx.serviceSecret,
		TokenURL: issuer + "/token", Scopes: []string{"read"}, AuthStyle: oauth2.AuthStyleInHeader}
	var machineToken string
	t.Run("client credentials", func(t *testing.T) {
		tok, err := cc.Token(ctx)
		res.grantTypes = append(res.grantTypes, oauth.GrantClientCredentials)
		if err != nil {
			res.outcome("token", "error")
			t.Fatalf("client credentials: %v", err)
		}
		res.outcome("token", "ok")
		res.tokensIssued++
		machineToken = tok.AccessToken
		res.secret(machineToken)
		if tok.RefreshToken != "" || !strings.EqualFold(tok.TokenType, "Bearer") || tok.Expiry.IsZero() {
			t.Errorf("token: type %q, refresh %v, expiry %v", tok.TokenType, tok.RefreshToken != "", tok.Expiry)
		}
		claims := verifyToken(t, jwks, machineToken)
		if claims["client_id"] != fx.service || claims["sub"] != fx.service || claims["scope"] != "read" {
			t.Errorf("claims %v; want client_id and sub %s, scope read", claims, fx.service)
		}

		// The raw answer: JSON, not cacheable (RFC 6749 §5.1).
		resp := do(t, api, http.MethodPost, issuer+"/token",
			url.Values{"grant_type": {"client_credentials"}}, basicAuth(fx.service, fx.serviceSecret))
		res.grantTypes = append(res.grantTypes, oauth.GrantClientCredentials)
		res.outcome("token", "ok")
		res.tokensIssued++
		m := decodeJSON(t, resp, http.StatusOK)
		res.secret(str(m["access_token"]))
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q; want no-store", resp.Header.Get("Cache-Control"))
		}
		verifyToken(t, jwks, str(m["access_token"]))
	})
	t.Run("client credentials, wrong secret", func(t *testing.T) {
		wrong := oauth.NewClientSecret()
		res.secret(wrong, basicCredentials(fx.service, wrong))
		bad := cc
		bad.ClientSecret = wrong
		_, err := bad.Token(ctx)
		res.grantTypes = append(res.grantTypes, oauth.GrantClientCredentials)
		res.outcome("token", oauth.CodeInvalidClient)
		wantOAuthError(t, err, oauth.CodeInvalidClient)
	})

	introspect := func(t *testing.T, token string) map[string]any {
		t.Helper()
		resp := do(t, api, http.MethodPost, issuer+"/introspect", url.Values{"token": {token}},
			basicAuth(fx.service, fx.serviceSecret))
		res.outcome("introspect", "ok")
		return decodeJSON(t, resp, http.StatusOK)
	}
	t.Run("introspection", func(t *testing.T) {
		m := introspect(t, machineToken)
		if m["active"] != true || m["client_id"] != fx.service || m["iss"] != issuer || m["scope"] != "read" {
			t.Errorf("introspection %v; want active, client_id %s, iss %s, scope read", m, fx.service, issuer)
		}
	})
	t.Run("revocation", func(t *testing.T) {
		resp := do(t, api, http.MethodPost, issuer+"/revoke",
			url.Values{"token": {machineToken}, "token_type_hint": {"access_token"}}, basicAuth(fx.service, fx.serviceSecret))
		res.outcome("revoke", "ok")
		readBody(t, resp, http.StatusOK, "")
		if m := introspect(t, machineToken); m["active"] != false || len(m) != 1 {
			t.Errorf("after revocation: %v; want only active: false (RFC 7662 §2.2)", m)
		}
	})

	// The browser: its own cookie jar, redirects not followed.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := gw.Client(jar)
	conf := oauth2.Config{ClientID: fx.web, ClientSecret: fx.webSecret, RedirectURL: fx.redirect,
		Scopes:   []string{"read", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	verifier := oauth2.GenerateVerifier()
	state := oauth.RandomToken()[:16]
	res.secret(verifier)
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	var loginForm htmlForm
	t.Run("login page", func(t *testing.T) {
		resp := do(t, browser, http.MethodGet, authURL, nil, nil)
		res.outcome("authorize", "ok")
		b := string(readBody(t, resp, http.StatusOK, "text/html"))
		if !strings.Contains(b, `type="password"`) {
			t.Errorf("login page has no password field:\n%s", b)
		}
		loginForm = parseForm(t, b)
		if loginForm.action != issuer+"/authorize" || loginForm.fields.Get("gh_action") != "login" || loginForm.fields.Get("gh_csrf") == "" {
			t.Errorf("login form: action %q, fields %v", loginForm.action, loginForm.fields)
		}
		res.secret(loginForm.fields.Get("gh_csrf"))
		// The CSRF cookie came in the response's cookies array.
		ex := lastExchange(t, gw)
		if !hasCookie(ex.Response.Cookies, "gh_csrf") {
			t.Errorf("response cookies %q lack gh_csrf", ex.Response.Cookies)
		}
		for k := range ex.Response.Headers {
			if strings.EqualFold(k, "Set-Cookie") {
				t.Errorf("Set-Cookie sent in headers, not in cookies: %q", ex.Response.Headers[k])
			}
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		wrong := "pw-" + oauth.RandomToken()
		res.secret(wrong)
		f := loginForm.with("username", fx.username, "password", wrong)
		resp := do(t, browser, http.MethodPost, loginForm.action, f, nil)
		res.outcome("authorize", "login_failed")
		b := string(readBody(t, resp, http.StatusOK, "text/html"))
		if !strings.Contains(b, "not right") || strings.Contains(b, wrong) {
			t.Errorf("the failed login page does not say so, or shows the password:\n%s", b)
		}
	})

	var code string
	t.Run("authorization code flow", func(t *testing.T) {
		// Login: 303 back to the authorization request, with a session.
		resp := do(t, browser, http.MethodPost, loginForm.action,
			loginForm.with("username", fx.username, "password", fx.password), nil)
		res.outcome("authorize", "ok")
		next := location(t, resp, http.StatusSeeOther)
		if !strings.HasPrefix(next, issuer+"/authorize?") {
			t.Fatalf("after login: Location %q", next)
		}
		ex := lastExchange(t, gw)
		if !ex.Event.IsBase64Encoded || !hasCookie(ex.Event.Cookies, "gh_csrf") {
			t.Errorf("login event: base64 %v, cookies %q; want a base64 form and the CSRF cookie", ex.Event.IsBase64Encoded, ex.Event.Cookies)
		}
		session := cookieValue(ex.Response.Cookies, "gh_session")
		if session == "" {
			t.Fatalf("login response cookies %q lack gh_session", ex.Response.Cookies)
		}
		res.secret(session)

		// Consent page, found through the session cookie.
		resp = do(t, browser, http.MethodGet, next, nil, nil)
		res.outcome("authorize", "ok")
		b := string(readBody(t, resp, http.StatusOK, "text/html"))
		if ex := lastExchange(t, gw); cookieValue(ex.Event.Cookies, "gh_session") != session {
			t.Errorf("consent event cookies %q lack the session", ex.Event.Cookies)
		}
		consent := parseForm(t, b)
		if consent.fields.Get("gh_action") != "consent" || !strings.Contains(b, fx.username) {
			t.Fatalf("not the consent page:\n%s", b)
		}

		// Allow: 303 to the client with the code.
		resp = do(t, browser, http.MethodPost, consent.action, consent.with("decision", "allow"), nil)
		res.outcome("authorize", "ok")
		cb, err := url.Parse(location(t, resp, http.StatusSeeOther))
		if err != nil {
			t.Fatal(err)
		}
		q := cb.Query()
		code = q.Get("code")
		res.secret(code)
		if cb.Scheme+"://"+cb.Host+cb.Path != fx.redirect || code == "" || q.Get("state") != state || q.Get("iss") != issuer {
			t.Fatalf("redirect %s; want %s with code, state %s, iss %s", cb, fx.redirect, state, issuer)
		}
	})
	if code == "" {
		t.Fatal("no authorization code: the rest of the flow cannot run")
	}

	var refreshed *oauth2.Token
	t.Run("code exchange, refresh, replay", func(t *testing.T) {
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		res.grantTypes = append(res.grantTypes, oauth.GrantAuthorizationCode)
		if err != nil {
			res.outcome("token", "error")
			t.Fatalf("exchange: %v", err)
		}
		res.outcome("token", "ok")
		res.tokensIssued++
		res.secret(tok.AccessToken, tok.RefreshToken)
		if tok.RefreshToken == "" {
			t.Error("no refresh token")
		}
		claims := verifyToken(t, jwks, tok.AccessToken)
		if claims["sub"] != fx.subject || claims["client_id"] != fx.web || claims["scope"] != "read profile" {
			t.Errorf("claims %v; want sub %s, client_id %s, scope read profile", claims, fx.subject, fx.web)
		}

		// Refresh: a new pair, the refresh token rotated.
		refreshed, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		res.grantTypes = append(res.grantTypes, oauth.GrantRefreshToken)
		if err != nil {
			res.outcome("token", "error")
			t.Fatalf("refresh: %v", err)
		}
		res.outcome("token", "ok")
		res.tokensIssued++
		res.secret(refreshed.AccessToken, refreshed.RefreshToken)
		if refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken {
			t.Errorf("refresh token not rotated")
		}
		verifyToken(t, jwks, refreshed.AccessToken)
		if m := introspect(t, refreshed.AccessToken); m["active"] != true || m["sub"] != fx.subject {
			t.Errorf("refreshed token introspection %v; want active, sub %s", m, fx.subject)
		}

		// The code again: invalid_grant, and the grant is revoked
		// (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
		_, err = conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		res.grantTypes = append(res.grantTypes, oauth.GrantAuthorizationCode)
		res.outcome("token", oauth.CodeInvalidGrant)
		wantOAuthError(t, err, oauth.CodeInvalidGrant)
		if m := introspect(t, refreshed.AccessToken); m["active"] != false {
			t.Errorf("after the code's replay the grant's token is %v; want inactive", m)
		}
	})

	t.Run("password grant", func(t *testing.T) {
		tok, err := conf.PasswordCredentialsToken(ctx, fx.username, fx.password)
		res.grantTypes = append(res.grantTypes, oauth.GrantPassword)
		if err != nil {
			res.outcome("token", "error")
			t.Fatalf("password grant: %v", err)
		}
		res.outcome("token", "ok")
		res.tokensIssued++
		res.secret(tok.AccessToken, tok.RefreshToken)
		if claims := verifyToken(t, jwks, tok.AccessToken); claims["sub"] != fx.subject {
			t.Errorf("sub %v; want %s", claims["sub"], fx.subject)
		}
		// Revoking the refresh token (RFC 7009 §2.1) ends the grant.
		resp := do(t, api, http.MethodPost, issuer+"/revoke",
			url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}, basicAuth(fx.web, fx.webSecret))
		res.outcome("revoke", "ok")
		readBody(t, resp, http.StatusOK, "")
	})

	// OpenID Connect: a code flow with openid, then the UserInfo endpoint
	// (OpenID Connect Core 1.0 §5.3) with its access token, as a relying
	// party calls it: GET with the Bearer header, POST with the token in
	// the form body (RFC 6750 §2.1, §2.2); no token, and a revoked token,
	// are invalid_token.
	t.Run("openid code flow and userinfo", func(t *testing.T) {
		oidc := conf
		oidc.Scopes = []string{"openid", "profile"}
		oidcVerifier := oauth2.GenerateVerifier()
		oidcState := oauth.RandomToken()[:16]
		res.secret(oidcVerifier)
		resp := do(t, browser, http.MethodGet, oidc.AuthCodeURL(oidcState, oauth2.S256ChallengeOption(oidcVerifier)), nil, nil)
		res.outcome("authorize", "ok")
		if resp.StatusCode == http.StatusOK { // openid is a new scope: consent
			consent := parseForm(t, string(readBody(t, resp, http.StatusOK, "text/html")))
			resp = do(t, browser, http.MethodPost, consent.action, consent.with("decision", "allow"), nil)
			res.outcome("authorize", "ok")
		}
		cb, err := url.Parse(location(t, resp, http.StatusSeeOther))
		if err != nil {
			t.Fatal(err)
		}
		oidcCode := cb.Query().Get("code")
		res.secret(oidcCode)
		if oidcCode == "" || cb.Query().Get("state") != oidcState {
			t.Fatalf("redirect %s; want a code and state %s", cb, oidcState)
		}
		tok, err := oidc.Exchange(ctx, oidcCode, oauth2.VerifierOption(oidcVerifier))
		res.grantTypes = append(res.grantTypes, oauth.GrantAuthorizationCode)
		if err != nil {
			res.outcome("token", "error")
			t.Fatalf("exchange: %v", err)
		}
		res.outcome("token", "ok")
		res.tokensIssued++
		idToken, _ := tok.Extra("id_token").(string)
		res.secret(tok.AccessToken, tok.RefreshToken, idToken)
		if idToken == "" {
			t.Fatal("no id_token for a request with openid")
		}
		res.idTokensIssued++
		if claims := verifyToken(t, jwks, tok.AccessToken); claims["sub"] != fx.subject || claims["scope"] != "openid profile" {
			t.Errorf("claims %v; want sub %s, scope openid profile", claims, fx.subject)
		}

		// GET with the Bearer header.
		resp = do(t, api, http.MethodGet, issuer+oauth.PathUserInfo, nil,
			http.Header{"Authorization": {"Bearer " + tok.AccessToken}})
		res.outcome("userinfo", "ok")
		m := decodeJSON(t, resp, http.StatusOK)
		if m["sub"] != fx.subject || m["preferred_username"] != fx.username {
			t.Errorf("userinfo %v; want sub %s, preferred_username %s", m, fx.subject, fx.username)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("userinfo Cache-Control %q; want no-store", resp.Header.Get("Cache-Control"))
		}
		// POST with the token in the form body.
		resp = do(t, api, http.MethodPost, issuer+oauth.PathUserInfo, url.Values{"access_token": {tok.AccessToken}}, nil)
		res.outcome("userinfo", "ok")
		if m := decodeJSON(t, resp, http.StatusOK); m["sub"] != fx.subject {
			t.Errorf("userinfo (POST) %v; want sub %s", m, fx.subject)
		}
		// No token: a bare challenge (RFC 6750 §3.1).
		resp = do(t, api, http.MethodGet, issuer+oauth.PathUserInfo, nil, nil)
		res.outcome("userinfo", oauth.CodeInvalidToken)
		readBody(t, resp, http.StatusUnauthorized, "application/json")
		if c := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(c, "Bearer ") {
			t.Errorf("WWW-Authenticate %q; want a Bearer challenge", c)
		}
		// The machine token revoked above: invalid_token.
		resp = do(t, api, http.MethodGet, issuer+oauth.PathUserInfo, nil,
			http.Header{"Authorization": {"Bearer " + machineToken}})
		res.outcome("userinfo", oauth.CodeInvalidToken)
		readBody(t, resp, http.StatusUnauthorized, "application/json")
		if c := resp.Header.Get("WWW-Authenticate"); !strings.Contains(c, `error="invalid_token"`) {
			t.Errorf("WWW-Authenticate %q; want invalid_token", c)
		}
	})

	t.Run("logout", func(t *testing.T) {
		resp := do(t, browser, http.MethodGet, issuer+"/logout", nil, nil)
		res.outcome("logout", "ok")
		f := parseForm(t, string(readBody(t, resp, http.StatusOK, "text/html")))
		resp = do(t, browser, http.MethodPost, f.action, f.with(), nil)
		res.outcome("logout", "ok")
		readBody(t, resp, http.StatusOK, "text/html")
		if ex := lastExchange(t, gw); !slices.ContainsFunc(ex.Response.Cookies, func(c string) bool {
			return strings.HasPrefix(c, "gh_session=;") && strings.Contains(c, "Max-Age=0")
		}) {
			t.Errorf("logout response cookies %q do not clear the session", ex.Response.Cookies)
		}
	})
	return res
}

// do sends a request; form, if not nil, is the body.
func do(t *testing.T, c *http.Client, method, target string, form url.Values, header http.Header) *http.Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readBody checks the status and, if mediaType is not empty, the media
// type, and returns the body.
func readBody(t *testing.T, resp *http.Response, status int, mediaType string) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d; want %d (body %.300q)", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, b)
	}
	if mediaType != "" {
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != mediaType {
			t.Errorf("%s: Content-Type %q; want %s", resp.Request.URL.Path, resp.Header.Get("Content-Type"), mediaType)
		}
	}
	return b
}

func decodeJSON(t *testing.T, resp *http.Response, status int) map[string]any {
	t.Helper()
	b := readBody(t, resp, status, "application/json")
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return m
}

func location(t *testing.T, resp *http.Response, status int) string {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || resp.Header.Get("Location") == "" {
		t.Fatalf("%s %s: status %d, Location %q; want %d and a Location (body %.300q)",
			resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, resp.Header.Get("Location"), status, b)
	}
	return resp.Header.Get("Location")
}

func str(v any) string { s, _ := v.(string); return s }

// basicCredentials is the credentials part of an HTTP Basic Authorization
// header (RFC 6749 §2.3.1: id and secret form-encoded first).
func basicCredentials(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}

func basicAuth(id, secret string) http.Header {
	return http.Header{"Authorization": {"Basic " + basicCredentials(id, secret)}}
}

// verifyToken checks an access token as a resource server would: its kid
// names the JWKS key, its RS256 signature verifies with it, and its
// issuer, audience and expiry are right. It returns the claims.
func verifyToken(t *testing.T, set jose.JSONWebKeySet, token string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		keys := set.Key(kid)
		if len(keys) != 1 {
			return nil, errors.New("the token's kid " + kid + " is not in the JWKS")
		}
		return keys[0].Key, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(issuer), jwt.WithAudience(issuer),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(time.Minute))
	if err != nil {
		t.Fatalf("access token does not verify against the JWKS: %v", err)
	}
	return claims
}

func wantOAuthError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Errorf("error %v; want the OAuth error %s", err, code)
	}
}

// htmlForm is a page's form: where it posts and its hidden fields.
type htmlForm struct {
	action string
	fields url.Values
}

var (
	formTag     = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

func parseForm(t *testing.T, page string) htmlForm {
	t.Helper()
	m := formTag.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form on the page:\n%s", page)
	}
	f := htmlForm{action: html.UnescapeString(m[1]), fields: url.Values{}}
	for _, in := range hiddenInput.FindAllStringSubmatch(page, -1) {
		f.fields.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return f
}

// with returns the form's fields plus name, value pairs.
func (f htmlForm) with(kv ...string) url.Values {
	v := url.Values{}
	for k, vs := range f.fields {
		v[k] = slices.Clone(vs)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func lastExchange(t *testing.T, gw *lambdatest.Gateway) lambdatest.Exchange {
	t.Helper()
	ex := gw.Exchanges()
	if len(ex) == 0 {
		t.Fatal("no exchange")
	}
	return ex[len(ex)-1]
}

func hasCookie(cookies []string, name string) bool { return cookieValue(cookies, name) != "" }

// cookieValue finds name's value in a cookies array (request cookies
// "n=v" or response cookies "n=v; Path=/; ...").
func cookieValue(cookies []string, name string) string {
	for _, c := range cookies {
		nv, _, _ := strings.Cut(c, ";")
		if n, v, ok := strings.Cut(strings.TrimSpace(nv), "="); ok && n == name {
			return v
		}
	}
	return ""
}

// logRecord is one JSON log line.
type logRecord map[string]any

// requestLines returns the request log lines (msg "request") among
// lines, failing t for any line that is not JSON.
func requestLines(t *testing.T, lines []string) []logRecord {
	t.Helper()
	var out []logRecord
	for _, line := range lines {
		var rec logRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if rec["msg"] == "request" {
			out = append(out, rec)
		}
	}
	return out
}

// checkNoSecrets fails t for every secret found in output.
func checkNoSecrets(t *testing.T, what, output string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(output, s) {
			t.Errorf("%s contains a secret %.12q…", what, s)
		}
		// A JWT's signature alone, or a token's secret half, is as bad.
		if i := strings.LastIndexByte(s, '.'); i > 0 && len(s)-i > 20 && strings.Contains(output, s[i+1:]) {
			t.Errorf("%s contains part of a secret %.12q…", what, s)
		}
	}
}
