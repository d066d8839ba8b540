package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config holds the server's policy. Zero durations take the defaults below.
type Config struct {
	// Issuer is the authorization server's identifier (RFC 8414 §2): an
	// https URL (http only for loopback) without query or fragment.
	Issuer string
	// Audience is the "aud" of access tokens and what verification accepts;
	// it defaults to the issuer (RFC 9068 §3).
	Audience []string
	// ScopesSupported is advertised in the metadata (RFC 8414 §2).
	ScopesSupported      []string
	AccessTokenLifetime  time.Duration // default 1 h; at most MaxAccessTokenLifetime
	RefreshTokenLifetime time.Duration // default 30 days; each rotation starts a new period
	CodeLifetime         time.Duration // default 60 s (RFC 6749 §4.1.2: "maximum ... of 10 minutes RECOMMENDED")
	SessionLifetime      time.Duration // default 12 h: a session's absolute lifetime
	// IDTokenLifetime is the lifetime of ID tokens (OpenID Connect Core
	// §2, "exp"; default 1 h). An ID token proves a sign-in to its client;
	// it grants no access, and a relying party checks it once.
	IDTokenLifetime time.Duration
	// MaxAccessTokenLifetime caps every access token's lifetime, a client's
	// own (Client.AccessTokenLifetime) included (default 24 h). An access
	// token is a JWT that resource servers may verify without asking the
	// introspection endpoint (RFC 9068); they accept it, revoked or not,
	// until it expires, so this bounds how long a revocation can take to
	// reach them.
	MaxAccessTokenLifetime time.Duration
	// SessionIdleTimeout ends a session unused for this long (default 1 h;
	// at most SessionLifetime).
	SessionIdleTimeout time.Duration
	// Login throttling (see throttle.go): a username with
	// LoginMaxFailures failed sign-ins (default 5), or a source address
	// (an IPv6 /64) with LoginMaxFailuresPerIP (default 50), within one
	// LoginFailureWindow (default 15 min), is refused until the window
	// ends, whether or not the username exists.
	LoginMaxFailures      int
	LoginMaxFailuresPerIP int
	LoginFailureWindow    time.Duration
	// Leeway is the clock skew allowed when verifying tokens and client
	// assertions (default 30 s).
	Leeway time.Duration
	// JWKSFetcher fetches the JWK Sets of private_key_jwt clients
	// registered with a jwks_uri; the library does no HTTP itself. Without
	// one, such clients cannot authenticate (server_error); clients with
	// inline jwks still can.
	JWKSFetcher JWKSFetcher
	// MaxClientAssertionLifetime bounds how far ahead of now a private_key_jwt
	// assertion's exp may be (default 5 min): a longer-lived assertion is
	// refused, and its jti is remembered no longer than this (RFC 7523 §3).
	MaxClientAssertionLifetime time.Duration
	// DisableImplicitGrant turns the implicit grant (RFC 6749 §4.2) off: the
	// metadata no longer advertises it (grant_types_supported,
	// response_types_supported, response_modes_supported: RFC 8414 §2) and
	// an authorization request for response_type=token is refused with
	// unsupported_response_type (§4.2.2.1), even from a client registered
	// for it. A deployment whose authorization endpoint cannot sign tokens
	// (on AWS only the token function may call kms:Sign) must turn it off;
	// RFC 9700 §2.1.2 says clients SHOULD NOT use it anyway.
	DisableImplicitGrant bool
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
}

// Defaults for Config's zero values.
const (
	DefaultAccessTokenLifetime  = time.Hour
	DefaultRefreshTokenLifetime = 30 * 24 * time.Hour
	DefaultCodeLifetime         = 60 * time.Second
	DefaultSessionLifetime      = 12 * time.Hour
	DefaultIDTokenLifetime      = time.Hour
	DefaultSessionIdleTimeout   = time.Hour
	DefaultLoginMaxFailures     = 5
	DefaultLoginMaxFailuresIP   = 50
	DefaultLoginFailureWindow   = 15 * time.Minute
	DefaultLeeway               = 30 * time.Second
)

// DefaultMaxAccessTokenLifetime is Config.MaxAccessTokenLifetime's default.
const DefaultMaxAccessTokenLifetime = 24 * time.Hour

// Endpoint paths, relative to the issuer.
const (
	PathAuthorize        = "/authorize"
	PathToken            = "/token"
	PathIntrospect       = "/introspect"
	PathRevoke           = "/revoke"
	PathJWKS             = "/.well-known/jwks.json"
	PathMetadata         = "/.well-known/oauth-authorization-server"
	PathOpenIDMetadata   = "/.well-known/openid-configuration"
	PathLogout           = "/logout"
	maxTokenParamLength  = 4096
	grantIDSeparator     = "."
	refreshTokenTypeHint = "refresh_token"
	accessTokenTypeHint  = "access_token"
)

// Server is the authorization server's logic, free of any transport. Its
// methods take parsed requests and return responses or *Error values.
type Server struct {
	cfg       Config
	store     Store
	signer    Signer
	passwords PasswordChecker
	verifier  *TokenVerifier
}

// NewServer checks cfg, fills in defaults and returns a Server. passwords
// may be nil in a server that signs no user in (the introspection and
// revocation functions): the password grant and Login then fail with
// server_error.
func NewServer(cfg Config, store Store, signer Signer, passwords PasswordChecker) (*Server, error) {
	if store == nil || signer == nil {
		return nil, errors.New("oauth: NewServer needs a store and a signer")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: store, signer: signer, passwords: passwords}
	s.verifier = &TokenVerifier{
		Issuer:   cfg.Issuer,
		Audience: cfg.Audience,
		Keys:     func(ctx context.Context, _ string) ([]PublicKey, error) { return signer.PublicKeys(ctx) },
		Leeway:   cfg.Leeway,
		Now:      cfg.Now,
	}
	return s, nil
}

// withDefaults checks the issuer and returns cfg with its zero values
// replaced by the defaults.
func (cfg Config) withDefaults() (Config, error) {
	if err := validateIssuer(cfg.Issuer); err != nil {
		return cfg, err
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if len(cfg.Audience) == 0 {
		cfg.Audience = []string{cfg.Issuer}
	}
	setDefault(&cfg.AccessTokenLifetime, DefaultAccessTokenLifetime)
	setDefault(&cfg.MaxAccessTokenLifetime, DefaultMaxAccessTokenLifetime)
	cfg.AccessTokenLifetime = min(cfg.AccessTokenLifetime, cfg.MaxAccessTokenLifetime)
	setDefault(&cfg.RefreshTokenLifetime, DefaultRefreshTokenLifetime)
	setDefault(&cfg.CodeLifetime, DefaultCodeLifetime)
	setDefault(&cfg.SessionLifetime, DefaultSessionLifetime)
	setDefault(&cfg.IDTokenLifetime, DefaultIDTokenLifetime)
	setDefault(&cfg.SessionIdleTimeout, DefaultSessionIdleTimeout)
	cfg.SessionIdleTimeout = min(cfg.SessionIdleTimeout, cfg.SessionLifetime)
	setDefault(&cfg.LoginFailureWindow, DefaultLoginFailureWindow)
	if cfg.LoginMaxFailures <= 0 {
		cfg.LoginMaxFailures = DefaultLoginMaxFailures
	}
	if cfg.LoginMaxFailuresPerIP <= 0 {
		cfg.LoginMaxFailuresPerIP = DefaultLoginMaxFailuresIP
	}
	setDefault(&cfg.Leeway, DefaultLeeway)
	setDefault(&cfg.MaxClientAssertionLifetime, DefaultMaxClientAssertionLifetime)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}

// Config returns the server's effective configuration.
func (s *Server) Config() Config { return s.cfg }

// Verifier returns the verifier for this server's access tokens.
func (s *Server) Verifier() *TokenVerifier { return s.verifier }

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// validateIssuer applies RFC 8414 §2: https, no query or fragment; plain
// http is allowed for loopback hosts only, for local development.
func validateIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return fmt.Errorf("oauth: issuer %q is not an absolute URL", issuer)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("oauth: issuer %q must not have a query, fragment or user info", issuer)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	default:
		return fmt.Errorf("oauth: issuer %q must use https (http only for 127.0.0.1, [::1] or localhost)", issuer)
	}
	return nil
}

// IsLoopbackIssuer reports whether the issuer is plain http on a loopback
// host, where cookies cannot be marked Secure.
func (s *Server) IsLoopbackIssuer() bool { return strings.HasPrefix(s.cfg.Issuer, "http://") }

// URL returns the absolute URL of an endpoint path.
func (s *Server) URL(path string) string { return s.cfg.Issuer + path }
