// Package jwks fetches JSON Web Key Sets (RFC 7517 §5) over HTTP and caches
// them per URL. Two kinds of caller share it:
//
//   - shared/resource, whose middleware verifies access tokens with the
//     authorization server's keys (a Cache of oauth.PublicKey values);
//   - the authorization server itself, which verifies private_key_jwt
//     client assertions (RFC 7523) with the keys at a client's jwks_uri
//     (ClientFetcher, an oauth.JWKSFetcher: the grant library does no HTTP).
//
// A Cache fetches a set the first time it is asked for it, keeps it for a
// TTL, and fetches again sooner when the caller does not find the key it
// needs (a rotation), at most once per MinRefetchInterval per URL, so
// requests naming made-up key ids cannot make it hammer the key server.
// One fetch per URL is in flight at a time; every caller waiting for that
// URL shares its result. While a URL cannot be fetched, the keys fetched
// before keep serving the callers they satisfy.
//
// A fetch is an HTTP GET with a timeout, of an https URL (plain http only
// on a loopback host), whose response must be 200 and at most MaxBytes of
// JSON. Its failures come in two kinds: ErrUnreachable (network, timeout,
// HTTP status: the keys are unknown, and a retry may succeed) and
// ErrUnusable (the document is not a usable JWK Set).
package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Defaults for Options' zero values.
const (
	DefaultTTL                = 10 * time.Minute
	DefaultMinRefetchInterval = 10 * time.Second
	DefaultHTTPTimeout        = 5 * time.Second
	DefaultMaxBytes           = 1 << 20
	DefaultMaxEntries         = 1024
	// fetchTimeout bounds a fetch even if the HTTP client has no timeout,
	// so callers waiting on it are never stuck.
	fetchTimeout = 30 * time.Second
)

// The two kinds of fetch failure; every error a Cache returns for a failed
// fetch wraps one of them (or is the waiting caller's context error).
var (
	// ErrUnreachable: the set could not be fetched (network, timeout,
	// HTTP status other than 200).
	ErrUnreachable = errors.New("jwks: the JWK Set could not be fetched")
	// ErrUnusable: what was fetched is not a usable JWK Set (too large,
	// not JSON, no usable key, not an https URL).
	ErrUnusable = errors.New("jwks: not a usable JWK Set")
)

// Options configure a Cache. Zero values take the defaults above.
type Options struct {
	// HTTPClient fetches the sets. Default: NewHTTPClient(DefaultHTTPTimeout).
	HTTPClient *http.Client
	// TTL is how long a fetched set is used before it is fetched again.
	TTL time.Duration
	// MinRefetchInterval is the least time between two fetches of one URL.
	MinRefetchInterval time.Duration
	// MaxBytes bounds a response body.
	MaxBytes int64
	// MaxEntries bounds the number of URLs cached; when full, the URL
	// tried longest ago is forgotten.
	MaxEntries int
	// Logger receives fetch failures (URL and error, never key material).
	// Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = NewHTTPClient(DefaultHTTPTimeout)
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.MinRefetchInterval <= 0 {
		o.MinRefetchInterval = DefaultMinRefetchInterval
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Cache holds JWK Sets by URL, each converted by the decode function given
// to New into the T its callers use (verification keys, say). It is safe
// for concurrent use.
type Cache[T any] struct {
	opts   Options
	decode func(*oauth.JWKS) (T, error)

	mu      sync.Mutex
	entries map[string]*entry[T]
}

// entry is the state of one URL; Cache.mu guards it.
type entry[T any] struct {
	value     T             // the last successfully fetched set, decoded
	fetchedAt time.Time     // time of the last successful fetch; zero if none
	triedAt   time.Time     // start of the last fetch attempt
	lastErr   error         // outcome of the last attempt
	inflight  chan struct{} // closed when the running fetch is done
}

// New returns a Cache that decodes each fetched set with decode. A decode
// error makes the fetch fail with ErrUnusable (decode says why: "no usable
// signing key", say); the previous value, if any, stays in use.
func New[T any](opts Options, decode func(*oauth.JWKS) (T, error)) *Cache[T] {
	return &Cache[T]{opts: opts.withDefaults(), decode: decode, entries: map[string]*entry[T]{}}
}

// Get returns the decoded set at url. ok, if not nil, says whether a value
// has what the caller needs (the key id a token names, say); a fresh value
// it rejects makes the set be fetched again, unless the last attempt was
// less than MinRefetchInterval ago. A nil ok takes any fresh value.
//
// An error means the set could not be obtained: a fetch failed (wrapping
// ErrUnreachable or ErrUnusable) and no value fetched before satisfies ok,
// or ctx ended while waiting. When the value is returned without error but
// ok rejects it, the fetched set simply lacks what the caller looked for.
func (c *Cache[T]) Get(ctx context.Context, url string, ok func(T) bool) (T, error) {
	c.mu.Lock()
	e := c.entry(url)
	now := c.opts.Now()
	fresh := !e.fetchedAt.IsZero() && now.Sub(e.fetchedAt) < c.opts.TTL
	if fresh && (ok == nil || ok(e.value)) {
		v := e.value
		c.mu.Unlock()
		return v, nil
	}
	done := e.inflight
	if done == nil {
		if !e.triedAt.IsZero() && now.Sub(e.triedAt) < c.opts.MinRefetchInterval {
			// Too soon to ask again: answer from what we have.
			v, err := e.answer(ok)
			c.mu.Unlock()
			return v, err
		}
		done = make(chan struct{})
		e.inflight = done
		e.triedAt = now
		go c.refresh(context.WithoutCancel(ctx), url, e, done)
	}
	c.mu.Unlock()

	select {
	case <-done:
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return e.answer(ok)
}

// entry returns the entry of url, creating it (and making room) if need
// be; c.mu is held.
func (c *Cache[T]) entry(url string) *entry[T] {
	if e, ok := c.entries[url]; ok {
		return e
	}
	if len(c.entries) >= c.opts.MaxEntries {
		var oldest string
		var oldestAt time.Time
		found := false
		for u, e := range c.entries {
			if e.inflight == nil && (!found || e.triedAt.Before(oldestAt)) {
				oldest, oldestAt, found = u, e.triedAt, true
			}
		}
		if found {
			delete(c.entries, oldest)
		}
	}
	e := &entry[T]{}
	c.entries[url] = e
	return e
}

// answer picks the result from the entry's state; Cache.mu is held. Old
// values keep serving the callers they satisfy while the set is
// unreachable; for any other caller the fetch error is returned, since
// whether the set has what it needs cannot be known.
func (e *entry[T]) answer(ok func(T) bool) (T, error) {
	switch {
	case !e.fetchedAt.IsZero() && (ok == nil || ok(e.value)):
		return e.value, nil
	case e.lastErr != nil:
		var zero T
		return zero, e.lastErr
	default:
		return e.value, nil // the caller reports what it did not find
	}
}

// refresh fetches the set at url and records the outcome in e. It runs
// detached from the request that started it, so that request's
// cancellation does not fail the others waiting on the same fetch.
func (c *Cache[T]) refresh(ctx context.Context, url string, e *entry[T], done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	v, err := c.fetch(ctx, url)
	if err != nil {
		c.opts.Logger.WarnContext(ctx, "jwks: fetching a JWK Set failed", "url", url, "error", err)
	}
	c.mu.Lock()
	if err == nil {
		e.value = v
		e.fetchedAt = c.opts.Now()
	}
	e.lastErr = err
	e.inflight = nil
	c.mu.Unlock()
	close(done)
}

// fetch GETs the set at url and decodes it.
func (c *Cache[T]) fetch(ctx context.Context, url string) (T, error) {
	var zero T
	set, err := fetchSet(ctx, c.opts.HTTPClient, url, c.opts.MaxBytes)
	if err != nil {
		return zero, err
	}
	v, err := c.decode(set)
	if err != nil {
		return zero, fmt.Errorf("%w: %w", ErrUnusable, err)
	}
	return v, nil
}

// fetchSet GETs the JWK Set at rawURL: a 200 response of at most maxBytes
// of JSON.
func fetchSet(ctx context.Context, client *http.Client, rawURL string, maxBytes int64) (*oauth.JWKS, error) {
	if u, err := url.Parse(rawURL); err != nil || u.Host == "" || !SecureURL(u) {
		return nil, fmt.Errorf("%w: %q is not an https URL (http only for loopback hosts)", ErrUnusable, rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnusable, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBytes))
		return nil, fmt.Errorf("%w: GET %s: %s", ErrUnreachable, rawURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading JWKS: %w", ErrUnreachable, err)
	}
	if int64(len(body)) > maxBytes {
		return nil, fmt.Errorf("%w: JWKS is larger than %d bytes", ErrUnusable, maxBytes)
	}
	var set oauth.JWKS
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("%w: decoding JWKS: %w", ErrUnusable, err)
	}
	return &set, nil
}

// NewHTTPClient returns an HTTP client for fetching key sets: timeout
// bounds each fetch, and redirects to plain http are refused
// (CheckRedirect).
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: CheckRedirect}
}

// CheckRedirect keeps key fetches off plain http when following
// redirects: an http.Client CheckRedirect function.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if !SecureURL(req.URL) {
		return fmt.Errorf("refusing redirect to %s URL", req.URL.Scheme)
	}
	return nil
}

// SecureURL reports whether u is https, or plain http on a loopback host
// (127.0.0.1, [::1], localhost), for local development.
func SecureURL(u *url.URL) bool {
	return u.Scheme == "https" || u.Scheme == "http" && isLoopbackHost(u.Hostname())
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
