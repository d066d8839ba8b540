// Package storetest is a conformance suite for oauth.Store implementations:
// one set of cases that every store must pass. Call Run from a store's
// tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Harness {
//			s := memstore.New()
//			return storetest.Harness{Store: s, Admin: s}
//		})
//	}
//
// Every case writes its own records under fresh random keys, so one
// database (a DynamoDB Local table, say) can serve every case of every run.
// Expiry is tested with records whose ExpiresAt is an hour in the past, or
// two seconds ahead followed by a wait, so the suite needs no control of
// the store's clock; Harness.Advance only lets a store with a fake clock
// skip the wait.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Admin is the part of a store's administrative API the suite uses to seed
// the records that oauth.Store only reads.
type Admin interface {
	// PutClient creates the client or replaces the one with the same ID.
	PutClient(ctx context.Context, c *oauth.Client) error
	// PutUser creates the user or replaces the one with the same username.
	PutUser(ctx context.Context, u *oauth.User) error
	// DeleteUser deletes the user with this username.
	DeleteUser(ctx context.Context, username string) error
}

// Harness is one store under test.
type Harness struct {
	// Store is the implementation under test.
	Store oauth.Store
	// Admin seeds clients and users for the GetClient and GetUser cases.
	Admin Admin
	// Now is the store's clock; nil means time.Now.
	Now func() time.Time
	// Advance moves the store's clock forward by d; nil means the suite
	// sleeps instead. Set it together with Now, and make it move only the
	// clock of this harness's store.
	Advance func(d time.Duration)
}

// Run runs the conformance suite as subtests of t, calling newStore once
// per case. newStore may return the same database every time: the cases
// use unique keys.
func Run(t *testing.T, newStore func(t *testing.T) Harness) {
	for _, g := range suite {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					c.run(&env{T: t, h: newStore(t), ctx: t.Context()})
				})
			}
		})
	}
}

// group is a named set of cases.
type group struct {
	name  string
	cases []testCase
}

// testCase is one case of the suite.
type testCase struct {
	name string
	run  func(e *env)
}

// env is what a case runs with: its test, the store under test and helpers.
type env struct {
	*testing.T
	h   Harness
	ctx context.Context
}

// sub returns the env of a subtest t of e.
func (e *env) sub(t *testing.T) *env { return &env{T: t, h: e.h, ctx: t.Context()} }

// Clock.

func (e *env) now() time.Time {
	if e.h.Now != nil {
		return e.h.Now()
	}
	return time.Now()
}

// later is an expiry time no case outlives; earlier has already passed.
func (e *env) later() time.Time   { return e.now().Add(time.Hour) }
func (e *env) earlier() time.Time { return e.now().Add(-time.Hour) }

// waitUntil returns once the store's clock has passed t.
func (e *env) waitUntil(t time.Time) {
	d := t.Sub(e.now()) + 100*time.Millisecond
	if e.h.Advance != nil {
		e.h.Advance(d)
	} else {
		time.Sleep(d)
	}
}

// Record factories. Every field is set, so comparisons check them all.

func id() string { return oauth.RandomToken() }

func hash() string { return oauth.HashToken(oauth.RandomToken()) }

func (e *env) newClient() *oauth.Client {
	return &oauth.Client{
		ID:                      "client-" + id(),
		SecretHash:              oauth.HashSecret(oauth.NewClientSecret()),
		Name:                    "Test Client",
		RedirectURIs:            []string{"https://app.example/cb", "https://app.example/cb2"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "profile", "email"},
		TokenEndpointAuthMethod: "client_secret_basic",
		AccessTokenLifetime:     15 * time.Minute,
		ClientURI:               "https://app.example/",
		LogoURI:                 "https://app.example/logo.png",
		FirstParty:              true,
		IntrospectionAllowed:    true,
		PreviousSecretHash:      oauth.HashSecret(oauth.NewClientSecret()),
		PreviousSecretExpiresAt: e.later(),
		PostLogoutRedirectURIs:  []string{"https://app.example/signed-out", "https://app.example/bye"},
	}
}

// newPrivateKeyJWTClient is a confidential client authenticating with
// private_key_jwt, its public keys inline. The keys' material is not
// checked by stores, so it need not be real.
func (e *env) newPrivateKeyJWTClient() *oauth.Client {
	c := e.newClient()
	c.SecretHash = ""
	c.GrantTypes = []string{"client_credentials"}
	c.RedirectURIs, c.ResponseTypes = nil, nil
	c.TokenEndpointAuthMethod = "private_key_jwt"
	c.JWKS = &oauth.JWKS{Keys: []oauth.JWK{
		{Kty: "RSA", Use: "sig", Alg: "PS256", Kid: "rsa-" + id(), N: id() + id(), E: "AQAB"},
		{Kty: "EC", Kid: "ec-" + id(), Crv: "P-256", X: id(), Y: id()},
	}}
	return c
}

func (e *env) newUser() *oauth.User {
	return &oauth.User{
		Subject:      "sub-" + id(),
		Username:     "user-" + id(),
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$" + id(),
		Consents:     map[string][]string{"client-" + id(): {"read", "write"}, "client-" + id(): {}},
	}
}

func (e *env) newCode(expiresAt time.Time) *oauth.AuthorizationCode {
	return &oauth.AuthorizationCode{
		Hash:                hash(),
		GrantID:             id(),
		ClientID:            "client-" + id(),
		RedirectURI:         "https://app.example/cb",
		Scopes:              []string{"openid", "profile"},
		Subject:             "sub-" + id(),
		Username:            "user-" + id(),
		CodeChallenge:       id(),
		CodeChallengeMethod: "S256",
		AuthTime:            e.now().Add(-5 * time.Minute),
		ExpiresAt:           expiresAt,
	}
}

func (e *env) newRefreshToken(grantID string, expiresAt time.Time) *oauth.RefreshToken {
	return &oauth.RefreshToken{
		Hash:      hash(),
		GrantID:   grantID,
		ClientID:  "client-" + id(),
		Subject:   "sub-" + id(),
		Username:  "user-" + id(),
		Scopes:    []string{"openid", "offline_access"},
		IssuedAt:  e.now(),
		ExpiresAt: expiresAt,
	}
}

// nextToken is the token that rotation of t issues: same grant and owner,
// new hash.
func (e *env) nextToken(t *oauth.RefreshToken) *oauth.RefreshToken {
	next := *t
	next.Hash = hash()
	next.Scopes = slices.Clone(t.Scopes)
	next.IssuedAt = e.now()
	next.Rotated = false
	next.GrantRevoked = false
	return &next
}

func (e *env) newSession(expiresAt time.Time) *oauth.Session {
	return &oauth.Session{
		Hash:          hash(),
		Subject:       "sub-" + id(),
		Username:      "user-" + id(),
		AuthTime:      e.now().Add(-time.Minute),
		ExpiresAt:     expiresAt.Add(time.Hour),
		IdleExpiresAt: expiresAt,
		Consents:      map[string][]string{"client-" + id(): {"profile"}},
	}
}

// Writes that must succeed.

func (e *env) must(err error, what string) {
	e.Helper()
	if err != nil {
		e.Fatalf("%s: %v", what, err)
	}
}

func (e *env) createCode(c *oauth.AuthorizationCode) {
	e.Helper()
	e.must(e.h.Store.CreateCode(e.ctx, c, nil), "CreateCode")
}

func (e *env) createRefreshToken(t *oauth.RefreshToken) {
	e.Helper()
	e.must(e.h.Store.CreateRefreshToken(e.ctx, t), "CreateRefreshToken")
}

func (e *env) createSession(s *oauth.Session) {
	e.Helper()
	e.must(e.h.Store.CreateSession(e.ctx, s), "CreateSession")
}

func (e *env) revokeGrant(grantID string, keepUntil time.Time) {
	e.Helper()
	e.must(e.h.Store.RevokeGrant(e.ctx, grantID, keepUntil), "RevokeGrant")
}

func (e *env) revokeAccessToken(jti string, expiresAt time.Time) {
	e.Helper()
	e.must(e.h.Store.RevokeAccessToken(e.ctx, jti, expiresAt), "RevokeAccessToken")
}

// Reads and their expectations.

// wantErr fails unless err is (or wraps) target.
func (e *env) wantErr(err, target error, what string) {
	e.Helper()
	if !errors.Is(err, target) {
		e.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

// found reports whether a read found its record: true for no error, false
// for ErrNotFound; any other error fails the test.
func (e *env) found(err error, what string) bool {
	e.Helper()
	if err != nil && !errors.Is(err, oauth.ErrNotFound) {
		e.Fatalf("%s: unexpected error %v", what, err)
	}
	return err == nil
}

// wantCode fails unless the stored code with want's hash equals want.
func (e *env) wantCode(want *oauth.AuthorizationCode) {
	e.Helper()
	got, err := e.h.Store.GetCode(e.ctx, want.Hash)
	e.must(err, "GetCode")
	e.wantEqual("GetCode", got, want)
}

// wantNoCode fails unless GetCode(hash) is ErrNotFound.
func (e *env) wantNoCode(hash string) {
	e.Helper()
	_, err := e.h.Store.GetCode(e.ctx, hash)
	e.wantErr(err, oauth.ErrNotFound, "GetCode")
}

// wantRefreshToken fails unless the stored token equals want with Rotated
// and GrantRevoked as given.
func (e *env) wantRefreshToken(want *oauth.RefreshToken, rotated, grantRevoked bool) {
	e.Helper()
	got, err := e.h.Store.GetRefreshToken(e.ctx, want.GrantID, want.Hash)
	e.must(err, "GetRefreshToken")
	w := *want
	w.Rotated, w.GrantRevoked = rotated, grantRevoked
	e.wantEqual("GetRefreshToken", got, &w)
}

// wantNoRefreshToken fails unless GetRefreshToken is ErrNotFound.
func (e *env) wantNoRefreshToken(grantID, hash string) {
	e.Helper()
	_, err := e.h.Store.GetRefreshToken(e.ctx, grantID, hash)
	e.wantErr(err, oauth.ErrNotFound, "GetRefreshToken")
}

// wantSession fails unless the stored session equals want.
func (e *env) wantSession(want *oauth.Session) {
	e.Helper()
	got, err := e.h.Store.GetSession(e.ctx, want.Hash)
	e.must(err, "GetSession")
	e.wantEqual("GetSession", got, want)
}

// wantNoSession fails unless GetSession(hash) is ErrNotFound.
func (e *env) wantNoSession(hash string) {
	e.Helper()
	_, err := e.h.Store.GetSession(e.ctx, hash)
	e.wantErr(err, oauth.ErrNotFound, "GetSession")
}

// wantRevoked fails unless AccessTokenRevoked(jti, grantID) is want.
func (e *env) wantRevoked(jti, grantID string, want bool) {
	e.Helper()
	got, err := e.h.Store.AccessTokenRevoked(e.ctx, jti, grantID)
	e.must(err, "AccessTokenRevoked")
	if got != want {
		e.Fatalf("AccessTokenRevoked(jti, grant %q) = %v, want %v", grantID, got, want)
	}
}

// wantEqual fails unless got, a non-nil pointer to a record, equals want
// field by field.
func (e *env) wantEqual(what string, got, want any) {
	e.Helper()
	if reflect.ValueOf(got).IsNil() {
		e.Fatalf("%s returned a nil record", what)
	}
	if d := diff(got, want); len(d) > 0 {
		e.Fatalf("%s returned a different record:\n%s", what, d)
	}
}

// diff lists the fields in which *got differs from *want. Times are
// compared at second precision, as a store may keep epoch seconds, and a
// nil slice equals an empty one.
func diff(got, want any) string {
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	var out string
	for i := range w.NumField() {
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		if !fieldEqual(gf, wf) {
			out += fmt.Sprintf("\t%s = %v, want %v\n", w.Type().Field(i).Name, gf, wf)
		}
	}
	return out
}

func fieldEqual(got, want any) bool {
	switch w := want.(type) {
	case time.Time:
		return got.(time.Time).Truncate(time.Second).Equal(w.Truncate(time.Second))
	case []string:
		return slices.Equal(got.([]string), w)
	case *oauth.JWKS:
		return reflect.DeepEqual(got, w)
	case map[string][]string: // consents: scopes compared as sets; nil equals empty
		g := got.(map[string][]string)
		if len(g) != len(w) {
			return false
		}
		for k, ws := range w {
			gs, ok := g[k]
			if !ok || !slices.Equal(slices.Sorted(slices.Values(gs)), slices.Sorted(slices.Values(ws))) {
				return false
			}
		}
		return true
	default:
		return got == want
	}
}

// concurrently calls fn(0) … fn(n-1) in n goroutines released at once and
// returns their errors.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner fails unless exactly one of errs is nil and the rest are
// ErrConflict, and returns the winner's index.
func (e *env) oneWinner(errs []error, what string) int {
	e.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			e.Fatalf("%s: calls %d and %d both succeeded", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, oauth.ErrConflict):
			e.Fatalf("%s: call %d: error %v, want %v", what, i, err, oauth.ErrConflict)
		}
	}
	if winner < 0 {
		e.Fatalf("%s: no call succeeded", what)
	}
	return winner
}
