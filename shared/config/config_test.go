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
		Issuer:     issuer,
		Audience:   []string{issuer},
		Store:      config.StoreMemory,
		Signer:     config.SignerLocal,
		SigningAlg: config.AlgRS256,
		LogLevel:   slog.LevelInfo,
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
		{"code TTL at the maximum", map[string]string{config.EnvCodeTTL: "600"}, func(t *testing.T, c config.Config) {
			eq(t, c.CodeTTL, config.MaxCodeTTL)
		}},
		{"explicit backends", map[string]string{config.EnvStore: "memory", config.EnvSigner: "local"}, func(t *testing.T, c config.Config) {
			eq(t, c.Store, config.StoreMemory)
			eq(t, c.Signer, config.SignerLocal)
		}},
		{"ES256", map[string]string{config.EnvSigningAlg: "ES256"}, func(t *testing.T, c config.Config) {
			eq(t, c.SigningAlg, config.AlgES256)
		}},
		{"files", map[string]string{config.EnvSigningKeyFile: "/keys/k.pem", config.EnvSeedFile: "dev/seed.json"}, func(t *testing.T, c config.Config) {
			eq(t, c.SigningKeyFile, "/keys/k.pem")
			eq(t, c.SeedFile, "dev/seed.json")
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
		{"bad duration", map[string]string{config.EnvAccessTokenTTL: "an hour"}, `GATEHOUSE_ACCESS_TOKEN_TTL: invalid duration "an hour"`},
		{"unitless fraction", map[string]string{config.EnvRefreshTokenTTL: "1.5"}, `GATEHOUSE_REFRESH_TOKEN_TTL: invalid duration "1.5"`},
		{"zero duration", map[string]string{config.EnvSessionTTL: "0"}, `GATEHOUSE_SESSION_TTL: "0" must be positive`},
		{"negative duration", map[string]string{config.EnvAccessTokenTTL: "-5m"}, `GATEHOUSE_ACCESS_TOKEN_TTL: "-5m" must be positive`},
		{"huge seconds", map[string]string{config.EnvAccessTokenTTL: "99999999999999999"}, `GATEHOUSE_ACCESS_TOKEN_TTL: "99999999999999999" seconds is out of range`},
		{"code TTL too long", map[string]string{config.EnvCodeTTL: "11m"}, `GATEHOUSE_CODE_TTL: "11m" exceeds the maximum of 10m0s`},
		{"unknown store", map[string]string{config.EnvStore: "postgres"}, `GATEHOUSE_STORE: unsupported value "postgres" (supported: memory)`},
		{"dynamodb not yet", map[string]string{config.EnvStore: "dynamodb"}, `GATEHOUSE_STORE: unsupported value "dynamodb"`},
		{"unknown signer", map[string]string{config.EnvSigner: "kms"}, `GATEHOUSE_SIGNER: unsupported value "kms" (supported: local)`},
		{"unknown alg", map[string]string{config.EnvSigningAlg: "HS256"}, `GATEHOUSE_SIGNING_ALG: unsupported value "HS256" (supported: RS256, ES256)`},
		{"lower-case alg", map[string]string{config.EnvSigningAlg: "rs256"}, `GATEHOUSE_SIGNING_ALG: unsupported value "rs256"`},
		{"bad log level", map[string]string{config.EnvLogLevel: "verbose"}, `GATEHOUSE_LOG_LEVEL: unknown log level "verbose"`},
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
