// Package awsjsontest watches and fails AWS JSON protocol calls on the
// wire, for tests: http.RoundTrippers that sit between an awsjson.Client
// and the service (DynamoDB Local, the KMS double), read each request as
// the service would (operation from X-Amz-Target, JSON body), and can
// answer in the service's place with a real error response.
package awsjsontest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/shared/awsjson"
)

// RoundTripFunc is an http.RoundTripper made of a function.
type RoundTripFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f.
func (f RoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Wrap returns an awsjson option that puts wrap's RoundTripper in front of
// the client's current transport (http.DefaultTransport if it has none).
// Options compose: the last one applied sees each request first.
func Wrap(wrap func(next http.RoundTripper) http.RoundTripper) func(*awsjson.Options) {
	return func(o *awsjson.Options) {
		client := &http.Client{Timeout: awsjson.DefaultTimeout}
		if o.HTTPClient != nil {
			c := *o.HTTPClient
			client = &c
		}
		next := client.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		client.Transport = wrap(next)
		o.HTTPClient = client
	}
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
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"awsjsontest"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// Calls counts the requests of each operation that reach the service
// through it: with retries, each attempt counts. It is safe for
// concurrent use; the zero value is ready to use.
type Calls struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewCalls returns an empty counter.
func NewCalls() *Calls { return &Calls{counts: map[string]int{}} }

// Option installs the counter on a client (see Wrap).
func (c *Calls) Option(o *awsjson.Options) {
	Wrap(func(next http.RoundTripper) http.RoundTripper {
		return RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			c.mu.Lock()
			if c.counts == nil {
				c.counts = map[string]int{}
			}
			c.counts[Operation(r)]++
			c.mu.Unlock()
			return next.RoundTrip(r)
		})
	})(o)
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
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// Reset sets every count to zero.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.counts)
}
