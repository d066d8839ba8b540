package dynamostore_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"maps"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gatehouse/gatehouse/shared/awstest"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
)

// Faults are injected on the wire, in the client's HTTP client
// (dynamotest.Wrap), between the SDK and DynamoDB Local: each attempt of a
// call, retries included, meets them, and the store sees exactly what the
// SDK makes of DynamoDB's answer.

var (
	// noRetries makes the client give up after the first attempt.
	noRetries = dynamotest.MaxAttempts(1)
	// fastRetries makes the production retryer's attempts without
	// waiting.
	fastRetries = dynamotest.FastRetries
)

// answer is an error response in DynamoDB's place: the status, and the
// body's members besides __type (message, CancellationReasons, …).
type answer struct {
	status int
	code   string
	body   map[string]any
}

// throttling is DynamoDB refusing a request for capacity.
func throttling() *answer {
	return &answer{400, "ProvisionedThroughputExceededException",
		map[string]any{"message": "The level of configured provisioned throughput for the table was exceeded."}}
}

// serverError is DynamoDB failing (HTTP 500): a write may have landed.
func serverError() *answer {
	return &answer{500, "InternalServerError", map[string]any{"message": "Internal server error"}}
}

// transactionConflict is a single-item write refused because an ongoing
// transaction holds the item.
func transactionConflict() *answer {
	return &answer{400, "TransactionConflictException",
		map[string]any{"message": "Transaction is ongoing for the item"}}
}

// cancellation is a TransactionCanceledException for op TransactWriteItems
// whose first action failed with reason; nil for other operations.
func cancellation(op, reason string) *answer {
	if op != "TransactWriteItems" {
		return nil
	}
	return &answer{400, "TransactionCanceledException", map[string]any{
		"Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [" + reason + ", None, None]",
		"CancellationReasons": []map[string]string{
			{"Code": reason, "Message": "injected"}, {"Code": "None"}, {"Code": "None"},
		},
	}}
}

// response is a as an HTTP response to r, its __type in DynamoDB's
// namespace.
func (a *answer) response(r *http.Request) *http.Response {
	resp := awstest.ErrorResponse(r, a.status, a.code, "")
	body := maps.Clone(a.body)
	if body == nil {
		body = map[string]any{}
	}
	body["__type"] = "com.amazonaws.dynamodb.v20120810#" + a.code
	data, _ := json.Marshal(body)
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
	return resp
}

// failWith answers every attempt of a call for which fault returns an
// answer with it; the request never reaches DynamoDB.
func failWith(fault func(op string) *answer) func(*dynamodb.Options) {
	return dynamotest.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			if a := fault(awstest.Operation(r)); a != nil {
				return a.response(r), nil
			}
			return next.RoundTrip(r)
		})
	})
}

// errLost is the network failure of a lost response.
var errLost = errors.New("connection reset after the request was sent")

// loseResponses lets the next *n attempts of op reach DynamoDB, then
// throws their responses away and fails with a network error, as a
// connection lost after the write would. attempts counts every attempt of
// op.
func loseResponses(op string, n, attempts *atomic.Int64) func(*dynamodb.Options) {
	return dynamotest.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			if awstest.Operation(r) != op {
				return next.RoundTrip(r)
			}
			attempts.Add(1)
			resp, err := next.RoundTrip(r)
			if err == nil && n.Add(-1) >= 0 {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return nil, errLost
			}
			return resp, err
		})
	})
}

// unreachable fails every attempt of op with a network error before it
// is sent, as a refused connection would.
func unreachable(op string) func(*dynamodb.Options) {
	return dynamotest.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			if awstest.Operation(r) == op {
				return nil, errors.New("dial tcp: connection refused")
			}
			return next.RoundTrip(r)
		})
	})
}

// leaveUnprocessed makes the next *n BatchGetItem answers return no item
// and every key as unprocessed, as DynamoDB does under throttling (with
// the x-amz-crc32 of the new body, which the SDK checks).
func leaveUnprocessed(n *atomic.Int64) func(*dynamodb.Options) {
	return dynamotest.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			var req struct{ RequestItems json.RawMessage }
			if awstest.Operation(r) != "BatchGetItem" || awstest.Decode(r, &req) != nil {
				return next.RoundTrip(r)
			}
			resp, err := next.RoundTrip(r)
			if err != nil || resp.StatusCode != http.StatusOK || n.Add(-1) < 0 {
				return resp, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			data, _ := json.Marshal(map[string]any{"Responses": map[string]any{}, "UnprocessedKeys": req.RequestItems})
			resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
			resp.Header = resp.Header.Clone()
			resp.Header.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(data)), 10))
			resp.Header.Set("Content-Length", strconv.Itoa(len(data)))
			return resp, nil
		})
	})
}

// capture calls record with the body of every request of op (before it is
// sent).
func capture(op string, record func(body []byte)) func(*dynamodb.Options) {
	return dynamotest.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			if awstest.Operation(r) == op {
				record(awstest.Body(r))
			}
			return next.RoundTrip(r)
		})
	})
}
