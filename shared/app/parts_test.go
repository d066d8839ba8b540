package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/app/stores"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// TestMetadataWithoutStore: the metadata function's app (no Parts) builds
// under the Lambda defaults (GATEHOUSE_STORE=dynamodb) without opening a
// store, serves the metadata and the JWK Set, and refuses to serve any
// other function.
func TestMetadataWithoutStore(t *testing.T) {
	cfg, err := app.LambdaConfig(func(k string) string {
		return map[string]string{
			config.EnvIssuer:     "https://auth.example.com",
			config.EnvSigner:     config.SignerLocal,
			config.EnvSigningAlg: "ES256",
			config.EnvScopes:     "read write",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store != config.StoreDynamoDB {
		t.Fatalf("the Lambda default store is %q", cfg.Store)
	}
	a, err := app.Build(context.Background(), cfg, discard, app.Parts{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Store != nil || a.Server != nil || a.Handlers != nil {
		t.Errorf("an app without Parts.Stores has a store or server: %+v", a)
	}
	h, err := app.FunctionHandler(a, app.FunctionMetadata)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{oauth.PathMetadata, oauth.PathJWKS} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"`) {
			t.Errorf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	eq(t, a.ScopesSupported(), []string{"openid", "read", "write"}) // OpenID Connect Discovery 1.0 §3: openid always
	for _, name := range []string{app.FunctionAuthorize, app.FunctionToken, app.FunctionIntrospect, app.FunctionRevoke, app.FunctionUserInfo} {
		if _, err := app.FunctionHandler(a, name); err == nil || !strings.Contains(err.Error(), "Parts.Stores") {
			t.Errorf("FunctionHandler(%s) without a store: %v", name, err)
		}
	}
}

// TestFunctionHandlerNeedsParts: each function refuses to start without a
// part its endpoint uses, naming it, and starts with exactly its own.
func TestFunctionHandlerNeedsParts(t *testing.T) {
	full := allParts()
	for _, tc := range []struct {
		name  string
		parts app.Parts
		want  string // "" means it starts
	}{
		{app.FunctionAuthorize, app.Parts{Stores: stores.Open, Passwords: full.Passwords}, "Parts.Pages"},
		{app.FunctionAuthorize, app.Parts{Stores: stores.Open, Pages: full.Pages}, "Parts.Passwords"},
		{app.FunctionAuthorize, full, ""},
		{app.FunctionToken, app.Parts{Stores: stores.Open}, "Parts.Passwords"},
		{app.FunctionToken, app.Parts{Stores: stores.Open, Passwords: full.Passwords}, ""},
		{app.FunctionIntrospect, app.Parts{Stores: stores.Open}, ""},
		{app.FunctionRevoke, app.Parts{Stores: stores.Open}, ""},
		{app.FunctionUserInfo, app.Parts{Stores: stores.Open}, ""},
		{app.FunctionUserInfo, app.Parts{}, "Parts.Stores"},
		{app.FunctionMetadata, app.Parts{}, ""},
	} {
		cfg := config.Config{Issuer: "https://auth.example.com", SigningAlg: "ES256"}
		a, err := app.Build(context.Background(), cfg, discard, tc.parts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = app.FunctionHandler(a, tc.name)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s without %s: %v", tc.name, tc.want, err)
		}
	}
	a, err := app.Build(context.Background(), config.Config{Issuer: "https://auth.example.com", SigningAlg: "ES256"}, discard, full)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.FunctionHandler(a, "userinfos"); err == nil || !strings.Contains(err.Error(), "unknown function") {
		t.Errorf("unknown function: %v", err)
	}
}

// TestSeedWithoutPasswords: a program that checks no password (the
// introspection and revocation functions, on the memory store) loads the
// seed's clients but not its users, and hashes nothing.
func TestSeedWithoutPasswords(t *testing.T) {
	cfg := config.Config{Issuer: "https://auth.example.com", SigningAlg: "ES256", SeedFile: writeFile(t, "seed.json", goodSeed)}
	a, err := app.Build(context.Background(), cfg, discard, app.Parts{Stores: stores.Open})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clients, err := a.Admin.ListClients(ctx)
	if err != nil || len(clients) != len(a.Seed.Clients) || len(clients) == 0 {
		t.Errorf("clients %d (%v); the seed has %d", len(clients), err, len(a.Seed.Clients))
	}
	if len(a.Seed.Users) == 0 {
		t.Fatal("goodSeed has no users")
	}
	if _, err := a.Admin.GetUser(ctx, a.Seed.Users[0].Username); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("user %q loaded without a password hasher: %v", a.Seed.Users[0].Username, err)
	}
}
