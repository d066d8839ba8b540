package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// fastHasher keeps the tests quick; production seeds use passwords.Default.
var fastHasher = passwords.Hasher{Memory: 64, Iterations: 1, Parallelism: 1}

const goodSeed = `{
  "clients": [
    {"client_id": "svc", "client_secret": "dev-secret-svc-0123456789", "grant_types": ["client_credentials"], "scope": "read  write"},
    {"client_id": "web", "client_secret": "dev-secret-web-0123456789", "client_name": "Web",
     "redirect_uris": ["https://app.example.com/cb", "http://127.0.0.1:9000/callback"],
     "grant_types": ["authorization_code", "refresh_token"], "scope": "openid read",
     "token_endpoint_auth_method": "client_secret_post", "access_token_lifetime": 300,
     "client_uri": "https://app.example.com/", "logo_uri": "https://cdn.example.com/logo.png?v=2"},
    {"client_id": "spa", "redirect_uris": ["https://spa.example.com/cb"],
     "grant_types": ["authorization_code", "implicit"], "scope": "read",
     "client_uri": "http://localhost:5173/#about", "first_party": true},
    {"client_id": "native", "redirect_uris": ["com.example.app:/oauth2redirect"],
     "grant_types": ["authorization_code"], "response_types": ["code"], "token_endpoint_auth_method": "none"}
  ],
  "users": [
    {"username": "alice", "password": "wonderland-rabbit-42"},
    {"username": "bob@example.com", "password": "builder", "subject": "user-0002"}
  ]
}`

func TestParseSeedGood(t *testing.T) {
	seed, err := app.ParseSeed(strings.NewReader(goodSeed))
	if err != nil {
		t.Fatal(err)
	}
	if len(seed.Clients) != 4 || len(seed.Users) != 2 {
		t.Fatalf("got %d clients, %d users", len(seed.Clients), len(seed.Users))
	}

	svc := seed.Clients[0]
	eq(t, svc.TokenEndpointAuthMethod, oauth.AuthMethodBasic) // default with a secret
	eq(t, svc.ResponseTypes, []string(nil))                   // no redirect-based grant
	eq(t, svc.Scope, "read write")                            // normalized

	web := seed.Clients[1].OAuthClient()
	eq(t, web, &oauth.Client{
		ID:                      "web",
		SecretHash:              oauth.HashSecret("dev-secret-web-0123456789"),
		Name:                    "Web",
		RedirectURIs:            []string{"https://app.example.com/cb", "http://127.0.0.1:9000/callback"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "read"},
		TokenEndpointAuthMethod: oauth.AuthMethodPost,
		AccessTokenLifetime:     5 * time.Minute,
		ClientURI:               "https://app.example.com/",
		LogoURI:                 "https://cdn.example.com/logo.png?v=2",
	})

	spa := seed.Clients[2]
	eq(t, spa.TokenEndpointAuthMethod, oauth.AuthMethodNone) // default without a secret
	eq(t, spa.ResponseTypes, []string{"code", "token"})      // derived from the grant types
	if c := spa.OAuthClient(); c.SecretHash != "" || !c.IsPublic() {
		t.Errorf("public client: %+v", c)
	}
	if c := spa.OAuthClient(); !c.FirstParty || c.ClientURI != "http://localhost:5173/#about" || c.LogoURI != "" {
		t.Errorf("first-party client: %+v", c)
	}
	if web.FirstParty || seed.Clients[0].OAuthClient().FirstParty {
		t.Error("first_party defaults to true")
	}

	eq(t, seed.Users[0], app.SeedUser{Username: "alice", Password: "wonderland-rabbit-42"})
	eq(t, seed.Users[1].Subject, "user-0002")
	eq(t, seed.Scopes(), []string{"read", "write", "openid"})
}

func TestParseSeedEmpty(t *testing.T) {
	for _, in := range []string{`{}`, `{"clients": [], "users": []}`, " {}\n"} {
		seed, err := app.ParseSeed(strings.NewReader(in))
		if err != nil {
			t.Errorf("ParseSeed(%q): %v", in, err)
			continue
		}
		if len(seed.Clients) != 0 || len(seed.Users) != 0 || seed.Scopes() != nil {
			t.Errorf("ParseSeed(%q) = %+v", in, seed)
		}
	}
}

func TestDevSeed(t *testing.T) {
	seed, err := app.LoadSeed(filepath.Join("..", "..", "dev", "seed.json"))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]app.SeedClient{}
	for _, c := range seed.Clients {
		byID[c.ClientID] = c
	}
	svc := byID["demo-service"]
	eq(t, svc.TokenEndpointAuthMethod, oauth.AuthMethodBasic)
	eq(t, svc.GrantTypes, []string{"client_credentials"})
	eq(t, svc.Scope, "read write")
	web := byID["demo-web"]
	eq(t, web.TokenEndpointAuthMethod, oauth.AuthMethodBasic)
	eq(t, web.GrantTypes, []string{"authorization_code", "refresh_token"})
	eq(t, web.RedirectURIs, []string{"http://127.0.0.1:9000/callback"})
	eq(t, web.Scope, "openid profile email offline_access read write")
	eq(t, web.PostLogoutRedirectURIs, []string{"http://127.0.0.1:9000/signed-out"})
	eq(t, web.ClientURI, "http://127.0.0.1:9000/") // shown on the consent page
	for id, c := range byID {
		if c.FirstParty {
			t.Errorf("client %s is first_party: the demo should show the consent page", id)
		}
	}
	spa := byID["demo-spa"]
	eq(t, spa.TokenEndpointAuthMethod, oauth.AuthMethodNone)
	eq(t, spa.ClientSecret, "")
	eq(t, spa.Scope, "read")
	for id, c := range byID {
		if c.ClientSecret != "" && !strings.HasPrefix(c.ClientSecret, "dev-secret-") {
			t.Errorf("client %s: secret %q does not look dev-only", id, c.ClientSecret)
		}
	}
	// The demo user's subject is pinned, so tokens name the same sub across restarts.
	// She has a name and an email, which UserInfo releases for the
	// profile and email scopes (OpenID Connect Core 1.0 §5.4).
	verified := true
	eq(t, seed.Users, []app.SeedUser{{Username: "alice", Password: "wonderland-rabbit-42", Subject: "u-8kQ2mZ7vR4xN1pT6wY3bC",
		UserClaims: oauth.UserClaims{Name: "Alice Liddell", GivenName: "Alice", FamilyName: "Liddell",
			Email: "alice@example.com", EmailVerified: &verified, Locale: "en-GB"}}})
}

func TestParseSeedBad(t *testing.T) {
	// client wraps one client's JSON fields in a seed.
	client := func(fields string) string { return `{"clients": [` + fields + `]}` }
	user := func(fields string) string {
		return `{"users": [{"username": "alice", "password": "x", ` + fields + `}]}`
	}
	const svc = `{"client_id": "svc", "client_secret": "s3cret-s3cret", "grant_types": ["client_credentials"]}`
	tests := []struct {
		name, seed, want string
	}{
		// Syntax and shape.
		{"empty file", ``, "seed: empty file"},
		{"syntax error", "{\n  \"clients\": [,]\n}", "seed: line 2, column 15: invalid character ','"},
		{"trailing data", `{} {}`, "seed: unexpected data after the top-level JSON value"},
		{"not an object", `[]`, "seed: top level: JSON array where an object was expected"},
		{"unknown top-level field", `{"client": []}`, `seed: unknown field "client"`},
		{"unknown client field", client(`{"client_id": "a", "secret": "x"}`), `seed: clients[0]: unknown field "secret"`},
		{"unknown user field", `{"users": [{"username": "a", "password": "b", "colour": "c"}]}`, `seed: users[0]: unknown field "colour"`},
		{"wrong type", client(`{"client_id": "a", "scope": ["read"]}`), "seed: clients[0].scope: JSON array where a string was expected"},
		{"client not an object", client(`"svc"`), "seed: clients[0]: JSON string where an object was expected"},
		{"fractional lifetime", client(`{"client_id": "a", "access_token_lifetime": 1.5}`), "seed: clients[0].access_token_lifetime: JSON number 1.5 where an integer was expected"},

		// Clients.
		{"missing client_id", client(`{"client_secret": "x", "grant_types": ["client_credentials"]}`), "seed: clients[0].client_id: is required"},
		{"client_id with space", client(`{"client_id": "a b", "client_secret": "x", "grant_types": ["client_credentials"]}`), `seed: clients[0].client_id: "a b" must be printable ASCII`},
		{"missing grant_types", client(`{"client_id": "a", "client_secret": "x"}`), "seed: clients[0].grant_types: is required"},
		{"unknown grant type", client(svc + `, {"client_id": "b", "client_secret": "x", "grant_types": ["foo"]}`), `seed: clients[1].grant_types: unknown grant type "foo"`},
		{"duplicate grant type", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials", "client_credentials"]}`), `seed: clients[0].grant_types: duplicate grant type "client_credentials"`},
		{"unknown auth method", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_jwt"}`), `seed: clients[0].token_endpoint_auth_method: unknown method "client_secret_jwt"`},
		{"public client with secret", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["password"], "token_endpoint_auth_method": "none"}`), `seed: clients[0].client_secret: a public client (token_endpoint_auth_method "none") must not have a secret`},
		{"confidential client without secret", client(`{"client_id": "a", "grant_types": ["password"], "token_endpoint_auth_method": "client_secret_basic"}`), `seed: clients[0].client_secret: is required for token_endpoint_auth_method "client_secret_basic"`},
		{"public client credentials", client(`{"client_id": "a", "grant_types": ["client_credentials"]}`), `seed: clients[0].grant_types: "client_credentials" needs a confidential client`},
		{"lone refresh_token", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials", "refresh_token"]}`), `seed: clients[0].grant_types: "refresh_token" needs "authorization_code" or "password"`},
		{"code without authorization_code", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["password"], "response_types": ["code"]}`), `seed: clients[0].response_types: "code" needs grant type "authorization_code"`},
		{"token without implicit", client(`{"client_id": "a", "redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code"], "response_types": ["code", "token"]}`), `seed: clients[0].response_types: "token" needs grant type "implicit"`},
		{"authorization_code without code", client(`{"client_id": "a", "redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code", "implicit"], "response_types": ["token"]}`), `seed: clients[0].response_types: grant type "authorization_code" needs response type "code"`},
		{"implicit without token", client(`{"client_id": "a", "redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code", "implicit"], "response_types": ["code"]}`), `seed: clients[0].response_types: grant type "implicit" needs response type "token"`},
		{"unknown response type", client(`{"client_id": "a", "redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code"], "response_types": ["code", "code token"]}`), `seed: clients[0].response_types: unknown response type "code token"`},
		{"code id_token without implicit", client(`{"client_id": "a", "redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code"], "response_types": ["code", "id_token code"]}`), `seed: clients[0].response_types: "id_token code" needs grant type "implicit"`},
		{"id_token without implicit", client(`{"client_id": "a", "redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code"], "response_types": ["code", "id_token"]}`), `seed: clients[0].response_types: "id_token" needs grant type "implicit"`},
		{"duplicate reordered response type", client(`{"client_id": "a", "redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"], "response_types": ["id_token token", "token id_token"]}`), `seed: clients[0].response_types: duplicate response type "token id_token"`},
		{"missing redirect_uris", client(`{"client_id": "a", "grant_types": ["authorization_code"]}`), "seed: clients[0].redirect_uris: is required"},
		{"http redirect", client(`{"client_id": "a", "redirect_uris": ["https://ok.example/cb", "http://app.example.com/cb"], "grant_types": ["authorization_code"]}`), `seed: clients[0].redirect_uris[1]: redirect URI "http://app.example.com/cb" must use https`},
		{"relative redirect", client(`{"client_id": "a", "redirect_uris": ["/cb"], "grant_types": ["authorization_code"]}`), `seed: clients[0].redirect_uris[0]: redirect URI "/cb" is not an absolute URI`},
		{"fragment redirect", client(`{"client_id": "a", "redirect_uris": ["https://a.example/cb#x"], "grant_types": ["authorization_code"]}`), `seed: clients[0].redirect_uris[0]: redirect URI "https://a.example/cb#x" must not contain a fragment`},
		{"duplicate redirect", client(`{"client_id": "a", "redirect_uris": ["https://a.example/cb", "https://a.example/cb"], "grant_types": ["authorization_code"]}`), `seed: clients[0].redirect_uris[1]: duplicate redirect URI "https://a.example/cb"`},
		{"bad scope", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials"], "scope": "read \"write\""}`), `seed: clients[0].scope: "\"write\"" is not a valid scope token`},
		{"duplicate scope", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials"], "scope": "read read"}`), `seed: clients[0].scope: duplicate scope "read"`},
		{"negative lifetime", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials"], "access_token_lifetime": -1}`), "seed: clients[0].access_token_lifetime: -1 is out of range"},
		{"http client_uri", client(`{"client_id": "web", "client_secret": "x", "grant_types": ["client_credentials"], "client_uri": "http://app.example.com/"}`),
			`seed: clients[0].client_uri: "http://app.example.com/" must use https (plain http only on 127.0.0.1, [::1] or localhost) (client "web")`},
		{"relative logo_uri", client(svc + `, {"client_id": "b", "client_secret": "x", "grant_types": ["client_credentials"], "logo_uri": "/logo.png"}`),
			`seed: clients[1].logo_uri: "/logo.png" is not an absolute URL (client "b")`},
		{"javascript client_uri", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials"], "client_uri": "javascript:alert(1)"}`),
			`seed: clients[0].client_uri: "javascript:alert(1)" is not an absolute URL (client "a")`},
		{"data logo_uri", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials"], "logo_uri": "data://x/image/png;base64,AAAA"}`),
			`seed: clients[0].logo_uri: "data://x/image/png;base64,AAAA" must use https`},
		{"client_uri with user info", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials"], "client_uri": "https://bank.example@evil.example/"}`),
			`seed: clients[0].client_uri: "https://bank.example@evil.example/" must not have user info (client "a")`},
		{"client_uri with a space", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials"], "client_uri": "https://app.example/a b"}`),
			`seed: clients[0].client_uri: "https://app.example/a b" must be printable ASCII without spaces`},
		{"client_uri without host", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials"], "client_uri": "https:///path"}`),
			`seed: clients[0].client_uri: "https:///path" is not an absolute URL`},
		{"long logo_uri", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials"], "logo_uri": "https://a.example/` + strings.Repeat("x", 2048) + `"}`),
			`seed: clients[0].logo_uri: is longer than 2048 characters`},
		{"first_party not a boolean", client(`{"client_id": "a", "client_secret": "x", "grant_types": ["client_credentials"], "first_party": "yes"}`),
			"seed: clients[0].first_party: JSON string where a boolean was expected"},
		{"duplicate client_id", client(svc + `,` + svc), `seed: clients[1].client_id: duplicate client_id "svc" (also clients[0])`},

		// Users.
		{"missing username", `{"users": [{"password": "x"}]}`, "seed: users[0].username: is required"},
		{"missing password", `{"users": [{"username": "alice"}]}`, "seed: users[0].password: is required"},
		{"username with spaces", `{"users": [{"username": " alice", "password": "x"}]}`, `seed: users[0].username: " alice" must not have control characters or surrounding spaces`},
		{"subject with control", `{"users": [{"username": "alice", "password": "x", "subject": "a\nb"}]}`, `seed: users[0].subject: "a\nb" must not have control characters`},
		{"duplicate username", `{"users": [{"username": "alice", "password": "x"}, {"username": "alice", "password": "y"}]}`, `seed: users[1].username: duplicate username "alice" (also users[0])`},
		{"duplicate subject", `{"users": [{"username": "alice", "password": "x"}, {"username": "bob", "password": "y", "subject": "s"}, {"username": "carol", "password": "z", "sub": "s"}]}`, `seed: users[2].subject: duplicate subject "s" (also users[1])`},

		// User claims (OpenID Connect Core 1.0 §5.1).
		{"bad email", user(`"email": "alice"`), `seed: users[0].email: "alice" is not an email address`},
		{"email with a display name", user(`"email": "Alice <alice@example.com>"`), `seed: users[0].email: "Alice <alice@example.com>" is not an email address`},
		{"email_verified not a boolean", user(`"email_verified": "yes"`), "seed: users[0].email_verified: JSON string where a boolean was expected"},
		{"phone_number_verified not a boolean", user(`"phone_number_verified": 1`), "seed: users[0].phone_number_verified: JSON number where a boolean was expected"},
		{"relative picture", user(`"picture": "/me.png"`), `seed: users[0].picture: "/me.png" must be an absolute http or https URL`},
		{"javascript website", user(`"website": "javascript:alert(1)"`), `seed: users[0].website: "javascript:alert(1)" must be an absolute http or https URL`},
		{"profile without host", user(`"profile": "https:///x"`), `seed: users[0].profile: "https:///x" must be an absolute http or https URL`},
		{"phone without plus", user(`"phone_number": "0145551234"`), `seed: users[0].phone_number: "0145551234" must be in E.164 format`},
		{"phone with spaces", user(`"phone_number": "+1 415 555 0100"`), `seed: users[0].phone_number: "+1 415 555 0100" must be in E.164 format`},
		{"locale with underscore", user(`"locale": "en_US"`), `seed: users[0].locale: "en_US" must be a BCP 47 language tag`},
		{"unknown zoneinfo", user(`"zoneinfo": "Mars/Olympus_Mons"`), `seed: users[0].zoneinfo: "Mars/Olympus_Mons" is not an IANA time zone name`},
		{"zoneinfo Local", user(`"zoneinfo": "Local"`), `seed: users[0].zoneinfo: "Local" is not an IANA time zone name`},
		{"birthdate not a date", user(`"birthdate": "1990-02-30"`), `seed: users[0].birthdate: "1990-02-30" must be YYYY-MM-DD`},
		{"birthdate slashes", user(`"birthdate": "12/31/1990"`), `seed: users[0].birthdate: "12/31/1990" must be YYYY-MM-DD`},
		{"name with a newline", user(`"name": "Alice\nLiddell"`), `seed: users[0].name: "Alice\nLiddell" must not have control characters`},
		{"long name", user(`"name": "` + strings.Repeat("x", 1025) + `"`), "seed: users[0].name: is longer than 1024 bytes"},
		{"address member", user(`"address": {"country": " UK"}`), `seed: users[0].address.country: " UK" must not have control characters`},
		{"unknown address member", user(`"address": {"planet": "Earth"}`), `seed: users[0]: unknown field "planet"`},
		{"negative updated_at", user(`"updated_at": -1`), "seed: users[0].updated_at: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed, err := app.ParseSeed(strings.NewReader(tt.seed))
			if err == nil {
				t.Fatalf("ParseSeed succeeded: %+v", seed)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%s\ndoes not contain:\n%s", err, tt.want)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "seed: ") {
					t.Errorf("error line %q does not start with \"seed: \"", line)
				}
			}
		})
	}
}

func TestParseSeedReportsEveryError(t *testing.T) {
	_, err := app.ParseSeed(strings.NewReader(`{
	  "clients": [{"client_id": "a", "grant_types": ["foo"]}, {"client_id": "b", "client_secret": "x", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}],
	  "users": [{"username": "alice"}]
	}`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`clients[0].grant_types: unknown grant type "foo"`,
		`clients[1].client_secret: a public client`,
		`users[0].password: is required`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error:\n%s\nlacks %q", err, want)
		}
	}
}

func TestLoadSeedMissingFile(t *testing.T) {
	_, err := app.LoadSeed(filepath.Join(t.TempDir(), "nope.json"))
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "seed: ") {
		t.Errorf("err = %v", err)
	}
}

func TestSeedApply(t *testing.T) {
	seed, err := app.ParseSeed(strings.NewReader(goodSeed))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := memstore.New()
	if err := seed.Apply(ctx, store, fastHasher); err != nil {
		t.Fatal(err)
	}
	clients, err := store.ListClients(ctx)
	if err != nil || len(clients) != 4 {
		t.Fatalf("ListClients = %d clients, %v", len(clients), err)
	}
	svc, err := store.GetClient(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	if !oauth.SecretMatches(svc.SecretHash, "dev-secret-svc-0123456789") || strings.Contains(svc.SecretHash, "dev-secret") {
		t.Errorf("secret not stored as a hash: %q", svc.SecretHash)
	}
	bob, err := store.GetUser(ctx, "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, bob.Subject, "user-0002")
	if !(passwords.Checker{}).CheckPassword(bob.PasswordHash, "builder") || strings.Contains(bob.PasswordHash, "builder") {
		t.Errorf("password not stored as a hash: %q", bob.PasswordHash)
	}
	if (passwords.Checker{}).CheckPassword(bob.PasswordHash, "wonderland-rabbit-42") {
		t.Error("wrong password accepted")
	}
}

type failingStore struct{ *memstore.Store }

func (failingStore) PutUser(context.Context, *oauth.User) error { return errors.New("disk full") }

func TestSeedApplyError(t *testing.T) {
	seed, err := app.ParseSeed(strings.NewReader(goodSeed))
	if err != nil {
		t.Fatal(err)
	}
	store := failingStore{Store: memstore.New()}
	err = seed.Apply(context.Background(), store, fastHasher)
	if err == nil || !strings.Contains(err.Error(), `seed: storing user "alice": disk full`) {
		t.Errorf("err = %v", err)
	}
}

func eq[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

// TestSeedSubjects: a user without a pinned sub gets an opaque one, never
// its username (OpenID Connect Core 1.0 §2), and loading the seed again
// keeps it: a subject never changes.
func TestSeedSubjects(t *testing.T) {
	seed, err := app.ParseSeed(strings.NewReader(`{"users": [{"username": "alice", "password": "x"}, {"username": "bob", "password": "y", "sub": "pinned-bob"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := memstore.New()
	if err := seed.Apply(ctx, store, fastHasher); err != nil {
		t.Fatal(err)
	}
	alice, err := store.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if alice.Subject == "" || alice.Subject == "alice" || len(alice.Subject) != 22 {
		t.Errorf("alice's subject %q; want an opaque 22-character id", alice.Subject)
	}
	bob, _ := store.GetUser(ctx, "bob")
	eq(t, bob.Subject, "pinned-bob")
	if err := seed.Apply(ctx, store, fastHasher); err != nil {
		t.Fatal(err)
	}
	again, _ := store.GetUser(ctx, "alice")
	eq(t, again.Subject, alice.Subject)
	other := memstore.New()
	if err := seed.Apply(ctx, other, fastHasher); err != nil {
		t.Fatal(err)
	}
	if u, _ := other.GetUser(ctx, "alice"); u.Subject == alice.Subject {
		t.Error("two stores gave alice the same subject: not random")
	}
}

// A seed user's OpenID Connect claims (OpenID Connect Core 1.0 §5.1) are
// top-level fields; Apply stores them, on both stores, and sets
// updated_at when they change, keeping it when they do not.
func TestSeedApplyClaims(t *testing.T) {
	const seedWith = `{"users": [{"username": "alice", "password": "pw", "sub": "u-alice",
	  "name": "Alice Liddell", "given_name": "Alice", "family_name": "Liddell",
	  "email": "alice@example.com", "email_verified": true, "phone_number": "+441632960001",
	  "phone_number_verified": false, "locale": "en-GB", "zoneinfo": "Europe/London",
	  "birthdate": "0000-05-04", "website": "https://wonderland.example/",
	  "address": {"street_address": "1 Rabbit Hole\nDaresbury", "country": "UK"}%s}]}`
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) app.SeedStore
	}{
		{"memstore", func(*testing.T) app.SeedStore { return memstore.New() }},
		{"dynamodb", func(t *testing.T) app.SeedStore { return dynamotest.NewStore(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := tc.store(t)
			apply := func(extra string) *oauth.User {
				t.Helper()
				seed, err := app.ParseSeed(strings.NewReader(fmt.Sprintf(seedWith, extra)))
				if err != nil {
					t.Fatal(err)
				}
				if err := seed.Apply(ctx, store, fastHasher); err != nil {
					t.Fatal(err)
				}
				u, err := store.GetUser(ctx, "alice")
				if err != nil {
					t.Fatal(err)
				}
				return u
			}
			before := time.Now().Unix()
			u := apply("")
			c := u.Claims
			if c == nil || c.Name != "Alice Liddell" || c.Email != "alice@example.com" || c.EmailVerified == nil || !*c.EmailVerified ||
				c.PhoneNumberVerified == nil || *c.PhoneNumberVerified || c.Zoneinfo != "Europe/London" || c.Birthdate != "0000-05-04" ||
				c.Address == nil || c.Address.StreetAddress != "1 Rabbit Hole\nDaresbury" || u.Subject != "u-alice" {
				t.Fatalf("stored %+v, claims %+v", u, c)
			}
			if c.UpdatedAt < before || c.UpdatedAt > time.Now().Unix() {
				t.Errorf("updated_at = %d, want now (%d)", c.UpdatedAt, before)
			}
			// Loading the same seed again keeps updated_at.
			old := c.UpdatedAt - 1000
			c.UpdatedAt = old
			if err := store.PutUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			if got := apply("").Claims.UpdatedAt; got != old {
				t.Errorf("same claims: updated_at = %d, want %d kept", got, old)
			}
			// A changed claim sets it to now.
			if got := apply(`, "nickname": "Al"`).Claims; got.UpdatedAt < before || got.Nickname != "Al" {
				t.Errorf("changed claims: %+v", got)
			}
			// A seed's own updated_at is kept.
			if got := apply(`, "updated_at": 1700000000`).Claims.UpdatedAt; got != 1700000000 {
				t.Errorf("seed updated_at: %d", got)
			}
		})
	}
}
