package oauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
)

// JWK is a public JSON Web Key (RFC 7517 §4, RFC 7518 §6).
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	// RSA (RFC 7518 §6.3.1)
	N string `json:"n,omitempty"`
	E string `json:"e,omitempty"`
	// EC (RFC 7518 §6.2.1)
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKS is a JWK Set (RFC 7517 §5).
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// Clone returns a deep copy of the set; nil for nil.
func (s *JWKS) Clone() *JWKS {
	if s == nil {
		return nil
	}
	return &JWKS{Keys: slices.Clone(s.Keys)} // JWK holds only strings
}

var b64 = base64.RawURLEncoding

// NewJWK describes a public key as a signing JWK with the given kid and alg.
func NewJWK(pub any, kid, alg string) (JWK, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return JWK{Kty: "RSA", Use: "sig", Alg: alg, Kid: kid,
			N: b64.EncodeToString(k.N.Bytes()),
			E: b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())}, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return JWK{}, fmt.Errorf("oauth: unsupported curve %s", k.Curve.Params().Name)
		}
		raw, err := k.Bytes() // uncompressed point: 0x04 || X || Y
		if err != nil {
			return JWK{}, err
		}
		return JWK{Kty: "EC", Use: "sig", Alg: alg, Kid: kid, Crv: "P-256",
			X: b64.EncodeToString(raw[1:33]), Y: b64.EncodeToString(raw[33:])}, nil
	default:
		return JWK{}, fmt.Errorf("oauth: unsupported public key type %T", pub)
	}
}

// PublicKey decodes the key material of an RSA or P-256 JWK.
func (j JWK) PublicKey() (any, error) {
	switch j.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(j.N)
		e, err2 := b64.DecodeString(j.E)
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("oauth: malformed RSA JWK %q", j.Kid)
		}
		key := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if key.N.BitLen() < 2048 || key.E < 3 || key.E%2 == 0 {
			return nil, fmt.Errorf("oauth: RSA JWK %q is weaker than 2048 bits or has a bad exponent", j.Kid)
		}
		return key, nil
	case "EC":
		if j.Crv != "P-256" {
			return nil, fmt.Errorf("oauth: unsupported curve %q in JWK %q", j.Crv, j.Kid)
		}
		x, err1 := b64.DecodeString(j.X)
		y, err2 := b64.DecodeString(j.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("oauth: malformed EC JWK %q", j.Kid)
		}
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	default:
		return nil, fmt.Errorf("oauth: unsupported key type %q in JWK %q", j.Kty, j.Kid)
	}
}

// Thumbprint is the RFC 7638 JWK thumbprint of a public key (SHA-256,
// base64url): a kid every process derives alike from the key alone.
func Thumbprint(pub any) (string, error) {
	j, err := NewJWK(pub, "", "")
	if err != nil {
		return "", err
	}
	// RFC 7638 §3.2: required members only, lexicographic order, no spaces.
	var members any
	switch j.Kty {
	case "RSA":
		members = struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{j.E, j.Kty, j.N}
	default:
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{j.Crv, j.Kty, j.X, j.Y}
	}
	data, err := json.Marshal(members)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return b64.EncodeToString(sum[:]), nil
}

// ClientKey returns the public key of a client's JWK (RFC 7591 §2 "jwks")
// if it can verify client assertions (RFC 7523 §3 item 9): "use" absent or
// "sig" (RFC 7517 §4.2), an RSA key of at least 2048 bits or a P-256 key,
// and "alg", if present, one of ClientAssertionAlgs that fits the key
// (§4.4). The kid is not checked here.
func (j JWK) ClientKey() (crypto.PublicKey, error) {
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("oauth: JWK %q is not a signing key (use %q)", j.Kid, j.Use)
	}
	pub, err := j.PublicKey()
	if err != nil {
		return nil, err
	}
	if j.Alg != "" && (!slices.Contains(clientAssertionAlgs, j.Alg) || !algFits(pub, j.Alg)) {
		return nil, fmt.Errorf("oauth: JWK %q: alg %q is not one of RS256, PS256, ES256 fitting its key type", j.Kid, j.Alg)
	}
	return pub, nil
}

// algFits reports whether pub can verify JWS signatures of alg (RFC 7518
// §3.1). JWK.PublicKey yields RSA keys of 2048 bits or more and P-256 keys
// only.
func algFits(pub crypto.PublicKey, alg string) bool {
	switch alg {
	case "RS256", "PS256":
		_, ok := pub.(*rsa.PublicKey)
		return ok
	case "ES256":
		k, ok := pub.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P256()
	default:
		return false
	}
}
