package httpapi_test

// A test server on DynamoDB Local: the same fixtures and browser helpers as
// newTestServer, with the grant library running on dynamostore (fresh
// tables from dynamotest) behind clientcache, as in a warm Lambda. The
// store's client is dynamostore.NewClient's, the SDK's DynamoDB client
// with the production retryer (without its waits and retry quota:
// dynamotest.FastRetries); it sends its requests through two
// http.RoundTrippers in its HTTP client (dynamotest.Wrap):
// dynamotest.Calls, which counts them by operation, and a faultInjector,
// which traces the DynamoDB operations of one chosen HTTP request and can
// fail one of them on the wire, as DynamoDB or the network would. Tests using it skip without DynamoDB Local, and fail
// under CI=true or GATEHOUSE_TEST_DYNAMODB=1 (see dynamotest).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gatehouse/gatehouse/shared/awstest"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/clientcache"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
)

// clientCacheTTL is the client cache's TTL on the dynamo test server.
const clientCacheTTL = time.Minute

// dynamoMaxAttempts is how often the server's DynamoDB client sends an
// operation before it gives up: as in production, but without backoff
// delays, so that a fault on every attempt costs the tests nothing, and
// without the retry quota, which the fault matrix, sending more failures
// through one client than a container meets, would use up
// (dynamotest.FastRetries).
const dynamoMaxAttempts = dynamostore.MaxAttempts

// dynamoServer is a testServer on dynamostore and DynamoDB Local.
type dynamoServer struct {
	*testServer
	// Backing is the dynamostore under the client cache; its client's
	// requests pass the Faults and Calls round trippers.
	Backing *dynamostore.Store
	Tables  dynamostore.Tables
	// DB is a plain client on the same database (no counting, no faults),
	// for the tests' own reads.
	DB     *dynamodb.Client
	Calls  *dynamotest.Calls
	Faults *faultInjector
}

// newDynamoServer starts a dynamo test server on fresh tables. It skips t
// without DynamoDB Local (fails it under CI=true).
func newDynamoServer(t *testing.T, configure ...func(*oauth.Config)) *dynamoServer {
	t.Helper()
	return newDynamoServerWith(t, nil, configure...)
}

// newDynamoServerWith is newDynamoServer with further options for the
// server's DynamoDB client (retries, say), applied after the defaults
// (dynamotest.FastRetries) and the two round trippers.
func newDynamoServerWith(t *testing.T, clientOpts []func(*dynamodb.Options), configure ...func(*oauth.Config)) *dynamoServer {
	t.Helper()
	signer, err := localsigner.New(localsigner.RS256)
	if err != nil {
		t.Fatal(err)
	}
	return newDynamoServerSigned(t, signer, clientOpts, configure...)
}

// newDynamoServerSigned is newDynamoServerWith with a caller-chosen signer
// (a kmssigner on the KMS double, say).
func newDynamoServerSigned(t *testing.T, signer oauth.Signer, clientOpts []func(*dynamodb.Options), configure ...func(*oauth.Config)) *dynamoServer {
	t.Helper()
	plain := dynamotest.Client(t)
	tables := dynamotest.CreateTables(t, plain)
	ds := &dynamoServer{
		Tables: tables,
		DB:     plain,
		Calls:  awstest.NewCalls(),
		Faults: newFaultInjector(tables),
	}
	// The last option applied sees a request first: Calls counts every
	// attempt the client makes, those the injector answers included.
	opts := []func(*dynamodb.Options){
		dynamotest.FastRetries,
		ds.Faults.Option,
		dynamotest.Count(ds.Calls),
	}
	client := dynamotest.Client(t, append(opts, clientOpts...)...)
	clk := &clock{now: time.Now().Truncate(time.Second)}
	ds.Backing = dynamostore.New(client, tables)
	ds.Backing.Now = clk.Now
	ds.testServer = startServerOn(t, signer, backend{
		store:   clientcache.New(ds.Backing, clientCacheTTL, clk.Now),
		admin:   ds.Backing,
		clock:   clk,
		handler: ds.Faults.Handler,
	}, configure...)
	ds.Calls.Reset()
	return ds
}

// withT returns a copy of ds whose helpers report to t (see
// testServer.withT).
func (ds *dynamoServer) withT(t *testing.T) *dynamoServer {
	c := *ds
	c.testServer = ds.testServer.withT(t)
	return &c
}

// traced sends one request through do with a trace (and f, if not nil)
// armed for it, and returns the response and the trace. It checks that
// the Calls counter saw the same requests as the trace.
func (ds *dynamoServer) traced(f *fault, do func() response) (response, *requestTrace) {
	ds.t.Helper()
	ds.Calls.Reset()
	tr := ds.Faults.Next(f)
	resp := do()
	if ds.Faults.armed.Load() == tr {
		ds.t.Fatalf("the traced request never reached the server")
	}
	if got, want := ds.Calls.Counts(), tr.counts(); !maps.Equal(got, want) {
		ds.t.Errorf("dynamotest.Calls counted %v, the trace saw %v (%s)", got, want, tr)
	}
	return resp, tr
}

// codeGrant returns the grant id of an authorization code, read directly.
func (ds *dynamoServer) codeGrant(code string) string {
	ds.t.Helper()
	it := dynamotest.GetItem(ds.t, ds.DB, ds.Tables.Codes, dynamotest.Item{"code_hash": dynamotest.S(oauth.HashToken(code))})
	if it == nil {
		ds.t.Fatalf("the code has no item")
	}
	gid := it.S("grant_id")
	if gid == "" {
		ds.t.Fatalf("the code's item has no grant_id: %v", it)
	}
	return gid
}

// grantRevoked reports whether the grant has a live revocation marker
// (grant#<id> unexpired at the server's clock), read directly.
func (ds *dynamoServer) grantRevoked(grantID string) bool {
	ds.t.Helper()
	it := dynamotest.GetItem(ds.t, ds.DB, ds.Tables.Tokens, dynamotest.Item{"pk": dynamotest.S("grant#" + grantID)})
	return it != nil && ds.Clock.Now().Unix() < expiresAt(ds.t, it)
}

// liveRefreshTokens scans the tokens table for the grant's refresh tokens
// (rt# items with its grant_id) that are neither rotated nor expired, and
// returns their hashes. It ignores the grant's revocation.
func (ds *dynamoServer) liveRefreshTokens(grantID string) []string {
	ds.t.Helper()
	now := ds.Clock.Now().Unix()
	var live []string
	for _, it := range dynamotest.ScanItems(ds.t, ds.DB, ds.Tables.Tokens) {
		hash, ok := strings.CutPrefix(it.S("pk"), "rt#")
		if !ok || it.S("grant_id") != grantID {
			continue
		}
		if it.Type("rotated") != "BOOL" {
			ds.t.Fatalf("refresh token item without a BOOL rotated: %v", it)
		}
		if !it.BOOL("rotated") && now < expiresAt(ds.t, it) {
			live = append(live, hash)
		}
	}
	return live
}

// orphans returns the grant's live refresh tokens (by hash) that the
// client was never given, while the grant is not revoked: tokens nobody
// holds that would nonetheless work. received are the refresh tokens the
// client did get.
func (ds *dynamoServer) orphans(grantID string, received ...string) []string {
	ds.t.Helper()
	if ds.grantRevoked(grantID) {
		return nil
	}
	given := map[string]bool{}
	for _, rt := range received {
		given[oauth.HashToken(rt)] = true
	}
	var out []string
	for _, h := range ds.liveRefreshTokens(grantID) {
		if !given[h] {
			out = append(out, h)
		}
	}
	return out
}

// expiresAt returns an item's expires_at, failing t if it has none.
func expiresAt(t *testing.T, it dynamotest.Item) int64 {
	t.Helper()
	n, ok := it.N("expires_at")
	if !ok {
		t.Fatalf("item has no integer expires_at: %v", it)
	}
	return n
}

// faultMode says where an injected fault strikes.
type faultMode int

const (
	// beforeSend answers each attempt of the operation in DynamoDB's
	// place: nothing is read or written.
	beforeSend faultMode = iota
	// afterSend forwards each attempt of the operation to DynamoDB, lets
	// it commit there, then replaces the response with the error: the
	// write landed, the client does not know it.
	afterSend
	// lostThenRetried forwards the operation's first attempt and loses its
	// response (the error must be one the client retries, such as a
	// network error); the client sends it again, as after a connection
	// reset, and that attempt goes through untouched.
	lostThenRetried
)

func (m faultMode) String() string {
	switch m {
	case afterSend:
		return "after send"
	case lostThenRetried:
		return "lost then retried"
	}
	return "before send"
}

// dynamoError is what an injected fault answers an attempt with: an error
// response of DynamoDB (status and error code, sent with DynamoDB's
// namespace as DynamoDB does), or, when network is set, no response at
// all: the round trip fails with network, as when a connection breaks.
type dynamoError struct {
	status  int
	code    string
	message string
	network error
}

// apiError is an error response of DynamoDB.
func apiError(status int, code, message string) dynamoError {
	return dynamoError{status: status, code: code, message: message}
}

// connectionReset is a network failure: the connection broke before the
// response arrived.
var connectionReset = dynamoError{network: errors.New("read tcp 127.0.0.1:50000->127.0.0.1:8000: read: connection reset by peer")}

func (e dynamoError) String() string {
	if e.network != nil {
		return e.network.Error()
	}
	return fmt.Sprintf("HTTP %d %s", e.status, e.code)
}

// respond answers r with the error.
func (e dynamoError) respond(r *http.Request) (*http.Response, error) {
	if e.network != nil {
		return nil, e.network
	}
	return awstest.ErrorResponse(r, e.status, "com.amazonaws.dynamodb.v20120810#"+e.code, e.message), nil
}

// fault fails operation number at (from 1) of a traced request, and the
// operations numbered in also before they are sent, with the same error.
type fault struct {
	at   int
	mode faultMode
	err  dynamoError
	also []int
}

// faultInjector is an http.RoundTripper in front of the server's DynamoDB
// client's HTTP client (the SDK's Options.HTTPClient). It acts only on
// requests whose context carries a requestTrace: Handler puts the one Next
// armed into the context of the next HTTP request, and the store passes
// that context (or one derived from it, such as abandonGrant's) to the
// SDK, which sends every attempt with it. So the trace covers every
// DynamoDB operation of that request, and nothing else.
//
// The injector sees attempts, and tells operations apart by the SDK's
// amz-sdk-invocation-id, which every attempt of one operation call
// carries and no other call does. A fault strikes every attempt of its
// operation, except lostThenRetried's: an injected error is the
// operation's final result, after all the retries the client makes, as
// when DynamoDB keeps failing.
type faultInjector struct {
	short map[string]string // table name -> "codes", "tokens", ...
	armed atomic.Pointer[requestTrace]
}

func newFaultInjector(tables dynamostore.Tables) *faultInjector {
	return &faultInjector{short: map[string]string{
		tables.Clients: "clients", tables.Users: "users", tables.Codes: "codes",
		tables.Tokens: "tokens", tables.Sessions: "sessions",
	}}
}

// Next arms a trace, with fault f if not nil, for the next HTTP request.
func (fi *faultInjector) Next(f *fault) *requestTrace {
	tr := &requestTrace{fault: f, byCall: map[string]*opTrace{}}
	fi.armed.Store(tr)
	return tr
}

type traceKey struct{}

// Handler wraps the server's handler: the next request after Next takes
// the armed trace into its context.
func (fi *faultInjector) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tr := fi.armed.Swap(nil); tr != nil {
			r = r.WithContext(context.WithValue(r.Context(), traceKey{}, tr))
		}
		next.ServeHTTP(w, r)
	})
}

// Option installs the injector on a DynamoDB client.
func (fi *faultInjector) Option(o *dynamodb.Options) {
	dynamotest.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			return fi.roundTrip(next, r)
		})
	})(o)
}

func (fi *faultInjector) roundTrip(next http.RoundTripper, r *http.Request) (*http.Response, error) {
	tr, _ := r.Context().Value(traceKey{}).(*requestTrace)
	if tr == nil {
		return next.RoundTrip(r)
	}
	op := awstest.Operation(r)
	o, attempt, f := tr.begin(awstest.InvocationID(r), op, fi.label(op, awstest.Body(r)))
	switch {
	case f != nil && f.mode == beforeSend:
		r.Body.Close()
		return f.err.respond(r)
	case f != nil && (f.mode == afterSend || f.mode == lostThenRetried && attempt == 1):
		resp, err := next.RoundTrip(r)
		status := -1 // no response
		if err == nil {
			status = resp.StatusCode
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		tr.sent(o, status)
		return f.err.respond(r)
	case f != nil:
		resp, err := next.RoundTrip(r)
		status := -1
		if err == nil {
			status = resp.StatusCode
		}
		tr.sent(o, status)
		return resp, err
	}
	return next.RoundTrip(r)
}

// label names an operation and the tables it touches, as its JSON body
// names them: "GetItem codes", "TransactWriteItems codes+tokens".
func (fi *faultInjector) label(op string, body []byte) string {
	var in struct {
		TableName     string
		RequestItems  map[string]json.RawMessage              // BatchGetItem, BatchWriteItem
		TransactItems []map[string]struct{ TableName string } // {"Put": {...}}, {"ConditionCheck": {...}}, ...
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return op + " (unreadable body)"
	}
	tables := []string{in.TableName}
	for name := range in.RequestItems {
		tables = append(tables, name)
	}
	for _, it := range in.TransactItems {
		for _, action := range it {
			tables = append(tables, action.TableName)
		}
	}
	var names []string
	for _, name := range tables {
		if name == "" {
			continue
		}
		if s, ok := fi.short[name]; ok {
			name = s
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return op
	}
	return op + " " + strings.Join(names, "+")
}

// requestTrace records the DynamoDB operations of one HTTP request, and
// their attempts, and injects its fault, if any.
type requestTrace struct {
	fault *fault

	mu     sync.Mutex
	ops    []*opTrace          // in order
	byCall map[string]*opTrace // by amz-sdk-invocation-id
	failed *opTrace            // the operation the fault hit
}

// opTrace is one operation of a traced request.
type opTrace struct {
	label    string
	op       string
	fault    *fault // striking it, if any
	attempts int
	// sent holds DynamoDB's status for each attempt that reached it
	// (-1: no response), for the operations a fault hit.
	sent []int
}

// begin records an attempt of the operation call id: a retry of one seen
// before, or a new one. It returns the operation, the attempt's number
// (from 1) and the fault to inject, if any.
func (tr *requestTrace) begin(id, op, label string) (*opTrace, int, *fault) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	o := tr.byCall[id]
	if o == nil || id == "" {
		o = &opTrace{label: label, op: op}
		tr.ops = append(tr.ops, o)
		tr.byCall[id] = o
		n := len(tr.ops)
		switch {
		case tr.fault == nil:
		case n == tr.fault.at:
			o.fault = tr.fault
			tr.failed = o
		case slices.Contains(tr.fault.also, n):
			o.fault = &fault{at: n, mode: beforeSend, err: tr.fault.err}
		}
	}
	o.attempts++
	return o, o.attempts, o.fault
}

// sent records DynamoDB's status for an attempt of o that reached it (-1
// if no response came back).
func (tr *requestTrace) sent(o *opTrace, status int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	o.sent = append(o.sent, status)
}

// Ops returns the labels of the operations, in order.
func (tr *requestTrace) Ops() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []string
	for _, o := range tr.ops {
		out = append(out, o.label)
	}
	return out
}

// Failed returns the label of the failed operation and whether it landed:
// its first attempt reached DynamoDB and succeeded there.
func (tr *requestTrace) Failed() (label string, landed bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.failed == nil {
		return "", false
	}
	return tr.failed.label, len(tr.failed.sent) > 0 && tr.failed.sent[0] == http.StatusOK
}

// Sent returns DynamoDB's status for each attempt of the failed operation
// that reached it (-1: no response).
func (tr *requestTrace) Sent() []int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.failed == nil {
		return nil
	}
	return slices.Clone(tr.failed.sent)
}

// Attempts returns how often the client sent the failed operation.
func (tr *requestTrace) Attempts() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.failed == nil {
		return 0
	}
	return tr.failed.attempts
}

// Retries returns the labels of the operations the client sent more than
// once, with their attempts.
func (tr *requestTrace) Retries() map[string]int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := map[string]int{}
	for _, o := range tr.ops {
		if o.attempts > 1 {
			out[o.label] = o.attempts
		}
	}
	return out
}

// counts returns the number of attempts by operation name, as
// dynamotest.Calls counts them.
func (tr *requestTrace) counts() map[string]int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := map[string]int{}
	for _, o := range tr.ops {
		out[o.op] += o.attempts
	}
	return out
}

func (tr *requestTrace) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.ops) == 0 {
		return "none"
	}
	var parts []string
	for _, o := range tr.ops {
		p := o.label
		if o.attempts > 1 {
			p += fmt.Sprintf(" (×%d)", o.attempts)
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("%d: %s", len(tr.ops), strings.Join(parts, ", "))
}
