package oauth

import (
	"context"
	"time"
)

// Client is a registered OAuth client. Field comments give the RFC 7591 §2
// metadata names used by the seed file and the admin commands.
type Client struct {
	ID                      string        // client_id
	SecretHash              string        // HashSecret(client_secret); empty for public clients
	Name                    string        // client_name
	RedirectURIs            []string      // redirect_uris
	GrantTypes              []string      // grant_types
	ResponseTypes           []string      // response_types
	Scopes                  []string      // scope, split on spaces
	TokenEndpointAuthMethod string        // token_endpoint_auth_method
	AccessTokenLifetime     time.Duration // 0 means the server default
	// JWKS (jwks) and JWKSURI (jwks_uri) hold the public keys of a
	// private_key_jwt client (RFC 7591 §2, RFC 7523 §2.2): exactly one of
	// them for such a client, neither for any other. JWKS is the set
	// itself; JWKSURI is an https URL the server fetches it from, through
	// Config.JWKSFetcher.
	JWKS    *JWKS
	JWKSURI string
}

// AuthorizationCode is an issued code (RFC 6749 §4.1.2). Only its hash is
// stored; GrantID names the grant its tokens will belong to, so a replay can
// revoke them (§4.1.2, "SHOULD revoke ... all tokens previously issued").
type AuthorizationCode struct {
	Hash                string // HashToken(code)
	GrantID             string
	ClientID            string
	RedirectURI         string // the redirect_uri parameter as sent; "" if omitted
	Scopes              []string
	Subject             string
	Username            string
	CodeChallenge       string // RFC 7636 §4.2; "" when PKCE was not used
	CodeChallengeMethod string
	AuthTime            time.Time
	ExpiresAt           time.Time
	Redeemed            bool // set by RedeemCode
}

// RefreshToken is an issued refresh token (RFC 6749 §6). The token string is
// "<grant id>.<secret>"; only HashToken(token) is stored. Every refresh
// token of one authorization shares a GrantID.
type RefreshToken struct {
	Hash      string
	GrantID   string
	ClientID  string
	Subject   string
	Username  string
	Scopes    []string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Rotated is true once the token has been exchanged for a new one
	// (RFC 9700 §4.14.2); presenting it again is a replay.
	Rotated bool
	// GrantRevoked is filled in by GetRefreshToken: the token's grant has
	// been revoked.
	GrantRevoked bool
}

// User is a resource owner who can sign in.
type User struct {
	Subject      string // the "sub" claim: stable, never reused
	Username     string
	PasswordHash string // a slow hash, checked by a PasswordChecker
}

// Session is a signed-in browser session. The cookie holds the random id;
// only its hash is stored.
type Session struct {
	Hash      string
	Subject   string
	Username  string
	AuthTime  time.Time
	ExpiresAt time.Time
}

// Store is everything the grant library reads and writes. Each method is at
// most one round trip to the backing database, and the methods that say
// "atomically" must be a single conditional write or transaction: the
// library never reads-then-writes to enforce single use.
//
// Methods return ErrNotFound for missing or expired records (expiry is
// checked on every read: DynamoDB's TTL deletes late), ErrConflict when a
// condition fails, and wrap ErrUnavailable for throttling.
type Store interface {
	GetClient(ctx context.Context, id string) (*Client, error)

	CreateCode(ctx context.Context, code *AuthorizationCode) error
	// GetCode returns the code with this hash, redeemed or not.
	GetCode(ctx context.Context, hash string) (*AuthorizationCode, error)
	// RedeemCode atomically marks the code redeemed and, if first is not
	// nil, stores the grant's first refresh token. grantID is the code's
	// grant as GetCode returned it (and first's, when given); a code of
	// another grant is ErrNotFound. It fails, writing
	// nothing, with ErrConflict if the code was already redeemed, its grant
	// is revoked, or first's hash is taken, and with ErrNotFound if the code
	// is missing or expired.
	RedeemCode(ctx context.Context, codeHash, grantID string, first *RefreshToken) error

	// CreateRefreshToken stores the first refresh token of a new grant.
	CreateRefreshToken(ctx context.Context, token *RefreshToken) error
	// GetRefreshToken returns the token with this hash, rotated or not, with
	// GrantRevoked filled in (grantID lets a store fetch both at once). A
	// token of another grant is ErrNotFound.
	GetRefreshToken(ctx context.Context, grantID, hash string) (*RefreshToken, error)
	// RotateRefreshToken atomically marks the token oldHash rotated and
	// stores next, only if oldHash is not yet rotated and its grant is not
	// revoked; otherwise ErrConflict (ErrNotFound if oldHash is missing or
	// expired) and nothing is written. next.GrantID is the old token's
	// grant: a rotation never moves a token to another grant.
	RotateRefreshToken(ctx context.Context, oldHash string, next *RefreshToken) error

	// RevokeGrant revokes every token of the grant with one write: later
	// GetRefreshToken, RotateRefreshToken and AccessTokenRevoked calls see it
	// until keepUntil, after which no token of the grant can be alive. A
	// later call never shortens an earlier revocation.
	RevokeGrant(ctx context.Context, grantID string, keepUntil time.Time) error
	// RevokeAccessToken records the revocation of one access token until it
	// would have expired anyway.
	RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error
	// AccessTokenRevoked reports whether the token jti, or its grant (if
	// grantID is not empty), was revoked, in one round trip.
	AccessTokenRevoked(ctx context.Context, jti, grantID string) (bool, error)

	// UseAssertionID atomically records that client clientID has used the
	// JWT client assertion id jti (RFC 7523 §3 item 7), keeping the record
	// until expiresAt. It fails with ErrConflict, writing nothing, if a live
	// record of the same client and jti exists: the assertion is a replay.
	// The same jti of two clients are two records.
	UseAssertionID(ctx context.Context, clientID, jti string, expiresAt time.Time) error

	GetUser(ctx context.Context, username string) (*User, error)

	CreateSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, hash string) (*Session, error)
	// DeleteSession removes a session; a missing one is not an error.
	DeleteSession(ctx context.Context, hash string) error
}

// PasswordChecker verifies user passwords against their stored slow hashes.
// It lives outside this package so the library needs no hashing dependency.
type PasswordChecker interface {
	// CheckPassword reports whether password matches hash.
	CheckPassword(hash, password string) bool
	// DummyCheck spends the same work as CheckPassword for an unknown user,
	// so response times do not reveal which usernames exist.
	DummyCheck(password string)
}
