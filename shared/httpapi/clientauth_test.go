package httpapi_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Extra clients for the client authentication tests, each registered for
// client credentials so that a successful authentication ends in a 200.
const (
	reservedID, reservedSecret = "reserved-cc", "p:ss%w+rd/=&?" // un-encoded, it does not decode at all
	plusID, plusSecret         = "plus-cc", "s3cr+t/with=plus"  // un-encoded, "+" decodes to a space
	colonID, colonSecret       = "ns:tool", "colon-secret-0123456789"
)

func addCCClients(t *testing.T, ts *testServer) {
	t.Helper()
	for id, secret := range map[string]string{reservedID: reservedSecret, plusID: plusSecret, colonID: colonSecret} {
		err := ts.Store.PutClient(context.Background(), &oauth.Client{
			ID: id, SecretHash: oauth.HashSecret(secret),
			GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"read"},
			TokenEndpointAuthMethod: oauth.AuthMethodBasic,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// rawBasic is a Basic header WITHOUT the form-encoding of §2.3.1.
func rawBasic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

func std64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestClientAuthentication covers RFC 6749 §2.3 at the token endpoint.
// A client that authenticates but is not registered for client credentials
// gets unauthorized_client (400), which is checked after authentication, so
// it marks "authenticated" for those clients.
func TestClientAuthentication(t *testing.T) {
	base := newTestServer(t)
	addCCClients(t, base)
	cc := "grant_type=client_credentials"
	tests := []struct {
		name    string
		body    string
		auth    string
		status  int
		err     string // "" for success
		secrets []string
	}{
		// client_secret_basic, form-encoded inside Basic (§2.3.1).
		{"basic reserved chars encoded", cc, basic(reservedID, reservedSecret), 200, "", nil},
		{"basic plus sign encoded", cc, basic(plusID, plusSecret), 200, "", nil},
		{"basic client id with colon encoded", cc, basic(colonID, colonSecret), 200, "", nil},
		{"basic scheme is case-insensitive", cc, "basic " + std64(url.QueryEscape(serviceID)+":"+url.QueryEscape(serviceSecret)), 200, "", nil},
		{"basic web client (not registered for client_credentials)", cc, basic(webID, webSecret), 400, "unauthorized_client", []string{webSecret}},
		{"basic with matching client_id in body", cc + "&client_id=" + serviceID, basic(serviceID, serviceSecret), 200, "", nil},
		// The same secrets sent un-encoded decode differently: refused.
		{"basic reserved chars un-encoded", cc, rawBasic(reservedID, reservedSecret), 401, "invalid_client", []string{reservedSecret}},
		{"basic plus sign un-encoded", cc, rawBasic(plusID, plusSecret), 401, "invalid_client", []string{plusSecret}},
		{"basic client id with colon un-encoded", cc, rawBasic(colonID, colonSecret), 401, "invalid_client", []string{colonSecret}},
		// client_secret_post.
		{"post", cc + "&" + formOf("client_id", postID, "client_secret", postSecret), "", 200, "", nil},
		// none: public client with client_id only (authenticated; then
		// client credentials is refused because the client is public).
		{"none public client", cc + "&client_id=" + publicID, "", 400, "unauthorized_client", nil},
		// Wrong method for the client.
		{"post when registered basic", cc + "&" + formOf("client_id", serviceID, "client_secret", serviceSecret), "", 401, "invalid_client", []string{serviceSecret}},
		{"post when registered basic (reserved secret)", cc + "&" + formOf("client_id", webID, "client_secret", webSecret), "", 401, "invalid_client", []string{webSecret}},
		{"basic when registered post", cc, basic(postID, postSecret), 401, "invalid_client", []string{postSecret}},
		{"client_id only for a confidential client", cc + "&client_id=" + serviceID, "", 401, "invalid_client", nil},
		{"basic for a public client", cc, basic(publicID, ""), 401, "invalid_client", nil},
		{"basic with a secret for a public client", cc, basic(publicID, "guess-secret-value"), 401, "invalid_client", []string{"guess-secret-value"}},
		{"post for a public client", cc + "&" + formOf("client_id", publicID, "client_secret", "guess-secret-value"), "", 401, "invalid_client", []string{"guess-secret-value"}},
		// Wrong secret.
		{"basic wrong secret", cc, basic(serviceID, "Wrong:Secret%41+xyz"), 401, "invalid_client", []string{"Wrong:Secret%41+xyz", "Wrong%3ASecret%2541%2Bxyz", "WrongSecret"}},
		{"basic empty secret", cc, basic(serviceID, ""), 401, "invalid_client", nil},
		{"post wrong secret", cc + "&" + formOf("client_id", postID, "client_secret", "Wrong-Post-Secret-42"), "", 401, "invalid_client", []string{"Wrong-Post-Secret-42"}},
		{"basic secret of another client", cc, basic(serviceID, postSecret), 401, "invalid_client", []string{postSecret}},
		// Unknown client, no credentials.
		{"basic unknown client", cc, basic("nobody", "Nobody-Secret-42"), 401, "invalid_client", []string{"Nobody-Secret-42"}},
		{"post unknown client", cc + "&" + formOf("client_id", "nobody", "client_secret", "Nobody-Secret-42"), "", 401, "invalid_client", []string{"Nobody-Secret-42"}},
		{"client_id only, unknown client", cc + "&client_id=nobody", "", 401, "invalid_client", nil},
		{"no credentials", cc, "", 401, "invalid_client", nil},
		{"client_secret without client_id", cc + "&client_secret=Orphan-Secret-42", "", 401, "invalid_client", []string{"Orphan-Secret-42"}},
		// Two methods at once.
		{"basic plus client_secret in body", cc + "&" + formOf("client_secret", "Body-Secret-42"), basic(serviceID, serviceSecret), 400, "invalid_request", []string{"Body-Secret-42", serviceSecret}},
		{"basic plus client_id and client_secret in body", cc + "&" + formOf("client_id", serviceID, "client_secret", serviceSecret), basic(serviceID, serviceSecret), 400, "invalid_request", []string{serviceSecret}},
		{"basic plus different client_id in body", cc + "&client_id=" + postID, basic(serviceID, serviceSecret), 401, "invalid_client", []string{serviceSecret}},
		// Malformed Basic.
		{"basic not base64", cc, "Basic !!!not-base64!!!", 401, "invalid_client", nil},
		{"basic without colon", cc, "Basic " + std64("service"), 401, "invalid_client", nil},
		{"basic empty id", cc, "Basic " + std64(":"+serviceSecret), 401, "invalid_client", []string{serviceSecret}},
		{"basic no payload", cc, "Basic", 401, "invalid_client", nil},
		{"basic empty payload", cc, "Basic ", 401, "invalid_client", nil},
		{"basic bad percent-encoding", cc, "Basic " + std64("service:%zz"), 401, "invalid_client", nil},
		{"other scheme", cc, "Bearer " + std64(serviceID+":"+serviceSecret), 401, "invalid_client", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := base.withT(t)
			r := ts.post(oauth.PathToken, tc.body, tc.auth)
			if tc.err == "" {
				m := mustOK(t, "token", r)
				if str(m, "access_token") == "" {
					t.Fatalf("no access token: %s", r.Body)
				}
			} else {
				wantError(t, r, tc.status, tc.err)
			}
			wantChallenge(t, r)
			wantNoStore(t, r)
			for _, s := range tc.secrets {
				if strings.Contains(r.Body, s) || strings.Contains(r.Body, url.QueryEscape(s)) {
					t.Errorf("response echoes the secret %q: %s", s, r.Body)
				}
				for _, v := range r.Header {
					if strings.Contains(strings.Join(v, " "), s) {
						t.Errorf("response header echoes the secret %q", s)
					}
				}
			}
		})
	}
}

// TestBasicSecretWithReservedCharactersExchangesCode checks the harness's
// web client, whose secret holds ":", "%" and "+", can redeem a code with
// client_secret_basic, and cannot when it skips the form-encoding.
func TestBasicSecretWithReservedCharactersExchangesCode(t *testing.T) {
	ts := newTestServer(t)
	code, verifier := ts.codeFor("read")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}.Encode()

	r := ts.post(oauth.PathToken, form, rawBasic(webID, webSecret))
	wantError(t, r, http.StatusUnauthorized, "invalid_client")
	wantChallenge(t, r)

	mustOK(t, "exchange with encoded Basic", ts.post(oauth.PathToken, form, basic(webID, webSecret)))
}

// TestClientAuthenticationOnEveryEndpoint checks introspection and
// revocation authenticate clients as the token endpoint does, and that
// every invalid_client answer, whichever method the client tried, carries
// the Basic challenge of RFC 9110 §15.5.2 (RFC 6749 §5.2: a 401 tells "which
// HTTP authentication schemes are supported"). Before that fix, only a
// failed Basic attempt had one.
func TestClientAuthenticationOnEveryEndpoint(t *testing.T) {
	base := newTestServer(t)
	badAssertion := formOf("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
		"client_assertion", "e30.e30.c2ln")
	tests := []struct {
		name string
		body string
		auth string
	}{
		{"no credentials", "", ""},
		{"basic wrong secret", "", basic(serviceID, "Wrong-Secret-42")},
		{"post wrong secret", formOf("client_id", postID, "client_secret", "Wrong-Secret-42"), ""},
		{"post unknown client", formOf("client_id", "nobody", "client_secret", "Nobody-Secret-42"), ""},
		{"unknown client", "", basic("nobody", "Nobody-Secret-42")},
		{"none, unknown client", formOf("client_id", "nobody"), ""},
		{"none, confidential client", formOf("client_id", serviceID), ""},
		{"wrong method", formOf("client_id", serviceID, "client_secret", serviceSecret), ""},
		{"malformed basic", "", "Basic ???"},
		{"private_key_jwt, malformed assertion", badAssertion, ""},
		{"private_key_jwt, malformed assertion naming a client", badAssertion + "&client_id=" + serviceID, ""},
	}
	for _, path := range []string{oauth.PathToken, oauth.PathIntrospect, oauth.PathRevoke} {
		for _, tc := range tests {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				ts := base.withT(t)
				body := "token=x"
				if path == oauth.PathToken {
					body = "grant_type=client_credentials"
				}
				if tc.body != "" {
					body += "&" + tc.body
				}
				r := ts.post(path, body, tc.auth)
				wantError(t, r, http.StatusUnauthorized, "invalid_client")
				wantChallenge(t, r)
				wantNoStore(t, r)
				if strings.Contains(r.Body, "Wrong-Secret-42") || strings.Contains(r.Body, "Nobody-Secret-42") {
					t.Errorf("response echoes the secret: %s", r.Body)
				}
			})
		}
	}
	// A public client authenticates (client_id alone) and is then refused
	// by introspection itself (RFC 7662 §4): a 401 all the same.
	r := base.post(oauth.PathIntrospect, formOf("token", "x", "client_id", publicID), "")
	wantError(t, r, http.StatusUnauthorized, "invalid_client")
	wantChallenge(t, r)
}

// TestTwoAuthorizationHeaders: a request with two Authorization headers
// is invalid_request (RFC 6749 §3.1, §5.2: a request that "utilizes more
// than one mechanism for authenticating the client" or repeats a
// parameter), as shared/resource answers it, whatever the headers hold:
// not "use the first". Before the fix, the first header was used and a
// second, wrong one ignored.
func TestTwoAuthorizationHeaders(t *testing.T) {
	base := newTestServer(t)
	tok := str(base.ccToken("read"), "access_token")
	good := basic(serviceID, serviceSecret)
	pairs := map[string][2]string{
		"the same credentials twice": {good, good},
		"right then wrong":           {good, basic(serviceID, "Wrong-Secret-42")},
		"right then another client":  {good, basic(webID, webSecret)},
		"Basic then Bearer":          {good, "Bearer " + tok},
		"right then empty":           {good, ""},
	}
	bodies := map[string]string{
		oauth.PathToken:      "grant_type=client_credentials",
		oauth.PathIntrospect: formOf("token", tok),
		oauth.PathRevoke:     formOf("token", tok),
	}
	for path, body := range bodies {
		for name, headers := range pairs {
			t.Run(path+"/"+name, func(t *testing.T) {
				ts := base.withT(t)
				req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Add("Authorization", headers[0])
				req.Header.Add("Authorization", headers[1])
				r := ts.do(nil, req)
				wantError(t, r, http.StatusBadRequest, "invalid_request")
				wantChallenge(t, r)
				wantNoStore(t, r)
				if d := str(r.JSON(t), "error_description"); !strings.Contains(d, "Authorization") {
					t.Errorf("error_description %q does not name the Authorization header", d)
				}
				if !ts.active(tok) {
					t.Fatal("a refused request revoked the token")
				}
			})
		}
	}
}
