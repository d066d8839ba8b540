package clientcache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/store/clientcache"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// reloading is a counting memstore that can also read a client afresh,
// as dynamostore does (a strongly consistent read); gate, if not nil,
// holds each fresh read until it is closed.
type reloading struct {
	counting
	reloads atomic.Int64
	gate    chan struct{}
}

func (r *reloading) ReloadClient(ctx context.Context, id string) (*oauth.Client, error) {
	r.reloads.Add(1)
	if r.gate != nil {
		<-r.gate
	}
	return r.Store.GetClient(ctx, id)
}

func reloader(t *testing.T, s oauth.Store) oauth.ClientReloader {
	t.Helper()
	r, ok := s.(oauth.ClientReloader)
	if !ok {
		t.Fatal("the cache does not implement oauth.ClientReloader")
	}
	return r
}

// TestReloadClient: a fresh read replaces the cached record (a rotated
// secret is seen at once), at most once per MinReloadInterval per client;
// a client that is gone leaves the cache.
func TestReloadClient(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, time.Minute)
	r := reloader(t, f.cache)
	if _, err := f.cache.GetClient(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	rotated := newClient("svc")
	rotated.RotateSecret("new-secret", f.clock.Now(), time.Hour)
	if err := f.inner.PutClient(ctx, rotated); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.cache.GetClient(ctx, "svc"); c.SecretMatches("new-secret", f.clock.Now()) {
		t.Fatal("the cache saw the rotation without a fresh read")
	}

	calls := f.inner.calls.Load()
	c, err := r.ReloadClient(ctx, "svc")
	if err != nil || !c.SecretMatches("new-secret", f.clock.Now()) || !c.SecretMatches("secret-svc", f.clock.Now()) {
		t.Fatalf("ReloadClient = %+v, %v; want the rotated record", c, err)
	}
	if got := f.inner.calls.Load() - calls; got != 1 {
		t.Errorf("ReloadClient read the inner store %d times, want 1", got)
	}
	if c, _ := f.cache.GetClient(ctx, "svc"); !c.SecretMatches("new-secret", f.clock.Now()) {
		t.Error("GetClient after ReloadClient serves the record from before")
	}

	// Within MinReloadInterval, further reloads are the cached record.
	calls = f.inner.calls.Load()
	for range 10 {
		if _, err := r.ReloadClient(ctx, "svc"); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(clientcache.MinReloadInterval - time.Millisecond)
	if _, err := r.ReloadClient(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	if got := f.inner.calls.Load() - calls; got != 0 {
		t.Errorf("11 reloads within %s read the inner store %d times, want 0", clientcache.MinReloadInterval, got)
	}
	f.clock.Advance(time.Millisecond)
	if _, err := r.ReloadClient(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	if got := f.inner.calls.Load() - calls; got != 1 {
		t.Errorf("a reload after %s read the inner store %d times, want 1", clientcache.MinReloadInterval, got)
	}

	// A deleted client: the reload says so, and the cache forgets it.
	f.clock.Advance(clientcache.MinReloadInterval)
	if err := f.inner.DeleteClient(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReloadClient(ctx, "svc"); !errors.Is(err, oauth.ErrNotFound) {
		t.Fatalf("ReloadClient of a deleted client: %v, want ErrNotFound", err)
	}
	if _, err := f.cache.GetClient(ctx, "svc"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("GetClient after the reload found the deleted client: %v", err)
	}
}

// TestReloadClientUsesInnerReload: the fresh read is the inner store's
// ReloadClient where it has one (dynamostore's strongly consistent read).
func TestReloadClientUsesInnerReload(t *testing.T) {
	ctx := context.Background()
	inner := &reloading{counting: counting{Store: memstore.New()}}
	if err := inner.PutClient(ctx, newClient("svc")); err != nil {
		t.Fatal(err)
	}
	cache := clientcache.New(inner, time.Minute, nil)
	if _, err := reloader(t, cache).ReloadClient(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	if inner.reloads.Load() != 1 || inner.calls.Load() != 0 {
		t.Errorf("%d inner reloads and %d GetClient calls, want 1 and 0", inner.reloads.Load(), inner.calls.Load())
	}
}

// TestReloadClientConcurrent: concurrent reloads of one client share one
// fresh read, and each gets the fresh record (a copy of its own).
func TestReloadClientConcurrent(t *testing.T) {
	ctx := context.Background()
	inner := &reloading{counting: counting{Store: memstore.New()}, gate: make(chan struct{})}
	if err := inner.PutClient(ctx, newClient("svc")); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	cache := clientcache.New(inner, time.Minute, clk.Now)
	r := reloader(t, cache)

	const n = 40
	got := make([]*oauth.Client, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = r.ReloadClient(ctx, "svc") })
	}
	for inner.reloads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others queue behind it
	close(inner.gate)
	wg.Wait()
	if inner.reloads.Load() != 1 {
		t.Errorf("%d concurrent reloads read the inner store %d times, want 1", n, inner.reloads.Load())
	}
	for i := range n {
		if errs[i] != nil || got[i] == nil || got[i].ID != "svc" {
			t.Fatalf("reload %d: %+v, %v", i, got[i], errs[i])
		}
		if i > 0 && got[i] == got[0] {
			t.Fatalf("reloads %d and 0 share one record", i)
		}
	}
	got[0].Scopes[0] = "changed"
	if c, _ := cache.GetClient(ctx, "svc"); c.Scopes[0] != "read" {
		t.Error("changing a reloaded client changed the cache")
	}
}
