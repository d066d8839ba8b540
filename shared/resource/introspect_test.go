package resource

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// TestIntrospectionSingleFlight: many concurrent requests with one token
// make one introspection request, and share its answer; on DynamoDB that
// one request costs the authorization server one read.
func TestIntrospectionSingleFlight(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			as := newAuthServer(t, kind)
			a := newAPI(t, as, nil)
			tok := as.clientToken(svcID, svcSecret)
			// Warm the authorization server's client cache, as a warm
			// function's would be, then count from zero.
			if status, _ := as.post(oauth.PathIntrospect, apiID, apiSecret, url.Values{"token": {"x"}}); status != http.StatusOK {
				t.Fatalf("warm-up: %d", status)
			}
			as.Introspections.Store(0)
			if as.Calls != nil {
				as.Calls.Reset()
			}

			release := make(chan struct{})
			as.holdIntrospection(release)
			const n = 50
			codes := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { codes[i] = a.call(tok).Code })
			}
			time.Sleep(100 * time.Millisecond) // all n are waiting on the one request
			close(release)
			wg.Wait()
			for i, c := range codes {
				if c != http.StatusOK {
					t.Errorf("request %d: %d", i, c)
				}
			}
			if got := as.Introspections.Load(); got != 1 {
				t.Errorf("%d concurrent requests made %d introspection requests, want 1", n, got)
			}
			if as.Calls != nil {
				// The introspection budget of docs/design.md: <= 1 + 0.
				t.Logf("DynamoDB calls for %d concurrent requests with one token: %v", n, as.Calls.Counts())
				if got := as.Calls.Total(); got != 1 {
					t.Errorf("%d DynamoDB calls (%v), want 1: the revocation check", got, as.Calls.Counts())
				}
			}
		})
	}
}

// TestIntrospectionPerTokenCost: each distinct token costs one
// introspection request, and on DynamoDB one read; the same token again
// within the cache TTL costs nothing.
func TestIntrospectionPerTokenCost(t *testing.T) {
	as := newAuthServer(t, "dynamodb")
	a := newAPI(t, as, nil)
	const n = 20
	toks := make([]string, n)
	for i := range toks {
		toks[i] = as.clientToken(svcID, svcSecret)
	}
	a.call(toks[0]) // warms the authorization server's client cache
	as.Introspections.Store(0)
	as.Calls.Reset()
	for _, tok := range toks[1:] {
		for range 3 {
			if rec := a.call(tok); rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	}
	t.Logf("%d distinct tokens, 3 requests each: %d introspection requests, DynamoDB %v", n-1, as.Introspections.Load(), as.Calls.Counts())
	if got := as.Introspections.Load(); got != n-1 {
		t.Errorf("%d introspection requests, want %d", got, n-1)
	}
	if got := as.Calls.Total(); got != n-1 {
		t.Errorf("%d DynamoDB calls, want %d (one per token)", got, n-1)
	}
}

// TestIntrospectionCacheTTL: an answer is reused for CacheTTL, then asked
// for again; an inactive answer is cached too.
func TestIntrospectionCacheTTL(t *testing.T) {
	as := newAuthServer(t, "memstore")
	const ttl = 3 * time.Second
	a := newAPI(t, as, func(c *Config) { c.Introspection.CacheTTL = ttl })
	tok := as.clientToken(svcID, svcSecret)
	want := func(status int, introspections int32) {
		t.Helper()
		if rec := a.call(tok); rec.Code != status {
			t.Errorf("status %d, want %d", rec.Code, status)
		}
		if got := as.Introspections.Load(); got != introspections {
			t.Errorf("%d introspection requests, want %d", got, introspections)
		}
	}
	want(http.StatusOK, 1)
	a.clock.Advance(ttl - time.Millisecond)
	want(http.StatusOK, 1)
	a.clock.Advance(time.Millisecond)
	want(http.StatusOK, 2)

	// An inactive answer (a revoked token) is cached as well.
	if status, m := as.post(oauth.PathRevoke, svcID, svcSecret, url.Values{"token": {tok}}); status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, m)
	}
	b := newAPI(t, as, func(c *Config) { c.Introspection.CacheTTL = ttl })
	as.Introspections.Store(0)
	for range 3 {
		rec := b.call(tok)
		if rec.Code != http.StatusUnauthorized || errorAttr(rec.Header().Get("WWW-Authenticate")) != ErrorInvalidToken {
			t.Fatalf("inactive: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}
	if got := as.Introspections.Load(); got != 1 {
		t.Errorf("inactive answer: %d introspection requests for 3 calls, want 1", got)
	}
}

// TestIntrospectionCacheNeverOutlivesToken: an answer about a token that
// expires before the cache TTL is not reused past the token's exp (the JWT
// check still accepts it for the leeway, so the question is asked again).
func TestIntrospectionCacheNeverOutlivesToken(t *testing.T) {
	as := newAuthServer(t, "memstore")
	a := newAPI(t, as, func(c *Config) { c.Introspection.CacheTTL = MaxIntrospectionCacheTTL })
	tok := as.clientToken(shortID, shortSecret) // 10 s
	if rec := a.call(tok); rec.Code != http.StatusOK {
		t.Fatalf("%d", rec.Code)
	}
	a.clock.Advance(shortLifetime + time.Second)
	a.call(tok)
	if got := as.Introspections.Load(); got != 2 {
		t.Errorf("%d introspection requests, want 2: the first answer outlived the token", got)
	}
}

// TestIntrospectionCacheBounded: a flood of distinct tokens leaves at most
// MaxEntries answers cached, and every request is still answered.
func TestIntrospectionCacheBounded(t *testing.T) {
	as := newAuthServer(t, "memstore")
	const maxEntries = 8
	a := newAPI(t, as, func(c *Config) { c.Introspection.MaxEntries = maxEntries })
	for i := range 100 {
		if rec := a.call(as.clientToken(svcID, svcSecret)); rec.Code != http.StatusOK {
			t.Fatalf("token %d: %d", i, rec.Code)
		}
		if n := a.mw.introspector.size(); n > maxEntries {
			t.Fatalf("after %d tokens the cache holds %d answers, over %d", i+1, n, maxEntries)
		}
	}
	// Concurrent distinct tokens: the cache may hold the requests in
	// flight on top, and is back within bounds after them.
	toks := make([]string, 40)
	for i := range toks {
		toks[i] = as.clientToken(svcID, svcSecret)
	}
	var wg sync.WaitGroup
	for _, tok := range toks {
		wg.Go(func() {
			if rec := a.call(tok); rec.Code != http.StatusOK {
				t.Errorf("%d", rec.Code)
			}
		})
	}
	wg.Wait()
	a.call(as.clientToken(svcID, svcSecret))
	if n := a.mw.introspector.size(); n > maxEntries {
		t.Errorf("after the burst the cache holds %d answers, over %d", n, maxEntries)
	}
}

// TestIntrospectionOnlyForVerifiedTokens: a token that fails the JWT checks
// is refused without asking the authorization server, so forged or expired
// tokens cost no introspection (nor DynamoDB read).
func TestIntrospectionOnlyForVerifiedTokens(t *testing.T) {
	as := newAuthServer(t, "memstore")
	a := newAPI(t, as, nil)
	tok := as.clientToken(svcID, svcSecret)
	head, _, _ := strings.Cut(tok, ".")
	for name, bad := range map[string]string{
		"forged signature": tok[:len(tok)-4] + "AAAA",
		"other issuer":     mint(t, keyA(), &oauth.AccessTokenClaims{ClientID: "x"}, nil),
		"garbage":          head + ".e30.AAAA",
	} {
		if rec := a.call(bad); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, rec.Code)
		}
	}
	a.clock.Advance(2 * time.Hour)
	if rec := a.call(tok); rec.Code != http.StatusUnauthorized {
		t.Errorf("expired: %d, want 401", rec.Code)
	}
	if got := as.Introspections.Load(); got != 0 {
		t.Errorf("%d introspection requests for tokens the JWT checks refuse, want 0", got)
	}
}

// TestIntrospectionFailsClosed: when no answer can be had, the request is
// refused with 503 temporarily_unavailable (a challenge naming it,
// Retry-After, no token data), the protected handler does not run, the
// failure is not cached, and service resumes with the endpoint.
func TestIntrospectionFailsClosed(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*Config)
		breakIt func(as *authServer) (restore func())
	}{
		{"server error", nil, func(as *authServer) func() {
			as.failIntrospection(http.StatusInternalServerError)
			return func() { as.failIntrospection(0) }
		}},
		{"throttled", nil, func(as *authServer) func() {
			as.failIntrospection(http.StatusTooManyRequests)
			return func() { as.failIntrospection(0) }
		}},
		{"a redirect", nil, func(as *authServer) func() {
			as.failIntrospection(http.StatusTemporaryRedirect)
			return func() { as.failIntrospection(0) }
		}},
		{"not JSON", nil, func(as *authServer) func() {
			as.introspectionBody("<html>maintenance</html>")
			return func() { as.introspectionBody("") }
		}},
		{"no active member", nil, func(as *authServer) func() {
			as.introspectionBody(`{"scope": "notes:read"}`)
			return func() { as.introspectionBody("") }
		}},
		{"active not a boolean", nil, func(as *authServer) func() {
			as.introspectionBody(`{"active": "true"}`)
			return func() { as.introspectionBody("") }
		}},
		{"slow", func(c *Config) { c.Introspection.Timeout = 200 * time.Millisecond }, func(as *authServer) func() {
			release := make(chan struct{})
			as.holdIntrospection(release)
			return func() { as.holdIntrospection(nil); close(release) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := newAuthServer(t, "memstore")
			a := newAPI(t, as, tt.cfg)
			tok := as.clientToken(svcID, svcSecret)
			restore := tt.breakIt(as)
			for range 2 {
				checkUnavailable(t, a.call(tok), tok)
			}
			if n := a.served.Load(); n != 0 {
				t.Errorf("the protected handler ran %d times without an answer", n)
			}
			if got := as.Introspections.Load(); got != 2 {
				t.Errorf("%d introspection requests, want 2: a failure is not cached", got)
			}
			restore()
			if rec := a.call(tok); rec.Code != http.StatusOK {
				t.Errorf("after recovery: %d %s", rec.Code, rec.Body)
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		as := newAuthServer(t, "memstore")
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		a := newAPI(t, as, func(c *Config) { c.Introspection.URL = dead.URL + "/introspect" })
		tok := as.clientToken(svcID, svcSecret)
		checkUnavailable(t, a.call(tok), tok)
	})

	t.Run("wrong client secret", func(t *testing.T) {
		// A configuration fault: 503 and a log line, never a verdict on
		// the token.
		as := newAuthServer(t, "memstore")
		var logs syncBuffer
		a := newAPI(t, as, func(c *Config) {
			c.Introspection.ClientSecret = "wrong-" + apiSecret
			c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		tok := as.clientToken(svcID, svcSecret)
		checkUnavailable(t, a.call(tok), tok)
		out := logs.String()
		if !strings.Contains(out, "refused this resource server's credentials (HTTP 401)") {
			t.Errorf("log %q does not say why", out)
		}
		if strings.Contains(out, tok) || strings.Contains(out, apiSecret) {
			t.Errorf("log %q reveals the token or the secret", out)
		}
	})

	t.Run("the caller hangs up", func(t *testing.T) {
		// A request whose client goes away stops waiting; the others
		// waiting on the same introspection still get its answer.
		as := newAuthServer(t, "memstore")
		a := newAPI(t, as, nil)
		tok := as.clientToken(svcID, svcSecret)
		release := make(chan struct{})
		as.holdIntrospection(release)
		ctx, cancel := context.WithCancel(context.Background())
		first := make(chan int)
		go func() {
			rec := httptest.NewRecorder()
			a.h.ServeHTTP(rec, bearer(tok).WithContext(ctx))
			first <- rec.Code
		}()
		second := make(chan int)
		go func() { second <- a.call(tok).Code }()
		time.Sleep(50 * time.Millisecond)
		cancel()
		if code := <-first; code != http.StatusServiceUnavailable {
			t.Errorf("the request that hung up: %d", code)
		}
		close(release)
		if code := <-second; code != http.StatusOK {
			t.Errorf("the request still waiting: %d, want 200", code)
		}
		if got := as.Introspections.Load(); got != 1 {
			t.Errorf("%d introspection requests, want 1", got)
		}
	})
}

func checkUnavailable(t *testing.T, rec *httptest.ResponseRecorder, tok string) {
	t.Helper()
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", rec.Code, rec.Body)
	}
	c := rec.Header().Get("WWW-Authenticate")
	if errorAttr(c) != "temporarily_unavailable" || !strings.Contains(c, `realm="notes"`) {
		t.Errorf("challenge %q", c)
	}
	if rec.Header().Get("Retry-After") != "5" {
		t.Errorf("Retry-After %q, want the cache TTL (5)", rec.Header().Get("Retry-After"))
	}
	if body := rec.Body.String(); strings.Contains(body, tok) || strings.Contains(body, apiSecret) || !strings.Contains(body, "temporarily_unavailable") {
		t.Errorf("body %q", body)
	}
}

// TestIntrospectionConfig: the settings are checked when the middleware is
// made, and defaults filled in.
func TestIntrospectionConfig(t *testing.T) {
	base := func() Config {
		return Config{Issuer: "https://auth.example.com/", Audience: []string{testAudience},
			Introspection: &Introspection{ClientID: apiID, ClientSecret: apiSecret}}
	}
	mw, err := New(base())
	if err != nil {
		t.Fatal(err)
	}
	got := mw.Config().Introspection
	if got.URL != "https://auth.example.com/introspect" || got.CacheTTL != DefaultIntrospectionCacheTTL ||
		got.MaxEntries != DefaultIntrospectionMaxEntries || got.Timeout != DefaultIntrospectionTimeout {
		t.Errorf("defaults: %+v", got)
	}
	got.CacheTTL = time.Hour
	if mw.Config().Introspection.CacheTTL != DefaultIntrospectionCacheTTL {
		t.Error("Config() shares the middleware's Introspection")
	}
	for name, tt := range map[string]struct {
		edit func(*Introspection)
		want string
	}{
		"no client id":     {func(in *Introspection) { in.ClientID = "" }, "needs the resource server's ClientID and ClientSecret"},
		"no secret":        {func(in *Introspection) { in.ClientSecret = "" }, "needs the resource server's ClientID and ClientSecret"},
		"plain http":       {func(in *Introspection) { in.URL = "http://auth.example.com/introspect" }, "must use https"},
		"url with query":   {func(in *Introspection) { in.URL = "https://auth.example.com/introspect?x=1" }, "must not have a query"},
		"long cache":       {func(in *Introspection) { in.CacheTTL = 2 * time.Minute }, "CacheTTL must be between 0 and 1m0s"},
		"negative cache":   {func(in *Introspection) { in.CacheTTL = -time.Second }, "CacheTTL must be between"},
		"negative entries": {func(in *Introspection) { in.MaxEntries = -1 }, "MaxEntries is negative"},
		"negative timeout": {func(in *Introspection) { in.Timeout = -1 }, "Timeout is negative"},
	} {
		cfg := base()
		tt.edit(cfg.Introspection)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", name, err, tt.want)
		}
	}
	cfg := base()
	cfg.Introspection.URL = "http://127.0.0.1:9000/introspect"
	if _, err := New(cfg); err != nil {
		t.Errorf("loopback http: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }
