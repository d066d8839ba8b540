package localsigner

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

var algs = []string{RS256, ES256}

// signJWT builds a JWT the way the oauth package mints access tokens and
// signs it through s.
func signJWT(t *testing.T, s *Signer, claims jwt.Claims) string {
	t.Helper()
	method := jwt.GetSigningMethod(s.Algorithm())
	if method == nil {
		t.Fatalf("jwt has no signing method %q", s.Algorithm())
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = mustKID(t, s)
	tok.Header["typ"] = oauth.AccessTokenType
	input, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(context.Background(), []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	if s.Algorithm() == ES256 && len(sig) != 64 {
		t.Errorf("ES256 signature is %d bytes, want 64", len(sig))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestSignVerifiesWithJWT(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			s, err := New(alg)
			if err != nil {
				t.Fatal(err)
			}
			if s.Algorithm() != alg {
				t.Fatalf("Algorithm() = %q, want %q", s.Algorithm(), alg)
			}
			keys, err := s.PublicKeys(context.Background())
			if err != nil || len(keys) != 1 {
				t.Fatalf("PublicKeys() = %v, %v; want one key", keys, err)
			}
			if keys[0].KeyID != mustKID(t, s) || keys[0].Algorithm != alg {
				t.Fatalf("PublicKeys()[0] = {%q %q}, want {%q %q}", keys[0].KeyID, keys[0].Algorithm, mustKID(t, s), alg)
			}
			want, err := oauth.Thumbprint(keys[0].Key)
			if err != nil || mustKID(t, s) != want {
				t.Fatalf("KeyID() = %q, want thumbprint %q (%v)", mustKID(t, s), want, err)
			}

			// Several signatures, since an ES256 R or S with leading zero
			// bytes must still be padded to 32 bytes.
			for i := range 20 {
				token := signJWT(t, s, jwt.MapClaims{"sub": "alice", "n": i})
				parsed, err := jwt.Parse(token, func(tok *jwt.Token) (any, error) {
					return keys[0].Key, nil
				}, jwt.WithValidMethods([]string{alg}))
				if err != nil {
					t.Fatalf("jwt.Parse: %v", err)
				}
				if !parsed.Valid || parsed.Header["kid"] != mustKID(t, s) {
					t.Fatalf("parsed token invalid or wrong kid: %+v", parsed.Header)
				}
			}

			// A token signed by another key of the same type must not verify.
			other, err := New(alg)
			if err != nil {
				t.Fatal(err)
			}
			token := signJWT(t, other, jwt.MapClaims{"sub": "mallory"})
			if _, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return keys[0].Key, nil },
				jwt.WithValidMethods([]string{alg})); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
				t.Fatalf("foreign signature: err = %v, want ErrTokenSignatureInvalid", err)
			}
		})
	}
}

// TestTokenVerifier checks the signer against the oauth package's own
// RFC 9068 verifier, with keys taken from PublicKeys.
func TestTokenVerifier(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			s, err := New(alg)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			token := signJWT(t, s, &oauth.AccessTokenClaims{
				RegisteredClaims: jwt.RegisteredClaims{
					Issuer:    "https://issuer.example",
					Subject:   "alice",
					Audience:  jwt.ClaimStrings{"https://api.example"},
					ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
					IssuedAt:  jwt.NewNumericDate(now),
					ID:        "jti-1",
				},
				ClientID: "client",
			})
			v := &oauth.TokenVerifier{
				Issuer:   "https://issuer.example",
				Audience: []string{"https://api.example"},
				Keys: func(ctx context.Context, kid string) ([]oauth.PublicKey, error) {
					return s.PublicKeys(ctx)
				},
			}
			claims, err := v.Verify(context.Background(), token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if claims.Subject != "alice" || claims.ClientID != "client" {
				t.Fatalf("claims = %+v", claims)
			}
		})
	}
}

func TestSignCancelledContext(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			s, err := New(alg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			sig, err := s.Sign(ctx, []byte("input"))
			if !errors.Is(err, context.Canceled) || sig != nil {
				t.Fatalf("Sign(cancelled) = %x, %v; want nil, context.Canceled", sig, err)
			}
		})
	}
}

func TestES256RawSignature(t *testing.T) {
	s, err := New(ES256)
	if err != nil {
		t.Fatal(err)
	}
	pub := s.Public().(*ecdsa.PublicKey)
	input := []byte("header.payload")
	digest := sha256.Sum256(input)
	for range 50 {
		sig, err := s.Sign(context.Background(), input)
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != 64 {
			t.Fatalf("signature is %d bytes, want 64", len(sig))
		}
		r := new(big.Int).SetBytes(sig[:32])
		ss := new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, digest[:], r, ss) {
			t.Fatal("R||S signature does not verify")
		}
	}
}

func TestDerToRaw(t *testing.T) {
	tests := []struct {
		name string
		der  []byte
		ok   bool
	}{
		// SEQUENCE { INTEGER 1, INTEGER 2 }
		{"small", []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}, true},
		{"trailing data", []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x00}, false},
		{"negative", []byte{0x30, 0x06, 0x02, 0x01, 0xff, 0x02, 0x01, 0x02}, false},
		{"zero", []byte{0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x02}, false},
		{"garbage", []byte("not der"), false},
		{"too long", append([]byte{0x30, 0x26, 0x02, 0x21, 0x01}, append(make([]byte, 32), 0x02, 0x01, 0x02)...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := derToRaw(tt.der, 32)
			if (err == nil) != tt.ok {
				t.Fatalf("derToRaw err = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (len(raw) != 64 || raw[31] != 1 || raw[63] != 2) {
				t.Fatalf("derToRaw = %x", raw)
			}
		})
	}
}

func TestJWKRoundTrip(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			s, err := New(alg)
			if err != nil {
				t.Fatal(err)
			}
			keys, _ := s.PublicKeys(context.Background())
			jwk, err := oauth.NewJWK(keys[0].Key, keys[0].KeyID, keys[0].Algorithm)
			if err != nil {
				t.Fatal(err)
			}
			if jwk.Kid != mustKID(t, s) || jwk.Alg != alg || jwk.Use != "sig" {
				t.Fatalf("JWK = %+v", jwk)
			}
			back, err := jwk.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			eq, ok := back.(interface{ Equal(crypto.PublicKey) bool })
			if !ok || !eq.Equal(s.Public()) {
				t.Fatalf("JWK round trip changed the key: %T", back)
			}
			if kid, _ := oauth.Thumbprint(back); kid != mustKID(t, s) {
				t.Fatalf("thumbprint after round trip = %q, want %q", kid, mustKID(t, s))
			}
		})
	}
}

func TestLoadOrCreate(t *testing.T) {
	tests := []struct {
		name    string
		create  string // alg passed when the file is created
		reload  string // alg passed when it is loaded again
		wantAlg string
	}{
		{"default", "", "", RS256},
		{"RS256", RS256, RS256, RS256},
		{"ES256", ES256, ES256, ES256},
		{"ES256 reload any", ES256, "", ES256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state", "keys")
			path := filepath.Join(dir, "signing.pem")
			s1, err := LoadOrCreate(path, tt.create)
			if err != nil {
				t.Fatal(err)
			}
			if s1.Algorithm() != tt.wantAlg {
				t.Fatalf("created Algorithm() = %q, want %q", s1.Algorithm(), tt.wantAlg)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("key file mode = %o, want 600", perm)
			}
			di, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if perm := di.Mode().Perm(); perm != 0o700 {
				t.Errorf("key dir mode = %o, want 700", perm)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("key dir holds %d entries, want only the key (temp file left behind?)", len(entries))
			}
			data, _ := os.ReadFile(path)
			if block, _ := pem.Decode(data); block == nil || block.Type != "PRIVATE KEY" {
				t.Errorf("key file is not a PKCS #8 PEM:\n%s", data)
			}

			s2, err := LoadOrCreate(path, tt.reload)
			if err != nil {
				t.Fatal(err)
			}
			if mustKID(t, s2) != mustKID(t, s1) || s2.Algorithm() != s1.Algorithm() {
				t.Fatalf("reloaded %s/%s, want %s/%s", s2.Algorithm(), mustKID(t, s2), s1.Algorithm(), mustKID(t, s1))
			}
			// A token signed before the "restart" verifies with the reloaded key.
			token := signJWT(t, s1, jwt.MapClaims{"sub": "alice"})
			keys, _ := s2.PublicKeys(context.Background())
			if _, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return keys[0].Key, nil },
				jwt.WithValidMethods([]string{s2.Algorithm()})); err != nil {
				t.Fatalf("token from before reload: %v", err)
			}
		})
	}
}

func TestLoadOrCreateConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pem")
	const n = 8
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := LoadOrCreate(path, ES256)
			errs[i] = err
			if err == nil {
				kids[i] = mustKID(t, s)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if kids[i] != kids[0] {
			t.Fatalf("concurrent LoadOrCreate produced different keys: %q vs %q", kids[i], kids[0])
		}
	}
}

func pemFile(t *testing.T, blocks ...*pem.Block) string {
	t.Helper()
	var data []byte
	for _, b := range blocks {
		data = append(data, pem.EncodeToMemory(b)...)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadFormats(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPKCS8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	ecPKCS8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecSEC1, _ := x509.MarshalECPrivateKey(ecKey)
	// DER of the P-256 OID, as `openssl ecparam -genkey` writes it.
	ecParams := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}

	tests := []struct {
		name   string
		blocks []*pem.Block
		key    crypto.Signer
	}{
		{"PKCS8 RSA", []*pem.Block{{Type: "PRIVATE KEY", Bytes: rsaPKCS8}}, rsaKey},
		{"PKCS1 RSA", []*pem.Block{{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}}, rsaKey},
		{"PKCS8 EC", []*pem.Block{{Type: "PRIVATE KEY", Bytes: ecPKCS8}}, ecKey},
		{"SEC1 EC", []*pem.Block{{Type: "EC PRIVATE KEY", Bytes: ecSEC1}}, ecKey},
		{"SEC1 EC with params", []*pem.Block{{Type: "EC PARAMETERS", Bytes: ecParams}, {Type: "EC PRIVATE KEY", Bytes: ecSEC1}}, ecKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := FromKey(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			got, err := LoadOrCreate(pemFile(t, tt.blocks...), "")
			if err != nil {
				t.Fatal(err)
			}
			if mustKID(t, got) != mustKID(t, want) || got.Algorithm() != want.Algorithm() {
				t.Fatalf("loaded %s/%s, want %s/%s", got.Algorithm(), mustKID(t, got), want.Algorithm(), mustKID(t, want))
			}
		})
	}
}

func TestLoadOrCreateErrors(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}

	tests := []struct {
		name   string
		blocks []*pem.Block // nil: raw garbage file
		alg    string
		want   []string // substrings of the error
	}{
		{"RSA key, ES256 wanted", []*pem.Block{{Type: "PRIVATE KEY", Bytes: pkcs8(rsaKey)}}, ES256,
			[]string{"key.pem", "RS256", "ES256"}},
		{"EC key, RS256 wanted", []*pem.Block{{Type: "PRIVATE KEY", Bytes: pkcs8(ecKey)}}, RS256,
			[]string{"key.pem", "holds an ES256 key", "RS256 was requested"}},
		{"small RSA", []*pem.Block{{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsa1024)}}, "",
			[]string{"key.pem", "1024 bits", "2048"}},
		{"P-384", []*pem.Block{{Type: "PRIVATE KEY", Bytes: pkcs8(p384)}}, "",
			[]string{"key.pem", "P-384", "P-256"}},
		{"Ed25519", []*pem.Block{{Type: "PRIVATE KEY", Bytes: pkcs8(edKey)}}, "",
			[]string{"key.pem", "unsupported key type"}},
		{"not PEM", nil, "", []string{"key.pem", "no PEM private key block"}},
		{"certificate", []*pem.Block{{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}}, "",
			[]string{"key.pem", `"CERTIFICATE" is not a private key`}},
		{"corrupt PKCS8", []*pem.Block{{Type: "PRIVATE KEY", Bytes: []byte("garbage")}}, "",
			[]string{"key.pem", "parsing PRIVATE KEY"}},
		{"corrupt SEC1", []*pem.Block{{Type: "EC PRIVATE KEY", Bytes: []byte("garbage")}}, "",
			[]string{"key.pem", "parsing EC PRIVATE KEY"}},
		{"encrypted PKCS8", []*pem.Block{{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("x")}}, "",
			[]string{"key.pem", "encrypted"}},
		{"encrypted legacy", []*pem.Block{{Type: "RSA PRIVATE KEY", Headers: map[string]string{
			"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte("x")}}, "",
			[]string{"key.pem", "encrypted"}},
		{"unsupported alg", []*pem.Block{{Type: "PRIVATE KEY", Bytes: pkcs8(rsaKey)}}, "HS256",
			[]string{`"HS256"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			if tt.blocks == nil {
				path = filepath.Join(t.TempDir(), "key.pem")
				if err := os.WriteFile(path, []byte("this is not a key\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				path = pemFile(t, tt.blocks...)
			}
			before, _ := os.ReadFile(path)
			s, err := LoadOrCreate(path, tt.alg)
			if err == nil {
				t.Fatalf("LoadOrCreate succeeded with %s/%s", s.Algorithm(), mustKID(t, s))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("LoadOrCreate modified an existing key file")
			}
		})
	}

	t.Run("unsupported alg, no file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "key.pem")
		if _, err := LoadOrCreate(path, "none"); err == nil {
			t.Fatal("LoadOrCreate accepted alg none")
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("key file created for an unsupported alg: %v", err)
		}
	})
	t.Run("unreadable path", func(t *testing.T) {
		// A directory where the key file should be.
		if _, err := LoadOrCreate(t.TempDir(), ""); err == nil {
			t.Fatal("LoadOrCreate accepted a directory")
		}
	})
}

// opaqueSigner hides the concrete key type, as a hardware key would.
type opaqueSigner struct{ k crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.k.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.k.Sign(r, d, opts)
}

func TestFromKey(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)

	tests := []struct {
		name    string
		key     crypto.Signer
		wantAlg string // "" means an error is expected
	}{
		{"RSA", rsaKey, RS256},
		{"P-256", ecKey, ES256},
		{"opaque RSA", opaqueSigner{rsaKey}, RS256},
		{"opaque P-256", opaqueSigner{ecKey}, ES256},
		{"RSA 1024", rsa1024, ""},
		{"P-384", p384, ""},
		{"Ed25519", edKey, ""},
		{"nil", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := FromKey(tt.key)
			if tt.wantAlg == "" {
				if err == nil {
					t.Fatalf("FromKey accepted the key as %s", s.Algorithm())
				}
				if !strings.HasPrefix(err.Error(), "localsigner: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Algorithm() != tt.wantAlg {
				t.Fatalf("Algorithm() = %q, want %q", s.Algorithm(), tt.wantAlg)
			}
			token := signJWT(t, s, jwt.MapClaims{"sub": "alice"})
			if _, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return tt.key.Public(), nil },
				jwt.WithValidMethods([]string{tt.wantAlg})); err != nil {
				t.Fatalf("jwt.Parse: %v", err)
			}
		})
	}
}

func TestNewUnsupported(t *testing.T) {
	for _, alg := range []string{"HS256", "none", "PS256", "ES384", "rs256"} {
		if _, err := New(alg); err == nil {
			t.Errorf("New(%q) succeeded", alg)
		}
	}
	s, err := New("")
	if err != nil || s.Algorithm() != DefaultAlgorithm {
		t.Fatalf(`New("") = %v, %v; want %s`, s, err, DefaultAlgorithm)
	}
	if n := s.Public().(*rsa.PublicKey).N.BitLen(); n != 2048 {
		t.Fatalf("default RSA key is %d bits", n)
	}
}

// mustKID returns the signer's key id.
func mustKID(t testing.TB, s oauth.Signer) string {
	t.Helper()
	kid, err := s.KeyID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return kid
}
