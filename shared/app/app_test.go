package app_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/app/stores"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/httpapi/pages"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// allParts are what `gatehouse serve` links: a store, passwords and pages.
func allParts() app.Parts {
	return app.Parts{
		Stores:    stores.Open,
		Passwords: passwords.Scheme{Hasher: passwords.Hasher{Memory: 64, Iterations: 1, Parallelism: 1}},
		Pages:     pages.New(),
	}
}

func buildEnv(t *testing.T, env map[string]string) (*app.App, error) {
	t.Helper()
	if _, ok := env[config.EnvIssuer]; !ok {
		env[config.EnvIssuer] = "https://auth.example.com"
	}
	if _, ok := env[config.EnvSigningAlg]; !ok {
		env[config.EnvSigningAlg] = "ES256" // fast key generation
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	return app.Build(context.Background(), cfg, discard, allParts())
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBuild(t *testing.T) {
	a, err := buildEnv(t, map[string]string{
		config.EnvSeedFile: writeFile(t, "seed.json", goodSeed),
		config.EnvAudience: "https://api.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Server == nil || a.Handlers == nil || a.Store == nil || a.Admin == nil || a.Backing == nil || a.Signer == nil || a.Seed == nil {
		t.Fatalf("incomplete app: %+v", a)
	}
	if _, ok := a.Backing.(*memstore.Store); !ok {
		t.Errorf("memory app has a %T store", a.Backing)
	}
	cfg := a.Server.Config()
	eq(t, cfg.Issuer, "https://auth.example.com")
	eq(t, cfg.Audience, []string{"https://api.example.com"})
	eq(t, a.ScopesSupported(), []string{"read", "write", "openid"}) // union of the seeded scopes
	eq(t, a.Signer.Algorithm(), "ES256")

	ctx := context.Background()
	clients, err := a.Admin.ListClients(ctx)
	if err != nil || len(clients) != len(a.Seed.Clients) {
		t.Errorf("store has %d clients (%v); seed has %d", len(clients), err, len(a.Seed.Clients))
	}
	if u, err := a.Store.GetUser(ctx, "alice"); err != nil || u.Subject == "" || u.Subject == "alice" {
		t.Errorf("GetUser(alice) = %+v, %v", u, err)
	}

	for _, name := range app.Functions {
		if h, err := app.FunctionHandler(a, name); err != nil || h == nil {
			t.Errorf("FunctionHandler(%q) = %v, %v", name, h, err)
		}
	}
	if _, err := app.FunctionHandler(a, "userinfos"); err == nil || !strings.Contains(err.Error(), `unknown function "userinfos"`) {
		t.Errorf("FunctionHandler(userinfos) error = %v", err)
	}
}

// The session and login-throttling settings reach the grant library;
// unset, they are its defaults.
func TestBuildSessionAndLoginSettings(t *testing.T) {
	a, err := buildEnv(t, map[string]string{
		config.EnvSessionTTL:            "8h",
		config.EnvSessionIdleTTL:        "20m",
		config.EnvLoginMaxFailures:      "3",
		config.EnvLoginMaxFailuresPerIP: "30",
		config.EnvLoginFailureWindow:    "5m",
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := a.Server.Config()
	eq(t, cfg.SessionLifetime, 8*time.Hour)
	eq(t, cfg.SessionIdleTimeout, 20*time.Minute)
	eq(t, cfg.LoginMaxFailures, 3)
	eq(t, cfg.LoginMaxFailuresPerIP, 30)
	eq(t, cfg.LoginFailureWindow, 5*time.Minute)

	a, err = buildEnv(t, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	cfg = a.Server.Config()
	eq(t, cfg.SessionLifetime, oauth.DefaultSessionLifetime)
	eq(t, cfg.SessionIdleTimeout, oauth.DefaultSessionIdleTimeout)
	eq(t, cfg.LoginMaxFailures, oauth.DefaultLoginMaxFailures)
	eq(t, cfg.LoginMaxFailuresPerIP, oauth.DefaultLoginMaxFailuresIP)
	eq(t, cfg.LoginFailureWindow, oauth.DefaultLoginFailureWindow)

	// An idle timeout beyond the session lifetime is capped, not refused:
	// lowering GATEHOUSE_SESSION_TTL alone keeps a deployment starting.
	a, err = buildEnv(t, map[string]string{config.EnvSessionTTL: "30m", config.EnvSessionIdleTTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, a.Server.Config().SessionIdleTimeout, 30*time.Minute)
}

func TestBuildScopesFromConfig(t *testing.T) {
	a, err := buildEnv(t, map[string]string{
		config.EnvSeedFile: writeFile(t, "seed.json", goodSeed),
		config.EnvScopes:   "openid profile",
	})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, a.ScopesSupported(), []string{"openid", "profile"})
}

func TestBuildWithoutSeed(t *testing.T) {
	a, err := buildEnv(t, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Seed != nil || a.ScopesSupported() != nil {
		t.Errorf("seed %+v, scopes %v", a.Seed, a.ScopesSupported())
	}
	eq(t, a.Server.Config().Audience, []string{"https://auth.example.com"})
}

func TestBuildSigningKeyFileSurvivesRestart(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "keys", "signing-key.pem")
	env := map[string]string{config.EnvSigningKeyFile: keyFile}
	first, err := buildEnv(t, env)
	if err != nil {
		t.Fatal(err)
	}
	second, err := buildEnv(t, env)
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := first.Signer.PublicKeys(context.Background())
	k2, _ := second.Signer.PublicKeys(context.Background())
	if len(k1) != 1 || len(k2) != 1 || k1[0].KeyID != k2[0].KeyID {
		t.Errorf("key changed across builds: %v vs %v", k1, k2)
	}
}

func TestBuildErrors(t *testing.T) {
	rsaKey := filepath.Join(t.TempDir(), "rsa.pem")
	if _, err := localsigner.LoadOrCreate(rsaKey, "RS256"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"bad seed", map[string]string{
			config.EnvSeedFile: writeFile(t, "seed.json", `{"clients": [{"client_id": "a", "grant_types": ["foo"]}]}`),
		}, []string{"GATEHOUSE_SEED_FILE=", `seed: clients[0].grant_types: unknown grant type "foo"`}},
		{"missing seed", map[string]string{
			config.EnvSeedFile: filepath.Join(t.TempDir(), "missing.json"),
		}, []string{"GATEHOUSE_SEED_FILE=", "no such file"}},
		{"key of another algorithm", map[string]string{
			config.EnvSigningKeyFile: rsaKey,
			config.EnvSigningAlg:     "ES256",
		}, []string{"GATEHOUSE_SIGNING_KEY_FILE=" + rsaKey, "RS256"}},
		{"unreadable key", map[string]string{
			config.EnvSigningKeyFile: writeFile(t, "key.pem", "not a key"),
		}, []string{"GATEHOUSE_SIGNING_KEY_FILE=", "no PEM private key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := buildEnv(t, tt.env)
			if err == nil {
				t.Fatalf("Build succeeded: %+v", a)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestBuildRejectsBadConfigLiterals(t *testing.T) {
	// The KMS client needs a region before the key id is checked; without
	// one the test would depend on the caller's environment.
	t.Setenv("AWS_REGION", "us-east-1")
	ctx := context.Background()
	for name, tc := range map[string]struct {
		cfg  config.Config
		want string
	}{
		"issuer": {config.Config{Issuer: "http://auth.example.com"}, "GATEHOUSE_ISSUER: "},
		"store":  {config.Config{Issuer: "https://a.example", Store: "postgres"}, `GATEHOUSE_STORE: unsupported store "postgres"`},
		"seed with dynamodb": {config.Config{Issuer: "https://a.example", Store: "dynamodb", SeedFile: "dev/seed.json"},
			"GATEHOUSE_SEED_FILE: a seed file is only for the memory store"},
		"cache ttl": {config.Config{Issuer: "https://a.example", ClientCacheTTL: -time.Second}, "GATEHOUSE_CLIENT_CACHE_TTL: "},
		"signer":    {config.Config{Issuer: "https://a.example", Signer: "hsm"}, `GATEHOUSE_SIGNER: unsupported signer "hsm"`},
		"kms key":   {config.Config{Issuer: "https://a.example", Signer: "kms", KMSKeyID: "not a key"}, "GATEHOUSE_KMS_KEY_ID=not a key: "},
		"sig alg":   {config.Config{Issuer: "https://a.example", SigningAlg: "HS256"}, "GATEHOUSE_SIGNING_ALG: "},
	} {
		if _, err := app.Build(ctx, tc.cfg, discard, allParts()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v; want %q", name, err, tc.want)
		}
	}
}

func TestBuildClientCache(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		ttl    string
		cached bool
	}{{"", true}, {"5s", true}, {"0", false}} {
		a, err := buildEnv(t, map[string]string{config.EnvClientCacheTTL: tt.ttl})
		if err != nil {
			t.Fatal(err)
		}
		if cached := a.Store != oauth.Store(a.Backing); cached != tt.cached {
			t.Errorf("%s=%q: cached %v; want %v", config.EnvClientCacheTTL, tt.ttl, cached, tt.cached)
		}
		c := &oauth.Client{ID: "svc-" + tt.ttl, SecretHash: oauth.HashSecret("one"), TokenEndpointAuthMethod: oauth.AuthMethodBasic}
		if err := a.Admin.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Store.GetClient(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		c.SecretHash = oauth.HashSecret("two")
		if err := a.Admin.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := a.Store.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stale := got.SecretHash == oauth.HashSecret("one"); stale != tt.cached {
			t.Errorf("%s=%q: served the replaced client: %v; want %v", config.EnvClientCacheTTL, tt.ttl, stale, tt.cached)
		}
	}
}
