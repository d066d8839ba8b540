package oauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

// TestClientKey: which JWKs of a client may verify its assertions.
func TestClientKey(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk := func(pub any, kid, alg, use string) JWK {
		j, err := NewJWK(pub, kid, alg)
		if err != nil {
			t.Fatal(err)
		}
		j.Use = use
		return j
	}
	tests := []struct {
		name string
		jwk  JWK
		ok   bool
	}{
		{"RSA, no alg", jwk(&rsaKey.PublicKey, "r", "", ""), true},
		{"RSA RS256", jwk(&rsaKey.PublicKey, "r", "RS256", "sig"), true},
		{"RSA PS256", jwk(&rsaKey.PublicKey, "r", "PS256", ""), true},
		{"RSA RS512", jwk(&rsaKey.PublicKey, "r", "RS512", ""), false},
		{"RSA marked ES256", jwk(&rsaKey.PublicKey, "r", "ES256", ""), false},
		{"RSA for encryption", jwk(&rsaKey.PublicKey, "r", "", "enc"), false},
		{"EC ES256", jwk(&ecKey.PublicKey, "e", "ES256", ""), true},
		{"EC, no alg", jwk(&ecKey.PublicKey, "e", "", ""), true},
		{"EC marked RS256", jwk(&ecKey.PublicKey, "e", "RS256", ""), false},
		{"HMAC key", JWK{Kty: "oct", Kid: "h", Alg: "HS256"}, false},
		{"alg none", jwk(&rsaKey.PublicKey, "r", "none", ""), false},
	}
	for _, tt := range tests {
		if _, err := tt.jwk.ClientKey(); (err == nil) != tt.ok {
			t.Errorf("%s: ClientKey error %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// TestAssertionKey: the key an assertion's kid and alg select.
func TestAssertionKey(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaJWK, _ := NewJWK(&rsaKey.PublicKey, "r", "")
	ecJWK, _ := NewJWK(&ecKey.PublicKey, "e", "ES256")
	enc := rsaJWK
	enc.Kid, enc.Use = "enc", "enc"
	both := &JWKS{Keys: []JWK{rsaJWK, ecJWK}}
	onlyEC := &JWKS{Keys: []JWK{ecJWK, enc}} // the encryption key does not count
	tests := []struct {
		name     string
		set      *JWKS
		kid, alg string
		want     crypto.PublicKey
	}{
		{"RSA by kid, RS256", both, "r", "RS256", &rsaKey.PublicKey},
		{"RSA by kid, PS256", both, "r", "PS256", &rsaKey.PublicKey},
		{"EC by kid", both, "e", "ES256", &ecKey.PublicKey},
		{"EC kid, RS256", both, "e", "RS256", nil},
		{"RSA kid, ES256", both, "r", "ES256", nil},
		{"unknown kid", both, "x", "RS256", nil},
		{"no kid, two keys", both, "", "RS256", nil},
		{"no kid, one signing key", onlyEC, "", "ES256", &ecKey.PublicKey},
		{"no kid, one signing key of another type", onlyEC, "", "RS256", nil},
		{"the encryption key's kid", onlyEC, "enc", "RS256", nil},
		{"no set", nil, "r", "RS256", nil},
	}
	for _, tt := range tests {
		got := assertionKey(tt.set, tt.kid, tt.alg)
		switch {
		case tt.want == nil && got != nil:
			t.Errorf("%s: got a key, want none", tt.name)
		case tt.want != nil && (got == nil || !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.want)):
			t.Errorf("%s: got %v, want the expected key", tt.name, got)
		}
	}
}

func TestJWKSClone(t *testing.T) {
	var nilSet *JWKS
	if nilSet.Clone() != nil {
		t.Error("Clone of nil is not nil")
	}
	s := &JWKS{Keys: []JWK{{Kid: "a"}}}
	c := s.Clone()
	c.Keys[0].Kid = "b"
	if s.Keys[0].Kid != "a" {
		t.Error("Clone shares the keys")
	}
}
