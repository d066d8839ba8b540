package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/jwks/jwkstest"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// ecJWK returns a fresh P-256 signing JWK with the given kid.
func ecJWK(t *testing.T, kid string) oauth.JWK {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	j, err := oauth.NewJWK(&k.PublicKey, kid, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// kids decodes a set into its key ids, in order; an empty set is unusable.
func kids(set *oauth.JWKS) ([]string, error) {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	if len(out) == 0 {
		return nil, errors.New("JWKS has no usable signing key")
	}
	return out, nil
}

func has(kid string) func([]string) bool {
	return func(ks []string) bool {
		for _, k := range ks {
			if k == kid {
				return true
			}
		}
		return false
	}
}

func newCache(srv *jwkstest.Server, clk *clock) *Cache[[]string] {
	return New(Options{HTTPClient: srv.Client(), Logger: discard(), Now: clk.Now}, kids)
}

// TestCacheRefetchPolicy: one fetch for many hits; a refetch for an unknown
// key id, at most once per MinRefetchInterval; a refetch on TTL expiry;
// and old keys serving while the set is unreachable.
func TestCacheRefetchPolicy(t *testing.T) {
	ctx := context.Background()
	srv := jwkstest.NewServer(t, "", oauth.JWK{Kid: "a"})
	clk := &clock{t: time.Now()}
	c := newCache(srv, clk)
	url := srv.URL + "/jwks"

	for range 3 {
		if got, err := c.Get(ctx, url, has("a")); err != nil || !has("a")(got) {
			t.Fatalf("Get a = %v, %v", got, err)
		}
	}
	wantFetches(t, srv, 1, "three hits of a cached key")

	// An unknown kid right after a fetch: too soon to ask again.
	if got, err := c.Get(ctx, url, has("b")); err != nil || has("b")(got) {
		t.Fatalf("Get b, rate limited = %v, %v; want the cached set without b", got, err)
	}
	wantFetches(t, srv, 1, "an unknown kid within the refetch interval")

	srv.SetKeys(oauth.JWK{Kid: "a"}, oauth.JWK{Kid: "b"})
	clk.Advance(DefaultMinRefetchInterval)
	if got, err := c.Get(ctx, url, has("b")); err != nil || !has("b")(got) {
		t.Fatalf("Get b after the interval = %v, %v", got, err)
	}
	wantFetches(t, srv, 2, "a rotation")

	clk.Advance(DefaultTTL)
	if _, err := c.Get(ctx, url, nil); err != nil {
		t.Fatal(err)
	}
	wantFetches(t, srv, 3, "TTL expiry")

	// Unreachable: the old keys keep serving the kids they cover; other
	// kids get the fetch error.
	srv.SetStatus(http.StatusServiceUnavailable)
	clk.Advance(DefaultTTL)
	if got, err := c.Get(ctx, url, has("a")); err != nil || !has("a")(got) {
		t.Fatalf("Get a while unreachable = %v, %v; want the old set", got, err)
	}
	if _, err := c.Get(ctx, url, has("c")); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Get c while unreachable: error %v, want ErrUnreachable", err)
	}
	wantFetches(t, srv, 4, "an unreachable set, asked twice within the interval")
}

func wantFetches(t *testing.T, srv *jwkstest.Server, n int32, after string) {
	t.Helper()
	if got := srv.Fetches.Load(); got != n {
		t.Fatalf("%d fetches after %s, want %d", got, after, n)
	}
}

// TestCachePerURL: each URL has its own set, TTL and refetch interval.
func TestCachePerURL(t *testing.T) {
	ctx := context.Background()
	one, two := jwkstest.NewServer(t, "", oauth.JWK{Kid: "one"}), jwkstest.NewServer(t, "", oauth.JWK{Kid: "two"})
	clk := &clock{t: time.Now()}
	c := New(Options{Logger: discard(), Now: clk.Now}, kids)
	for range 2 {
		if got, err := c.Get(ctx, one.URL, nil); err != nil || !has("one")(got) {
			t.Fatalf("Get one = %v, %v", got, err)
		}
		if got, err := c.Get(ctx, two.URL, nil); err != nil || !has("two")(got) {
			t.Fatalf("Get two = %v, %v", got, err)
		}
	}
	wantFetches(t, one, 1, "two Gets")
	wantFetches(t, two, 1, "two Gets")
}

// TestSingleFlight: concurrent callers of one URL share one fetch.
func TestSingleFlight(t *testing.T) {
	srv := jwkstest.NewServer(t, "", oauth.JWK{Kid: "a"})
	release := make(chan struct{})
	srv.Hold(release)
	c := newCache(srv, &clock{t: time.Now()})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			got, err := c.Get(context.Background(), srv.URL, has("a"))
			if err == nil && !has("a")(got) {
				err = errors.New("no key a")
			}
			errs <- err
		})
	}
	for srv.Fetches.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let every caller reach the wait
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	wantFetches(t, srv, 1, "20 concurrent Gets")
}

// TestCancelledWaiter: a request cancelled while the set is being fetched
// gets its own error without spoiling the fetch for others.
func TestCancelledWaiter(t *testing.T) {
	srv := jwkstest.NewServer(t, "", oauth.JWK{Kid: "a"})
	release := make(chan struct{})
	srv.Hold(release)
	c := New(Options{HTTPClient: srv.Client(), TTL: time.Minute, MinRefetchInterval: time.Second, Logger: discard()}, kids)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, srv.URL, has("a"))
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter: %v", err)
	}
	close(release)
	got, err := c.Get(context.Background(), srv.URL, has("a"))
	if err != nil || !has("a")(got) {
		t.Errorf("after the fetch: %v, %v", got, err)
	}
	wantFetches(t, srv, 1, "a cancelled and a patient Get")
}

// TestFetchLimits: what a fetch refuses, and as which kind of failure.
func TestFetchLimits(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		kind    error
		wantErr string
	}{
		{"too large", 0, `{"keys":[],"pad":"` + strings.Repeat("x", DefaultMaxBytes) + `"}`, ErrUnusable, "larger than"},
		{"not JSON", 0, `<html>`, ErrUnusable, "decoding JWKS"},
		{"no usable key", 0, `{"keys":[]}`, ErrUnusable, "no usable signing key"},
		{"no keys member", 0, `{}`, ErrUnusable, "no usable signing key"},
		{"server error", http.StatusInternalServerError, "", ErrUnreachable, "500"},
		{"not found", http.StatusNotFound, "", ErrUnreachable, "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := jwkstest.NewServer(t, "")
			srv.SetStatus(tt.status)
			srv.SetBody(tt.body)
			c := newCache(srv, &clock{t: time.Now()})
			_, err := c.fetch(context.Background(), srv.URL)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %v containing %q", err, tt.kind, tt.wantErr)
			}
		})
	}
	t.Run("server down", func(t *testing.T) {
		srv := jwkstest.NewServer(t, "")
		srv.Close()
		c := newCache(srv, &clock{t: time.Now()})
		if _, err := c.fetch(context.Background(), srv.URL); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("error %v, want ErrUnreachable", err)
		}
	})
	t.Run("plain http off loopback", func(t *testing.T) {
		c := New(Options{Logger: discard()}, kids)
		for _, u := range []string{"http://keys.example.test/jwks", "ftp://127.0.0.1/jwks", "/relative"} {
			if _, err := c.fetch(context.Background(), u); !errors.Is(err, ErrUnusable) {
				t.Errorf("%s: error %v, want ErrUnusable", u, err)
			}
		}
	})
}

func TestRedirectToPlainHTTPRefused(t *testing.T) {
	if err := CheckRedirect(httptest.NewRequest(http.MethodGet, "http://jwks.example.test/keys", nil), nil); err == nil {
		t.Error("redirect to plain http on a non-loopback host allowed")
	}
	if err := CheckRedirect(httptest.NewRequest(http.MethodGet, "https://jwks.example.test/keys", nil), nil); err != nil {
		t.Errorf("redirect to https refused: %v", err)
	}
	if err := CheckRedirect(httptest.NewRequest(http.MethodGet, "http://127.0.0.1/keys", nil), nil); err != nil {
		t.Errorf("redirect to loopback http refused: %v", err)
	}
	if c := NewHTTPClient(time.Second); c.Timeout != time.Second || c.CheckRedirect == nil {
		t.Errorf("NewHTTPClient = %+v", c)
	}
}

// TestMaxEntries: a full cache forgets the URL tried longest ago.
func TestMaxEntries(t *testing.T) {
	ctx := context.Background()
	srv := jwkstest.NewServer(t, "", oauth.JWK{Kid: "a"})
	clk := &clock{t: time.Now()}
	c := New(Options{HTTPClient: srv.Client(), MaxEntries: 2, Logger: discard(), Now: clk.Now}, kids)
	for _, path := range []string{"/1", "/2", "/3"} {
		if _, err := c.Get(ctx, srv.URL+path, nil); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	if n := len(c.entries); n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
	if _, ok := c.entries[srv.URL+"/1"]; ok {
		t.Error("the oldest URL was kept")
	}
	_, _ = c.Get(ctx, srv.URL+"/3", nil)
	wantFetches(t, srv, 3, "three URLs and a hit")
}

// TestClientFetcher: the oauth.JWKSFetcher over a Cache: refresh semantics
// and how failures are reported to the grant library.
func TestClientFetcher(t *testing.T) {
	ctx := context.Background()
	srv := jwkstest.NewServer(t, "", ecJWK(t, "k1"))
	clk := &clock{t: time.Now()}
	f := NewClientFetcher(Options{HTTPClient: srv.Client(), Logger: discard(), Now: clk.Now})

	set, err := f.FetchJWKS(ctx, srv.URL, false)
	if err != nil || len(set.Keys) != 1 || set.Keys[0].Kid != "k1" {
		t.Fatalf("FetchJWKS = %+v, %v", set, err)
	}
	if _, err := f.FetchJWKS(ctx, srv.URL, false); err != nil {
		t.Fatal(err)
	}
	wantFetches(t, srv, 1, "two FetchJWKS")

	// refresh: refetched, but not twice within the interval.
	srv.SetKeys(ecJWK(t, "k2"))
	if set, _ := f.FetchJWKS(ctx, srv.URL, true); set.Keys[0].Kid != "k1" {
		t.Errorf("refresh right after a fetch gave %q, want the cached k1", set.Keys[0].Kid)
	}
	wantFetches(t, srv, 1, "a refresh within the interval")
	clk.Advance(DefaultMinRefetchInterval)
	if set, err := f.FetchJWKS(ctx, srv.URL, true); err != nil || set.Keys[0].Kid != "k2" {
		t.Fatalf("refresh = %+v, %v; want k2", set, err)
	}
	wantFetches(t, srv, 2, "a refresh after the interval")

	// The TTL of a client's set is shorter than a resource server's.
	clk.Advance(DefaultClientTTL)
	if _, err := f.FetchJWKS(ctx, srv.URL, false); err != nil {
		t.Fatal(err)
	}
	wantFetches(t, srv, 3, "the client TTL")

	// Unreachable: ErrUnavailable; stale keys still served without refresh.
	srv.SetStatus(http.StatusBadGateway)
	clk.Advance(DefaultClientTTL)
	if set, err := f.FetchJWKS(ctx, srv.URL, false); err != nil || set.Keys[0].Kid != "k2" {
		t.Errorf("stale set while unreachable = %+v, %v", set, err)
	}
	clk.Advance(DefaultMinRefetchInterval)
	if _, err := f.FetchJWKS(ctx, srv.URL, true); !errors.Is(err, oauth.ErrUnavailable) || !errors.Is(err, ErrUnreachable) {
		t.Errorf("refresh while unreachable: error %v, want ErrUnavailable", err)
	}

	// Unusable documents are not ErrUnavailable.
	for name, body := range map[string]string{
		"no usable key": `{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}`,
		"too large":     `{"keys":[],"pad":"` + strings.Repeat("x", DefaultClientMaxBytes) + `"}`,
		"not JSON":      `<html>`,
	} {
		t.Run(name, func(t *testing.T) {
			bad := jwkstest.NewServer(t, "")
			bad.SetBody(body)
			f := NewClientFetcher(Options{HTTPClient: bad.Client(), Logger: discard()})
			_, err := f.FetchJWKS(ctx, bad.URL, false)
			if err == nil || errors.Is(err, oauth.ErrUnavailable) || !errors.Is(err, ErrUnusable) {
				t.Errorf("error %v, want ErrUnusable and not ErrUnavailable", err)
			}
		})
	}
}
