package main

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

func TestClientsCreate(t *testing.T) {
	h := newHarnessWithTables(t)
	ctx := context.Background()
	tests := []struct {
		name string
		args []string
		want clientJSON // ClientID "" means generated; secrets checked apart
		// wantLifetime is the stored access-token lifetime.
		wantLifetime time.Duration
	}{
		{"confidential service, generated id", []string{"--name", "Billing", "--grant-type", "client_credentials", "--scope", " invoices:read  invoices:write "},
			clientJSON{ClientName: "Billing", RedirectURIs: []string{}, GrantTypes: []string{"client_credentials"}, ResponseTypes: []string{},
				Scope: "invoices:read invoices:write", TokenEndpointAuthMethod: "client_secret_basic"}, 0},
		{"web app with its id and lifetime", []string{"--id", "web-app", "--grant-type", "authorization_code", "--grant-type", "refresh_token",
			"--redirect-uri", "https://app.example.com/cb", "--redirect-uri", "http://127.0.0.1:9000/callback",
			"--auth-method", "client_secret_post", "--scope", "openid read", "--access-token-lifetime", "15m"},
			clientJSON{ClientID: "web-app", RedirectURIs: []string{"https://app.example.com/cb", "http://127.0.0.1:9000/callback"},
				GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, Scope: "openid read",
				TokenEndpointAuthMethod: "client_secret_post", AccessTokenLifetime: 900}, 15 * time.Minute},
		{"public spa", []string{"--id", "spa", "--auth-method", "none", "--grant-type", "authorization_code",
			"--redirect-uri", "https://spa.example.com/cb", "--access-token-lifetime", "300"},
			clientJSON{ClientID: "spa", RedirectURIs: []string{"https://spa.example.com/cb"}, GrantTypes: []string{"authorization_code"},
				ResponseTypes: []string{"code"}, TokenEndpointAuthMethod: "none", AccessTokenLifetime: 300}, 5 * time.Minute},
		{"first-party app with links", []string{"--id", "portal", "--grant-type", "authorization_code", "--redirect-uri", "https://portal.example.com/cb",
			"--client-uri", "https://portal.example.com/", "--logo-uri", "https://cdn.example.com/portal.svg", "--first-party"},
			clientJSON{ClientID: "portal", RedirectURIs: []string{"https://portal.example.com/cb"}, GrantTypes: []string{"authorization_code"},
				ResponseTypes: []string{"code"}, TokenEndpointAuthMethod: "client_secret_basic",
				ClientURI: "https://portal.example.com/", LogoURI: "https://cdn.example.com/portal.svg", FirstParty: true}, 0},
		{"resource server", []string{"--id", "api", "--grant-type", "client_credentials", "--introspection-allowed"},
			clientJSON{ClientID: "api", RedirectURIs: []string{}, GrantTypes: []string{"client_credentials"}, ResponseTypes: []string{},
				TokenEndpointAuthMethod: "client_secret_basic", IntrospectionAllowed: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.must(h.clients(append([]string{"create"}, tt.args...)...))
			got := decode[clientJSON](t, r.stdout)
			if tt.want.ClientID == "" {
				if !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(got.ClientID) {
					t.Errorf("generated client_id %q is not 22 URL-safe characters", got.ClientID)
				}
				tt.want.ClientID = got.ClientID
			}
			public := tt.want.TokenEndpointAuthMethod == oauth.AuthMethodNone
			switch {
			case public && (got.ClientSecret != "" || got.ClientSecretExpiresAt != nil):
				t.Errorf("public client got a secret: %+v", got)
			case !public && (len(got.ClientSecret) < 43 || got.ClientSecretExpiresAt == nil || *got.ClientSecretExpiresAt != 0):
				t.Errorf("confidential client: secret %q, expires_at %v", got.ClientSecret, got.ClientSecretExpiresAt)
			case !public && !strings.Contains(r.stderr, "shown only this once"):
				t.Errorf("stderr lacks the warning: %q", r.stderr)
			}
			secret := got.ClientSecret
			got.ClientSecret, got.ClientSecretExpiresAt = "", nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("output\n%+v\nwant\n%+v", got, tt.want)
			}

			stored, err := h.store.GetClient(ctx, got.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			if public {
				if stored.SecretHash != "" {
					t.Errorf("public client stored with a secret hash")
				}
			} else if stored.SecretHash != oauth.HashSecret(secret) || strings.Contains(stored.SecretHash, secret) {
				t.Errorf("stored secret hash %q is not HashSecret(the printed secret)", stored.SecretHash)
			}
			if stored.ClientURI != tt.want.ClientURI || stored.LogoURI != tt.want.LogoURI || stored.FirstParty != tt.want.FirstParty {
				t.Errorf("stored links and first_party: %q, %q, %v", stored.ClientURI, stored.LogoURI, stored.FirstParty)
			}
			if stored.IntrospectionAllowed != tt.want.IntrospectionAllowed {
				t.Errorf("stored introspection_allowed %v", stored.IntrospectionAllowed)
			}
			if stored.AccessTokenLifetime != tt.wantLifetime || stored.Name != tt.want.ClientName ||
				strings.Join(stored.Scopes, " ") != tt.want.Scope || !reflect.DeepEqual(stored.GrantTypes, tt.want.GrantTypes) {
				t.Errorf("stored %+v", stored)
			}
		})
	}
	wantFail(t, h.clients("create", "--id", "spa", "--grant-type", "client_credentials"), 1,
		`gatehouse clients create: client "spa" already exists in table `+h.tables.Clients)
}

// clients create validates like the seed loader (one shared function),
// naming the flags at fault; none of it reaches DynamoDB.
func TestClientsCreateBadFlags(t *testing.T) {
	h := newOfflineHarness(t)
	tests := []struct {
		args  []string
		wants []string
	}{
		{nil, []string{"--grant-type: is required"}},
		{[]string{"--grant-type", "foo"}, []string{`--grant-type: unknown grant type "foo"`}},
		{[]string{"--grant-type", "client_credentials", "--auth-method", "none"},
			[]string{`--grant-type: "client_credentials" needs a confidential client`}},
		{[]string{"--grant-type", "client_credentials", "--auth-method", "client_secret_jwt"}, []string{`--auth-method: unknown method "client_secret_jwt"`}},
		{[]string{"--grant-type", "authorization_code"}, []string{"--redirect-uri: is required for grant types"}},
		{[]string{"--grant-type", "authorization_code", "--redirect-uri", "http://app.example.com/cb", "--redirect-uri", "/cb"},
			[]string{`--redirect-uri: redirect URI "http://app.example.com/cb" must use https`, `--redirect-uri: redirect URI "/cb" is not an absolute URI`}},
		{[]string{"--grant-type", "client_credentials", "--scope", `read "write"`}, []string{`--scope: "\"write\"" is not a valid scope token`}},
		{[]string{"--grant-type", "client_credentials", "--id", "a b"}, []string{`--id: "a b" must be printable ASCII without spaces`}},
		{[]string{"--grant-type", "client_credentials", "--name", "x\ny"}, []string{`--name: "x\ny" must not have control characters`}},
		{[]string{"--grant-type", "client_credentials", "--access-token-lifetime", "soon"}, []string{`--access-token-lifetime: invalid duration "soon"`}},
		{[]string{"--grant-type", "client_credentials", "--access-token-lifetime", "1.5s"}, []string{`--access-token-lifetime: "1.5s" must be a positive whole number of seconds`}},
		{[]string{"--grant-type", "client_credentials", "--access-token-lifetime", "9000h"}, []string{"--access-token-lifetime: 32400000 is out of range"}},
		{[]string{"--grant-type", "refresh_token", "--grant-type", "client_credentials"}, []string{`--grant-type: "refresh_token" needs "authorization_code" or "password"`}},
		{[]string{"--grant-type", "client_credentials", "extra"}, []string{`unexpected argument "extra"`, "Usage: gatehouse clients create"}},
		{[]string{"--grant-type"}, []string{"flag needs an argument: -grant-type"}},
		{[]string{"--grant-type", "client_credentials", "--client-uri", "http://app.example.com/", "--logo-uri", "logo.png"},
			[]string{`--client-uri: "http://app.example.com/" must use https (plain http only on 127.0.0.1, [::1] or localhost)`,
				`--logo-uri: "logo.png" is not an absolute URL`}},
		{[]string{"--grant-type", "client_credentials", "--client-uri", "https://user@app.example.com/"},
			[]string{`--client-uri: "https://user@app.example.com/" must not have user info`}},
		{[]string{"--grant-type", "client_credentials", "--first-party=maybe"}, []string{`invalid boolean value "maybe" for -first-party`}},
		{[]string{"--grant-type", "authorization_code", "--redirect-uri", "https://spa.example.com/cb", "--auth-method", "none", "--introspection-allowed"},
			[]string{`--introspection-allowed: needs a confidential client (RFC 7662 §4)`}},
		{[]string{"--grant-type", "client_credentials", "--clients-table", "x"}, []string{`--clients-table: "x" is not a valid DynamoDB table name`}},
	}
	for _, tt := range tests {
		r := h.run("", append([]string{"clients", "create"}, tt.args...)...)
		wantFail(t, r, 2, tt.wants...)
		if r.stdout != "" || strings.Contains(r.stderr, "client_secret\"") {
			t.Errorf("%q: printed %q", tt.args, r.stdout)
		}
	}
}

func TestClientsListGetDelete(t *testing.T) {
	h := newHarnessWithTables(t)
	if r := h.must(h.clients("list")); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty list: %q", r.stdout)
	}
	var secrets []string
	for _, args := range [][]string{
		{"--id", "svc", "--grant-type", "client_credentials", "--scope", "read"},
		{"--id", "legacy", "--grant-type", "password", "--grant-type", "refresh_token"},
		{"--id", "spa", "--auth-method", "none", "--grant-type", "authorization_code", "--redirect-uri", "https://spa.example/cb",
			"--client-uri", "http://localhost:5173/", "--logo-uri", "https://spa.example/logo.png", "--first-party"},
	} {
		c := decode[clientJSON](t, h.must(h.clients(append([]string{"create"}, args...)...)).stdout)
		if c.ClientSecret != "" {
			secrets = append(secrets, c.ClientSecret, oauth.HashSecret(c.ClientSecret))
		}
	}

	r := h.must(h.clients("list"))
	list := decode[[]clientJSON](t, r.stdout)
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ClientID)
	}
	if strings.Join(ids, ",") != "legacy,spa,svc" {
		t.Errorf("listed %v", ids)
	}
	if strings.Contains(r.stdout, `"client_secret"`) || strings.Contains(r.stdout, "client_secret_expires_at") {
		t.Errorf("list shows secrets:\n%s", r.stdout)
	}
	for _, s := range secrets {
		if strings.Contains(r.stdout, s) {
			t.Errorf("list shows a secret or its hash %q", s)
		}
	}

	got := decode[clientJSON](t, h.must(h.clients("get", "svc")).stdout)
	want := clientJSON{ClientID: "svc", RedirectURIs: []string{}, GrantTypes: []string{"client_credentials"}, ResponseTypes: []string{},
		Scope: "read", TokenEndpointAuthMethod: "client_secret_basic"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("get svc = %+v; want %+v", got, want)
	}
	got = decode[clientJSON](t, h.must(h.clients("get", "spa")).stdout)
	want = clientJSON{ClientID: "spa", RedirectURIs: []string{"https://spa.example/cb"}, GrantTypes: []string{"authorization_code"},
		ResponseTypes: []string{"code"}, TokenEndpointAuthMethod: "none",
		ClientURI: "http://localhost:5173/", LogoURI: "https://spa.example/logo.png", FirstParty: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("get spa = %+v; want %+v", got, want)
	}
	for _, c := range list {
		if c.ClientID == "spa" && (c.ClientURI != want.ClientURI || c.LogoURI != want.LogoURI || !c.FirstParty) {
			t.Errorf("list shows spa as %+v", c)
		}
	}
	if r := h.must(h.clients("get", "svc")); strings.Contains(r.stdout, "first_party") || strings.Contains(r.stdout, "client_uri") {
		t.Errorf("get svc shows unset fields:\n%s", r.stdout)
	}
	wantFail(t, h.clients("get", "nope"), 1, `gatehouse clients get: unknown client "nope"`)
	wantFail(t, h.clients("get"), 2, "missing argument: ID")

	r = h.must(h.clients("delete", "svc"))
	if !strings.Contains(r.stdout, `Deleted client "svc"`) || !strings.Contains(r.stderr, "GATEHOUSE_CLIENT_CACHE_TTL") {
		t.Errorf("delete: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if _, err := h.store.GetClient(context.Background(), "svc"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("deleted client still stored: %v", err)
	}
	wantFail(t, h.clients("get", "svc"), 1, `unknown client "svc"`)
	wantFail(t, h.clients("delete", "svc"), 1, `gatehouse clients delete: unknown client "svc"`)
	if list := decode[[]clientJSON](t, h.must(h.clients("list")).stdout); len(list) != 2 {
		t.Errorf("after delete: %+v", list)
	}
}

// TestClientsRotateSecret: the new secret is stored, the old one kept
// (as its hash) until the grace period ends, 1h by default; a second
// rotation drops the first secret; --grace 0 retires the old one at once.
func TestClientsRotateSecret(t *testing.T) {
	h := newHarnessWithTables(t)
	ctx := context.Background()
	created := decode[clientJSON](t, h.must(h.clients("create", "--id", "svc", "--grant-type", "client_credentials", "--scope", "read")).stdout)
	old := created.ClientSecret

	h.env["GATEHOUSE_CLIENT_CACHE_TTL"] = "10s"
	before := time.Now()
	r := h.must(h.clients("rotate-secret", "svc"))
	after := time.Now()
	rotated := decode[clientJSON](t, r.stdout)
	if rotated.ClientSecret == "" || rotated.ClientSecret == old || rotated.ClientSecretExpiresAt == nil {
		t.Fatalf("rotate-secret printed %+v", rotated)
	}
	if !strings.Contains(r.stderr, "works at once") || !strings.Contains(r.stderr, "old secret keeps working for 1h") {
		t.Errorf("stderr does not tell the overlap: %q", r.stderr)
	}
	stored, err := h.store.GetClient(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	until := stored.PreviousSecretExpiresAt
	if until.Before(before.Add(DefaultRotationGrace).Truncate(time.Second)) || until.After(after.Add(DefaultRotationGrace)) {
		t.Errorf("the old secret is kept until %v, want %v after the rotation", until, DefaultRotationGrace)
	}
	if rotated.PreviousSecretExpiresAt == nil || *rotated.PreviousSecretExpiresAt != until.Unix() {
		t.Errorf("previous_client_secret_expires_at %v, want %d", rotated.PreviousSecretExpiresAt, until.Unix())
	}
	for _, tc := range []struct {
		secret string
		at     time.Time
		want   bool
	}{
		{rotated.ClientSecret, after, true},
		{old, after, true},
		{old, until.Add(-time.Second), true},
		{old, until, false},
		{rotated.ClientSecret, until.Add(time.Hour), true},
		{"Wrong-Secret-42", after, false},
	} {
		if got := stored.SecretMatches(tc.secret, tc.at); got != tc.want {
			t.Errorf("secret %.8s... at %v: matches %v, want %v", tc.secret, tc.at, got, tc.want)
		}
	}
	// Everything else is unchanged, and get shows the old secret's expiry.
	if got := decode[clientJSON](t, h.must(h.clients("get", "svc")).stdout); !reflect.DeepEqual(got.PreviousSecretExpiresAt, rotated.PreviousSecretExpiresAt) {
		t.Errorf("get: previous_client_secret_expires_at %v, want %v", got.PreviousSecretExpiresAt, *rotated.PreviousSecretExpiresAt)
	}
	first := rotated.ClientSecret
	rotated.ClientSecret, rotated.ClientSecretExpiresAt, rotated.PreviousSecretExpiresAt = "", nil, nil
	created.ClientSecret, created.ClientSecretExpiresAt = "", nil
	if !reflect.DeepEqual(rotated, created) {
		t.Errorf("rotate-secret changed the client: %+v, was %+v", rotated, created)
	}

	// A second rotation, with its own grace: the first secret goes at once.
	second := decode[clientJSON](t, h.must(h.clients("rotate-secret", "svc", "--grace", "10m")).stdout)
	stored, err = h.store.GetClient(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for what, ok := range map[string]bool{
		"the first secret is dropped":      !stored.SecretMatches(old, now),
		"the third secret works":           stored.SecretMatches(second.ClientSecret, now),
		"the second secret works":          stored.SecretMatches(first, now),
		"the second secret ends after 10m": !stored.SecretMatches(first, now.Add(10*time.Minute+time.Second)),
	} {
		if !ok {
			t.Errorf("after a second rotation with --grace 10m: not so that %s", what)
		}
	}

	// --grace 0: the old secret is retired at once, but warm caches may
	// hold it for their TTL.
	r = h.must(h.clients("rotate-secret", "svc", "--grace", "0"))
	third := decode[clientJSON](t, r.stdout)
	if third.PreviousSecretExpiresAt != nil {
		t.Errorf("--grace 0 printed previous_client_secret_expires_at %d", *third.PreviousSecretExpiresAt)
	}
	if !strings.Contains(r.stderr, "GATEHOUSE_CLIENT_CACHE_TTL=10s") || !strings.Contains(r.stderr, "old secret") {
		t.Errorf("stderr lacks the cache hint: %q", r.stderr)
	}
	stored, err = h.store.GetClient(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	if stored.SecretMatches(second.ClientSecret, time.Now()) || !stored.SecretMatches(third.ClientSecret, time.Now()) || stored.PreviousSecretHash != "" {
		t.Errorf("after --grace 0: stored %+v", stored)
	}

	// Bad --grace values change nothing.
	for _, g := range []string{"-1s", "721h", "1.5s", "soon", ""} {
		wantFail(t, h.clients("rotate-secret", "svc", "--grace", g), 2, "--grace: ")
	}
	if again, err := h.store.GetClient(ctx, "svc"); err != nil || !reflect.DeepEqual(again, stored) {
		t.Errorf("a refused rotate-secret changed the client: %+v, %v", again, err)
	}

	wantFail(t, h.clients("rotate-secret", "nope"), 1, `gatehouse clients rotate-secret: unknown client "nope"`)
	h.must(h.clients("create", "--id", "spa", "--auth-method", "none", "--grant-type", "authorization_code", "--redirect-uri", "https://spa.example/cb"))
	wantFail(t, h.clients("rotate-secret", "spa"), 1, `client "spa" is public`)
}

// TestRotationGraceOutlastsTheCache: the default grace period is at least
// the longest client cache, so a container holding the record from before
// a rotation never extends the old secret's life.
func TestRotationGraceOutlastsTheCache(t *testing.T) {
	if DefaultRotationGrace < config.MaxClientCacheTTL {
		t.Errorf("DefaultRotationGrace %s < config.MaxClientCacheTTL %s", DefaultRotationGrace, config.MaxClientCacheTTL)
	}
}

func TestClientsUsage(t *testing.T) {
	h := newOfflineHarness(t)
	wantFail(t, h.run("", "clients"), 2, "Usage: gatehouse clients <command>")
	wantFail(t, h.run("", "clients", "rename"), 2, `unknown subcommand "rename"`)
	if r := h.run("", "clients", "help"); r.code != 0 || !strings.Contains(r.stdout, "rotate-secret ID") {
		t.Errorf("clients help: %+v", r)
	}
	if r := h.run("", "clients", "create", "-h"); r.code != 0 || !strings.Contains(r.stderr, "-redirect-uri URI") {
		t.Errorf("clients create -h: %+v", r)
	}
}
