package kmssigner

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// This file fetches, checks and caches the public keys: KMS GetPublicKey
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_GetPublicKey.html)
// once per key and process, shared by concurrent callers.

// keyRef is one configured KMS key and its lazily fetched public key.
type keyRef struct {
	id     string // as configured: key id, key ARN, alias or alias ARN
	alg    algorithm
	verify bool // a verification-only key

	cached atomic.Pointer[publicKey]

	mu       sync.Mutex
	inflight *fetchCall // the GetPublicKey call under way, if any
}

// publicKey is a key's public half as GetPublicKey reported it.
type publicKey struct {
	oauth.PublicKey
	arn     string // the key ARN KMS reported
	sigSize int    // RSA: signature length in bytes; 0 for ECDSA
}

// fetchCall is a GetPublicKey call shared by concurrent callers.
type fetchCall struct {
	done     chan struct{}
	key      *publicKey
	err      error
	canceled bool // the caller that made it gave up (its context ended)
}

// fetch returns k's public key, calling GetPublicKey unless it is cached.
// Concurrent callers share one call and its outcome, unless the caller that
// made the call gave up (its context ended), in which case they try again.
func (s *Signer) fetch(ctx context.Context, k *keyRef) (*publicKey, error) {
	for {
		if p := k.cached.Load(); p != nil {
			return p, nil
		}
		k.mu.Lock()
		if p := k.cached.Load(); p != nil {
			k.mu.Unlock()
			return p, nil
		}
		if c := k.inflight; c != nil {
			k.mu.Unlock()
			select {
			case <-c.done:
				if c.canceled {
					continue
				}
				return c.key, c.err
			case <-ctx.Done():
				return nil, kmsError("GetPublicKey", k, ctx.Err())
			}
		}
		c := &fetchCall{done: make(chan struct{})}
		k.inflight = c
		k.mu.Unlock()

		c.key, c.err = s.getPublicKey(ctx, k)
		c.canceled = c.err != nil && ctx.Err() != nil

		k.mu.Lock()
		if c.err == nil {
			k.cached.Store(c.key)
		}
		k.inflight = nil
		k.mu.Unlock()
		close(c.done)
		return c.key, c.err
	}
}

// getPublicKey calls GetPublicKey and checks that the key suits k's
// algorithm.
func (s *Signer) getPublicKey(ctx context.Context, k *keyRef) (*publicKey, error) {
	out, err := s.client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(k.id)})
	if err != nil {
		return nil, kmsError("GetPublicKey", k, err)
	}
	return k.check(out)
}

// check validates a GetPublicKey answer against k's algorithm and derives
// the kid.
func (k *keyRef) check(out *kms.GetPublicKeyOutput) (*publicKey, error) {
	spec := string(out.KeySpec)
	if out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("kmssigner: KMS key %s has key usage %q, not SIGN_VERIFY: "+
			"create an asymmetric signing key (key usage SIGN_VERIFY, key spec %s) and name it in %s",
			k.id, out.KeyUsage, suggestedSpec(k.alg), k.setting())
	}
	if specOK := (k.alg.rsa && strings.HasPrefix(spec, "RSA_")) || (!k.alg.rsa && out.KeySpec == types.KeySpecEccNistP256); !specOK {
		return nil, fmt.Errorf("kmssigner: KMS key %s is %s, but %s; %s",
			k.id, orUnknown(spec), k.algSetting(), k.specFix(spec))
	}
	if !slices.Contains(out.SigningAlgorithms, k.alg.kms) {
		return nil, fmt.Errorf("kmssigner: KMS key %s (%s) does not offer %s (it offers %v), which %s needs",
			k.id, spec, k.alg.kms, out.SigningAlgorithms, k.alg.jws)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("kmssigner: KMS key %s: parsing the public key from GetPublicKey: %w", k.id, err)
	}
	p := &publicKey{arn: aws.ToString(out.KeyId)}
	switch key := pub.(type) {
	case *rsa.PublicKey:
		if !k.alg.rsa {
			return nil, fmt.Errorf("kmssigner: KMS key %s has key spec %s but an RSA public key", k.id, spec)
		}
		if key.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("kmssigner: KMS key %s is a %d-bit RSA key; at least %d bits are required (RFC 7518 §3.3)",
				k.id, key.N.BitLen(), minRSABits)
		}
		p.sigSize = (key.N.BitLen() + 7) / 8
	case *ecdsa.PublicKey:
		if k.alg.rsa || key.Curve != elliptic.P256() {
			return nil, fmt.Errorf("kmssigner: KMS key %s has key spec %s but a %s public key", k.id, spec, key.Curve.Params().Name)
		}
	default:
		return nil, fmt.Errorf("kmssigner: KMS key %s has an unsupported public key type %T", k.id, pub)
	}
	kid, err := oauth.Thumbprint(pub)
	if err != nil {
		return nil, fmt.Errorf("kmssigner: KMS key %s: %w", k.id, err)
	}
	p.PublicKey = oauth.PublicKey{KeyID: kid, Algorithm: k.alg.jws, Key: pub}
	return p, nil
}

// setting names the deployment setting that names k.
func (k *keyRef) setting() string {
	if k.verify {
		return envVerifyKeys
	}
	return envKeyID
}

// algSetting says where k's algorithm comes from.
func (k *keyRef) algSetting() string {
	if k.verify {
		return fmt.Sprintf("its algorithm in %s is %s", envVerifyKeys, k.alg.jws)
	}
	return fmt.Sprintf("%s is %s", envAlg, k.alg.jws)
}

// specFix suggests how to reconcile k's algorithm with a key of spec.
func (k *keyRef) specFix(spec string) string {
	var algs string
	switch {
	case strings.HasPrefix(spec, "RSA_"):
		algs = "RS256 or PS256"
	case spec == string(types.KeySpecEccNistP256):
		algs = "ES256"
	default:
		return fmt.Sprintf("Gatehouse signs with RSA_2048 (or larger RSA) or ECC_NIST_P256 keys: name such a key in %s", k.setting())
	}
	if k.verify {
		return fmt.Sprintf("write %q in %s, or name a %s key", k.id+"="+strings.Split(algs, " ")[0], envVerifyKeys, suggestedSpec(k.alg))
	}
	return fmt.Sprintf("set %s to %s, or name a %s key in %s", envAlg, algs, suggestedSpec(k.alg), envKeyID)
}

// suggestedSpec is the KMS key spec to create for alg.
func suggestedSpec(alg algorithm) types.KeySpec {
	if alg.rsa {
		return types.KeySpecRsa2048
	}
	return types.KeySpecEccNistP256
}

// orUnknown names a key spec for a message.
func orUnknown(s string) string {
	if s == "" {
		return "of unknown key spec"
	}
	return s
}
