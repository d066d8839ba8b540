package httpapi_test

// A test server on DynamoDB Local: the same fixtures and browser helpers as
// newTestServer, with the grant library running on dynamostore (fresh
// tables from dynamotest) behind clientcache, as in a warm Lambda. The
// DynamoDB client carries two SDK middlewares: dynamotest.Calls, which
// counts operations, and a faultInjector, which traces the operations of
// one chosen HTTP request and can fail one of them. Tests using it skip
// without DynamoDB Local, and fail under CI=true (see dynamotest).

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/clientcache"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
)

// clientCacheTTL is the client cache's TTL on the dynamo test server.
const clientCacheTTL = time.Minute

// dynamoServer is a testServer on dynamostore and DynamoDB Local.
type dynamoServer struct {
	*testServer
	// Backing is the dynamostore under the client cache; its client has
	// the Calls and Faults middlewares.
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
// server's DynamoDB client (a retryer, say).
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
		Calls:  &dynamotest.Calls{},
		Faults: newFaultInjector(tables),
	}
	client := dynamotest.Client(t, append([]func(*dynamodb.Options){ds.Calls.Option, ds.Faults.Option}, clientOpts...)...)
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
// the Calls counter saw the same operations as the trace.
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
	out, err := ds.DB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      &ds.Tables.Codes,
		Key:            map[string]types.AttributeValue{"code_hash": &types.AttributeValueMemberS{Value: oauth.HashToken(code)}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil || out.Item == nil {
		ds.t.Fatalf("reading the code's item: %v (found: %v)", err, out != nil && out.Item != nil)
	}
	gid := attrS(out.Item, "grant_id")
	if gid == "" {
		ds.t.Fatalf("the code's item has no grant_id: %v", out.Item)
	}
	return gid
}

// grantRevoked reports whether the grant has a live revocation marker
// (grant#<id> unexpired at the server's clock), read directly.
func (ds *dynamoServer) grantRevoked(grantID string) bool {
	ds.t.Helper()
	out, err := ds.DB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      &ds.Tables.Tokens,
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "grant#" + grantID}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		ds.t.Fatalf("reading the grant's marker: %v", err)
	}
	return out.Item != nil && ds.Clock.Now().Unix() < attrN(ds.t, out.Item, "expires_at")
}

// liveRefreshTokens scans the tokens table for the grant's refresh tokens
// (rt# items with its grant_id) that are neither rotated nor expired, and
// returns their hashes. It ignores the grant's revocation.
func (ds *dynamoServer) liveRefreshTokens(grantID string) []string {
	ds.t.Helper()
	pages := dynamodb.NewScanPaginator(ds.DB, &dynamodb.ScanInput{
		TableName:        &ds.Tables.Tokens,
		ConsistentRead:   aws.Bool(true),
		FilterExpression: aws.String("grant_id = :gid AND begins_with(pk, :rt)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":gid": &types.AttributeValueMemberS{Value: grantID},
			":rt":  &types.AttributeValueMemberS{Value: "rt#"},
		},
	})
	now := ds.Clock.Now().Unix()
	var live []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			ds.t.Fatalf("scanning the tokens table: %v", err)
		}
		for _, it := range page.Items {
			rotated, ok := it["rotated"].(*types.AttributeValueMemberBOOL)
			if !ok {
				ds.t.Fatalf("refresh token item without a BOOL rotated: %v", it)
			}
			if !rotated.Value && now < attrN(ds.t, it, "expires_at") {
				live = append(live, strings.TrimPrefix(attrS(it, "pk"), "rt#"))
			}
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

func attrS(it map[string]types.AttributeValue, name string) string {
	v, _ := it[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

func attrN(t *testing.T, it map[string]types.AttributeValue, name string) int64 {
	t.Helper()
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("item has no number %s: %v", name, it)
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		t.Fatalf("item's %s: %v", name, err)
	}
	return n
}

// faultMode says where an injected fault strikes.
type faultMode int

const (
	// beforeSend fails the operation before it reaches DynamoDB: nothing
	// is read or written.
	beforeSend faultMode = iota
	// afterSend lets the operation reach DynamoDB and commit, then replaces
	// its response with the error: the write landed, the client does not
	// know it.
	afterSend
	// lostThenRetried loses the response of the operation's first attempt
	// inside the SDK's retry loop (the error must be one the SDK retries):
	// the SDK sends it again, as it would after a connection reset.
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

// fault fails operation number at (from 1) of a traced request, and the
// operations numbered in also before they are sent, with the same error.
type fault struct {
	at   int
	mode faultMode
	err  error
	also []int
}

// faultInjector is an SDK middleware in the Initialize step, outside the
// SDK's retry loop (which runs in Finalize): an injected error is the
// operation's final result, never retried away, and an operation is traced
// once however often the SDK retried it. (Only lostThenRetried acts inside
// the retry loop, through a second middleware in Finalize.) It acts only
// on operations whose context carries a requestTrace; Handler puts the one
// Next armed into the context of the next HTTP request, so the trace
// covers every DynamoDB operation of that request (including those made
// with a context derived from it, such as abandonGrant's revocation) and
// nothing else.
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
	tr := &requestTrace{fault: f}
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
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("httpapi_test.faults", fi.handle), middleware.After); err != nil {
			return err
		}
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("httpapi_test.lostResponse", loseFirstResponse), middleware.After)
	})
}

func (fi *faultInjector) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
	middleware.InitializeOutput, middleware.Metadata, error,
) {
	tr, _ := ctx.Value(traceKey{}).(*requestTrace)
	if tr == nil {
		return next.HandleInitialize(ctx, in)
	}
	label := fi.label(middleware.GetOperationName(ctx), in.Parameters)
	f := tr.add(label)
	if f == nil {
		return next.HandleInitialize(ctx, in)
	}
	switch f.mode {
	case beforeSend:
		return middleware.InitializeOutput{}, middleware.Metadata{}, f.err
	case lostThenRetried:
		return next.HandleInitialize(context.WithValue(ctx, lostResponseKey{}, &lostResponse{tr: tr, err: f.err}), in)
	}
	out, md, err := next.HandleInitialize(ctx, in)
	tr.sent(err)
	return out, md, f.err
}

type lostResponseKey struct{}

// lostResponse is a lostThenRetried fault on its way through one
// operation's attempts.
type lostResponse struct {
	tr   *requestTrace
	err  error
	done bool // only the retry loop's goroutine touches it
}

// loseFirstResponse runs inside the SDK's retry loop, once per attempt. For
// an operation carrying a lostResponse, it lets the first attempt reach
// DynamoDB, then answers it with the fault's error, which the SDK retries.
func loseFirstResponse(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
	middleware.FinalizeOutput, middleware.Metadata, error,
) {
	lr, _ := ctx.Value(lostResponseKey{}).(*lostResponse)
	if lr == nil {
		return next.HandleFinalize(ctx, in)
	}
	lr.tr.attempt()
	if lr.done {
		return next.HandleFinalize(ctx, in)
	}
	lr.done = true
	out, md, err := next.HandleFinalize(ctx, in)
	lr.tr.sent(err)
	return out, md, lr.err
}

// label names an operation and the tables it touches: "GetItem codes",
// "TransactWriteItems codes+tokens".
func (fi *faultInjector) label(op string, params any) string {
	var tables []*string
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		tables = append(tables, in.TableName)
	case *dynamodb.PutItemInput:
		tables = append(tables, in.TableName)
	case *dynamodb.UpdateItemInput:
		tables = append(tables, in.TableName)
	case *dynamodb.DeleteItemInput:
		tables = append(tables, in.TableName)
	case *dynamodb.QueryInput:
		tables = append(tables, in.TableName)
	case *dynamodb.ScanInput:
		tables = append(tables, in.TableName)
	case *dynamodb.BatchGetItemInput:
		for name := range in.RequestItems {
			tables = append(tables, aws.String(name))
		}
	case *dynamodb.BatchWriteItemInput:
		for name := range in.RequestItems {
			tables = append(tables, aws.String(name))
		}
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				tables = append(tables, it.Put.TableName)
			case it.Update != nil:
				tables = append(tables, it.Update.TableName)
			case it.Delete != nil:
				tables = append(tables, it.Delete.TableName)
			case it.ConditionCheck != nil:
				tables = append(tables, it.ConditionCheck.TableName)
			}
		}
	case *dynamodb.TransactGetItemsInput:
		for _, it := range in.TransactItems {
			if it.Get != nil {
				tables = append(tables, it.Get.TableName)
			}
		}
	}
	var names []string
	for _, tp := range tables {
		name := aws.ToString(tp)
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

// requestTrace records the DynamoDB operations of one HTTP request and
// injects its fault, if any.
type requestTrace struct {
	fault *fault

	mu     sync.Mutex
	ops    []string // labels, in order
	failed string   // the label of the operation the fault hit
	// landed: the failed operation reached DynamoDB and succeeded there
	// (afterSend, lostThenRetried).
	landed   bool
	attempts int // of a lostThenRetried operation
}

// add records an operation and returns the fault to inject into it, if
// it is the one to fail.
func (tr *requestTrace) add(label string) *fault {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.ops = append(tr.ops, label)
	switch {
	case tr.fault == nil:
		return nil
	case len(tr.ops) == tr.fault.at:
		tr.failed = label
		return tr.fault
	case slices.Contains(tr.fault.also, len(tr.ops)):
		return &fault{at: len(tr.ops), mode: beforeSend, err: tr.fault.err}
	}
	return nil
}

// attempt counts an attempt of a lostThenRetried operation.
func (tr *requestTrace) attempt() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.attempts++
}

// Attempts returns how often the SDK sent the lostThenRetried operation.
func (tr *requestTrace) Attempts() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.attempts
}

// sent records the real outcome of an operation failed after sending.
func (tr *requestTrace) sent(err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.landed = err == nil
}

// Ops returns the labels of the operations, in order.
func (tr *requestTrace) Ops() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.ops)
}

// Failed returns the label of the failed operation and whether it landed.
func (tr *requestTrace) Failed() (label string, landed bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.failed, tr.landed
}

// counts returns the number of operations by name, as dynamotest.Calls
// counts them.
func (tr *requestTrace) counts() map[string]int {
	out := map[string]int{}
	for _, l := range tr.Ops() {
		op, _, _ := strings.Cut(l, " ")
		out[op]++
	}
	return out
}

func (tr *requestTrace) String() string {
	ops := tr.Ops()
	if len(ops) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d: %s", len(ops), strings.Join(ops, ", "))
}
