package dynamotest

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gatehouse/gatehouse/shared/awstest"
)

// Calls counts the DynamoDB requests a client sends, by operation
// ("GetItem", "TransactWriteItems", ...): every attempt counts, retries
// included, when it reaches the counter (wrappers applied later see each
// request first). Install it with dynamotest.Count(&calls) and read it
// with its methods Count, Total, Counts and Reset; the zero value is
// ready, and it is safe for concurrent use.
type Calls = awstest.Calls

// Count installs calls on a client: Client(t, dynamotest.Count(&calls)).
func Count(calls *Calls) func(*dynamodb.Options) { return Wrap(calls.Wrap) }

// Wrap puts wrap's http.RoundTripper in front of the client's HTTP client
// (Options.HTTPClient, the SDK's seam for the transport): it sees every
// attempt, signed, as DynamoDB would, and may answer in DynamoDB's place
// (awstest.ErrorResponse) or pass it on. Wrappers compose: the last one
// applied sees each request first.
func Wrap(wrap func(next http.RoundTripper) http.RoundTripper) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) { o.HTTPClient = awstest.WrapClient(o.HTTPClient, wrap) }
}

// MaxAttempts makes the client send an operation at most n times (the
// SDK's RetryMaxAttempts; 1: no retries).
func MaxAttempts(n int) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) { o.RetryMaxAttempts = n }
}

// NoRetryDelay keeps the client's retryer (dynamostore.NewClient's) but
// retries at once: a fault on every attempt then costs a test no time.
func NoRetryDelay(o *dynamodb.Options) { o.Retryer = noDelay{retryerV2(o.Retryer)} }

// NoRetryQuota keeps the client's retryer but without its retry quota, so
// that a test injecting many faults through one client (more than a
// container would meet: the quota stops retries when most attempts fail)
// sees every retry.
func NoRetryQuota(o *dynamodb.Options) { o.Retryer = noQuota{retryerV2(o.Retryer)} }

// FastRetries is NoRetryDelay and NoRetryQuota: the retryer's decisions,
// none of its waits or limits.
func FastRetries(o *dynamodb.Options) {
	NoRetryDelay(o)
	NoRetryQuota(o)
}

func retryerV2(r aws.Retryer) aws.RetryerV2 {
	v2, ok := r.(aws.RetryerV2)
	if !ok {
		panic(fmt.Sprintf("dynamotest: the client's retryer %T is not an aws.RetryerV2", r))
	}
	return v2
}

type noDelay struct{ aws.RetryerV2 }

func (noDelay) RetryDelay(int, error) (time.Duration, error) { return 0, nil }

type noQuota struct{ aws.RetryerV2 }

func (noQuota) GetRetryToken(context.Context, error) (func(error) error, error) {
	return func(error) error { return nil }, nil
}
