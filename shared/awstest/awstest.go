// Package awstest watches and fails AWS JSON protocol calls on the wire, for
// tests. Its http.RoundTrippers sit in an AWS SDK client's HTTPClient
// (Options.HTTPClient, see WrapClient), between the SDK and the service
// (DynamoDB Local, the KMS double). They read each request as the service
// would (the operation from X-Amz-Target, the JSON body) and can answer in
// the service's place with a real error response.
package awstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// RoundTripFunc is an http.RoundTripper made of a function.
type RoundTripFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f.
func (f RoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// WrapClient returns an HTTP client for an SDK client's Options.HTTPClient
// that sends every request through wrap's RoundTripper and then on to
// client (http.DefaultTransport when client is nil). Wrappers compose: the
// last one applied sees each request first.
//
//	dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
//		o.HTTPClient = awstest.WrapClient(o.HTTPClient, calls.Wrap)
//	})
func WrapClient(client aws.HTTPClient, wrap func(next http.RoundTripper) http.RoundTripper) aws.HTTPClient {
	var next http.RoundTripper = http.DefaultTransport
	if client != nil {
		next = RoundTripFunc(client.Do)
	}
	return &http.Client{Transport: wrap(next)}
}

// Operation returns the operation a request calls: the part of its
// X-Amz-Target after the dot ("GetItem", "Sign").
func Operation(r *http.Request) string {
	target := r.Header.Get("X-Amz-Target")
	return target[strings.LastIndexByte(target, '.')+1:]
}

// Body returns a request's body and puts it back for the next reader.
func Body(r *http.Request) []byte {
	if r.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// Decode unmarshals a request's JSON body into v, keeping the body.
func Decode(r *http.Request, v any) error { return json.Unmarshal(Body(r), v) }

// ErrorResponse is the response an AWS JSON protocol service gives for an
// error: the status, and a body with __type and message.
func ErrorResponse(r *http.Request, status int, code, message string) *http.Response {
	body, _ := json.Marshal(map[string]string{"__type": code, "message": message})
	return &http.Response{
		StatusCode:    status,
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"awstest"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// Calls counts the requests of each operation that reach the service
// through it: with the SDK's retries, each attempt counts. It is safe for
// concurrent use; the zero value is ready to use.
type Calls struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewCalls returns an empty counter.
func NewCalls() *Calls { return &Calls{counts: map[string]int{}} }

// Wrap counts each request, then sends it to next (see WrapClient).
func (c *Calls) Wrap(next http.RoundTripper) http.RoundTripper {
	return RoundTripFunc(func(r *http.Request) (*http.Response, error) {
		c.mu.Lock()
		if c.counts == nil {
			c.counts = map[string]int{}
		}
		c.counts[Operation(r)]++
		c.mu.Unlock()
		return next.RoundTrip(r)
	})
}

// Count returns the number of requests of operation op.
func (c *Calls) Count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[op]
}

// Total returns the number of requests of every operation.
func (c *Calls) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}

// Counts returns a copy of the counts by operation.
func (c *Calls) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// Reset sets every count to zero.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.counts)
}
