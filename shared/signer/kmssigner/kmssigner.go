// Package kmssigner is an [oauth.Signer] whose private key never leaves AWS
// KMS. Sign is exactly one KMS Sign call; the public keys come from
// GetPublicKey on first use and are cached for the life of the process (a
// warm Lambda container). [New] makes no network call.
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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gatehouse/gatehouse/shared/awsjson"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Config configures a [Signer].
type Config struct {
	// Client is the KMS client: awsjson.New(cfg, [Service], ...) with the
	// function's AWS configuration in production.
	Client *awsjson.Client
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
	kms string // KMS's SigningAlgorithm
	rsa bool   // RSA key specs; otherwise ECC_NIST_P256
}

var algorithms = map[string]algorithm{
	"RS256": {"RS256", signingAlgRSAPKCS1SHA256, true},
	"PS256": {"PS256", signingAlgRSAPSSSHA256, true},
	"ES256": {"ES256", signingAlgECDSASHA256, false},
}

const defaultAlgorithm = "RS256"

// Signer signs with a KMS key. Create it with [New].
type Signer struct {
	client *awsjson.Client
	alg    algorithm
	keys   []*keyRef // keys[0] is the signing key, then the verify keys
}

var _ oauth.Signer = (*Signer)(nil)

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
// MessageType DIGEST. Throttling and KMS-side faults wrap
// [oauth.ErrUnavailable]; other failures name the key and the likely fix.
func (s *Signer) Sign(ctx context.Context, signingInput []byte) ([]byte, error) {
	k := s.keys[0]
	digest := sha256.Sum256(signingInput)
	out, err := s.callSign(ctx, signInput{
		KeyId:            k.id,
		Message:          digest[:],
		MessageType:      messageTypeDigest,
		SigningAlgorithm: s.alg.kms,
	})
	if err != nil {
		return nil, kmsError("Sign", k, err)
	}
	if out.SigningAlgorithm != "" && out.SigningAlgorithm != s.alg.kms {
		return nil, fmt.Errorf("kmssigner: Sign %s: KMS signed with %s, not %s", k.id, out.SigningAlgorithm, s.alg.kms)
	}
	cached := k.cached.Load()
	if signedBy := out.KeyId; cached != nil && cached.arn != "" && signedBy != "" && signedBy != cached.arn {
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
	out, err := s.callGetPublicKey(ctx, k.id)
	if err != nil {
		return nil, kmsError("GetPublicKey", k, err)
	}
	return k.check(out)
}

// check validates a GetPublicKey answer against k's algorithm and derives
// the kid.
func (k *keyRef) check(out *getPublicKeyOutput) (*publicKey, error) {
	spec := out.KeySpec
	if out.KeyUsage != keyUsageSignVerify {
		return nil, fmt.Errorf("kmssigner: KMS key %s has key usage %q, not SIGN_VERIFY: "+
			"create an asymmetric signing key (key usage SIGN_VERIFY, key spec %s) and name it in %s",
			k.id, out.KeyUsage, suggestedSpec(k.alg), k.setting())
	}
	if specOK := (k.alg.rsa && strings.HasPrefix(spec, "RSA_")) || (!k.alg.rsa && spec == keySpecECCNISTP256); !specOK {
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
	p := &publicKey{arn: out.KeyId}
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
	case spec == keySpecECCNISTP256:
		algs = "ES256"
	default:
		return fmt.Sprintf("Gatehouse signs with RSA_2048 (or larger RSA) or ECC_NIST_P256 keys: name such a key in %s", k.setting())
	}
	if k.verify {
		return fmt.Sprintf("write %q in %s, or name a %s key", k.id+"="+strings.Split(algs, " ")[0], envVerifyKeys, suggestedSpec(k.alg))
	}
	return fmt.Sprintf("set %s to %s, or name a %s key in %s", envAlg, algs, suggestedSpec(k.alg), envKeyID)
}

func suggestedSpec(alg algorithm) string {
	if alg.rsa {
		return keySpecRSA2048
	}
	return keySpecECCNISTP256
}

func orUnknown(s string) string {
	if s == "" {
		return "of unknown key spec"
	}
	return s
}

// kmsError describes a failed KMS call on k. Throttling, KMS-side faults
// and timeouts wrap oauth.ErrUnavailable (temporarily_unavailable: the
// client should retry); anything else is a server_error whose message names
// the key and the likely fix. The signing input is never part of it: KMS's
// messages and awsjson's errors describe the request, not its data.
func kmsError(op string, k *keyRef, err error) error {
	if hint := hint(awsjson.ErrorCode(err), op, k); hint != "" {
		return fmt.Errorf("kmssigner: %s %s: %s: %w", op, k.id, hint, err)
	}
	if transient(err) {
		return fmt.Errorf("kmssigner: %s %s: %w: %w", op, k.id, oauth.ErrUnavailable, err)
	}
	return fmt.Errorf("kmssigner: %s %s: %w", op, k.id, err)
}

// transient reports whether err is worth a retry by the client: KMS
// throttling, a KMS-side fault, an HTTP 5xx, a timeout or a failure to
// reach KMS at all (signing writes nothing, so a lost response loses
// nothing) — but not the caller's own cancellation.
func transient(err error) bool {
	var apiErr *awsjson.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.Code {
		case "KMSInternalException", "DependencyTimeoutException":
			return true
		}
		return apiErr.Throttling() || apiErr.ServerFault()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	return awsjson.IsTransport(err) && !errors.Is(err, context.Canceled)
}

// hint explains a KMS error that retrying will not fix, or returns "".
func hint(code, op string, k *keyRef) string {
	switch code {
	case "DisabledException":
		return fmt.Sprintf("the key is disabled: enable it (aws kms enable-key) or name an enabled key in %s", k.setting())
	case "AccessDeniedException":
		return fmt.Sprintf("access denied: allow kms:%s on this key in the function's IAM role and in the key policy", op)
	case "KMSInvalidStateException":
		return fmt.Sprintf("the key is not in a usable state (pending deletion or import?): "+
			"cancel its deletion (aws kms cancel-key-deletion) or name another key in %s", k.setting())
	case "NotFoundException":
		return fmt.Sprintf("no such key or alias in this account and region: check %s and AWS_REGION; "+
			"name a key of another account by its ARN", k.setting())
	case "KeyUnavailableException":
		return "the key's custom key store is unavailable: check its CloudHSM cluster or external key store proxy"
	case "InvalidKeyUsageException":
		return fmt.Sprintf("the key cannot sign with %s: it must be an asymmetric SIGN_VERIFY key (%s for %s)",
			k.alg.kms, suggestedSpec(k.alg), k.alg.jws)
	}
	return ""
}

// checkKeyID checks the form of a KMS key identifier: a key id, key ARN,
// alias name ("alias/x") or alias ARN. Its error completes a sentence that
// starts with the identifier.
func checkKeyID(id string) error {
	const want = `is not a KMS key id, key ARN, alias name ("alias/...") or alias ARN`
	switch {
	case id == "":
		return errors.New("is empty; want a KMS key id, key ARN, alias name (\"alias/...\") or alias ARN")
	case len(id) > 2048:
		return errors.New("is longer than KMS allows (2048 characters)")
	case strings.HasPrefix(id, "arn:"):
		// arn:PARTITION:kms:REGION:ACCOUNT:key/ID or ...:alias/NAME
		parts := strings.SplitN(id, ":", 6)
		if len(parts) != 6 || parts[1] == "" || parts[2] != "kms" || parts[3] == "" || !isAccount(parts[4]) {
			return errors.New(want + ` (a KMS ARN is "arn:aws:kms:REGION:ACCOUNT:key/ID" or "...:alias/NAME")`)
		}
		if name, ok := strings.CutPrefix(parts[5], "key/"); ok && isKeyID(name) {
			return nil
		}
		if name, ok := strings.CutPrefix(parts[5], "alias/"); ok && isAlias(name) {
			return nil
		}
		return errors.New(want)
	case strings.HasPrefix(id, "alias/"):
		if !isAlias(id[len("alias/"):]) {
			return errors.New(want + " (alias names use only A-Z, a-z, 0-9, /, _ and -)")
		}
		return nil
	case !isKeyID(id):
		return errors.New(want)
	}
	return nil
}

func isKeyID(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
	})
}

func isAlias(s string) bool {
	return s != "" && len(s) <= 250 && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '_' || r == '-')
	})
}

func isAccount(s string) bool {
	return len(s) == 12 && !strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
}

// derToRaw converts an ASN.1 DER ECDSA signature, SEQUENCE { r INTEGER,
// s INTEGER } (RFC 3279 §2.2.3), to the JWS form of RFC 7518 §3.4: R and S
// as big-endian unsigned integers, each left-padded with zeros to the byte
// length of the curve order. Only strict DER is accepted (minimal lengths
// and integers, nothing trailing), with 0 < r, s < n.
func derToRaw(der []byte, curve elliptic.Curve) ([]byte, error) {
	n := curve.Params().N
	size := (n.BitLen() + 7) / 8
	var (
		r, s  big.Int
		inner cryptobyte.String
	)
	input := cryptobyte.String(der)
	if !input.ReadASN1(&inner, cbasn1.SEQUENCE) || !input.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() {
		return nil, errors.New("malformed DER ECDSA signature from KMS")
	}
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(n) >= 0 || s.Cmp(n) >= 0 {
		return nil, errors.New("ECDSA signature from KMS is out of range")
	}
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out, nil
}
