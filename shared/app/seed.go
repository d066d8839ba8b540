package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
)

// Seed is the content of a seed file: clients and users to load into a
// store at start-up, for development and tests. It keeps the plaintext
// secrets and passwords, which the store never sees, so `gatehouse serve`
// can print them.
//
//	{
//	  "clients": [{
//	    "client_id": "demo-service",
//	    "client_secret": "dev-secret-demo-service-change-me",
//	    "grant_types": ["client_credentials"],
//	    "scope": "read write"
//	  }],
//	  "users": [{"username": "alice", "password": "wonderland-rabbit-42"}]
//	}
//
// Unknown fields are errors. After ParseSeed or LoadSeed every default is
// filled in (token_endpoint_auth_method, response_types, subject).
type Seed struct {
	Clients []SeedClient `json:"clients"`
	Users   []SeedUser   `json:"users"`
}

// SeedClient is a client in RFC 7591 §2 metadata names.
type SeedClient struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	ClientName   string   `json:"client_name,omitempty"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// GrantTypes is required: the seed states what each client may do.
	GrantTypes []string `json:"grant_types"`
	// ResponseTypes defaults to what GrantTypes allow: "code" for
	// authorization_code, "token" for implicit.
	ResponseTypes []string `json:"response_types,omitempty"`
	// Scope is the space-separated scope the client may request.
	Scope string `json:"scope,omitempty"`
	// TokenEndpointAuthMethod defaults to client_secret_basic when a secret
	// is given and to none (a public client) otherwise.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// AccessTokenLifetime in seconds; 0 means the server default.
	AccessTokenLifetime int64 `json:"access_token_lifetime,omitempty"`
}

// SeedUser is a resource owner who can sign in.
type SeedUser struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Subject is the "sub" claim; it defaults to the username.
	Subject string `json:"subject,omitempty"`
}

// MaxSeedAccessTokenLifetime bounds access_token_lifetime (one year).
const MaxSeedAccessTokenLifetime = 365 * 24 * 60 * 60

var (
	knownGrantTypes    = []string{oauth.GrantAuthorizationCode, oauth.GrantImplicit, oauth.GrantPassword, oauth.GrantClientCredentials, oauth.GrantRefreshToken}
	knownAuthMethods   = []string{oauth.AuthMethodBasic, oauth.AuthMethodPost, oauth.AuthMethodNone}
	knownResponseTypes = []string{oauth.ResponseTypeCode, oauth.ResponseTypeToken}
)

// LoadSeed reads, validates and normalizes the seed file at path.
func LoadSeed(path string) (*Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	return ParseSeed(bytes.NewReader(data))
}

// ParseSeed decodes a seed strictly (unknown fields are errors), validates
// it and fills in defaults. It reports every problem it finds, one per line,
// each naming the entry, the field and the bad value, e.g.
//
//	seed: clients[1].grant_types: unknown grant type "foo"
func ParseSeed(r io.Reader) (*Seed, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	var raw struct {
		Clients []json.RawMessage `json:"clients"`
		Users   []json.RawMessage `json:"users"`
	}
	if err := decodeStrict(data, &raw); err != nil {
		return nil, fmt.Errorf("seed: %s", describeJSONError(data, "", err))
	}
	v := &validator{}
	seed := &Seed{Clients: make([]SeedClient, len(raw.Clients)), Users: make([]SeedUser, len(raw.Users))}
	for i, msg := range raw.Clients {
		at := fmt.Sprintf("clients[%d]", i)
		if err := decodeStrict(msg, &seed.Clients[i]); err != nil {
			v.errs = append(v.errs, fmt.Errorf("seed: %s", describeJSONError(msg, at, err)))
			continue
		}
		seed.Clients[i].normalize(at, v)
	}
	for i, msg := range raw.Users {
		at := fmt.Sprintf("users[%d]", i)
		if err := decodeStrict(msg, &seed.Users[i]); err != nil {
			v.errs = append(v.errs, fmt.Errorf("seed: %s", describeJSONError(msg, at, err)))
			continue
		}
		seed.Users[i].normalize(at, v)
	}
	seed.checkUnique(v)
	if err := errors.Join(v.errs...); err != nil {
		return nil, err
	}
	return seed, nil
}

// decodeStrict decodes exactly one JSON value, rejecting unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the top-level JSON value")
	}
	return nil
}

// describeJSONError rewrites a decoding error in seed terms: syntax errors
// get a line and column, type errors name the field.
func describeJSONError(data []byte, at string, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, including the offending one.
		line, col := position(data, max(syn.Offset-1, 0))
		return fmt.Sprintf("line %d, column %d: %s", line, col, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.Is(err, io.EOF):
		return "empty file: want a JSON object"
	case errors.As(err, &typ):
		field := at
		switch {
		case typ.Field != "" && at != "":
			field = at + "." + typ.Field
		case typ.Field != "":
			field = typ.Field
		case at == "":
			field = "top level"
		}
		return fmt.Sprintf("%s: JSON %s where %s was expected", field, typ.Value, jsonTypeName(typ.Type.Kind().String()))
	default:
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if at != "" {
			return at + ": " + msg
		}
		return msg
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	default:
		return "a number"
	}
}

// position converts a 0-based byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// validator collects errors of the form "seed: <where>: <what>".
type validator struct{ errs []error }

func (v *validator) fail(at, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("seed: %s: %s", at, fmt.Sprintf(format, args...)))
}

// normalize validates the client and fills in its defaults.
func (c *SeedClient) normalize(at string, v *validator) {
	switch {
	case c.ClientID == "":
		v.fail(at+".client_id", "is required")
	case !printableNoSpace(c.ClientID):
		v.fail(at+".client_id", "%q must be printable ASCII without spaces", c.ClientID)
	}

	// Authentication: a secret exactly when the method needs one.
	switch {
	case c.TokenEndpointAuthMethod == "" && c.ClientSecret != "":
		c.TokenEndpointAuthMethod = oauth.AuthMethodBasic
	case c.TokenEndpointAuthMethod == "":
		c.TokenEndpointAuthMethod = oauth.AuthMethodNone
	case !slices.Contains(knownAuthMethods, c.TokenEndpointAuthMethod):
		v.fail(at+".token_endpoint_auth_method", "unknown method %q (known: %s)",
			c.TokenEndpointAuthMethod, strings.Join(knownAuthMethods, ", "))
	case c.TokenEndpointAuthMethod == oauth.AuthMethodNone && c.ClientSecret != "":
		v.fail(at+".client_secret", "a public client (token_endpoint_auth_method %q) must not have a secret", oauth.AuthMethodNone)
	case c.TokenEndpointAuthMethod != oauth.AuthMethodNone && c.ClientSecret == "":
		v.fail(at+".client_secret", "is required for token_endpoint_auth_method %q (use %q for a public client)",
			c.TokenEndpointAuthMethod, oauth.AuthMethodNone)
	}
	public := c.TokenEndpointAuthMethod == oauth.AuthMethodNone

	// Grant types.
	if len(c.GrantTypes) == 0 {
		v.fail(at+".grant_types", "is required (known: %s)", strings.Join(knownGrantTypes, ", "))
	}
	for i, g := range c.GrantTypes {
		switch {
		case !slices.Contains(knownGrantTypes, g):
			v.fail(at+".grant_types", "unknown grant type %q (known: %s)", g, strings.Join(knownGrantTypes, ", "))
		case slices.Index(c.GrantTypes, g) < i:
			v.fail(at+".grant_types", "duplicate grant type %q", g)
		}
	}
	has := func(g string) bool { return slices.Contains(c.GrantTypes, g) }
	if public && has(oauth.GrantClientCredentials) {
		v.fail(at+".grant_types", "%q needs a confidential client (RFC 6749 §4.4); this client has no secret", oauth.GrantClientCredentials)
	}
	if has(oauth.GrantRefreshToken) && !has(oauth.GrantAuthorizationCode) && !has(oauth.GrantPassword) {
		v.fail(at+".grant_types", "%q needs %q or %q, the grants that issue refresh tokens",
			oauth.GrantRefreshToken, oauth.GrantAuthorizationCode, oauth.GrantPassword)
	}

	// Response types, consistent with the grant types (RFC 7591 §2.1).
	if len(c.ResponseTypes) == 0 {
		if has(oauth.GrantAuthorizationCode) {
			c.ResponseTypes = append(c.ResponseTypes, oauth.ResponseTypeCode)
		}
		if has(oauth.GrantImplicit) {
			c.ResponseTypes = append(c.ResponseTypes, oauth.ResponseTypeToken)
		}
	} else {
		for i, rt := range c.ResponseTypes {
			switch {
			case !slices.Contains(knownResponseTypes, rt):
				v.fail(at+".response_types", "unknown response type %q (known: %s)", rt, strings.Join(knownResponseTypes, ", "))
			case slices.Index(c.ResponseTypes, rt) < i:
				v.fail(at+".response_types", "duplicate response type %q", rt)
			case rt == oauth.ResponseTypeCode && !has(oauth.GrantAuthorizationCode):
				v.fail(at+".response_types", "%q needs grant type %q", rt, oauth.GrantAuthorizationCode)
			case rt == oauth.ResponseTypeToken && !has(oauth.GrantImplicit):
				v.fail(at+".response_types", "%q needs grant type %q", rt, oauth.GrantImplicit)
			}
		}
		if has(oauth.GrantAuthorizationCode) && !slices.Contains(c.ResponseTypes, oauth.ResponseTypeCode) {
			v.fail(at+".response_types", "grant type %q needs response type %q", oauth.GrantAuthorizationCode, oauth.ResponseTypeCode)
		}
		if has(oauth.GrantImplicit) && !slices.Contains(c.ResponseTypes, oauth.ResponseTypeToken) {
			v.fail(at+".response_types", "grant type %q needs response type %q", oauth.GrantImplicit, oauth.ResponseTypeToken)
		}
	}

	// Redirect URIs: required by the redirect-based grants.
	if len(c.RedirectURIs) == 0 && (has(oauth.GrantAuthorizationCode) || has(oauth.GrantImplicit)) {
		v.fail(at+".redirect_uris", "is required for grant types %q and %q", oauth.GrantAuthorizationCode, oauth.GrantImplicit)
	}
	for i, u := range c.RedirectURIs {
		field := fmt.Sprintf("%s.redirect_uris[%d]", at, i)
		if err := oauth.ValidateRedirectURI(u); err != nil {
			v.fail(field, "%s", describe(err))
		} else if slices.Index(c.RedirectURIs, u) < i {
			v.fail(field, "duplicate redirect URI %q", u)
		}
	}

	// Scope.
	scopes := strings.Fields(c.Scope)
	for i, s := range scopes {
		switch {
		case !config.ValidScopeToken(s):
			v.fail(at+".scope", "%q is not a valid scope token (RFC 6749 §3.3)", s)
		case slices.Index(scopes, s) < i:
			v.fail(at+".scope", "duplicate scope %q", s)
		}
	}
	c.Scope = strings.Join(scopes, " ")

	if c.AccessTokenLifetime < 0 || c.AccessTokenLifetime > MaxSeedAccessTokenLifetime {
		v.fail(at+".access_token_lifetime", "%d is out of range: want seconds between 1 and %d, or 0 for the server default",
			c.AccessTokenLifetime, MaxSeedAccessTokenLifetime)
	}
}

// normalize validates the user and fills in its defaults.
func (u *SeedUser) normalize(at string, v *validator) {
	switch {
	case u.Username == "":
		v.fail(at+".username", "is required")
	case !cleanText(u.Username):
		v.fail(at+".username", "%q must not have control characters or surrounding spaces", u.Username)
	}
	if u.Password == "" {
		v.fail(at+".password", "is required")
	}
	if u.Subject == "" {
		u.Subject = u.Username
	} else if !cleanText(u.Subject) {
		v.fail(at+".subject", "%q must not have control characters or surrounding spaces", u.Subject)
	}
}

// checkUnique reports repeated client IDs, usernames and subjects.
func (s *Seed) checkUnique(v *validator) {
	clients := map[string]int{}
	for i, c := range s.Clients {
		if c.ClientID == "" {
			continue
		}
		if j, ok := clients[c.ClientID]; ok {
			v.fail(fmt.Sprintf("clients[%d].client_id", i), "duplicate client_id %q (also clients[%d])", c.ClientID, j)
			continue
		}
		clients[c.ClientID] = i
	}
	usernames, subjects := map[string]int{}, map[string]int{}
	for i, u := range s.Users {
		if u.Username == "" {
			continue
		}
		if j, ok := usernames[u.Username]; ok {
			v.fail(fmt.Sprintf("users[%d].username", i), "duplicate username %q (also users[%d])", u.Username, j)
			continue
		}
		usernames[u.Username] = i
		if j, ok := subjects[u.Subject]; ok {
			v.fail(fmt.Sprintf("users[%d].subject", i), "duplicate subject %q (also users[%d])", u.Subject, j)
			continue
		}
		subjects[u.Subject] = i
	}
}

// describe returns an oauth.Error's description, or the error's text.
func describe(err error) string {
	var oe *oauth.Error
	if errors.As(err, &oe) && oe.Description != "" {
		return oe.Description
	}
	return err.Error()
}

func printableNoSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func cleanText(s string) bool {
	if strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

// OAuthClient returns the client as the store keeps it: the secret hashed
// with oauth.HashSecret, the scope split.
func (c *SeedClient) OAuthClient() *oauth.Client {
	var hash string
	if c.ClientSecret != "" {
		hash = oauth.HashSecret(c.ClientSecret)
	}
	return &oauth.Client{
		ID:                      c.ClientID,
		SecretHash:              hash,
		Name:                    c.ClientName,
		RedirectURIs:            slices.Clone(c.RedirectURIs),
		GrantTypes:              slices.Clone(c.GrantTypes),
		ResponseTypes:           slices.Clone(c.ResponseTypes),
		Scopes:                  strings.Fields(c.Scope),
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		AccessTokenLifetime:     time.Duration(c.AccessTokenLifetime) * time.Second,
	}
}

// Scopes returns the union of the clients' scopes, in order of first
// appearance.
func (s *Seed) Scopes() []string {
	var out []string
	for _, c := range s.Clients {
		for _, sc := range strings.Fields(c.Scope) {
			if !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		}
	}
	return out
}

// SeedStore is what Apply writes to: the admin methods every store offers.
type SeedStore interface {
	PutClient(ctx context.Context, c *oauth.Client) error
	PutUser(ctx context.Context, u *oauth.User) error
}

// Apply writes the seed's clients and users into store, replacing records
// with the same client ID or username. Passwords are hashed with hasher.
func (s *Seed) Apply(ctx context.Context, store SeedStore, hasher passwords.Hasher) error {
	for i := range s.Clients {
		c := &s.Clients[i]
		if err := store.PutClient(ctx, c.OAuthClient()); err != nil {
			return fmt.Errorf("seed: storing client %q: %w", c.ClientID, err)
		}
	}
	for _, u := range s.Users {
		hash, err := hasher.Hash(u.Password)
		if err != nil {
			return fmt.Errorf("seed: hashing the password of user %q: %w", u.Username, err)
		}
		if err := store.PutUser(ctx, &oauth.User{Subject: u.Subject, Username: u.Username, PasswordHash: hash}); err != nil {
			return fmt.Errorf("seed: storing user %q: %w", u.Username, err)
		}
	}
	return nil
}
