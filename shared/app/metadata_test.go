package app_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Validate is what the seed loader and `gatehouse clients create` share;
// its errors name the RFC 7591 field alone, for each caller to place.
func TestSeedClientValidate(t *testing.T) {
	tests := []struct {
		name   string
		client app.SeedClient
		want   []app.FieldError
	}{
		{"good confidential", app.SeedClient{ClientID: "svc", ClientSecret: "s", GrantTypes: []string{"client_credentials"}, Scope: " read  write "}, nil},
		{"good public", app.SeedClient{ClientID: "spa", RedirectURIs: []string{"https://spa.example/cb"}, GrantTypes: []string{"authorization_code"},
			TokenEndpointAuthMethod: oauth.AuthMethodNone}, nil},
		{"several problems", app.SeedClient{ClientID: "a b", ClientSecret: "s", RedirectURIs: []string{"https://ok.example/cb", "http://app.example/cb"},
			GrantTypes: []string{"authorization_code", "foo"}, Scope: `read "x"`, AccessTokenLifetime: -1}, []app.FieldError{
			{"client_id", `"a b" must be printable ASCII without spaces`},
			{"grant_types", `unknown grant type "foo" (known: authorization_code, implicit, password, client_credentials, refresh_token)`},
			{"redirect_uris[1]", `redirect URI "http://app.example/cb" must use https (plain http only on loopback)`},
			{"scope", `"\"x\"" is not a valid scope token (RFC 6749 §3.3)`},
			{"access_token_lifetime", "-1 is out of range: want seconds between 1 and 31536000, or 0 for the server default"},
		}},
		{"links and first party", app.SeedClient{ClientID: "web", ClientSecret: "s", GrantTypes: []string{"client_credentials"},
			ClientURI: "https://web.example/", LogoURI: "http://[::1]:8080/logo.svg", FirstParty: true}, nil},
		{"lifetime at the maximum", app.SeedClient{ClientID: "svc", ClientSecret: "s", GrantTypes: []string{"client_credentials"},
			AccessTokenLifetime: 86400, MaxAccessTokenLifetime: 24 * time.Hour}, nil},
		{"lifetime over the maximum", app.SeedClient{ClientID: "svc", ClientSecret: "s", GrantTypes: []string{"client_credentials"},
			AccessTokenLifetime: 30 * 86400, MaxAccessTokenLifetime: 24 * time.Hour}, []app.FieldError{
			{"access_token_lifetime", "2592000 is out of range: want seconds between 1 and 86400 (GATEHOUSE_MAX_ACCESS_TOKEN_TTL is 24h0m0s), or 0 for the server default"},
		}},
		{"bad links", app.SeedClient{ClientID: "web", ClientSecret: "s", GrantTypes: []string{"client_credentials"},
			ClientURI: "ftp://web.example/", LogoURI: "http://web.example/logo.png"}, []app.FieldError{
			{"client_uri", `"ftp://web.example/" must use https (plain http only on 127.0.0.1, [::1] or localhost)`},
			{"logo_uri", `"http://web.example/logo.png" must use https (plain http only on 127.0.0.1, [::1] or localhost)`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			got := c.Validate()
			if len(got) != len(tt.want) {
				t.Fatalf("Validate() = %q; want %q", got, tt.want)
			}
			for i := range got {
				if got[i].Field != tt.want[i].Field || (tt.want[i].Message != "" && got[i].Message != tt.want[i].Message) {
					t.Errorf("error %d = %q; want %q", i, got[i], tt.want[i])
				}
			}
		})
	}

	c := app.SeedClient{ClientID: "web", ClientSecret: "s", RedirectURIs: []string{"https://web.example/cb"},
		GrantTypes: []string{"authorization_code", "implicit"}, Scope: "a  b"}
	if errs := c.Validate(); errs != nil {
		t.Fatal(errs)
	}
	eq(t, c.TokenEndpointAuthMethod, oauth.AuthMethodBasic)
	eq(t, c.ResponseTypes, []string{"code", "token"})
	eq(t, c.Scope, "a b")
	eq(t, app.FieldError{Field: "scope", Message: "bad"}.Error(), "scope: bad")
}

func TestSeedUserValidate(t *testing.T) {
	u := app.SeedUser{Username: "alice", Password: "pw"}
	// No default subject from the username: the server assigns one.
	if errs := u.Validate(); errs != nil || u.Subject != "" {
		t.Errorf("Validate() = %v, subject %q", errs, u.Subject)
	}
	u = app.SeedUser{Username: "alice", Password: "pw", Sub: "s-1"}
	if errs := u.Validate(); errs != nil || u.Subject != "s-1" {
		t.Errorf("Validate() with sub = %v, subject %q", errs, u.Subject)
	}
	u = app.SeedUser{Username: "alice", Password: "pw", Sub: "s-1", Subject: "s-2"}
	eq(t, len(u.Validate()), 1)
	u = app.SeedUser{Username: " bob", Subject: "a\nb"}
	eq(t, len(u.Validate()), 3)
}
