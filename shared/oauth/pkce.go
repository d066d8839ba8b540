package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// PKCEMethodS256 is the only code_challenge_method accepted (RFC 7636
// §4.2); "plain" is refused as RFC 9700 §2.1.1 advises.
const PKCEMethodS256 = "S256"

// validPKCEString checks the code_verifier / code_challenge syntax of RFC
// 7636 §4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." /
// "_" / "~".
func validPKCEString(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// S256Challenge derives the S256 code_challenge of a verifier (RFC 7636
// §4.2): BASE64URL-ENCODE(SHA256(ASCII(code_verifier))).
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// verifyPKCE checks a code_verifier against the code's challenge (RFC 7636
// §4.6), and refuses a verifier for a code issued without a challenge (RFC
// 9700 §2.1.1).
func verifyPKCE(code *AuthorizationCode, verifier string) *Error {
	if code.CodeChallenge == "" {
		if verifier != "" {
			return ErrInvalidGrant("code_verifier sent, but the authorization request had no code_challenge")
		}
		return nil
	}
	if verifier == "" {
		return ErrInvalidGrant("code_verifier is required: the authorization request used PKCE")
	}
	if !validPKCEString(verifier) {
		return ErrInvalidGrant("code_verifier must be 43-128 unreserved characters (RFC 7636 section 4.1)")
	}
	got := S256Challenge(verifier)
	if subtle.ConstantTimeCompare([]byte(got), []byte(code.CodeChallenge)) != 1 {
		return ErrInvalidGrant("code_verifier does not match the code_challenge")
	}
	return nil
}
