package passwords

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fast keeps the tests quick; Default is exercised where the cost matters.
var fast = Hasher{Memory: 64, Iterations: 1, Parallelism: 1}

func TestHashAndCheck(t *testing.T) {
	tests := []struct {
		name     string
		h        Hasher
		password string
		attempt  string
		want     bool
	}{
		{"default ok", Default, "correct horse battery staple", "correct horse battery staple", true},
		{"default wrong", Default, "correct horse battery staple", "correct horse battery stapl", false},
		{"fast ok", fast, "s3cret", "s3cret", true},
		{"case matters", fast, "s3cret", "S3cret", false},
		{"empty ok", fast, "", "", true},
		{"empty vs non-empty", fast, "", "x", false},
		{"trailing NUL", fast, "pw", "pw\x00", false},
		{"unicode ok", fast, "pässwörd🔑", "pässwörd🔑", true},
		{"two lanes", Hasher{Memory: 64, Iterations: 2, Parallelism: 2}, "pw", "pw", true},
		{"long password", fast, strings.Repeat("a", 4096), strings.Repeat("a", 4096), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash, err := tt.h.Hash(tt.password)
			if err != nil {
				t.Fatal(err)
			}
			wantPrefix := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", tt.h.Memory, tt.h.Iterations, tt.h.Parallelism)
			if !strings.HasPrefix(hash, wantPrefix) {
				t.Fatalf("hash %q lacks prefix %q", hash, wantPrefix)
			}
			if got := (Checker{}).CheckPassword(hash, tt.attempt); got != tt.want {
				t.Fatalf("CheckPassword = %v, want %v (hash %s)", got, tt.want, hash)
			}
		})
	}
}

func TestDefaultParameters(t *testing.T) {
	if Default != (Hasher{Memory: 19456, Iterations: 2, Parallelism: 1}) {
		t.Fatalf("Default = %+v, want OWASP minimum m=19456,t=2,p=1", Default)
	}
	hash, err := Default.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[3] != "m=19456,t=2,p=1" || len(parts[4]) != 22 || len(parts[5]) != 43 {
		t.Fatalf("hash %q: want 16-byte salt and 32-byte hash, unpadded base64", hash)
	}
}

func TestSaltsDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 5 {
		hash, err := fast.Hash("same password")
		if err != nil {
			t.Fatal(err)
		}
		if seen[hash] {
			t.Fatalf("hash %q repeated", hash)
		}
		seen[hash] = true
		if !(Checker{}).CheckPassword(hash, "same password") {
			t.Fatal("CheckPassword false")
		}
	}
}

// TestKnownAnswer checks hashes built by hand from reference-implementation
// test vectors (password "password", salt "somesalt", 24-byte output, as in
// x/crypto's argon2 tests), so parsing, parameters and output length are
// interpreted as other Argon2 implementations write them.
func TestKnownAnswer(t *testing.T) {
	tests := []struct {
		params string
		hexKey string
	}{
		{"m=64,t=1,p=1", "655ad15eac652dc59f7170a7332bf49b8469be1fdb9c28bb"},
		{"m=64,t=2,p=1", "068d62b26455936aa6ebe60060b0a65870dbfa3ddf8d41f7"},
		{"m=64,t=2,p=2", "350ac37222f436ccb5c0972f1ebd3bf6b958bf2071841362"},
	}
	for _, tt := range tests {
		t.Run(tt.params, func(t *testing.T) {
			key, err := hex.DecodeString(tt.hexKey)
			if err != nil {
				t.Fatal(err)
			}
			hash := "$argon2id$v=19$" + tt.params + "$" + b64.EncodeToString([]byte("somesalt")) + "$" + b64.EncodeToString(key)
			if !(Checker{}).CheckPassword(hash, "password") {
				t.Fatalf("%s does not verify", hash)
			}
			if (Checker{}).CheckPassword(hash, "Password") {
				t.Fatalf("%s verifies a wrong password", hash)
			}
		})
	}
}

func TestCheckRejectsMalformed(t *testing.T) {
	good, err := fast.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, params, salt, hash
	join := func(p ...string) string { return strings.Join(p, "$") }
	salt, key := parts[4], parts[5]
	// flip changes one base64 character of the hash.
	flip := func(s string) string {
		c := byte('A')
		if s[0] == 'A' {
			c = 'B'
		}
		return string(c) + s[1:]
	}

	tests := []struct {
		name string
		hash string
	}{
		{"empty", ""},
		{"garbage", "not a hash"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", join("", "argon2i", "v=19", parts[3], salt, key)},
		{"argon2d", join("", "argon2d", "v=19", parts[3], salt, key)},
		{"version 16", join("", "argon2id", "v=16", parts[3], salt, key)},
		{"no version", join("", "argon2id", parts[3], salt, key)},
		{"tampered hash", join("", "argon2id", "v=19", parts[3], salt, flip(key))},
		{"tampered salt", join("", "argon2id", "v=19", parts[3], flip(salt), key)},
		{"tampered memory", join("", "argon2id", "v=19", "m=128,t=1,p=1", salt, key)},
		{"tampered iterations", join("", "argon2id", "v=19", "m=64,t=2,p=1", salt, key)},
		{"truncated hash", join("", "argon2id", "v=19", parts[3], salt, key[:len(key)-4])},
		{"hash too short", join("", "argon2id", "v=19", parts[3], salt, b64.EncodeToString(make([]byte, 8)))},
		{"hash too long", join("", "argon2id", "v=19", parts[3], salt, b64.EncodeToString(make([]byte, 1<<20)))},
		{"salt too short", join("", "argon2id", "v=19", parts[3], b64.EncodeToString([]byte("salt")), key)},
		{"padded base64", join("", "argon2id", "v=19", parts[3], salt, key+"=")},
		{"non-base64", join("", "argon2id", "v=19", parts[3], salt, "!!!!"+key[4:])},
		{"missing hash", join("", "argon2id", "v=19", parts[3], salt)},
		{"extra field", good + "$extra"},
		{"trailing newline", good + "\n"},
		{"leading space", " " + good},
		{"params reordered", join("", "argon2id", "v=19", "t=1,m=64,p=1", salt, key)},
		{"params missing", join("", "argon2id", "v=19", "m=64,t=1", salt, key)},
		{"params extra", join("", "argon2id", "v=19", "m=64,t=1,p=1,k=1", salt, key)},
		{"params spaces", join("", "argon2id", "v=19", "m=64, t=1, p=1", salt, key)},
		{"params sign", join("", "argon2id", "v=19", "m=+64,t=1,p=1", salt, key)},
		{"params leading zero", join("", "argon2id", "v=19", "m=064,t=1,p=1", salt, key)},
		{"params non-numeric", join("", "argon2id", "v=19", "m=x,t=1,p=1", salt, key)},
		{"zero iterations", join("", "argon2id", "v=19", "m=64,t=0,p=1", salt, key)},
		{"zero lanes", join("", "argon2id", "v=19", "m=64,t=1,p=0", salt, key)},
		{"memory overflow", join("", "argon2id", "v=19", "m=4294967296,t=1,p=1", salt, key)},
		{"lanes overflow", join("", "argon2id", "v=19", "m=64,t=1,p=256", salt, key)},
		// Absurd costs from a tampered hash must be refused before any work.
		{"memory 4 GiB", join("", "argon2id", "v=19", "m=4194304,t=1,p=1", salt, key)},
		{"memory just over limit", join("", "argon2id", "v=19", "m=262145,t=1,p=1", salt, key)},
		{"iterations 1000000", join("", "argon2id", "v=19", "m=64,t=1000000,p=1", salt, key)},
		{"iterations 11", join("", "argon2id", "v=19", "m=64,t=11,p=1", salt, key)},
		{"lanes 255", join("", "argon2id", "v=19", "m=262144,t=1,p=255", salt, key)},
		{"memory below 8 KiB per lane", join("", "argon2id", "v=19", "m=8,t=1,p=2", salt, key)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			if (Checker{}).CheckPassword(tt.hash, "pw") {
				t.Fatalf("CheckPassword(%q) = true", tt.hash)
			}
			// A refused hash must not have run a big Argon2 computation.
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("rejecting %q took %v", tt.hash, d)
			}
		})
	}
	if !(Checker{}).CheckPassword(good, "pw") {
		t.Fatal("the untampered hash no longer verifies")
	}
}

func TestHashRejectsBadParameters(t *testing.T) {
	tests := []struct {
		name string
		h    Hasher
	}{
		{"zero value", Hasher{}},
		{"zero iterations", Hasher{Memory: 64, Parallelism: 1}},
		{"zero lanes", Hasher{Memory: 64, Iterations: 1}},
		{"too little memory", Hasher{Memory: 8, Iterations: 1, Parallelism: 2}},
		{"too much memory", Hasher{Memory: MaxMemory + 1, Iterations: 1, Parallelism: 1}},
		{"too many iterations", Hasher{Memory: 64, Iterations: MaxIterations + 1, Parallelism: 1}},
		{"too many lanes", Hasher{Memory: 1024, Iterations: 1, Parallelism: MaxParallelism + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if hash, err := tt.h.Hash("pw"); err == nil {
				t.Fatalf("Hash with %+v = %q, want an error", tt.h, hash)
			}
		})
	}
}

// TestDummyCheckUsesDefault checks that DummyCheck verifies against a hash
// made with Default's parameters, so it costs what a real check costs.
// The time ratio itself is measured by BenchmarkDummyCheck against
// BenchmarkCheckPassword (BENCHMARKS.md), not asserted here: timed tests
// flake on shared machines.
func TestDummyCheckUsesDefault(t *testing.T) {
	var c Checker
	c.DummyCheck("warm up") // computes the dummy hash
	want := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", Default.Memory, Default.Iterations, Default.Parallelism)
	if !strings.HasPrefix(dummyHash, want) {
		t.Fatalf("dummy hash %q does not use Default (%s)", dummyHash, want)
	}
	if !c.CheckPassword(dummyHash, "gatehouse dummy password") {
		t.Fatal("the dummy hash is not a valid hash: DummyCheck would fail fast")
	}
}

func BenchmarkCheckPassword(b *testing.B) {
	hash, err := Default.Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	var c Checker
	b.ReportAllocs()
	for b.Loop() {
		if !c.CheckPassword(hash, "correct horse battery staple") {
			b.Fatal("CheckPassword false")
		}
	}
}

func BenchmarkDummyCheck(b *testing.B) {
	var c Checker
	c.DummyCheck("warm up")
	b.ReportAllocs()
	for b.Loop() {
		c.DummyCheck("correct horse battery staple")
	}
}

// TestChecksAreBounded: with every slot taken, a check waits for one to be
// freed.
func TestChecksAreBounded(t *testing.T) {
	hash, err := (Hasher{Memory: 64, Iterations: 1, Parallelism: 1}).Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	for range cap(slots) {
		slots <- struct{}{}
	}
	done := make(chan bool)
	go func() { done <- Checker{}.CheckPassword(hash, "pw") }()
	select {
	case <-done:
		t.Fatal("a check ran while every slot was taken")
	case <-time.After(100 * time.Millisecond):
	}
	<-slots // free one
	if ok := <-done; !ok {
		t.Error("the check, once it ran, failed")
	}
	for range cap(slots) - 1 {
		<-slots
	}
}

// TestSchemeHashesAndChecks: a Scheme's hashes carry its Hasher's
// parameters and verify with its Checker.
func TestSchemeHashesAndChecks(t *testing.T) {
	s := Scheme{Hasher: Hasher{Memory: 64, Iterations: 1, Parallelism: 1}}
	hash, err := s.Hash("wonderland")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(hash, "m=64,t=1,p=1") {
		t.Errorf("hash %q does not carry the scheme's parameters", hash)
	}
	if !s.CheckPassword(hash, "wonderland") || s.CheckPassword(hash, "wonderlanD") {
		t.Error("CheckPassword does not tell the right password from a wrong one")
	}
	if d := DefaultScheme(); d.Hasher != Default {
		t.Errorf("DefaultScheme().Hasher = %+v, want Default %+v", d.Hasher, Default)
	}
}
