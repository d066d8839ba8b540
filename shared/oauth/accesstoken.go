package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AccessTokenType is the JWS "typ" header of RFC 9068 §2.1 access tokens.
const AccessTokenType = "at+jwt"

// AccessTokenClaims are the claims of a JWT access token (RFC 9068 §2.2).
type AccessTokenClaims struct {
	jwt.RegisteredClaims        // iss, sub, aud, exp, iat, jti (all set)
	ClientID             string `json:"client_id"`
	Scope                string `json:"scope,omitempty"`
	// Username is the resource owner's username (absent for client
	// credentials), reported by introspection (RFC 7662 §2.2).
	Username string `json:"preferred_username,omitempty"`
	// GrantID ties the token to its authorization grant so that revoking
	// the grant (refresh-token reuse, code replay) revokes the token.
	GrantID string `json:"gid,omitempty"`
}

// mintAccessToken builds and signs an RFC 9068 access token. The signing
// input is built here and signed through the Signer with the request's
// context, since a KMS signature is a remote call.
func mintAccessToken(ctx context.Context, signer Signer, claims *AccessTokenClaims) (string, error) {
	method := jwt.GetSigningMethod(signer.Algorithm())
	if method == nil {
		return "", fmt.Errorf("oauth: signer algorithm %q is not supported", signer.Algorithm())
	}
	kid, err := signer.KeyID(ctx)
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	token := jwt.NewWithClaims(method, claims)
	token.Header["typ"] = AccessTokenType
	token.Header["kid"] = kid
	input, err := token.SigningString()
	if err != nil {
		return "", err
	}
	sig, err := signer.Sign(ctx, []byte(input))
	if err != nil {
		return "", fmt.Errorf("signing access token: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// TokenVerifier checks RFC 9068 access tokens: signature by a known key with
// that key's algorithm (never "none", never HMAC), "kid" and "typ" headers,
// and the iss, aud and exp claims (RFC 9068 §4).
type TokenVerifier struct {
	Issuer   string
	Audience []string // the token must name at least one of these
	// Keys returns the trusted keys. It is called once per verification
	// with the key id the token names, so a JWKS cache can refetch on an
	// unknown kid.
	Keys   func(ctx context.Context, kid string) ([]PublicKey, error)
	Leeway time.Duration
	Now    func() time.Time // defaults to time.Now
}

// ErrKeyUnavailable wraps failures to obtain verification keys, so callers
// can tell a fault from a bad token.
var ErrKeyUnavailable = errors.New("oauth: verification keys unavailable")

// Verify parses and checks an access token and returns its claims. A token
// that fails any check yields an error; a failure to obtain keys wraps
// ErrKeyUnavailable.
func (v *TokenVerifier) Verify(ctx context.Context, token string) (*AccessTokenClaims, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if v.Issuer == "" || len(v.Audience) == 0 {
		return nil, errors.New("oauth: TokenVerifier needs an issuer and an audience")
	}
	var keyErr error
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256"}),
		jwt.WithIssuer(v.Issuer),
		jwt.WithAudience(v.Audience...),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.Leeway),
		jwt.WithTimeFunc(now),
	)
	claims := &AccessTokenClaims{}
	_, err := parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			// RFC 7515 §4.1.11: no critical extension is understood here.
			return nil, errors.New("unsupported crit header")
		}
		typ, _ := t.Header["typ"].(string)
		if !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), AccessTokenType) {
			return nil, fmt.Errorf("typ %q is not %s", typ, AccessTokenType)
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid header")
		}
		keys, err := v.Keys(ctx, kid)
		if err != nil {
			keyErr = fmt.Errorf("%w: %w", ErrKeyUnavailable, err)
			return nil, keyErr
		}
		for _, k := range keys {
			if k.KeyID == kid {
				if k.Algorithm != t.Method.Alg() {
					return nil, fmt.Errorf("key %q is for %s, not %s", kid, k.Algorithm, t.Method.Alg())
				}
				return k.Key, nil
			}
		}
		return nil, fmt.Errorf("unknown kid %q", kid)
	})
	if keyErr != nil {
		return nil, keyErr
	}
	if err != nil {
		return nil, err
	}
	if claims.Subject == "" || claims.ID == "" || claims.ClientID == "" {
		return nil, errors.New("token lacks sub, jti or client_id")
	}
	return claims, nil
}
