// Package lambdatest runs Lambda functions in tests the way AWS runs them:
// a fake of the Lambda Runtime API that a real bootstrap binary (or any
// aws-lambda-go program) polls for events ([Runtime]), the binary started
// as a child process configured only through its environment ([Start]),
// and a stand-in for an API Gateway HTTP API ([Gateway]) that turns
// ordinary HTTP requests into payload format 2.0 events and the functions'
// answers back into HTTP responses, so tests can use a plain http.Client
// (with a cookie jar) or an OAuth client library against the functions.
//
// No Runtime Interface Emulator can be installed where these tests run;
// the fake implements what aws-lambda-go's runtime client uses
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
//
//	GET  /2018-06-01/runtime/invocation/next            the next event, with
//	     Lambda-Runtime-Aws-Request-Id, Lambda-Runtime-Deadline-Ms,
//	     Lambda-Runtime-Invoked-Function-Arn, Lambda-Runtime-Trace-Id
//	POST /2018-06-01/runtime/invocation/{id}/response   202
//	POST /2018-06-01/runtime/invocation/{id}/error      202
//	POST /2018-06-01/runtime/init/error                 202
//
// The time from a process's start to its first /next request is its
// initialization time, as Lambda bills and reports it (Init Duration).
package lambdatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Runtime API paths and headers.
const (
	apiPrefix = "/2018-06-01/runtime/"

	HeaderRequestID   = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMS  = "Lambda-Runtime-Deadline-Ms"
	HeaderFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID     = "Lambda-Runtime-Trace-Id"
	HeaderErrorType   = "Lambda-Runtime-Function-Error-Type"

	// MaxResponseBytes is Lambda's limit on a synchronous response (6 MB).
	MaxResponseBytes = 6 << 20
)

// Runtime is a fake Lambda Runtime API serving one function instance (one
// process at a time). Its methods are safe for concurrent use.
type Runtime struct {
	// FunctionARN is sent in Lambda-Runtime-Invoked-Function-Arn.
	FunctionARN string
	// Timeout is the function's timeout: each invocation's deadline
	// (Lambda-Runtime-Deadline-Ms) is this far after /next hands it out,
	// and Invoke gives up after it. Default 30 s.
	Timeout time.Duration

	srv   *httptest.Server
	queue chan *invocation
	done  chan struct{}
	ready chan struct{} // closed at the first /next

	mu          sync.Mutex
	firstNext   time.Time
	nexts       int
	pending     map[string]*invocation
	invocations []Invocation
	initErr     *FunctionError
	protoErrs   []string
}

// Invocation is one event the runtime handed out, and how it ended.
type Invocation struct {
	RequestID string
	Event     []byte
	Response  []byte         // the function's response, if it answered
	Err       *FunctionError // the function's error, if it failed
}

// FunctionError is an error reported by a function (invocation error or
// initialization error): aws-lambda-go's messages.InvokeResponse_Error.
type FunctionError struct {
	Message    string `json:"errorMessage"`
	Type       string `json:"errorType"`
	StackTrace []any  `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string { return fmt.Sprintf("lambda: %s: %s", e.Type, e.Message) }

type invocation struct {
	id      string
	payload []byte
	result  chan Invocation // buffered, 1
}

// NewRuntime starts a fake Runtime API, closed when the test ends (after
// the cleanups registered later, such as the processes Start started, so
// they are stopped first).
func NewRuntime(t testing.TB) *Runtime {
	t.Helper()
	rt := &Runtime{
		FunctionARN: "arn:aws:lambda:us-east-1:111122223333:function:test",
		Timeout:     30 * time.Second,
		queue:       make(chan *invocation),
		done:        make(chan struct{}),
		ready:       make(chan struct{}),
		pending:     map[string]*invocation{},
	}
	rt.srv = httptest.NewServer(http.HandlerFunc(rt.serveHTTP))
	t.Cleanup(func() {
		close(rt.done) // releases pending /next requests
		rt.srv.Close()
		rt.mu.Lock()
		defer rt.mu.Unlock()
		for _, msg := range rt.protoErrs {
			t.Errorf("lambdatest: Runtime API misuse: %s", msg)
		}
	})
	return rt
}

// Addr is the host:port to put in AWS_LAMBDA_RUNTIME_API.
func (rt *Runtime) Addr() string { return strings.TrimPrefix(rt.srv.URL, "http://") }

// Ready is closed when the function first asks for an event: its
// initialization is over.
func (rt *Runtime) Ready() <-chan struct{} { return rt.ready }

// FirstNext is when the first /next request arrived (zero before).
func (rt *Runtime) FirstNext() time.Time {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.firstNext
}

// InitError is the error the function reported to /init/error, if any.
func (rt *Runtime) InitError() *FunctionError {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.initErr
}

// Invocations returns every invocation handed out so far, in order.
func (rt *Runtime) Invocations() []Invocation {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]Invocation(nil), rt.invocations...)
}

// Invoke queues payload for the function and waits for its answer, as a
// synchronous invocation does. A function error is returned as a
// *FunctionError with the Invocation.
func (rt *Runtime) Invoke(ctx context.Context, payload []byte) (Invocation, error) {
	inv := &invocation{id: newRequestID(), payload: payload, result: make(chan Invocation, 1)}
	rt.mu.Lock()
	rt.pending[inv.id] = inv
	rt.mu.Unlock()
	defer func() {
		rt.mu.Lock()
		delete(rt.pending, inv.id)
		rt.mu.Unlock()
	}()

	timeout := time.NewTimer(rt.Timeout)
	defer timeout.Stop()
	select {
	case rt.queue <- inv:
	case <-ctx.Done():
		return Invocation{RequestID: inv.id}, fmt.Errorf("lambdatest: the function did not ask for the event: %w", ctx.Err())
	case <-timeout.C:
		return Invocation{RequestID: inv.id}, fmt.Errorf("lambdatest: the function did not ask for the event within %s", rt.Timeout)
	case <-rt.done:
		return Invocation{RequestID: inv.id}, errors.New("lambdatest: runtime closed")
	}
	select {
	case res := <-inv.result:
		if res.Err != nil {
			return res, res.Err
		}
		return res, nil
	case <-ctx.Done():
		return Invocation{RequestID: inv.id}, fmt.Errorf("lambdatest: no answer to invocation %s: %w", inv.id, ctx.Err())
	case <-timeout.C:
		return Invocation{RequestID: inv.id}, fmt.Errorf("lambdatest: invocation %s timed out after %s", inv.id, rt.Timeout)
	case <-rt.done:
		return Invocation{RequestID: inv.id}, errors.New("lambdatest: runtime closed")
	}
}

// Integration returns the runtime as an API Gateway integration: the event
// is sent as JSON, and the function's answer decoded as a payload 2.0
// response.
func (rt *Runtime) Integration() Integration {
	return func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		var resp events.APIGatewayV2HTTPResponse
		payload, err := json.Marshal(e)
		if err != nil {
			return resp, err
		}
		inv, err := rt.Invoke(ctx, payload)
		if err != nil {
			return resp, err
		}
		if err := json.Unmarshal(inv.Response, &resp); err != nil {
			return resp, fmt.Errorf("lambdatest: response of invocation %s is not a payload 2.0 response: %w", inv.RequestID, err)
		}
		return resp, nil
	}
}

func (rt *Runtime) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	switch {
	case !ok:
		rt.misuse(w, http.StatusNotFound, "unknown path %s %s", r.Method, r.URL.Path)
	case rest == "invocation/next":
		if r.Method != http.MethodGet {
			rt.misuse(w, http.StatusMethodNotAllowed, "%s %s; want GET", r.Method, r.URL.Path)
			return
		}
		rt.next(w, r)
	case rest == "init/error":
		if r.Method != http.MethodPost {
			rt.misuse(w, http.StatusMethodNotAllowed, "%s %s; want POST", r.Method, r.URL.Path)
			return
		}
		fe, ok := rt.readError(w, r)
		if !ok {
			return
		}
		rt.mu.Lock()
		rt.initErr = fe
		rt.mu.Unlock()
		accepted(w)
	case strings.HasPrefix(rest, "invocation/"):
		id, kind, _ := strings.Cut(strings.TrimPrefix(rest, "invocation/"), "/")
		if r.Method != http.MethodPost || (kind != "response" && kind != "error") {
			rt.misuse(w, http.StatusNotFound, "unknown path %s %s", r.Method, r.URL.Path)
			return
		}
		rt.finish(w, r, id, kind)
	default:
		rt.misuse(w, http.StatusNotFound, "unknown path %s %s", r.Method, r.URL.Path)
	}
}

// next hands out the next event, waiting for one.
func (rt *Runtime) next(w http.ResponseWriter, r *http.Request) {
	rt.mu.Lock()
	rt.nexts++
	if rt.firstNext.IsZero() {
		rt.firstNext = time.Now()
		close(rt.ready)
	}
	rt.mu.Unlock()

	var inv *invocation
	select {
	case inv = <-rt.queue:
	case <-r.Context().Done():
		return
	case <-rt.done:
		http.Error(w, "runtime closed", http.StatusGone)
		return
	}
	rt.mu.Lock()
	rt.invocations = append(rt.invocations, Invocation{RequestID: inv.id, Event: inv.payload})
	rt.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(HeaderRequestID, inv.id)
	h.Set(HeaderDeadlineMS, strconv.FormatInt(time.Now().Add(rt.Timeout).UnixMilli(), 10))
	h.Set(HeaderFunctionARN, rt.FunctionARN)
	h.Set(HeaderTraceID, "Root=1-"+strconv.FormatInt(time.Now().Unix(), 16)+"-"+strings.ReplaceAll(inv.id, "-", "")[:24]+";Sampled=0")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// finish records a function's response or error for invocation id.
func (rt *Runtime) finish(w http.ResponseWriter, r *http.Request, id, kind string) {
	rt.mu.Lock()
	inv := rt.pending[id]
	handedOut := -1
	for i := range rt.invocations {
		if rt.invocations[i].RequestID == id {
			handedOut = i
		}
	}
	rt.mu.Unlock()
	if inv == nil || handedOut < 0 {
		rt.misuse(w, http.StatusBadRequest, "%s for unknown or finished request id %q", kind, id)
		return
	}
	res := Invocation{RequestID: id, Event: inv.payload}
	if kind == "error" {
		fe, ok := rt.readError(w, r)
		if !ok {
			return
		}
		res.Err = fe
	} else {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxResponseBytes+1))
		if err != nil {
			rt.misuse(w, http.StatusBadRequest, "reading the response of %s: %v", id, err)
			return
		}
		if len(body) > MaxResponseBytes {
			http.Error(w, `{"errorMessage":"response too large","errorType":"RequestEntityTooLarge"}`, http.StatusRequestEntityTooLarge)
			res.Err = &FunctionError{Type: "Function.ResponseSizeTooLarge", Message: "response payload size exceeded maximum allowed payload size"}
			inv.result <- res
			return
		}
		res.Response = body
	}
	rt.mu.Lock()
	if rt.pending[id] == nil { // answered twice
		rt.mu.Unlock()
		rt.misuse(w, http.StatusBadRequest, "second %s for request id %q", kind, id)
		return
	}
	delete(rt.pending, id)
	rt.invocations[handedOut] = res
	rt.mu.Unlock()
	inv.result <- res
	accepted(w)
}

// readError decodes an error document (invocation or init error).
func (rt *Runtime) readError(w http.ResponseWriter, r *http.Request) (*FunctionError, bool) {
	var fe FunctionError
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxResponseBytes))
	if err == nil {
		err = json.Unmarshal(body, &fe)
	}
	if err != nil {
		rt.misuse(w, http.StatusBadRequest, "%s: error body %q: %v", r.URL.Path, body, err)
		return nil, false
	}
	if fe.Type == "" {
		fe.Type = r.Header.Get(HeaderErrorType)
	}
	return &fe, true
}

// misuse answers a request the Runtime API would refuse, and records it:
// the test fails at cleanup.
func (rt *Runtime) misuse(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rt.mu.Lock()
	rt.protoErrs = append(rt.protoErrs, msg)
	rt.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(FunctionError{Type: "InvalidRequest", Message: msg})
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// newRequestID returns a random UUID, the form of Lambda's request ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
