package oauth

import (
	"context"
	"crypto"
)

// Signer signs access tokens. Sign may be a remote call (KMS), so it takes
// the request's context; the private key may never be in this process.
type Signer interface {
	// Algorithm is the JWS "alg" of signatures from Sign (RFC 7518 §3.1),
	// e.g. "RS256" or "ES256".
	Algorithm() string
	// KeyID is the JWS "kid" of the signing key. A remote signer may fetch
	// its public key the first time (no call at start-up) and caches it.
	KeyID(ctx context.Context) (string, error)
	// Sign returns the JWS signature (RFC 7515 §5.1) of signingInput: raw
	// PKCS #1 v1.5 / PSS bytes for RSA, the 64-byte R||S form for ES256.
	Sign(ctx context.Context, signingInput []byte) ([]byte, error)
	// PublicKeys returns the signing key's public half and any
	// verification-only keys, for the JWKS and for verifying tokens. Callers
	// may call it on every request: implementations cache.
	PublicKeys(ctx context.Context) ([]PublicKey, error)
}

// PublicKey is a verification key published in the JWKS (RFC 7517).
type PublicKey struct {
	KeyID     string
	Algorithm string
	Key       crypto.PublicKey // *rsa.PublicKey or *ecdsa.PublicKey
}
