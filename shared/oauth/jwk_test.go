package oauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

// TestThumbprintRFC7638 checks the known answer of RFC 7638 §3.1: every
// container derives the same kid from the key alone, so it must be exact.
func TestThumbprintRFC7638(t *testing.T) {
	j := JWK{Kty: "RSA", E: "AQAB", N: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAt" +
		"VT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD" +
		"W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINH" +
		"aQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}
	pub, err := j.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint %s, want %s", got, want)
	}
}

func TestJWKRoundTripAndRejects(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, pub := range map[string]any{"rsa": &rsaKey.PublicKey, "ec": &ecKey.PublicKey} {
		j, err := NewJWK(pub, "k", "X")
		if err != nil {
			t.Fatal(name, err)
		}
		back, err := j.PublicKey()
		if err != nil {
			t.Fatal(name, err)
		}
		if !back.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("%s: round trip changed the key", name)
		}
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	weak, _ := NewJWK(&small.PublicKey, "weak", "RS256")
	bad := []JWK{
		weak,
		{Kty: "RSA", N: weak.N, E: "AAAC"}, // even exponent
		{Kty: "EC", Crv: "P-384", X: "AA", Y: "AA"}, // unsupported curve
		{Kty: "EC", Crv: "P-256", X: "AA", Y: "AA"}, // short coordinates
		{Kty: "oct"},
	}
	for i, j := range bad {
		if _, err := j.PublicKey(); err == nil {
			t.Errorf("bad JWK %d accepted", i)
		}
	}
	if _, err := NewJWK(&p384.PublicKey, "", ""); err == nil {
		t.Error("P-384 key accepted")
	}
}
