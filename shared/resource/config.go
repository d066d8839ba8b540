package resource

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/shared/jwks"
)

// Defaults for Config's zero values.
const (
	DefaultLeeway             = 30 * time.Second
	MaxLeeway                 = 60 * time.Second
	DefaultMinRefetchInterval = 10 * time.Second
	DefaultCacheTTL           = 10 * time.Minute
	DefaultHTTPTimeout        = 5 * time.Second
	// JWKSPath is where Gatehouse publishes its JWK Set, relative to the
	// issuer.
	JWKSPath = "/.well-known/jwks.json"
)

// Config describes the authorization server whose tokens a resource server
// accepts and how bearer tokens may be presented. Zero values take the
// defaults above.
type Config struct {
	// Issuer is the authorization server's identifier, compared with the
	// token's "iss" claim (RFC 9068 §4). It must be an https URL (plain
	// http only on a loopback host). A trailing slash is dropped, as
	// Gatehouse does.
	Issuer string
	// Audience lists the identifiers of this resource server; a token must
	// name at least one of them in "aud" (RFC 9068 §4). Required.
	Audience []string
	// JWKSURL is where the verification keys are fetched from (RFC 7517
	// §5). Default: Issuer + JWKSPath. It must be https (http only on a
	// loopback host).
	JWKSURL string
	// HTTPClient fetches the JWKS. Default: a client with a 5 s timeout
	// that refuses redirects to plain http (jwks.NewHTTPClient).
	HTTPClient *http.Client
	// Leeway is the clock skew tolerated on exp and iat. Default 30 s;
	// at most MaxLeeway.
	Leeway time.Duration
	// AllowQueryToken accepts the access_token URI query parameter (RFC 6750
	// §2.3). It is off by default: the token ends up in logs and Referer
	// headers (RFC 6750 §5.3). When off, a request carrying one is refused
	// with invalid_request.
	AllowQueryToken bool
	// Realm, if set, is sent as the realm of the Bearer challenge (RFC 6750
	// §3). It must be printable ASCII.
	Realm string
	// MinRefetchInterval is the least time between two JWKS fetches, so
	// tokens naming made-up key ids cannot make this server hammer the
	// authorization server. Default 10 s.
	MinRefetchInterval time.Duration
	// CacheTTL is how long fetched keys are trusted before the JWKS is
	// fetched again. Default 10 min. If a refetch fails, the old keys stay
	// in use for the key ids they cover.
	CacheTTL time.Duration
	// Logger receives JWKS fetch failures (never token contents). Default:
	// slog.Default().
	Logger *slog.Logger
	// Introspection, if not nil, turns on introspection mode: each token
	// that verifies is also checked at the authorization server's
	// introspection endpoint (RFC 7662), so a revoked token is refused
	// within Introspection.CacheTTL instead of at its expiry. See
	// introspect.go. Nil: the JWT alone decides.
	Introspection *Introspection
}

// Introspection configures introspection mode: how this resource server
// asks the authorization server whether a token is still active (RFC 7662
// §2), and how long it trusts the answer.
//
// Each token not in the cache costs one introspection request, and the
// authorization server one DynamoDB read (Gatehouse's introspection budget
// is one DynamoDB call and no KMS call). While the introspection endpoint
// cannot answer, requests are refused with 503 (fail closed): a token is
// never accepted without an answer.
type Introspection struct {
	// ClientID and ClientSecret authenticate this resource server at the
	// introspection endpoint with client_secret_basic (RFC 6749 §2.3.1,
	// RFC 7662 §2.1). Required. Gatehouse tells a client about the
	// access tokens of other clients only if it is registered with
	// introspection_allowed: true; without it every other client's token
	// is reported inactive, and so refused here.
	ClientID     string
	ClientSecret string
	// URL is the introspection endpoint. Default: Issuer + "/introspect".
	// It must be https (http only on a loopback host).
	URL string
	// CacheTTL is how long an answer about a token is reused: a revoked
	// token is accepted for at most this long after the revocation.
	// Default 5 s, at most MaxIntrospectionCacheTTL; an answer is never
	// kept past the token's expiry. Answers that could not be obtained
	// are not cached.
	CacheTTL time.Duration
	// MaxEntries bounds the cache, so a flood of distinct tokens cannot
	// grow memory without limit: about 270 bytes an answer, 2.7 MB at the
	// default of 10,000. When it is full, a random answer is dropped.
	MaxEntries int
	// Timeout bounds one introspection request. Default 5 s.
	Timeout time.Duration
}

// Defaults and bounds of Introspection.
const (
	DefaultIntrospectionCacheTTL   = 5 * time.Second
	MaxIntrospectionCacheTTL       = time.Minute
	DefaultIntrospectionMaxEntries = 10_000
	DefaultIntrospectionTimeout    = 5 * time.Second
	// IntrospectionPath is where Gatehouse serves introspection, relative
	// to the issuer.
	IntrospectionPath = "/introspect"
)

// withDefaults checks the introspection settings of the resource server
// whose configuration is cfg (defaults filled in) and fills in their own.
func (in Introspection) withDefaults(cfg Config) (Introspection, error) {
	if in.ClientID == "" || in.ClientSecret == "" {
		return in, errors.New("resource: Config.Introspection needs the resource server's ClientID and ClientSecret (RFC 7662 §2.1)")
	}
	if in.URL == "" {
		in.URL = cfg.Issuer + IntrospectionPath
	}
	if err := checkURL("introspection URL", in.URL); err != nil {
		return in, err
	}
	switch {
	case in.CacheTTL == 0:
		in.CacheTTL = DefaultIntrospectionCacheTTL
	case in.CacheTTL < 0 || in.CacheTTL > MaxIntrospectionCacheTTL:
		return in, fmt.Errorf("resource: Config.Introspection.CacheTTL must be between 0 and %s", MaxIntrospectionCacheTTL)
	}
	switch {
	case in.MaxEntries == 0:
		in.MaxEntries = DefaultIntrospectionMaxEntries
	case in.MaxEntries < 0:
		return in, errors.New("resource: Config.Introspection.MaxEntries is negative")
	}
	switch {
	case in.Timeout == 0:
		in.Timeout = DefaultIntrospectionTimeout
	case in.Timeout < 0:
		return in, errors.New("resource: Config.Introspection.Timeout is negative")
	}
	return in, nil
}

// withDefaults checks cfg and fills in its defaults.
func (cfg Config) withDefaults() (Config, error) {
	if err := checkURL("issuer", cfg.Issuer); err != nil {
		return cfg, err
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if len(cfg.Audience) == 0 {
		return cfg, errors.New("resource: Config.Audience is required (RFC 9068 §4)")
	}
	for _, a := range cfg.Audience {
		if a == "" {
			return cfg, errors.New("resource: Config.Audience has an empty entry")
		}
	}
	cfg.Audience = append([]string(nil), cfg.Audience...)
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = cfg.Issuer + JWKSPath
	}
	if err := checkURL("JWKS URL", cfg.JWKSURL); err != nil {
		return cfg, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = jwks.NewHTTPClient(DefaultHTTPTimeout)
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0 || cfg.Leeway > MaxLeeway:
		return cfg, fmt.Errorf("resource: Config.Leeway must be between 0 and %s", MaxLeeway)
	}
	switch {
	case cfg.MinRefetchInterval == 0:
		cfg.MinRefetchInterval = DefaultMinRefetchInterval
	case cfg.MinRefetchInterval < 0:
		return cfg, errors.New("resource: Config.MinRefetchInterval is negative")
	}
	switch {
	case cfg.CacheTTL == 0:
		cfg.CacheTTL = DefaultCacheTTL
	case cfg.CacheTTL < 0:
		return cfg, errors.New("resource: Config.CacheTTL is negative")
	}
	for i := 0; i < len(cfg.Realm); i++ {
		if c := cfg.Realm[i]; c < 0x20 || c > 0x7e {
			return cfg, errors.New("resource: Config.Realm must be printable ASCII")
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Introspection != nil {
		in, err := cfg.Introspection.withDefaults(cfg)
		if err != nil {
			return cfg, err
		}
		cfg.Introspection = &in
	}
	return cfg, nil
}

// checkURL requires an absolute https URL (http only for loopback hosts)
// without query, fragment or user info.
func checkURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("resource: %s %q is not an absolute URL", what, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("resource: %s %q must not have a query, fragment or user info", what, raw)
	}
	if !jwks.SecureURL(u) {
		return fmt.Errorf("resource: %s %q must use https (http only for 127.0.0.1, [::1] or localhost)", what, raw)
	}
	return nil
}
