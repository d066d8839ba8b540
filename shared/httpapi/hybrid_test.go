package httpapi_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The relying party of the implicit and hybrid flows (OpenID Connect Core
// 1.0 §3.2, §3.3): a confidential client registered for all three
// response types that return an ID token from the authorization endpoint,
// and the grant types they imply (RFC 7591 §2.1). hybOnlyIDTokenID
// registered "id_token" alone.
const (
	hybID, hybSecret = "oidc-hybrid", "oidc-hybrid-secret-0123456789"
	hybOnlyIDTokenID = "oidc-id-token-only"
	hybNonce         = "n-0S6_WzA2Mj"
)

// newHybridServer is a test server with the hybrid relying parties and
// alice holding a name and a verified email.
func newHybridServer(t *testing.T, configure ...func(*oauth.Config)) *testServer {
	t.Helper()
	ts := newTestServer(t, configure...)
	hybSeed(t, ts.Store)
	return ts
}

// hybSeed registers the hybrid relying parties and gives alice claims.
func hybSeed(t *testing.T, admin storeAdmin) {
	t.Helper()
	ctx := t.Context()
	for _, c := range []*oauth.Client{
		{ID: hybID, SecretHash: oauth.HashSecret(hybSecret), Name: "Hybrid RP",
			RedirectURIs:  []string{redirectURI},
			GrantTypes:    []string{oauth.GrantAuthorizationCode, oauth.GrantImplicit, oauth.GrantRefreshToken},
			ResponseTypes: []string{"code", "id_token", "id_token token", "code id_token"},
			Scopes:        []string{"openid", "profile", "email", "read"},
			FirstParty:    true, TokenEndpointAuthMethod: oauth.AuthMethodBasic},
		{ID: hybOnlyIDTokenID, Name: "ID token RP", RedirectURIs: []string{redirectURI},
			GrantTypes: []string{oauth.GrantImplicit}, ResponseTypes: []string{"id_token"},
			Scopes: []string{"openid", "profile"}, FirstParty: true, TokenEndpointAuthMethod: oauth.AuthMethodNone},
	} {
		if err := admin.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	verified := true
	err := admin.PutUser(ctx, &oauth.User{Subject: "user-1", Username: userName, PasswordHash: userHash,
		Claims: &oauth.UserClaims{Name: "Alice Liddell", Email: "alice@example.com", EmailVerified: &verified}})
	if err != nil {
		t.Fatal(err)
	}
}

// hybParams is an authorization request of client hybID for response
// type rt, with kv overriding (or, with "", removing) parameters.
func hybParams(rt string, kv ...string) url.Values {
	v := url.Values{"response_type": {rt}, "client_id": {hybID}, "redirect_uri": {redirectURI},
		"scope": {"openid profile email read"}, "state": {"st"}, "nonce": {hybNonce}}
	return withParams(v, kv...)
}

// leftHalfHash is at_hash and c_hash computed here, independently of the
// server (OpenID Connect Core 1.0 §3.1.3.6, §3.3.2.11): base64url of the
// left half of the SHA-256 of the value (the ID tokens are RS256).
func leftHalfHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// hybClaims decodes an ID token's payload, unverified, as a map.
func hybClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// hybAuthorize runs the request through sign-in and returns the redirect's
// query and fragment parameters, failing on a redirect elsewhere.
func (ts *testServer) hybAuthorize(t *testing.T, params url.Values) (query, fragment url.Values) {
	t.Helper()
	u := ts.authorize(ts.newBrowser(), params)
	if got := u.Scheme + "://" + u.Host + u.Path; got != redirectURI {
		t.Fatalf("redirected to %s", u)
	}
	fragment, err := url.ParseQuery(u.Fragment)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query(), fragment
}

// TestOIDCCServerImplicitAndHybrid mirrors oidcc-server in the implicit
// (id_token, id_token token) and hybrid (code id_token) certification
// plans: the response comes in the fragment, never the query (Multiple
// Response Type Encoding Practices §5), with state and iss; the ID token
// verifies with go-oidc and carries nonce, auth_time and amr; at_hash
// binds the access token and c_hash the code, both recomputed here; with
// response_type=id_token the claims of profile and email are in the ID
// token itself (§5.4); the hybrid code redeems for the usual ID token,
// with the same sub, nonce and auth_time (§3.3.3.6), and the implicit
// access token answers UserInfo for the same sub (§5.3.2).
func TestOIDCCServerImplicitAndHybrid(t *testing.T) {
	ts := newHybridServer(t)
	verifier := idtVerifier(t, ts, hybID)
	for _, rt := range []string{"id_token", "id_token token", "token id_token", "code id_token", "id_token code"} {
		t.Run(rt, func(t *testing.T) {
			ts := ts.withT(t)
			signedIn := ts.Clock.Now()
			pkceVerifier, challenge := pkce()
			query, frag := ts.hybAuthorize(t, hybParams(rt, "code_challenge", challenge, "code_challenge_method", "S256"))
			if len(query) != 0 {
				t.Fatalf("response parameters in the query: %v", query)
			}
			if frag.Get("state") != "st" || frag.Get("iss") != ts.URL {
				t.Errorf("state %q iss %q", frag.Get("state"), frag.Get("iss"))
			}
			raw := frag.Get("id_token")
			t.Logf("%s: ID token %d bytes, response parameters %d bytes", rt, len(raw), len(frag.Encode()))
			idToken, err := verifier.Verify(t.Context(), raw)
			if err != nil {
				t.Fatalf("go-oidc refuses the ID token: %v", err)
			}
			c := hybClaims(t, raw)
			if idToken.Nonce != hybNonce || idToken.Subject != "user-1" || c["auth_time"] != float64(signedIn.Unix()) {
				t.Errorf("nonce %q sub %q auth_time %v", idToken.Nonce, idToken.Subject, c["auth_time"])
			}
			if amr, _ := c["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
				t.Errorf("amr %v", c["amr"])
			}
			access, code := frag.Get("access_token"), frag.Get("code")
			words := strings.Fields(rt)
			wantAccess, wantCode := slices.Contains(words, "token"), slices.Contains(words, "code")
			if (access != "") != wantAccess || (code != "") != wantCode {
				t.Fatalf("access_token %t code %t, want %t %t: %v", access != "", code != "", wantAccess, wantCode, frag)
			}
			if wantAccess {
				if c["at_hash"] != leftHalfHash(access) {
					t.Errorf("at_hash %v, want %s", c["at_hash"], leftHalfHash(access))
				}
				if err := idToken.VerifyAccessToken(access); err != nil {
					t.Errorf("go-oidc: %v", err)
				}
				if frag.Get("token_type") != "Bearer" || frag.Get("expires_in") == "" {
					t.Errorf("token_type %q expires_in %q", frag.Get("token_type"), frag.Get("expires_in"))
				}
				r := ts.send(http.MethodGet, oauth.PathUserInfo, "", "", "Bearer "+access)
				if info := mustOK(t, "userinfo", r); info["sub"] != idToken.Subject || info["email"] != "alice@example.com" {
					t.Errorf("userinfo %v", info)
				}
			} else if _, ok := c["at_hash"]; ok {
				t.Errorf("at_hash without an access token: %v", c)
			}
			if wantCode {
				if c["c_hash"] != leftHalfHash(code) {
					t.Errorf("c_hash %v, want %s", c["c_hash"], leftHalfHash(code))
				}
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
					"redirect_uri": {redirectURI}, "code_verifier": {pkceVerifier}}
				tok := mustOK(t, "exchange", ts.post(oauth.PathToken, form.Encode(), basic(hybID, hybSecret)))
				back, err := verifier.Verify(t.Context(), str(tok, "id_token"))
				if err != nil {
					t.Fatalf("go-oidc refuses the token endpoint's ID token: %v", err)
				}
				bc := hybClaims(t, str(tok, "id_token"))
				if back.Subject != idToken.Subject || back.Nonce != hybNonce || bc["auth_time"] != c["auth_time"] {
					t.Errorf("token endpoint's ID token: sub %q nonce %q auth_time %v", back.Subject, back.Nonce, bc["auth_time"])
				}
				if err := back.VerifyAccessToken(str(tok, "access_token")); err != nil {
					t.Errorf("token endpoint at_hash: %v", err)
				}
			} else if _, ok := c["c_hash"]; ok {
				t.Errorf("c_hash without a code: %v", c)
			}
			// §5.4: claims in the ID token only when no access token is
			// issued at all (response_type=id_token).
			_, hasName := c["name"]
			if onlyIDToken := !wantAccess && !wantCode; hasName != onlyIDToken ||
				onlyIDToken && (c["name"] != "Alice Liddell" || c["email"] != "alice@example.com" || c["email_verified"] != true) {
				t.Errorf("user claims in the ID token: %v", c)
			}
		})
	}
}

// TestHybridRequestErrors: each mistake in an implicit or hybrid request is
// an RFC-shaped error redirected to the client in the fragment (OpenID
// Connect Core 1.0 §3.2.2.6, §3.3.2.6; Multiple Response Type Encoding
// Practices §5), with state and iss, and nothing issued: no token, code
// or ID token in the response.
func TestHybridRequestErrors(t *testing.T) {
	off := func(c *oauth.Config) { c.DisableImplicitGrant = true }
	cases := []struct {
		name   string
		params url.Values
		off    bool
		code   string
	}{
		{"nonce missing, id_token", hybParams("id_token", "nonce", ""), false, oauth.CodeInvalidRequest},
		{"nonce missing, id_token token", hybParams("id_token token", "nonce", ""), false, oauth.CodeInvalidRequest},
		{"nonce missing, code id_token", hybParams("code id_token", "nonce", ""), false, oauth.CodeInvalidRequest},
		{"nonce too long", hybParams("id_token", "nonce", strings.Repeat("n", oauth.MaxNonceBytes+1)), false, oauth.CodeInvalidRequest},
		{"openid missing, id_token", hybParams("id_token", "scope", "profile"), false, oauth.CodeInvalidRequest},
		{"openid missing, code id_token", hybParams("code id_token", "scope", "read"), false, oauth.CodeInvalidRequest},
		{"response_mode=query, id_token", hybParams("id_token", "response_mode", "query"), false, oauth.CodeInvalidRequest},
		{"response_mode=query, code id_token", hybParams("code id_token", "response_mode", "query"), false, oauth.CodeInvalidRequest},
		{"response_mode=form_post", hybParams("id_token token", "response_mode", "form_post"), false, oauth.CodeInvalidRequest},
		{"unregistered type", hybParams("code id_token", "client_id", hybOnlyIDTokenID), false, oauth.CodeUnauthorizedClient},
		{"unregistered type, id_token token", hybParams("id_token token", "client_id", hybOnlyIDTokenID), false, oauth.CodeUnauthorizedClient},
		{"client without the implicit grant", hybParams("id_token", "client_id", webID, "scope", "read"), false, oauth.CodeUnauthorizedClient},
		{"implicit off, id_token", hybParams("id_token"), true, oauth.CodeUnsupportedResponseType},
		{"implicit off, id_token token", hybParams("id_token token"), true, oauth.CodeUnsupportedResponseType},
		{"implicit off, code id_token", hybParams("code id_token"), true, oauth.CodeUnsupportedResponseType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ts *testServer
			if tc.off {
				ts = newHybridServer(t, off)
			} else {
				ts = newHybridServer(t)
			}
			r := ts.get(ts.newBrowser(), oauth.PathAuthorize+"?"+tc.params.Encode())
			ts.wantRedirectError(t, r, http.StatusFound, redirectURI, tc.code, "st", true)
			_, query, frag := splitLocation(t, r)
			for _, p := range []string{"id_token", "access_token", "code"} {
				if frag.Has(p) || query.Has(p) {
					t.Errorf("%s issued with an error: %s", p, r.Header.Get("Location"))
				}
			}
		})
	}
}

// TestHybridAdvertisedOnlyWhenOn: response_types_supported names the
// three OpenID Connect response types exactly when the deployment lets
// the authorization endpoint sign (Config.DisableImplicitGrant), as it
// does response_type=token (RFC 8414 §2, OpenID Connect Discovery 1.0 §3).
func TestHybridAdvertisedOnlyWhenOn(t *testing.T) {
	for _, off := range []bool{false, true} {
		ts := newTestServer(t, func(c *oauth.Config) { c.DisableImplicitGrant = off })
		var md struct {
			ResponseTypes []string `json:"response_types_supported"`
		}
		if err := json.Unmarshal([]byte(ts.get(ts.newBrowser(), "/.well-known/openid-configuration").Body), &md); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(md.ResponseTypes, ",")
		want := "code,token,id_token,id_token token,code id_token"
		if off {
			want = "code"
		}
		if got != want {
			t.Errorf("implicit off=%t: response_types_supported %q, want %q", off, got, want)
		}
	}
}

// TestOIDCCEnsureRequestWithoutNonceFails mirrors
// oidcc-ensure-request-without-nonce-fails in its implicit and hybrid
// variants (the module is not applicable to code and code token): a
// request without nonce ends with invalid_request redirected to the
// client (OpenID Connect Core 1.0 §3.2.2.1: nonce REQUIRED).
func TestOIDCCEnsureRequestWithoutNonceFails(t *testing.T) {
	ts := newHybridServer(t)
	for _, rt := range []string{"id_token", "id_token token", "code id_token"} {
		t.Run(rt, func(t *testing.T) {
			ts := ts.withT(t)
			r := ts.get(ts.newBrowser(), oauth.PathAuthorize+"?"+hybParams(rt, "nonce", "").Encode())
			ts.wantRedirectError(t, r, http.StatusFound, redirectURI, oauth.CodeInvalidRequest, "st", true)
		})
	}
}

// TestOIDCCCodereuseHybrid mirrors oidcc-codereuse in the hybrid plan
// (response_type "code id_token"): the code from the authorization
// endpoint redeems once; the second use is invalid_grant, and the tokens
// of the first use are revoked (RFC 6749 §4.1.2).
func TestOIDCCCodereuseHybrid(t *testing.T) {
	ts := newHybridServer(t)
	pkceVerifier, challenge := pkce()
	_, frag := ts.hybAuthorize(t, hybParams("code id_token", "code_challenge", challenge, "code_challenge_method", "S256"))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {frag.Get("code")},
		"redirect_uri": {redirectURI}, "code_verifier": {pkceVerifier}}.Encode()
	tok := mustOK(t, "first use", ts.post(oauth.PathToken, form, basic(hybID, hybSecret)))
	second := ts.post(oauth.PathToken, form, basic(hybID, hybSecret))
	wantError(t, second, http.StatusBadRequest, oauth.CodeInvalidGrant)
	wantInactive(t, ts.introspectResp(str(tok, "access_token"), ""))
}

// TestOIDCCEnsureRegisteredRedirectUriImplicitHybrid mirrors
// oidcc-ensure-registered-redirect-uri in the implicit and hybrid plans:
// an unregistered redirect URI gets the error page, never a redirect
// carrying an ID token or an error (RFC 6749 §3.1.2.4).
func TestOIDCCEnsureRegisteredRedirectUriImplicitHybrid(t *testing.T) {
	ts := newHybridServer(t)
	for _, rt := range []string{"id_token", "id_token token", "code id_token"} {
		r := ts.authorizeGet(ts.newBrowser(), hybParams(rt, "redirect_uri", "https://attacker.example/cb").Encode())
		wantHTMLErrorPage(t, r, http.StatusBadRequest, oauth.CodeInvalidRequest)
	}
}

// TestHybridOnDynamoDB: the same flows on DynamoDB Local, where the
// client's response types ("id_token token" has a space) and the user's
// claims round-trip through the tables: "code id_token" stores its code
// for the token endpoint, and "id_token" reads the user's claims.
func TestHybridOnDynamoDB(t *testing.T) {
	ds := newDynamoServer(t)
	hybSeed(t, ds.Backing)
	ts := ds.testServer
	verifier := idtVerifier(t, ts, hybID)

	_, frag := ts.hybAuthorize(t, hybParams("token id_token"))
	idToken, err := verifier.Verify(t.Context(), frag.Get("id_token"))
	if err != nil {
		t.Fatal(err)
	}
	if err := idToken.VerifyAccessToken(frag.Get("access_token")); err != nil || idToken.Nonce != hybNonce {
		t.Errorf("id_token token: at_hash %v nonce %q", err, idToken.Nonce)
	}

	_, frag = ts.hybAuthorize(t, hybParams("id_token"))
	if c := hybClaims(t, frag.Get("id_token")); c["email"] != "alice@example.com" || c["name"] != "Alice Liddell" {
		t.Errorf("id_token: claims %v", c)
	}

	pkceVerifier, challenge := pkce()
	_, frag = ts.hybAuthorize(t, hybParams("code id_token", "code_challenge", challenge, "code_challenge_method", "S256"))
	if c := hybClaims(t, frag.Get("id_token")); c["c_hash"] != leftHalfHash(frag.Get("code")) {
		t.Errorf("c_hash %v", c["c_hash"])
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {frag.Get("code")},
		"redirect_uri": {redirectURI}, "code_verifier": {pkceVerifier}}
	tok := mustOK(t, "exchange", ts.post(oauth.PathToken, form.Encode(), basic(hybID, hybSecret)))
	if back, err := verifier.Verify(t.Context(), str(tok, "id_token")); err != nil || back.Nonce != hybNonce || back.Subject != "user-1" {
		t.Errorf("token endpoint's ID token: %v", err)
	}
}
