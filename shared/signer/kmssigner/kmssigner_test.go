package kmssigner_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/shared/awstest"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
)

const (
	issuer   = "https://auth.example.com"
	audience = "https://api.example.com"
)

// keySpec is the KMS key spec each algorithm needs.
var keySpec = map[string]string{"RS256": "RSA_2048", "PS256": "RSA_2048", "ES256": "ECC_NIST_P256"}

func newSigner(t testing.TB, client kmssigner.API, alg, keyID string, verify ...string) *kmssigner.Signer {
	t.Helper()
	s, err := kmssigner.New(kmssigner.Config{Client: client, Algorithm: alg, SigningKeyID: keyID, VerifyKeys: verify})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mint builds an access token as shared/oauth's mintAccessToken does:
// golang-jwt builds the signing input, the Signer signs it.
func mint(ctx context.Context, s oauth.Signer) (string, error) {
	kid, err := s.KeyID(ctx)
	if err != nil {
		return "", err
	}
	now := time.Now()
	token := jwt.NewWithClaims(jwt.GetSigningMethod(s.Algorithm()), &oauth.AccessTokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Subject: "alice", Audience: jwt.ClaimStrings{audience}, ID: "jti-1",
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		},
		ClientID: "client-1", Scope: "read",
	})
	token.Header["typ"] = oauth.AccessTokenType
	token.Header["kid"] = kid
	input, err := token.SigningString()
	if err != nil {
		return "", err
	}
	sig, err := s.Sign(ctx, []byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func mustMint(t testing.TB, s oauth.Signer) string {
	t.Helper()
	token, err := mint(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// verifier is the grant library's verifier trusting keys.
func verifier(keys func(ctx context.Context) ([]oauth.PublicKey, error)) *oauth.TokenVerifier {
	return &oauth.TokenVerifier{Issuer: issuer, Audience: []string{audience},
		Keys: func(ctx context.Context, _ string) ([]oauth.PublicKey, error) { return keys(ctx) }}
}

// A token signed through KMS verifies with golang-jwt, with go-jose (an
// independent JWS implementation), through the JWK of the JWKS, and with the
// grant library's own verifier.
func TestSignedTokensVerify(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	for _, alg := range []string{"RS256", "PS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			ctx := t.Context()
			keyID := srv.CreateKey(keySpec[alg])
			s := newSigner(t, client, alg, keyID)
			if s.Algorithm() != alg {
				t.Fatalf("Algorithm() = %q", s.Algorithm())
			}
			token := mustMint(t, s)

			keys, err := s.PublicKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0].Algorithm != alg {
				t.Fatalf("PublicKeys = %+v", keys)
			}
			pub := keys[0].Key
			kid, _ := s.KeyID(ctx)
			if keys[0].KeyID != kid {
				t.Errorf("PublicKeys kid %q, KeyID %q", keys[0].KeyID, kid)
			}

			sig, _ := base64.RawURLEncoding.DecodeString(token[strings.LastIndexByte(token, '.')+1:])
			wantLen := 256
			if alg == "ES256" {
				wantLen = 64 // R||S, RFC 7518 §3.4
			}
			if len(sig) != wantLen {
				t.Errorf("signature is %d bytes, want %d", len(sig), wantLen)
			}

			// (a) golang-jwt with the public key from GetPublicKey.
			parsed, err := jwt.Parse(token, func(tok *jwt.Token) (any, error) { return pub, nil },
				jwt.WithValidMethods([]string{alg}))
			if err != nil || !parsed.Valid || parsed.Header["kid"] != kid {
				t.Errorf("golang-jwt: %v", err)
			}

			// (b) go-jose v4, an independent implementation.
			// (ParseSigned is deprecated in favour of the serialization-specific parser.)
			jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatalf("go-jose parse: %v", err)
			}
			if jws.Signatures[0].Header.KeyID != kid || jws.Signatures[0].Header.Algorithm != alg {
				t.Errorf("go-jose header = %+v", jws.Signatures[0].Header)
			}
			payload, err := jws.Verify(pub)
			if err != nil {
				t.Errorf("go-jose verify: %v", err)
			}
			var claims map[string]any
			if json.Unmarshal(payload, &claims) != nil || claims["sub"] != "alice" {
				t.Errorf("go-jose payload = %s", payload)
			}

			// (c) the JWK the JWKS publishes, decoded by go-jose and by oauth.
			jwk, err := oauth.NewJWK(pub, kid, alg)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(jwk)
			var joseKey jose.JSONWebKey
			if err := joseKey.UnmarshalJSON(data); err != nil {
				t.Fatalf("go-jose cannot read the JWK %s: %v", data, err)
			}
			if _, err := jws.Verify(&joseKey); err != nil {
				t.Errorf("go-jose verify with the JWK: %v", err)
			}
			tp, err := joseKey.Thumbprint(crypto.SHA256)
			if err != nil || base64.RawURLEncoding.EncodeToString(tp) != kid {
				t.Errorf("go-jose's RFC 7638 thumbprint %x is not the kid %q (%v)", tp, kid, err)
			}
			var back oauth.JWK
			_ = json.Unmarshal(data, &back)
			fromJWK, err := back.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return fromJWK, nil },
				jwt.WithValidMethods([]string{alg})); err != nil {
				t.Errorf("golang-jwt with the key decoded from the JWK: %v", err)
			}

			// The grant library's verifier, trusting the Signer's keys.
			got, err := verifier(s.PublicKeys).Verify(ctx, token)
			if err != nil || got.ClientID != "client-1" {
				t.Errorf("oauth.TokenVerifier: %+v, %v", got, err)
			}
		})
	}
}

func TestKeyIDIsThumbprintWhateverTheName(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	id := srv.CreateKey("RSA_2048")
	srv.CreateAlias("alias/gatehouse-signing", id)
	want, err := oauth.Thumbprint(srv.PublicKey(id))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{id, kmstest.KeyARN(id), "alias/gatehouse-signing", kmstest.AliasARN("alias/gatehouse-signing")} {
		kid, err := newSigner(t, client, "", name).KeyID(t.Context())
		if err != nil || kid != want {
			t.Errorf("KeyID with the key named %s = %q, %v; want %q", name, kid, err, want)
		}
	}
	other := srv.CreateKey("RSA_2048")
	if kid, _ := newSigner(t, client, "", other).KeyID(t.Context()); kid == want {
		t.Error("two keys share a kid")
	}
}

// GetPublicKey is called once per key, however many calls follow; each
// Sign is exactly one KMS Sign call with a SHA-256 DIGEST.
func TestKMSCallBudget(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	for _, alg := range []string{"RS256", "PS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			ctx := t.Context()
			s := newSigner(t, client, alg, srv.CreateKey(keySpec[alg]))
			srv.Reset()
			if srv.Calls("*") != 0 {
				t.Fatal("counters not reset")
			}
			for range 5 {
				if _, err := s.KeyID(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := s.PublicKeys(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if n := srv.Calls(kmstest.OpGetPublicKey); n != 1 {
				t.Errorf("GetPublicKey calls = %d, want 1", n)
			}
			for _, size := range []int{0, 10, 5000, 1 << 20} { // any size: only the digest travels
				srv.Reset()
				input := make([]byte, size)
				_, _ = rand.Read(input)
				if _, err := s.Sign(ctx, input); err != nil {
					t.Fatalf("Sign(%d bytes): %v", size, err)
				}
				reqs := srv.Requests()
				digest := sha256.Sum256(input)
				wantAlg := map[string]string{"RS256": "RSASSA_PKCS1_V1_5_SHA_256", "PS256": "RSASSA_PSS_SHA_256", "ES256": "ECDSA_SHA_256"}[alg]
				if len(reqs) != 1 || reqs[0].Op != kmstest.OpSign || reqs[0].MessageType != "DIGEST" ||
					string(reqs[0].Message) != string(digest[:]) || reqs[0].SigningAlgorithm != wantAlg {
					t.Errorf("Sign(%d bytes) made requests %+v; want one Sign of the SHA-256 DIGEST with %s", size, reqs, wantAlg)
				}
			}
		})
	}
}

// 50 goroutines starting at once share one GetPublicKey call per key.
func TestConcurrentFirstUse(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	signing := srv.CreateKey("ECC_NIST_P256")
	old1 := srv.CreateKey("ECC_NIST_P256")
	old2 := srv.CreateKey("RSA_2048")
	s := newSigner(t, client, "ES256", signing, old1, old2+"=RS256")
	srv.SetDelay(20 * time.Millisecond) // widen the race window
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			<-start
			var err error
			switch i % 3 {
			case 0:
				_, err = s.KeyID(t.Context())
			case 1:
				_, err = s.PublicKeys(t.Context())
			default:
				_, err = mint(t.Context(), s)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := srv.Calls(kmstest.OpGetPublicKey); n != 3 {
		t.Errorf("GetPublicKey calls = %d, want 3 (one per key)", n)
	}
}

// A caller whose context ends while another waits for the same fetch does
// not fail the waiter.
func TestFetchLeaderGivesUp(t *testing.T) {
	srv := kmstest.NewServer(t)
	s := newSigner(t, srv.Client(t), "ES256", srv.CreateKey("ECC_NIST_P256"))
	srv.SetDelay(300 * time.Millisecond)
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	var shortErr, longErr error
	var wg sync.WaitGroup
	wg.Go(func() { _, shortErr = s.KeyID(short) })
	time.Sleep(10 * time.Millisecond)
	wg.Go(func() { _, longErr = s.KeyID(t.Context()) })
	wg.Wait()
	if !errors.Is(shortErr, oauth.ErrUnavailable) {
		t.Errorf("timed-out caller: %v, want ErrUnavailable", shortErr)
	}
	if longErr != nil {
		t.Errorf("patient caller: %v", longErr)
	}
}

// Verification-only keys are published with their algorithms, and tokens
// their keys signed verify against the signer's PublicKeys.
func TestVerifyKeys(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	signing := srv.CreateKey("RSA_2048")
	oldRS := srv.CreateKey("RSA_2048")
	oldPS := srv.CreateKey("RSA_3072")
	oldES := srv.CreateKey("ECC_NIST_P256")
	srv.CreateAlias("alias/old-ec", oldES)

	s := newSigner(t, client, "RS256", "alias/signing-missing-is-fine-until-used", oldRS)
	_ = s // New makes no call: a missing alias is only found on use.

	s = newSigner(t, client, "RS256", signing,
		oldRS,                          // ALG defaults to the signer's
		" "+oldPS+"=PS256 ",            // spaces are ignored
		"alias/old-ec=ES256",           // an alias
		kmstest.KeyARN(signing),        // the signing key again, by ARN: listed once
		kmstest.KeyARN(oldRS)+"=RS256", // the same key twice: listed once
	)
	keys, err := s.PublicKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		key, alg string
	}{{signing, "RS256"}, {oldRS, "RS256"}, {oldPS, "PS256"}, {oldES, "ES256"}}
	if len(keys) != len(want) {
		t.Fatalf("PublicKeys = %d keys, want %d: %+v", len(keys), len(want), keys)
	}
	for i, w := range want {
		kid, _ := oauth.Thumbprint(srv.PublicKey(w.key))
		if keys[i].KeyID != kid || keys[i].Algorithm != w.alg {
			t.Errorf("PublicKeys[%d] = %s %s, want %s %s", i, keys[i].KeyID, keys[i].Algorithm, kid, w.alg)
		}
	}

	v := verifier(s.PublicKeys)
	for _, old := range []*kmssigner.Signer{
		s,
		newSigner(t, client, "RS256", oldRS),
		newSigner(t, client, "PS256", oldPS),
		newSigner(t, client, "ES256", "alias/old-ec"),
	} {
		if _, err := v.Verify(t.Context(), mustMint(t, old)); err != nil {
			t.Errorf("%s token of a verify key: %v", old.Algorithm(), err)
		}
	}
	// A key not configured does not verify.
	if _, err := v.Verify(t.Context(), mustMint(t, newSigner(t, client, "RS256", srv.CreateKey("RSA_2048")))); err == nil {
		t.Error("a token of an unknown key verified")
	}
	// One key with two algorithms is a configuration error.
	clash := newSigner(t, client, "RS256", signing, kmstest.KeyARN(signing)+"=PS256")
	if _, err := clash.PublicKeys(t.Context()); err == nil || !strings.Contains(err.Error(), "same KMS key") {
		t.Errorf("same key for RS256 and PS256: %v", err)
	}
}

func TestNewValidatesWithoutNetwork(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	good := []string{
		"1234abcd-12ab-34cd-56ef-1234567890ab",
		"mrk-1234abcd12ab34cd56ef1234567890ab",
		"arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"alias/gatehouse-signing",
		"alias/team/gatehouse_v2",
		"arn:aws:kms:us-east-2:111122223333:alias/gatehouse-signing",
	}
	for _, id := range good {
		for _, alg := range []string{"", "RS256", "PS256", "ES256"} {
			if _, err := kmssigner.New(kmssigner.Config{Client: client, Algorithm: alg, SigningKeyID: id,
				VerifyKeys: []string{id, id + "=PS256", id + "=ES256"}}); err != nil {
				t.Errorf("New(%q, %q): %v", id, alg, err)
			}
		}
	}
	if s, _ := kmssigner.New(kmssigner.Config{Client: client, SigningKeyID: good[0]}); s.Algorithm() != "RS256" {
		t.Errorf("default algorithm = %q, want RS256", s.Algorithm())
	}
	tests := []struct {
		name string
		cfg  kmssigner.Config
		want string
	}{
		{"no client", kmssigner.Config{SigningKeyID: "alias/x"}, "Config.Client"},
		{"no key", kmssigner.Config{Client: client}, "Config.SigningKeyID \"\" is empty"},
		{"HS256", kmssigner.Config{Client: client, Algorithm: "HS256", SigningKeyID: "alias/x"}, `Config.Algorithm "HS256"`},
		{"lower case", kmssigner.Config{Client: client, Algorithm: "rs256", SigningKeyID: "alias/x"}, "Config.Algorithm"},
		{"none", kmssigner.Config{Client: client, Algorithm: "none", SigningKeyID: "alias/x"}, "Config.Algorithm"},
		{"space", kmssigner.Config{Client: client, SigningKeyID: "alias/my key"}, "Config.SigningKeyID"},
		{"empty alias", kmssigner.Config{Client: client, SigningKeyID: "alias/"}, "Config.SigningKeyID"},
		{"list", kmssigner.Config{Client: client, SigningKeyID: "alias/a,alias/b"}, "Config.SigningKeyID"},
		{"with ALG", kmssigner.Config{Client: client, SigningKeyID: "alias/a=ES256"}, "Config.SigningKeyID"},
		{"bad ARN service", kmssigner.Config{Client: client, SigningKeyID: "arn:aws:s3:us-east-1:111122223333:key/x"}, "Config.SigningKeyID"},
		{"bad ARN account", kmssigner.Config{Client: client, SigningKeyID: "arn:aws:kms:us-east-1:1111:key/x"}, "Config.SigningKeyID"},
		{"bad ARN resource", kmssigner.Config{Client: client, SigningKeyID: "arn:aws:kms:us-east-1:111122223333:x"}, "Config.SigningKeyID"},
		{"short ARN", kmssigner.Config{Client: client, SigningKeyID: "arn:aws:kms:us-east-1"}, "Config.SigningKeyID"},
		{"verify empty", kmssigner.Config{Client: client, SigningKeyID: "alias/x", VerifyKeys: []string{""}}, "Config.VerifyKeys[0]"},
		{"verify no key", kmssigner.Config{Client: client, SigningKeyID: "alias/x", VerifyKeys: []string{"alias/y", "=RS256"}}, "Config.VerifyKeys[1]"},
		{"verify HS256", kmssigner.Config{Client: client, SigningKeyID: "alias/x", VerifyKeys: []string{"alias/y=HS256"}}, `algorithm "HS256"`},
		{"verify empty ALG", kmssigner.Config{Client: client, SigningKeyID: "alias/x", VerifyKeys: []string{"alias/y="}}, `algorithm ""`},
		{"verify two =", kmssigner.Config{Client: client, SigningKeyID: "alias/x", VerifyKeys: []string{"alias/y=RS256=PS256"}}, "Config.VerifyKeys[0]"},
		{"verify list", kmssigner.Config{Client: client, SigningKeyID: "alias/x", VerifyKeys: []string{"alias/y,alias/z"}}, "Config.VerifyKeys[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := kmssigner.New(tt.cfg)
			if err == nil || s != nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "kmssigner: ") {
				t.Errorf("New = %v, %v; want an error naming %s", s, err, tt.want)
			}
		})
	}
	if n := srv.Calls("*"); n != 0 {
		t.Errorf("New made %d KMS calls", n)
	}
}

// Each KMS error maps to temporarily_unavailable (retry) or server_error
// with a message naming the key and the fix; the signing input never
// appears.
func TestKMSErrors(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	keyID := srv.CreateKey("RSA_2048")
	srv.CreateAlias("alias/gatehouse", keyID)
	const secretInput = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ"
	tests := []struct {
		errType     string
		unavailable bool
		hint        string
	}{
		{"ThrottlingException", true, ""},
		{"KMSInternalException", true, ""},
		{"DependencyTimeoutException", true, ""},
		{"InternalFailure", true, ""},
		{"ServiceUnavailable", true, ""},
		{"DisabledException", false, "enable-key"},
		{"AccessDeniedException", false, "IAM role"},
		{"KMSInvalidStateException", false, "cancel-key-deletion"},
		{"NotFoundException", false, "GATEHOUSE_KMS_KEY_ID"},
		{"KeyUnavailableException", false, "custom key store"},
		{"InvalidKeyUsageException", false, "SIGN_VERIFY"},
	}
	for _, tt := range tests {
		t.Run(tt.errType, func(t *testing.T) {
			srv.Clear()
			for _, op := range []string{kmstest.OpSign, kmstest.OpGetPublicKey} {
				s := newSigner(t, client, "RS256", "alias/gatehouse")
				srv.Fail(op, tt.errType)
				var err error
				if op == kmstest.OpSign {
					_, err = s.Sign(t.Context(), []byte(secretInput))
				} else {
					_, err = s.KeyID(t.Context())
				}
				srv.Clear()
				if err == nil {
					t.Fatalf("%s: no error", op)
				}
				msg := err.Error()
				if errors.Is(err, oauth.ErrUnavailable) != tt.unavailable {
					t.Errorf("%s: errors.Is(ErrUnavailable) = %v, want %v: %v", op, !tt.unavailable, tt.unavailable, err)
				}
				code := oauth.CodeServerError
				if tt.unavailable {
					code = oauth.CodeTemporarilyUnavailable
				}
				if got := oauth.ErrServer(err).Code; got != code {
					t.Errorf("%s: OAuth error %s, want %s", op, got, code)
				}
				if !strings.HasPrefix(msg, "kmssigner: "+op+" alias/gatehouse: ") || !strings.Contains(msg, tt.errType) ||
					!strings.Contains(msg, tt.hint) {
					t.Errorf("%s: message %q lacks the op, key, error type or hint %q", op, msg, tt.hint)
				}
				if strings.Contains(msg, secretInput) || strings.Contains(msg, "c2VjcmV0") {
					t.Errorf("%s: the signing input leaked into %q", op, msg)
				}
			}
		})
	}
	if msg := func() string {
		srv.Fail(kmstest.OpSign, "AccessDeniedException")
		defer srv.Clear()
		_, err := newSigner(t, client, "RS256", keyID).Sign(t.Context(), nil)
		return err.Error()
	}(); !strings.Contains(msg, "allow kms:Sign") {
		t.Errorf("AccessDenied on Sign does not name kms:Sign: %s", msg)
	}
	// A real disabled key, not an injected error.
	srv.DisableKey(keyID)
	_, err := newSigner(t, client, "RS256", keyID).Sign(t.Context(), []byte(secretInput))
	if err == nil || errors.Is(err, oauth.ErrUnavailable) || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("disabled key: %v", err)
	}
	srv.EnableKey(keyID)
	_, err = newSigner(t, client, "RS256", "alias/no-such-key").KeyID(t.Context())
	if err == nil || errors.Is(err, oauth.ErrUnavailable) || !strings.Contains(err.Error(), "no such key") {
		t.Errorf("missing alias: %v", err)
	}
}

func TestTimeoutsAndUnreachableKMS(t *testing.T) {
	srv := kmstest.NewServer(t)
	s := newSigner(t, srv.Client(t), "ES256", srv.CreateKey("ECC_NIST_P256"))
	srv.SetDelay(5 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Sign(ctx, []byte("x")); !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("Sign timing out: %v, want ErrUnavailable", err)
	}
	srv.Clear()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	down := kmssigner.NewClient(aws.Config{
		Region:       kmstest.Region,
		BaseEndpoint: aws.String("http://" + addr),
		Credentials:  credentials.NewStaticCredentialsProvider(kmstest.AccessKeyID, kmstest.SecretAccessKey, ""),
	})
	s = newSigner(t, down, "RS256", "alias/x")
	if _, err := s.KeyID(t.Context()); !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("KMS unreachable: %v, want ErrUnavailable", err)
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Sign(canceled, []byte("x")); err == nil || errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("canceled request: %v, want a plain error", err)
	}
}

// The caller's cancellation while its request is on the way is not
// temporarily_unavailable: nobody is left to retry. The request is canceled
// as it leaves the client, so nothing races.
func TestCancelledInFlight(t *testing.T) {
	srv := kmstest.NewServer(t)
	keyID := srv.CreateKey("ECC_NIST_P256")
	clients := map[string]func(...func(*kms.Options)) kmssigner.API{
		"Server.Client": func(optFns ...func(*kms.Options)) kmssigner.API { return srv.Client(t, optFns...) },
		"NewClient": func(optFns ...func(*kms.Options)) kmssigner.API {
			return kmssigner.NewClient(srv.AWSConfig(), optFns...)
		},
	}
	for name, newClient := range clients {
		ctx, cancel := context.WithCancel(t.Context())
		client := newClient(func(o *kms.Options) {
			o.HTTPClient = awstest.WrapClient(o.HTTPClient, func(next http.RoundTripper) http.RoundTripper {
				return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
					if awstest.Operation(r) == kmstest.OpSign {
						cancel()
					}
					return next.RoundTrip(r)
				})
			})
		})
		s := newSigner(t, client, "ES256", keyID)
		if _, err := s.KeyID(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, err := s.Sign(ctx, []byte("x"))
		if !errors.Is(err, context.Canceled) || errors.Is(err, oauth.ErrUnavailable) {
			t.Errorf("%s: Sign canceled in flight: %v, want context.Canceled, not ErrUnavailable", name, err)
		}
		cancel()
	}
}

// A failed GetPublicKey is not cached: the next call tries again.
func TestFailedFetchIsRetried(t *testing.T) {
	srv := kmstest.NewServer(t)
	signing := srv.CreateKey("ECC_NIST_P256")
	verify := srv.CreateKey("ECC_NIST_P256")
	s := newSigner(t, srv.Client(t), "ES256", signing, verify)
	for _, errType := range []string{"AccessDeniedException", "ThrottlingException"} {
		srv.FailNext(kmstest.OpGetPublicKey, errType)
	}
	if _, err := s.KeyID(t.Context()); err == nil {
		t.Fatal("first KeyID did not fail")
	}
	if _, err := s.PublicKeys(t.Context()); err == nil {
		t.Fatal("PublicKeys did not fail") // the signing key fetch failed again
	}
	kid, err := s.KeyID(t.Context())
	if err != nil {
		t.Fatalf("KeyID after the faults: %v", err)
	}
	keys, err := s.PublicKeys(t.Context())
	if err != nil || len(keys) != 2 || keys[0].KeyID != kid {
		t.Fatalf("PublicKeys after the faults: %+v, %v", keys, err)
	}
	before := srv.Calls(kmstest.OpGetPublicKey)
	srv.Fail(kmstest.OpGetPublicKey, "KMSInternalException") // cached keys need no KMS
	for range 3 {
		if _, err := s.PublicKeys(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := mint(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Calls(kmstest.OpGetPublicKey); n != before {
		t.Errorf("GetPublicKey calls grew from %d to %d once cached", before, n)
	}
}

// A key that does not suit the algorithm is a clear configuration error.
func TestKeyMismatch(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	rsaKey := srv.CreateKey("RSA_2048")
	ecKey := srv.CreateKey("ECC_NIST_P256")
	p384 := srv.CreateKey("ECC_NIST_P384")
	srv.CreateAlias("alias/x", ecKey)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakKey := srv.AddKey("RSA_2048", weak) // a misbehaving KMS
	liar := srv.AddKey("ECC_NIST_P256", mustRSA(t))

	tests := []struct {
		name    string
		alg     string
		signing string
		verify  []string
		want    []string
	}{
		{"EC key for RS256", "RS256", "alias/x", nil,
			[]string{"KMS key alias/x is ECC_NIST_P256, but GATEHOUSE_SIGNING_ALG is RS256", "ES256"}},
		{"EC key for PS256", "PS256", ecKey, nil, []string{"is ECC_NIST_P256, but GATEHOUSE_SIGNING_ALG is PS256"}},
		{"RSA key for ES256", "ES256", rsaKey, nil,
			[]string{"is RSA_2048, but GATEHOUSE_SIGNING_ALG is ES256", "RS256 or PS256", "ECC_NIST_P256 key"}},
		{"P-384 key for ES256", "ES256", p384, nil, []string{"is ECC_NIST_P384, but GATEHOUSE_SIGNING_ALG is ES256"}},
		{"verify key", "RS256", rsaKey, []string{"alias/x=RS256"},
			[]string{"alias/x is ECC_NIST_P256, but its algorithm in GATEHOUSE_KMS_VERIFY_KEYS is RS256", `"alias/x=ES256"`}},
		{"1024-bit RSA", "RS256", weakKey, nil, []string{"1024-bit RSA key", "2048"}},
		{"spec and key disagree", "ES256", liar, nil, []string{"ECC_NIST_P256 but an RSA public key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Reset()
			s := newSigner(t, client, tt.alg, tt.signing, tt.verify...)
			var err error
			if tt.verify != nil {
				_, err = s.PublicKeys(t.Context())
			} else {
				_, err = mint(t.Context(), s)
			}
			if err == nil || errors.Is(err, oauth.ErrUnavailable) {
				t.Fatalf("err = %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if n := srv.Calls(kmstest.OpSign); n != 0 {
				t.Errorf("signed %d times with an unsuitable key", n)
			}
		})
	}
}

func mustRSA(t testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Moving the alias to another key makes a warm signer refuse one request
// (retryable) instead of signing with a kid that names the old key.
func TestAliasMovedToAnotherKey(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	oldKey := srv.CreateKey("RSA_2048")
	newKey := srv.CreateKey("RSA_2048")
	srv.CreateAlias("alias/signing", oldKey)
	s := newSigner(t, client, "RS256", "alias/signing", oldKey)
	oldKid, _ := oauth.Thumbprint(srv.PublicKey(oldKey))
	newKid, _ := oauth.Thumbprint(srv.PublicKey(newKey))
	mustMint(t, s)

	srv.CreateAlias("alias/signing", newKey)
	_, err := mint(t.Context(), s)
	if !errors.Is(err, oauth.ErrUnavailable) || !strings.Contains(err.Error(), "alias moved") {
		t.Fatalf("first token after the move: %v", err)
	}
	token := mustMint(t, s)
	if kid, _ := s.KeyID(t.Context()); kid != newKid {
		t.Errorf("kid after the move = %q, want the new key's %q", kid, newKid)
	}
	keys, err := s.PublicKeys(t.Context())
	if err != nil || len(keys) != 2 || keys[0].KeyID != newKid || keys[1].KeyID != oldKid {
		t.Errorf("PublicKeys after the move = %+v, %v", keys, err)
	}
	if _, err := verifier(s.PublicKeys).Verify(t.Context(), token); err != nil {
		t.Errorf("token after the move: %v", err)
	}
}

// BenchmarkSign measures one Sign (SHA-256, one KMS call over HTTP to the
// double, which signs with a real key) per iteration.
func BenchmarkSign(b *testing.B) {
	srv := kmstest.NewServer(b)
	client := srv.Client(b)
	input := []byte(strings.Repeat("eyJhbGciOiJSUzI1NiJ9.", 20))
	for _, alg := range []string{"RS256", "PS256", "ES256"} {
		b.Run(alg, func(b *testing.B) {
			s := newSigner(b, client, alg, srv.CreateKey(keySpec[alg]))
			if _, err := s.KeyID(b.Context()); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(b.Context(), input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
