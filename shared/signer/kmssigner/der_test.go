package kmssigner

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"
)

// seq builds DER SEQUENCE { INTEGER r, INTEGER s } from the integers'
// content octets, exactly as given (so tests can build malformed ones).
func seq(ints ...[]byte) []byte {
	var body []byte
	for _, i := range ints {
		body = append(body, 0x02, byte(len(i)))
		body = append(body, i...)
	}
	return append([]byte{0x30, byte(len(body))}, body...)
}

func rep(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func TestDERToRaw(t *testing.T) {
	n := elliptic.P256().Params().N
	nMinus1 := new(big.Int).Sub(n, big.NewInt(1)).Bytes() // 32 bytes, high bit set
	padded := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	tests := []struct {
		name string
		der  []byte
		want []byte // nil: must be rejected
	}{
		{"plain 32-byte R and S", seq(rep(0x11, 32), rep(0x22, 32)), padded(rep(0x11, 32), rep(0x22, 32))},
		{"high bit set: DER's leading zero is dropped",
			seq(append([]byte{0}, rep(0x80, 32)...), append([]byte{0}, rep(0xff, 31)...)),
			padded(rep(0x80, 32), []byte{0}, rep(0xff, 31))},
		{"short R is left-padded", seq([]byte{0x01}, rep(0x22, 32)), padded(rep(0, 31), []byte{1}, rep(0x22, 32))},
		{"short S is left-padded", seq(rep(0x11, 32), rep(0x7f, 30)), padded(rep(0x11, 32), rep(0, 2), rep(0x7f, 30))},
		{"short R with high bit", seq([]byte{0x00, 0x80}, []byte{0x05}),
			padded(rep(0, 31), []byte{0x80}, rep(0, 31), []byte{5})},
		{"R = n-1", seq(append([]byte{0}, nMinus1...), []byte{1}), padded(nMinus1, rep(0, 31), []byte{1})},

		{"empty", nil, nil},
		{"raw R||S instead of DER", rep(0x11, 64), nil},
		{"negative R (high bit without leading zero)", seq(rep(0x80, 32), rep(0x22, 32)), nil},
		{"non-minimal integer", seq(append([]byte{0}, rep(0x11, 32)...), rep(0x22, 32)), nil},
		{"zero R", seq([]byte{0}, rep(0x22, 32)), nil},
		{"zero-length integer", seq([]byte{}, rep(0x22, 32)), nil},
		{"R = n", seq(append([]byte{0}, n.Bytes()...), []byte{1}), nil},
		{"S > n", seq([]byte{1}, append([]byte{0}, rep(0xff, 32)...)), nil},
		{"R longer than the curve", seq(append([]byte{1}, rep(0, 32)...), []byte{1}), nil},
		{"missing S", seq(rep(0x11, 32)), nil},
		{"three integers", seq([]byte{1}, []byte{2}, []byte{3}), nil},
		{"trailing bytes", append(seq([]byte{1}, []byte{2}), 0), nil},
		{"SET, not SEQUENCE", append([]byte{0x31}, seq([]byte{1}, []byte{2})[1:]...), nil},
		{"BIT STRING, not INTEGER", []byte{0x30, 0x06, 0x03, 0x01, 0x01, 0x02, 0x01, 0x02}, nil},
		{"truncated", seq(rep(0x11, 32), rep(0x22, 32))[:40], nil},
		{"length too long", append([]byte{0x30, 0x7f}, seq([]byte{1}, []byte{2})[2:]...), nil},
		{"non-minimal length", append([]byte{0x30, 0x81, 0x06}, seq([]byte{1}, []byte{2})[2:]...), nil},
		{"indefinite length (BER)", append(append([]byte{0x30, 0x80}, seq([]byte{1}, []byte{2})[2:]...), 0, 0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := derToRaw(tt.der, elliptic.P256())
			if tt.want == nil {
				if err == nil {
					t.Fatalf("accepted malformed DER % x as % x", tt.der, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("derToRaw(% x): %v", tt.der, err)
			}
			if !bytes.Equal(got, tt.want) || len(got) != 64 {
				t.Errorf("derToRaw(% x)\n = % x\nwant % x", tt.der, got, tt.want)
			}
		})
	}
}

// Real DER signatures (short R or S about once in 128) convert to R||S that
// verifies.
func TestDERToRawRoundTrip(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("header.payload"))
	short := 0
	for range 1000 {
		der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		raw, err := derToRaw(der, elliptic.P256())
		if err != nil {
			t.Fatalf("derToRaw(% x): %v", der, err)
		}
		if len(der) < 70 {
			short++
		}
		r, s := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
		if !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
			t.Fatalf("R||S of % x does not verify", der)
		}
	}
	t.Logf("%d of 1000 signatures had a short R or S", short)
}
