package dynamostore

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gatehouse/gatehouse/shared/awsjson"
	"github.com/gatehouse/gatehouse/shared/awsjson/awsjsontest"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// respond returns the error of one GetItem whose request meets rt instead
// of DynamoDB: what awsjson makes of that answer, with no retries.
func respond(t *testing.T, rt awsjsontest.RoundTripFunc) error {
	t.Helper()
	client, err := awsjson.New(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("id", "secret", ""),
	}, Service, awsjson.Options{MaxAttempts: 1, HTTPClient: &http.Client{Transport: rt}})
	if err != nil {
		t.Fatal(err)
	}
	err = client.Call(t.Context(), "GetItem", &getItemInput{TableName: "t", Key: codeKey("h")}, nil)
	if err == nil {
		t.Fatal("the call succeeded")
	}
	return err
}

// answer is an error response of DynamoDB: status and JSON body.
func answer(status int, body string) awsjsontest.RoundTripFunc {
	return func(r *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: status,
			Header:     http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
			Body:       io.NopCloser(strings.NewReader(body)),
			Request:    r,
		}, nil
	}
}

func TestFail(t *testing.T) {
	apiError := func(status int, code string) error {
		return &awsjson.APIError{Service: "DynamoDB", Operation: "GetItem", Code: code, StatusCode: status, Message: "boom"}
	}
	for name, c := range map[string]struct {
		err         error
		unavailable bool
		notWritten  bool // DynamoDB certainly applied nothing
	}{
		"ProvisionedThroughputExceeded": {apiError(400, "ProvisionedThroughputExceededException"), true, true},
		"Throttling":                    {apiError(400, "ThrottlingException"), true, true},
		"RequestLimitExceeded":          {apiError(400, "RequestLimitExceeded"), true, true},
		"other throttling code":         {apiError(400, "TooManyRequestsException"), true, true},
		"TransactionInProgress":         {apiError(400, "TransactionInProgressException"), true, false},
		"InternalServerError":           {apiError(500, "InternalServerError"), true, false},
		"TransactionConflict":           {apiError(400, "TransactionConflictException"), true, true},
		"throttling on the wire": {respond(t, answer(400,
			`{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}`)), true, true},
		"HTTP 503 without a body": {respond(t, answer(503, "")), true, false},
		"HTTP 400 without a body": {respond(t, answer(400, "")), false, false},
		"validation":              {apiError(400, "ValidationException"), false, false},
		// The request may have landed: unavailable, not "not written".
		"network error": {respond(t, func(*http.Request) (*http.Response, error) {
			return nil, errors.New("connection reset by peer")
		}), true, false},
		"other": {errors.New("retrieving AWS credentials: expired"), false, false},
	} {
		err := fail("GetCode", "GetItem", c.err, "gatehouse-codes")
		if got := errors.Is(err, oauth.ErrUnavailable); got != c.unavailable {
			t.Errorf("%s: errors.Is(%v, ErrUnavailable) = %v, want %v", name, err, got, c.unavailable)
		}
		if got := errors.Is(err, oauth.ErrNotWritten); got != c.notWritten {
			t.Errorf("%s: errors.Is(%v, ErrNotWritten) = %v, want %v", name, err, got, c.notWritten)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: %v does not wrap the client's error", name, err)
		}
		if errors.Is(err, oauth.ErrNotFound) || errors.Is(err, oauth.ErrConflict) {
			t.Errorf("%s: %v is ErrNotFound or ErrConflict", name, err)
		}
		if !strings.Contains(err.Error(), "GetCode: GetItem gatehouse-codes") {
			t.Errorf("%s: %q does not name the method, call and table", name, err)
		}
	}
}

// TestFailMissingTable: a missing table is named, with the command that
// creates it, and is no ErrNotFound (that would read as a missing record).
func TestFailMissingTable(t *testing.T) {
	err := fail("RedeemCode", "TransactWriteItems", respond(t, answer(400,
		`{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`)),
		"gatehouse-codes", "gatehouse-tokens")
	for _, want := range []string{"gatehouse-codes or gatehouse-tokens", "gatehouse tables create", "RedeemCode"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not contain %q", err, want)
		}
	}
	if errors.Is(err, oauth.ErrNotFound) || errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("%v is ErrNotFound or ErrUnavailable", err)
	}
}

// TestCancellation reads a TransactionCanceledException as DynamoDB sends
// it: one reason per action, the failed condition's with the old item.
func TestCancellation(t *testing.T) {
	err := respond(t, answer(400, `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
		"Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, TransactionConflict]",
		"CancellationReasons":[{"Code":"None"},
			{"Code":"ConditionalCheckFailed","Message":"The conditional request failed","Item":{"pk":{"S":"x"},"rotated":{"BOOL":true}}},
			{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}`))
	c, ok := canceled(err)
	if !ok {
		t.Fatalf("%v is not a cancellation", err)
	}
	if _, ok := c.conditionFailed(0); ok {
		t.Error("action 0 failed")
	}
	if it, ok := c.conditionFailed(1); !ok || show(it) != "pk=S:x,rotated=BOOL:true" {
		t.Errorf("action 1: item %s, %v; want its old item", show(it), ok)
	}
	if _, ok := c.conditionFailed(5); ok || c.code(5) != reasonNone {
		t.Error("a missing reason is not None")
	}
	if !c.has(reasonConflict) || c.throttled() {
		t.Error("has/throttled wrong")
	}
	if _, ok := canceled(errors.New("x")); ok {
		t.Error("a plain error is a cancellation")
	}
	if _, ok := canceled(&awsjson.APIError{Code: codeConditionFailed}); ok {
		t.Error("a failed condition is a cancellation")
	}

	throttled, ok := canceled(respond(t, answer(400, `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
		"CancellationReasons":[{"Code":"None"},{"Code":"ThrottlingError","Message":"Throughput exceeds the current capacity"}]}`)))
	if !ok || !throttled.throttled() {
		t.Error("a cancellation for throttling is not throttled")
	}
}

// TestConditionFailed reads ConditionalCheckFailedException's Item (with
// ALL_OLD), and its absence.
func TestConditionFailed(t *testing.T) {
	err := respond(t, answer(400, `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
		"message":"The conditional request failed","Item":{"pk":{"S":"jti_asrt#x"},"nonce":{"S":"n"},"expires_at":{"N":"5"}}}`))
	old, ok := conditionFailed(err)
	if !ok || show(old) != "expires_at=N:5,nonce=S:n,pk=S:jti_asrt#x" {
		t.Errorf("conditionFailed = %s, %v; want the old item", show(old), ok)
	}
	old, ok = conditionFailed(respond(t, answer(400,
		`{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}`)))
	if !ok || old != nil {
		t.Errorf("conditionFailed without an item = %s, %v; want nil, true", show(old), ok)
	}
	if _, ok := conditionFailed(respond(t, answer(400, `{"__type":"ValidationException"}`))); ok {
		t.Error("a validation error is a failed condition")
	}
	if _, ok := conditionFailed(nil); ok {
		t.Error("no error is a failed condition")
	}
}

// TestRequestToken: a version 4 UUID, fresh every time.
func TestRequestToken(t *testing.T) {
	a, b := requestToken(), requestToken()
	if len(a) != 36 || a[14] != '4' || strings.Count(a, "-") != 4 || a == b {
		t.Errorf("tokens %q, %q: want two distinct version 4 UUIDs", a, b)
	}
	if !bytes.ContainsAny([]byte(a[19:20]), "89ab") {
		t.Errorf("token %q: variant is not RFC 4122", a)
	}
}
