package httpapi_test

// The login throttle under parallel guessing (issue 11, item 1): an attacker
// who sends many guesses at once must not get more passwords checked than
// the limit allows, on the sign-in form or the password grant, per username
// or per address, on memstore and on DynamoDB Local.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/httpapi/pages"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/store/clientcache"
)

// heldChecker is a passwords.Checker that counts the passwords it checks
// (CheckPassword and DummyCheck alike) and holds every check until Release,
// as a slow Argon2id check on a busy server would: the guesses a throttle
// lets through pile up inside the check, where the old read-check-record
// throttle had not yet recorded them.
type heldChecker struct {
	inner   passwords.Checker
	checks  atomic.Int64
	release chan struct{}
	once    sync.Once
}

func newHeldChecker() *heldChecker { return &heldChecker{release: make(chan struct{})} }

func (c *heldChecker) hold() {
	c.checks.Add(1)
	<-c.release
}

// Release lets every held check, and every later one, go on.
func (c *heldChecker) Release() { c.once.Do(func() { close(c.release) }) }

func (c *heldChecker) CheckPassword(hash, password string) bool {
	c.hold()
	return c.inner.CheckPassword(hash, password)
}

func (c *heldChecker) DummyCheck(password string) {
	c.hold()
	c.inner.DummyCheck(password)
}

// startCheckedServer starts a Gatehouse whose password checks go through
// checker, on the store and clock of base (already seeded).
func startCheckedServer(t *testing.T, base *testServer, store oauth.Store, checker oauth.PasswordChecker, configure ...func(*oauth.Config)) *testServer {
	t.Helper()
	hs := httptest.NewServer(nil)
	t.Cleanup(hs.Close)
	cfg := oauth.Config{Issuer: hs.URL, Now: base.Clock.Now, ScopesSupported: []string{"read", "write", "admin"}}
	for _, f := range configure {
		f(&cfg)
	}
	srv, err := oauth.NewServer(cfg, store, base.Signer, checker)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = httpapi.New(srv, httpapi.Options{Logger: slog.New(slog.DiscardHandler), Pages: pages.New()}).All()
	ts := &testServer{t: t, URL: hs.URL, OAuth: srv, Signer: base.Signer, Clock: base.Clock}
	ts.http = ts.newBrowser()
	return ts
}

// guess is one sign-in attempt, ready to send: its request is built (for
// the form, after its browser fetched the login page) before the race.
type guess struct {
	client *http.Client
	req    *http.Request
}

// outcome is what one guess got.
type outcome struct {
	status int
	header http.Header
	body   string
	err    error
}

func (g guess) send() outcome {
	resp, err := g.client.Do(g.req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return outcome{resp.StatusCode, resp.Header, string(body), err}
}

// channel is a way to guess a password: the sign-in form or the password
// grant. prepare builds a guess; the verdict functions read its outcome.
type channel struct {
	name    string
	prepare func(ts *testServer, username, password string) guess
	// checked: the password was checked and was wrong. refused: the
	// throttle refused the guess unchecked.
	checked, refused func(o outcome) bool
	// issued: the guess got a session or a token.
	issued func(o outcome) bool
}

var channels = []channel{
	{
		name: "sign-in form",
		prepare: func(ts *testServer, username, password string) guess {
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			page := ts.openLogin(c, webCodeParams("st"))
			form := formFields(ts.t, page.Body)
			form.Set("username", username)
			form.Set("password", password)
			req, _ := http.NewRequest(http.MethodPost, ts.URL+oauth.PathAuthorize, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return guess{client: c, req: req}
		},
		checked: func(o outcome) bool {
			return o.status == http.StatusOK && strings.Contains(o.body, "The username or password is not right")
		},
		refused: func(o outcome) bool {
			return o.status == http.StatusTooManyRequests && o.header.Get("Retry-After") != "" &&
				strings.Contains(o.body, "Too many failed sign-in attempts")
		},
		issued: func(o outcome) bool {
			return o.status == http.StatusSeeOther || slices.ContainsFunc(o.header.Values("Set-Cookie"),
				func(c string) bool { return strings.HasPrefix(c, "gh_session=") })
		},
	},
	{
		name: "password grant",
		prepare: func(ts *testServer, username, password string) guess {
			form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}, "scope": {"read"}}
			req, _ := http.NewRequest(http.MethodPost, ts.URL+oauth.PathToken, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", basic(passwordID, passwordSec))
			return guess{client: http.DefaultClient, req: req}
		},
		checked: func(o outcome) bool {
			return o.status == http.StatusBadRequest && strings.Contains(o.body, `"invalid_grant"`) &&
				strings.Contains(o.body, "wrong username or password")
		},
		refused: func(o outcome) bool {
			return o.status == http.StatusBadRequest && strings.Contains(o.body, `"invalid_grant"`) &&
				strings.Contains(o.body, "too many failed sign-in attempts")
		},
		issued: func(o outcome) bool { return o.status == http.StatusOK || strings.Contains(o.body, "access_token") },
	},
}

// attack sends wrong, all at once, while checker holds every password
// check; once each of them is either inside a check or answered, it sends
// right (the right password), waits until that one too is inside a check
// or answered, and only then lets the checks finish. A throttle that counts
// an attempt only after its check lets every wrong guess and the right one
// in; one that counts before it lets at most its limit in. It returns the
// outcomes, right's last.
func attack(t *testing.T, checker *heldChecker, wrong []guess, right guess) []outcome {
	t.Helper()
	defer checker.Release()
	out := make([]outcome, len(wrong)+1)
	var answered atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, g := range wrong {
		wg.Go(func() {
			<-start
			out[i] = g.send()
			answered.Add(1)
		})
	}
	close(start)
	waitUntilTrue(t, "every wrong guess in a check or answered", func() bool {
		return checker.checks.Load()+answered.Load() == int64(len(wrong))
	}, func() string {
		return fmt.Sprintf("%d in a check, %d answered of %d", checker.checks.Load(), answered.Load(), len(wrong))
	})
	before := checker.checks.Load()
	var rightDone atomic.Bool
	wg.Go(func() {
		out[len(wrong)] = right.send()
		rightDone.Store(true)
	})
	waitUntilTrue(t, "the right guess in a check or answered", func() bool {
		return checker.checks.Load() > before || rightDone.Load()
	}, func() string { return fmt.Sprintf("%d checks", checker.checks.Load()) })
	checker.Release()
	wg.Wait()
	for i, o := range out {
		if o.err != nil {
			t.Fatalf("guess %d: %v", i, o.err)
		}
	}
	return out
}

// waitUntilTrue polls cond for up to 30 s.
func waitUntilTrue(t *testing.T, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %s", what, state())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// judge checks the outcomes of an attack: at most limit passwords checked,
// every guess either checked (and wrong) or refused by the throttle, and
// nothing issued, not even to the right password.
func judge(t *testing.T, ch channel, checker *heldChecker, limit int, out []outcome) {
	t.Helper()
	var checked, refused int
	for i, o := range out {
		switch {
		case ch.issued(o):
			t.Errorf("guess %d (right password: %v) got a session or a token: %d %.200s", i, i == len(out)-1, o.status, o.body)
		case ch.checked(o):
			checked++
		case ch.refused(o):
			refused++
		default:
			t.Errorf("guess %d: unexpected answer %d %.300s", i, o.status, o.body)
		}
	}
	checks := checker.checks.Load()
	t.Logf("%d parallel guesses at a limit of %d: %d passwords checked, %d answered wrong, %d refused",
		len(out), limit, checks, checked, refused)
	if checks > int64(limit) {
		t.Errorf("%d passwords checked, over the limit of %d", checks, limit)
	}
	if int64(checked) != checks {
		t.Errorf("%d guesses answered wrong, but %d passwords checked", checked, checks)
	}
	if !ch.refused(out[len(out)-1]) {
		t.Errorf("the right password, sent after %d wrong ones: %d %.300s, want a throttle refusal",
			len(out)-1, out[len(out)-1].status, out[len(out)-1].body)
	}
}

const (
	parallelPerUser = 40 // wrong guesses at one username
	parallelPerIP   = 80 // wrong guesses at distinct usernames, from one address
)

// throttleRace runs the per-username and per-address attacks on both
// channels; newStore returns a seeded test server and the store to run the
// checked server on.
func throttleRace(t *testing.T, newStore func(t *testing.T) (*testServer, oauth.Store)) {
	for _, ch := range channels {
		t.Run(ch.name, func(t *testing.T) {
			t.Run("per username", func(t *testing.T) {
				// The address limit is out of reach here.
				base, store := newStore(t)
				checker := newHeldChecker()
				ts := startCheckedServer(t, base, store, checker, func(c *oauth.Config) {
					c.LoginMaxFailuresPerIP = 1000
				})
				wrong := make([]guess, parallelPerUser)
				for i := range wrong {
					wrong[i] = ch.prepare(ts, userName, fmt.Sprintf("wrong guess %d", i))
				}
				right := ch.prepare(ts, userName, userPassword)
				judge(t, ch, checker, oauth.DefaultLoginMaxFailures, attack(t, checker, wrong, right))
			})
			t.Run("per address", func(t *testing.T) {
				base, store := newStore(t)
				checker := newHeldChecker()
				ts := startCheckedServer(t, base, store, checker)
				wrong := make([]guess, parallelPerIP)
				for i := range wrong {
					wrong[i] = ch.prepare(ts, fmt.Sprintf("user-%d-%s", i, oauth.RandomToken()[:6]), "wrong")
				}
				right := ch.prepare(ts, userName, userPassword)
				judge(t, ch, checker, oauth.DefaultLoginMaxFailuresIP, attack(t, checker, wrong, right))
			})
		})
	}
}

// TestLoginThrottleParallelGuesses: 40 parallel wrong guesses at one
// username, then the right password while they are being checked, get at
// most LoginMaxFailures (5) passwords checked and no session or token;
// 80 parallel wrong guesses from one address at distinct usernames get at
// most LoginMaxFailuresPerIP (50) checked. On the sign-in form and the
// password grant, on memstore.
func TestLoginThrottleParallelGuesses(t *testing.T) {
	throttleRace(t, func(t *testing.T) (*testServer, oauth.Store) {
		ts := newTestServer(t)
		return ts, ts.Store
	})
}

// TestDynamoLoginThrottleParallelGuesses is TestLoginThrottleParallelGuesses
// on dynamostore and DynamoDB Local.
func TestDynamoLoginThrottleParallelGuesses(t *testing.T) {
	throttleRace(t, func(t *testing.T) (*testServer, oauth.Store) {
		ds := newDynamoServer(t)
		return ds.testServer, clientcache.New(ds.Backing, clientCacheTTL, ds.Clock.Now)
	})
}

// onBothStores runs f on a test server on memstore and on one on
// dynamostore and DynamoDB Local, configured alike.
func onBothStores(t *testing.T, f func(t *testing.T, ts *testServer), configure ...func(*oauth.Config)) {
	t.Run("memstore", func(t *testing.T) { f(t, newTestServer(t, configure...)) })
	t.Run("dynamostore", func(t *testing.T) { f(t, newDynamoServer(t, configure...).testServer) })
}

// Source addresses for the library's Login, beside the test client's
// 127.0.0.1.
const (
	addrA = "203.0.113.10:4000"
	addrB = "198.51.100.20:5000"
)

// login signs in through the library from remoteAddr and reports the
// outcome: "ok", "wrong", "throttled" (anything else fails t).
func login(t *testing.T, ts *testServer, username, password, remoteAddr string) string {
	t.Helper()
	_, _, err := ts.OAuth.Login(t.Context(), username, password, remoteAddr)
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, oauth.ErrLoginFailed):
		return "wrong"
	case errors.Is(err, oauth.ErrLoginThrottled):
		return "throttled"
	}
	t.Fatalf("Login(%q) from %s: %v", username, remoteAddr, err)
	return ""
}

func wantLogin(t *testing.T, ts *testServer, username, password, remoteAddr, want string) {
	t.Helper()
	if got := login(t, ts, username, password, remoteAddr); got != want {
		t.Fatalf("Login(%q) from %s: %s, want %s", username, remoteAddr, got, want)
	}
}

// TestLoginThrottleSuccessesDoNotCountPerAddress: the per-address limit
// counts failed sign-ins only: an attempt is counted before its check, and
// a success is taken back, so many users signing in from one address (an
// office, a backend making password grants) are never refused for it.
func TestLoginThrottleSuccessesDoNotCountPerAddress(t *testing.T) {
	onBothStores(t, func(t *testing.T, ts *testServer) {
		wantLogin(t, ts, "nobody-1", "wrong", addrA, "wrong")
		wantLogin(t, ts, "nobody-2", "wrong", addrA, "wrong")
		for range 6 {
			wantLogin(t, ts, userName, userPassword, addrA, "ok")
		}
		wantLogin(t, ts, "nobody-3", "wrong", addrA, "wrong")
		wantLogin(t, ts, userName, userPassword, addrA, "throttled")
		wantLogin(t, ts, userName, userPassword, addrB, "ok")
	}, func(c *oauth.Config) { c.LoginMaxFailuresPerIP = 3 })
}

// TestLoginThrottleAddressRefusalSparesUsernames: attempts refused for
// their address do not count against their usernames, so an address over
// its limit cannot go on locking users out; the user signs in from
// elsewhere with the failures of the username's own limit still to spare.
func TestLoginThrottleAddressRefusalSparesUsernames(t *testing.T) {
	onBothStores(t, func(t *testing.T, ts *testServer) {
		for i := range 3 {
			wantLogin(t, ts, fmt.Sprint("nobody-", i), "wrong", addrA, "wrong")
		}
		for range 10 {
			wantLogin(t, ts, userName, "guess", addrA, "throttled")
		}
		wantLogin(t, ts, userName, "typo 1", addrB, "wrong")
		wantLogin(t, ts, userName, "typo 2", addrB, "wrong")
		wantLogin(t, ts, userName, userPassword, addrB, "ok")
	}, func(c *oauth.Config) { c.LoginMaxFailuresPerIP, c.LoginMaxFailures = 3, 3 })
}

// TestLoginThrottleRefusalsDoNotExtend: attempts refused throughout a
// window neither push the refusal past the window's end nor count in the
// next window: the lockout lasts at most one window, however long the
// attacker keeps trying.
func TestLoginThrottleRefusalsDoNotExtend(t *testing.T) {
	onBothStores(t, func(t *testing.T, ts *testServer) {
		wantLogin(t, ts, userName, "guess 1", addrA, "wrong")
		wantLogin(t, ts, userName, "guess 2", addrA, "wrong")
		windowEnd := ts.Clock.Now().Truncate(oauth.DefaultLoginFailureWindow).Add(oauth.DefaultLoginFailureWindow)
		for ts.Clock.Now().Add(time.Minute).Before(windowEnd) {
			for range 3 {
				wantLogin(t, ts, userName, "guess", addrA, "throttled")
				wantLogin(t, ts, userName, userPassword, addrB, "throttled")
			}
			ts.Clock.Advance(time.Minute)
		}
		ts.Clock.Advance(windowEnd.Sub(ts.Clock.Now()) - time.Second)
		wantLogin(t, ts, userName, userPassword, addrB, "throttled")
		ts.Clock.Advance(time.Second)
		wantLogin(t, ts, userName, "guess 3", addrA, "wrong")
		wantLogin(t, ts, userName, userPassword, addrB, "ok")
	}, func(c *oauth.Config) { c.LoginMaxFailures = 2 })
}

// getUserFaults fails GetUser while failing is set, as a DynamoDB outage
// would.
type getUserFaults struct {
	oauth.Store
	failing atomic.Bool
}

func (s *getUserFaults) GetUser(ctx context.Context, username string) (*oauth.User, error) {
	if s.failing.Load() {
		return nil, fmt.Errorf("users table unreachable: %w", oauth.ErrUnavailable)
	}
	return s.Store.GetUser(ctx, username)
}

// TestLoginThrottleStoreFailureDoesNotCount: an attempt that never reached
// a password check (the store failed first) is not counted against the
// username or the address.
func TestLoginThrottleStoreFailureDoesNotCount(t *testing.T) {
	base := newTestServer(t)
	store := &getUserFaults{Store: base.Store}
	ts := startCheckedServer(t, base, store, passwords.Checker{}, func(c *oauth.Config) {
		c.LoginMaxFailures, c.LoginMaxFailuresPerIP = 2, 2
	})
	store.failing.Store(true)
	for range 5 {
		if _, _, err := ts.OAuth.Login(t.Context(), userName, userPassword, addrA); err == nil ||
			errors.Is(err, oauth.ErrLoginThrottled) || errors.Is(err, oauth.ErrLoginFailed) {
			t.Fatalf("Login with GetUser failing: %v, want a server error", err)
		}
	}
	store.failing.Store(false)
	wantLogin(t, ts, userName, "typo", addrA, "wrong")
	wantLogin(t, ts, userName, userPassword, addrA, "ok")
}
