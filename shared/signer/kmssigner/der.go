package kmssigner

import (
	"crypto/elliptic"
	"errors"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

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
