package functions_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/shared/apigw/lambdatest"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
)

// rpScopes are the scopes the relying party registers: the OpenID
// Connect ones it asks for (OpenID Connect Core 1.0 §3.1.2.1, §5.4, §11).
var rpScopes = []string{oauth.ScopeOpenID, "profile", "email", oauth.ScopeOfflineAccess}

// rpClaims are the fixture user's OpenID Connect standard claims
// (OpenID Connect Core 1.0 §5.1), held in the users table.
func rpClaims() *oauth.UserClaims {
	verified := true
	return &oauth.UserClaims{Name: "Alice Liddell", GivenName: "Alice", FamilyName: "Liddell",
		Email: "alice@example.com", EmailVerified: &verified}
}

// TestOpenIDRelyingPartyOnLambda is issue 12's independent relying party:
// github.com/coreos/go-oidc/v3, with golang.org/x/oauth2, signs the
// fixture's user in through the six real bootstrap binaries (as
// TestEndToEnd deploys them: fresh tables on DynamoDB Local, an RSA_2048
// key on the KMS double) and checks what a relying party must check:
//
//   - discovery (OpenID Connect Discovery 1.0 §4): oidc.NewProvider reads
//     /.well-known/openid-configuration from the metadata function, whose
//     issuer must equal the one asked for, and the endpoints it names;
//   - the authorization code flow (Core §3.1) with PKCE, nonce and state
//     through the real sign-in and consent pages;
//   - the ID token (Core §3.1.3.7): signature against the discovered JWKS
//     (the KMS key), iss, aud, exp, the nonce sent (§3.1.2.1), at_hash of
//     the access token issued with it (§3.1.3.8), sub and auth_time; and a
//     verifier for another client refuses it;
//   - UserInfo (Core §5.3) with the access token: the same sub as the ID
//     token (§5.3.2), the claims its scopes release (§5.4: with profile
//     and email, name, email and email_verified; with profile alone, name
//     and no email);
//   - a refresh (Core §12.1, §12.2) returns an ID token that verifies, with
//     the same iss, sub, aud and auth_time and no nonce;
//   - offline_access (§11) decides whether a refresh token is issued;
//   - once the access token is revoked through the revoke function (RFC
//     7009), UserInfo refuses it (RFC 6750 §3.1), while another grant's
//     token still answers;
//   - one KMS Sign per access token and one per ID token.
//
// It skips without DynamoDB Local, and fails under CI=true
// (dynamotest.Client).
func TestOpenIDRelyingPartyOnLambda(t *testing.T) {
	client := dynamotest.Client(t)
	tables := dynamotest.CreateTables(t, client)
	store := dynamostore.New(client, tables)
	fx := newFlowFixture()
	ctx := t.Context()
	if err := store.PutClient(ctx, &oauth.Client{ID: fx.web, Name: "OpenID relying party",
		SecretHash: oauth.HashSecret(fx.webSecret), RedirectURIs: []string{fx.redirect},
		GrantTypes:    []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		ResponseTypes: []string{oauth.ResponseTypeCode}, Scopes: rpScopes,
		TokenEndpointAuthMethod: oauth.AuthMethodBasic}); err != nil {
		t.Fatal(err)
	}
	hash, err := passwords.Default.Hash(fx.password)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutUser(ctx, &oauth.User{Subject: fx.subject, Username: fx.username,
		PasswordHash: hash, Claims: rpClaims()}); err != nil {
		t.Fatal(err)
	}

	kms := kmstest.NewServer(t)
	const alias = "alias/gatehouse-oidc-rp"
	kms.CreateAlias(alias, kms.CreateKey("RSA_2048"))
	env := awsEnv(t, dynamotest.Endpoint(t), kms.URL())
	env[config.EnvIssuer] = issuer
	env[config.EnvScopes] = strings.Join(rpScopes, " ")
	env[config.EnvKMSKeyID] = alias
	env[config.EnvClientsTable] = tables.Clients
	env[config.EnvUsersTable] = tables.Users
	env[config.EnvCodesTable] = tables.Codes
	env[config.EnvTokensTable] = tables.Tokens
	env[config.EnvSessionsTable] = tables.Sessions
	d := deploy(t, env)
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range functionNames {
				d.procs[name].Stop()
				t.Logf("%s stderr:\n%s", name, d.procs[name].Stderr())
			}
		}
	})

	rp := newRelyingParty(t, d.gw, fx)
	signedIn := time.Now().Add(-time.Second).Truncate(time.Second)

	// Discovery, profile and email, with offline_access: a refresh token.
	full := rp.signIn(t, rpScopes)
	if full.token.RefreshToken == "" {
		t.Error("no refresh token though offline_access was granted (OpenID Connect Core 1.0 §11)")
	}
	rp.checkIDToken(t, full, signedIn)
	info := rp.userInfo(t, full)
	if info.Subject != fx.subject || info.Email != "alice@example.com" || !info.EmailVerified {
		t.Errorf("userinfo sub %q email %q verified %v; want %s, alice@example.com, true",
			info.Subject, info.Email, info.EmailVerified, fx.subject)
	}
	if c := rpUserInfoClaims(t, info); c["name"] != "Alice Liddell" || c["given_name"] != "Alice" || c["preferred_username"] != fx.username {
		t.Errorf("userinfo %v; want the profile claims (§5.4)", c)
	}

	// Refresh: a fresh ID token for the same sign-in (§12.2).
	refreshed := rp.refresh(t, full)
	if refreshed.idToken.Subject != full.idToken.Subject || refreshed.authTime != full.authTime ||
		refreshed.idToken.Issuer != full.idToken.Issuer || !slices.Equal(refreshed.idToken.Audience, full.idToken.Audience) {
		t.Errorf("refreshed ID token: iss %s sub %s aud %v auth_time %d; want %s %s %v %d (§12.2)",
			refreshed.idToken.Issuer, refreshed.idToken.Subject, refreshed.idToken.Audience, refreshed.authTime,
			full.idToken.Issuer, full.idToken.Subject, full.idToken.Audience, full.authTime)
	}
	if refreshed.idToken.Nonce != "" {
		t.Errorf("refreshed ID token has nonce %q; §12.2: it SHOULD NOT", refreshed.idToken.Nonce)
	}
	if refreshed.idToken.IssuedAt.Before(full.idToken.IssuedAt) {
		t.Errorf("refreshed ID token iat %v is before the first one's %v", refreshed.idToken.IssuedAt, full.idToken.IssuedAt)
	}
	if info := rp.userInfo(t, refreshed); info.Subject != fx.subject || info.Email == "" {
		t.Errorf("userinfo with the refreshed token: sub %q email %q", info.Subject, info.Email)
	}

	// Profile without email, and no offline_access: no refresh token, no
	// email claims. The session from the first sign-in is reused.
	narrow := rp.signIn(t, []string{oauth.ScopeOpenID, "profile"})
	if narrow.token.RefreshToken != "" {
		t.Error("a refresh token without offline_access (OpenID Connect Core 1.0 §11)")
	}
	rp.checkIDToken(t, narrow, signedIn)
	if narrow.authTime != full.authTime {
		t.Errorf("auth_time %d on the second flow of one session; want the sign-in's %d", narrow.authTime, full.authTime)
	}
	info = rp.userInfo(t, narrow)
	c := rpUserInfoClaims(t, info)
	if info.Subject != fx.subject || c["name"] != "Alice Liddell" {
		t.Errorf("userinfo (openid profile) %v; want sub %s and name", c, fx.subject)
	}
	for _, claim := range []string{"email", "email_verified"} {
		if _, ok := c[claim]; ok {
			t.Errorf("userinfo (openid profile) has %s: %v; the email scope was not granted (§5.4)", claim, c)
		}
	}

	// Revocation through the revoke function: UserInfo refuses the token
	// at once; the other grant's token still answers.
	resp := do(t, d.gw.Client(nil), http.MethodPost, issuer+oauth.PathRevoke,
		url.Values{"token": {refreshed.token.AccessToken}, "token_type_hint": {"access_token"}},
		basicAuth(fx.web, fx.webSecret))
	readBody(t, resp, http.StatusOK, "")
	if _, err := rp.provider.UserInfo(rp.ctx, oauth2.StaticTokenSource(refreshed.token)); err == nil ||
		!strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), oauth.CodeInvalidToken) {
		t.Errorf("userinfo with a revoked token: %v; want 401 invalid_token", err)
	}
	if info := rp.userInfo(t, narrow); info.Subject != fx.subject {
		t.Errorf("userinfo with another grant's token after the revocation: sub %q", info.Subject)
	}

	// Every token and every ID token was signed by KMS, once.
	if n, want := kms.Calls(kmstest.OpSign), 3*2; n != want {
		t.Errorf("KMS Sign calls: %d; want %d (three access tokens, three ID tokens)", n, want)
	}
}

// relyingParty is a confidential OpenID Connect client built on go-oidc
// and golang.org/x/oauth2, with a browser (a cookie jar) that signs its
// user in; all its requests go through the gateway.
type relyingParty struct {
	fx       flowFixture
	ctx      context.Context // carries the gateway's client for go-oidc and oauth2
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	browser  *http.Client
}

// rpLogin is what one authorization code flow returned.
type rpLogin struct {
	token    *oauth2.Token
	idToken  *oidc.IDToken
	nonce    string // sent in the authorization request; "" on a refresh
	authTime int64
}

// newRelyingParty discovers the provider (OpenID Connect Discovery 1.0
// §4) and checks the endpoints it names.
func newRelyingParty(t *testing.T, gw *lambdatest.Gateway, fx flowFixture) *relyingParty {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), gw.Client(nil))
	ctx = context.WithValue(ctx, oauth2.HTTPClient, gw.Client(nil))
	// NewProvider refuses a document whose issuer differs from the URL
	// asked for (Discovery 1.0 §4.3).
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if e := provider.Endpoint(); e.AuthURL != issuer+oauth.PathAuthorize || e.TokenURL != issuer+oauth.PathToken {
		t.Errorf("discovered endpoints %+v", e)
	}
	if u := provider.UserInfoEndpoint(); u != issuer+oauth.PathUserInfo {
		t.Errorf("userinfo_endpoint %q; want %s", u, issuer+oauth.PathUserInfo)
	}
	var m struct {
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
		Scopes  []string `json:"scopes_supported"`
	}
	if err := provider.Claims(&m); err != nil {
		t.Fatal(err)
	}
	if m.JWKSURI != issuer+oauth.PathJWKS || !slices.Contains(m.Algs, "RS256") {
		t.Errorf("discovery: jwks_uri %q, id_token_signing_alg_values_supported %v", m.JWKSURI, m.Algs)
	}
	for _, s := range rpScopes {
		if !slices.Contains(m.Scopes, s) {
			t.Errorf("scopes_supported %v lacks %s", m.Scopes, s)
		}
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &relyingParty{fx: fx, ctx: ctx, provider: provider,
		verifier: provider.Verifier(&oidc.Config{ClientID: fx.web}), browser: gw.Client(jar)}
}

func (rp *relyingParty) config(scopes []string) oauth2.Config {
	e := rp.provider.Endpoint()
	e.AuthStyle = oauth2.AuthStyleInHeader
	return oauth2.Config{ClientID: rp.fx.web, ClientSecret: rp.fx.webSecret, RedirectURL: rp.fx.redirect,
		Scopes: scopes, Endpoint: e}
}

// signIn runs an authorization code flow (OpenID Connect Core 1.0 §3.1)
// for scopes with PKCE, a nonce and a state, as a browser would: the
// sign-in page (unless the browser has a session), the consent page
// (unless the scopes were allowed before), and the redirect with the code;
// then the exchange and the ID token's verification.
func (rp *relyingParty) signIn(t *testing.T, scopes []string) rpLogin {
	t.Helper()
	conf := rp.config(scopes)
	verifier := oauth2.GenerateVerifier()
	state, nonce := oauth.RandomToken()[:16], oauth.RandomToken()[:22]
	resp := do(t, rp.browser, http.MethodGet,
		conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil, nil)
	for range 3 { // sign-in, then consent
		if resp.StatusCode != http.StatusOK {
			break
		}
		page := string(readBody(t, resp, http.StatusOK, "text/html"))
		form := parseForm(t, page)
		switch form.fields.Get("gh_action") {
		case "login":
			resp = do(t, rp.browser, http.MethodPost, form.action,
				form.with("username", rp.fx.username, "password", rp.fx.password), nil)
			next := location(t, resp, http.StatusSeeOther)
			resp = do(t, rp.browser, http.MethodGet, next, nil, nil)
		case "consent":
			resp = do(t, rp.browser, http.MethodPost, form.action, form.with("decision", "allow"), nil)
		default:
			t.Fatalf("neither the sign-in nor the consent page:\n%s", page)
		}
	}
	// A form post is answered 303, a GET with a live session and a
	// consent given 302 (RFC 6749 §4.1.2 leaves the status open).
	status := http.StatusSeeOther
	if resp.Request.Method == http.MethodGet {
		status = http.StatusFound
	}
	cb, err := url.Parse(location(t, resp, status))
	if err != nil {
		t.Fatal(err)
	}
	q := cb.Query()
	if cb.Scheme+"://"+cb.Host+cb.Path != rp.fx.redirect || q.Get("code") == "" || q.Get("state") != state || q.Get("iss") != issuer {
		t.Fatalf("redirect %s; want %s with a code, state %s and iss %s", cb, rp.fx.redirect, state, issuer)
	}
	tok, err := conf.Exchange(rp.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if got := tok.Extra("scope"); got != strings.Join(scopes, " ") {
		t.Errorf("granted scope %v; want %q", got, strings.Join(scopes, " "))
	}
	return rp.verify(t, tok, nonce)
}

// refresh refreshes l's tokens (OpenID Connect Core 1.0 §12.1) and
// verifies the new ID token.
func (rp *relyingParty) refresh(t *testing.T, l rpLogin) rpLogin {
	t.Helper()
	conf := rp.config(nil)
	tok, err := conf.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: l.token.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok.RefreshToken == "" || tok.RefreshToken == l.token.RefreshToken {
		t.Error("refresh token not rotated")
	}
	return rp.verify(t, tok, "")
}

// verify verifies tok's ID token as a relying party must (OpenID Connect
// Core 1.0 §3.1.3.7): go-oidc checks the signature against the discovered
// JWKS, iss, aud and exp; the nonce must be the one sent (§3.1.2.1,
// §15.5.2), and at_hash must match the access token (§3.1.3.8).
func (rp *relyingParty) verify(t *testing.T, tok *oauth2.Token, nonce string) rpLogin {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatalf("no id_token in the token response (scope %v)", tok.Extra("scope"))
	}
	idt, err := rp.verifier.Verify(rp.ctx, raw)
	if err != nil {
		t.Fatalf("ID token does not verify: %v", err)
	}
	if idt.Nonce != nonce {
		t.Errorf("ID token nonce %q; want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	// at_hash binds this access token only.
	if err := idt.VerifyAccessToken(tok.AccessToken + "x"); err == nil {
		t.Error("at_hash matches another access token")
	}
	// A relying party with another client id refuses it (aud, §3.1.3.7).
	if _, err := rp.provider.Verifier(&oidc.Config{ClientID: "another-client"}).Verify(rp.ctx, raw); err == nil {
		t.Error("the ID token verifies for another client")
	}
	var c struct {
		AuthTime int64    `json:"auth_time"`
		AMR      []string `json:"amr"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != rp.fx.subject || c.AuthTime == 0 {
		t.Errorf("ID token sub %q auth_time %d; want sub %s and an auth_time", idt.Subject, c.AuthTime, rp.fx.subject)
	}
	return rpLogin{token: tok, idToken: idt, nonce: nonce, authTime: c.AuthTime}
}

// checkIDToken checks l's ID token against the sign-in, which happened
// after signedIn: auth_time is that sign-in, not later than iat.
func (rp *relyingParty) checkIDToken(t *testing.T, l rpLogin, signedIn time.Time) {
	t.Helper()
	at := time.Unix(l.authTime, 0)
	if at.Before(signedIn) || at.After(l.idToken.IssuedAt) {
		t.Errorf("auth_time %v; want the sign-in, between %v and iat %v", at, signedIn, l.idToken.IssuedAt)
	}
	if l.idToken.Issuer != issuer || !slices.Equal(l.idToken.Audience, []string{rp.fx.web}) {
		t.Errorf("ID token iss %q aud %v; want %s, [%s]", l.idToken.Issuer, l.idToken.Audience, issuer, rp.fx.web)
	}
	if !l.idToken.Expiry.After(time.Now()) {
		t.Errorf("ID token expired at %v", l.idToken.Expiry)
	}
}

// userInfo calls the UserInfo endpoint with l's access token (OpenID
// Connect Core 1.0 §5.3.1) and checks its sub against l's ID token's
// (§5.3.2: otherwise the relying party MUST NOT use the response).
func (rp *relyingParty) userInfo(t *testing.T, l rpLogin) *oidc.UserInfo {
	t.Helper()
	info, err := rp.provider.UserInfo(rp.ctx, oauth2.StaticTokenSource(l.token))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != l.idToken.Subject {
		t.Errorf("userinfo sub %q; want the ID token's %q (§5.3.2)", info.Subject, l.idToken.Subject)
	}
	return info
}

func rpUserInfoClaims(t *testing.T, info *oidc.UserInfo) map[string]any {
	t.Helper()
	var m map[string]any
	if err := info.Claims(&m); err != nil {
		t.Fatal(err)
	}
	return m
}
