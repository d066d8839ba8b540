// Package clientcache caches client records in a warm Lambda container, so
// the token endpoint's client_credentials grant costs no DynamoDB read for
// a client seen in the last few seconds (docs/design.md: "On a warm container
// the client record ... is cached (short, configurable TTL)").
//
// The trade-off: a cached client is served as it was when it was read. A
// deleted client or any other change to a client takes up to the TTL to
// take effect in a warm container (each container has its own cache, so
// they catch up independently). Secrets are the exception that matters:
// a secret that matches neither secret of the cached record earns one
// fresh read (ReloadClient, at most one a second per client), so a secret
// just set by `gatehouse clients rotate-secret` works at once. The old
// secret keeps working for the rotation's grace period, or for up to one
// TTL where a container still holds the record from before the rotation,
// whichever is longer.
package clientcache

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// MaxEntries bounds the cache: at most this many clients are kept. When it
// is full, expired entries are dropped first, then the oldest.
const MaxEntries = 1024

// New returns a store that serves GetClient from a cache of the clients
// inner returned in the last ttl, keyed by client id, and passes every
// other call through to inner. Only found clients are cached: a missing
// client or an error is asked of inner again next time, so a new client
// works at once. now is the cache's clock (nil means time.Now).
//
// A ttl of zero (or less) disables caching: New returns inner unchanged.
//
// The returned store is safe for concurrent use, and hands out copies: a
// caller that changes a returned client changes neither the cache nor
// what other callers see.
func New(inner oauth.Store, ttl time.Duration, now func() time.Time) oauth.Store {
	if ttl <= 0 {
		return inner
	}
	if now == nil {
		now = time.Now
	}
	return &store{Store: inner, ttl: ttl, now: now, entries: map[string]entry{}, reloads: map[string]*reload{}}
}

// MinReloadInterval is the least time between two fresh reads of one
// client by ReloadClient: wrong secrets, however many, cost a warm
// container at most one read of the client's record per interval.
const MinReloadInterval = time.Second

// store embeds the inner oauth.Store for every method but GetClient. It
// deliberately hides the inner store's admin methods (PutClient, ...):
// writes go to the database, never through a cache.
type store struct {
	oauth.Store
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]entry
	reloads map[string]*reload // by client id: the fresh read under way
}

type entry struct {
	client    *oauth.Client // never handed out: callers get clones
	expiresAt time.Time
	// reloadedAt is when ReloadClient last read the record afresh; zero
	// if it never did.
	reloadedAt time.Time
}

// reload is a fresh read under way; done is closed when c and err are set.
type reload struct {
	done chan struct{}
	c    *oauth.Client
	err  error
}

// GetClient returns the cached client with this id if it was read less
// than ttl ago, and otherwise reads it from the inner store and caches it.
func (s *store) GetClient(ctx context.Context, id string) (*oauth.Client, error) {
	now := s.now()
	s.mu.Lock()
	e, ok := s.entries[id]
	s.mu.Unlock()
	if ok && now.Before(e.expiresAt) {
		return clone(e.client), nil
	}

	c, err := s.Store.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	s.put(id, entry{client: clone(c), expiresAt: now.Add(s.ttl)})
	return c, nil
}

// ReloadClient reads the client afresh (through the inner store's
// ReloadClient, a strongly consistent read on DynamoDB, if it has one),
// caches it for a new ttl and returns it (oauth.ClientReloader). A client
// read afresh less than MinReloadInterval ago is served from the cache
// instead, and concurrent calls for one client share one read: so a burst
// of wrong secrets costs one read, and a burst of requests with a newly
// rotated secret waits for that read and succeeds. A client that is gone
// is dropped from the cache.
func (s *store) ReloadClient(ctx context.Context, id string) (*oauth.Client, error) {
	now := s.now()
	s.mu.Lock()
	if e, ok := s.entries[id]; ok && !e.reloadedAt.IsZero() && now.Sub(e.reloadedAt) < MinReloadInterval && now.Before(e.expiresAt) {
		s.mu.Unlock()
		return clone(e.client), nil
	}
	if r, ok := s.reloads[id]; ok {
		s.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if r.err != nil {
			return nil, r.err
		}
		return clone(r.c), nil
	}
	r := &reload{done: make(chan struct{})}
	s.reloads[id] = r
	s.mu.Unlock()

	r.c, r.err = s.readFresh(context.WithoutCancel(ctx), id) // the read serves every waiter
	s.mu.Lock()
	delete(s.reloads, id)
	switch {
	case r.err == nil:
		r.c = clone(r.c)
		s.putLocked(id, entry{client: r.c, expiresAt: now.Add(s.ttl), reloadedAt: now})
	case errors.Is(r.err, oauth.ErrNotFound):
		delete(s.entries, id)
	}
	s.mu.Unlock()
	close(r.done)
	if r.err != nil {
		return nil, r.err
	}
	return clone(r.c), nil
}

// readFresh reads the client from the inner store, afresh if it can.
func (s *store) readFresh(ctx context.Context, id string) (*oauth.Client, error) {
	if r, ok := s.Store.(oauth.ClientReloader); ok {
		return r.ReloadClient(ctx, id)
	}
	return s.Store.GetClient(ctx, id)
}

// put caches e under id, making room if the cache is full.
func (s *store) put(id string, e entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLocked(id, e)
}

// putLocked is put with s.mu held.
func (s *store) putLocked(id string, e entry) {
	if _, ok := s.entries[id]; !ok && len(s.entries) >= MaxEntries {
		s.evict()
	}
	s.entries[id] = e
}

// evict drops every expired entry or, if none has expired, the one that
// expires first: every entry lives for the same ttl, so that is the
// oldest. Called with s.mu held and the cache full; a linear scan of at
// most MaxEntries entries happens only on a miss.
func (s *store) evict() {
	now := s.now()
	var oldest string
	var oldestAt time.Time
	found := false
	for id, e := range s.entries {
		if !now.Before(e.expiresAt) {
			delete(s.entries, id)
			continue
		}
		if !found || e.expiresAt.Before(oldestAt) {
			oldest, oldestAt, found = id, e.expiresAt, true
		}
	}
	if len(s.entries) >= MaxEntries {
		delete(s.entries, oldest)
	}
}

func clone(c *oauth.Client) *oauth.Client {
	out := *c
	out.RedirectURIs = slices.Clone(c.RedirectURIs)
	out.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	out.GrantTypes = slices.Clone(c.GrantTypes)
	out.ResponseTypes = slices.Clone(c.ResponseTypes)
	out.Scopes = slices.Clone(c.Scopes)
	out.JWKS = c.JWKS.Clone()
	return &out
}
