package kmstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// key is a KMS key of the double.
type key struct {
	id      string
	arn     string
	spec    string
	signer  crypto.Signer
	der     []byte // PKIX public key
	algs    []string
	enabled bool
	created time.Time
}

// specs are the key specs the double supports, with KMS's signing
// algorithms for each (in the order GetPublicKey lists them).
var specs = map[string][]string{
	"RSA_2048":      rsaAlgs,
	"RSA_3072":      rsaAlgs,
	"RSA_4096":      rsaAlgs,
	"ECC_NIST_P256": {"ECDSA_SHA_256"},
	"ECC_NIST_P384": {"ECDSA_SHA_384"},
}

var rsaAlgs = []string{
	"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
	"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
}

// CreateKey creates an enabled asymmetric SIGN_VERIFY key and returns its
// key id. spec is "RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256" or
// "ECC_NIST_P384"; any other panics.
func (s *Server) CreateKey(spec string) (keyID string) {
	var (
		signer crypto.Signer
		err    error
	)
	switch spec {
	case "RSA_2048", "RSA_3072", "RSA_4096":
		var bits int
		fmt.Sscanf(spec, "RSA_%d", &bits)
		signer, err = rsa.GenerateKey(rand.Reader, bits)
	case "ECC_NIST_P256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ECC_NIST_P384":
		signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		panic(fmt.Sprintf("kmstest: CreateKey: unsupported key spec %q", spec))
	}
	if err != nil {
		panic(fmt.Sprintf("kmstest: CreateKey %s: %v", spec, err))
	}
	return s.AddKey(spec, signer)
}

// AddKey adds a caller-supplied private key as a key of the given spec and
// returns its key id. The key's type and size are NOT checked against spec,
// so a test can make the double misbehave (say, a 1024-bit RSA key claimed
// as RSA_2048); an unknown spec panics.
func (s *Server) AddKey(spec string, signer crypto.Signer) (keyID string) {
	algs, ok := specs[spec]
	if !ok {
		panic(fmt.Sprintf("kmstest: AddKey: unsupported key spec %q", spec))
	}
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		panic(fmt.Sprintf("kmstest: AddKey: %v", err))
	}
	id := newUUID()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[id] = &key{
		id: id, arn: KeyARN(id), spec: spec, signer: signer, der: der,
		algs: algs, enabled: true, created: time.Now().Truncate(time.Millisecond),
	}
	return id
}

// CreateAlias points alias ("alias/name") at a key named by key id, key ARN,
// alias or alias ARN. Unlike KMS, it moves an existing alias (as KMS's
// UpdateAlias does). An invalid alias or unknown key panics.
func (s *Server) CreateAlias(alias, keyID string) {
	name, ok := strings.CutPrefix(alias, "alias/")
	if !ok || name == "" || strings.HasPrefix(name, "aws/") {
		panic(fmt.Sprintf("kmstest: CreateAlias: %q is not an alias name (alias/NAME)", alias))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _ := s.resolve(keyID)
	if k == nil {
		panic(fmt.Sprintf("kmstest: CreateAlias: no key %q", keyID))
	}
	s.aliases[alias] = k.id
}

// DisableKey disables a key (named by any identifier): Sign and
// GetPublicKey then fail with DisabledException, as in KMS. An unknown key
// panics.
func (s *Server) DisableKey(keyID string) { s.setEnabled(keyID, false) }

// EnableKey enables a disabled key again.
func (s *Server) EnableKey(keyID string) { s.setEnabled(keyID, true) }

func (s *Server) setEnabled(keyID string, enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _ := s.resolve(keyID)
	if k == nil {
		panic(fmt.Sprintf("kmstest: no key %q", keyID))
	}
	k.enabled = enabled
}

// PublicKey returns the public key (*rsa.PublicKey or *ecdsa.PublicKey) of a
// key named by any identifier, or nil if there is no such key.
func (s *Server) PublicKey(keyID string) crypto.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, _ := s.resolve(keyID); k != nil {
		return k.signer.Public()
	}
	return nil
}

// KeyARN is the ARN of the key with the given key id.
func KeyARN(keyID string) string {
	return "arn:aws:kms:" + Region + ":" + Account + ":key/" + keyID
}

// AliasARN is the ARN of an alias ("alias/name").
func AliasARN(alias string) string {
	return "arn:aws:kms:" + Region + ":" + Account + ":" + alias
}

// resolve finds a key by key id, key ARN, alias name or alias ARN. If there
// is none, it returns KMS's NotFoundException message. s.mu is held.
func (s *Server) resolve(id string) (*key, string) {
	ref := id
	if rest, ok := strings.CutPrefix(id, "arn:aws:kms:"); ok {
		region, rest, _ := strings.Cut(rest, ":")
		account, resource, _ := strings.Cut(rest, ":")
		if region != Region || account != Account {
			return nil, fmt.Sprintf("Invalid arn %s", id)
		}
		ref = resource
		if keyID, ok := strings.CutPrefix(resource, "key/"); ok {
			ref = keyID
		} else if !strings.HasPrefix(resource, "alias/") {
			return nil, fmt.Sprintf("Invalid arn %s", id)
		}
	}
	if strings.HasPrefix(ref, "alias/") {
		if k := s.keys[s.aliases[ref]]; k != nil {
			return k, ""
		}
		return nil, fmt.Sprintf("Alias %s is not found.", AliasARN(ref))
	}
	if k := s.keys[ref]; k != nil {
		return k, ""
	}
	return nil, fmt.Sprintf("Key '%s' does not exist", KeyARN(ref))
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
