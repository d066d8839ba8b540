// Package clientcache caches client records in a warm Lambda container, so
// the token endpoint's client_credentials grant costs no DynamoDB read for
// a client seen in the last few seconds (docs/design.md: "On a warm container
// the client record ... is cached (short, configurable TTL)").
//
// The trade-off: a cached client is served as it was when it was read. A
// deleted client, a rotated secret or any other change to a client takes
// up to the TTL to take effect in a warm container (each container has its
// own cache, so they catch up independently). Keep the TTL short, and
// expect the old secret to keep working for up to one TTL after
// `gatehouse clients rotate-secret`.
package clientcache

import (
	"context"
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
	return &store{Store: inner, ttl: ttl, now: now, entries: map[string]entry{}}
}

// store embeds the inner oauth.Store for every method but GetClient. It
// deliberately hides the inner store's admin methods (PutClient, ...):
// writes go to the database, never through a cache.
type store struct {
	oauth.Store
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	client    *oauth.Client // never handed out: callers get clones
	expiresAt time.Time
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
	s.put(id, clone(c), now.Add(s.ttl))
	return c, nil
}

// put caches c under id until expiresAt, making room if the cache is full.
func (s *store) put(id string, c *oauth.Client, expiresAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[id]; !ok && len(s.entries) >= MaxEntries {
		s.evict()
	}
	s.entries[id] = entry{client: c, expiresAt: expiresAt}
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
	out.GrantTypes = slices.Clone(c.GrantTypes)
	out.ResponseTypes = slices.Clone(c.ResponseTypes)
	out.Scopes = slices.Clone(c.Scopes)
	out.JWKS = c.JWKS.Clone()
	return &out
}
