package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The OpenID Connect relying party of these tests: a confidential client
// registered for the code and refresh grants, allowed openid and
// offline_access (OpenID Connect Core §3.1, §11).
const (
	idtRPID, idtRPSecret = "idt-rp", "idt-rp-secret-0123456789"
	idtRP2ID             = "idt-rp-2"
)

// idtRegisterRPs registers the relying parties in ts's store.
func idtRegisterRPs(t *testing.T, ts *testServer) {
	t.Helper()
	for _, id := range []string{idtRPID, idtRP2ID} {
		err := ts.Store.PutClient(t.Context(), &oauth.Client{
			ID: id, SecretHash: oauth.HashSecret(idtRPSecret), Name: "OIDC RP " + id,
			RedirectURIs:  []string{redirectURI},
			GrantTypes:    []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			ResponseTypes: []string{oauth.ResponseTypeCode},
			Scopes:        []string{"openid", "offline_access", "read"},
			FirstParty:    true, TokenEndpointAuthMethod: oauth.AuthMethodBasic,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// idtTokens runs the code flow for client id with scope and extra
// authorization parameters (nonce), and returns the token response.
func (ts *testServer) idtTokens(id, scope string, extra url.Values) map[string]any {
	ts.t.Helper()
	verifier, challenge := pkce()
	params := url.Values{
		"response_type": {"code"}, "client_id": {id}, "redirect_uri": {redirectURI},
		"scope": {scope}, "state": {"s"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	for k, v := range extra {
		params[k] = v
	}
	u := ts.authorize(ts.newBrowser(), params)
	code := u.Query().Get("code")
	if code == "" {
		ts.t.Fatalf("no code in %s", u)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}
	resp := ts.post(oauth.PathToken, form.Encode(), basic(id, idtRPSecret))
	if resp.Status != http.StatusOK {
		ts.t.Fatalf("exchange: %d %s", resp.Status, resp.Body)
	}
	return resp.JSON(ts.t)
}

// idtRefresh refreshes a token for client id.
func (ts *testServer) idtRefresh(id, token, scope string) response {
	ts.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return ts.post(oauth.PathToken, form.Encode(), basic(id, idtRPSecret))
}

// idtClaims are the claims the tests read, as any RP sees them.
type idtClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      any      `json:"aud"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	AuthTime int64    `json:"auth_time"`
	Nonce    *string  `json:"nonce"`
	AtHash   string   `json:"at_hash"`
	AMR      []string `json:"amr"`
	ACR      *string  `json:"acr"`
	AZP      *string  `json:"azp"`
}

// idtDecode returns a JWT's header and claims, unverified.
func idtDecode(t *testing.T, jwt string) (map[string]any, idtClaims) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS compact serialization: %q", jwt)
	}
	var header map[string]any
	var claims idtClaims
	for i, v := range []any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

// idtVerifier discovers ts as an OpenID Provider with go-oidc, an
// independent relying-party library, and returns its ID token verifier
// for client id.
func idtVerifier(t *testing.T, ts *testServer, id string) *oidc.IDTokenVerifier {
	t.Helper()
	provider, err := oidc.NewProvider(t.Context(), ts.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return provider.Verifier(&oidc.Config{ClientID: id, Now: ts.Clock.Now})
}

// TestIDTokenVerifiesWithGoOIDC: the ID token of a code exchange verifies
// with go-oidc (discovery, JWKS, signature, iss, aud, exp), carries the
// nonce, and its at_hash binds the access token it came with (OpenID
// Connect Core §3.1.3.6, §3.1.3.7); a refreshed one verifies too, with
// the same sub and auth_time and no nonce (§12.2).
func TestIDTokenVerifiesWithGoOIDC(t *testing.T) {
	ts := newTestServer(t)
	idtRegisterRPs(t, ts)
	verifier := idtVerifier(t, ts, idtRPID)
	signedIn := ts.Clock.Now()

	tok := ts.idtTokens(idtRPID, "openid offline_access read", url.Values{"nonce": {"n-0S6_WzA2Mj"}})
	raw, access := str(tok, "id_token"), str(tok, "access_token")
	idToken, err := verifier.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("go-oidc refuses the ID token: %v", err)
	}
	if idToken.Nonce != "n-0S6_WzA2Mj" {
		t.Errorf("nonce %q, want the request's", idToken.Nonce)
	}
	if err := idToken.VerifyAccessToken(access); err != nil {
		t.Errorf("at_hash does not match the access token: %v", err)
	}
	if err := idToken.VerifyAccessToken(str(ts.tokens("read"), "access_token")); err == nil {
		t.Error("at_hash matches another access token")
	}
	accessClaims, err := ts.OAuth.Verifier().Verify(t.Context(), access)
	if err != nil {
		t.Fatal(err)
	}
	if idToken.Subject != accessClaims.Subject || idToken.Subject == "" {
		t.Errorf("ID token sub %q, access token sub %q: want the same", idToken.Subject, accessClaims.Subject)
	}
	_, c := idtDecode(t, raw)
	if c.AuthTime != signedIn.Unix() {
		t.Errorf("auth_time %d, want the sign-in's %d", c.AuthTime, signedIn.Unix())
	}
	if len(c.AMR) != 1 || c.AMR[0] != "pwd" || c.ACR != nil || c.AZP != nil {
		t.Errorf("amr %v acr %v azp %v: want amr [pwd], no acr, no azp", c.AMR, c.ACR, c.AZP)
	}
	if c.Exp-c.Iat != int64(oauth.DefaultIDTokenLifetime/time.Second) {
		t.Errorf("lifetime %d s, want %v", c.Exp-c.Iat, oauth.DefaultIDTokenLifetime)
	}
	// Another client's verifier refuses it: aud is the client it was issued to.
	if _, err := idtVerifier(t, ts, idtRP2ID).Verify(t.Context(), raw); err == nil {
		t.Error("go-oidc accepted the ID token for another client")
	}

	ts.Clock.Advance(2 * time.Minute)
	r := ts.idtRefresh(idtRPID, str(tok, "refresh_token"), "")
	mustOK(t, "refresh", r)
	refreshed := r.JSON(t)
	raw2 := str(refreshed, "id_token")
	idToken2, err := verifier.Verify(t.Context(), raw2)
	if err != nil {
		t.Fatalf("go-oidc refuses the refreshed ID token: %v", err)
	}
	if err := idToken2.VerifyAccessToken(str(refreshed, "access_token")); err != nil {
		t.Errorf("refreshed at_hash: %v", err)
	}
	_, c2 := idtDecode(t, raw2)
	if c2.Sub != c.Sub || c2.Iss != c.Iss || c2.AuthTime != c.AuthTime || c2.Iat <= c.Iat || c2.Nonce != nil {
		t.Errorf("refreshed ID token: sub %q iss %q auth_time %d iat %d nonce %v; want sub %q iss %q auth_time %d, a later iat, no nonce",
			c2.Sub, c2.Iss, c2.AuthTime, c2.Iat, c2.Nonce, c.Sub, c.Iss, c.AuthTime)
	}
	// And again, from the rotated token: auth_time survives rotation.
	ts.Clock.Advance(time.Minute)
	r = ts.idtRefresh(idtRPID, str(refreshed, "refresh_token"), "")
	mustOK(t, "second refresh", r)
	if _, c3 := idtDecode(t, str(r.JSON(t), "id_token")); c3.AuthTime != c.AuthTime {
		t.Errorf("second refresh: auth_time %d, want %d", c3.AuthTime, c.AuthTime)
	}
}

// TestIDTokenOnlyWithOpenID: without openid no ID token, in the exchange
// or the refresh, and nothing else changes; a refresh that narrows the
// scope to leave openid out gets none either.
func TestIDTokenOnlyWithOpenID(t *testing.T) {
	ts := newTestServer(t)
	idtRegisterRPs(t, ts)
	tok := ts.idtTokens(idtRPID, "read", nil)
	if _, ok := tok["id_token"]; ok {
		t.Errorf("id_token without openid: %v", tok)
	}
	if str(tok, "refresh_token") == "" {
		t.Error("no refresh token without openid: plain OAuth must keep issuing it")
	}
	r := ts.idtRefresh(idtRPID, str(tok, "refresh_token"), "")
	mustOK(t, "refresh", r)
	if _, ok := r.JSON(t)["id_token"]; ok {
		t.Error("id_token on a refresh without openid")
	}

	tok = ts.idtTokens(idtRPID, "openid offline_access read", nil)
	r = ts.idtRefresh(idtRPID, str(tok, "refresh_token"), "read")
	mustOK(t, "narrowed refresh", r)
	if _, ok := r.JSON(t)["id_token"]; ok {
		t.Error("id_token on a refresh narrowed to leave openid out")
	}
}

// TestOfflineAccess: in an OpenID Connect request a refresh token is
// issued only when offline_access was granted (OpenID Connect Core §11).
func TestOfflineAccess(t *testing.T) {
	ts := newTestServer(t)
	idtRegisterRPs(t, ts)
	for _, tc := range []struct {
		scope       string
		wantRefresh bool
	}{
		{"openid read", false},
		{"openid", false},
		{"openid offline_access", true},
		{"read", true},
		{"offline_access read", true}, // not an OpenID request: plain OAuth
	} {
		tok := ts.idtTokens(idtRPID, tc.scope, nil)
		if got := str(tok, "refresh_token") != ""; got != tc.wantRefresh {
			t.Errorf("scope %q: refresh token %v, want %v", tc.scope, got, tc.wantRefresh)
		}
		if _, got := tok["id_token"]; got != strings.Contains(tc.scope, "openid") {
			t.Errorf("scope %q: id_token %v", tc.scope, got)
		}
	}
}

// TestIDTokenIsNotAnAccessToken: an ID token presented where an access
// token belongs is refused: its typ is JWT, not at+jwt, and its audience
// is the client, not the resource servers (RFC 9068 §4, RFC 8725 §3.11).
func TestIDTokenIsNotAnAccessToken(t *testing.T) {
	ts := newTestServer(t)
	idtRegisterRPs(t, ts)
	raw := str(ts.idtTokens(idtRPID, "openid", nil), "id_token")
	header, _ := idtDecode(t, raw)
	if header["typ"] != "JWT" || header["kid"] == nil || header["kid"] == "" {
		t.Errorf("header %v: want typ JWT and a kid", header)
	}
	if _, err := ts.OAuth.Verifier().Verify(context.Background(), raw); err == nil {
		t.Error("the access-token verifier accepts an ID token")
	}
	wantInactive(t, ts.introspectResp(raw, ""))
}

// TestOIDCCServer mirrors the conformance suite's oidcc-server module: a
// code flow with openid and a nonce ends in a token response whose ID
// token validates (signature by a published key, iss, aud, exp, iat, sub,
// nonce, at_hash: OpenID Connect Core §3.1.3.7).
func TestOIDCCServer(t *testing.T) {
	ts := newTestServer(t)
	idtRegisterRPs(t, ts)
	tok := ts.idtTokens(idtRPID, "openid", url.Values{"nonce": {"oidcc-server"}})
	if str(tok, "token_type") != "Bearer" {
		t.Errorf("token_type %v", tok["token_type"])
	}
	idToken, err := idtVerifier(t, ts, idtRPID).Verify(t.Context(), str(tok, "id_token"))
	if err != nil {
		t.Fatal(err)
	}
	if idToken.Nonce != "oidcc-server" || idToken.Subject == "" || idToken.IssuedAt.IsZero() {
		t.Errorf("nonce %q sub %q iat %v", idToken.Nonce, idToken.Subject, idToken.IssuedAt)
	}
	if err := idToken.VerifyAccessToken(str(tok, "access_token")); err != nil {
		t.Error(err)
	}
}

// TestOIDCCIdTokenSignature mirrors oidcc-idtoken-signature: with no
// algorithm registered the ID token is signed RS256 (OpenID Connect Core
// §3.1.3.7) and names its key with kid (§10.1).
func TestOIDCCIdTokenSignature(t *testing.T) {
	ts := newTestServer(t)
	idtRegisterRPs(t, ts)
	raw := str(ts.idtTokens(idtRPID, "openid", nil), "id_token")
	header, _ := idtDecode(t, raw)
	if header["alg"] != "RS256" {
		t.Errorf("alg %v, want RS256", header["alg"])
	}
	kid, _ := header["kid"].(string)
	jwks := ts.get(nil, oauth.PathJWKS).JSON(t)
	found := false
	for _, k := range jwks["keys"].([]any) {
		found = found || k.(map[string]any)["kid"] == kid
	}
	if kid == "" || !found {
		t.Errorf("kid %q is not in the JWKS %v", kid, jwks)
	}
	if _, err := idtVerifier(t, ts, idtRPID).Verify(t.Context(), raw); err != nil {
		t.Error(err)
	}
}

// TestOIDCCEnsureRequestWithoutNonceSucceedsForCodeFlow mirrors
// oidcc-ensure-request-without-nonce-succeeds-for-code-flow: the code
// flow needs no nonce (OpenID Connect Core §3.1.2.1), and the ID token
// then has none.
func TestOIDCCEnsureRequestWithoutNonceSucceedsForCodeFlow(t *testing.T) {
	ts := newTestServer(t)
	idtRegisterRPs(t, ts)
	tok := ts.idtTokens(idtRPID, "openid", nil)
	idToken, err := idtVerifier(t, ts, idtRPID).Verify(t.Context(), str(tok, "id_token"))
	if err != nil {
		t.Fatal(err)
	}
	if _, c := idtDecode(t, str(tok, "id_token")); c.Nonce != nil || idToken.Nonce != "" {
		t.Errorf("nonce %v in the ID token of a request without one", *c.Nonce)
	}
}

// TestOIDCCRefreshToken mirrors oidcc-refresh-token: with offline_access
// the exchange returns a refresh token; refreshing returns an access
// token and an ID token whose iss, sub, aud and auth_time are the
// original's and whose iat is later (OpenID Connect Core §12.2); and a
// refresh token issued to one client is refused to another.
func TestOIDCCRefreshToken(t *testing.T) {
	ts := newTestServer(t)
	idtRegisterRPs(t, ts)
	first := ts.idtTokens(idtRPID, "openid offline_access", url.Values{"prompt": {"consent"}})
	second := ts.idtTokens(idtRP2ID, "openid offline_access", url.Values{"prompt": {"consent"}})
	rt := str(first, "refresh_token")
	if rt == "" {
		t.Fatal("no refresh token with offline_access")
	}
	ts.Clock.Advance(time.Second)
	r := ts.idtRefresh(idtRPID, rt, "openid offline_access")
	mustOK(t, "refresh", r)
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	refreshed := r.JSON(t)
	_, a := idtDecode(t, str(first, "id_token"))
	_, b := idtDecode(t, str(refreshed, "id_token"))
	if a.Iss != b.Iss || a.Sub != b.Sub || a.AuthTime != b.AuthTime || b.Iat <= a.Iat || fmt.Sprint(b.Aud) != fmt.Sprint(a.Aud) || fmt.Sprint(a.Aud) != "["+idtRPID+"]" {
		t.Errorf("refreshed ID token %+v differs from the first %+v (§12.2)", b, a)
	}
	if str(refreshed, "access_token") == str(first, "access_token") {
		t.Error("the refresh returned the same access token")
	}
	// Client 2's refresh token used by client 1.
	wantError(t, ts.idtRefresh(idtRPID, str(second, "refresh_token"), ""), http.StatusBadRequest, oauth.CodeInvalidGrant)
}
