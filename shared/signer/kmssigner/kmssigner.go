// Package kmssigner is an [oauth.Signer] whose private key never leaves AWS
// KMS. Sign is exactly one KMS Sign operation; the public keys come from
// GetPublicKey on first use and are cached for the life of the process (a
// warm Lambda container). [New] makes no network call. It calls KMS through
// the AWS SDK's client (service/kms), made with [NewClient], whose retries
// are set for a request that someone is waiting on.
//
// Three JWS algorithms (RFC 7518 §3.1) are supported, each with the KMS key
// it needs:
//
//   - RS256 (the default): RSASSA_PKCS1_V1_5_SHA_256, key spec RSA_2048 or a
//     larger RSA spec;
//   - PS256: RSASSA_PSS_SHA_256, any RSA key spec (KMS uses a salt as long as
//     the hash, as RFC 7518 §3.5 requires);
//   - ES256: ECDSA_SHA_256, key spec ECC_NIST_P256. KMS returns an ASN.1 DER
//     signature, converted here to the 64-byte R||S form of RFC 7518 §3.4.
//
// The signing input is hashed here with SHA-256 and sent to KMS as a DIGEST,
// so a token of any size is one 32-byte request.
//
// The "kid" of every key is its RFC 7638 thumbprint ([oauth.Thumbprint]), so
// every container and the JWKS agree on it without configuration, and a key
// named by key id, key ARN, alias or alias ARN has the same kid.
//
// # Key rotation
//
// Verification-only keys ([Config.VerifyKeys]) keep older tokens verifiable:
//
//  1. create the new key and add it to VerifyKeys, then deploy, so every
//     verifier knows it before any token uses it;
//  2. make it the signing key and move the old one to VerifyKeys; deploy;
//  3. after the longest token lifetime, drop the old key from VerifyKeys.
//
// Public keys are cached for the life of a container, so moving an alias to
// another key takes effect on new containers only. A warm container that
// still signs through the alias notices the move (KMS reports which key
// signed): it drops its cached key and fails that one request as temporarily
// unavailable, rather than issue a token whose kid names the wrong key.
// Verifiers in other warm containers learn the new key only when they start,
// so rotate by deploying, as above.
//
// A Signer is safe for concurrent use. Concurrent first uses of a key share
// one GetPublicKey call; a failed fetch is not cached.
package kmssigner

import (
	"context"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Config configures a [Signer].
type Config struct {
	// Client calls KMS: [NewClient] with the function's AWS configuration
	// in production, or any [API], such as a wrapped *kms.Client.
	Client API
	// Algorithm is the JWS algorithm: "RS256" (the default when empty),
	// "PS256" or "ES256".
	Algorithm string
	// SigningKeyID names the asymmetric SIGN_VERIFY KMS key that signs: a
	// key id, key ARN, alias name ("alias/x") or alias ARN. Use an ARN for
	// a key of another account.
	SigningKeyID string
	// VerifyKeys are verification-only keys (key rotation), published in
	// the JWKS and trusted when verifying: each "keyID" or "keyID=ALG",
	// where ALG defaults to Algorithm.
	VerifyKeys []string
}

// Names of the deployment settings, quoted in error messages so that an
// operator reading a log knows what to change.
const (
	envAlg        = "GATEHOUSE_SIGNING_ALG"
	envKeyID      = "GATEHOUSE_KMS_KEY_ID"
	envVerifyKeys = "GATEHOUSE_KMS_VERIFY_KEYS"
)

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
const minRSABits = 2048

// algorithm ties a JWS algorithm to the KMS signing algorithm and key type.
type algorithm struct {
	jws string
	kms types.SigningAlgorithmSpec
	rsa bool // RSA key specs; otherwise ECC_NIST_P256
}

var algorithms = map[string]algorithm{
	"RS256": {"RS256", types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, true},
	"PS256": {"PS256", types.SigningAlgorithmSpecRsassaPssSha256, true},
	"ES256": {"ES256", types.SigningAlgorithmSpecEcdsaSha256, false},
}

const defaultAlgorithm = "RS256"

// Signer signs with a KMS key. Create it with [New].
type Signer struct {
	client API
	alg    algorithm
	keys   []*keyRef // keys[0] is the signing key, then the verify keys
}

var _ oauth.Signer = (*Signer)(nil)

// New checks cfg and returns a Signer. It makes no network call: the public
// keys are fetched on first use. Errors name the offending Config field.
func New(cfg Config) (*Signer, error) {
	if cfg.Client == nil {
		return nil, errors.New("kmssigner: Config.Client is nil")
	}
	name := cfg.Algorithm
	if name == "" {
		name = defaultAlgorithm
	}
	alg, ok := algorithms[name]
	if !ok {
		return nil, fmt.Errorf("kmssigner: Config.Algorithm %q is not supported; want RS256, PS256 or ES256", cfg.Algorithm)
	}
	if err := checkKeyID(cfg.SigningKeyID); err != nil {
		return nil, fmt.Errorf("kmssigner: Config.SigningKeyID %q %w", cfg.SigningKeyID, err)
	}
	s := &Signer{client: cfg.Client, alg: alg}
	s.keys = append(s.keys, &keyRef{id: cfg.SigningKeyID, alg: alg})
	for i, entry := range cfg.VerifyKeys {
		id, algName, hasAlg := strings.Cut(strings.TrimSpace(entry), "=")
		id, algName = strings.TrimSpace(id), strings.TrimSpace(algName)
		if err := checkKeyID(id); err != nil {
			return nil, fmt.Errorf("kmssigner: Config.VerifyKeys[%d] %q: key %q %w (entries are \"keyID\" or \"keyID=ALG\")", i, entry, id, err)
		}
		valg := alg
		if hasAlg {
			if valg, ok = algorithms[algName]; !ok {
				return nil, fmt.Errorf("kmssigner: Config.VerifyKeys[%d] %q: algorithm %q is not supported; want RS256, PS256 or ES256", i, entry, algName)
			}
		}
		if slices.ContainsFunc(s.keys, func(k *keyRef) bool { return k.id == id && k.alg == valg }) {
			continue // named twice: fetch it once
		}
		s.keys = append(s.keys, &keyRef{id: id, alg: valg, verify: true})
	}
	return s, nil
}

// Algorithm returns the JWS algorithm: "RS256", "PS256" or "ES256".
func (s *Signer) Algorithm() string { return s.alg.jws }

// KeyID returns the RFC 7638 thumbprint of the signing key's public key. The
// first call fetches the key with GetPublicKey; later calls are free.
func (s *Signer) KeyID(ctx context.Context) (string, error) {
	k, err := s.fetch(ctx, s.keys[0])
	if err != nil {
		return "", err
	}
	return k.KeyID, nil
}

// Sign returns the JWS signature of signingInput (RFC 7515 §5.1): raw
// PKCS #1 v1.5 or PSS bytes for RSA, the 64-byte R||S form for ES256. It
// hashes signingInput with SHA-256 and makes exactly one KMS Sign call with
// MessageType DIGEST
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html).
// Throttling and KMS-side faults wrap [oauth.ErrUnavailable]; other
// failures name the key and the likely fix.
func (s *Signer) Sign(ctx context.Context, signingInput []byte) ([]byte, error) {
	k := s.keys[0]
	digest := sha256.Sum256(signingInput)
	out, err := s.client.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(k.id),
		Message:          digest[:],
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: s.alg.kms,
	})
	if err != nil {
		return nil, kmsError("Sign", k, err)
	}
	if out.SigningAlgorithm != "" && out.SigningAlgorithm != s.alg.kms {
		return nil, fmt.Errorf("kmssigner: Sign %s: KMS signed with %s, not %s", k.id, out.SigningAlgorithm, s.alg.kms)
	}
	cached := k.cached.Load()
	if signedBy := aws.ToString(out.KeyId); cached != nil && cached.arn != "" && signedBy != "" && signedBy != cached.arn {
		// The alias now names another key: the kid already in the token
		// is wrong. Forget the key so that the next request fetches the
		// new one, and let the client retry.
		k.cached.CompareAndSwap(cached, nil)
		return nil, fmt.Errorf("kmssigner: Sign %s: %w: KMS signed with key %s, not the cached key %s "+
			"(alias moved to another key?); the new key is fetched on the next request, and "+
			"tokens of the old key verify only while it is in %s", k.id, oauth.ErrUnavailable, signedBy, cached.arn, envVerifyKeys)
	}
	if s.alg.rsa {
		if len(out.Signature) == 0 || (cached != nil && len(out.Signature) != cached.sigSize) {
			return nil, fmt.Errorf("kmssigner: Sign %s: KMS returned a %d-byte signature for an RSA key", k.id, len(out.Signature))
		}
		return out.Signature, nil
	}
	sig, err := derToRaw(out.Signature, elliptic.P256())
	if err != nil {
		return nil, fmt.Errorf("kmssigner: Sign %s: %w", k.id, err)
	}
	return sig, nil
}

// PublicKeys returns the signing key's public half followed by the
// verification-only keys, each with its algorithm and kid. Each key is
// fetched once (GetPublicKey) and then cached; keys fetched for the first
// time at once are fetched in parallel. A key named twice (say by alias and
// by ARN) appears once. If any key cannot be fetched, PublicKeys fails, and
// the next call tries that key again.
func (s *Signer) PublicKeys(ctx context.Context) ([]oauth.PublicKey, error) {
	fetched := make([]*publicKey, len(s.keys))
	var missing []int
	for i, k := range s.keys {
		if fetched[i] = k.cached.Load(); fetched[i] == nil {
			missing = append(missing, i)
		}
	}
	if len(missing) == 1 {
		i := missing[0]
		var err error
		if fetched[i], err = s.fetch(ctx, s.keys[i]); err != nil {
			return nil, err
		}
	} else if len(missing) > 1 {
		errs := make([]error, len(s.keys))
		var wg sync.WaitGroup
		for _, i := range missing {
			wg.Go(func() { fetched[i], errs[i] = s.fetch(ctx, s.keys[i]) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err // the first failure in configuration order
			}
		}
	}
	keys := make([]oauth.PublicKey, 0, len(fetched))
	named := make([]string, 0, len(fetched)) // named[j]: how keys[j] was configured
	for i, p := range fetched {
		j := slices.IndexFunc(keys, func(k oauth.PublicKey) bool { return k.KeyID == p.KeyID })
		switch {
		case j < 0:
			keys = append(keys, p.PublicKey)
			named = append(named, s.keys[i].id)
		case keys[j].Algorithm != p.Algorithm:
			return nil, fmt.Errorf("kmssigner: %s and %s are the same KMS key (%s), once for %s and once for %s; "+
				"a key id names one key and one algorithm: remove one of them from %s",
				named[j], s.keys[i].id, p.arn, keys[j].Algorithm, p.Algorithm, envVerifyKeys)
		}
	}
	return keys, nil
}
