package memstore_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
	"github.com/gatehouse/gatehouse/shared/store/storetest"
)

// TestConformance runs the store suite on the real clock, as it would run
// against DynamoDB Local.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) storetest.Harness {
		s := memstore.New()
		return storetest.Harness{Store: s, Admin: s}
	})
}

// TestConformanceFakeClock runs the store suite on a fake clock that starts
// mid-second and moves only when the suite advances it.
func TestConformanceFakeClock(t *testing.T) {
	storetest.Run(t, func(*testing.T) storetest.Harness {
		clock := newClock()
		s := memstore.New()
		s.Now = clock.Now
		return storetest.Harness{Store: s, Admin: s, Now: clock.Now, Advance: clock.Advance}
	})
}

// clock is a fake clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestNewUsesRealClock(t *testing.T) {
	s := memstore.New()
	before := time.Now()
	if got := s.Now(); got.Before(before) || time.Since(got) > time.Minute {
		t.Errorf("New().Now() = %v, want about %v", got, before)
	}
}

// TestClockDecidesExpiry: expiry follows the store's Now, not time.Now.
func TestClockDecidesExpiry(t *testing.T) {
	ctx := t.Context()
	clock := newClock()
	s := memstore.New()
	s.Now = clock.Now
	sess := &oauth.Session{Hash: "h", ExpiresAt: clock.Now().Add(time.Minute)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, "h"); err != nil {
		t.Fatalf("GetSession before expiry: %v", err)
	}
	clock.Advance(time.Minute)
	if _, err := s.GetSession(ctx, "h"); !errors.Is(err, oauth.ErrNotFound) {
		t.Fatalf("GetSession at expiry: error %v, want ErrNotFound", err)
	}
	// The expired record is as good as gone: its hash can be reused.
	sess.ExpiresAt = clock.Now().Add(time.Minute)
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession over an expired session: %v", err)
	}
}

// TestCopiesIn: changing a record after storing it does not change the
// store.
func TestCopiesIn(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	exp := time.Now().Add(time.Hour)

	client := &oauth.Client{ID: "c", RedirectURIs: []string{"https://a/cb"}, GrantTypes: []string{"g"},
		ResponseTypes: []string{"code"}, Scopes: []string{"s"}}
	code := &oauth.AuthorizationCode{Hash: "code", GrantID: "g", Scopes: []string{"s"}, ExpiresAt: exp}
	token := &oauth.RefreshToken{Hash: "rt", GrantID: "g", Scopes: []string{"s"}, ExpiresAt: exp}
	first := &oauth.RefreshToken{Hash: "rt1", GrantID: "g", Scopes: []string{"s"}, ExpiresAt: exp}
	next := &oauth.RefreshToken{Hash: "rt2", GrantID: "g", Scopes: []string{"s"}, ExpiresAt: exp}
	user := &oauth.User{Username: "u", Subject: "sub"}
	sess := &oauth.Session{Hash: "sess", Subject: "sub", ExpiresAt: exp}
	mustOK(t, s.PutClient(ctx, client))
	mustOK(t, s.CreateCode(ctx, code, nil))
	mustOK(t, s.CreateRefreshToken(ctx, token))
	mustOK(t, s.RedeemCode(ctx, code.Hash, code.GrantID, first))
	mustOK(t, s.RotateRefreshToken(ctx, first.Hash, next))
	mustOK(t, s.PutUser(ctx, user))
	mustOK(t, s.CreateSession(ctx, sess))

	for _, ss := range [][]string{client.RedirectURIs, client.GrantTypes, client.ResponseTypes,
		client.Scopes, code.Scopes, token.Scopes, first.Scopes, next.Scopes} {
		ss[0] = "changed"
	}
	client.Name, code.Subject, token.Subject, first.Subject, next.Subject = "x", "x", "x", "x", "x"
	user.Subject, sess.Subject = "x", "x"

	c, _ := s.GetClient(ctx, "c")
	if c.Name != "" || slices.Contains(slices.Concat(c.RedirectURIs, c.GrantTypes, c.ResponseTypes, c.Scopes), "changed") {
		t.Errorf("stored client changed: %+v", c)
	}
	gotCode, _ := s.GetCode(ctx, "code")
	if gotCode.Subject != "" || gotCode.Scopes[0] != "s" {
		t.Errorf("stored code changed: %+v", gotCode)
	}
	for _, hash := range []string{"rt", "rt1", "rt2"} {
		rt, _ := s.GetRefreshToken(ctx, "g", hash)
		if rt.Subject != "" || rt.Scopes[0] != "s" {
			t.Errorf("stored refresh token %s changed: %+v", hash, rt)
		}
	}
	if u, _ := s.GetUser(ctx, "u"); u.Subject != "sub" {
		t.Errorf("stored user changed: %+v", u)
	}
	if got, _ := s.GetSession(ctx, "sess"); got.Subject != "sub" {
		t.Errorf("stored session changed: %+v", got)
	}
}

// TestCopiesOut: changing a returned record does not change the store.
func TestCopiesOut(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	exp := time.Now().Add(time.Hour)
	mustOK(t, s.PutClient(ctx, &oauth.Client{ID: "c", RedirectURIs: []string{"https://a/cb"},
		GrantTypes: []string{"g"}, ResponseTypes: []string{"code"}, Scopes: []string{"s"}}))
	mustOK(t, s.CreateCode(ctx, &oauth.AuthorizationCode{Hash: "code", Scopes: []string{"s"}, ExpiresAt: exp}, nil))
	mustOK(t, s.CreateRefreshToken(ctx, &oauth.RefreshToken{Hash: "rt", GrantID: "g", Scopes: []string{"s"}, ExpiresAt: exp}))
	mustOK(t, s.PutUser(ctx, &oauth.User{Username: "u", Subject: "sub"}))
	mustOK(t, s.CreateSession(ctx, &oauth.Session{Hash: "sess", Subject: "sub", ExpiresAt: exp}))

	changeClient := func(c *oauth.Client) {
		c.Name = "x"
		c.RedirectURIs[0], c.GrantTypes[0], c.ResponseTypes[0], c.Scopes[0] = "x", "x", "x", "x"
	}
	c, _ := s.GetClient(ctx, "c")
	changeClient(c)
	list, _ := s.ListClients(ctx)
	changeClient(list[0])
	code, _ := s.GetCode(ctx, "code")
	code.Subject, code.Scopes[0] = "x", "x"
	rt, _ := s.GetRefreshToken(ctx, "g", "rt")
	rt.Subject, rt.Scopes[0] = "x", "x"
	u, _ := s.GetUser(ctx, "u")
	u.Subject = "x"
	sess, _ := s.GetSession(ctx, "sess")
	sess.Subject = "x"

	c, _ = s.GetClient(ctx, "c")
	if c.Name != "" || slices.Contains(slices.Concat(c.RedirectURIs, c.GrantTypes, c.ResponseTypes, c.Scopes), "x") {
		t.Errorf("stored client changed: %+v", c)
	}
	if code, _ = s.GetCode(ctx, "code"); code.Subject != "" || code.Scopes[0] != "s" {
		t.Errorf("stored code changed: %+v", code)
	}
	if rt, _ = s.GetRefreshToken(ctx, "g", "rt"); rt.Subject != "" || rt.Scopes[0] != "s" {
		t.Errorf("stored refresh token changed: %+v", rt)
	}
	if u, _ = s.GetUser(ctx, "u"); u.Subject != "sub" {
		t.Errorf("stored user changed: %+v", u)
	}
	if sess, _ = s.GetSession(ctx, "sess"); sess.Subject != "sub" {
		t.Errorf("stored session changed: %+v", sess)
	}
}

// TestGrantRevokedNotStored: GrantRevoked on a token passed in is ignored;
// only RevokeGrant sets it.
func TestGrantRevokedNotStored(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	mustOK(t, s.CreateRefreshToken(ctx, &oauth.RefreshToken{Hash: "rt", GrantID: "g",
		ExpiresAt: time.Now().Add(time.Hour), GrantRevoked: true}))
	rt, err := s.GetRefreshToken(ctx, "g", "rt")
	mustOK(t, err)
	if rt.GrantRevoked {
		t.Error("GrantRevoked = true without RevokeGrant")
	}
}

// TestRevokeNeverShortens: a second revocation with an earlier end does not
// cut the first one short.
func TestRevokeNeverShortens(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	now := time.Now()
	mustOK(t, s.RevokeGrant(ctx, "g", now.Add(time.Hour)))
	mustOK(t, s.RevokeGrant(ctx, "g", now.Add(-time.Hour)))
	mustOK(t, s.RevokeAccessToken(ctx, "jti", now.Add(time.Hour)))
	mustOK(t, s.RevokeAccessToken(ctx, "jti", now.Add(-time.Hour)))
	for _, args := range [][2]string{{"other", "g"}, {"jti", ""}} {
		if revoked, _ := s.AccessTokenRevoked(ctx, args[0], args[1]); !revoked {
			t.Errorf("AccessTokenRevoked(%q, %q) = false after a later revocation", args[0], args[1])
		}
	}
}

func TestClientAdmin(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	if list, err := s.ListClients(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListClients on an empty store = %v, %v; want none", list, err)
	}
	for _, id := range []string{"b", "c", "a"} {
		mustOK(t, s.PutClient(ctx, &oauth.Client{ID: id, Name: "old " + id}))
	}
	mustOK(t, s.PutClient(ctx, &oauth.Client{ID: "b", Name: "new b"}))
	if c, err := s.GetClient(ctx, "b"); err != nil || c.Name != "new b" {
		t.Errorf("GetClient after replacing = %+v, %v; want name %q", c, err, "new b")
	}

	mustOK(t, s.DeleteClient(ctx, "c"))
	if _, err := s.GetClient(ctx, "c"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("GetClient after DeleteClient: error %v, want ErrNotFound", err)
	}
	if err := s.DeleteClient(ctx, "c"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("DeleteClient of a missing client: error %v, want ErrNotFound", err)
	}

	list, err := s.ListClients(ctx)
	mustOK(t, err)
	var got []string
	for _, c := range list {
		got = append(got, c.ID+"="+c.Name)
	}
	if want := []string{"a=old a", "b=new b"}; !slices.Equal(got, want) {
		t.Errorf("ListClients = %v, want %v", got, want)
	}
}

func TestUserAdmin(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	mustOK(t, s.PutUser(ctx, &oauth.User{Username: "alice", Subject: "1", PasswordHash: "old"}))
	mustOK(t, s.PutUser(ctx, &oauth.User{Username: "alice", Subject: "1", PasswordHash: "new"}))
	if u, err := s.GetUser(ctx, "alice"); err != nil || u.PasswordHash != "new" {
		t.Errorf("GetUser after replacing = %+v, %v; want password hash %q", u, err, "new")
	}
	mustOK(t, s.DeleteUser(ctx, "alice"))
	if _, err := s.GetUser(ctx, "alice"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("GetUser after DeleteUser: error %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(ctx, "alice"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("DeleteUser of a missing user: error %v, want ErrNotFound", err)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
