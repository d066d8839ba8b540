// Package config reads Gatehouse's configuration from the environment into a
// typed Config, failing fast with errors that name the offending variable.
// The Lambda functions and `gatehouse serve` read the same variables (serve's
// flags override them).
//
// | Variable                            | Meaning                                                        | Default                   |
// |-------------------------------------|----------------------------------------------------------------|---------------------------|
// | GATEHOUSE_ISSUER                    | issuer URL (RFC 8414 §2): https, or http on a loopback host    | required (serve: --addr)  |
// | GATEHOUSE_AUDIENCE                  | access-token "aud" values, comma-separated                     | the issuer                |
// | GATEHOUSE_SCOPES                    | scopes_supported in the metadata, comma- or space-separated    | union of seeded scopes    |
// | GATEHOUSE_SCOPE_DESCRIPTIONS        | consent-page wording, a JSON object: {"photos.read": "See ..."} | standard scopes only      |
// | GATEHOUSE_ACCESS_TOKEN_TTL          | access-token lifetime, at most GATEHOUSE_MAX_ACCESS_TOKEN_TTL  | 1h                        |
// | GATEHOUSE_MAX_ACCESS_TOKEN_TTL      | cap on any access-token lifetime, a client's own included      | 24h (at most 8760h)       |
// | GATEHOUSE_REFRESH_TOKEN_TTL         | refresh-token lifetime (each rotation starts a new period)     | 720h (30 days)            |
// | GATEHOUSE_CODE_TTL                  | authorization-code lifetime, at most 10m (RFC 6749 §4.1.2)     | 60s                       |
// | GATEHOUSE_SESSION_TTL               | browser sign-in session lifetime                               | 12h                       |
// | GATEHOUSE_SESSION_IDLE_TTL          | sign-in session idle timeout, capped at the session lifetime   | 1h                        |
// | GATEHOUSE_LOGIN_MAX_FAILURES        | failed sign-ins per username per window before refusing it     | 5                         |
// | GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP | failed sign-ins per source address (IPv6: /64) per window      | 50                        |
// | GATEHOUSE_LOGIN_FAILURE_WINDOW      | failed sign-ins are counted per window, at most 24h            | 15m                       |
// | GATEHOUSE_IMPLICIT_GRANT            | allow and advertise the implicit grant: true or false          | true (Lambda: false)      |
// | GATEHOUSE_STORE                     | storage backend: "memory" or "dynamodb"                        | memory (Lambda: dynamodb) |
// | GATEHOUSE_CLIENTS_TABLE             | DynamoDB table of the clients (store "dynamodb")               | gatehouse-clients         |
// | GATEHOUSE_USERS_TABLE               | DynamoDB table of the users                                    | gatehouse-users           |
// | GATEHOUSE_CODES_TABLE               | DynamoDB table of the authorization codes                      | gatehouse-codes           |
// | GATEHOUSE_TOKENS_TABLE              | DynamoDB table of the refresh tokens and revocations           | gatehouse-tokens          |
// | GATEHOUSE_SESSIONS_TABLE            | DynamoDB table of the browser sessions                         | gatehouse-sessions        |
// | GATEHOUSE_CLIENT_CACHE_TTL          | client cache lifetime in warm instances, max 1h; 0 disables    | 30s                       |
// | GATEHOUSE_SIGNER                    | token signer: "local" (in-process key) or "kms"                | local (Lambda: kms)       |
// | GATEHOUSE_SIGNING_ALG               | JWS algorithm: RS256, ES256, or PS256 (kms only)               | RS256                     |
// | GATEHOUSE_KMS_KEY_ID                | KMS signing key: key id, key ARN, alias or alias ARN           | required with kms         |
// | GATEHOUSE_KMS_VERIFY_KEYS           | verification-only KMS keys (rotation): "key" or "key=ALG", ... | none                      |
// | GATEHOUSE_TOKEN_LEEWAY              | clock skew allowed when verifying tokens, at most 60s          | 30s                       |
// | GATEHOUSE_SIGNING_KEY_FILE          | PEM private key of the local signer, created if missing        | empty: ephemeral key      |
// | GATEHOUSE_SEED_FILE                 | seed JSON (clients and users) for the memory store only        | none                      |
// | GATEHOUSE_LOG_LEVEL                 | debug, info, warn or error                                     | info                      |
//
// FromEnv always requires GATEHOUSE_ISSUER; `gatehouse serve` supplies
// "http://" + its listen address when neither --issuer nor the variable is
// set. Durations are Go durations ("90s", "1h30m") or whole seconds
// ("3600"); an empty or unset variable takes the default. Counts are
// positive integers. Lists ignore empty elements and surrounding spaces.
//
// Login throttling (the sign-in page and the password grant) refuses a
// username after GATEHOUSE_LOGIN_MAX_FAILURES failed attempts, and a source
// address after GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP, until the current
// GATEHOUSE_LOGIN_FAILURE_WINDOW ends: anyone can lock a user out for one
// window by guessing at the username, hence the window's 24h cap.
//
// An access token is a JWT that resource servers verify on their own, so a
// revocation reaches one that does not ask the introspection endpoint only
// when the token expires. GATEHOUSE_MAX_ACCESS_TOKEN_TTL bounds that wait
// for every token: a client registered with a longer
// access_token_lifetime is refused at registration (the seed file,
// `gatehouse clients create`, which reads the variable too) and, if
// registered before, gets tokens of the maximum lifetime.
//
// The implicit grant (RFC 6749 §4.2) issues its access token at the
// authorization endpoint, which must therefore be able to sign. On AWS only
// the token function may call kms:Sign, so the Lambda functions default to
// GATEHOUSE_IMPLICIT_GRANT=false and template.yaml sets it so; turning it
// on there also needs kms:Sign for the authorize function. When it is off,
// the metadata does not advertise the grant and response_type=token is
// unsupported_response_type. RFC 9700 §2.1.2 says clients SHOULD NOT use
// the implicit grant; prefer the authorization code grant with PKCE.
//
// The client cache trades freshness for speed: a deleted client or a
// rotated secret takes up to GATEHOUSE_CLIENT_CACHE_TTL to take effect in a
// warm Lambda container (see shared/store/clientcache). With
// GATEHOUSE_STORE=dynamodb a seed file is an error: clients and users are
// created with `gatehouse clients create` and `gatehouse users create`.
// The AWS SDK reads its own standard configuration (AWS_REGION, credentials,
// AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local).
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Environment variable names.
const (
	EnvIssuer            = "GATEHOUSE_ISSUER"
	EnvAudience          = "GATEHOUSE_AUDIENCE"
	EnvScopes            = "GATEHOUSE_SCOPES"
	EnvScopeDescriptions = "GATEHOUSE_SCOPE_DESCRIPTIONS"
	EnvAccessTokenTTL    = "GATEHOUSE_ACCESS_TOKEN_TTL"
	EnvMaxAccessTokenTTL = "GATEHOUSE_MAX_ACCESS_TOKEN_TTL"
	EnvRefreshTokenTTL   = "GATEHOUSE_REFRESH_TOKEN_TTL"
	EnvCodeTTL           = "GATEHOUSE_CODE_TTL"
	EnvSessionTTL        = "GATEHOUSE_SESSION_TTL"
	EnvSessionIdleTTL    = "GATEHOUSE_SESSION_IDLE_TTL"
	EnvStore             = "GATEHOUSE_STORE"
	EnvSigner            = "GATEHOUSE_SIGNER"
	EnvSigningAlg        = "GATEHOUSE_SIGNING_ALG"
	EnvKMSKeyID          = "GATEHOUSE_KMS_KEY_ID"
	EnvKMSVerifyKeys     = "GATEHOUSE_KMS_VERIFY_KEYS"
	EnvLeeway            = "GATEHOUSE_TOKEN_LEEWAY"
	EnvSigningKeyFile    = "GATEHOUSE_SIGNING_KEY_FILE"
	EnvSeedFile          = "GATEHOUSE_SEED_FILE"
	EnvLogLevel          = "GATEHOUSE_LOG_LEVEL"
	EnvClientsTable      = "GATEHOUSE_CLIENTS_TABLE"
	EnvUsersTable        = "GATEHOUSE_USERS_TABLE"
	EnvCodesTable        = "GATEHOUSE_CODES_TABLE"
	EnvTokensTable       = "GATEHOUSE_TOKENS_TABLE"
	EnvSessionsTable     = "GATEHOUSE_SESSIONS_TABLE"
	EnvClientCacheTTL    = "GATEHOUSE_CLIENT_CACHE_TTL"

	// Login throttling.
	EnvLoginMaxFailures      = "GATEHOUSE_LOGIN_MAX_FAILURES"
	EnvLoginMaxFailuresPerIP = "GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP"
	EnvLoginFailureWindow    = "GATEHOUSE_LOGIN_FAILURE_WINDOW"

	EnvImplicitGrant = "GATEHOUSE_IMPLICIT_GRANT"
)

// Variables lists every variable FromEnv reads, in the order of the table
// above.
var Variables = []string{
	EnvIssuer, EnvAudience, EnvScopes, EnvScopeDescriptions,
	EnvAccessTokenTTL, EnvMaxAccessTokenTTL, EnvRefreshTokenTTL, EnvCodeTTL, EnvSessionTTL, EnvSessionIdleTTL,
	EnvLoginMaxFailures, EnvLoginMaxFailuresPerIP, EnvLoginFailureWindow, EnvImplicitGrant,
	EnvStore, EnvClientsTable, EnvUsersTable, EnvCodesTable, EnvTokensTable, EnvSessionsTable, EnvClientCacheTTL,
	EnvSigner, EnvSigningAlg, EnvKMSKeyID, EnvKMSVerifyKeys, EnvLeeway, EnvSigningKeyFile, EnvSeedFile, EnvLogLevel,
}

// Tables names the DynamoDB tables (GATEHOUSE_*_TABLE). The wiring converts
// it to dynamostore.Tables, which has the same fields.
type Tables struct{ Clients, Users, Codes, Tokens, Sessions string }

// DefaultTables are the table names used when no variable sets them.
func DefaultTables() Tables {
	return Tables{
		Clients:  "gatehouse-clients",
		Users:    "gatehouse-users",
		Codes:    "gatehouse-codes",
		Tokens:   "gatehouse-tokens",
		Sessions: "gatehouse-sessions",
	}
}

// TableVariables lists the variables naming the DynamoDB tables, in the
// order of Tables' fields.
var TableVariables = []string{EnvClientsTable, EnvUsersTable, EnvCodesTable, EnvTokensTable, EnvSessionsTable}

// Supported values of GATEHOUSE_STORE, GATEHOUSE_SIGNER and
// GATEHOUSE_SIGNING_ALG.
const (
	StoreMemory   = "memory"
	StoreDynamoDB = "dynamodb"
	SignerLocal   = "local"
	SignerKMS     = "kms"
	AlgRS256      = "RS256"
	AlgES256      = "ES256"
	AlgPS256      = "PS256"
)

// MaxLeeway caps GATEHOUSE_TOKEN_LEEWAY: more clock skew than a minute
// would keep expired tokens alive.
const MaxLeeway = time.Minute

// DefaultAccessTokenTTL is the grant library's default access-token
// lifetime (oauth.DefaultAccessTokenLifetime), used when
// GATEHOUSE_ACCESS_TOKEN_TTL is unset.
const DefaultAccessTokenTTL = time.Hour

// DefaultMaxAccessTokenTTL is GATEHOUSE_MAX_ACCESS_TOKEN_TTL's default
// (oauth.DefaultMaxAccessTokenLifetime), and AccessTokenTTLCeiling its upper
// bound. A resource server that verifies JWTs without asking the
// introspection endpoint accepts a revoked token until it expires, so the
// maximum is how long a revocation may take to reach it.
const (
	DefaultMaxAccessTokenTTL = 24 * time.Hour
	AccessTokenTTLCeiling    = 365 * 24 * time.Hour
)

// MaxCodeTTL caps GATEHOUSE_CODE_TTL: RFC 6749 §4.1.2 recommends a maximum
// authorization-code lifetime of 10 minutes.
const MaxCodeTTL = 10 * time.Minute

// MaxLoginFailureWindow caps GATEHOUSE_LOGIN_FAILURE_WINDOW: a username over
// its limit is refused until the window ends, so the window is also the
// longest lockout anyone can cause by guessing at a username.
const MaxLoginFailureWindow = 24 * time.Hour

// DefaultClientCacheTTL is GATEHOUSE_CLIENT_CACHE_TTL's default, and
// MaxClientCacheTTL its upper bound: a longer cache would let a deleted
// client or a rotated secret live on for too long.
const (
	DefaultClientCacheTTL = 30 * time.Second
	MaxClientCacheTTL     = time.Hour
)

var (
	stores     = []string{StoreMemory, StoreDynamoDB}
	signers    = []string{SignerLocal, SignerKMS}
	algorithms = []string{AlgRS256, AlgES256, AlgPS256}
)

// Config is Gatehouse's deployment configuration. Zero durations mean the
// grant library's defaults (see oauth.Config).
type Config struct {
	Issuer   string   // without a trailing slash
	Audience []string // never empty: defaults to []string{Issuer}
	Scopes   []string // scopes_supported; empty: derived from the seed
	// ScopeDescriptions explain scopes on the consent page, by scope: a
	// JSON object such as {"photos.read": "See your photos"}.
	ScopeDescriptions map[string]string
	AccessTokenTTL    time.Duration
	// MaxAccessTokenTTL caps every access-token lifetime, a client's own
	// included; FromEnv fills in DefaultMaxAccessTokenTTL.
	MaxAccessTokenTTL time.Duration
	RefreshTokenTTL   time.Duration
	CodeTTL           time.Duration
	SessionTTL        time.Duration
	// SessionIdleTTL ends a session unused for this long. The session
	// lifetime caps it: a longer idle timeout is cut to SessionTTL (or its
	// default) rather than refused, so lowering GATEHOUSE_SESSION_TTL alone
	// never stops a deployment from starting.
	SessionIdleTTL time.Duration
	// Login throttling: the failed sign-ins after which a username, or a
	// source address, is refused until the current LoginFailureWindow
	// ends. Zero means the grant library's default.
	LoginMaxFailures      int
	LoginMaxFailuresPerIP int
	LoginFailureWindow    time.Duration
	// ImplicitGrant allows and advertises the implicit grant (RFC 6749
	// §4.2): FromEnv's default is true, app.LambdaConfig's false.
	ImplicitGrant bool

	Store          string        // StoreMemory or StoreDynamoDB
	Tables         Tables        // DynamoDB table names; always filled in
	ClientCacheTTL time.Duration // 0 disables the client cache
	Signer         string        // SignerLocal or SignerKMS
	SigningAlg     string        // AlgRS256, AlgES256 or AlgPS256 (kms only)
	KMSKeyID       string        // the KMS signing key; required with SignerKMS
	KMSVerifyKeys  []string      // verification-only KMS keys: "key" or "key=ALG"
	Leeway         time.Duration // 0 means the grant library's default
	SigningKeyFile string        // local signer: "" means an ephemeral key
	SeedFile       string        // "" means no seed; only with StoreMemory
	LogLevel       slog.Level
}

// FromEnv reads the configuration through getenv (os.Getenv in the mains, a
// map lookup in tests). It reports every bad variable at once, one per line,
// each error starting with the variable's name.
func FromEnv(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	cfg := Config{
		Issuer:                r.issuer(EnvIssuer),
		Audience:              r.list(EnvAudience, ","),
		Scopes:                r.scopes(EnvScopes),
		ScopeDescriptions:     r.scopeDescriptions(EnvScopeDescriptions),
		AccessTokenTTL:        r.duration(EnvAccessTokenTTL, 0),
		MaxAccessTokenTTL:     r.maxAccessTokenTTL(),
		RefreshTokenTTL:       r.duration(EnvRefreshTokenTTL, 0),
		CodeTTL:               r.duration(EnvCodeTTL, MaxCodeTTL),
		SessionTTL:            r.duration(EnvSessionTTL, 0),
		SessionIdleTTL:        r.duration(EnvSessionIdleTTL, 0),
		LoginMaxFailures:      r.positiveInt(EnvLoginMaxFailures),
		LoginMaxFailuresPerIP: r.positiveInt(EnvLoginMaxFailuresPerIP),
		LoginFailureWindow:    r.duration(EnvLoginFailureWindow, MaxLoginFailureWindow),
		ImplicitGrant:         r.boolean(EnvImplicitGrant, true),
		Store:                 r.oneOf(EnvStore, StoreMemory, stores),
		Tables:                r.tables(),
		ClientCacheTTL:        r.durationOrZero(EnvClientCacheTTL, DefaultClientCacheTTL, MaxClientCacheTTL),
		Signer:                r.oneOf(EnvSigner, SignerLocal, signers),
		SigningAlg:            r.oneOf(EnvSigningAlg, AlgRS256, algorithms),
		KMSKeyID:              r.get(EnvKMSKeyID),
		KMSVerifyKeys:         r.list(EnvKMSVerifyKeys, ", "),
		Leeway:                r.duration(EnvLeeway, MaxLeeway),
		SigningKeyFile:        r.get(EnvSigningKeyFile),
		SeedFile:              r.get(EnvSeedFile),
		LogLevel:              r.logLevel(EnvLogLevel),
	}
	if len(cfg.Audience) == 0 && cfg.Issuer != "" {
		cfg.Audience = []string{cfg.Issuer}
	}
	if cfg.Store == StoreDynamoDB && cfg.SeedFile != "" {
		r.fail(EnvSeedFile, "a seed file is only for the memory store; with %s=%s create clients and users with "+
			"`gatehouse clients create` and `gatehouse users create`", EnvStore, StoreDynamoDB)
	}
	r.signer(cfg)
	r.accessTokenTTL(cfg)
	if err := errors.Join(r.errs...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// accessTokenTTL checks the access-token lifetime, given or default,
// against the maximum.
func (r *reader) accessTokenTTL(cfg Config) {
	if cfg.MaxAccessTokenTTL <= 0 {
		return // reported already
	}
	switch {
	case cfg.AccessTokenTTL > cfg.MaxAccessTokenTTL:
		r.fail(EnvAccessTokenTTL, "%q exceeds %s (%s)", r.get(EnvAccessTokenTTL), EnvMaxAccessTokenTTL, cfg.MaxAccessTokenTTL)
	case cfg.AccessTokenTTL == 0 && DefaultAccessTokenTTL > cfg.MaxAccessTokenTTL:
		r.fail(EnvAccessTokenTTL, "the default of %s exceeds %s (%s): set both", DefaultAccessTokenTTL, EnvMaxAccessTokenTTL, cfg.MaxAccessTokenTTL)
	}
}

// maxAccessTokenTTL reads GATEHOUSE_MAX_ACCESS_TOKEN_TTL, defaulting to
// DefaultMaxAccessTokenTTL.
func (r *reader) maxAccessTokenTTL() time.Duration {
	if r.get(EnvMaxAccessTokenTTL) == "" {
		return DefaultMaxAccessTokenTTL
	}
	return r.duration(EnvMaxAccessTokenTTL, AccessTokenTTLCeiling)
}

// MaxAccessTokenTTLFromEnv reads only GATEHOUSE_MAX_ACCESS_TOKEN_TTL, with
// FromEnv's default and checks, for the admin commands that need no issuer
// (`gatehouse clients create` refuses a longer access_token_lifetime).
func MaxAccessTokenTTLFromEnv(getenv func(string) string) (time.Duration, error) {
	r := reader{getenv: getenv}
	d := r.maxAccessTokenTTL()
	if err := errors.Join(r.errs...); err != nil {
		return 0, err
	}
	return d, nil
}

// signer checks that the signer's variables fit together.
func (r *reader) signer(cfg Config) {
	switch cfg.Signer {
	case SignerKMS:
		if cfg.KMSKeyID == "" {
			r.fail(EnvKMSKeyID, "is required with %s=%s (a key id, key ARN or alias such as alias/gatehouse-signing)", EnvSigner, SignerKMS)
		}
		if cfg.SigningKeyFile != "" {
			r.fail(EnvSigningKeyFile, "is for the local signer; with %s=%s the key stays in KMS", EnvSigner, SignerKMS)
		}
		for _, k := range cfg.KMSVerifyKeys {
			id, alg, hasAlg := strings.Cut(k, "=")
			if id == "" || (hasAlg && !slices.Contains(algorithms, alg)) {
				r.fail(EnvKMSVerifyKeys, "%q is not \"key\" or \"key=ALG\" with ALG one of %s", k, strings.Join(algorithms, ", "))
			}
		}
	case SignerLocal:
		if cfg.SigningAlg == AlgPS256 {
			r.fail(EnvSigningAlg, "PS256 needs %s=%s; the local signer does RS256 and ES256", EnvSigner, SignerKMS)
		}
		if cfg.KMSKeyID != "" || len(cfg.KMSVerifyKeys) > 0 {
			r.fail(EnvKMSKeyID, "is set, but %s=%s: set %s=%s to sign with KMS", EnvSigner, SignerLocal, EnvSigner, SignerKMS)
		}
	}
}

// TablesFromEnv reads only the DynamoDB table names (GATEHOUSE_*_TABLE),
// with the same defaults and checks as FromEnv, for the admin commands that
// need no issuer.
func TablesFromEnv(getenv func(string) string) (Tables, error) {
	r := reader{getenv: getenv}
	t := r.tables()
	if err := errors.Join(r.errs...); err != nil {
		return Tables{}, err
	}
	return t, nil
}

// reader collects errors while reading variables.
type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) get(name string) string { return strings.TrimSpace(r.getenv(name)) }

func (r *reader) fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// issuer applies RFC 8414 §2: an https URL without query or fragment; plain
// http only on a loopback host, for local development.
func (r *reader) issuer(name string) string {
	v := r.get(name)
	if v == "" {
		r.fail(name, "is required (the issuer URL, e.g. https://auth.example.com)")
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		r.fail(name, "%q is not an absolute URL", v)
		return ""
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(v, "#") || u.User != nil:
		r.fail(name, "%q must not have a query, fragment or user info (RFC 8414 §2)", v)
		return ""
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		r.fail(name, "%q must use https (plain http only for 127.0.0.1, [::1] or localhost)", v)
		return ""
	}
	return strings.TrimSuffix(v, "/")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// list splits on any of the separator characters, dropping empty elements
// and duplicates.
func (r *reader) list(name, seps string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(r.getenv(name), func(c rune) bool { return strings.ContainsRune(seps, c) }) {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// scopes reads a comma- or space-separated list of scope tokens (RFC 6749
// §3.3: %x21 / %x23-5B / %x5D-7E).
func (r *reader) scopes(name string) []string {
	out := r.list(name, ", \t\n")
	for _, s := range out {
		if !ValidScopeToken(s) {
			r.fail(name, "%q is not a valid scope token (RFC 6749 §3.3: printable ASCII except space, '\"' and '\\')", s)
			return nil
		}
	}
	return out
}

// maxScopeDescription bounds one description: a line on the consent page.
const maxScopeDescription = 200

// scopeDescriptions reads a JSON object of scope tokens to descriptions.
func (r *reader) scopeDescriptions(name string) map[string]string {
	v := r.get(name)
	if v == "" {
		return nil
	}
	var out map[string]string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		r.fail(name, "is not a JSON object of scope descriptions, such as {\"photos.read\": \"See your photos\"}: %v", err)
		return nil
	}
	for _, sc := range slices.Sorted(maps.Keys(out)) {
		d := out[sc]
		switch {
		case !ValidScopeToken(sc):
			r.fail(name, "%q is not a valid scope token (RFC 6749 §3.3)", sc)
			return nil
		case strings.TrimSpace(d) == "" || len(d) > maxScopeDescription || strings.ContainsAny(d, "\r\n"):
			r.fail(name, "the description of %q must be one line of 1 to %d characters", sc, maxScopeDescription)
			return nil
		}
	}
	return out
}

// ValidScopeToken reports whether s is a non-empty scope-token of RFC 6749
// §3.3.
func ValidScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// duration reads a positive Go duration or whole number of seconds; empty
// means 0 (the default). limit, when positive, is an upper bound.
func (r *reader) duration(name string, limit time.Duration) time.Duration {
	v := r.get(name)
	if v == "" {
		return 0
	}
	d, err := ParseDuration(v)
	switch {
	case err != nil:
		r.fail(name, "%v", err)
		return 0
	case d <= 0:
		r.fail(name, "%q must be positive (leave it unset for the default)", v)
		return 0
	case limit > 0 && d > limit:
		r.fail(name, "%q exceeds the maximum of %s", v, limit)
		return 0
	}
	return d
}

// boolean reads true or false (also on/off, yes/no, 1/0, in any case);
// empty means def.
func (r *reader) boolean(name string, def bool) bool {
	switch strings.ToLower(r.get(name)) {
	case "":
		return def
	case "true", "on", "yes", "1":
		return true
	case "false", "off", "no", "0":
		return false
	}
	r.fail(name, "%q is not true or false", r.get(name))
	return def
}

// positiveInt reads a positive whole number; empty means 0 (the default).
func (r *reader) positiveInt(name string) int {
	v := r.get(name)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	switch {
	case errors.Is(err, strconv.ErrRange) && n > 0:
		r.fail(name, "%q is too large (at most %d)", v, math.MaxInt32)
		return 0
	case err != nil && !errors.Is(err, strconv.ErrRange):
		r.fail(name, "%q is not a whole number (want a positive integer such as 5)", v)
		return 0
	case n <= 0:
		r.fail(name, "%q must be positive (leave it unset for the default)", v)
		return 0
	}
	return int(n)
}

// ParseDuration parses a Go duration ("1h", "90s") or a whole number of
// seconds ("3600").
func ParseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
			return 0, fmt.Errorf("%q seconds is out of range", v)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want a Go duration like \"1h\" or \"90s\", or whole seconds like \"3600\")", v)
	}
	return d, nil
}

// durationOrZero reads a Go duration or whole seconds that may be 0 (which
// turns the feature off); empty means def. limit is an upper bound.
func (r *reader) durationOrZero(name string, def, limit time.Duration) time.Duration {
	v := r.get(name)
	if v == "" {
		return def
	}
	d, err := ParseDuration(v)
	switch {
	case err != nil:
		r.fail(name, "%v", err)
		return def
	case d < 0:
		r.fail(name, "%q must not be negative (0 turns it off)", v)
		return def
	case d > limit:
		r.fail(name, "%q exceeds the maximum of %s", v, limit)
		return def
	}
	return d
}

// tables reads the DynamoDB table names, defaulting to DefaultTables. Each must be a valid DynamoDB table name, and
// no two may be the same: every table has its own key schema.
func (r *reader) tables() Tables {
	t := DefaultTables()
	fields := []*string{&t.Clients, &t.Users, &t.Codes, &t.Tokens, &t.Sessions}
	seen := map[string]string{}
	for i, name := range TableVariables {
		v := r.get(name)
		if v == "" {
			v = *fields[i]
		} else if !ValidTableName(v) {
			r.fail(name, "%q is not a valid DynamoDB table name (3 to 255 characters: letters, digits, '_', '-', '.')", v)
			continue
		}
		if other, ok := seen[v]; ok {
			r.fail(name, "%q is also the table of %s: each table needs its own name", v, other)
			continue
		}
		seen[v] = name
		*fields[i] = v
	}
	return t
}

// ValidTableName reports whether s is a valid DynamoDB table name: 3 to 255
// characters from a-z, A-Z, 0-9, '_', '-' and '.'.
func ValidTableName(s string) bool {
	if len(s) < 3 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// oneOf reads a value that must be one of allowed; empty means def.
func (r *reader) oneOf(name, def string, allowed []string) string {
	v := r.get(name)
	if v == "" {
		return def
	}
	if !slices.Contains(allowed, v) {
		r.fail(name, "unsupported value %q (supported: %s)", v, strings.Join(allowed, ", "))
		return def
	}
	return v
}

func (r *reader) logLevel(name string) slog.Level {
	v := r.get(name)
	if v == "" {
		return slog.LevelInfo
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.fail(name, "unknown log level %q (want debug, info, warn or error)", v)
		return slog.LevelInfo
	}
	return l
}
