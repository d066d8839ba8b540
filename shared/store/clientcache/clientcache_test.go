package clientcache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/store/clientcache"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// counting is a memstore that counts its GetClient calls.
type counting struct {
	*memstore.Store
	calls atomic.Int64
}

func (c *counting) GetClient(ctx context.Context, id string) (*oauth.Client, error) {
	c.calls.Add(1)
	return c.Store.GetClient(ctx, id)
}

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
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

func newClient(id string) *oauth.Client {
	return &oauth.Client{
		ID:                      id,
		SecretHash:              oauth.HashSecret("secret-" + id),
		GrantTypes:              []string{oauth.GrantClientCredentials},
		Scopes:                  []string{"read", "write"},
		TokenEndpointAuthMethod: oauth.AuthMethodBasic,
	}
}

// fixture is a cache over a counting memstore holding client "svc".
type fixture struct {
	inner *counting
	clock *clock
	cache oauth.Store
}

func newFixture(t *testing.T, ttl time.Duration) *fixture {
	t.Helper()
	f := &fixture{inner: &counting{Store: memstore.New()}, clock: &clock{now: time.Unix(1_700_000_000, 0)}}
	if err := f.inner.PutClient(context.Background(), newClient("svc")); err != nil {
		t.Fatal(err)
	}
	f.cache = clientcache.New(f.inner, ttl, f.clock.Now)
	return f
}

// step is one action on a fixture: advance the clock, change the inner
// store, then call GetClient(id) on the cache and compare the inner call
// count afterwards.
type step struct {
	advance   time.Duration
	change    func(ctx context.Context, s *memstore.Store) error
	id        string
	wantErr   error // nil: the client must be found
	wantHash  string
	wantCalls int64
}

func TestGetClient(t *testing.T) {
	const ttl = 30 * time.Second
	rotate := func(ctx context.Context, s *memstore.Store) error {
		c := newClient("svc")
		c.SecretHash = oauth.HashSecret("rotated")
		return s.PutClient(ctx, c)
	}
	deleteSvc := func(ctx context.Context, s *memstore.Store) error { return s.DeleteClient(ctx, "svc") }
	addNew := func(ctx context.Context, s *memstore.Store) error { return s.PutClient(ctx, newClient("new")) }
	oldHash, newHash := oauth.HashSecret("secret-svc"), oauth.HashSecret("rotated")

	tests := []struct {
		name  string
		ttl   time.Duration
		steps []step
	}{
		{"hit within the ttl", ttl, []step{
			{id: "svc", wantHash: oldHash, wantCalls: 1},
			{id: "svc", wantHash: oldHash, wantCalls: 1},
			{advance: ttl - time.Nanosecond, id: "svc", wantHash: oldHash, wantCalls: 1},
		}},
		{"expires after the ttl", ttl, []step{
			{id: "svc", wantHash: oldHash, wantCalls: 1},
			{advance: ttl, id: "svc", wantHash: oldHash, wantCalls: 2},
			{advance: time.Second, id: "svc", wantHash: oldHash, wantCalls: 2},
		}},
		{"rotated secret served stale until the ttl", ttl, []step{
			{id: "svc", wantHash: oldHash, wantCalls: 1},
			{change: rotate, advance: time.Second, id: "svc", wantHash: oldHash, wantCalls: 1},
			{advance: ttl, id: "svc", wantHash: newHash, wantCalls: 2},
		}},
		{"deleted client served stale until the ttl", ttl, []step{
			{id: "svc", wantHash: oldHash, wantCalls: 1},
			{change: deleteSvc, id: "svc", wantHash: oldHash, wantCalls: 1},
			{advance: ttl, id: "svc", wantErr: oauth.ErrNotFound, wantCalls: 2},
		}},
		{"missing clients are not cached", ttl, []step{
			{id: "new", wantErr: oauth.ErrNotFound, wantCalls: 1},
			{id: "new", wantErr: oauth.ErrNotFound, wantCalls: 2},
			{change: addNew, id: "new", wantHash: oauth.HashSecret("secret-new"), wantCalls: 3},
			{id: "new", wantHash: oauth.HashSecret("secret-new"), wantCalls: 3},
		}},
		{"clients are cached separately", ttl, []step{
			{change: addNew, id: "svc", wantHash: oldHash, wantCalls: 1},
			{id: "new", wantHash: oauth.HashSecret("secret-new"), wantCalls: 2},
			{id: "svc", wantHash: oldHash, wantCalls: 2},
			{id: "new", wantHash: oauth.HashSecret("secret-new"), wantCalls: 2},
		}},
		{"ttl 0 disables caching", 0, []step{
			{id: "svc", wantHash: oldHash, wantCalls: 1},
			{id: "svc", wantHash: oldHash, wantCalls: 2},
			{change: rotate, id: "svc", wantHash: newHash, wantCalls: 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, tt.ttl)
			for i, s := range tt.steps {
				f.clock.Advance(s.advance)
				if s.change != nil {
					if err := s.change(ctx, f.inner.Store); err != nil {
						t.Fatal(err)
					}
				}
				c, err := f.cache.GetClient(ctx, s.id)
				switch {
				case s.wantErr != nil && !errors.Is(err, s.wantErr):
					t.Errorf("step %d: GetClient(%q) = %+v, %v; want %v", i, s.id, c, err, s.wantErr)
				case s.wantErr == nil && err != nil:
					t.Errorf("step %d: GetClient(%q): %v", i, s.id, err)
				case s.wantErr == nil && c.SecretHash != s.wantHash:
					t.Errorf("step %d: GetClient(%q) secret hash %q; want %q", i, s.id, c.SecretHash, s.wantHash)
				}
				if got := f.inner.calls.Load(); got != s.wantCalls {
					t.Errorf("step %d: inner GetClient called %d times; want %d", i, got, s.wantCalls)
				}
			}
		})
	}
}

func TestDisabledReturnsInner(t *testing.T) {
	inner := memstore.New()
	for _, ttl := range []time.Duration{0, -time.Second} {
		if got := clientcache.New(inner, ttl, nil); got != oauth.Store(inner) {
			t.Errorf("New(inner, %v) = %T; want inner itself", ttl, got)
		}
	}
}

func TestOtherMethodsPassThrough(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, time.Minute)
	u := &oauth.User{Subject: "s", Username: "alice", PasswordHash: "h"}
	if err := f.inner.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, err := f.cache.GetUser(ctx, "alice"); err != nil || got.Subject != "s" {
		t.Errorf("GetUser = %+v, %v", got, err)
	}
	if _, ok := f.cache.(interface {
		PutClient(context.Context, *oauth.Client) error
	}); ok {
		t.Error("the cache exposes PutClient: writes must not go through it")
	}
}

func TestReturnsCopies(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, time.Minute)
	for i := range 3 { // a miss, then hits
		c, err := f.cache.GetClient(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		if c.ID != "svc" || len(c.Scopes) != 2 || c.Scopes[0] != "read" || c.SecretHash != oauth.HashSecret("secret-svc") {
			t.Fatalf("call %d: cache was changed through a returned client: %+v", i, c)
		}
		c.ID = "mutated"
		c.SecretHash = ""
		c.Scopes[0] = "admin"
		c.GrantTypes = append(c.GrantTypes[:0], "password")
	}
	if got := f.inner.calls.Load(); got != 1 {
		t.Errorf("inner called %d times; want 1", got)
	}
}

func TestBounded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, time.Minute)
	n := clientcache.MaxEntries + 10
	for i := range n {
		if err := f.inner.PutClient(ctx, newClient(fmt.Sprint("c", i))); err != nil {
			t.Fatal(err)
		}
	}
	get := func(id string) {
		t.Helper()
		if _, err := f.cache.GetClient(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	// Fill the cache, one client per millisecond so their ages differ.
	for i := range n {
		get(fmt.Sprint("c", i))
		f.clock.Advance(time.Millisecond)
	}
	calls := f.inner.calls.Load()
	// The newest MaxEntries are cached; the 10 oldest were evicted.
	for i := n - 1; i >= n-clientcache.MaxEntries; i-- {
		get(fmt.Sprint("c", i))
	}
	if got := f.inner.calls.Load() - calls; got != 0 {
		t.Errorf("newest %d clients: %d misses; want 0", clientcache.MaxEntries, got)
	}
	get("c0")
	if got := f.inner.calls.Load() - calls; got != 1 {
		t.Errorf("oldest client: %d inner calls; want 1 (evicted)", got)
	}

	// Once every entry has expired, a miss drops them all.
	f.clock.Advance(time.Hour)
	get("svc")
	calls = f.inner.calls.Load()
	get("svc")
	get("c5")
	if got := f.inner.calls.Load() - calls; got != 1 {
		t.Errorf("after expiry: %d inner calls; want 1", got)
	}
}

func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 50*time.Millisecond)
	const clients = 40
	for i := range clients {
		if err := f.inner.PutClient(ctx, newClient(fmt.Sprint("c", i))); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprint("c", (g*7+i)%clients)
				c, err := f.cache.GetClient(ctx, id)
				if err != nil || c.ID != id {
					t.Errorf("GetClient(%q) = %+v, %v", id, c, err)
					return
				}
				c.Scopes[0] = "mutated"
				if i%50 == 0 {
					f.clock.Advance(10 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if got := f.inner.calls.Load(); got >= 8*500 {
		t.Errorf("%d inner calls for %d lookups: nothing was cached", got, 8*500)
	}
}
