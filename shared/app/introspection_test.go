package app_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// TestSeedIntrospectionAllowed: the seed's introspection_allowed reaches
// the stored client, a public client may not have it (it cannot
// introspect at all, RFC 7662 §4), and dev/seed.json gives it to the
// demo's resource server, demo-service, alone.
func TestSeedIntrospectionAllowed(t *testing.T) {
	seed, err := app.ParseSeed(strings.NewReader(`{"clients": [
		{"client_id": "rs", "client_secret": "dev-secret-rs-0123456789", "grant_types": ["client_credentials"], "introspection_allowed": true},
		{"client_id": "svc", "client_secret": "dev-secret-svc-0123456789", "grant_types": ["client_credentials"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	if err := seed.Apply(context.Background(), store, fastHasher); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"rs": true, "svc": false} {
		c, err := store.GetClient(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if c.IntrospectionAllowed != want {
			t.Errorf("client %s: IntrospectionAllowed %v, want %v", id, c.IntrospectionAllowed, want)
		}
	}

	for name, tc := range map[string]struct{ client, want string }{
		"public client": {`{"client_id": "spa", "redirect_uris": ["https://spa.example/cb"], "grant_types": ["authorization_code"],
			"token_endpoint_auth_method": "none", "introspection_allowed": true}`,
			"seed: clients[0].introspection_allowed: needs a confidential client (RFC 7662 §4); this client has no credentials"},
		"not a boolean": {`{"client_id": "rs", "client_secret": "x", "grant_types": ["client_credentials"], "introspection_allowed": "yes"}`,
			"seed: clients[0].introspection_allowed: JSON string where a boolean was expected"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := app.ParseSeed(strings.NewReader(`{"clients": [` + tc.client + `]}`))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}

	dev, err := app.LoadSeed(filepath.Join("..", "..", "dev", "seed.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range dev.Clients {
		if want := c.ClientID == "demo-service"; c.IntrospectionAllowed != want {
			t.Errorf("dev seed: client %s has introspection_allowed %v, want %v", c.ClientID, c.IntrospectionAllowed, want)
		}
	}
}
