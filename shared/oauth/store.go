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
	// ClientURI (client_uri) is the client's home page and LogoURI
	// (logo_uri) its logo (RFC 7591 §2). The consent page shows them only
	// as text links: it loads nothing from another origin.
	ClientURI string
	LogoURI   string
	// FirstParty (Gatehouse's first_party) marks a client run by the
	// server's own operator: its users are not asked for consent.
	FirstParty bool
	// IntrospectionAllowed (Gatehouse's introspection_allowed) lets a
	// confidential client, typically a resource server, introspect access
	// tokens issued to other clients (RFC 7662 §4). Without it a client
	// learns only about its own tokens; refresh tokens are reported to
	// their own client alone either way (see Introspect).
	IntrospectionAllowed bool
	// PreviousSecretHash is the hash of the secret a rotation replaced,
	// accepted alongside SecretHash until PreviousSecretExpiresAt (see
	// RotateSecret); empty when there is none.
	PreviousSecretHash      string
	PreviousSecretExpiresAt time.Time
	// PostLogoutRedirectURIs (post_logout_redirect_uris, OpenID Connect
	// RP-Initiated Logout 1.0 §3.1) are where the end-session endpoint may
	// send the browser back after a logout this client asked for.
	PostLogoutRedirectURIs []string
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
	// AuthTime is when the user signed in (the session's AuthTime): the
	// ID token's auth_time (OpenID Connect Core §2).
	AuthTime time.Time
	// Nonce is the authorization request's nonce parameter ("" if none),
	// returned in the ID token (OpenID Connect Core §3.1.2.1, §2).
	Nonce     string
	ExpiresAt time.Time
	Redeemed  bool // set by RedeemCode
}

// RefreshToken is an issued refresh token (RFC 6749 §6). The token string is
// "<grant id>.<secret>"; only HashToken(token) is stored. Every refresh
// token of one authorization shares a GrantID.
type RefreshToken struct {
	Hash     string
	GrantID  string
	ClientID string
	Subject  string
	Username string
	Scopes   []string
	// AuthTime is when the user signed in for the grant's authorization
	// (zero for a grant without one: the password grant, or a token
	// stored before ID tokens). A refresh's ID token repeats it (OpenID
	// Connect Core §12.2); rotation keeps it.
	AuthTime  time.Time
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
	// Subject is the "sub" claim (OpenID Connect Core 1.0 §2): stable,
	// opaque, never reused, never the username (NewSubject). A user stored
	// by an earlier version may have none: AssignSubject gives it one at
	// its first sign-in.
	Subject      string
	Username     string
	PasswordHash string // a slow hash, checked by a PasswordChecker
	// Claims are the user's OpenID Connect standard claims (§5.1); nil
	// when it has none.
	Claims *UserClaims
	// Consents are the scopes the user has allowed, by client ID. Stores
	// fill it in on GetUser; SessionChange adds to it.
	Consents map[string][]string
}

// Session is a signed-in browser session. The cookie holds the random id;
// only its hash is stored.
type Session struct {
	Hash     string
	Subject  string
	Username string
	AuthTime time.Time
	// ExpiresAt is the absolute end (AuthTime + Config.SessionLifetime);
	// IdleExpiresAt, never later, is the end if the session goes unused
	// (Config.SessionIdleTimeout): each use moves it on.
	ExpiresAt     time.Time
	IdleExpiresAt time.Time
	// Consents are the user's consents when the session began, with those
	// given during it: what the consent page need not ask again.
	Consents map[string][]string
}

// SessionChange is what an authorization request changes in its session:
// the idle expiry moved on, a consent recorded (in the session and the
// user's record), or both.
type SessionChange struct {
	Hash     string // the session's
	Username string // the session's user, whose consents Consent adds to
	// IdleExpiresAt is the session's new idle expiry; zero leaves it.
	IdleExpiresAt time.Time
	// ConsentClientID, if not empty, records that the user allowed
	// ConsentScopes to that client (added to earlier consents).
	ConsentClientID string
	ConsentScopes   []string
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

	// CreateCode stores a new authorization code. With a non-nil change it
	// also applies it, in the same atomic write; a change whose session is
	// gone or expired fails the whole write with ErrNotFound.
	CreateCode(ctx context.Context, code *AuthorizationCode, change *SessionChange) error
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
	// GetUserBySubject returns the user whose Subject is sub (for UserInfo,
	// OpenID Connect Core 1.0 §5.3), with its claims; ErrNotFound if there
	// is none. The returned user's Consents and PasswordHash may be left
	// empty.
	GetUserBySubject(ctx context.Context, sub string) (*User, error)
	// AssignSubject atomically sets the subject of the user username to
	// sub if it has none, and returns the user's subject afterwards: sub,
	// or the one it already had. Two concurrent calls with different subs
	// both return the same winner. ErrNotFound if the user is missing.
	AssignSubject(ctx context.Context, username, sub string) (string, error)

	CreateSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, hash string) (*Session, error)
	// UpdateSession applies change alone (see CreateCode), atomically.
	UpdateSession(ctx context.Context, change *SessionChange) error
	// DeleteSession removes a session; a missing one is not an error.
	DeleteSession(ctx context.Context, hash string) error

	// CountLoginAttempt counts a sign-in attempt before its password is
	// checked (throttle.go). For each counter in order, it atomically adds
	// one if the count is below the counter's Limit, starting a missing or
	// expired counter at 1 to expire at expiresAt. At the first counter
	// already at its Limit it stops and returns false: that counter and
	// the ones after it are left unchanged (neither counted nor extended),
	// the ones before it keep the attempt. Concurrent calls never take a
	// counter past its Limit.
	CountLoginAttempt(ctx context.Context, expiresAt time.Time, counters ...LoginCounter) (bool, error)
	// UncountLoginAttempt takes one counted attempt back from the live
	// counter of each key (one whose attempt turned out not to be a failed
	// sign-in); a missing, expired or zero counter is left as it is.
	UncountLoginAttempt(ctx context.Context, keys ...string) error
	// ClearLoginFailures deletes the counters of keys.
	ClearLoginFailures(ctx context.Context, keys ...string) error
}

// LoginCounter is a failed-login counter of the sign-in throttle
// (throttle.go): its key, and the count at which it refuses attempts.
type LoginCounter struct {
	Key   string
	Limit int
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
