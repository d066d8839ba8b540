package dynamostore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/shared/awsjson"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Error messages name the method, the DynamoDB call and the table, never a
// key: keys are token hashes, client IDs and usernames. (DynamoDB's own
// messages, which the wrapped *awsjson.APIError carries, describe the
// request, never its data.)

// DynamoDB error codes the store tells apart.
const (
	codeResourceNotFound    = "ResourceNotFoundException"
	codeResourceInUse       = "ResourceInUseException"
	codeConditionFailed     = "ConditionalCheckFailedException"
	codeTransactionCanceled = "TransactionCanceledException"
	codeTransactionConflict = "TransactionConflictException"
)

// unavailableCodes are the DynamoDB error codes that mean "busy, retry
// shortly", each with whether DynamoDB certainly applied nothing (it
// refused the request up front) — as opposed to a server fault, after which
// a write may or may not have landed. The client has already retried them
// (with backoff) by the time a Store method sees one.
var unavailableCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
	// A single-item write that met an in-flight transaction on the same
	// item (RevokeGrant against a rotation's ConditionCheck of the grant's
	// marker). Nothing was written; the write can be retried.
	codeTransactionConflict:          true,
	"TransactionInProgressException": false,
	"InternalServerError":            false,
	"ServiceUnavailable":             false,
}

// unavailable reports whether err is throttling, a server-side fault or a
// failure to get a response, and whether DynamoDB certainly applied
// nothing. After a server fault (HTTP 5xx) or a lost response (a network
// error, a timeout, a corrupt response) a write may have landed.
func unavailable(err error) (ok, notWritten bool) {
	var ae *awsjson.APIError
	if errors.As(err, &ae) {
		if notWritten, known := unavailableCodes[ae.Code]; known {
			return true, notWritten
		}
		if ae.Throttling() {
			return true, true
		}
		return ae.ServerFault(), false
	}
	return awsjson.IsTransport(err), false
}

// fail wraps err, returned by the DynamoDB call (an API name) that method
// made on tables, into the error method returns: a missing table says how
// to create it; throttling, server faults and network failures wrap
// oauth.ErrUnavailable, and throttling oauth.ErrNotWritten too.
func fail(method, call string, err error, tables ...string) error {
	where := strings.Join(tables, ", ")
	if awsjson.ErrorCode(err) == codeResourceNotFound {
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
// item as it was: its Item member, with ReturnValuesOnConditionCheckFailure
// ALL_OLD; nil when there was none, or it cannot be read.
func conditionFailed(err error) (old item, ok bool) {
	var ae *awsjson.APIError
	if !errors.As(err, &ae) || ae.Code != codeConditionFailed {
		return nil, false
	}
	var body struct{ Item item }
	if ae.Decode(&body) != nil {
		return nil, true
	}
	return body.Item, true
}

// Cancellation reason codes of TransactionCanceledException.
const (
	reasonNone            = "None"
	reasonConditionFailed = "ConditionalCheckFailed"
	reasonConflict        = "TransactionConflict"
)

// cancellationReason is one action's entry of a
// TransactionCanceledException's CancellationReasons: its code ("None"
// for an action that did not fail), and with ALL_OLD the item a failed
// condition saw.
type cancellationReason struct {
	Code    string
	Message string
	Item    item
}

// cancellation is why a transaction was cancelled: one reason per action,
// in the order of the request.
type cancellation struct {
	reasons []cancellationReason
}

// canceled returns the cancellation in err, if err is a
// TransactionCanceledException. Reasons that cannot be read count as none
// (the caller then reports err as it is).
func canceled(err error) (*cancellation, bool) {
	var ae *awsjson.APIError
	if !errors.As(err, &ae) || ae.Code != codeTransactionCanceled {
		return nil, false
	}
	var body struct{ CancellationReasons []cancellationReason }
	if ae.Decode(&body) != nil {
		return &cancellation{}, true
	}
	return &cancellation{reasons: body.CancellationReasons}, true
}

// code returns the reason code of action i ("None" if it did not fail).
func (c *cancellation) code(i int) string {
	if i >= len(c.reasons) || c.reasons[i].Code == "" {
		return reasonNone
	}
	return c.reasons[i].Code
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
