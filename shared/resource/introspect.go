package resource

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Introspection mode (Config.Introspection). A JWT access token carries
// its own expiry, so a resource server that only verifies it accepts a
// revoked token (after a revocation, RFC 7009, or a replayed code that
// revoked its grant, RFC 6749 §4.1.2) until it expires. In introspection
// mode every token that verifies is also shown to the authorization
// server's introspection endpoint (RFC 7662 §2.1), which knows about
// revocations:
//
//   - Only tokens that pass the JWT checks are introspected: a forged,
//     expired or foreign token costs nothing.
//   - Answers are cached by the token's SHA-256 for Introspection.CacheTTL
//     (default 5 s), never past the token's exp: a revocation reaches this
//     resource server within CacheTTL. An inactive answer is cached as
//     well, an answer that could not be obtained is not.
//   - One request per token is in flight at a time: concurrent requests
//     with the same token wait for it and share its answer (single
//     flight). The request runs detached from the request that started
//     it, bounded by Introspection.Timeout, so one client hanging up does
//     not fail the others.
//   - The cache holds at most Introspection.MaxEntries answers (plus the
//     requests in flight); when it is full a random older answer is
//     dropped, so a flood of distinct tokens costs introspection requests,
//     not memory.
//   - Fail closed: when the endpoint cannot be reached, times out, answers
//     anything but 200 with a JSON "active" boolean, or refuses the
//     resource server's credentials, the request is refused with 503
//     temporarily_unavailable and Retry-After, and the protected handler
//     does not run. No fallback to the JWT alone: that would let a
//     revoked token through whenever the authorization server is down.
//
// Cost: one introspection request per token per CacheTTL, which Gatehouse
// answers with one DynamoDB read (the revocation check) and no KMS call;
// its client record is cached in a warm function.

// maxIntrospectionBytes bounds an introspection response; Gatehouse's are
// a few hundred bytes.
const maxIntrospectionBytes = 64 << 10

// errIntrospection wraps every failure to obtain an answer.
var errIntrospection = errors.New("resource: token introspection failed")

// introspector asks the introspection endpoint about tokens and caches the
// answers. It is safe for concurrent use.
type introspector struct {
	cfg    Introspection
	auth   string // the Authorization header: client_secret_basic
	client *http.Client
	logf   func(msg string, args ...any)
	now    func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*answer
}

// answer is what the endpoint said about one token; introspector.mu guards
// its fields until done is closed, after which they are read-only.
type answer struct {
	active bool
	err    error
	until  time.Time     // the answer is reused before this time
	done   chan struct{} // closed when the answer has come
}

func newIntrospector(cfg Introspection, client *http.Client, logf func(string, ...any), now func() time.Time) *introspector {
	// The endpoint is called with credentials: follow no redirect, to a
	// plain-http URL or anywhere else. A 3xx is a failure.
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// RFC 6749 §2.3.1: the client id and secret are form-encoded, then
	// joined by a colon and base64-encoded.
	cred := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)
	return &introspector{
		cfg:     cfg,
		auth:    "Basic " + base64.StdEncoding.EncodeToString([]byte(cred)),
		client:  &c,
		logf:    logf,
		now:     now,
		entries: map[[sha256.Size]byte]*answer{},
	}
}

// active reports whether the authorization server considers token, which
// expires at exp, active. An error (wrapping errIntrospection, or ctx's
// error) means no answer could be had.
func (in *introspector) active(ctx context.Context, token string, exp time.Time) (bool, error) {
	key := sha256.Sum256([]byte(token))
	in.mu.Lock()
	a, ok := in.entries[key]
	if ok && a.resolved() && !in.now().Before(a.until) {
		delete(in.entries, key) // stale
		ok = false
	}
	if !ok {
		a = &answer{done: make(chan struct{})}
		in.makeRoom()
		in.entries[key] = a
		go in.fetch(context.WithoutCancel(ctx), key, token, exp, a)
	}
	in.mu.Unlock()

	select {
	case <-a.done:
		return a.active, a.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// resolved reports whether the answer has come; introspector.mu is held.
func (a *answer) resolved() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// makeRoom drops answers until there is room for one more; introspector.mu
// is held. Go's map iteration starts at a random entry, so the dropped
// answers are random ones: no pattern of tokens can keep its own answers
// cached while pushing others out. Requests in flight are never dropped.
func (in *introspector) makeRoom() {
	for key, a := range in.entries {
		if len(in.entries) < in.cfg.MaxEntries {
			return
		}
		if a.resolved() {
			delete(in.entries, key)
		}
	}
}

// fetch asks the endpoint about token and records the answer in a: cached
// until min(now + CacheTTL, exp), or, on failure, removed from the cache so
// the next request asks again.
func (in *introspector) fetch(ctx context.Context, key [sha256.Size]byte, token string, exp time.Time, a *answer) {
	ctx, cancel := context.WithTimeout(ctx, in.cfg.Timeout)
	defer cancel()
	active, err := in.introspect(ctx, token)
	in.mu.Lock()
	defer in.mu.Unlock()
	a.active, a.err = active, err
	if err != nil {
		in.logf("resource: token introspection failed; refusing the request", "url", in.cfg.URL, "error", err.Error())
		if in.entries[key] == a {
			delete(in.entries, key)
		}
	} else {
		a.until = in.now().Add(in.cfg.CacheTTL)
		if exp.Before(a.until) {
			a.until = exp
		}
	}
	close(a.done)
}

// introspect makes one introspection request (RFC 7662 §2.1) and reads the
// "active" member of its answer (§2.2).
func (in *introspector) introspect(ctx context.Context, token string) (bool, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.cfg.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return false, fmt.Errorf("%w: %v", errIntrospection, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", in.auth)
	resp, err := in.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("%w: %v", errIntrospection, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBytes+1))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// RFC 7662 §2.3: the resource server is not authorized. A
		// configuration fault, not the client's: it must not look like
		// a revoked token.
		return false, fmt.Errorf("%w: the endpoint refused this resource server's credentials (HTTP %d): check Introspection.ClientID and ClientSecret",
			errIntrospection, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return false, fmt.Errorf("%w: HTTP %d", errIntrospection, resp.StatusCode)
	case err != nil:
		return false, fmt.Errorf("%w: reading the answer: %v", errIntrospection, err)
	case len(body) > maxIntrospectionBytes:
		return false, fmt.Errorf("%w: the answer exceeds %d bytes", errIntrospection, maxIntrospectionBytes)
	}
	var r struct {
		Active *bool `json:"active"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Active == nil {
		return false, fmt.Errorf("%w: the answer is not a JSON object with an \"active\" boolean (RFC 7662 §2.2)", errIntrospection)
	}
	return *r.Active, nil
}

// size returns the number of cached answers and requests in flight.
func (in *introspector) size() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.entries)
}
