package jwks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Defaults of a ClientFetcher where they differ from a Cache's: a client's
// key set is small, and a key it withdraws should stop working soon.
const (
	DefaultClientTTL      = 5 * time.Minute
	DefaultClientMaxBytes = 64 << 10
)

// ClientFetcher fetches the JWK Sets of private_key_jwt clients registered
// with a jwks_uri (RFC 7591 §2, RFC 7523): an oauth.JWKSFetcher over a
// Cache. A fetched set must hold at least one key usable for client
// assertions (oauth.JWK.ClientKey).
//
// A jwks_uri is registered by an administrator (the seed file or
// `gatehouse clients create`), never by a request, and must be https; the
// server fetches only those.
type ClientFetcher struct {
	cache *Cache[*oauth.JWKS]
}

var _ oauth.JWKSFetcher = (*ClientFetcher)(nil)

// NewClientFetcher returns a ClientFetcher. Zero TTL and MaxBytes default
// to DefaultClientTTL and DefaultClientMaxBytes; the other options to a
// Cache's defaults.
func NewClientFetcher(opts Options) *ClientFetcher {
	if opts.TTL <= 0 {
		opts.TTL = DefaultClientTTL
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultClientMaxBytes
	}
	return &ClientFetcher{cache: New(opts, clientKeySet)}
}

// clientKeySet accepts a set with at least one key usable for client
// assertions.
func clientKeySet(set *oauth.JWKS) (*oauth.JWKS, error) {
	for _, j := range set.Keys {
		if _, err := j.ClientKey(); err == nil {
			return set, nil
		}
	}
	return nil, errors.New("JWKS has no key usable for client assertions (an RSA key of 2048 bits or more, or a P-256 key)")
}

// FetchJWKS implements oauth.JWKSFetcher. With refresh, the set is fetched
// again unless it was less than MinRefetchInterval ago. A set that could
// not be fetched (ErrUnreachable, or ctx ended) is reported wrapping
// oauth.ErrUnavailable; an unusable one (ErrUnusable) is not.
func (f *ClientFetcher) FetchJWKS(ctx context.Context, uri string, refresh bool) (*oauth.JWKS, error) {
	var ok func(*oauth.JWKS) bool
	if refresh {
		ok = func(*oauth.JWKS) bool { return false }
	}
	set, err := f.cache.Get(ctx, uri, ok)
	switch {
	case err == nil:
		return set, nil
	case errors.Is(err, ErrUnusable):
		return nil, err
	default:
		return nil, fmt.Errorf("%w: %w", oauth.ErrUnavailable, err)
	}
}
