package oauth

import (
	"context"
	"crypto"
	_ "crypto/sha256" // SHA-256 for at_hash and c_hash
	_ "crypto/sha512" // SHA-384 and SHA-512 for at_hash and c_hash
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Scopes with a meaning in OpenID Connect Core.
const (
	// ScopeOpenID makes an authorization request an OpenID Connect
	// request (§3.1.2.1): its code exchange returns an ID token.
	ScopeOpenID = "openid"
	// ScopeOfflineAccess asks for a refresh token (§11). In an OpenID
	// Connect request a refresh token is issued only when it was granted.
	ScopeOfflineAccess = "offline_access"
)

// IDTokenType is the JWS "typ" header of ID tokens: "JWT" (RFC 7519 §5.1),
// never the access tokens' "at+jwt", so that neither passes for the other
// (RFC 9068 §2.1, RFC 8725 §3.11).
const IDTokenType = "JWT"

// AMRPassword is the only authentication method Gatehouse has: a password
// (RFC 8176 §2, "pwd").
const AMRPassword = "pwd"

// IDTokenClaims are the claims of an ID token (OpenID Connect Core §2).
//
// acr is never set: Gatehouse signs users in with a password alone and
// implements no authentication context classes, so any value would be
// made up; §2 makes acr OPTIONAL, and "0" would tell relying parties the
// sign-in was no better than a long-lived cookie, which is not true
// either. azp is never set: the audience is always the one client it was
// issued to, and §2 requires azp only with several audiences.
type IDTokenClaims struct {
	jwt.RegisteredClaims // iss, sub, aud (the client id), exp, iat
	// AuthTime is when the user signed in (§2; §3.1.2.1 requires it with
	// max_age; Gatehouse always sends it).
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
	// Nonce repeats the authorization request's nonce (§2, §3.1.3.6); a
	// refreshed ID token has none (§12.2).
	Nonce string `json:"nonce,omitempty"`
	// AccessTokenHash is at_hash (§3.1.3.6): the left half of the hash of
	// the access token issued with the ID token.
	AccessTokenHash string `json:"at_hash,omitempty"`
	// CodeHash is c_hash (§3.3.2.11): the left half of the hash of the
	// authorization code issued with an ID token at the authorization
	// endpoint (response_type "code id_token").
	CodeHash string `json:"c_hash,omitempty"`
	// AMR is the authentication methods (§2, RFC 8176): ["pwd"].
	AMR []string `json:"amr,omitempty"`
}

// hasScope reports whether scopes contains scope.
func hasScope(scopes []string, scope string) bool { return slices.Contains(scopes, scope) }

// issueIDToken mints the ID token of a token response (OpenID Connect
// Core §3.1.3.3, §12.2) for an access token issued with it: one more
// Sign call (a KMS request on AWS). authTime is the sign-in the grant
// came from; nonce is "" on a refresh.
func (s *Server) issueIDToken(ctx context.Context, client *Client, subject string, authTime time.Time, nonce, accessToken string) (string, error) {
	return s.mintIDToken(ctx, idTokenParams{client: client, subject: subject, authTime: authTime, nonce: nonce, accessToken: accessToken})
}

// idTokenParams are what an ID token says beyond what every one says.
type idTokenParams struct {
	client   *Client
	subject  string
	authTime time.Time
	nonce    string
	// accessToken is the access token issued with the ID token, bound by
	// at_hash (§3.1.3.6, §3.2.2.10, §3.3.2.11); "" for none.
	accessToken string
	// code is the authorization code issued with the ID token at the
	// authorization endpoint, bound by c_hash (§3.3.2.11); "" for none.
	code string
	// claims are user claims to include (§5.4: response_type=id_token,
	// where no access token can fetch them); sub and the ID token's own
	// claims are never overwritten.
	claims map[string]any
}

// mintIDToken signs an ID token (§2) for the token endpoint or the
// authorization endpoint: one Sign call.
func (s *Server) mintIDToken(ctx context.Context, p idTokenParams) (string, error) {
	now := s.now().Truncate(time.Second)
	claims := &IDTokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   p.subject,
			Audience:  jwt.ClaimStrings{p.client.ID},
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.IDTokenLifetime)),
			IssuedAt:  jwt.NewNumericDate(now),
		},
		Nonce: p.nonce,
		AMR:   []string{AMRPassword},
	}
	var err error
	if p.accessToken != "" {
		if claims.AccessTokenHash, err = accessTokenHash(s.signer.Algorithm(), p.accessToken); err != nil {
			return "", err
		}
	}
	if p.code != "" {
		if claims.CodeHash, err = tokenHash(s.signer.Algorithm(), p.code); err != nil {
			return "", err
		}
	}
	if !p.authTime.IsZero() {
		claims.AuthTime = jwt.NewNumericDate(p.authTime.Truncate(time.Second))
	}
	if len(p.claims) > 0 {
		return signJWT(ctx, s.signer, IDTokenType, &idTokenWithClaims{IDTokenClaims: claims, user: p.claims})
	}
	return signJWT(ctx, s.signer, IDTokenType, claims)
}

// idTokenWithClaims is an ID token that also carries user claims (OpenID
// Connect Core §5.4, response_type=id_token).
type idTokenWithClaims struct {
	*IDTokenClaims
	user map[string]any
}

// MarshalJSON writes the ID token's claims, then the user claims it does
// not already have (sub is the ID token's).
func (c *idTokenWithClaims) MarshalJSON() ([]byte, error) {
	raw, err := json.Marshal(c.IDTokenClaims)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	for k, v := range c.user {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return json.Marshal(out)
}

// accessTokenHash is at_hash (OpenID Connect Core §3.1.3.6): the
// base64url encoding of the left-most half of the hash of the access
// token's ASCII octets, with the hash of the ID token's JWS algorithm
// (SHA-256 for RS256, PS256 and ES256).
func accessTokenHash(alg, accessToken string) (string, error) { return tokenHash(alg, accessToken) }

// tokenHash is the left-half hash of at_hash and c_hash (OpenID Connect
// Core §3.1.3.6, §3.3.2.11: "the base64url encoding of the left-most half
// of the hash of the octets of the ASCII representation of the code",
// with the hash of the ID token's alg).
func tokenHash(alg, value string) (string, error) {
	var h crypto.Hash
	switch {
	case strings.HasSuffix(alg, "256"):
		h = crypto.SHA256
	case strings.HasSuffix(alg, "384"):
		h = crypto.SHA384
	case strings.HasSuffix(alg, "512"):
		h = crypto.SHA512
	default:
		return "", fmt.Errorf("oauth: no at_hash or c_hash for algorithm %q", alg)
	}
	d := h.New()
	d.Write([]byte(value))
	sum := d.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}

// signJWT signs claims as a JWS with the Signer's key, "typ" typ and
// "kid" the key's id. As for access tokens (mintAccessToken), the signing
// input is built here and signed through the Signer with the request's
// context, since a KMS signature is a remote call.
func signJWT(ctx context.Context, signer Signer, typ string, claims jwt.Claims) (string, error) {
	method := jwt.GetSigningMethod(signer.Algorithm())
	if method == nil {
		return "", fmt.Errorf("oauth: signer algorithm %q is not supported", signer.Algorithm())
	}
	kid, err := signer.KeyID(ctx)
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	token := jwt.NewWithClaims(method, claims)
	token.Header["typ"] = typ
	token.Header["kid"] = kid
	input, err := token.SigningString()
	if err != nil {
		return "", err
	}
	sig, err := signer.Sign(ctx, []byte(input))
	if err != nil {
		return "", fmt.Errorf("signing %s: %w", typ, err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
