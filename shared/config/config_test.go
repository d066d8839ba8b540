package config_test

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

const issuer = "https://auth.example.com"

func TestFromEnvDefaults(t *testing.T) {
	cfg, err := config.FromEnv(env(map[string]string{config.EnvIssuer: issuer}))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Issuer:         issuer,
		Audience:       []string{issuer},
		Store:          config.StoreMemory,
		Tables:         config.DefaultTables(),
		ClientCacheTTL: 30 * time.Second,
		Signer:         config.SignerLocal,
		SigningAlg:     config.AlgRS256,
		LogLevel:       slog.LevelInfo,
		// The local binary has a key in the process: it can sign at its
		// authorization endpoint (app.LambdaConfig turns this off).
		ImplicitGrant:     true,
		MaxAccessTokenTTL: 24 * time.Hour,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("FromEnv =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestFromEnvGood(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c config.Config)
	}{
		{"issuer trailing slash trimmed", map[string]string{config.EnvIssuer: issuer + "/"}, func(t *testing.T, c config.Config) {
			eq(t, c.Issuer, issuer)
			eq(t, c.Audience, []string{issuer})
		}},
		{"issuer with path", map[string]string{config.EnvIssuer: "https://example.com/auth"}, func(t *testing.T, c config.Config) {
			eq(t, c.Issuer, "https://example.com/auth")
		}},
		{"loopback http issuer", map[string]string{config.EnvIssuer: "http://127.0.0.1:8080"}, func(t *testing.T, c config.Config) {
			eq(t, c.Issuer, "http://127.0.0.1:8080")
		}},
		{"localhost http issuer", map[string]string{config.EnvIssuer: "http://localhost:8080"}, nil},
		{"ipv6 loopback http issuer", map[string]string{config.EnvIssuer: "http://[::1]:8080"}, nil},
		{"issuer surrounded by spaces", map[string]string{config.EnvIssuer: "  " + issuer + " "}, func(t *testing.T, c config.Config) {
			eq(t, c.Issuer, issuer)
		}},
		{"audience list", map[string]string{config.EnvAudience: " api-a, api-b,,api-a "}, func(t *testing.T, c config.Config) {
			eq(t, c.Audience, []string{"api-a", "api-b"})
		}},
		{"scopes comma and space", map[string]string{config.EnvScopes: "read, write  admin:all,read"}, func(t *testing.T, c config.Config) {
			eq(t, c.Scopes, []string{"read", "write", "admin:all"})
		}},
		{"durations", map[string]string{
			config.EnvAccessTokenTTL:  "15m",
			config.EnvRefreshTokenTTL: "86400",
			config.EnvCodeTTL:         "30s",
			config.EnvSessionTTL:      "1h30m",
		}, func(t *testing.T, c config.Config) {
			eq(t, c.AccessTokenTTL, 15*time.Minute)
			eq(t, c.RefreshTokenTTL, 24*time.Hour)
			eq(t, c.CodeTTL, 30*time.Second)
			eq(t, c.SessionTTL, 90*time.Minute)
		}},
		{"session idle and login throttling", map[string]string{
			config.EnvSessionTTL:            "8h",
			config.EnvSessionIdleTTL:        "30m",
			config.EnvLoginMaxFailures:      " 3 ",
			config.EnvLoginMaxFailuresPerIP: "100",
			config.EnvLoginFailureWindow:    "600",
		}, func(t *testing.T, c config.Config) {
			eq(t, c.SessionIdleTTL, 30*time.Minute)
			eq(t, c.LoginMaxFailures, 3)
			eq(t, c.LoginMaxFailuresPerIP, 100)
			eq(t, c.LoginFailureWindow, 10*time.Minute)
		}},
		{"session idle TTL equal to the session TTL", map[string]string{config.EnvSessionTTL: "2h", config.EnvSessionIdleTTL: "120m"},
			func(t *testing.T, c config.Config) { eq(t, c.SessionIdleTTL, 2*time.Hour) }},
		{"session idle TTL longer than the session (capped by the grant library)", map[string]string{
			config.EnvSessionTTL: "30m", config.EnvSessionIdleTTL: "1h",
		}, func(t *testing.T, c config.Config) { eq(t, c.SessionIdleTTL, time.Hour) }},
		{"session idle TTL alone", map[string]string{config.EnvSessionIdleTTL: "4h"}, func(t *testing.T, c config.Config) {
			eq(t, c.SessionIdleTTL, 4*time.Hour)
			eq(t, c.SessionTTL, time.Duration(0))
		}},
		{"login failure window at the maximum", map[string]string{config.EnvLoginFailureWindow: "24h"}, func(t *testing.T, c config.Config) {
			eq(t, c.LoginFailureWindow, config.MaxLoginFailureWindow)
		}},
		{"scope descriptions", map[string]string{config.EnvScopeDescriptions: `{"photos.read": "See your photos", "offline_access": "Keep you signed in"}`}, func(t *testing.T, c config.Config) {
			eq(t, c.ScopeDescriptions, map[string]string{"photos.read": "See your photos", "offline_access": "Keep you signed in"})
		}},
		{"code TTL at the maximum", map[string]string{config.EnvCodeTTL: "600"}, func(t *testing.T, c config.Config) {
			eq(t, c.CodeTTL, config.MaxCodeTTL)
		}},
		{"explicit backends", map[string]string{config.EnvStore: "memory", config.EnvSigner: "local"}, func(t *testing.T, c config.Config) {
			eq(t, c.Store, config.StoreMemory)
			eq(t, c.Signer, config.SignerLocal)
		}},
		{"kms", map[string]string{
			config.EnvSigner:        "kms",
			config.EnvSigningAlg:    "PS256",
			config.EnvKMSKeyID:      "alias/gatehouse-signing",
			config.EnvKMSVerifyKeys: "alias/old-rsa=RS256, arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			config.EnvLeeway:        "45s",
		}, func(t *testing.T, c config.Config) {
			eq(t, c.Signer, config.SignerKMS)
			eq(t, c.SigningAlg, config.AlgPS256)
			eq(t, c.KMSKeyID, "alias/gatehouse-signing")
			eq(t, c.KMSVerifyKeys, []string{"alias/old-rsa=RS256", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"})
			eq(t, c.Leeway, 45*time.Second)
		}},
		{"dynamodb", map[string]string{config.EnvStore: "dynamodb"}, func(t *testing.T, c config.Config) {
			eq(t, c.Store, config.StoreDynamoDB)
			eq(t, c.Tables, config.DefaultTables())
		}},
		{"table names", map[string]string{
			config.EnvStore:         "dynamodb",
			config.EnvClientsTable:  "prod.clients",
			config.EnvUsersTable:    " prod-users ",
			config.EnvCodesTable:    "prod_codes",
			config.EnvTokensTable:   "ProdTokens",
			config.EnvSessionsTable: "",
		}, func(t *testing.T, c config.Config) {
			eq(t, c.Tables, config.Tables{
				Clients: "prod.clients", Users: "prod-users", Codes: "prod_codes", Tokens: "ProdTokens",
				Sessions: config.DefaultTables().Sessions,
			})
		}},
		{"client cache ttl", map[string]string{config.EnvClientCacheTTL: "5s"}, func(t *testing.T, c config.Config) {
			eq(t, c.ClientCacheTTL, 5*time.Second)
		}},
		{"client cache ttl 0 disables", map[string]string{config.EnvClientCacheTTL: "0"}, func(t *testing.T, c config.Config) {
			eq(t, c.ClientCacheTTL, time.Duration(0))
		}},
		{"client cache ttl 0s disables", map[string]string{config.EnvClientCacheTTL: "0s"}, func(t *testing.T, c config.Config) {
			eq(t, c.ClientCacheTTL, time.Duration(0))
		}},
		{"client cache ttl at the maximum", map[string]string{config.EnvClientCacheTTL: "3600"}, func(t *testing.T, c config.Config) {
			eq(t, c.ClientCacheTTL, config.MaxClientCacheTTL)
		}},
		{"seed file with the memory store", map[string]string{config.EnvStore: "memory", config.EnvSeedFile: "dev/seed.json"}, func(t *testing.T, c config.Config) {
			eq(t, c.SeedFile, "dev/seed.json")
		}},
		{"ES256", map[string]string{config.EnvSigningAlg: "ES256"}, func(t *testing.T, c config.Config) {
			eq(t, c.SigningAlg, config.AlgES256)
		}},
		{"files", map[string]string{config.EnvSigningKeyFile: "/keys/k.pem", config.EnvSeedFile: "dev/seed.json"}, func(t *testing.T, c config.Config) {
			eq(t, c.SigningKeyFile, "/keys/k.pem")
			eq(t, c.SeedFile, "dev/seed.json")
		}},
		{"implicit grant off", map[string]string{config.EnvImplicitGrant: "false"}, func(t *testing.T, c config.Config) {
			eq(t, c.ImplicitGrant, false)
		}},
		{"implicit grant off, other spellings", map[string]string{config.EnvImplicitGrant: " Off "}, func(t *testing.T, c config.Config) {
			eq(t, c.ImplicitGrant, false)
		}},
		{"implicit grant on", map[string]string{config.EnvImplicitGrant: "TRUE"}, func(t *testing.T, c config.Config) {
			eq(t, c.ImplicitGrant, true)
		}},
		{"max access-token TTL", map[string]string{config.EnvMaxAccessTokenTTL: "48h", config.EnvAccessTokenTTL: "36h"}, func(t *testing.T, c config.Config) {
			eq(t, c.MaxAccessTokenTTL, 48*time.Hour)
			eq(t, c.AccessTokenTTL, 36*time.Hour)
		}},
		{"access-token TTL equal to the maximum", map[string]string{config.EnvAccessTokenTTL: "86400"}, func(t *testing.T, c config.Config) {
			eq(t, c.AccessTokenTTL, config.DefaultMaxAccessTokenTTL)
		}},
		{"max access-token TTL at its ceiling", map[string]string{config.EnvMaxAccessTokenTTL: "8760h"}, func(t *testing.T, c config.Config) {
			eq(t, c.MaxAccessTokenTTL, config.AccessTokenTTLCeiling)
		}},
		{"log level debug", map[string]string{config.EnvLogLevel: "debug"}, func(t *testing.T, c config.Config) {
			eq(t, c.LogLevel, slog.LevelDebug)
		}},
		{"log level WARN", map[string]string{config.EnvLogLevel: "WARN"}, func(t *testing.T, c config.Config) {
			eq(t, c.LogLevel, slog.LevelWarn)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := tt.env[config.EnvIssuer]; !ok {
				tt.env[config.EnvIssuer] = issuer
			}
			c, err := config.FromEnv(env(tt.env))
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestFromEnvBad(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // substring of the error, after the variable name
	}{
		{"missing issuer", map[string]string{config.EnvIssuer: ""}, "GATEHOUSE_ISSUER: is required"},
		{"relative issuer", map[string]string{config.EnvIssuer: "auth.example.com"}, `GATEHOUSE_ISSUER: "auth.example.com" is not an absolute URL`},
		{"http issuer", map[string]string{config.EnvIssuer: "http://auth.example.com"}, "GATEHOUSE_ISSUER: \"http://auth.example.com\" must use https"},
		{"ftp issuer", map[string]string{config.EnvIssuer: "ftp://127.0.0.1"}, "GATEHOUSE_ISSUER: \"ftp://127.0.0.1\" must use https"},
		{"issuer with query", map[string]string{config.EnvIssuer: issuer + "?a=b"}, "GATEHOUSE_ISSUER: \"https://auth.example.com?a=b\" must not have a query"},
		{"issuer with fragment", map[string]string{config.EnvIssuer: issuer + "#x"}, "must not have a query, fragment"},
		{"issuer with user", map[string]string{config.EnvIssuer: "https://u@auth.example.com"}, "must not have a query, fragment or user info"},
		{"bad scope", map[string]string{config.EnvScopes: `read "write"`}, `GATEHOUSE_SCOPES: "\"write\"" is not a valid scope token`},
		{"scope descriptions not JSON", map[string]string{config.EnvScopeDescriptions: "read=Read"}, "GATEHOUSE_SCOPE_DESCRIPTIONS: is not a JSON object of scope descriptions"},
		{"scope descriptions not strings", map[string]string{config.EnvScopeDescriptions: `{"read": 1}`}, "GATEHOUSE_SCOPE_DESCRIPTIONS: is not a JSON object"},
		{"description of a bad scope", map[string]string{config.EnvScopeDescriptions: `{"a b": "x"}`}, `GATEHOUSE_SCOPE_DESCRIPTIONS: "a b" is not a valid scope token`},
		{"empty description", map[string]string{config.EnvScopeDescriptions: `{"read": " "}`}, `GATEHOUSE_SCOPE_DESCRIPTIONS: the description of "read" must be one line of 1 to 200 characters`},
		{"two-line description", map[string]string{config.EnvScopeDescriptions: `{"read": "a\nb"}`}, `the description of "read" must be one line`},
		{"bad duration", map[string]string{config.EnvAccessTokenTTL: "an hour"}, `GATEHOUSE_ACCESS_TOKEN_TTL: invalid duration "an hour"`},
		{"unitless fraction", map[string]string{config.EnvRefreshTokenTTL: "1.5"}, `GATEHOUSE_REFRESH_TOKEN_TTL: invalid duration "1.5"`},
		{"zero duration", map[string]string{config.EnvSessionTTL: "0"}, `GATEHOUSE_SESSION_TTL: "0" must be positive`},
		{"negative duration", map[string]string{config.EnvAccessTokenTTL: "-5m"}, `GATEHOUSE_ACCESS_TOKEN_TTL: "-5m" must be positive`},
		{"huge seconds", map[string]string{config.EnvAccessTokenTTL: "99999999999999999"}, `GATEHOUSE_ACCESS_TOKEN_TTL: "99999999999999999" seconds is out of range`},
		{"code TTL too long", map[string]string{config.EnvCodeTTL: "11m"}, `GATEHOUSE_CODE_TTL: "11m" exceeds the maximum of 10m0s`},
		{"zero session idle TTL", map[string]string{config.EnvSessionIdleTTL: "0s"}, `GATEHOUSE_SESSION_IDLE_TTL: "0s" must be positive`},
		{"bad session idle TTL", map[string]string{config.EnvSessionIdleTTL: "idle"}, `GATEHOUSE_SESSION_IDLE_TTL: invalid duration "idle"`},
		{"zero max failures", map[string]string{config.EnvLoginMaxFailures: "0"}, `GATEHOUSE_LOGIN_MAX_FAILURES: "0" must be positive`},
		{"negative max failures", map[string]string{config.EnvLoginMaxFailures: "-3"}, `GATEHOUSE_LOGIN_MAX_FAILURES: "-3" must be positive`},
		{"fractional max failures", map[string]string{config.EnvLoginMaxFailures: "2.5"}, `GATEHOUSE_LOGIN_MAX_FAILURES: "2.5" is not a whole number`},
		{"huge max failures", map[string]string{config.EnvLoginMaxFailures: "99999999999"}, `GATEHOUSE_LOGIN_MAX_FAILURES: "99999999999" is too large (at most 2147483647)`},
		{"huge negative max failures", map[string]string{config.EnvLoginMaxFailures: "-99999999999"}, `GATEHOUSE_LOGIN_MAX_FAILURES: "-99999999999" must be positive`},
		{"bad max failures per IP", map[string]string{config.EnvLoginMaxFailuresPerIP: "lots"}, `GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP: "lots" is not a whole number`},
		{"zero max failures per IP", map[string]string{config.EnvLoginMaxFailuresPerIP: "0"}, `GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP: "0" must be positive`},
		{"zero failure window", map[string]string{config.EnvLoginFailureWindow: "0"}, `GATEHOUSE_LOGIN_FAILURE_WINDOW: "0" must be positive`},
		{"failure window too long", map[string]string{config.EnvLoginFailureWindow: "25h"}, `GATEHOUSE_LOGIN_FAILURE_WINDOW: "25h" exceeds the maximum of 24h0m0s`},
		{"unknown store", map[string]string{config.EnvStore: "postgres"}, `GATEHOUSE_STORE: unsupported value "postgres" (supported: memory, dynamodb)`},
		{"upper-case store", map[string]string{config.EnvStore: "DynamoDB"}, `GATEHOUSE_STORE: unsupported value "DynamoDB" (supported: memory, dynamodb)`},
		{"seed file with dynamodb", map[string]string{config.EnvStore: "dynamodb", config.EnvSeedFile: "dev/seed.json"},
			"GATEHOUSE_SEED_FILE: a seed file is only for the memory store; with GATEHOUSE_STORE=dynamodb create clients and users with `gatehouse clients create`"},
		{"short table name", map[string]string{config.EnvClientsTable: "ab"}, `GATEHOUSE_CLIENTS_TABLE: "ab" is not a valid DynamoDB table name`},
		{"table name with a slash", map[string]string{config.EnvTokensTable: "prod/tokens"}, `GATEHOUSE_TOKENS_TABLE: "prod/tokens" is not a valid DynamoDB table name`},
		{"long table name", map[string]string{config.EnvUsersTable: strings.Repeat("u", 256)}, `GATEHOUSE_USERS_TABLE: "uuu`},
		{"shared table name", map[string]string{config.EnvSessionsTable: "gatehouse-codes"},
			`GATEHOUSE_SESSIONS_TABLE: "gatehouse-codes" is also the table of GATEHOUSE_CODES_TABLE: each table needs its own name`},
		{"negative client cache ttl", map[string]string{config.EnvClientCacheTTL: "-1s"}, `GATEHOUSE_CLIENT_CACHE_TTL: "-1s" must not be negative (0 turns it off)`},
		{"bad client cache ttl", map[string]string{config.EnvClientCacheTTL: "soon"}, `GATEHOUSE_CLIENT_CACHE_TTL: invalid duration "soon"`},
		{"client cache ttl too long", map[string]string{config.EnvClientCacheTTL: "2h"}, `GATEHOUSE_CLIENT_CACHE_TTL: "2h" exceeds the maximum of 1h0m0s`},
		{"unknown signer", map[string]string{config.EnvSigner: "hsm"}, `GATEHOUSE_SIGNER: unsupported value "hsm" (supported: local, kms)`},
		{"unknown alg", map[string]string{config.EnvSigningAlg: "HS256"}, `GATEHOUSE_SIGNING_ALG: unsupported value "HS256" (supported: RS256, ES256, PS256)`},
		{"kms without key", map[string]string{config.EnvSigner: "kms"}, `GATEHOUSE_KMS_KEY_ID: is required with GATEHOUSE_SIGNER=kms`},
		{"kms with key file", map[string]string{config.EnvSigner: "kms", config.EnvKMSKeyID: "alias/k", config.EnvSigningKeyFile: "k.pem"},
			`GATEHOUSE_SIGNING_KEY_FILE: is for the local signer`},
		{"bad verify key", map[string]string{config.EnvSigner: "kms", config.EnvKMSKeyID: "alias/k", config.EnvKMSVerifyKeys: "alias/old=HS256"},
			`GATEHOUSE_KMS_VERIFY_KEYS: "alias/old=HS256" is not`},
		{"PS256 locally", map[string]string{config.EnvSigningAlg: "PS256"}, `GATEHOUSE_SIGNING_ALG: PS256 needs GATEHOUSE_SIGNER=kms`},
		{"kms key with local signer", map[string]string{config.EnvKMSKeyID: "alias/k"}, `GATEHOUSE_KMS_KEY_ID: is set, but GATEHOUSE_SIGNER=local`},
		{"leeway too long", map[string]string{config.EnvLeeway: "2m"}, `GATEHOUSE_TOKEN_LEEWAY: "2m" exceeds the maximum of 1m0s`},
		{"lower-case alg", map[string]string{config.EnvSigningAlg: "rs256"}, `GATEHOUSE_SIGNING_ALG: unsupported value "rs256"`},
		{"bad log level", map[string]string{config.EnvLogLevel: "verbose"}, `GATEHOUSE_LOG_LEVEL: unknown log level "verbose"`},
		{"bad implicit grant", map[string]string{config.EnvImplicitGrant: "maybe"}, `GATEHOUSE_IMPLICIT_GRANT: "maybe" is not true or false`},
		{"access-token TTL over the default maximum", map[string]string{config.EnvAccessTokenTTL: "25h"},
			`GATEHOUSE_ACCESS_TOKEN_TTL: "25h" exceeds GATEHOUSE_MAX_ACCESS_TOKEN_TTL (24h0m0s)`},
		{"access-token TTL over the maximum", map[string]string{config.EnvAccessTokenTTL: "2h", config.EnvMaxAccessTokenTTL: "90m"},
			`GATEHOUSE_ACCESS_TOKEN_TTL: "2h" exceeds GATEHOUSE_MAX_ACCESS_TOKEN_TTL (1h30m0s)`},
		{"maximum under the default access-token TTL", map[string]string{config.EnvMaxAccessTokenTTL: "30m"},
			`GATEHOUSE_ACCESS_TOKEN_TTL: the default of 1h0m0s exceeds GATEHOUSE_MAX_ACCESS_TOKEN_TTL (30m0s)`},
		{"max access-token TTL over its ceiling", map[string]string{config.EnvMaxAccessTokenTTL: "8761h"},
			`GATEHOUSE_MAX_ACCESS_TOKEN_TTL: "8761h" exceeds the maximum of 8760h0m0s`},
		{"zero max access-token TTL", map[string]string{config.EnvMaxAccessTokenTTL: "0"}, `GATEHOUSE_MAX_ACCESS_TOKEN_TTL: "0" must be positive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := tt.env[config.EnvIssuer]; !ok {
				tt.env[config.EnvIssuer] = issuer
			}
			c, err := config.FromEnv(env(tt.env))
			if err == nil {
				t.Fatalf("FromEnv succeeded with %+v; want error containing %q", c, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.want)
			}
		})
	}
}

func TestFromEnvReportsEveryError(t *testing.T) {
	_, err := config.FromEnv(env(map[string]string{
		config.EnvCodeTTL: "soon",
		config.EnvStore:   "disk",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got %q", lines)
	}
	for i, prefix := range []string{config.EnvIssuer, config.EnvCodeTTL, config.EnvStore} {
		if !strings.HasPrefix(lines[i], prefix+": ") {
			t.Errorf("line %d = %q; want prefix %s", i, lines[i], prefix)
		}
	}
}

func TestTablesFromEnv(t *testing.T) {
	tables, err := config.TablesFromEnv(env(map[string]string{config.EnvClientsTable: "test-clients"}))
	want := config.DefaultTables()
	want.Clients = "test-clients"
	if err != nil || tables != want {
		t.Errorf("TablesFromEnv = %+v, %v; want %+v", tables, err, want)
	}
	// Nothing else is read: no issuer needed.
	_, err = config.TablesFromEnv(env(map[string]string{config.EnvUsersTable: "x", config.EnvCodesTable: "gatehouse-clients"}))
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_USERS_TABLE: \"x\" is not a valid") ||
		!strings.Contains(err.Error(), "GATEHOUSE_CODES_TABLE: \"gatehouse-clients\" is also the table of GATEHOUSE_CLIENTS_TABLE") {
		t.Errorf("TablesFromEnv error = %v", err)
	}
}

// TestMaxAccessTokenTTLFromEnv: the admin commands, which need no issuer,
// read the maximum as FromEnv does, to refuse registering a client with a
// longer lifetime.
func TestMaxAccessTokenTTLFromEnv(t *testing.T) {
	for in, want := range map[string]time.Duration{"": config.DefaultMaxAccessTokenTTL, "2h": 2 * time.Hour, " 3600 ": time.Hour} {
		got, err := config.MaxAccessTokenTTLFromEnv(env(map[string]string{config.EnvMaxAccessTokenTTL: in}))
		if err != nil || got != want {
			t.Errorf("MaxAccessTokenTTLFromEnv(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"soon", "-1h", "9000h"} {
		_, err := config.MaxAccessTokenTTLFromEnv(env(map[string]string{config.EnvMaxAccessTokenTTL: in}))
		if err == nil || !strings.HasPrefix(err.Error(), config.EnvMaxAccessTokenTTL+": ") {
			t.Errorf("MaxAccessTokenTTLFromEnv(%q): error %v", in, err)
		}
	}
}

func TestVariables(t *testing.T) {
	// Every variable is listed once, and FromEnv reads exactly those.
	read := map[string]bool{}
	_, _ = config.FromEnv(func(k string) string { read[k] = true; return "" })
	seen := map[string]bool{}
	for _, v := range config.Variables {
		if seen[v] {
			t.Errorf("%s listed twice", v)
		}
		seen[v] = true
		if !read[v] {
			t.Errorf("%s listed but not read", v)
		}
	}
	for v := range read {
		if !seen[v] {
			t.Errorf("%s read but not listed in Variables", v)
		}
	}
	for _, v := range config.TableVariables {
		if !seen[v] {
			t.Errorf("table variable %s not in Variables", v)
		}
	}
}

func TestValidTableName(t *testing.T) {
	for s, want := range map[string]bool{
		"abc": true, "gatehouse-clients": true, "a.b_C-9": true, strings.Repeat("x", 255): true,
		"ab": false, "": false, strings.Repeat("x", 256): false, "a b c": false, "a/bc": false, "tablé": false,
	} {
		if got := config.ValidTableName(s); got != want {
			t.Errorf("ValidTableName(%q) = %v; want %v", s, got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"3600": time.Hour,
		"1h":   time.Hour,
		"90s":  90 * time.Second,
		"0":    0,
		"1h1s": time.Hour + time.Second,
	} {
		got, err := config.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "h", "1 h", "1.5", "1e3"} {
		if got, err := config.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v; want error", in, got)
		}
	}
}

func TestValidScopeToken(t *testing.T) {
	for s, want := range map[string]bool{
		"read": true, "a:b/c": true, "!#[]~": true,
		"": false, "a b": false, `a"b`: false, `a\b`: false, "é": false, "a\tb": false,
	} {
		if got := config.ValidScopeToken(s); got != want {
			t.Errorf("ValidScopeToken(%q) = %v; want %v", s, got, want)
		}
	}
}

func eq[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v; want %#v", got, want)
	}
}
