// Package passwords hashes user passwords with Argon2id (RFC 9106) and
// checks them, implementing [oauth.PasswordChecker].
//
// Hashes are PHC strings, as written by the reference implementation,
// libsodium and most other Argon2 libraries:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// where m is the memory in KiB, t the number of passes, p the number of
// lanes, and salt and hash are unpadded standard base64. Checking reads the
// parameters from the hash, so they can be raised later without
// invalidating stored hashes.
package passwords

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Hasher holds Argon2id cost parameters.
type Hasher struct {
	Memory      uint32 // KiB
	Iterations  uint32 // passes over memory ("t")
	Parallelism uint8  // lanes ("p")
}

// Default is OWASP's minimum Argon2id configuration (19 MiB, 2 passes,
// 1 lane), which fits a 128 MB Lambda. [Checker.DummyCheck] spends the cost
// of these parameters, so hash with Default (or change Default at start-up,
// before the first DummyCheck) to keep unknown-user logins as slow as real
// ones.
var Default = Hasher{Memory: 19 * 1024, Iterations: 2, Parallelism: 1}

// Limits on parameters, for hashing and for hashes being checked: a stored
// hash is data, and a tampered one must not make a login allocate gigabytes
// or spin for minutes.
const (
	MaxMemory      = 256 * 1024 // KiB (256 MiB)
	MaxIterations  = 10
	MaxParallelism = 16

	saltLen    = 16 // bytes, RFC 9106 §3.1 recommends 16
	keyLen     = 32 // bytes
	minSaltLen = 8  // bytes, accepted from stored hashes
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

const prefix = "$argon2id$v=19$"

var b64 = base64.RawStdEncoding.Strict()

// Hash returns the PHC string of an Argon2id hash of password under a fresh
// random salt.
func (h Hasher) Hash(password string) (string, error) {
	if err := h.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("passwords: reading salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, h.Iterations, h.Memory, h.Parallelism, keyLen)
	return fmt.Sprintf("%sm=%d,t=%d,p=%d$%s$%s", prefix, h.Memory, h.Iterations, h.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

func (h Hasher) validate() error {
	switch {
	case h.Iterations < 1 || h.Iterations > MaxIterations:
		return fmt.Errorf("passwords: iterations %d out of range 1..%d", h.Iterations, MaxIterations)
	case h.Parallelism < 1 || h.Parallelism > MaxParallelism:
		return fmt.Errorf("passwords: parallelism %d out of range 1..%d", h.Parallelism, MaxParallelism)
	case h.Memory < 8*uint32(h.Parallelism) || h.Memory > MaxMemory:
		// RFC 9106 §3.1: at least 8 KiB per lane.
		return fmt.Errorf("passwords: memory %d KiB out of range %d..%d", h.Memory, 8*uint32(h.Parallelism), MaxMemory)
	}
	return nil
}

// Scheme hashes new passwords with its Hasher and checks stored hashes with
// Checker: what a program that signs users in is given (an
// oauth.PasswordChecker that also hashes the seed's users).
type Scheme struct {
	Hasher
	Checker
}

var _ oauth.PasswordChecker = Scheme{}

// DefaultScheme returns the Scheme of [Default]'s parameters (read when it
// is called).
func DefaultScheme() Scheme { return Scheme{Hasher: Default} }

// Checker verifies Argon2id PHC hashes. The zero value is ready to use and
// safe for concurrent use.
type Checker struct{}

var _ oauth.PasswordChecker = Checker{}

// CheckPassword reports whether password matches the PHC string hash. It
// returns false for a malformed hash, another algorithm or version, or
// parameters outside this package's limits.
func (Checker) CheckPassword(hash, password string) bool {
	h, salt, want, err := parse(hash)
	if err != nil {
		return false
	}
	slots <- struct{}{}
	got := argon2.IDKey([]byte(password), salt, h.Iterations, h.Memory, h.Parallelism, uint32(len(want)))
	<-slots
	return subtle.ConstantTimeCompare(got, want) == 1
}

// slots bounds the password checks running at once, and so their memory
// (19 MiB each with Default): a burst of sign-ins on `gatehouse serve` (a
// Lambda function serves one request at a time anyway) queues for a CPU
// rather than exhausting memory. More checks at once than CPUs would not
// finish sooner.
var slots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

var (
	dummyOnce sync.Once
	dummyHash string
)

// DummyCheck checks password against a fixed hash made with [Default]
// parameters, spending the same work as CheckPassword does for a user whose
// hash uses Default, so that response times do not reveal whether a
// username exists. The dummy hash is computed on first use, so the first
// call costs twice as much.
func (c Checker) DummyCheck(password string) {
	dummyOnce.Do(func() {
		h, err := Default.Hash("gatehouse dummy password")
		if err != nil {
			// Default was set to invalid parameters: spend the cost of
			// the package's own defaults instead of none.
			h, _ = Hasher{Memory: 19 * 1024, Iterations: 2, Parallelism: 1}.Hash("gatehouse dummy password")
		}
		dummyHash = h
	})
	c.CheckPassword(dummyHash, password)
}

var errMalformed = errors.New("passwords: malformed hash")

// parse splits a PHC Argon2id string into its parameters, salt and hash,
// enforcing the same limits as Hash.
func parse(s string) (h Hasher, salt, key []byte, err error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return h, nil, nil, errMalformed
	}
	fields := strings.Split(rest, "$")
	if len(fields) != 3 {
		return h, nil, nil, errMalformed
	}
	params := strings.Split(fields[0], ",")
	if len(params) != 3 {
		return h, nil, nil, errMalformed
	}
	m, err1 := param(params[0], "m=", 32)
	t, err2 := param(params[1], "t=", 32)
	p, err3 := param(params[2], "p=", 8)
	if err1 != nil || err2 != nil || err3 != nil {
		return h, nil, nil, errMalformed
	}
	h = Hasher{Memory: uint32(m), Iterations: uint32(t), Parallelism: uint8(p)}
	if err := h.validate(); err != nil {
		return h, nil, nil, err
	}
	salt, err = decode(fields[1], minSaltLen, maxSaltLen)
	if err != nil {
		return h, nil, nil, err
	}
	key, err = decode(fields[2], minKeyLen, maxKeyLen)
	if err != nil {
		return h, nil, nil, err
	}
	return h, salt, key, nil
}

// decode decodes canonical unpadded base64 of minLen to maxLen bytes. The
// decoder skips CR and LF, so the re-encoding must match the input exactly.
func decode(s string, minLen, maxLen int) ([]byte, error) {
	if len(s) > b64.EncodedLen(maxLen) {
		return nil, errMalformed
	}
	b, err := b64.DecodeString(s)
	if err != nil || len(b) < minLen || len(b) > maxLen || b64.EncodeToString(b) != s {
		return nil, errMalformed
	}
	return b, nil
}

// param parses "name=decimal" with no sign or leading zeros.
func param(s, name string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(s, name)
	if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
		return 0, errMalformed
	}
	return strconv.ParseUint(v, 10, bits)
}
