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

	"github.com/gatehouse/gatehouse/shared/oauth"
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
//	    "scope": "read write",
//	    "introspection_allowed": true
//	  }, {
//	    "client_id": "demo-web",
//	    "client_secret": "dev-secret-demo-web-change-me",
//	    "redirect_uris": ["http://127.0.0.1:9000/callback"],
//	    "grant_types": ["authorization_code"],
//	    "client_uri": "http://127.0.0.1:9000/",
//	    "first_party": false
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
// each naming the entry, the field and the bad value, and a client's
// client_id, e.g.
//
//	seed: clients[1].grant_types: unknown grant type "foo" (client "web")
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
		v.addClientFields(at, &seed.Clients[i])
	}
	for i, msg := range raw.Users {
		at := fmt.Sprintf("users[%d]", i)
		if err := decodeStrict(msg, &seed.Users[i]); err != nil {
			v.errs = append(v.errs, fmt.Errorf("seed: %s", describeJSONError(msg, at, err)))
			continue
		}
		v.addFields(at, seed.Users[i].Validate())
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
		// A user's claims are an embedded struct: drop its Go name.
		typ.Field = strings.TrimPrefix(typ.Field, "UserClaims.")
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

// addFields reports the problems of the entry at, e.g. "clients[1]".
func (v *validator) addFields(at string, errs []FieldError) {
	for _, e := range errs {
		v.fail(at+"."+e.Field, "%s", e.Message)
	}
}

// addClientFields reports the problems of the client entry at, naming the
// client by its client_id too (when it has a usable one), since a long seed
// file is easier searched by id than counted by index.
func (v *validator) addClientFields(at string, c *SeedClient) {
	errs := c.Validate()
	if c.ClientID == "" || !printableNoSpace(c.ClientID) {
		v.addFields(at, errs)
		return
	}
	for _, e := range errs {
		v.fail(at+"."+e.Field, "%s (client %q)", e.Message, c.ClientID)
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
		if u.Subject == "" {
			continue
		}
		if j, ok := subjects[u.Subject]; ok {
			v.fail(fmt.Sprintf("users[%d].subject", i), "duplicate subject %q (also users[%d])", u.Subject, j)
			continue
		}
		subjects[u.Subject] = i
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

// seedSubject is the subject Apply stores for u: the one the seed pins,
// else the one the stored user already has (a subject never changes:
// OpenID Connect Core 1.0 §2), else a new random one (oauth.NewSubject).
// It also returns the stored user's claims (nil if none), from which
// Apply keeps updated_at when the claims did not change (StampClaims).
func seedSubject(ctx context.Context, store SeedStore, u *SeedUser) (string, *oauth.UserClaims, error) {
	old, err := store.GetUser(ctx, u.Username)
	switch {
	case err != nil && !errors.Is(err, oauth.ErrNotFound):
		return "", nil, fmt.Errorf("seed: reading user %q: %w", u.Username, err)
	case err != nil:
		old = nil
	}
	var oldClaims *oauth.UserClaims
	if old != nil && (u.Subject == "" || old.Subject == u.Subject) {
		oldClaims = old.Claims
	}
	switch {
	case u.Subject != "":
		return u.Subject, oldClaims, nil
	case old != nil && old.Subject != "":
		return old.Subject, oldClaims, nil
	}
	return oauth.NewSubject(), nil, nil
}

// SeedStore is what Apply writes to: the admin methods every store offers.
type SeedStore interface {
	PutClient(ctx context.Context, c *oauth.Client) error
	GetUser(ctx context.Context, username string) (*oauth.User, error)
	PutUser(ctx context.Context, u *oauth.User) error
}

// PasswordHasher hashes a user's password for storage: passwords.Hasher.
type PasswordHasher interface {
	Hash(password string) (string, error)
}

// Apply writes the seed's clients and users into store, replacing records
// with the same client ID or username. Passwords are hashed with hasher;
// a nil hasher (a program that signs no user in) loads the clients only.
func (s *Seed) Apply(ctx context.Context, store SeedStore, hasher PasswordHasher) error {
	for i := range s.Clients {
		c := &s.Clients[i]
		if err := store.PutClient(ctx, c.OAuthClient()); err != nil {
			return fmt.Errorf("seed: storing client %q: %w", c.ClientID, err)
		}
	}
	if hasher == nil {
		return nil
	}
	for _, u := range s.Users {
		hash, err := hasher.Hash(u.Password)
		if err != nil {
			return fmt.Errorf("seed: hashing the password of user %q: %w", u.Username, err)
		}
		sub, old, err := seedSubject(ctx, store, &u)
		if err != nil {
			return err
		}
		claims := StampClaims(&u.UserClaims, old, time.Now())
		if err := store.PutUser(ctx, &oauth.User{Subject: sub, Username: u.Username, PasswordHash: hash, Claims: claims}); err != nil {
			return fmt.Errorf("seed: storing user %q: %w", u.Username, err)
		}
	}
	return nil
}
