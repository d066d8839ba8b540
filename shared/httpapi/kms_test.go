package httpapi_test

// End-to-end tests of Gatehouse signing through AWS KMS: the server signs
// with kmssigner, whose client (the AWS SDK's) talks KMS's JSON protocol to
// the kmstest double. Tokens are checked the way their consumers check them
// (golang-jwt with the key from GetPublicKey, golang-jwt and go-jose with
// the served JWKS, introspection, the shared/resource middleware), and KMS
// faults are injected to check what the client gets and what is left
// behind. The helpers here are shared with rotation_test.go,
// verify_test.go and kms_budget_test.go.

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/resource"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// kmsAlgs are the JWS algorithms kmssigner supports, and kmsKeySpec the
// KMS key spec each is tested with.
var (
	kmsAlgs    = []string{"RS256", "PS256", "ES256"}
	kmsKeySpec = map[string]string{"RS256": "RSA_2048", "PS256": "RSA_2048", "ES256": "ECC_NIST_P256"}
)

// newKMSSigner returns a kmssigner on the double that signs with keyID (a
// key id, key ARN, alias or alias ARN) and also trusts the verification-only
// keys verify ("keyID" or "keyID=ALG"). Like a new Lambda container, it
// has fetched nothing yet.
// It calls the double through Server.Client, which makes no retries, so
// one KMS operation is one request, even when it fails.
func newKMSSigner(t *testing.T, k *kmstest.Server, alg, keyID string, verify ...string) *kmssigner.Signer {
	t.Helper()
	return kmsSignerOn(t, k.Client(t), alg, keyID, verify...)
}

// kmsSignerOn is newKMSSigner on another KMS client.
func kmsSignerOn(t *testing.T, client kmssigner.API, alg, keyID string, verify ...string) *kmssigner.Signer {
	t.Helper()
	s, err := kmssigner.New(kmssigner.Config{Client: client, Algorithm: alg, SigningKeyID: keyID, VerifyKeys: verify})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// kmsPublicKey returns a key's public half as KMS's GetPublicKey reports
// it on the wire (one GetPublicKey call on the double, through the SDK's
// client, apart from kmssigner): the PublicKey member, a base64 DER
// SubjectPublicKeyInfo.
func kmsPublicKey(t *testing.T, k *kmstest.Server, keyID string) crypto.PublicKey {
	t.Helper()
	out, err := k.Client(t).GetPublicKey(context.Background(), &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		t.Fatalf("GetPublicKey %s: %v", keyID, err)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(k.PublicKey(keyID)) {
		t.Fatalf("GetPublicKey %s is not the double's key", keyID)
	}
	return pub
}

// kidOf is the kid Gatehouse gives a key: its RFC 7638 thumbprint.
func kidOf(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	kid, err := oauth.Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

// deployment is one Gatehouse deployment: a memstore (behind a writeLog), a
// clock and an issuer, shared by its containers. Each container is a test
// server with its own signer, as each Lambda container has its own
// kmssigner and public-key cache; containers meet only in the store and in
// KMS.
type deployment struct {
	mem    *memstore.Store
	log    *writeLog
	clock  *clock
	issuer string
}

func newDeployment() *deployment {
	clk := &clock{now: time.Now().Truncate(time.Second)}
	mem := memstore.New()
	mem.Now = clk.Now
	return &deployment{mem: mem, log: &writeLog{Store: mem}, clock: clk}
}

// container starts a server of the deployment signing with signer. The
// first container's URL becomes the deployment's issuer; later ones serve
// on their own URL under that issuer, as containers behind one API do.
// Browser flows (authorize) work on the first container only, since they
// redirect to the issuer.
func (d *deployment) container(t *testing.T, signer oauth.Signer, configure ...func(*oauth.Config)) *testServer {
	t.Helper()
	if d.issuer != "" {
		issuer := d.issuer
		configure = append([]func(*oauth.Config){func(c *oauth.Config) { c.Issuer = issuer }}, configure...)
	}
	ts := startServerOn(t, signer, backend{store: d.log, admin: d.mem, clock: d.clock}, configure...)
	ts.Store = d.mem
	if d.issuer == "" {
		d.issuer = ts.URL
	}
	return ts
}

// issuer is the server's issuer (its URL, unless it is a later container).
func (ts *testServer) issuer() string { return ts.OAuth.Config().Issuer }

// writeLog is an oauth.Store over memstore that records every write the
// grant library attempts and the hash of every refresh token it stored, so
// a test can tell that a failed request persisted nothing and that the
// store holds no refresh token the client never received.
type writeLog struct {
	*memstore.Store

	mu      sync.Mutex
	writes  []string
	refresh []string // hashes of the refresh tokens stored, in order
}

func (w *writeLog) add(op string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, op)
}

func (w *writeLog) stored(rt *oauth.RefreshToken, err error) error {
	if rt != nil && err == nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.refresh = append(w.refresh, rt.Hash)
	}
	return err
}

func (w *writeLog) CreateCode(ctx context.Context, c *oauth.AuthorizationCode, change *oauth.SessionChange) error {
	w.add("CreateCode")
	return w.Store.CreateCode(ctx, c, change)
}

func (w *writeLog) RedeemCode(ctx context.Context, codeHash, grantID string, first *oauth.RefreshToken) error {
	w.add("RedeemCode")
	return w.stored(first, w.Store.RedeemCode(ctx, codeHash, grantID, first))
}

func (w *writeLog) CreateRefreshToken(ctx context.Context, rt *oauth.RefreshToken) error {
	w.add("CreateRefreshToken")
	return w.stored(rt, w.Store.CreateRefreshToken(ctx, rt))
}

func (w *writeLog) RotateRefreshToken(ctx context.Context, oldHash string, next *oauth.RefreshToken) error {
	w.add("RotateRefreshToken")
	return w.stored(next, w.Store.RotateRefreshToken(ctx, oldHash, next))
}

func (w *writeLog) RevokeGrant(ctx context.Context, grantID string, keepUntil time.Time) error {
	w.add("RevokeGrant")
	return w.Store.RevokeGrant(ctx, grantID, keepUntil)
}

func (w *writeLog) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	w.add("RevokeAccessToken")
	return w.Store.RevokeAccessToken(ctx, jti, expiresAt)
}

func (w *writeLog) UseAssertionID(ctx context.Context, clientID, jti string, expiresAt time.Time) error {
	w.add("UseAssertionID")
	return w.Store.UseAssertionID(ctx, clientID, jti, expiresAt)
}

func (w *writeLog) CreateSession(ctx context.Context, s *oauth.Session) error {
	w.add("CreateSession")
	return w.Store.CreateSession(ctx, s)
}

func (w *writeLog) DeleteSession(ctx context.Context, hash string) error {
	w.add("DeleteSession")
	return w.Store.DeleteSession(ctx, hash)
}

// logMark is a point in a writeLog: how many writes and stored refresh
// tokens it had recorded.
type logMark struct{ writes, refresh int }

func (w *writeLog) mark() logMark {
	w.mu.Lock()
	defer w.mu.Unlock()
	return logMark{len(w.writes), len(w.refresh)}
}

// writesSince returns the writes attempted after m.
func (w *writeLog) writesSince(m logMark) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.writes[m.writes:])
}

// unreceivedSince returns the hashes of the refresh tokens stored after m
// that are not among received: records of tokens nobody holds.
func (w *writeLog) unreceivedSince(m logMark, received ...string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, h := range w.refresh[m.refresh:] {
		if !slices.ContainsFunc(received, func(rt string) bool { return oauth.HashToken(rt) == h }) {
			out = append(out, h)
		}
	}
	return out
}

// jwksBody fetches the served JWK Set over HTTP and returns it raw.
func (ts *testServer) jwksBody() []byte {
	ts.t.Helper()
	r := ts.get(nil, oauth.PathJWKS)
	if r.Status != http.StatusOK {
		ts.t.Fatalf("jwks: status %d: %s", r.Status, r.Body)
	}
	return []byte(r.Body)
}

// jwksKids returns the kids of the served JWKS, in order, and each key's
// alg.
func (ts *testServer) jwksKids() (kids []string, algs map[string]string) {
	ts.t.Helper()
	algs = map[string]string{}
	for _, k := range ts.jwks().Keys {
		kids = append(kids, k.Kid)
		algs[k.Kid] = k.Alg
	}
	return kids, algs
}

// verifyWithKey verifies an access token with golang-jwt against one public
// key: the signature with alg only, typ at+jwt, the kid, and iss, aud, exp
// and iat at time now. It returns the claims.
func verifyWithKey(t *testing.T, token, alg string, key crypto.PublicKey, kid, issuer string, now time.Time) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.NewParser(
		jwt.WithValidMethods([]string{alg}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	).ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil {
		t.Fatalf("golang-jwt with the KMS public key: %v", err)
	}
	if parsed.Header["typ"] != oauth.AccessTokenType || parsed.Header["kid"] != kid {
		t.Errorf("header %v: want typ %s and kid %s", parsed.Header, oauth.AccessTokenType, kid)
	}
	return claims
}

// verifyWithJWKS verifies an access token with golang-jwt against the key
// the served JWKS publishes under the token's kid (decoded by oauth.JWK),
// allowing only that key's alg, at the server's clock. It returns the
// header and claims.
func (ts *testServer) verifyWithJWKS(token string) (map[string]any, jwt.MapClaims) {
	ts.t.Helper()
	set := ts.jwks()
	claims := jwt.MapClaims{}
	var key oauth.JWK
	unverified, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		ts.t.Fatalf("not a JWT: %v", err)
	}
	for _, k := range set.Keys {
		if k.Kid != "" && k.Kid == unverified.Header["kid"] {
			key = k
		}
	}
	if key.Kid == "" {
		ts.t.Fatalf("the served JWKS has no key %v (it has %d keys)", unverified.Header["kid"], len(set.Keys))
	}
	parsed, err := jwt.NewParser(
		jwt.WithValidMethods([]string{key.Alg}),
		jwt.WithIssuer(ts.issuer()),
		jwt.WithAudience(ts.issuer()),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(ts.Clock.Now),
	).ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return key.PublicKey() })
	if err != nil {
		ts.t.Fatalf("golang-jwt with the served JWKS: %v", err)
	}
	return parsed.Header, claims
}

// verifyWithJose verifies an access token with go-jose v4 alone, an
// implementation independent of golang-jwt and of oauth.JWK: go-jose
// parses the JWKS (jose.JSONWebKeySet), picks the key by kid, checks the
// signature and validates iss, aud, exp, nbf and iat at time now, without
// leeway. It returns the claims.
func verifyWithJose(t *testing.T, jwksBody []byte, token, issuer string, now time.Time) map[string]any {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwksBody, &set); err != nil {
		t.Fatalf("go-jose cannot read the JWKS: %v: %s", err, jwksBody)
	}
	tok, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256})
	if err != nil {
		t.Fatalf("go-jose cannot parse the token: %v", err)
	}
	h := tok.Headers[0]
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("go-jose finds %d keys for kid %q in the JWKS, want 1", len(keys), h.KeyID)
	}
	if keys[0].Algorithm != h.Algorithm || keys[0].Use != "sig" || !keys[0].IsPublic() {
		t.Errorf("JWK alg %q use %q public %v; the token says alg %q", keys[0].Algorithm, keys[0].Use, keys[0].IsPublic(), h.Algorithm)
	}
	if typ := h.ExtraHeaders[jose.HeaderType]; typ != oauth.AccessTokenType {
		t.Errorf("go-jose reads typ %v, want %s", typ, oauth.AccessTokenType)
	}
	var std josejwt.Claims
	var all map[string]any
	if err := tok.Claims(keys[0], &std, &all); err != nil {
		t.Fatalf("go-jose: the signature does not verify with the served JWK: %v", err)
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: issuer, AnyAudience: josejwt.Audience{issuer}, Time: now}, 0); err != nil {
		t.Fatalf("go-jose claim validation: %v", err)
	}
	if std.Expiry == nil || std.IssuedAt == nil || std.ID == "" || std.Subject == "" {
		t.Errorf("go-jose reads claims %+v: want exp, iat, jti and sub", std)
	}
	return all
}

// resourceAPI is a resource server guarded by shared/resource that trusts
// ts's deployment: its issuer as issuer and audience, its JWKS fetched from
// ts itself. It answers 200 with the token's subject.
func resourceAPI(t *testing.T, ts *testServer, edit ...func(*resource.Config)) *httptest.Server {
	t.Helper()
	cfg := resource.Config{Issuer: ts.issuer(), Audience: []string{ts.issuer()}, JWKSURL: ts.URL + oauth.PathJWKS}
	for _, f := range edit {
		f(&cfg)
	}
	mw, err := resource.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(mw.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := resource.ClaimsFrom(r.Context())
		_, _ = io.WriteString(w, claims.Subject)
	})))
	t.Cleanup(api.Close)
	return api
}

// callAPI presents token as a bearer token and returns the status, the
// body and the WWW-Authenticate challenge.
func callAPI(t *testing.T, api *httptest.Server, token string) (status int, body, challenge string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, api.URL+"/notes", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := api.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("WWW-Authenticate")
}

// wantAPI checks the resource server answers token with want (200, or 401
// invalid_token).
func wantAPI(t *testing.T, api *httptest.Server, token string, want int) {
	t.Helper()
	status, body, challenge := callAPI(t, api, token)
	if status != want {
		t.Fatalf("resource server: status %d, want %d (body %q, challenge %q)", status, want, body, challenge)
	}
	if want == http.StatusUnauthorized && !strings.Contains(challenge, `error="invalid_token"`) {
		t.Errorf("resource server: challenge %q, want error=\"invalid_token\"", challenge)
	}
}

// TestKMSSignedTokensVerify: for each algorithm, a server signing through
// KMS issues a client credentials token and a code-flow token, and each
// verifies (a) with golang-jwt and the key of KMS's GetPublicKey, (b) with
// golang-jwt and the served JWKS, (c) with go-jose v4 and the served JWKS
// as go-jose parses it; introspection says active and the shared/resource
// middleware lets it through.
func TestKMSSignedTokensVerify(t *testing.T) {
	for _, alg := range kmsAlgs {
		t.Run(alg, func(t *testing.T) {
			k := kmstest.NewServer(t)
			keyID := k.CreateKey(kmsKeySpec[alg])
			ts := newDeployment().container(t, newKMSSigner(t, k, alg, keyID))
			pub := kmsPublicKey(t, k, keyID)
			kid := kidOf(t, pub)
			api := resourceAPI(t, ts)

			kids, algs := ts.jwksKids()
			if !slices.Equal(kids, []string{kid}) || algs[kid] != alg {
				t.Fatalf("JWKS kids %v algs %v, want only %s for %s", kids, algs, kid, alg)
			}
			k.Reset()
			tokens := []struct{ flow, token, sub, client string }{
				{"client_credentials", str(ts.ccToken("read"), "access_token"), serviceID, serviceID},
				{"authorization_code", str(ts.tokens("read write"), "access_token"), "user-1", webID},
			}
			if n := k.Calls(kmstest.OpSign); n != len(tokens) {
				t.Errorf("%d KMS Sign calls for %d tokens", n, len(tokens))
			}
			for _, tc := range tokens {
				t.Run(tc.flow, func(t *testing.T) {
					ts := ts.withT(t)
					now := ts.Clock.Now()
					// (a) golang-jwt, the key from GetPublicKey.
					a := verifyWithKey(t, tc.token, alg, pub, kid, ts.issuer(), now)
					// (b) golang-jwt, the served JWKS.
					header, b := ts.verifyWithJWKS(tc.token)
					if header["alg"] != alg || header["kid"] != kid {
						t.Errorf("header %v: want alg %s kid %s", header, alg, kid)
					}
					// (c) go-jose, the served JWKS.
					c := verifyWithJose(t, ts.jwksBody(), tc.token, ts.issuer(), now)
					for _, claims := range []map[string]any{a, b, c} {
						if claims["sub"] != tc.sub || claims["client_id"] != tc.client || claims["jti"] != a["jti"] {
							t.Errorf("claims %v: want sub %s client_id %s", claims, tc.sub, tc.client)
						}
					}
					in := wantActive(t, ts.introspectResp(tc.token, ""))
					if in["sub"] != tc.sub || in["client_id"] != tc.client || in["jti"] != a["jti"] || in["iss"] != ts.issuer() {
						t.Errorf("introspection %v", in)
					}
					status, body, challenge := callAPI(t, api, tc.token)
					if status != http.StatusOK || body != tc.sub {
						t.Errorf("resource server: %d %q (challenge %q), want 200 %q", status, body, challenge, tc.sub)
					}
				})
			}
		})
	}
}

// kmsFaults are the KMS failures the failure tests inject, with the OAuth
// error the client must get: throttling and KMS-side faults are
// temporarily_unavailable (503, Retry-After), anything a retry will not fix
// is server_error (500). inject makes op fail on keyID; clear undoes it.
var kmsFaults = []struct {
	name   string
	inject func(k *kmstest.Server, op, keyID string)
	status int
	code   string
}{
	{"ThrottlingException", failOp("ThrottlingException"), http.StatusServiceUnavailable, oauth.CodeTemporarilyUnavailable},
	{"KMSInternalException", failOp("KMSInternalException"), http.StatusServiceUnavailable, oauth.CodeTemporarilyUnavailable},
	{"DisabledException", failOp("DisabledException"), http.StatusInternalServerError, oauth.CodeServerError},
	{"AccessDeniedException", failOp("AccessDeniedException"), http.StatusInternalServerError, oauth.CodeServerError},
	{"KMSInvalidStateException", failOp("KMSInvalidStateException"), http.StatusInternalServerError, oauth.CodeServerError},
	// The key really disabled: Sign and GetPublicKey both refuse.
	{"DisableKey", func(k *kmstest.Server, _, keyID string) { k.DisableKey(keyID) }, http.StatusInternalServerError, oauth.CodeServerError},
}

func failOp(errType string) func(*kmstest.Server, string, string) {
	return func(k *kmstest.Server, op, _ string) { k.Fail(op, errType) }
}

// clearKMS removes every injected fault and enables the key again.
func clearKMS(k *kmstest.Server, keyID string) {
	k.Clear()
	k.EnableKey(keyID)
}

// wantKMSFault checks the answer to a request KMS failed: the OAuth error
// (with Retry-After on a 503, no-store, no token, see wantFaultResponse),
// which says nothing of KMS or the key.
func wantKMSFault(t *testing.T, r response, status int, code, keyID string) {
	t.Helper()
	wantFaultResponse(t, r, status, code)
	if low := strings.ToLower(r.Body); strings.Contains(low, "kms") || strings.Contains(r.Body, keyID) {
		t.Errorf("the error response tells the client about KMS: %s", r.Body)
	}
}

// wantKMSCalls checks the double's counters since its last Reset.
func wantKMSCalls(t *testing.T, k *kmstest.Server, sign, getPublicKey int) {
	t.Helper()
	if s, g, all := k.Calls(kmstest.OpSign), k.Calls(kmstest.OpGetPublicKey), k.Calls("*"); s != sign || g != getPublicKey || all != sign+getPublicKey {
		t.Errorf("KMS calls: %d Sign, %d GetPublicKey, %d in all; want %d Sign, %d GetPublicKey and nothing else",
			s, g, all, sign, getPublicKey)
	}
}

// TestKMSSignFailures fails KMS Sign (an injected error, or the key
// disabled) on a warm server, for client_credentials, the code exchange
// and the refresh, and checks docs/design.md's "No partial state": the client
// gets the OAuth error the fault maps to, nothing is written, and once KMS
// is back the SAME code is still redeemable and the SAME refresh token
// still refreshes (its earlier access token still active), with no refresh
// token in the store that the client did not receive.
func TestKMSSignFailures(t *testing.T) {
	k := kmstest.NewServer(t)
	keyID := k.CreateKey("RSA_2048")
	d := newDeployment()
	ts := d.container(t, newKMSSigner(t, k, "RS256", keyID))
	// Warm the signer: its public key is cached, so Sign is the only call.
	mustOK(t, "warm-up refresh", ts.refresh(str(ts.tokens("read"), "refresh_token"), ""))
	ts.ccToken("read")

	for _, fault := range kmsFaults {
		for _, flow := range []string{"client_credentials", "exchange", "refresh"} {
			t.Run(fault.name+"/"+flow, func(t *testing.T) {
				ts := ts.withT(t)
				ctx := context.Background()
				var code, verifier, access0, rt0 string
				switch flow {
				case "exchange":
					code, verifier = ts.codeFor("read write")
				case "refresh":
					toks := ts.tokens("read write")
					access0, rt0 = str(toks, "access_token"), str(toks, "refresh_token")
				}
				request := map[string]func() response{
					"client_credentials": func() response {
						return ts.post(oauth.PathToken, "grant_type=client_credentials&scope=read", basic(serviceID, serviceSecret))
					},
					"exchange": func() response { return ts.exchange(code, verifier) },
					"refresh":  func() response { return ts.refresh(rt0, "") },
				}[flow]

				k.Reset()
				mark := d.log.mark()
				fault.inject(k, kmstest.OpSign, keyID)
				resp := request()
				clearKMS(k, keyID)
				wantKMSFault(t, resp, fault.status, fault.code, keyID)
				wantKMSCalls(t, k, 1, 0)
				if w := d.log.writesSince(mark); len(w) > 0 {
					t.Errorf("the failed request wrote %v", w)
				}

				// KMS is back: the same request succeeds, with live tokens.
				var received []string
				switch flow {
				case "client_credentials":
					wantActive(t, ts.introspectResp(str(ts.ccToken("read"), "access_token"), ""))
				case "exchange":
					if c, err := d.mem.GetCode(ctx, oauth.HashToken(code)); err != nil || c.Redeemed {
						t.Fatalf("after the failed exchange the code is %+v, %v; want it stored and unredeemed", c, err)
					}
					m := mustOK(t, "exchange with the same code", ts.exchange(code, verifier))
					received = append(received, str(m, "refresh_token"))
					wantActive(t, ts.introspectResp(str(m, "access_token"), ""))
					n := mustOK(t, "refresh with its refresh token", ts.refresh(str(m, "refresh_token"), ""))
					received = append(received, str(n, "refresh_token"))
					wantActive(t, ts.introspectResp(str(n, "access_token"), ""))
				case "refresh":
					if rt, err := d.mem.GetRefreshToken(ctx, grantOf(t, rt0), oauth.HashToken(rt0)); err != nil || rt.Rotated || rt.GrantRevoked {
						t.Fatalf("after the failed refresh the refresh token is %+v, %v; want it live", rt, err)
					}
					wantActive(t, ts.introspectResp(access0, ""))
					m := mustOK(t, "refresh with the same refresh token", ts.refresh(rt0, ""))
					received = append(received, str(m, "refresh_token"))
					wantActive(t, ts.introspectResp(str(m, "access_token"), ""))
					wantActive(t, ts.introspectResp(access0, ""))
				}
				if o := d.log.unreceivedSince(mark, received...); len(o) > 0 {
					t.Errorf("the store holds %d refresh token(s) the client never received (hashes %q)", len(o), o)
				}
			})
		}
	}
}

// TestKMSSignFailuresOnDynamoDB is TestKMSSignFailures on dynamostore and
// DynamoDB Local: the failed request makes only its read (no write, no
// revocation of the grant), the table holds no refresh token the client
// did not receive, and the same code or refresh token works afterwards.
func TestKMSSignFailuresOnDynamoDB(t *testing.T) {
	k := kmstest.NewServer(t)
	keyID := k.CreateKey("RSA_2048")
	ds := newDynamoServerSigned(t, newKMSSigner(t, k, "RS256", keyID), nil)
	ds.ccToken("read") // warm the client cache and the signer
	ds.tokens("read")

	for _, fault := range kmsFaults {
		for _, flow := range []string{"client_credentials", "exchange", "refresh"} {
			t.Run(fault.name+"/"+flow, func(t *testing.T) {
				ds := ds.withT(t)
				var (
					code, verifier, grantID, access0, rt0 string
					request                               func() response
					wantOps                               []string
				)
				switch flow {
				case "client_credentials":
					request = func() response {
						return ds.post(oauth.PathToken, "grant_type=client_credentials&scope=read", basic(serviceID, serviceSecret))
					}
				case "exchange":
					code, verifier = ds.codeFor("read write")
					grantID = ds.codeGrant(code)
					request = func() response { return ds.exchange(code, verifier) }
					wantOps = []string{"GetItem codes"}
				case "refresh":
					toks := ds.tokens("read write")
					access0, rt0 = str(toks, "access_token"), str(toks, "refresh_token")
					grantID = grantOf(t, rt0)
					request = func() response { return ds.refresh(rt0, "") }
					wantOps = []string{"BatchGetItem tokens"}
				}

				k.Reset()
				fault.inject(k, kmstest.OpSign, keyID)
				resp, tr := ds.traced(nil, request)
				clearKMS(k, keyID)
				wantKMSFault(t, resp, fault.status, fault.code, keyID)
				wantKMSCalls(t, k, 1, 0)
				if ops := tr.Ops(); !slices.Equal(ops, wantOps) {
					t.Errorf("DynamoDB operations of the failed request %q, want %q (reads only)", ops, wantOps)
				}
				switch flow {
				case "client_credentials":
					wantActive(t, ds.introspectResp(str(ds.ccToken("read"), "access_token"), ""))
				case "exchange":
					checkRevoked(ds, grantID, false)
					wantNoOrphans(ds, grantID)
					ok, received := wantLiveOrInvalidGrant(ds, ds.exchange(code, verifier))
					if !ok {
						t.Fatalf("the same code is no longer redeemable after a failed Sign")
					}
					wantNoOrphans(ds, grantID, received...)
				case "refresh":
					checkRevoked(ds, grantID, false)
					wantNoOrphans(ds, grantID, rt0)
					if !ds.active(access0) {
						t.Errorf("the access token issued before the failed refresh is inactive")
					}
					ok, received := wantLiveOrInvalidGrant(ds, ds.refresh(rt0, ""))
					if !ok {
						t.Fatalf("the same refresh token no longer works after a failed Sign")
					}
					if !ds.active(access0) {
						t.Errorf("the access token issued before the refresh is inactive")
					}
					wantNoOrphans(ds, grantID, append(received, rt0)...)
				}
			})
		}
	}
}

// TestKMSColdSignerFailures fails GetPublicKey on the first request of a
// cold container (a new kmssigner, nothing cached), for every request that
// needs the keys: the client gets the same OAuth error as for a failed
// Sign, nothing is written, and the failed fetch is not cached: the same
// request then succeeds on the same container.
func TestKMSColdSignerFailures(t *testing.T) {
	k := kmstest.NewServer(t)
	keyID := k.CreateKey("RSA_2048")
	d := newDeployment()
	// The first container runs the browser flows and issues the tokens
	// that the cold containers are then asked to refresh or introspect.
	first := d.container(t, newKMSSigner(t, k, "RS256", keyID))

	for _, fault := range kmsFaults {
		for _, flow := range []string{"client_credentials", "exchange", "refresh", "introspect", "jwks"} {
			t.Run(fault.name+"/"+flow, func(t *testing.T) {
				first := first.withT(t)
				var code, verifier, rt0, access0 string
				switch flow {
				case "exchange":
					code, verifier = first.codeFor("read")
				case "refresh", "introspect":
					toks := first.tokens("read")
					rt0, access0 = str(toks, "refresh_token"), str(toks, "access_token")
				}
				cold := d.container(t, newKMSSigner(t, k, "RS256", keyID))
				request := map[string]func() response{
					"client_credentials": func() response {
						return cold.post(oauth.PathToken, "grant_type=client_credentials&scope=read", basic(serviceID, serviceSecret))
					},
					"exchange":   func() response { return cold.exchange(code, verifier) },
					"refresh":    func() response { return cold.refresh(rt0, "") },
					"introspect": func() response { return cold.introspectResp(access0, "") },
					"jwks":       func() response { return cold.get(nil, oauth.PathJWKS) },
				}[flow]

				k.Reset()
				mark := d.log.mark()
				fault.inject(k, kmstest.OpGetPublicKey, keyID)
				resp := request()
				clearKMS(k, keyID)
				wantKMSFault(t, resp, fault.status, fault.code, keyID)
				wantKMSCalls(t, k, 0, 1)
				if w := d.log.writesSince(mark); len(w) > 0 {
					t.Errorf("the failed request wrote %v", w)
				}

				// The failure was not cached: the same request succeeds.
				k.Reset()
				m := mustOK(t, "the same request once KMS is back", request())
				sign := 0
				switch flow {
				case "client_credentials", "exchange", "refresh":
					sign = 1
					wantActive(t, cold.introspectResp(str(m, "access_token"), ""))
				case "introspect":
					if m["active"] != true {
						t.Errorf("introspection once KMS is back: %v", m)
					}
				}
				wantKMSCalls(t, k, sign, 1)
				var received []string
				if rt := str(m, "refresh_token"); rt != "" {
					received = append(received, rt)
				}
				if o := d.log.unreceivedSince(mark, received...); len(o) > 0 {
					t.Errorf("the store holds %d refresh token(s) the client never received", len(o))
				}
			})
		}
	}
}
