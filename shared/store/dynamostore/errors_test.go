package dynamostore

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

func TestFail(t *testing.T) {
	msg := "boom"
	status := func(code int) error {
		return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}},
			Err:      errors.New("HTTP error"),
		}}
	}
	for name, c := range map[string]struct {
		err         error
		unavailable bool
		notWritten  bool // DynamoDB certainly applied nothing
	}{
		"ProvisionedThroughputExceeded": {&types.ProvisionedThroughputExceededException{Message: &msg}, true, true},
		"Throttling":                    {&types.ThrottlingException{Message: &msg}, true, true},
		"RequestLimitExceeded":          {&types.RequestLimitExceeded{Message: &msg}, true, true},
		"TransactionInProgress":         {&types.TransactionInProgressException{Message: &msg}, true, false},
		"InternalServerError":           {&types.InternalServerError{Message: &msg}, true, false},
		"TransactionConflict":           {&types.TransactionConflictException{Message: &msg}, true, true},
		"generic throttling code":       {&smithy.GenericAPIError{Code: "ThrottlingException"}, true, true},
		"HTTP 503":                      {status(503), true, false},
		"HTTP 400":                      {status(400), false, false},
		"validation":                    {&smithy.GenericAPIError{Code: "ValidationException"}, false, false},
		"other":                         {errors.New("dial tcp: refused"), false, false},
	} {
		err := fail("GetCode", "GetItem", c.err, "gatehouse-codes")
		if got := errors.Is(err, oauth.ErrUnavailable); got != c.unavailable {
			t.Errorf("%s: errors.Is(%v, ErrUnavailable) = %v, want %v", name, err, got, c.unavailable)
		}
		if got := errors.Is(err, oauth.ErrNotWritten); got != c.notWritten {
			t.Errorf("%s: errors.Is(%v, ErrNotWritten) = %v, want %v", name, err, got, c.notWritten)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: %v does not wrap the SDK error", name, err)
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
	msg := "Cannot do operations on a non-existent table"
	err := fail("RedeemCode", "TransactWriteItems", &types.ResourceNotFoundException{Message: &msg},
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

func TestCancellation(t *testing.T) {
	s := func(v string) *string { return &v }
	err := error(&types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
		{Code: s("None")},
		{Code: s("ConditionalCheckFailed"), Item: item{"pk": str("x")}},
		{Code: s("TransactionConflict")},
	}})
	c, ok := canceled(err)
	if !ok {
		t.Fatal("not a cancellation")
	}
	if _, ok := c.conditionFailed(0); ok {
		t.Error("action 0 failed")
	}
	if it, ok := c.conditionFailed(1); !ok || it == nil {
		t.Error("action 1 did not fail with its item")
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
}
