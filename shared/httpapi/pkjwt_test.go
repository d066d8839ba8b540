package httpapi_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// TestPrivateKeyJWTClientCredentials: a client authenticating with a JWT
// signed by its own key (RFC 7523 §2.2, §3; OpenID Connect Core §9) gets a
// client credentials token, for every accepted algorithm, with its keys
// inline or at its jwks_uri.
func TestPrivateKeyJWTClientCredentials(t *testing.T) {
	base := newPKServer(t)
	tests := []struct {
		name   string
		client string
		key    func() clientKey
		method jwt.SigningMethod
		edit   func(ts *testServer, c jwt.MapClaims) // nil: the valid claims as they are
		extra  []string                              // form pairs
	}{
		{"inline RS256", pkInlineID, inlineRSA, jwt.SigningMethodRS256, nil, nil},
		{"inline PS256", pkInlineID, inlineRSA, jwt.SigningMethodPS256, nil, nil},
		{"inline ES256", pkInlineID, inlineEC, jwt.SigningMethodES256, nil, nil},
		{"jwks_uri RS256", pkURIID, uriRSA, jwt.SigningMethodRS256, nil, nil},
		{"jwks_uri PS256", pkURIID, uriRSA, jwt.SigningMethodPS256, nil, nil},
		{"jwks_uri ES256", pkURIID, uriEC, jwt.SigningMethodES256, nil, nil},
		{"aud is the issuer", pkInlineID, inlineRSA, jwt.SigningMethodRS256,
			func(ts *testServer, c jwt.MapClaims) { c["aud"] = ts.URL }, nil},
		{"aud is a list naming the token endpoint", pkInlineID, inlineRSA, jwt.SigningMethodRS256,
			func(ts *testServer, c jwt.MapClaims) {
				c["aud"] = []string{"https://other.example", ts.URL + oauth.PathToken}
			}, nil},
		{"client_id sent too", pkInlineID, inlineEC, jwt.SigningMethodES256, nil, []string{"client_id", pkInlineID}},
		{"nbf, iat and exp within the leeway", pkInlineID, inlineRSA, jwt.SigningMethodRS256, func(ts *testServer, c jwt.MapClaims) {
			now := ts.Clock.Now()
			c["nbf"], c["iat"], c["exp"] = now.Add(20*time.Second).Unix(), now.Add(20*time.Second).Unix(), now.Add(5*time.Minute+20*time.Second).Unix()
		}, nil},
		{"no iat", pkInlineID, inlineRSA, jwt.SigningMethodRS256, func(_ *testServer, c jwt.MapClaims) { delete(c, "iat") }, nil},
		{"with a scope", pkURIID, uriEC, jwt.SigningMethodES256, nil, []string{"scope", "write"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := base.withT(t)
			claims := ts.claimsFor(tc.client)
			if tc.edit != nil {
				tc.edit(ts.testServer, claims)
			}
			r := ts.ccAssert(tc.key().assertWith(t, tc.method, claims), tc.extra...)
			m := mustOK(t, "client credentials with private_key_jwt", r)
			wantNoStore(t, r)
			_, at := ts.verifyAccessToken(str(m, "access_token"), ts.URL)
			if at["client_id"] != tc.client || at["sub"] != tc.client {
				t.Errorf("access token client_id %v sub %v, want %s", at["client_id"], at["sub"], tc.client)
			}
		})
	}

	t.Run("no kid, the client's only key", func(t *testing.T) {
		ts := base.withT(t)
		a := sign(t, jwt.SigningMethodES256, inlineEC().priv, "", ts.claimsFor(pkSingleID), nil)
		mustOK(t, "kid-less assertion", ts.ccAssert(a))
	})
}

// TestPrivateKeyJWTReplay: an assertion is accepted once (RFC 7523 §3
// item 7), at whichever endpoint, and its jti is the client's own.
func TestPrivateKeyJWTReplay(t *testing.T) {
	ps := newPKServer(t)
	claims := ps.claimsFor(pkInlineID)
	a := inlineRSA().assert(t, claims)
	mustOK(t, "first use", ps.ccAssert(a))
	r := ps.ccAssert(a)
	wantError(t, r, http.StatusUnauthorized, "invalid_client")
	if !strings.Contains(r.JSON(t)["error_description"].(string), "already used") {
		t.Errorf("replay description: %s", r.Body)
	}
	wantError(t, ps.post(oauth.PathIntrospect, withAssertion(a, "token", "x"), ""), http.StatusUnauthorized, "invalid_client")
	wantError(t, ps.post(oauth.PathRevoke, withAssertion(a, "token", "x"), ""), http.StatusUnauthorized, "invalid_client")

	// The same jti in a new assertion is a replay too; another client may
	// use the same jti.
	again := ps.claimsFor(pkInlineID)
	again["jti"] = claims["jti"]
	wantError(t, ps.ccAssert(inlineEC().assert(t, again)), http.StatusUnauthorized, "invalid_client")
	other := ps.claimsFor(pkURIID)
	other["jti"] = claims["jti"]
	mustOK(t, "same jti, another client", ps.ccAssert(uriRSA().assert(t, other)))

	// Once the assertion (and the leeway after it) has expired, its record
	// may go; the assertion itself is refused as expired.
	ps.Clock.Advance(2 * time.Minute)
	wantError(t, ps.ccAssert(a), http.StatusUnauthorized, "invalid_client")
}

// TestPrivateKeyJWTIntrospectionAndRevocation: private_key_jwt works at
// the introspection and revocation endpoints (RFC 7662 §2.1, RFC 7009
// §2.1), with aud the token endpoint or the issuer. A client introspects
// its own tokens; another client authenticates and learns nothing of them
// (RFC 7662 §4).
func TestPrivateKeyJWTIntrospectionAndRevocation(t *testing.T) {
	ps := newPKServer(t)
	tok := str(mustOK(t, "token", ps.ccAssert(inlineRSA().assert(t, ps.claimsFor(pkInlineID)))), "access_token")

	byIssuer := ps.claimsFor(pkInlineID)
	byIssuer["aud"] = ps.URL
	m := wantActive(t, ps.post(oauth.PathIntrospect, withAssertion(inlineEC().assert(t, byIssuer), "token", tok), ""))
	if m["client_id"] != pkInlineID {
		t.Errorf("introspection client_id %v, want %s", m["client_id"], pkInlineID)
	}
	wantActive(t, ps.post(oauth.PathIntrospect,
		withAssertion(inlineEC().assert(t, ps.claimsFor(pkInlineID)), "token", tok, "client_id", pkInlineID), ""))
	otherByIssuer := ps.claimsFor(pkURIID)
	otherByIssuer["aud"] = ps.URL
	wantInactive(t, ps.post(oauth.PathIntrospect, withAssertion(uriEC().assert(t, otherByIssuer), "token", tok), ""))
	wantActive(t, ps.introspectResp(tok, "")) // the resource server

	// Another client may not revoke the token; its owner may.
	r := ps.post(oauth.PathRevoke, withAssertion(uriRSA().assert(t, ps.claimsFor(pkURIID)), "token", tok), "")
	wantError(t, r, http.StatusBadRequest, "unauthorized_client")
	r = ps.post(oauth.PathRevoke, withAssertion(inlineRSA().assertWith(t, jwt.SigningMethodPS256, ps.claimsFor(pkInlineID)), "token", tok), "")
	if r.Status != http.StatusOK {
		t.Fatalf("revoke: status %d: %s", r.Status, r.Body)
	}
	wantInactive(t, ps.post(oauth.PathIntrospect, withAssertion(inlineRSA().assert(t, ps.claimsFor(pkInlineID)), "token", tok), ""))
	wantInactive(t, ps.introspectResp(tok, ""))
}

// TestPrivateKeyJWTRefused: every way an assertion can be wrong is
// invalid_client (401; RFC 7521 §4.2.1, RFC 7523 §3.2), with a description
// that repeats nothing of the request; a request mixing methods or sending
// half an assertion is invalid_request (400; RFC 6749 §2.3, §5.2).
func TestPrivateKeyJWTRefused(t *testing.T) {
	base := newPKServer(t)
	const marker = "evil-marker" // planted in the request; never in a response
	pubPEM := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(inlineRSA().priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	type build func(ts *pkServer, t *testing.T) (form, auth string)
	// edited returns a case whose assertion is pkInlineID's RS256 assertion
	// with the claims edited.
	edited := func(edit func(ts *pkServer, c jwt.MapClaims)) build {
		return func(ts *pkServer, t *testing.T) (string, string) {
			c := ts.claimsFor(pkInlineID)
			edit(ts, c)
			return withAssertion(inlineRSA().assert(t, c), "grant_type", "client_credentials"), ""
		}
	}
	// signed returns a case whose valid claims are signed as given.
	signed := func(method jwt.SigningMethod, key any, kid string, header map[string]any) build {
		return func(ts *pkServer, t *testing.T) (string, string) {
			a := sign(t, method, key, kid, ts.claimsFor(pkInlineID), header)
			return withAssertion(a, "grant_type", "client_credentials"), ""
		}
	}
	raw := func(form func(ts *pkServer, t *testing.T) string, auth string) build {
		return func(ts *pkServer, t *testing.T) (string, string) { return form(ts, t), auth }
	}
	valid := func(ts *pkServer, t *testing.T) string { return inlineRSA().assert(t, ts.claimsFor(pkInlineID)) }
	later := func(ts *pkServer, d time.Duration) int64 { return ts.Clock.Now().Add(d).Unix() }

	tests := []struct {
		name   string
		build  build
		status int
		code   string
		why    string // in the error_description
	}{
		// The signature.
		{"signed by another key under the client's kid", signed(jwt.SigningMethodRS256, rogueRSA().priv, "rsa-1", nil), 401, "invalid_client", "signature does not verify"},
		{"alg none", func(ts *pkServer, t *testing.T) (string, string) {
			a := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa-1", ts.claimsFor(pkInlineID), nil)
			return withAssertion(a, "grant_type", "client_credentials"), ""
		}, 401, "invalid_client", "must be signed with RS256, PS256 or ES256"},
		{"alg none, signature stripped from a valid assertion", raw(func(ts *pkServer, t *testing.T) string {
			a := valid(ts, t)
			parts := strings.Split(a, ".")
			hdr := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{})
			hdr.Header["kid"] = "rsa-1"
			h, _ := hdr.SigningString()
			return withAssertion(strings.Split(h, ".")[0]+"."+parts[1]+".", "grant_type", "client_credentials")
		}, ""), 401, "invalid_client", "must be signed with"},
		{"HS256 keyed with the client's public key (PEM)", signed(jwt.SigningMethodHS256, pubPEM, "rsa-1", nil), 401, "invalid_client", "must be signed with"},
		{"HS256 keyed with the client's public key (n)", func(ts *pkServer, t *testing.T) (string, string) {
			n := []byte(inlineRSA().jwk(t).N)
			a := sign(t, jwt.SigningMethodHS256, n, "rsa-1", ts.claimsFor(pkInlineID), nil)
			return withAssertion(a, "grant_type", "client_credentials"), ""
		}, 401, "invalid_client", "must be signed with"},
		{"RS512, not accepted", signed(jwt.SigningMethodRS512, inlineRSA().priv, "rsa-1", nil), 401, "invalid_client", "must be signed with"},
		{"ES256 under the RSA key's kid", signed(jwt.SigningMethodES256, inlineEC().priv, "rsa-1", nil), 401, "invalid_client", "no key of this client matches"},
		{"RS256 under the ES256 key's kid", signed(jwt.SigningMethodRS256, inlineRSA().priv, "ec-1", nil), 401, "invalid_client", "no key of this client matches"},
		{"unknown kid", signed(jwt.SigningMethodRS256, inlineRSA().priv, marker, nil), 401, "invalid_client", "no key of this client matches"},
		{"kid not a string", signed(jwt.SigningMethodRS256, inlineRSA().priv, "", map[string]any{"kid": 7}), 401, "invalid_client", "kid header is not a string"},
		{"no kid, client with two keys", signed(jwt.SigningMethodRS256, inlineRSA().priv, "", nil), 401, "invalid_client", "no key of this client matches"},
		{"crit header", signed(jwt.SigningMethodRS256, inlineRSA().priv, "rsa-1", map[string]any{"crit": []string{"exp"}}), 401, "invalid_client", "crit header"},
		{"jku header pointing elsewhere is not followed", signed(jwt.SigningMethodRS256, rogueRSA().priv, "rsa-1",
			map[string]any{"jku": "https://" + marker + ".example/jwks"}), 401, "invalid_client", "signature does not verify"},
		{"not a JWT", raw(func(*pkServer, *testing.T) string {
			return withAssertion(marker+".x.y", "grant_type", "client_credentials")
		}, ""), 401, "invalid_client", "not a well-formed JWT"},
		{"too long", raw(func(ts *pkServer, t *testing.T) string {
			c := ts.claimsFor(pkInlineID)
			c["pad"] = strings.Repeat("x", 9000)
			return withAssertion(inlineRSA().assert(t, c), "grant_type", "client_credentials")
		}, ""), 401, "invalid_client", "longer than 8192 bytes"},

		// The claims (RFC 7523 §3).
		{"iss is not sub", edited(func(_ *pkServer, c jwt.MapClaims) { c["iss"] = marker }), 401, "invalid_client", "iss must be the client_id"},
		{"iss missing", edited(func(_ *pkServer, c jwt.MapClaims) { delete(c, "iss") }), 401, "invalid_client", "iss must be the client_id"},
		{"sub another client", edited(func(_ *pkServer, c jwt.MapClaims) { c["sub"] = pkURIID }), 401, "invalid_client", "iss must be the client_id"},
		{"sub another client, client_id ours", func(ts *pkServer, t *testing.T) (string, string) {
			c := ts.claimsFor(pkInlineID)
			c["sub"] = pkURIID
			return withAssertion(inlineRSA().assert(t, c), "grant_type", "client_credentials", "client_id", pkInlineID), ""
		}, 401, "invalid_client", "sub must be the client_id"},
		{"iss and sub another client, signed with our key", edited(func(_ *pkServer, c jwt.MapClaims) { c["iss"], c["sub"] = pkURIID, pkURIID }), 401, "invalid_client", "no key of this client matches"},
		{"client_id differs from iss and sub", func(ts *pkServer, t *testing.T) (string, string) {
			return withAssertion(valid(ts, t), "grant_type", "client_credentials", "client_id", pkURIID), ""
		}, 401, "invalid_client", "iss must be the client_id"},
		{"sub missing", edited(func(_ *pkServer, c jwt.MapClaims) { delete(c, "sub") }), 401, "invalid_client", "no sub claim"},
		{"aud wrong", edited(func(_ *pkServer, c jwt.MapClaims) { c["aud"] = "https://" + marker + ".example/token" }), 401, "invalid_client", "aud must contain"},
		{"aud another endpoint of ours", edited(func(ts *pkServer, c jwt.MapClaims) { c["aud"] = ts.URL + oauth.PathIntrospect }), 401, "invalid_client", "aud must contain"},
		{"aud missing", edited(func(_ *pkServer, c jwt.MapClaims) { delete(c, "aud") }), 401, "invalid_client", "aud must contain"},
		{"exp missing", edited(func(_ *pkServer, c jwt.MapClaims) { delete(c, "exp") }), 401, "invalid_client", "no exp claim"},
		{"exp an hour ahead", edited(func(ts *pkServer, c jwt.MapClaims) { c["exp"] = later(ts, time.Hour) }), 401, "invalid_client", "expires too late"},
		{"exp just past the maximum lifetime and leeway", edited(func(ts *pkServer, c jwt.MapClaims) {
			c["exp"] = later(ts, 5*time.Minute+31*time.Second)
		}), 401, "invalid_client", "expires too late"},
		{"expired", edited(func(ts *pkServer, c jwt.MapClaims) {
			c["exp"], c["iat"] = later(ts, -time.Minute), later(ts, -2*time.Minute)
		}), 401, "invalid_client", "has expired"},
		{"exp not a number", edited(func(_ *pkServer, c jwt.MapClaims) { c["exp"] = marker }), 401, "invalid_client", "not a well-formed JWT"},
		{"nbf in the future", edited(func(ts *pkServer, c jwt.MapClaims) { c["nbf"] = later(ts, 2*time.Minute) }), 401, "invalid_client", "not valid yet"},
		{"iat in the future", edited(func(ts *pkServer, c jwt.MapClaims) { c["iat"] = later(ts, 2*time.Minute) }), 401, "invalid_client", "issued in the future"},
		{"jti missing", edited(func(_ *pkServer, c jwt.MapClaims) { delete(c, "jti") }), 401, "invalid_client", "no jti claim"},
		{"jti too long", edited(func(_ *pkServer, c jwt.MapClaims) { c["jti"] = strings.Repeat("j", 300) }), 401, "invalid_client", "jti is longer than"},

		// The client.
		{"unknown client", func(ts *pkServer, t *testing.T) (string, string) {
			c := ts.claimsFor(marker)
			return withAssertion(inlineRSA().assert(t, c), "grant_type", "client_credentials"), ""
		}, 401, "invalid_client", "client authentication failed"},
		{"client registered for client_secret_basic", func(ts *pkServer, t *testing.T) (string, string) {
			return withAssertion(inlineRSA().assert(t, ts.claimsFor(serviceID)), "grant_type", "client_credentials"), ""
		}, 401, "invalid_client", "must authenticate with client_secret_basic"},
		{"public client", func(ts *pkServer, t *testing.T) (string, string) {
			return withAssertion(inlineRSA().assert(t, ts.claimsFor(publicID)), "grant_type", "client_credentials"), ""
		}, 401, "invalid_client", "client authentication failed"},

		// The request.
		{"unknown client_assertion_type", raw(func(ts *pkServer, t *testing.T) string {
			return formOf("grant_type", "client_credentials", "client_assertion_type",
				"urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "client_assertion", valid(ts, t))
		}, ""), 401, "invalid_client", "client_assertion_type must be"},
		{"client_assertion_type with a marker", raw(func(ts *pkServer, t *testing.T) string {
			return formOf("grant_type", "client_credentials", "client_assertion_type", marker, "client_assertion", valid(ts, t))
		}, ""), 401, "invalid_client", "client_assertion_type must be"},
		{"client_assertion without its type", raw(func(ts *pkServer, t *testing.T) string {
			return formOf("grant_type", "client_credentials", "client_assertion", valid(ts, t))
		}, ""), 400, "invalid_request", "without client_assertion_type"},
		{"client_assertion_type without an assertion", raw(func(*pkServer, *testing.T) string {
			return formOf("grant_type", "client_credentials", "client_assertion_type", assertionType, "client_id", pkInlineID)
		}, ""), 400, "invalid_request", "without client_assertion"},
		{"assertion plus client_secret", raw(func(ts *pkServer, t *testing.T) string {
			return withAssertion(valid(ts, t), "grant_type", "client_credentials", "client_id", pkInlineID, "client_secret", marker)
		}, ""), 400, "invalid_request", "use one client authentication method"},
		{"assertion plus Basic", func(ts *pkServer, t *testing.T) (string, string) {
			return withAssertion(valid(ts, t), "grant_type", "client_credentials"), basic(serviceID, serviceSecret)
		}, 400, "invalid_request", "use one client authentication method"},
		{"assertion repeated", raw(func(ts *pkServer, t *testing.T) string {
			return withAssertion(valid(ts, t), "grant_type", "client_credentials", "client_assertion", valid(ts, t))
		}, ""), 400, "invalid_request", "repeated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := base.withT(t)
			form, auth := tc.build(ps, t)
			for _, path := range []string{oauth.PathToken, oauth.PathIntrospect, oauth.PathRevoke} {
				body := form
				if path != oauth.PathToken {
					body = strings.Replace(form, "grant_type=client_credentials", "token=x", 1)
				}
				r := ps.post(path, body, auth)
				wantError(t, r, tc.status, tc.code)
				if d := str(r.JSON(t), "error_description"); !strings.Contains(d, tc.why) {
					t.Errorf("%s: error_description %q, want one saying %q", path, d, tc.why)
				}
				wantNoStore(t, r)
				wantDescriptionCharset(t, r)
				if strings.Contains(r.Body, marker) {
					t.Errorf("%s: the response repeats the request: %s", path, r.Body)
				}
				wantChallenge(t, r)
			}
		})
	}
}

// TestPrivateKeyJWTRegisteredMethodNamed: a client registered for
// private_key_jwt that sends a secret is told which method it must use.
func TestPrivateKeyJWTRegisteredMethodNamed(t *testing.T) {
	ps := newPKServer(t)
	r := ps.post(oauth.PathToken, "grant_type=client_credentials", basic(pkInlineID, "guess-secret"))
	wantError(t, r, http.StatusUnauthorized, "invalid_client")
	wantChallenge(t, r)
	if d := str(r.JSON(t), "error_description"); !strings.Contains(d, "private_key_jwt") {
		t.Errorf("description %q does not name private_key_jwt", d)
	}
	r = ps.post(oauth.PathToken, formOf("grant_type", "client_credentials", "client_id", pkInlineID), "")
	wantError(t, r, http.StatusUnauthorized, "invalid_client")
}

// TestPrivateKeyJWTKeyCache: a jwks_uri is fetched once and cached; a kid
// the cached set lacks (the client rotated its keys) makes it be fetched
// again, at most once per refetch interval; the set is fetched again when
// its TTL runs out.
func TestPrivateKeyJWTKeyCache(t *testing.T) {
	ps := newPKServer(t)
	rsa1, rsa2 := uriRSA(), uriRSA2()
	ok := func(k clientKey, what string) {
		t.Helper()
		mustOK(t, what, ps.ccAssert(k.assert(t, ps.claimsFor(pkURIID))))
	}
	refused := func(k clientKey, what string) {
		t.Helper()
		wantError(t, ps.ccAssert(k.assert(t, ps.claimsFor(pkURIID))), http.StatusUnauthorized, "invalid_client")
	}
	fetches := func(want int32, after string) {
		t.Helper()
		if got := ps.host.Fetches.Load(); got != want {
			t.Fatalf("%d fetches of the jwks_uri after %s, want %d", got, after, want)
		}
	}

	for range 3 {
		ok(rsa1, "cached key")
	}
	fetches(1, "three requests")

	// The client rotates: it publishes its new key and signs with it.
	ps.host.publish(jwkSet(t, rsa2, uriEC()))
	refused(rsa2, "new kid within the refetch interval")
	fetches(1, "a new kid within the refetch interval (rate-limited)")
	ps.Clock.Advance(11 * time.Second)
	ok(rsa2, "new kid after the refetch interval")
	fetches(2, "a new kid")
	ok(rsa2, "new key, cached")
	refused(rsa1, "withdrawn key")
	fetches(2, "the withdrawn kid within the interval")

	// The set is fetched again after its TTL.
	ps.Clock.Advance(5 * time.Minute)
	ok(uriEC(), "after the TTL")
	fetches(3, "the TTL")

	// While the jwks_uri is down, the keys fetched before keep working.
	ps.host.answer(http.StatusServiceUnavailable, "")
	ps.Clock.Advance(5 * time.Minute)
	ok(rsa2, "stale key while the jwks_uri is down")
	fetches(4, "the refetch that failed")
}

// TestPrivateKeyJWTKeySetFailures: a jwks_uri that cannot be fetched is
// the client's keys unknown, not wrong: 503 temporarily_unavailable with
// Retry-After. A document that is not a usable JWK Set is the client's
// fault: invalid_client. Without a fetcher, jwks_uri clients are a server
// misconfiguration: server_error.
func TestPrivateKeyJWTKeySetFailures(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(h *keyHost)
		status int
		code   string
	}{
		{"server down", func(h *keyHost) { h.Close() }, 503, "temporarily_unavailable"},
		{"HTTP 500", func(h *keyHost) { h.answer(http.StatusInternalServerError, "") }, 503, "temporarily_unavailable"},
		{"HTTP 404", func(h *keyHost) { h.answer(http.StatusNotFound, "") }, 503, "temporarily_unavailable"},
		{"oversize response", func(h *keyHost) {
			h.answer(0, `{"keys":[],"pad":"`+strings.Repeat("x", 64<<10)+`"}`)
		}, 401, "invalid_client"},
		{"not JSON", func(h *keyHost) { h.answer(0, "<html>evil-marker</html>") }, 401, "invalid_client"},
		{"no usable key", func(h *keyHost) { h.answer(0, `{"keys":[{"kty":"oct","kid":"uri-rsa-1","k":"c2VjcmV0"}]}`) }, 401, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := newPKServer(t)
			tc.setup(ps.host)
			r := ps.ccAssert(uriRSA().assert(t, ps.claimsFor(pkURIID)))
			wantError(t, r, tc.status, tc.code)
			wantNoStore(t, r)
			if strings.Contains(r.Body, "evil-marker") {
				t.Errorf("the response repeats the key set: %s", r.Body)
			}
			if tc.status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}

	t.Run("no fetcher configured", func(t *testing.T) {
		host := newKeyHost(t, jwkSet(t, uriRSA()))
		ts := newTestServer(t) // no JWKSFetcher
		registerPKClients(t, ts.Store, host.uri())
		wantError(t, ts.ccAssert(uriRSA().assert(t, ts.claimsFor(pkURIID))), http.StatusInternalServerError, "server_error")
		// Inline keys need no fetcher.
		mustOK(t, "inline keys", ts.ccAssert(inlineRSA().assert(t, ts.claimsFor(pkInlineID))))
		if n := host.Fetches.Load(); n != 0 {
			t.Errorf("%d fetches", n)
		}
	})

	t.Run("cheap checks first: no fetch for a stale assertion", func(t *testing.T) {
		ps := newPKServer(t)
		c := ps.claimsFor(pkURIID)
		c["exp"] = ps.Clock.Now().Add(-time.Hour).Unix()
		wantError(t, ps.ccAssert(uriRSA().assert(t, c)), http.StatusUnauthorized, "invalid_client")
		if n := ps.host.Fetches.Load(); n != 0 {
			t.Errorf("%d fetches for an expired assertion, want 0", n)
		}
	})
}

// TestPrivateKeyJWTMaxLifetime: Config.MaxClientAssertionLifetime bounds
// how far ahead exp may be.
func TestPrivateKeyJWTMaxLifetime(t *testing.T) {
	ps := newPKServer(t, func(c *oauth.Config) { c.MaxClientAssertionLifetime = time.Hour })
	c := ps.claimsFor(pkInlineID)
	c["exp"] = ps.Clock.Now().Add(50 * time.Minute).Unix()
	mustOK(t, "a 50-minute assertion under a 1-hour maximum", ps.ccAssert(inlineRSA().assert(t, c)))
	c = ps.claimsFor(pkInlineID)
	c["exp"] = ps.Clock.Now().Add(2 * time.Hour).Unix()
	wantError(t, ps.ccAssert(inlineRSA().assert(t, c)), http.StatusUnauthorized, "invalid_client")
}

// FuzzClientAssertion feeds arbitrary client_assertion values (and types)
// to the token endpoint, in process, for a private_key_jwt client. Under
// plain `go test` it runs its seeds; run `go test -fuzz
// FuzzClientAssertion ./shared/httpapi` to explore. No input may cause a
// server error or a non-JSON answer, and only a genuine assertion gets a
// token.
func FuzzClientAssertion(f *testing.F) {
	p := newInProcess(f)
	registerPKClients(f, p.store, "https://keys.invalid/jwks.json")
	now := p.clock.Now()
	claims := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": pkInlineID, "sub": pkInlineID, "aud": inProcessIssuer + oauth.PathToken,
			"exp": now.Add(time.Minute).Unix(), "jti": oauth.RandomToken()[:22]}
	}
	good := inlineRSA().assert(f, claims())
	parts := strings.Split(good, ".")
	for _, a := range []string{
		good,
		inlineEC().assert(f, claims()),
		inlineRSA().assertWith(f, jwt.SigningMethodPS256, claims()),
		sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa-1", claims(), nil),
		sign(f, jwt.SigningMethodHS256, []byte("secret"), "rsa-1", claims(), nil),
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		parts[0] + ".." + parts[2],
		"." + parts[1] + "." + parts[2],
		"eyJhbGciOiJSUzI1NiJ9.e30.",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJway1pbmxpbmUifQ.",
		"eyJhbGciOiJFUzI1NiIsImtpZCI6eyJhIjoxfX0.e30.AAAA",
		"a.b.c", "...", "", "\x00", strings.Repeat("a.", 1000),
	} {
		f.Add(a, assertionType)
	}
	f.Add(good, "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
	f.Fuzz(func(t *testing.T, assertion, typ string) {
		body := formOf("grant_type", "client_credentials", "client_assertion_type", typ, "client_assertion", assertion)
		w := p.serve(http.MethodPost, oauth.PathToken, formType, body, "")
		if w.Code >= 500 {
			t.Fatalf("status %d for assertion %q type %q: %s", w.Code, assertion, typ, w.Body)
		}
		if w.Code == http.StatusOK && (assertion != good || typ != assertionType) && !validAssertion(assertion) {
			t.Fatalf("a token for assertion %q type %q", assertion, typ)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("status %d, body not JSON: %q", w.Code, w.Body)
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("status %d without Cache-Control: no-store", w.Code)
		}
	})
}

// validAssertion reports whether a is a genuine assertion of pkInlineID:
// signed by one of its keys. (The fuzzer cannot forge one, but it may
// reuse a seed's signature on the same header and claims.)
func validAssertion(a string) bool {
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256", "PS256", "ES256"}), jwt.WithoutClaimsValidation()).
		Parse(a, func(t *jwt.Token) (any, error) {
			if t.Method.Alg() == "ES256" {
				return inlineEC().priv.Public(), nil
			}
			return inlineRSA().priv.Public(), nil
		})
	return err == nil
}
