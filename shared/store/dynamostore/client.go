package dynamostore

import (
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The DynamoDB client the store is meant to run with: the SDK's standard
// retryer, configured for requests a person or a resource server is
// waiting on.
const (
	// MaxAttempts is how often the client sends one operation before it
	// gives up: the first attempt and two retries, the SDK's general
	// default (its DynamoDB client's own is 4). A third retry would add
	// latency where someone waits, and the grant library already turns a
	// failure that outlasts the retries into a clean 503 with Retry-After,
	// so the caller retries at its own pace. AWS_MAX_ATTEMPTS
	// (aws.Config.RetryMaxAttempts) overrides it.
	MaxAttempts = 3

	// AttemptTimeout bounds one attempt, response body included (the
	// HTTP client's Timeout). DynamoDB answers in milliseconds: an attempt
	// that takes this long has failed, and is retried as a network error.
	AttemptTimeout = 5 * time.Second

	// retryBaseDelay is the first retry's full-jitter ceiling for a server
	// fault, a network error or a transaction conflict, doubled on each
	// retry: the SDK DynamoDB client's own base. Throttling backs off from
	// 1 s instead (the SDK's rule), capped at retryMaxBackoff.
	retryBaseDelay = 25 * time.Millisecond
	// retryMaxBackoff caps one wait, so that two throttled retries wait
	// at most 2 s together, inside the functions' 5 s and 10 s timeouts
	// (the SDK's cap is 20 s).
	retryMaxBackoff = time.Second
)

// NewClient returns the DynamoDB client of cfg (dynamodb.NewFromConfig:
// its region, credentials, endpoint rules and settings) configured for
// the store, then optFns:
//
//   - The SDK's standard retryer (adaptive with AWS_RETRY_MODE=adaptive),
//     at most MaxAttempts attempts, full-jitter exponential backoff from
//     25 ms (throttling: from 1 s), each wait at most 1 s, and the SDK's
//     retry quota (a token bucket of 500: a retry costs 14 tokens, a
//     throttled one 5; a success refunds), which stops retries when most
//     attempts fail, so an outage is not made worse by the retries.
//   - What it retries: throttling (the SDK's throttle codes:
//     ProvisionedThroughputExceededException, ThrottlingException,
//     RequestLimitExceeded, TransactionInProgressException, …), HTTP 5xx,
//     and network errors, timeouts and corrupt responses (a checksum that
//     does not match x-amz-crc32). The store's single-item writes also
//     retry TransactionConflictException (retryTransactionConflicts).
//   - What it never retries, whatever else is configured: a failed
//     condition (ConditionalCheckFailedException) and a cancelled
//     transaction (TransactionCanceledException, whatever its reasons):
//     the store maps those to its own errors, and a repeat could only fail
//     the same way. Nor the caller's cancellation.
//   - AttemptTimeout per attempt, unless cfg brings its own HTTP client.
//
// An aws.Config.Retryer is replaced (an option may set Options.Retryer
// instead). It makes no network call.
func NewClient(cfg aws.Config, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){configure}, optFns...)...)
}

// configure sets the store's retryer and attempt timeout on a client's
// options, after NewFromConfig has resolved them from the aws.Config.
func configure(o *dynamodb.Options) {
	o.Retryer = newRetryer(o.RetryMode)
	if b, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
		o.HTTPClient = b.WithTimeout(AttemptTimeout)
	}
}

// newRetryer returns the retryer NewClient configures, in retry mode mode
// (standard unless adaptive).
func newRetryer(mode aws.RetryMode) aws.Retryer {
	if mode == aws.RetryModeAdaptive {
		return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
			o.StandardOptions = append(o.StandardOptions, retryOptions)
		})
	}
	return retry.NewStandard(retryOptions)
}

func retryOptions(o *retry.StandardOptions) {
	o.MaxAttempts = MaxAttempts
	o.BaseDelay = retryBaseDelay
	o.MaxBackoff = retryMaxBackoff
	// First: the answer is final whatever the checks after it would say.
	o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(neverRetry)}, o.Retryables...)
}

// neverRetry says no to a failed condition and to a cancelled transaction,
// and has no opinion on anything else.
func neverRetry(err error) aws.Ternary {
	var ccf *types.ConditionalCheckFailedException
	var tce *types.TransactionCanceledException
	if errors.As(err, &ccf) || errors.As(err, &tce) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}

// codeTransactionConflict is the error code of a single-item write that met
// an ongoing transaction on the same item.
var codeTransactionConflict = (&types.TransactionConflictException{}).ErrorCode()

// retryTransactionConflicts is an operation option for the store's
// single-item writes: it makes the client also retry
// TransactionConflictException, with the backoff of a server fault.
// DynamoDB refuses such a write without applying it (a RevokeGrant that
// meets a rotation's ConditionCheck of the same marker, say), so repeating
// it is as safe as sending it. A transaction's own conflicts are
// cancellation reasons, never retried.
func retryTransactionConflicts(o *dynamodb.Options) {
	o.Retryer = retry.AddWithErrorCodes(o.Retryer, codeTransactionConflict)
}
