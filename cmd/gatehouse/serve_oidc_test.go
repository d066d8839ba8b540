package main

import (
	"bufio"
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The dev seed's relying party and user (dev/seed.json), as the README's
// quick start uses them.
const (
	seedRPID       = "demo-web"
	seedRPSecret   = "dev-secret-demo-web-change-me"
	seedRPCallback = "http://127.0.0.1:9000/callback"
	seedUser       = "alice"
	seedPassword   = "wonderland-rabbit-42"
	seedSubject    = "u-8kQ2mZ7vR4xN1pT6wY3bC"
)

// TestServeOpenIDRelyingParty runs the real `gatehouse serve --seed
// dev/seed.json` program (built, started as a child process with no
// GATEHOUSE_* variables, stopped with an interrupt) and signs alice in to
// demo-web with an independent relying party, github.com/coreos/go-oidc/v3
// with golang.org/x/oauth2, over real HTTP:
//
//   - discovery (OpenID Connect Discovery 1.0 §4): the issuer in the
//     document is the one the banner printed, with its endpoints;
//   - the authorization code flow (OpenID Connect Core 1.0 §3.1) with PKCE,
//     nonce and state, through the sign-in and consent pages;
//   - the ID token verifies (§3.1.3.7: signature against the JWKS, iss, aud,
//     exp), with the nonce sent, at_hash of the access token (§3.1.3.8),
//     the seed's pinned sub and an auth_time;
//   - UserInfo (§5.3) answers that sub (§5.3.2) with name, email and
//     email_verified for openid profile email, and no email for openid
//     profile (§5.4);
//   - a refresh (offline_access, §11) returns an ID token with the same sub
//     and auth_time (§12.2) that verifies;
//   - after the access token is revoked (RFC 7009), UserInfo refuses it.
func TestServeOpenIDRelyingParty(t *testing.T) {
	issuer, banner := startServeProgram(t, "serve", "--addr", "127.0.0.1:0",
		"--seed", filepath.Join("..", "..", "dev", "seed.json"), "--signing-key=")
	// The banner names every endpoint a relying party is configured with.
	for _, path := range []string{"/authorize", "/token", "/.well-known/openid-configuration", "/userinfo", "/logout"} {
		if !regexp.MustCompile(`(?m)^  [a-z ]+\s+` + regexp.QuoteMeta(issuer+path) + `$`).MatchString(banner) {
			t.Errorf("banner does not list %s%s:\n%s", issuer, path, banner)
		}
	}

	ctx := oidc.ClientContext(t.Context(), &http.Client{Timeout: 30 * time.Second})
	provider, err := oidc.NewProvider(ctx, issuer) // refuses another issuer (Discovery §4.3)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if e := provider.Endpoint(); e.AuthURL != issuer+"/authorize" || e.TokenURL != issuer+"/token" {
		t.Errorf("discovered endpoints %+v", e)
	}
	if u := provider.UserInfoEndpoint(); u != issuer+"/userinfo" {
		t.Errorf("userinfo_endpoint %q; want %s/userinfo", u, issuer)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	idVerifier := provider.Verifier(&oidc.Config{ClientID: seedRPID})
	endpoint := provider.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	config := func(scopes ...string) oauth2.Config {
		return oauth2.Config{ClientID: seedRPID, ClientSecret: seedRPSecret, RedirectURL: seedRPCallback,
			Endpoint: endpoint, Scopes: scopes}
	}

	// verify checks tok's ID token (§3.1.3.7) and returns it with its
	// auth_time.
	verify := func(t *testing.T, tok *oauth2.Token, nonce string) (*oidc.IDToken, int64) {
		t.Helper()
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			t.Fatalf("no id_token (scope %v)", tok.Extra("scope"))
		}
		idt, err := idVerifier.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("ID token does not verify: %v", err)
		}
		if idt.Nonce != nonce {
			t.Errorf("nonce %q; want %q", idt.Nonce, nonce)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Errorf("at_hash: %v", err)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken + "x"); err == nil {
			t.Error("at_hash matches another access token")
		}
		var c struct {
			AuthTime int64 `json:"auth_time"`
		}
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if idt.Issuer != issuer || idt.Subject != seedSubject || !slices.Equal(idt.Audience, []string{seedRPID}) || c.AuthTime == 0 {
			t.Errorf("ID token iss %q sub %q aud %v auth_time %d; want %s, %s, [%s], an auth_time",
				idt.Issuer, idt.Subject, idt.Audience, c.AuthTime, issuer, seedSubject, seedRPID)
		}
		return idt, c.AuthTime
	}
	userInfo := func(t *testing.T, tok *oauth2.Token) map[string]any {
		t.Helper()
		info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var m map[string]any
		if err := info.Claims(&m); err != nil {
			t.Fatal(err)
		}
		if info.Subject != seedSubject {
			t.Errorf("userinfo sub %q; want the ID token's %s (§5.3.2)", info.Subject, seedSubject)
		}
		return m
	}
	// codeFlow runs the code flow for scopes through the pages and the
	// exchange, and returns the tokens and the nonce it sent.
	codeFlow := func(t *testing.T, scopes ...string) (*oauth2.Token, string) {
		t.Helper()
		conf := config(scopes...)
		pkce := oauth2.GenerateVerifier()
		state, nonce := "st-"+oauth2.GenerateVerifier()[:12], "n-"+oauth2.GenerateVerifier()[:20]
		q := signInThroughPages(t, browser, conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)))
		if q.Get("state") != state || q.Get("iss") != issuer || q.Get("code") == "" {
			t.Fatalf("callback %v; want a code, state %s, iss %s", q, state, issuer)
		}
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pkce))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		return tok, nonce
	}

	signedIn := time.Now().Add(-time.Second).Unix()
	tok, nonce := codeFlow(t, "openid", "profile", "email", "offline_access")
	idt, authTime := verify(t, tok, nonce)
	if authTime < signedIn || authTime > idt.IssuedAt.Unix() {
		t.Errorf("auth_time %d; want the sign-in, between %d and iat %d", authTime, signedIn, idt.IssuedAt.Unix())
	}
	if m := userInfo(t, tok); m["name"] != "Alice Liddell" || m["email"] != "alice@example.com" || m["email_verified"] != true {
		t.Errorf("userinfo (openid profile email) %v; want name, email and email_verified (§5.4)", m)
	}

	if tok.RefreshToken == "" {
		t.Fatal("no refresh token though offline_access was granted (§11)")
	}
	refreshConf := config()
	refreshed, err := refreshConf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if _, refreshedAuthTime := verify(t, refreshed, ""); refreshedAuthTime != authTime {
		t.Errorf("refreshed auth_time %d; want the sign-in's %d (§12.2)", refreshedAuthTime, authTime)
	}

	narrow, nonce := codeFlow(t, "openid", "profile")
	verify(t, narrow, nonce)
	m := userInfo(t, narrow)
	if m["name"] != "Alice Liddell" {
		t.Errorf("userinfo (openid profile) %v; want name", m)
	}
	if _, ok := m["email"]; ok {
		t.Errorf("userinfo (openid profile) %v has email; the email scope was not granted (§5.4)", m)
	}

	// Revoke the refreshed access token: UserInfo refuses it (RFC 6750
	// §3.1), and the other grant's token still answers.
	req, _ := http.NewRequest(http.MethodPost, issuer+"/revoke", strings.NewReader(url.Values{
		"token": {refreshed.AccessToken}, "token_type_hint": {"access_token"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(seedRPID, seedRPSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %d", resp.StatusCode)
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(refreshed)); err == nil ||
		!strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "invalid_token") {
		t.Errorf("userinfo with a revoked token: %v; want 401 invalid_token", err)
	}
	userInfo(t, narrow)
}

// signInThroughPages follows an authorization request as a browser would:
// the sign-in page (seedUser and seedPassword), the consent page (allow),
// each only if shown, until the redirect to the client; it returns the
// redirect's query.
func signInThroughPages(t *testing.T, browser *http.Client, authURL string) url.Values {
	t.Helper()
	get := func(u string) *http.Response { return pageRequest(t, browser, http.MethodGet, u, nil) }
	resp := get(authURL)
	for range 4 {
		if resp.StatusCode != http.StatusOK {
			break
		}
		b, _ := io.ReadAll(resp.Body)
		action, fields := pageForm(t, string(b))
		switch fields.Get("gh_action") {
		case "login":
			fields.Set("username", seedUser)
			fields.Set("password", seedPassword)
		case "consent":
			fields.Set("decision", "allow")
		default:
			t.Fatalf("neither the sign-in nor the consent page:\n%s", b)
		}
		resp = pageRequest(t, browser, http.MethodPost, action, fields)
		if loc := resp.Header.Get("Location"); resp.StatusCode == http.StatusSeeOther && !strings.HasPrefix(loc, seedRPCallback) {
			resp = get(loc) // back to the authorization request, signed in
		}
	}
	loc := resp.Header.Get("Location")
	if (resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther) || !strings.HasPrefix(loc, seedRPCallback+"?") {
		t.Fatalf("%s: status %d, Location %q; want a redirect to %s", resp.Request.URL.Path, resp.StatusCode, loc, seedRPCallback)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func pageRequest(t *testing.T, c *http.Client, method, target string, form url.Values) *http.Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, body)
	if err != nil {
		t.Fatal(err)
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

var (
	pageFormTag     = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	pageHiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// pageForm returns the page's form: where it posts, and its hidden fields.
func pageForm(t *testing.T, page string) (string, url.Values) {
	t.Helper()
	m := pageFormTag.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form on the page:\n%s", page)
	}
	fields := url.Values{}
	for _, in := range pageHiddenInput.FindAllStringSubmatch(page, -1) {
		fields.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return html.UnescapeString(m[1]), fields
}

// startServeProgram builds the gatehouse command and runs it with args as
// a child process, with no GATEHOUSE_* variables, until the test ends;
// it returns the issuer its banner prints, and the banner. At the end it interrupts the
// program, which must exit 0.
func startServeProgram(t *testing.T, args ...string) (issuer, banner string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	build := exec.Command("go", "build", "-o", bin, ".")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed once waitErr is set
	bannerc := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Press Ctrl+C") {
				bannerc <- b.String()
			}
		}
		close(bannerc)
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
			if waitErr != nil {
				t.Errorf("gatehouse serve exited with %v after an interrupt; stderr:\n%s", waitErr, stderr.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("gatehouse serve did not stop after an interrupt")
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	select {
	case b, ok := <-bannerc:
		if !ok {
			<-exited
			t.Fatalf("gatehouse serve exited before serving: %v; stderr:\n%s", waitErr, stderr.String())
		}
		return bannerIssuer(t, b), b
	case <-ctx.Done():
		t.Fatalf("gatehouse serve did not start; stderr:\n%s", stderr.String())
	}
	return "", ""
}
