package awsjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gatehouse/gatehouse/shared/awsjson"
)

var testService = awsjson.Service{
	ID:             "DynamoDB",
	EndpointPrefix: "dynamodb",
	TargetPrefix:   "DynamoDB_20120810",
	JSONVersion:    "1.0",
	CRC32:          true,
}

const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

// reply is one scripted answer of a test server: a status, an error code
// (for errors) and a body.
type reply struct {
	status int
	code   string
	body   string
	crc    string // x-amz-crc32; "" computes the right one, "-" omits it
	hangUp bool   // close the connection without answering
}

// scriptedServer answers the requests in turn with replies (the last one
// repeats) and counts them.
type scriptedServer struct {
	*httptest.Server
	requests atomic.Int32
}

func newScriptedServer(t *testing.T, replies ...reply) *scriptedServer {
	t.Helper()
	s := &scriptedServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.requests.Add(1))
		rp := replies[min(n, len(replies))-1]
		if rp.hangUp {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		body := rp.body
		if rp.code != "" {
			body = `{"__type":"com.amazonaws.dynamodb.v20120810#` + rp.code + `","message":"scripted ` + rp.code + `"}`
		}
		switch rp.crc {
		case "":
			w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
		case "-":
		default:
			w.Header().Set("X-Amz-Crc32", rp.crc)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(rp.status)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func testConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
	}
}

func newClient(t *testing.T, cfg aws.Config, opts awsjson.Options) *awsjson.Client {
	t.Helper()
	if opts.Backoff == nil {
		opts.Backoff = func(int) time.Duration { return 0 }
	}
	c, err := awsjson.New(cfg, testService, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// TestCallWireFormat checks one call as the service sees it: a POST to /
// with the protocol's content type and target, the JSON body, and a
// SigV4 signature that an independent implementation of the specification
// accepts, scoped to the service and region; then the response decoded.
func TestCallWireFormat(t *testing.T) {
	for _, sessionToken := range []string{"", "FwoGZXIvYXdzEXAMPLETOKEN"} {
		var checked atomic.Bool
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if r.Method != http.MethodPost || r.URL.Path != "/" || r.URL.RawQuery != "" {
				t.Errorf("request %s %s, want POST /", r.Method, r.URL)
			}
			if got := r.Header.Get("Content-Type"); got != "application/x-amz-json-1.0" {
				t.Errorf("Content-Type %q", got)
			}
			if got := r.Header.Get("X-Amz-Target"); got != "DynamoDB_20120810.GetItem" {
				t.Errorf("X-Amz-Target %q", got)
			}
			if got := r.Header.Get("X-Amz-Security-Token"); got != sessionToken {
				t.Errorf("X-Amz-Security-Token %q, want %q", got, sessionToken)
			}
			if string(body) != `{"Key":{"id":{"S":"a\u0026b"}},"TableName":"clients"}` {
				t.Errorf("body %s", body)
			}
			service, region, err := verifySigV4(r, body, testKeyID, testSecret)
			if err != nil {
				t.Error(err)
			} else if service != "dynamodb" || region != "eu-west-1" {
				t.Errorf("signed for %s in %s, want dynamodb in eu-west-1", service, region)
			}
			checked.Store(true)
			io.WriteString(w, `{"Item":{"id":{"S":"x"}}}`)
		}))
		defer srv.Close()
		cfg := testConfig(srv.URL)
		cfg.Credentials = credentials.NewStaticCredentialsProvider(testKeyID, testSecret, sessionToken)
		c := newClient(t, cfg, awsjson.Options{})

		in := map[string]any{"TableName": "clients", "Key": map[string]any{"id": map[string]string{"S": "a&b"}}}
		var out struct {
			Item map[string]map[string]string
		}
		if err := c.Call(context.Background(), "GetItem", in, &out); err != nil {
			t.Fatalf("Call: %v", err)
		}
		if !checked.Load() {
			t.Fatal("the server saw no request")
		}
		if out.Item["id"]["S"] != "x" {
			t.Errorf("decoded %+v", out)
		}
	}
}

// TestCallErrors checks how error responses are read: the code without
// its namespace, from the body's __type or code or from X-Amzn-ErrorType,
// the message in either case, the extra fields through Decode.
func TestCallErrors(t *testing.T) {
	cases := []struct {
		name       string
		header     string
		body       string
		wantCode   string
		wantMsg    string
		throttling bool
	}{
		{"namespaced __type, Message", "",
			`{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","Message":"Requested resource not found"}`,
			"ResourceNotFoundException", "Requested resource not found", false},
		{"plain __type, message", "", `{"__type":"NotFoundException","message":"Alias is not found."}`,
			"NotFoundException", "Alias is not found.", false},
		{"code field", "", `{"code":"ValidationException","message":"bad"}`, "ValidationException", "bad", false},
		{"header only", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/", `{}`,
			"ThrottlingException", "", true},
		{"not JSON", "", `<html>Bad Gateway</html>`, "HTTP400", "", false},
		{"throughput", "", `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"m"}`,
			"ProvisionedThroughputExceededException", "m", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("X-Amzn-ErrorType", tc.header)
				}
				w.Header().Set("X-Amzn-RequestId", "req-1")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c := newClient(t, testConfig(srv.URL), awsjson.Options{MaxAttempts: 1})
			err := c.Call(context.Background(), "PutItem", map[string]string{}, nil)
			var ae *awsjson.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T), want *APIError", err, err)
			}
			if ae.Code != tc.wantCode || ae.Message != tc.wantMsg || ae.StatusCode != 400 || ae.RequestID != "req-1" ||
				ae.Operation != "PutItem" || ae.Service != "DynamoDB" {
				t.Errorf("got %+v, want code %q message %q", ae, tc.wantCode, tc.wantMsg)
			}
			if ae.Throttling() != tc.throttling || ae.ServerFault() {
				t.Errorf("Throttling %v ServerFault %v", ae.Throttling(), ae.ServerFault())
			}
			if awsjson.ErrorCode(err) != tc.wantCode || awsjson.IsTransport(err) {
				t.Errorf("ErrorCode %q, IsTransport %v", awsjson.ErrorCode(err), awsjson.IsTransport(err))
			}
			if !strings.Contains(err.Error(), "DynamoDB PutItem: "+tc.wantCode) {
				t.Errorf("message %q does not name the service, operation and code", err)
			}
		})
	}

	t.Run("Decode", func(t *testing.T) {
		srv := newScriptedServer(t, reply{status: 400, body: `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",` +
			`"Message":"Transaction cancelled","CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed","Item":{"n":{"N":"1"}}}]}`})
		c := newClient(t, testConfig(srv.URL), awsjson.Options{})
		err := c.Call(context.Background(), "TransactWriteItems", struct{}{}, nil)
		var ae *awsjson.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("error %v", err)
		}
		var extra struct {
			CancellationReasons []struct {
				Code string
				Item map[string]map[string]string
			}
		}
		if err := ae.Decode(&extra); err != nil {
			t.Fatal(err)
		}
		if len(extra.CancellationReasons) != 2 || extra.CancellationReasons[1].Item["n"]["N"] != "1" {
			t.Errorf("decoded %+v", extra)
		}
		if srv.requests.Load() != 1 {
			t.Errorf("%d requests: a cancelled transaction is not retried", srv.requests.Load())
		}
	})
}

// TestCallRetries checks which failures are retried, how often, and what
// the caller gets in the end.
func TestCallRetries(t *testing.T) {
	ok := reply{status: 200, body: `{"Count":1}`}
	cases := []struct {
		name         string
		replies      []reply
		opts         awsjson.Options
		wantRequests int32
		wantCode     string // "" for success; "transport" for a transport error
	}{
		{"success", []reply{ok}, awsjson.Options{}, 1, ""},
		{"server fault then success", []reply{{status: 500, code: "InternalServerError"}, ok}, awsjson.Options{}, 2, ""},
		{"throttled then success", []reply{{status: 400, code: "ThrottlingException"}, ok}, awsjson.Options{}, 2, ""},
		{"throttled three times", []reply{{status: 400, code: "ProvisionedThroughputExceededException"}}, awsjson.Options{}, 3,
			"ProvisionedThroughputExceededException"},
		{"server faults, five attempts", []reply{{status: 503, code: "ServiceUnavailable"}}, awsjson.Options{MaxAttempts: 5}, 5,
			"ServiceUnavailable"},
		{"retries off", []reply{{status: 500, code: "InternalServerError"}, ok}, awsjson.Options{MaxAttempts: 1}, 1,
			"InternalServerError"},
		{"client error not retried", []reply{{status: 400, code: "ValidationException"}, ok}, awsjson.Options{}, 1,
			"ValidationException"},
		{"condition failure not retried", []reply{{status: 400, code: "ConditionalCheckFailedException"}, ok}, awsjson.Options{}, 1,
			"ConditionalCheckFailedException"},
		{"extra retry code", []reply{{status: 400, code: "TransactionConflictException"}, ok},
			awsjson.Options{RetryCodes: []string{"TransactionConflictException"}}, 2, ""},
		{"connection closed then success", []reply{{hangUp: true}, ok}, awsjson.Options{}, 2, ""},
		{"connection closed every time", []reply{{hangUp: true}}, awsjson.Options{}, 3, "transport"},
		{"bad checksum then success", []reply{{status: 200, body: `{"Count":1}`, crc: "12345"}, ok}, awsjson.Options{}, 2, ""},
		{"bad checksum every time", []reply{{status: 200, body: `{"Count":1}`, crc: "12345"}}, awsjson.Options{}, 3, "transport"},
		{"no checksum accepted", []reply{{status: 200, body: `{"Count":1}`, crc: "-"}}, awsjson.Options{}, 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScriptedServer(t, tc.replies...)
			c := newClient(t, testConfig(srv.URL), tc.opts)
			var out struct{ Count int }
			err := c.Call(context.Background(), "Query", struct{}{}, &out)
			if got := srv.requests.Load(); got != tc.wantRequests {
				t.Errorf("%d requests, want %d", got, tc.wantRequests)
			}
			switch {
			case tc.wantCode == "" && (err != nil || out.Count != 1):
				t.Errorf("Call: %v, decoded %+v; want success", err, out)
			case tc.wantCode == "transport" && !awsjson.IsTransport(err):
				t.Errorf("Call: %v; want a transport error", err)
			case tc.wantCode != "" && tc.wantCode != "transport" && awsjson.ErrorCode(err) != tc.wantCode:
				t.Errorf("Call: %v; want %s", err, tc.wantCode)
			}
		})
	}
}

// TestWithRetryCodes checks that the derived client retries the extra
// codes and the original does not.
func TestWithRetryCodes(t *testing.T) {
	conflict := reply{status: 400, code: "TransactionConflictException"}
	srv := newScriptedServer(t, conflict)
	base := newClient(t, testConfig(srv.URL), awsjson.Options{})
	if err := base.Call(context.Background(), "UpdateItem", struct{}{}, nil); awsjson.ErrorCode(err) != conflict.code || srv.requests.Load() != 1 {
		t.Fatalf("base client: %v after %d requests; want one attempt", err, srv.requests.Load())
	}
	srv.requests.Store(0)
	if err := base.WithRetryCodes(conflict.code).Call(context.Background(), "UpdateItem", struct{}{}, nil); srv.requests.Load() != 3 {
		t.Fatalf("derived client: %v after %d requests; want 3 attempts", err, srv.requests.Load())
	}
	srv.requests.Store(0)
	_ = base.Call(context.Background(), "UpdateItem", struct{}{}, nil)
	if srv.requests.Load() != 1 {
		t.Errorf("the base client changed: %d requests", srv.requests.Load())
	}
}

// TestCallCancelled checks that a cancelled context ends the retries and
// that the backoff waits for it.
func TestCallCancelled(t *testing.T) {
	srv := newScriptedServer(t, reply{status: 500, code: "InternalServerError"})
	c, err := awsjson.New(testConfig(srv.URL), testService, awsjson.Options{
		MaxAttempts: 10,
		Backoff:     func(int) time.Duration { return time.Hour },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for srv.requests.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err = c.Call(ctx, "GetItem", struct{}{}, nil)
	if awsjson.ErrorCode(err) != "InternalServerError" || srv.requests.Load() != 1 {
		t.Errorf("Call: %v after %d requests; want the first attempt's error", err, srv.requests.Load())
	}
}

// TestCallCredentialFailure checks that a credentials failure is reported,
// without a request.
func TestCallCredentialFailure(t *testing.T) {
	srv := newScriptedServer(t, reply{status: 200, body: `{}`})
	cfg := testConfig(srv.URL)
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no credentials here")
	})
	c := newClient(t, cfg, awsjson.Options{})
	err := c.Call(context.Background(), "GetItem", struct{}{}, nil)
	if err == nil || !strings.Contains(err.Error(), "no credentials here") || srv.requests.Load() != 0 {
		t.Errorf("Call: %v after %d requests", err, srv.requests.Load())
	}
}

// TestDefaultBackoff checks the bounds of the jittered delays.
func TestDefaultBackoff(t *testing.T) {
	for n, ceiling := range map[int]time.Duration{1: 50 * time.Millisecond, 2: 100 * time.Millisecond, 5: 800 * time.Millisecond, 6: time.Second, 60: time.Second} {
		var longest time.Duration
		for range 2000 {
			d := awsjson.DefaultBackoff(n)
			if d <= 0 || d > ceiling {
				t.Fatalf("DefaultBackoff(%d) = %v, want in (0, %v]", n, d, ceiling)
			}
			longest = max(longest, d)
		}
		if longest < ceiling/2 {
			t.Errorf("DefaultBackoff(%d): longest of 2000 is %v, want jitter across (0, %v]", n, longest, ceiling)
		}
	}
}

// TestCallEncodingFailure checks that a request that cannot be encoded is
// reported without a request.
func TestCallEncodingFailure(t *testing.T) {
	srv := newScriptedServer(t, reply{status: 200, body: `{}`})
	c := newClient(t, testConfig(srv.URL), awsjson.Options{})
	err := c.Call(context.Background(), "PutItem", map[string]any{"x": make(chan int)}, nil)
	var ute *json.UnsupportedTypeError
	if !errors.As(err, &ute) || srv.requests.Load() != 0 {
		t.Errorf("Call: %v after %d requests", err, srv.requests.Load())
	}
}
