package dynamostore

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gatehouse/gatehouse/shared/awstest"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// These tests need no DynamoDB: a stub transport answers as DynamoDB would
// (or fails as a network would), and the store reads what the SDK makes of
// it.

// respond returns the error of one GetItem, sent once, whose request
// meets rt instead of DynamoDB.
func respond(t *testing.T, rt awstest.RoundTripFunc) error {
	t.Helper()
	return respondCtx(t, t.Context(), rt)
}

func respondCtx(t *testing.T, ctx context.Context, rt awstest.RoundTripFunc) error {
	t.Helper()
	client := NewClient(aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials:  credentials.NewStaticCredentialsProvider("id", "secret", ""),
	}, func(o *dynamodb.Options) {
		o.RetryMaxAttempts = 1
		o.HTTPClient = &http.Client{Transport: rt}
	})
	_, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: codeKey("h")})
	if err == nil {
		t.Fatal("the call succeeded")
	}
	return err
}

// answer is a response of DynamoDB: status, JSON body, and headers as
// name, value pairs.
func answer(status int, body string, header ...string) awstest.RoundTripFunc {
	return func(r *http.Request) (*http.Response, error) {
		h := http.Header{"Content-Type": {"application/x-amz-json-1.0"}}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		return &http.Response{
			StatusCode:    status,
			Header:        h,
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)),
			Request:       r,
		}, nil
	}
}

// apiError answers with a DynamoDB error of this code, as DynamoDB sends
// it (its namespace in __type).
func apiError(status int, code string) awstest.RoundTripFunc {
	return answer(status, `{"__type":"com.amazonaws.dynamodb.v20120810#`+code+`","message":"boom"}`)
}

func TestFail(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel2()
	networkError := func(*http.Request) (*http.Response, error) {
		return nil, errors.New("read tcp 127.0.0.1:1: connection reset by peer")
	}
	for name, c := range map[string]struct {
		err         error
		unavailable bool
		notWritten  bool // DynamoDB certainly applied nothing
	}{
		"ProvisionedThroughputExceeded":  {respond(t, apiError(400, "ProvisionedThroughputExceededException")), true, true},
		"Throttling":                     {respond(t, apiError(400, "ThrottlingException")), true, true},
		"RequestLimitExceeded":           {respond(t, apiError(400, "RequestLimitExceeded")), true, true},
		"other throttling code":          {respond(t, apiError(400, "TooManyRequestsException")), true, true},
		"unmodelled HTTP 429":            {respond(t, answer(429, "")), true, true},
		"TransactionConflict":            {respond(t, apiError(400, "TransactionConflictException")), true, true},
		"TransactionInProgress":          {respond(t, apiError(400, "TransactionInProgressException")), true, false},
		"InternalServerError":            {respond(t, apiError(500, "InternalServerError")), true, false},
		"HTTP 503 without a body":        {respond(t, answer(503, "")), true, false},
		"HTTP 400 without a body":        {respond(t, answer(400, "")), false, false},
		"validation":                     {respond(t, apiError(400, "ValidationException")), false, false},
		"typed error, not from the wire": {&types.RequestLimitExceeded{Message: aws.String("boom")}, true, true},
		// No response, or not a whole one: the request may have landed.
		"network error":       {respond(t, networkError), true, false},
		"response cut short":  {respond(t, answer(200, `{"Item":{"code_hash":{"S":`)), true, false},
		"checksum mismatch":   {respond(t, answer(200, `{}`, "X-Amz-Crc32", "1")), true, false},
		"deadline passed":     {respondCtx(t, expired, networkError), true, false},
		"caller's cancelling": {respondCtx(t, cancelled, networkError), false, false},
		"other":               {errors.New("retrieving AWS credentials: expired"), false, false},
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
// it: one reason per action, the failed condition's with the old item,
// which never shows in the message.
func TestCancellation(t *testing.T) {
	err := respond(t, answer(400, `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
		"Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, TransactionConflict]",
		"CancellationReasons":[{"Code":"None"},
			{"Code":"ConditionalCheckFailed","Message":"The conditional request failed","Item":{"pk":{"S":"rt#secret-hash"},"rotated":{"BOOL":true}}},
			{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}`))
	c, ok := canceled(err)
	if !ok {
		t.Fatalf("%v is not a cancellation", err)
	}
	if _, ok := c.conditionFailed(0); ok {
		t.Error("action 0 failed")
	}
	if it, ok := c.conditionFailed(1); !ok || stringAttr(it, "pk") != "rt#secret-hash" {
		t.Errorf("action 1: item %v, %v; want its old item", it, ok)
	}
	if _, ok := c.conditionFailed(5); ok || c.code(5) != reasonNone {
		t.Error("a missing reason is not None")
	}
	if !c.has(reasonConflict) || c.throttled() {
		t.Error("has/throttled wrong")
	}
	if msg := fail("RotateRefreshToken", "TransactWriteItems", err, "t").Error(); strings.Contains(msg, "secret-hash") {
		t.Errorf("the error shows the old item's key: %s", msg)
	}
	if _, ok := canceled(errors.New("x")); ok {
		t.Error("a plain error is a cancellation")
	}
	if _, ok := canceled(&types.ConditionalCheckFailedException{}); ok {
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
	if !ok || stringAttr(old, "nonce") != "n" || expiresAt(old) != 5 || len(old) != 3 {
		t.Errorf("conditionFailed = %v, %v; want the old item", old, ok)
	}
	if strings.Contains(err.Error(), "jti_asrt#x") {
		t.Errorf("the error shows the old item's key: %v", err)
	}
	old, ok = conditionFailed(respond(t, answer(400,
		`{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}`)))
	if !ok || old != nil {
		t.Errorf("conditionFailed without an item = %v, %v; want nil, true", old, ok)
	}
	if _, ok := conditionFailed(respond(t, apiError(400, "ValidationException"))); ok {
		t.Error("a validation error is a failed condition")
	}
	if _, ok := conditionFailed(nil); ok {
		t.Error("no error is a failed condition")
	}
}

// TestRequestToken: a version 4 UUID, fresh every time.
func TestRequestToken(t *testing.T) {
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := requestToken(), requestToken()
	if !uuid4.MatchString(a) || !uuid4.MatchString(b) || a == b {
		t.Errorf("tokens %q, %q: want two distinct version 4 UUIDs", a, b)
	}
}
