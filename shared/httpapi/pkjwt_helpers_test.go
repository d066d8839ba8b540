package httpapi_test

// Fixtures for the private_key_jwt tests (RFC 7523 §2.2): client key pairs,
// clients registered with inline keys (jwks) or a jwks_uri served by an
// httptest server, and assertions signed with golang-jwt (x/oauth2's
// clientcredentials package cannot do private_key_jwt).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/shared/jwks"
	"github.com/gatehouse/gatehouse/shared/jwks/jwkstest"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The private_key_jwt clients: pkInlineID registers its keys inline (an
// RSA key without alg, for RS256 and PS256, and an ES256 key), pkURIID at
// a jwks_uri, pkSingleID a single key (assertions may omit the kid).
const (
	pkInlineID = "pk-inline"
	pkURIID    = "pk-uri"
	pkSingleID = "pk-single"
	jwksPath   = "/client/jwks.json"
	// assertionType is client_assertion_type for a JWT (RFC 7523 §2.2).
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// clientKey is a client's key pair and the kid it publishes it under.
type clientKey struct {
	kid  string
	alg  string // the JWK's alg; "" leaves it out
	priv crypto.Signer
}

func newRSAKey(kid string) func() clientKey {
	return sync.OnceValue(func() clientKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return clientKey{kid: kid, priv: k}
	})
}

func newECKey(kid string) func() clientKey {
	return sync.OnceValue(func() clientKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return clientKey{kid: kid, alg: "ES256", priv: k}
	})
}

// Keys are generated once per test binary; RSA key generation is slow.
var (
	inlineRSA = newRSAKey("rsa-1")
	inlineEC  = newECKey("ec-1")
	uriRSA    = newRSAKey("uri-rsa-1")
	uriRSA2   = newRSAKey("uri-rsa-2") // the key pkURIID rotates to
	uriEC     = newECKey("uri-ec-1")
	rogueRSA  = newRSAKey("rsa-1") // never registered; claims pkInlineID's kid
)

func (k clientKey) jwk(t testing.TB) oauth.JWK {
	t.Helper()
	j, err := oauth.NewJWK(k.priv.Public(), k.kid, k.alg)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func jwkSet(t testing.TB, keys ...clientKey) *oauth.JWKS {
	t.Helper()
	set := &oauth.JWKS{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk(t))
	}
	return set
}

// sign signs claims with key and method, kid in the header unless empty;
// header values override (nil deletes).
func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assert signs claims with k (RS256 for RSA keys, ES256 for EC keys).
func (k clientKey) assert(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	return k.assertWith(t, k.method(), claims)
}

func (k clientKey) assertWith(t testing.TB, method jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	return sign(t, method, k.priv, k.kid, claims, nil)
}

func (k clientKey) method() jwt.SigningMethod {
	if _, ok := k.priv.(*ecdsa.PrivateKey); ok {
		return jwt.SigningMethodES256
	}
	return jwt.SigningMethodRS256
}

// claimsFor are valid assertion claims of client id at the server's time
// (RFC 7523 §3): iss and sub the client, aud the token endpoint, a minute
// to live, a fresh jti.
func (ts *testServer) claimsFor(id string) jwt.MapClaims {
	now := ts.Clock.Now()
	return jwt.MapClaims{
		"iss": id, "sub": id, "aud": ts.URL + oauth.PathToken,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		"jti": oauth.RandomToken()[:22],
	}
}

// withAssertion returns form pairs authenticating with assertion.
func withAssertion(assertion string, pairs ...string) string {
	return formOf(append(pairs, "client_assertion_type", assertionType, "client_assertion", assertion)...)
}

// ccAssert asks for a client credentials token with an assertion and extra
// form pairs.
func (ts *testServer) ccAssert(assertion string, extra ...string) response {
	ts.t.Helper()
	return ts.post(oauth.PathToken, withAssertion(assertion, append([]string{"grant_type", "client_credentials"}, extra...)...), "")
}

// keyHost is a client's web server publishing its JWK Set at jwksPath.
type keyHost struct{ *jwkstest.Server }

func newKeyHost(t testing.TB, set *oauth.JWKS) *keyHost {
	t.Helper()
	return &keyHost{jwkstest.NewServer(t, jwksPath, set.Keys...)}
}

// publish replaces the published set.
func (h *keyHost) publish(set *oauth.JWKS) { h.SetKeys(set.Keys...) }

// answer makes the host answer with status, or with body (0, "": the set).
func (h *keyHost) answer(status int, body string) {
	h.SetStatus(status)
	h.SetBody(body)
}

func (h *keyHost) uri() string { return h.URL + jwksPath }

// withFetcher gives the server a JWKS fetcher (shared/jwks, as the wiring
// does) on the server's clock.
func withFetcher(c *oauth.Config) {
	c.JWKSFetcher = jwks.NewClientFetcher(jwks.Options{Logger: slog.New(slog.DiscardHandler), Now: c.Now})
}

// pkServer is a test server with the private_key_jwt clients registered
// and pkURIID's keys (uriRSA, uriEC) published by host.
type pkServer struct {
	*testServer
	host *keyHost
}

func newPKServer(t *testing.T, configure ...func(*oauth.Config)) *pkServer {
	t.Helper()
	host := newKeyHost(t, jwkSet(t, uriRSA(), uriEC()))
	ts := newTestServer(t, append([]func(*oauth.Config){withFetcher}, configure...)...)
	registerPKClients(t, ts.Store, host.uri())
	return &pkServer{testServer: ts, host: host}
}

func (ps *pkServer) withT(t *testing.T) *pkServer {
	c := *ps
	c.testServer = ps.testServer.withT(t)
	return &c
}

// registerPKClients registers the private_key_jwt clients, pkURIID's keys
// at uri.
func registerPKClients(t testing.TB, admin storeAdmin, uri string) {
	t.Helper()
	for _, c := range []*oauth.Client{
		pkClient(pkInlineID, jwkSet(t, inlineRSA(), inlineEC()), ""),
		pkClient(pkURIID, nil, uri),
		pkClient(pkSingleID, jwkSet(t, inlineEC()), ""),
	} {
		if err := admin.PutClient(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
}

func pkClient(id string, set *oauth.JWKS, uri string) *oauth.Client {
	return &oauth.Client{ID: id, Name: id, GrantTypes: []string{oauth.GrantClientCredentials},
		Scopes: []string{"read", "write"}, TokenEndpointAuthMethod: oauth.AuthMethodPrivateKeyJWT,
		JWKS: set, JWKSURI: uri}
}
