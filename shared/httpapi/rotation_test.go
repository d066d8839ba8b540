package httpapi_test

// Key rotation with KMS (kmssigner's package doc, "Key rotation"): each
// step of the procedure is a new deployment of containers on the same
// store, configured with a signing key and verification-only keys
// (kmssigner.Config.VerifyKeys, GATEHOUSE_KMS_VERIFY_KEYS).

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
)

// headerOf returns a token's JWS header, unverified.
func headerOf(t *testing.T, token string) map[string]any {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("not a JWT: %v", err)
	}
	return tok.Header
}

// accessClaims are the claims of a valid client credentials access token of
// ts's deployment at its clock.
func (ts *testServer) accessClaims() jwt.MapClaims {
	now := ts.Clock.Now()
	return jwt.MapClaims{
		"iss": ts.issuer(), "sub": serviceID, "aud": []string{ts.issuer()},
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
		"jti": oauth.RandomToken()[:22], "client_id": serviceID, "scope": "read",
	}
}

// signWith signs claims as Gatehouse does (typ at+jwt, the signer's
// algorithm and kid) through any signer, with header overrides (nil
// deletes a header).
func signWith(t *testing.T, s oauth.Signer, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(s.Algorithm()), claims)
	tok.Header["typ"] = oauth.AccessTokenType
	tok.Header["kid"] = mustKID(t, s)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	input, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(context.Background(), []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + tok.EncodeSegment(sig)
}

// TestKMSKeyRotation walks a rotation from K1 to K2 on one store: K1
// signs; then containers sign with K2 and keep K1 as a verify key, so K1's
// tokens stay valid (introspection, the resource middleware) while new
// tokens carry K2's kid and the JWKS lists both; a key K3 that is in no
// configuration is never trusted; once K1 is retired, its tokens are
// rejected.
func TestKMSKeyRotation(t *testing.T) {
	k := kmstest.NewServer(t)
	k1, k2, k3 := k.CreateKey("RSA_2048"), k.CreateKey("RSA_2048"), k.CreateKey("RSA_2048")
	kid1, kid2, kid3 := kidOf(t, k.PublicKey(k1)), kidOf(t, k.PublicKey(k2)), kidOf(t, k.PublicKey(k3))
	d := newDeployment()

	// Before: K1 signs. A client credentials token, and a grant's access
	// and refresh tokens.
	c1 := d.container(t, newKMSSigner(t, k, "RS256", k1))
	cc1 := str(c1.ccToken("read"), "access_token")
	grant1 := c1.tokens("read write")
	at1, rt1 := str(grant1, "access_token"), str(grant1, "refresh_token")
	for _, tok := range []string{cc1, at1} {
		if kid := headerOf(t, tok)["kid"]; kid != kid1 {
			t.Fatalf("a token of K1 has kid %v, want %s", kid, kid1)
		}
	}

	// A token signed by K3, a key on the same KMS that no configuration
	// names, under its own kid and under K2's.
	k3Signer := newKMSSigner(t, k, "RS256", k3)
	forgedOwnKid := signWith(t, k3Signer, c1.accessClaims(), nil)
	forgedK2Kid := signWith(t, k3Signer, c1.accessClaims(), map[string]any{"kid": kid2})
	if headerOf(t, forgedOwnKid)["kid"] != kid3 {
		t.Fatal("the K3 token does not carry K3's kid")
	}

	// Rotation: K2 signs (named by its ARN), K1 is a verify key.
	c2 := d.container(t, newKMSSigner(t, k, "RS256", kmstest.KeyARN(k2), k1))
	api2 := resourceAPI(t, c2)
	t.Run("rotated", func(t *testing.T) {
		c2 := c2.withT(t)
		kids, algs := c2.jwksKids()
		if !slices.Equal(kids, []string{kid2, kid1}) || algs[kid1] != "RS256" || algs[kid2] != "RS256" {
			t.Errorf("JWKS kids %v (algs %v), want the signing key K2 %s then K1 %s", kids, algs, kid2, kid1)
		}
		// K1's tokens: still valid, at introspection, at the resource
		// server and against the served JWKS.
		for _, tok := range []string{cc1, at1} {
			wantActive(t, c2.introspectResp(tok, ""))
			wantAPI(t, api2, tok, http.StatusOK)
			c2.verifyWithJWKS(tok)
		}

		// New tokens carry K2's kid: client credentials, and the refresh
		// of the grant K1 started.
		cc2 := str(c2.ccToken("read"), "access_token")
		next := mustOK(t, "refresh of a K1 grant", c2.refresh(rt1, ""))
		for _, tok := range []string{cc2, str(next, "access_token")} {
			if h := headerOf(t, tok); h["kid"] != kid2 || h["alg"] != "RS256" {
				t.Errorf("a new token's header %v, want kid %s (K2)", h, kid2)
			}
			wantActive(t, c2.introspectResp(tok, ""))
			wantAPI(t, api2, tok, http.StatusOK)
			verifyWithJose(t, c2.jwksBody(), tok, c2.issuer(), c2.Clock.Now())
		}

		// K3 is trusted nowhere.
		for _, tok := range []string{forgedOwnKid, forgedK2Kid} {
			wantInactive(t, c2.introspectResp(tok, ""))
			wantAPI(t, api2, tok, http.StatusUnauthorized)
		}
	})

	// The K1 container still running during the deployment does not know
	// K2: that is why the procedure first adds K2 as a verify key
	// everywhere. A container of that first step trusts K2's tokens while
	// still signing with K1.
	t.Run("step 1: K2 announced before it signs", func(t *testing.T) {
		cc2 := str(c2.withT(t).ccToken("read"), "access_token")
		wantInactive(t, c1.withT(t).introspectResp(cc2, ""))
		pre := d.container(t, newKMSSigner(t, k, "RS256", k1, k2))
		if kids, _ := pre.jwksKids(); !slices.Equal(kids, []string{kid1, kid2}) {
			t.Errorf("step 1 JWKS kids %v, want K1 %s then K2 %s", kids, kid1, kid2)
		}
		wantActive(t, pre.introspectResp(cc2, ""))
		wantActive(t, pre.introspectResp(cc1, ""))
		if kid := headerOf(t, str(pre.ccToken("read"), "access_token"))["kid"]; kid != kid1 {
			t.Errorf("step 1 signs with kid %v, want K1's %s", kid, kid1)
		}
	})

	// Retirement: K1 is dropped from the configuration.
	c3 := d.container(t, newKMSSigner(t, k, "RS256", k2))
	api3 := resourceAPI(t, c3)
	t.Run("retired", func(t *testing.T) {
		c3 := c3.withT(t)
		if kids, _ := c3.jwksKids(); !slices.Equal(kids, []string{kid2}) {
			t.Errorf("JWKS kids %v, want only K2 %s", kids, kid2)
		}
		for _, tok := range []string{cc1, at1} {
			wantInactive(t, c3.introspectResp(tok, ""))
			wantAPI(t, api3, tok, http.StatusUnauthorized)
		}
		cc2 := str(c3.ccToken("read"), "access_token")
		wantActive(t, c3.introspectResp(cc2, ""))
		wantAPI(t, api3, cc2, http.StatusOK)
		for _, tok := range []string{forgedOwnKid, forgedK2Kid} {
			wantInactive(t, c3.introspectResp(tok, ""))
			wantAPI(t, api3, tok, http.StatusUnauthorized)
		}
	})
}

// TestKMSVerifyKeyOfAnotherAlgorithm: a deployment moving from ES256 to
// RS256 keeps its ES256 key as a verify key written "keyID=ES256": the
// JWKS publishes it as an EC key for ES256 beside the RSA signing key, and
// its tokens stay valid. The alg of a kid is the configured one: a token
// naming the EC key's kid with another alg is rejected. Without "=ES256"
// the verify key is taken for RS256, and that misconfiguration is a
// server_error, never a silently accepted or rejected token.
func TestKMSVerifyKeyOfAnotherAlgorithm(t *testing.T) {
	k := kmstest.NewServer(t)
	ec, rsaKey := k.CreateKey("ECC_NIST_P256"), k.CreateKey("RSA_2048")
	kidEC, kidRSA := kidOf(t, k.PublicKey(ec)), kidOf(t, k.PublicKey(rsaKey))
	d := newDeployment()

	before := d.container(t, newKMSSigner(t, k, "ES256", ec))
	ccEC := str(before.ccToken("read"), "access_token")
	if h := headerOf(t, ccEC); h["alg"] != "ES256" || h["kid"] != kidEC {
		t.Fatalf("ES256 token header %v", h)
	}

	after := d.container(t, newKMSSigner(t, k, "RS256", rsaKey, ec+"=ES256"))
	api := resourceAPI(t, after)
	set := after.jwks()
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2", len(set.Keys))
	}
	for i, want := range []struct{ kid, alg, kty string }{{kidRSA, "RS256", "RSA"}, {kidEC, "ES256", "EC"}} {
		if got := set.Keys[i]; got.Kid != want.kid || got.Alg != want.alg || got.Kty != want.kty {
			t.Errorf("JWKS key %d: kid %s alg %s kty %s, want %+v", i, got.Kid, got.Alg, got.Kty, want)
		}
	}

	ccRSA := str(after.ccToken("read"), "access_token")
	if h := headerOf(t, ccRSA); h["alg"] != "RS256" || h["kid"] != kidRSA {
		t.Errorf("new token header %v, want RS256 with kid %s", h, kidRSA)
	}
	for _, tok := range []string{ccEC, ccRSA} {
		wantActive(t, after.introspectResp(tok, ""))
		wantAPI(t, api, tok, http.StatusOK)
		verifyWithJose(t, after.jwksBody(), tok, after.issuer(), after.Clock.Now())
	}

	// The EC key's kid with RS256, signed by the RSA signing key: the alg
	// does not match the key's.
	mixed := signWith(t, after.Signer, after.accessClaims(), map[string]any{"kid": kidEC})
	wantInactive(t, after.introspectResp(mixed, ""))
	wantAPI(t, api, mixed, http.StatusUnauthorized)

	t.Run("without =ES256", func(t *testing.T) {
		wrong := d.container(t, newKMSSigner(t, k, "RS256", rsaKey, ec))
		wantError(t, wrong.get(nil, oauth.PathJWKS), http.StatusInternalServerError, oauth.CodeServerError)
		wantError(t, wrong.introspectResp(ccEC, ""), http.StatusInternalServerError, oauth.CodeServerError)
	})
}
