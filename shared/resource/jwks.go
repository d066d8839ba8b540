package resource

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

const (
	// maxJWKSBytes bounds the JWKS response body.
	maxJWKSBytes = 1 << 20
	// fetchTimeout bounds a fetch even if the HTTP client has no timeout,
	// so callers waiting on it are never stuck.
	fetchTimeout = 30 * time.Second
	// minRSABits is the least RSA key size accepted (RFC 7518 §3.3, §3.5).
	minRSABits = 2048
)

// keyCache holds the verification keys of a JWK Set (RFC 7517 §5). It
// refetches the set when its TTL has passed or a token names an unknown key
// id, at most once per minInterval, with one fetch in flight at a time
// whose result all waiting callers share.
type keyCache struct {
	url         string
	client      *http.Client
	ttl         time.Duration
	minInterval time.Duration
	log         *slog.Logger
	now         func() time.Time

	mu        sync.Mutex
	keys      []oauth.PublicKey // last successfully fetched keys
	fetchedAt time.Time         // time of the last successful fetch
	triedAt   time.Time         // start of the last fetch attempt
	lastErr   error             // outcome of the last attempt
	inflight  chan struct{}     // closed when the running fetch is done
}

// Keys returns the keys to check a token naming kid against. Its signature
// fits oauth.TokenVerifier.Keys. An error means the keys could not be
// obtained (the JWKS is unreachable), not that the token is bad.
func (c *keyCache) Keys(ctx context.Context, kid string) ([]oauth.PublicKey, error) {
	c.mu.Lock()
	now := c.now()
	fresh := !c.fetchedAt.IsZero() && now.Sub(c.fetchedAt) < c.ttl
	if fresh && hasKid(c.keys, kid) {
		keys := c.keys
		c.mu.Unlock()
		return keys, nil
	}
	done := c.inflight
	if done == nil {
		if !c.triedAt.IsZero() && now.Sub(c.triedAt) < c.minInterval {
			// Too soon to ask again: answer from what we have.
			keys, err := c.answer(kid)
			c.mu.Unlock()
			return keys, err
		}
		done = make(chan struct{})
		c.inflight = done
		c.triedAt = now
		go c.refresh(context.WithoutCancel(ctx), done)
	}
	c.mu.Unlock()

	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answer(kid)
}

// answer picks the result for kid from the cache state; c.mu is held. Old
// keys keep serving the kids they cover while the JWKS is unreachable; for
// any other kid the fetch error is returned, since whether the key exists
// cannot be known.
func (c *keyCache) answer(kid string) ([]oauth.PublicKey, error) {
	switch {
	case hasKid(c.keys, kid):
		return c.keys, nil
	case c.lastErr != nil:
		return nil, c.lastErr
	default:
		return c.keys, nil // the verifier reports the unknown kid
	}
}

// refresh fetches the JWKS and records the outcome. It runs detached from
// the request that started it, so that request's cancellation does not
// fail the others waiting on the same fetch.
func (c *keyCache) refresh(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	keys, err := c.fetch(ctx)
	if err != nil {
		c.log.WarnContext(ctx, "resource: fetching JWKS failed", "url", c.url, "error", err)
	}
	c.mu.Lock()
	if err == nil {
		c.keys = keys
		c.fetchedAt = c.now()
	}
	c.lastErr = err
	c.inflight = nil
	c.mu.Unlock()
	close(done)
}

// fetch GETs the JWK Set and converts its usable signing keys.
func (c *keyCache) fetch(ctx context.Context) ([]oauth.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxJWKSBytes))
		return nil, fmt.Errorf("GET %s: %s", c.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS is larger than %d bytes", maxJWKSBytes)
	}
	var set oauth.JWKS
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decoding JWKS: %w", err)
	}
	keys := signingKeys(set)
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no usable signing key")
	}
	return keys, nil
}

// signingKeys converts the JWKs fit to verify access tokens: a kid and an
// alg the verifier supports (RFC 7517 §4.4, §4.5), "use" absent or "sig"
// (§4.2), key material matching the alg, and RSA keys of at least 2048 bits.
// Anything else is skipped; on a duplicate kid the first key wins.
func signingKeys(set oauth.JWKS) []oauth.PublicKey {
	var keys []oauth.PublicKey
	for _, j := range set.Keys {
		if j.Kid == "" || j.Alg == "" || (j.Use != "" && j.Use != "sig") || hasKid(keys, j.Kid) {
			continue
		}
		pub, err := j.PublicKey()
		if err != nil || !fitsAlg(pub, j.Alg) {
			continue
		}
		keys = append(keys, oauth.PublicKey{KeyID: j.Kid, Algorithm: j.Alg, Key: pub})
	}
	return keys
}

// fitsAlg reports whether pub is usable with the JWS alg (RFC 7518 §3.1).
func fitsAlg(pub any, alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, ok := pub.(*rsa.PublicKey)
		return ok && k.N.BitLen() >= minRSABits
	case "ES256":
		_, ok := pub.(*ecdsa.PublicKey) // JWK.PublicKey only yields P-256
		return ok
	default:
		return false
	}
}

func hasKid(keys []oauth.PublicKey, kid string) bool {
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}
