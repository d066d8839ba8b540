package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The configuration's defaults are the grant library's: config cannot
// import oauth, so it repeats them.
func TestConfigDefaultsMatchTheGrantLibrary(t *testing.T) {
	eq(t, config.DefaultAccessTokenTTL, oauth.DefaultAccessTokenLifetime)
	eq(t, config.DefaultMaxAccessTokenTTL, oauth.DefaultMaxAccessTokenLifetime)
	eq(t, config.AccessTokenTTLCeiling, time.Duration(app.MaxSeedAccessTokenLifetime)*time.Second)
}

// metadataOf fetches the RFC 8414 document a handler serves.
func metadataOf(t *testing.T, h http.Handler) oauth.Metadata {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, oauth.PathMetadata, nil))
	var md oauth.Metadata
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", oauth.PathMetadata, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &md); err != nil {
		t.Fatal(err)
	}
	return md
}

func advertisesImplicit(md oauth.Metadata) bool {
	return slices.Contains(md.GrantTypesSupported, oauth.GrantImplicit) ||
		slices.Contains(md.ResponseTypesSupported, oauth.ResponseTypeToken) ||
		slices.Contains(md.ResponseModesSupported, "fragment")
}

// TestImplicitGrantIsAConfiguredCapability: on AWS the authorize function
// cannot sign (only the token function has kms:Sign), so the Lambda
// functions' default is no implicit grant, and then neither the metadata
// function nor the authorize function offers it: the metadata does not
// advertise it and response_type=token is unsupported_response_type (RFC
// 6749 §4.2.2.1), not the server_error a signing failure gave before. The
// local binary, whose key is in the process, keeps it unless told
// otherwise.
func TestImplicitGrantIsAConfiguredCapability(t *testing.T) {
	seed := writeFile(t, "seed.json", goodSeed) // "spa" is registered for the implicit grant
	tests := []struct {
		name   string
		lambda bool
		env    map[string]string
		want   bool
	}{
		{"gatehouse serve default", false, nil, true},
		{"gatehouse serve, turned off", false, map[string]string{config.EnvImplicitGrant: "false"}, false},
		{"Lambda default", true, nil, false},
		{"Lambda, turned on by the operator", true, map[string]string{config.EnvImplicitGrant: "true"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{
				config.EnvIssuer:     "https://auth.example.com",
				config.EnvSigningAlg: "ES256",
				config.EnvSigner:     config.SignerLocal,
				config.EnvStore:      config.StoreMemory,
				config.EnvSeedFile:   seed,
			}
			for k, v := range tt.env {
				env[k] = v
			}
			read := config.FromEnv
			if tt.lambda {
				read = app.LambdaConfig
			}
			cfg, err := read(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			eq(t, cfg.ImplicitGrant, tt.want)
			a, err := app.Build(context.Background(), cfg, discard, allParts())
			if err != nil {
				t.Fatal(err)
			}
			// The metadata function (no store) and the full server agree.
			bare, err := app.Build(context.Background(), cfg, discard, app.Parts{})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range []http.Handler{a.Metadata(), bare.Metadata()} {
				if got := advertisesImplicit(metadataOf(t, h)); got != tt.want {
					t.Errorf("metadata advertises the implicit grant: %v, want %v", got, tt.want)
				}
			}

			authorize, err := app.FunctionHandler(a, app.FunctionAuthorize)
			if err != nil {
				t.Fatal(err)
			}
			q := url.Values{"client_id": {"spa"}, "redirect_uri": {"https://spa.example.com/cb"},
				"response_type": {"token"}, "state": {"s1"}}
			rec := httptest.NewRecorder()
			authorize.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, oauth.PathAuthorize+"?"+q.Encode(), nil))
			if tt.want {
				// No session: the sign-in page, as for any request.
				if rec.Code != http.StatusOK {
					t.Errorf("implicit on: %d, want the sign-in page", rec.Code)
				}
				return
			}
			loc, err := url.Parse(rec.Header().Get("Location"))
			if rec.Code/100 != 3 || err != nil || !strings.HasPrefix(loc.String(), "https://spa.example.com/cb#") {
				t.Fatalf("implicit off: %d Location %q, want a redirect to the client", rec.Code, rec.Header().Get("Location"))
			}
			frag, _ := url.ParseQuery(loc.Fragment)
			if frag.Get("error") != oauth.CodeUnsupportedResponseType || frag.Get("state") != "s1" {
				t.Errorf("implicit off: redirect %s, want error=%s with the state", loc, oauth.CodeUnsupportedResponseType)
			}
		})
	}
}

// TestAccessTokenLifetimeCap: GATEHOUSE_MAX_ACCESS_TOKEN_TTL reaches the
// grant library, and the seed file, a registration path, refuses a client
// whose access_token_lifetime exceeds it, naming the client, the field and
// the variable.
func TestAccessTokenLifetimeCap(t *testing.T) {
	seed := writeFile(t, "seed.json", `{"clients": [
		{"client_id": "svc", "client_secret": "dev-secret-svc-0123456789", "grant_types": ["client_credentials"], "access_token_lifetime": 90000}]}`)

	_, err := buildEnv(t, map[string]string{config.EnvSeedFile: seed})
	want := `seed: clients[0].access_token_lifetime: 90000 is out of range: want seconds between 1 and 86400 (` +
		config.EnvMaxAccessTokenTTL + ` is 24h0m0s), or 0 for the server default (client "svc")`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), config.EnvSeedFile+"=") {
		t.Fatalf("a 25 h client under the default 24 h cap: error %v\nwant one containing %s", err, want)
	}

	a, err := buildEnv(t, map[string]string{config.EnvSeedFile: seed, config.EnvMaxAccessTokenTTL: "48h"})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, a.Server.Config().MaxAccessTokenLifetime, 48*time.Hour)
	svc, err := a.Store.GetClient(context.Background(), "svc")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Server.Token(context.Background(), svc, &oauth.TokenRequest{GrantType: oauth.GrantClientCredentials})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, resp.ExpiresIn, int64(90000))

	a, err = buildEnv(t, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, a.Server.Config().MaxAccessTokenLifetime, oauth.DefaultMaxAccessTokenLifetime)
}
