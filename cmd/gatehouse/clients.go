package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
)

const clientsUsage = `Usage: gatehouse clients <command> [flags] [arguments]

Manages the OAuth clients in the DynamoDB clients table.

Commands:
  create          register a client; prints its client_secret, once
  list            print every client (never a secret)
  get ID          print one client
  delete ID       delete a client
  rotate-secret ID [--grace DURATION]
                  give a confidential client a new secret; prints it, once;
                  the old one keeps working for the grace period (default 1h)

Every command takes the --clients-table flag (env GATEHOUSE_CLIENTS_TABLE;
default gatehouse-clients), and reaches DynamoDB through the standard AWS
configuration. Output is JSON with RFC 7591 metadata names. Run
'gatehouse clients <command> -h' for a command's flags. Example:

  gatehouse clients create --name "Billing service" \
    --grant-type client_credentials --scope "invoices:read"

A client that signs JWTs with its own key (private_key_jwt, RFC 7523) gets
no secret: register its public keys with --jwks-file or --jwks-uri.

The consent page shows a client's --client-uri and --logo-uri as text links.
A --first-party client (run by the server's own operator) skips the consent
page: its users are never asked to approve it.

A client introspects only the tokens issued to itself. Register a resource
server with --introspection-allowed to let it introspect every client's
access tokens; refresh tokens are reported to their own client alone.

rotate-secret's new secret works at once. The old one keeps working until
its --grace period ends (default 1h, at most 30 days; 0 retires it at once),
so deployments of the client can change over; a second rotation drops it.

Warm Lambda instances cache clients for GATEHOUSE_CLIENT_CACHE_TTL (default
30s): a deleted client takes up to that long to take effect, and so does
retiring an old secret with --grace 0.
`

func (c *cli) clients(ctx context.Context, args []string) error {
	return c.runGroup(ctx, args, clientsUsage, []subcommand{
		{"create", (*cli).clientsCreate},
		{"list", (*cli).clientsList},
		{"get", (*cli).clientsGet},
		{"delete", (*cli).clientsDelete},
		{"rotate-secret", (*cli).clientsRotateSecret},
	})
}

// clientJSON is a client as the commands print it, in RFC 7591 §2 and §3.2.1
// names. ClientSecret is set only when a secret was just generated.
type clientJSON struct {
	ClientID              string   `json:"client_id"`
	ClientSecret          string   `json:"client_secret,omitempty"`
	ClientSecretExpiresAt *int64   `json:"client_secret_expires_at,omitempty"` // 0: never (RFC 7591 §3.2.1)
	ClientName            string   `json:"client_name,omitempty"`
	RedirectURIs          []string `json:"redirect_uris"`
	// PostLogoutRedirectURIs (RP-Initiated Logout 1.0 §3.1) are where
	// the end-session endpoint may send the browser after a logout.
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	// AccessTokenLifetime in seconds, when the client overrides the
	// server's (the seed file's name).
	AccessTokenLifetime int64 `json:"access_token_lifetime,omitempty"`
	// JWKS and JWKSURI are a private_key_jwt client's public keys.
	JWKS    *oauth.JWKS `json:"jwks,omitempty"`
	JWKSURI string      `json:"jwks_uri,omitempty"`
	// ClientURI and LogoURI are the links the consent page shows;
	// FirstParty (Gatehouse's first_party) skips the consent page.
	ClientURI  string `json:"client_uri,omitempty"`
	LogoURI    string `json:"logo_uri,omitempty"`
	FirstParty bool   `json:"first_party,omitempty"`
	// IntrospectionAllowed (Gatehouse's introspection_allowed) lets the
	// client introspect every client's access tokens.
	IntrospectionAllowed bool `json:"introspection_allowed,omitempty"`
	// PreviousSecretExpiresAt (Gatehouse's
	// previous_client_secret_expires_at, epoch seconds like RFC 7591's
	// client_secret_expires_at) is when the secret a rotation replaced
	// stops working; absent when there is none.
	PreviousSecretExpiresAt *int64 `json:"previous_client_secret_expires_at,omitempty"`
}

// toJSON describes a stored client, without its secret (the store has only
// its hash, which is never printed either).
func toJSON(c *oauth.Client) clientJSON {
	orEmpty := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	j := clientJSON{
		ClientID:                c.ID,
		ClientName:              c.Name,
		RedirectURIs:            orEmpty(c.RedirectURIs),
		PostLogoutRedirectURIs:  c.PostLogoutRedirectURIs,
		GrantTypes:              orEmpty(c.GrantTypes),
		ResponseTypes:           orEmpty(c.ResponseTypes),
		Scope:                   strings.Join(c.Scopes, " "),
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		AccessTokenLifetime:     int64(c.AccessTokenLifetime / time.Second),
		JWKS:                    c.JWKS,
		JWKSURI:                 c.JWKSURI,
		ClientURI:               c.ClientURI,
		LogoURI:                 c.LogoURI,
		FirstParty:              c.FirstParty,
		IntrospectionAllowed:    c.IntrospectionAllowed,
	}
	if c.PreviousSecretHash != "" && !c.PreviousSecretExpiresAt.IsZero() {
		until := c.PreviousSecretExpiresAt.Unix()
		j.PreviousSecretExpiresAt = &until
	}
	return j
}

// withSecret adds a freshly generated secret to the description.
func withSecret(j clientJSON, secret string) clientJSON {
	never := int64(0)
	j.ClientSecret, j.ClientSecretExpiresAt = secret, &never
	return j
}

// flagOfField names the clients create flag that sets an RFC 7591 field.
var flagOfField = map[string]string{
	"client_id":                  "--id",
	"client_name":                "--name",
	"client_secret":              "--auth-method",
	"token_endpoint_auth_method": "--auth-method",
	"grant_types":                "--grant-type",
	"response_types":             "--response-type",
	"redirect_uris":              "--redirect-uri",
	"post_logout_redirect_uris":  "--post-logout-redirect-uri",
	"scope":                      "--scope",
	"access_token_lifetime":      "--access-token-lifetime",
	"jwks":                       "--jwks-file",
	"jwks_uri":                   "--jwks-uri",
	"client_uri":                 "--client-uri",
	"logo_uri":                   "--logo-uri",
	"first_party":                "--first-party",
	"introspection_allowed":      "--introspection-allowed",
}

func (c *cli) clientsCreate(ctx context.Context, args []string) error {
	fs := c.newFlagSet("clients create", "--grant-type TYPE [--grant-type TYPE]... [flags]")
	var (
		redirectURIs, grantTypes stringList
		responseTypes            stringList
		postLogoutRedirectURIs   stringList
		id, name, scope, method  string
		lifetime                 string
		jwksFile, jwksURI        string
		clientURI, logoURI       string
		firstParty               bool
		introspectionAllowed     bool
	)
	fs.StringVar(&id, "id", "", "the client_id (default: a random, URL-safe id)")
	fs.StringVar(&name, "name", "", "the client_name, for people")
	fs.Var(&redirectURIs, "redirect-uri", "a redirect `URI` (repeatable; required for authorization_code and implicit)")
	fs.Var(&postLogoutRedirectURIs, "post-logout-redirect-uri",
		"a `URI` the end-session endpoint may send the browser back to after a logout (post_logout_redirect_uris; repeatable)")
	fs.Var(&grantTypes, "grant-type", "a grant `type` (repeatable, at least one): authorization_code, implicit, password, client_credentials, refresh_token")
	fs.Var(&responseTypes, "response-type", "a response `type` (repeatable; default: code for authorization_code, token for implicit): "+
		"also the OpenID Connect \"id_token\" and \"id_token token\" (grant type implicit) and \"code id_token\" (authorization_code and implicit)")
	fs.StringVar(&scope, "scope", "", "the space-separated `scopes` the client may request")
	fs.StringVar(&method, "auth-method", oauth.AuthMethodBasic,
		"token_endpoint_auth_method: client_secret_basic, client_secret_post, private_key_jwt (no secret: keys from "+
			"--jwks-file or --jwks-uri; the default with either), or none for a public client (no secret)")
	fs.StringVar(&lifetime, "access-token-lifetime", "", "the client's access-token `lifetime` (\"1h\", or seconds; default: the server's; "+
		"at most "+config.EnvMaxAccessTokenTTL+", default 24h)")
	fs.StringVar(&jwksFile, "jwks-file", "", "a `file` holding the client's public JWK Set (jwks), for private_key_jwt")
	fs.StringVar(&jwksURI, "jwks-uri", "", "the https `URL` where the client publishes its JWK Set (jwks_uri), for private_key_jwt")
	fs.StringVar(&clientURI, "client-uri", "", "the client's home page (client_uri): an https `URL`, shown on the consent page as a link")
	fs.StringVar(&logoURI, "logo-uri", "", "the client's logo (logo_uri): an https `URL`, shown on the consent page as a link (never loaded)")
	fs.BoolVar(&firstParty, "first-party", false, "a client run by this server's operator (first_party): its users are not asked for consent")
	fs.BoolVar(&introspectionAllowed, "introspection-allowed", false,
		"a resource server (introspection_allowed): it may introspect every client's access tokens, not only its own")
	tf := addTableFlags(fs, config.EnvClientsTable)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	methodSet := false
	fs.Visit(func(f *flag.Flag) { methodSet = methodSet || f.Name == "auth-method" })
	if !methodSet && (jwksFile != "" || jwksURI != "") {
		method = oauth.AuthMethodPrivateKeyJWT
	}
	var problems []string
	var jwksData []byte
	if jwksFile != "" {
		data, err := os.ReadFile(jwksFile)
		if err != nil {
			problems = append(problems, "--jwks-file: "+err.Error())
		}
		jwksData = data
	}

	sc := app.SeedClient{
		ClientID:                id,
		ClientName:              name,
		RedirectURIs:            redirectURIs,
		PostLogoutRedirectURIs:  postLogoutRedirectURIs,
		GrantTypes:              grantTypes,
		ResponseTypes:           responseTypes,
		Scope:                   scope,
		TokenEndpointAuthMethod: method,
		JWKS:                    jwksData,
		JWKSURI:                 jwksURI,
		ClientURI:               clientURI,
		LogoURI:                 logoURI,
		FirstParty:              firstParty,
		IntrospectionAllowed:    introspectionAllowed,
	}
	if id == "" {
		sc.ClientID = newClientID()
	}
	if method == oauth.AuthMethodBasic || method == oauth.AuthMethodPost {
		sc.ClientSecret = oauth.NewClientSecret()
	}
	if lifetime != "" {
		d, err := config.ParseDuration(lifetime)
		switch {
		case err != nil:
			problems = append(problems, "--access-token-lifetime: "+err.Error())
		case d <= 0 || d%time.Second != 0:
			problems = append(problems, fmt.Sprintf("--access-token-lifetime: %q must be a positive whole number of seconds", lifetime))
		default:
			sc.AccessTokenLifetime = int64(d / time.Second)
		}
	}
	// The server caps access-token lifetimes at GATEHOUSE_MAX_ACCESS_TOKEN_TTL:
	// refuse a longer one here rather than register what it will not honor.
	if limit, err := config.MaxAccessTokenTTLFromEnv(c.getenv); err != nil {
		problems = append(problems, err.Error())
	} else {
		sc.MaxAccessTokenLifetime = limit
	}
	for _, fe := range sc.Validate() {
		field, _, _ := strings.Cut(fe.Field, "[")
		flagName := flagOfField[field]
		if flagName == "" {
			flagName = field
		}
		problems = append(problems, flagName+": "+fe.Message)
	}
	if len(problems) > 0 {
		return usageError("%s\n(see 'gatehouse clients create -h')", strings.Join(problems, "\n"))
	}
	tables, err := tf.resolve(c.getenv)
	if err != nil {
		return err
	}
	store, err := c.openStore(ctx, tables)
	if err != nil {
		return err
	}

	client := sc.OAuthClient() // only the secret's hash is stored
	err = store.CreateClient(ctx, client)
	if errors.Is(err, oauth.ErrConflict) {
		return fmt.Errorf("client %q already exists in table %s (choose another --id, or delete it first)", client.ID, tables.Clients)
	}
	if err != nil {
		return c.explain(err, tables.Clients)
	}
	out := toJSON(client)
	if sc.ClientSecret != "" {
		out = withSecret(out, sc.ClientSecret)
		fmt.Fprintln(c.stderr, "Save the client_secret now: it is shown only this once (Gatehouse stores only its hash).")
	}
	return c.writeJSON(out)
}

// newClientID returns a random client_id: 128 bits, base64url (22
// characters), safe in URLs and HTTP Basic credentials.
func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// clientCommand parses a command that takes flags and nothing else
// (want empty) or one client ID, and opens the store.
func (c *cli) clientCommand(ctx context.Context, cmd, synopsis string, args []string, want ...string) (
	*dynamostore.Store, dynamostore.Tables, []string, error,
) {
	fs := c.newFlagSet("clients "+cmd, synopsis)
	tf := addTableFlags(fs, config.EnvClientsTable)
	pos, err := parseArgs(fs, args, want...)
	if err != nil {
		return nil, dynamostore.Tables{}, nil, err
	}
	tables, err := tf.resolve(c.getenv)
	if err != nil {
		return nil, dynamostore.Tables{}, nil, err
	}
	store, err := c.openStore(ctx, tables)
	return store, tables, pos, err
}

func (c *cli) clientsList(ctx context.Context, args []string) error {
	store, tables, _, err := c.clientCommand(ctx, "list", "[flags]", args)
	if err != nil {
		return err
	}
	clients, err := store.ListClients(ctx)
	if err != nil {
		return c.explain(err, tables.Clients)
	}
	out := make([]clientJSON, 0, len(clients))
	for _, cl := range clients {
		out = append(out, toJSON(cl))
	}
	return c.writeJSON(out)
}

func (c *cli) clientsGet(ctx context.Context, args []string) error {
	store, tables, pos, err := c.clientCommand(ctx, "get", "ID [flags]", args, "ID")
	if err != nil {
		return err
	}
	client, err := c.getClient(ctx, store, tables, pos[0])
	if err != nil {
		return err
	}
	return c.writeJSON(toJSON(client))
}

// getClient reads a client, with a clear error for an unknown one.
func (c *cli) getClient(ctx context.Context, store *dynamostore.Store, tables dynamostore.Tables, id string) (*oauth.Client, error) {
	client, err := store.GetClient(ctx, id)
	if errors.Is(err, oauth.ErrNotFound) {
		return nil, unknownClient(id, tables)
	}
	if err != nil {
		return nil, c.explain(err, tables.Clients)
	}
	return client, nil
}

func unknownClient(id string, tables dynamostore.Tables) error {
	return fmt.Errorf("unknown client %q (not in table %s; see 'gatehouse clients list')", id, tables.Clients)
}

func (c *cli) clientsDelete(ctx context.Context, args []string) error {
	store, tables, pos, err := c.clientCommand(ctx, "delete", "ID [flags]", args, "ID")
	if err != nil {
		return err
	}
	err = store.DeleteClient(ctx, pos[0])
	if errors.Is(err, oauth.ErrNotFound) {
		return unknownClient(pos[0], tables)
	}
	if err != nil {
		return c.explain(err, tables.Clients)
	}
	fmt.Fprintf(c.stdout, "Deleted client %q.\n", pos[0])
	c.cacheHint("keep accepting the deleted client")
	return nil
}

// DefaultRotationGrace is how long rotate-secret keeps the old secret
// working by default: as long as the longest client cache
// (config.MaxClientCacheTTL), and long enough to deploy the new secret.
// MaxRotationGrace bounds --grace: two secrets live for long defeat a
// rotation.
const (
	DefaultRotationGrace = time.Hour
	MaxRotationGrace     = 30 * 24 * time.Hour
)

func (c *cli) clientsRotateSecret(ctx context.Context, args []string) error {
	fs := c.newFlagSet("clients rotate-secret", "ID [--grace DURATION] [flags]")
	var grace string
	fs.StringVar(&grace, "grace", shortDuration(DefaultRotationGrace),
		"how long the old secret keeps working (\"90m\", \"24h\", or seconds; 0 retires it at once; at most "+
			shortDuration(MaxRotationGrace)+")")
	tf := addTableFlags(fs, config.EnvClientsTable)
	pos, err := parseArgs(fs, args, "ID")
	if err != nil {
		return err
	}
	d, err := config.ParseDuration(grace)
	switch {
	case err != nil:
		return usageError("--grace: %v\n(see 'gatehouse clients rotate-secret -h')", err)
	case d < 0 || d > MaxRotationGrace || d%time.Second != 0:
		return usageError("--grace: %q must be a whole number of seconds from 0 to %s\n(see 'gatehouse clients rotate-secret -h')",
			grace, shortDuration(MaxRotationGrace))
	}
	tables, err := tf.resolve(c.getenv)
	if err != nil {
		return err
	}
	store, err := c.openStore(ctx, tables)
	if err != nil {
		return err
	}
	client, err := c.getClient(ctx, store, tables, pos[0])
	if err != nil {
		return err
	}
	if client.IsPublic() {
		return fmt.Errorf("client %q is public (token_endpoint_auth_method %q): it has no secret to rotate",
			client.ID, oauth.AuthMethodNone)
	}
	if client.TokenEndpointAuthMethod == oauth.AuthMethodPrivateKeyJWT {
		return fmt.Errorf("client %q authenticates with %s: it has no secret to rotate (it rotates its keys itself, at its jwks_uri, "+
			"or is registered again with new jwks)", client.ID, oauth.AuthMethodPrivateKeyJWT)
	}
	secret := oauth.NewClientSecret()
	oldHash := client.SecretHash
	client.RotateSecret(secret, time.Now(), d)
	err = store.ReplaceClientSecret(ctx, client, oldHash)
	switch {
	case errors.Is(err, oauth.ErrNotFound):
		return unknownClient(client.ID, tables)
	case errors.Is(err, oauth.ErrConflict):
		return fmt.Errorf("client %q: its secret was changed by someone else meanwhile; nothing was changed: run rotate-secret again", client.ID)
	case err != nil:
		return c.explain(err, tables.Clients)
	}
	fmt.Fprintln(c.stderr, "Save the new client_secret now: it is shown only this once. It works at once.")
	if d > 0 {
		fmt.Fprintf(c.stderr, "The old secret keeps working for %s, until %s; a second rotation ends it sooner.\n",
			shortDuration(d), client.PreviousSecretExpiresAt.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintln(c.stderr, "The old secret no longer matches.")
		c.cacheHint("keep accepting the old secret")
	}
	return c.writeJSON(withSecret(toJSON(client), secret))
}

// cacheHint tells on standard error how long warm Lambda instances may
// still act on the old client record (see shared/store/clientcache).
func (c *cli) cacheHint(what string) {
	ttl := fmt.Sprintf("%s (the default)", config.DefaultClientCacheTTL)
	if v := c.getenv(config.EnvClientCacheTTL); v != "" {
		ttl = fmt.Sprintf("%s=%s here", config.EnvClientCacheTTL, v)
	}
	fmt.Fprintf(c.stderr, "Note: warm Lambda instances cache clients and may %s for up to their %s, %s.\n",
		what, config.EnvClientCacheTTL, ttl)
}
