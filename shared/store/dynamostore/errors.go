package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Error messages name the method, the DynamoDB call and the table, never a
// key: keys are token hashes, client IDs and usernames. (The SDK's errors,
// which they wrap, name the operation and DynamoDB's message, which
// describes the request, never its data; the items that
// ConditionalCheckFailedException and TransactionCanceledException carry
// are never part of a message.)

// unavailableCodes are the DynamoDB error codes (smithy.APIError's
// ErrorCode) that mean "busy, retry shortly", each with whether DynamoDB
// certainly applied nothing (it refused the request up front), as opposed
// to a server fault, after which a write may or may not have landed. The
// client has already retried them (with backoff) by the time a Store
// method sees one.
var unavailableCodes = map[string]bool{
	(&types.ProvisionedThroughputExceededException{}).ErrorCode(): true,
	(&types.ThrottlingException{}).ErrorCode():                    true,
	(&types.RequestLimitExceeded{}).ErrorCode():                   true,
	// A single-item write that met an ongoing transaction on the same item
	// (RevokeGrant against a rotation's ConditionCheck of the grant's
	// marker). Nothing was written; the write can be retried.
	codeTransactionConflict: true,
	// A transaction whose ClientRequestToken is still in flight: the first
	// attempt may yet commit.
	(&types.TransactionInProgressException{}).ErrorCode(): false,
	(&types.InternalServerError{}).ErrorCode():            false,
	"ServiceUnavailable":                                  false,
}

// throttles is the SDK retryer's own test of a throttling error: its
// throttle error codes and an unmodelled HTTP 429.
var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// unavailable reports whether err is throttling, a server-side fault or a
// failure to get a whole response, and whether DynamoDB certainly applied
// nothing. After a server fault (HTTP 5xx), a lost response (a network
// error, a timeout, a response cut short or corrupt) or a deadline that
// passed while waiting, a write may have landed. The caller's own
// cancellation is none of these: nobody waits for the answer.
func unavailable(err error) (ok, notWritten bool) {
	if errors.Is(err, context.Canceled) {
		return false, false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if notWritten, known := unavailableCodes[ae.ErrorCode()]; known {
			return true, notWritten
		}
	}
	if throttles.IsErrorThrottle(err) == aws.TrueTernary {
		return true, true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true, false
	}
	var de *smithy.DeserializationError
	lost := retry.RetryableConnectionError{}.IsErrorRetryable(err) == aws.TrueTernary ||
		errors.As(err, &de) || errors.Is(err, context.DeadlineExceeded)
	return lost, false
}

// fail wraps err, returned by the DynamoDB call (an API name) that method
// made on tables, into the error method returns: a missing table says how
// to create it; throttling, server faults and lost responses wrap
// oauth.ErrUnavailable, and throttling oauth.ErrNotWritten too.
func fail(method, call string, err error, tables ...string) error {
	where := strings.Join(tables, ", ")
	var rnf *types.ResourceNotFoundException
	if errors.As(err, &rnf) {
		return fmt.Errorf("dynamostore: %s: %s: table %s not found "+
			"(create the tables with `gatehouse tables create`): %w",
			method, call, strings.Join(tables, " or "), err)
	}
	if ok, notWritten := unavailable(err); ok {
		if notWritten {
			return fmt.Errorf("dynamostore: %s: %s %s: %w: %w: %w", method, call, where, oauth.ErrUnavailable, oauth.ErrNotWritten, err)
		}
		return fmt.Errorf("dynamostore: %s: %s %s: %w: %w", method, call, where, oauth.ErrUnavailable, err)
	}
	return fmt.Errorf("dynamostore: %s: %s %s: %w", method, call, where, err)
}

// throttled wraps err, a transaction cancelled for capacity, as
// ErrUnavailable and ErrNotWritten: a cancelled transaction applied nothing.
func throttled(method, call string, err error, tables ...string) error {
	return fmt.Errorf("dynamostore: %s: %s %s: %w: %w: %w",
		method, call, strings.Join(tables, ", "), oauth.ErrUnavailable, oauth.ErrNotWritten, err)
}

// notFound is ErrNotFound for a missing or expired record.
func notFound(method, what string) error {
	return fmt.Errorf("dynamostore: %s: %s: %w", method, what, oauth.ErrNotFound)
}

// conflict is ErrConflict for a failed condition.
func conflict(method, why string) error {
	return fmt.Errorf("dynamostore: %s: %s: %w", method, why, oauth.ErrConflict)
}

// corrupt reports an item this package cannot read.
func corrupt(method, table string, err error) error {
	return fmt.Errorf("dynamostore: %s: unreadable item in table %s: %w", method, table, err)
}

// conditionFailed reports whether err is a failed condition of a
// single-item write (ConditionalCheckFailedException), and returns the
// item as it was: its Item, with ReturnValuesOnConditionCheckFailure
// ALL_OLD; nil when there was none.
func conditionFailed(err error) (old item, ok bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true
	}
	return nil, false
}

// Cancellation reason codes of TransactionCanceledException.
const (
	reasonNone            = "None"
	reasonConditionFailed = "ConditionalCheckFailed"
	reasonConflict        = "TransactionConflict"
)

// cancellation is why a transaction was cancelled: one reason per action,
// in the order of the request.
type cancellation struct {
	reasons []types.CancellationReason
}

// canceled returns the cancellation in err, if err is a
// TransactionCanceledException.
func canceled(err error) (*cancellation, bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, false
	}
	return &cancellation{reasons: tce.CancellationReasons}, true
}

// code returns the reason code of action i ("None" if it did not fail).
func (c *cancellation) code(i int) string {
	if i >= len(c.reasons) || aws.ToString(c.reasons[i].Code) == "" {
		return reasonNone
	}
	return *c.reasons[i].Code
}

// conditionFailed reports whether action i's condition failed, and the item
// as it was (ReturnValuesOnConditionCheckFailure ALL_OLD).
func (c *cancellation) conditionFailed(i int) (item, bool) {
	if c.code(i) != reasonConditionFailed {
		return nil, false
	}
	return c.reasons[i].Item, true
}

// has reports whether any action failed with reason code.
func (c *cancellation) has(code string) bool {
	for i := range c.reasons {
		if c.code(i) == code {
			return true
		}
	}
	return false
}

// throttled reports whether the transaction was cancelled for capacity.
func (c *cancellation) throttled() bool {
	return c.has("ThrottlingError") || c.has("ProvisionedThroughputExceeded") || c.has("RequestLimitExceeded")
}
