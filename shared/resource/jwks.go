package resource

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The JWK Set is fetched and cached by shared/jwks (refetched on an unknown
// kid, at most once per MinRefetchInterval, one fetch at a time); this file
// says which of its keys verify access tokens.

// minRSABits is the least RSA key size accepted (RFC 7518 §3.3, §3.5).
const minRSABits = 2048

// accessTokenKeys decodes a fetched JWK Set into its keys fit to verify
// access tokens; a set with none is unusable.
func accessTokenKeys(set *oauth.JWKS) ([]oauth.PublicKey, error) {
	keys := signingKeys(*set)
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no usable signing key")
	}
	return keys, nil
}

// signingKeys converts the JWKs fit to verify access tokens: a kid and an
// alg the verifier supports (RFC 7517 §4.4, §4.5), "use" absent or "sig"
// (§4.2), key material matching the alg, and RSA keys of at least 2048 bits.
// Anything else is skipped; on a duplicate kid the first key wins.
func signingKeys(set oauth.JWKS) []oauth.PublicKey {
	var keys []oauth.PublicKey
	for _, j := range set.Keys {
		if j.Kid == "" || j.Alg == "" || (j.Use != "" && j.Use != "sig") || hasKid(keys, j.Kid) {
			continue
		}
		pub, err := j.PublicKey()
		if err != nil || !fitsAlg(pub, j.Alg) {
			continue
		}
		keys = append(keys, oauth.PublicKey{KeyID: j.Kid, Algorithm: j.Alg, Key: pub})
	}
	return keys
}

// fitsAlg reports whether pub is usable with the JWS alg (RFC 7518 §3.1).
func fitsAlg(pub any, alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, ok := pub.(*rsa.PublicKey)
		return ok && k.N.BitLen() >= minRSABits
	case "ES256":
		_, ok := pub.(*ecdsa.PublicKey) // JWK.PublicKey only yields P-256
		return ok
	default:
		return false
	}
}

func hasKid(keys []oauth.PublicKey, kid string) bool {
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}
