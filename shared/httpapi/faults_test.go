package httpapi_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// faultKinds are the errors injected into DynamoDB operations, as they
// come over the wire, with the OAuth error the client must get: DynamoDB's
// server faults, throttling and a lost connection are
// temporarily_unavailable (503) with Retry-After; an error the store does
// not recognize is server_error (500).
//
// retried: the store's client retries the error, so a fault that strikes
// every attempt is sent dynamoMaxAttempts times. throttled marks
// DynamoDB's refusals: it applied nothing, so such an error never comes
// "after send", and a throttled write leaves the grant alone. Every other
// failed write may have landed.
var faultKinds = []struct {
	name      string
	err       dynamoError
	status    int
	code      string
	retried   bool
	throttled bool
}{
	{"InternalServerError",
		apiError(http.StatusInternalServerError, "InternalServerError", "Internal server error"),
		http.StatusServiceUnavailable, "temporarily_unavailable", true, false},
	{"connection reset", connectionReset,
		http.StatusServiceUnavailable, "temporarily_unavailable", true, false},
	{"unrecognized error",
		apiError(http.StatusBadRequest, "InjectedUnrecognizedException", "an error the store does not know"),
		http.StatusInternalServerError, "server_error", false, false},
	{"ThrottlingException",
		apiError(http.StatusBadRequest, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
		http.StatusServiceUnavailable, "temporarily_unavailable", true, true},
	{"ProvisionedThroughputExceededException",
		apiError(http.StatusBadRequest, "ProvisionedThroughputExceededException", "The level of configured provisioned throughput for the table was exceeded."),
		http.StatusServiceUnavailable, "temporarily_unavailable", true, true},
}

// TestDynamoFaults fails each DynamoDB operation of the code exchange and
// of the refresh, before it reaches DynamoDB and after it committed there
// (the response lost), and checks docs/design.md's "No partial state" by what a
// client or an attacker could reach afterwards:
//
//   - the client gets a 5xx OAuth JSON error, never a token;
//   - (i) retrying the exchange either succeeds with live tokens or fails
//     with invalid_grant: never tokens dead on arrival;
//   - (ii) the tokens table holds no live refresh token of the grant that
//     the client was not given, unless the grant is revoked;
//   - (iii) after a failed refresh, the old refresh token either still
//     works, and then the access token issued before is still active, or
//     the grant is revoked.
//
// Each fault strikes every attempt of its operation: the store's client
// retries what it retries (the test checks it sent the operation
// dynamoMaxAttempts times), and the error is still the operation's final
// result, as when DynamoDB stays down. After send, DynamoDB Local applies
// each attempt; the repeats of the transaction carry its
// ClientRequestToken, so DynamoDB accepts them as the idempotent repeat of
// a transaction that committed.
//
// A failed write may have landed, so after a server fault, a lost
// connection or an unrecognized error the library revokes the grant
// (oauth.abandonGrant), even when, as before send, nothing was written:
// the client then starts over with a new authorization. A throttled write
// certainly applied nothing (oauth.ErrNotWritten): the grant is left alone
// and the client's retry, which the 503's Retry-After invites, succeeds.
func TestDynamoFaults(t *testing.T) {
	ds := newDynamoServer(t)
	ds.ccToken("read") // warm the client cache: the service client introspects
	ds.tokens("read")  // and the web client

	cases := []struct {
		flow   string // "exchange" or "refresh"
		at     int    // the operation that fails
		op     string // what it is
		mode   faultMode
		wantOK bool // the retry (exchange) or the old refresh token (refresh) works
	}{
		// Reads: nothing was written either way; retrying works.
		{"exchange", 1, "GetItem codes", beforeSend, true},
		{"exchange", 1, "GetItem codes", afterSend, true},
		{"refresh", 1, "BatchGetItem tokens", beforeSend, true},
		{"refresh", 1, "BatchGetItem tokens", afterSend, true},
		// The redemption or rotation after a server fault: the grant is
		// abandoned (revoked) whether or not the write landed, and the
		// retry is invalid_grant. (Throttled, it works: see below.)
		{"exchange", 2, "TransactWriteItems codes+tokens", beforeSend, false},
		{"exchange", 2, "TransactWriteItems codes+tokens", afterSend, false},
		{"refresh", 2, "TransactWriteItems tokens", beforeSend, false},
		{"refresh", 2, "TransactWriteItems tokens", afterSend, false},
	}
	for _, c := range cases {
		for _, kind := range faultKinds {
			if kind.throttled && c.mode == afterSend {
				continue // DynamoDB never throttles a request it applied
			}
			// A throttled write left everything as it was.
			wantOK, abandoned := c.wantOK, c.at == 2
			if kind.throttled {
				wantOK, abandoned = true, false
			}
			name := fmt.Sprintf("%s/op%d %s/%s/%s", c.flow, c.at, c.op, c.mode, kind.name)
			t.Run(name, func(t *testing.T) {
				ds := ds.withT(t)
				f := &fault{at: c.at, mode: c.mode, err: kind.err}
				// The failed request makes its operations up to the
				// fault; a failed write is followed by the revocation
				// of the grant (abandonGrant).
				wantOps := []string{"GetItem codes", "TransactWriteItems codes+tokens"}
				if c.flow == "refresh" {
					wantOps = []string{"BatchGetItem tokens", "TransactWriteItems tokens"}
				}
				wantOps = wantOps[:c.at]
				if abandoned {
					wantOps = append(wantOps, "UpdateItem tokens")
				}

				var grantID, access0, rt0 string
				var resp response
				var tr *requestTrace
				if c.flow == "exchange" {
					code, verifier := ds.codeFor("read write")
					grantID = ds.codeGrant(code)
					resp, tr = ds.traced(f, func() response { return ds.exchange(code, verifier) })
					wantFaultResponse(t, resp, kind.status, kind.code)
					checkFault(t, tr, c.op, c.mode, wantOps)
					checkAttempts(t, tr, kind.retried)
					checkRevoked(ds, grantID, abandoned)
					wantNoOrphans(ds, grantID)

					// (i) Retry the exchange with the same code.
					retry := ds.exchange(code, verifier)
					ok, received := wantLiveOrInvalidGrant(ds, retry)
					if ok != wantOK {
						t.Errorf("retrying the exchange: ok = %v, want %v: %d %s", ok, wantOK, retry.Status, retry.Body)
					}
					if !ok {
						checkRevoked(ds, grantID, true)
					}
					wantNoOrphans(ds, grantID, received...)
					return
				}

				toks := ds.tokens("read write")
				access0, rt0 = str(toks, "access_token"), str(toks, "refresh_token")
				grantID = grantOf(t, rt0)
				resp, tr = ds.traced(f, func() response { return ds.refresh(rt0, "") })
				wantFaultResponse(t, resp, kind.status, kind.code)
				checkFault(t, tr, c.op, c.mode, wantOps)
				checkAttempts(t, tr, kind.retried)
				checkRevoked(ds, grantID, abandoned)
				wantNoOrphans(ds, grantID, rt0)

				// (iii) The old refresh token still works, and the access
				// token issued before is still active, or the grant is
				// revoked.
				wasActive := ds.active(access0)
				retry := ds.refresh(rt0, "")
				ok, received := wantLiveOrInvalidGrant(ds, retry)
				if ok != wantOK {
					t.Errorf("refreshing with the old token again: ok = %v, want %v: %d %s", ok, wantOK, retry.Status, retry.Body)
				}
				if ok && !wasActive {
					t.Errorf("the old refresh token still works, but the access token issued before it is inactive")
				}
				if !ok {
					checkRevoked(ds, grantID, true)
					if wasActive {
						t.Errorf("the grant is revoked, but the access token issued before is still active")
					}
				}
				wantNoOrphans(ds, grantID, append(received, rt0)...)
			})
		}
	}
}

// wantFaultResponse checks a 5xx OAuth JSON error without any token, and
// Retry-After on a 503.
func wantFaultResponse(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status == http.StatusOK {
		t.Fatalf("a failed DynamoDB operation gave 200: %s", r.Body)
	}
	wantError(t, r, status, code)
	wantNoStore(t, r)
	m := r.JSON(t)
	for _, k := range []string{"access_token", "refresh_token"} {
		if _, ok := m[k]; ok {
			t.Errorf("error response carries %s: %s", k, r.Body)
		}
	}
	ra := r.Header.Get("Retry-After")
	if status == http.StatusServiceUnavailable {
		if n, err := strconv.Atoi(ra); err != nil || n <= 0 {
			t.Errorf("503 with Retry-After %q, want a positive number of seconds", ra)
		}
	}
}

// checkFault checks the fault hit the expected operation (and, after send,
// that the operation really landed, and that DynamoDB accepted each of
// its attempts) and the request's whole operations.
func checkFault(t *testing.T, tr *requestTrace, op string, mode faultMode, wantOps []string) {
	t.Helper()
	failed, landed := tr.Failed()
	if failed != op {
		t.Fatalf("the fault hit %q, want %q (request: %s)", failed, op, tr)
	}
	if mode == afterSend && !landed {
		t.Fatalf("after send: %s did not succeed at DynamoDB, so the test proves nothing (statuses %v)", op, tr.Sent())
	}
	if mode != beforeSend {
		if sent := tr.Sent(); len(sent) != tr.Attempts() || slices.ContainsFunc(sent, func(s int) bool { return s != http.StatusOK }) {
			t.Errorf("DynamoDB answered the %d attempts of %s with %v, want 200 to each (a repeat is idempotent)", tr.Attempts(), op, sent)
		}
	}
	if ops := tr.Ops(); !slices.Equal(ops, wantOps) {
		t.Errorf("operations %q, want %q", ops, wantOps)
	}
}

// checkAttempts checks the client sent the failed operation as often as
// it retries the fault's error (dynamoMaxAttempts times, or once), and no
// other operation more than once.
func checkAttempts(t *testing.T, tr *requestTrace, retried bool) {
	t.Helper()
	failed, _ := tr.Failed()
	want := map[string]int{}
	if retried {
		want[failed] = dynamoMaxAttempts
	}
	if got := tr.Retries(); !maps.Equal(got, want) {
		t.Errorf("operations sent more than once: %v, want %v (request: %s)", got, want, tr)
	}
}

// checkRevoked checks whether the grant is revoked.
func checkRevoked(ds *dynamoServer, grantID string, want bool) {
	ds.t.Helper()
	if got := ds.grantRevoked(grantID); got != want {
		ds.t.Errorf("grant revoked = %v, want %v", got, want)
	}
}

// wantNoOrphans checks (ii): no live refresh token of an unrevoked grant
// other than those the client received.
func wantNoOrphans(ds *dynamoServer, grantID string, received ...string) {
	ds.t.Helper()
	if o := ds.orphans(grantID, received...); len(o) > 0 {
		ds.t.Errorf("%d live refresh token(s) of the unrevoked grant that the client never received (hashes %q)", len(o), o)
	}
}

// wantLiveOrInvalidGrant checks a token response is either a 200 whose
// tokens are live (the access token introspects active, the refresh token
// refreshes, and that new access token is active) or a 400 invalid_grant.
// It reports which, and returns the refresh tokens the client received.
func wantLiveOrInvalidGrant(ds *dynamoServer, r response) (ok bool, received []string) {
	t := ds.t
	t.Helper()
	if r.Status != http.StatusOK {
		wantError(t, r, http.StatusBadRequest, "invalid_grant")
		return false, nil
	}
	m := r.JSON(t)
	received = append(received, str(m, "refresh_token"))
	if !ds.active(str(m, "access_token")) {
		t.Errorf("tokens issued dead on arrival: the access token is inactive")
	}
	next := ds.refresh(str(m, "refresh_token"), "")
	if next.Status != http.StatusOK {
		t.Errorf("tokens issued dead on arrival: the refresh token does not refresh: %d %s", next.Status, next.Body)
		return true, received
	}
	n := next.JSON(t)
	received = append(received, str(n, "refresh_token"))
	if !ds.active(str(n, "access_token")) {
		t.Errorf("the access token from refreshing the new refresh token is inactive")
	}
	return true, received
}

// grantOf returns the grant id of a refresh token ("<grant id>.<secret>").
func grantOf(t *testing.T, rt string) string {
	t.Helper()
	gid, _, ok := strings.Cut(rt, ".")
	if !ok || gid == "" {
		t.Fatalf("refresh token %q has no grant id", rt)
	}
	return gid
}

// TestDynamoFaultsLostResponseRetried: the response to the redemption or
// rotation transaction is lost after it committed (a connection reset)
// and the store's client, as it does, sends the transaction again. The
// retry carries the same ClientRequestToken, which the store sets once per
// call, so DynamoDB answers it as the idempotent repeat of a transaction
// that succeeded, not as a second redemption: the client gets its tokens,
// live, and the grant stays whole.
func TestDynamoFaultsLostResponseRetried(t *testing.T) {
	ds := newDynamoServer(t)
	ds.ccToken("read")
	ds.tokens("read")
	for _, c := range []struct {
		flow, op string
		ops      []string
	}{
		{"exchange", "TransactWriteItems codes+tokens", []string{"GetItem codes", "TransactWriteItems codes+tokens"}},
		{"refresh", "TransactWriteItems tokens", []string{"BatchGetItem tokens", "TransactWriteItems tokens"}},
	} {
		t.Run(c.flow, func(t *testing.T) {
			ds := ds.withT(t)
			f := &fault{at: 2, mode: lostThenRetried, err: connectionReset}
			var grantID string
			var resp response
			var tr *requestTrace
			if c.flow == "exchange" {
				code, verifier := ds.codeFor("read")
				grantID = ds.codeGrant(code)
				resp, tr = ds.traced(f, func() response { return ds.exchange(code, verifier) })
			} else {
				rt0 := str(ds.tokens("read"), "refresh_token")
				grantID = grantOf(t, rt0)
				resp, tr = ds.traced(f, func() response { return ds.refresh(rt0, "") })
			}
			checkFault(t, tr, c.op, afterSend, c.ops)
			if n := tr.Attempts(); n != 2 {
				t.Fatalf("the client sent %s %d times, want 2", c.op, n)
			}
			ok, received := wantLiveOrInvalidGrant(ds, resp)
			if !ok {
				t.Fatalf("the client's retry of a committed transaction was refused: %s", resp.Body)
			}
			checkRevoked(ds, grantID, false)
			wantNoOrphans(ds, grantID, received...)
		})
	}
}

// TestDynamoFaultsRevocationAlsoFails: the redemption or rotation commits
// but its response is lost, and the revocation abandonGrant then attempts
// fails too (DynamoDB down for both calls). This is the one window the
// library cannot close on its own: until the client comes back, the
// grant holds a live refresh token that nobody received. Its secret never
// left the server (only its hash is stored), so no one can use it; and the
// client's retry, a replay of the code or of the rotated refresh token,
// revokes the grant. The test pins both the window and its closing.
func TestDynamoFaultsRevocationAlsoFails(t *testing.T) {
	ds := newDynamoServer(t)
	ds.ccToken("read")
	ds.tokens("read")
	for _, kind := range faultKinds {
		if kind.throttled {
			continue // DynamoDB never throttles a request it applied
		}
		for _, flow := range []string{"exchange", "refresh"} {
			t.Run(flow+"/"+kind.name, func(t *testing.T) {
				ds := ds.withT(t)
				f := &fault{at: 2, mode: afterSend, err: kind.err, also: []int{3}}
				var grantID string
				var resp response
				var tr *requestTrace
				var retry func() response
				var held []string
				if flow == "exchange" {
					code, verifier := ds.codeFor("read")
					grantID = ds.codeGrant(code)
					resp, tr = ds.traced(f, func() response { return ds.exchange(code, verifier) })
					checkFault(t, tr, "TransactWriteItems codes+tokens", afterSend,
						[]string{"GetItem codes", "TransactWriteItems codes+tokens", "UpdateItem tokens"})
					retry = func() response { return ds.exchange(code, verifier) }
				} else {
					rt0 := str(ds.tokens("read"), "refresh_token")
					grantID = grantOf(t, rt0)
					held = []string{rt0}
					resp, tr = ds.traced(f, func() response { return ds.refresh(rt0, "") })
					checkFault(t, tr, "TransactWriteItems tokens", afterSend,
						[]string{"BatchGetItem tokens", "TransactWriteItems tokens", "UpdateItem tokens"})
					retry = func() response { return ds.refresh(rt0, "") }
				}
				wantFaultResponse(t, resp, kind.status, kind.code)
				if ops := tr.Ops(); kind.retried && len(ops) == 3 {
					want := map[string]int{ops[1]: dynamoMaxAttempts, ops[2]: dynamoMaxAttempts}
					if got := tr.Retries(); !maps.Equal(got, want) {
						t.Errorf("operations sent more than once: %v, want %v", got, want)
					}
				}
				// The window: one live refresh token nobody holds.
				checkRevoked(ds, grantID, false)
				if o := ds.orphans(grantID, held...); len(o) != 1 {
					t.Errorf("after both faults: %d unreceived live refresh tokens, want the 1 of the lost response", len(o))
				}
				// The client retries: a replay, which revokes the grant.
				wantError(t, retry(), http.StatusBadRequest, "invalid_grant")
				checkRevoked(ds, grantID, true)
				wantNoOrphans(ds, grantID, held...)
			})
		}
	}
}
