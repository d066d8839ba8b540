package dynamostore_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/gatehouse/gatehouse/shared/awstest"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
)

// The tests below check NewClient's retryer on DynamoDB Local, faults
// injected on the wire: what it retries and how often. They drop its
// waits (dynamotest.FastRetries) but not its decisions.

// TestRetryPolicy: throttling, server faults, network errors and corrupt
// responses are sent MaxAttempts times; a single-item write also retries a
// transaction conflict; a failed condition, a cancelled transaction and a
// client error are sent once.
func TestRetryPolicy(t *testing.T) {
	tables := dynamotest.CreateTables(t, dynamotest.Client(t))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	seed := dynamostore.New(dynamotest.Client(t), tables)
	code := &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: oauth.RandomToken(), ExpiresAt: exp}
	mustOK(t, seed.CreateCode(ctx, code, nil))
	redeemed := &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: oauth.RandomToken(), ExpiresAt: exp}
	mustOK(t, seed.CreateCode(ctx, redeemed, nil))
	mustOK(t, seed.RedeemCode(ctx, redeemed.Hash, redeemed.GrantID, nil))

	read := func(s *dynamostore.Store) error { return second(s.GetCode(ctx, code.Hash)) }
	write := func(s *dynamostore.Store) error { return s.RevokeAccessToken(ctx, oauth.RandomToken(), exp) }
	redeem := func(s *dynamostore.Store) error { return s.RedeemCode(ctx, code.Hash, "another-grant", nil) }
	before := func(op string, a *answer) func(*dynamodb.Options) {
		return failWith(func(got string) *answer {
			if got == op {
				return a
			}
			return nil
		})
	}
	for _, c := range []struct {
		name     string
		fault    func(*dynamodb.Options) // nil: DynamoDB's own answer
		call     func(*dynamostore.Store) error
		op       string
		attempts int
		want     error // errors.Is; nil: success
	}{
		{"ProvisionedThroughputExceededException", before("GetItem", throttling()), read, "GetItem", dynamostore.MaxAttempts, oauth.ErrNotWritten},
		{"ThrottlingException", before("GetItem", &answer{400, "ThrottlingException", nil}), read, "GetItem", dynamostore.MaxAttempts, oauth.ErrNotWritten},
		{"RequestLimitExceeded", before("GetItem", &answer{400, "RequestLimitExceeded", nil}), read, "GetItem", dynamostore.MaxAttempts, oauth.ErrNotWritten},
		{"TransactionInProgressException", before("TransactWriteItems", &answer{400, "TransactionInProgressException", nil}),
			redeem, "TransactWriteItems", dynamostore.MaxAttempts, oauth.ErrUnavailable},
		{"InternalServerError", before("GetItem", serverError()), read, "GetItem", dynamostore.MaxAttempts, oauth.ErrUnavailable},
		{"HTTP 503", before("GetItem", &answer{503, "ServiceUnavailable", nil}), read, "GetItem", dynamostore.MaxAttempts, oauth.ErrUnavailable},
		{"network error", unreachable("GetItem"), read, "GetItem", dynamostore.MaxAttempts, oauth.ErrUnavailable},
		{"response that fails its x-amz-crc32", corruptChecksum("GetItem"), read, "GetItem", dynamostore.MaxAttempts, oauth.ErrUnavailable},
		{"TransactionConflictException on a write", before("UpdateItem", transactionConflict()), write, "UpdateItem", dynamostore.MaxAttempts, oauth.ErrNotWritten},
		{"TransactionConflictException on a read", before("GetItem", transactionConflict()), read, "GetItem", 1, oauth.ErrNotWritten},
		{"ValidationException", before("GetItem", &answer{400, "ValidationException", nil}), read, "GetItem", 1, nil},
		{"ConditionalCheckFailedException", nil, func(s *dynamostore.Store) error { return s.CreateCode(ctx, code, nil) },
			"PutItem", 1, oauth.ErrConflict},
		{"TransactionCanceledException, a condition", nil, func(s *dynamostore.Store) error {
			return s.RedeemCode(ctx, redeemed.Hash, redeemed.GrantID, nil)
		}, "TransactWriteItems", 1, oauth.ErrConflict},
		{"TransactionCanceledException, throttled", failWith(func(op string) *answer { return cancellation(op, "ThrottlingError") }),
			redeem, "TransactWriteItems", 1, oauth.ErrNotWritten},
		{"TransactionCanceledException, a conflict", failWith(func(op string) *answer { return cancellation(op, "TransactionConflict") }),
			redeem, "TransactWriteItems", 1, oauth.ErrConflict},
	} {
		t.Run(c.name, func(t *testing.T) {
			var calls dynamotest.Calls
			opts := []func(*dynamodb.Options){dynamotest.FastRetries}
			if c.fault != nil {
				opts = append(opts, c.fault)
			}
			// Last, so that it sees each attempt first.
			opts = append(opts, dynamotest.Count(&calls))
			err := c.call(dynamostore.New(dynamotest.Client(t, opts...), tables))
			switch {
			case c.want == nil && err == nil:
				t.Errorf("no error")
			case c.want != nil && !errors.Is(err, c.want):
				t.Errorf("error %v, want %v", err, c.want)
			}
			if got := calls.Counts(); got[c.op] != c.attempts || len(got) != 1 {
				t.Errorf("requests %v, want %s %d times", got, c.op, c.attempts)
			}
		})
	}
}

// corruptChecksum lets op reach DynamoDB and changes the x-amz-crc32 of
// its answer, as a response corrupted on the way would have.
func corruptChecksum(op string) func(*dynamodb.Options) {
	return dynamotest.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(r)
			if err == nil && awstest.Operation(r) == op {
				resp.Header = resp.Header.Clone()
				resp.Header.Set("X-Amz-Crc32", "1")
			}
			return resp, err
		})
	})
}

// TestRetryQuota: the retryer keeps the SDK's retry quota, so when
// DynamoDB keeps failing a container stops retrying (and stops adding
// load) after a few dozen retries; a success gives some back.
func TestRetryQuota(t *testing.T) {
	var calls dynamotest.Calls
	var down atomic.Bool
	s := dynamotest.NewStore(t, dynamotest.NoRetryDelay,
		failWith(func(op string) *answer {
			if down.Load() && op == "GetItem" {
				return serverError()
			}
			return nil
		}), dynamotest.Count(&calls))
	ctx := t.Context()
	down.Store(true)
	var attempts []int
	for range 40 {
		calls.Reset()
		if _, err := s.GetSession(ctx, "h"); !errors.Is(err, oauth.ErrUnavailable) {
			t.Fatalf("GetSession while DynamoDB fails: error %v, want ErrUnavailable", err)
		}
		attempts = append(attempts, calls.Count("GetItem"))
	}
	retries := 0
	for _, n := range attempts {
		retries += n - 1
	}
	// 500 tokens, 14 a retry: 35 retries, then none.
	if attempts[0] != dynamostore.MaxAttempts || attempts[len(attempts)-1] != 1 || retries != 35 {
		t.Errorf("attempts per call %v (%d retries), want %d at first, 1 at last, 35 retries in all",
			attempts, retries, dynamostore.MaxAttempts)
	}
	down.Store(false)
	if _, err := s.GetSession(ctx, "h"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("GetSession once DynamoDB is back: error %v, want ErrNotFound", err)
	}
}

// TestMaxAttemptsFromConfig: AWS_MAX_ATTEMPTS (aws.Config's
// RetryMaxAttempts) overrides MaxAttempts, and the policy stays.
func TestMaxAttemptsFromConfig(t *testing.T) {
	tables := dynamotest.CreateTables(t, dynamotest.Client(t))
	var calls dynamotest.Calls
	client := dynamostore.NewClient(aws.Config{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(dynamotest.Endpoint(t)),
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: 5,
	}, dynamotest.FastRetries, failWith(func(string) *answer { return throttling() }), dynamotest.Count(&calls))
	s := dynamostore.New(client, tables)
	if _, err := s.GetCode(t.Context(), "h"); !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("GetCode throttled: error %v, want ErrUnavailable", err)
	}
	if n := calls.Count("GetItem"); n != 5 {
		t.Errorf("GetItem sent %d times, want 5 (AWS_MAX_ATTEMPTS)", n)
	}
}

// TestRetryerConfiguration checks what the retryer would do without
// sending anything: its attempts, its waits (from 25 ms, from 1 s when
// throttled, each at most 1 s), the same in adaptive mode, and the
// attempt timeout.
func TestRetryerConfiguration(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("id", "secret", "")}
	serverFault := &smithy.GenericAPIError{Code: "InternalServerError", Fault: smithy.FaultServer}
	throttled := &types.ProvisionedThroughputExceededException{}
	for _, mode := range []aws.RetryMode{aws.RetryModeStandard, aws.RetryModeAdaptive} {
		cfg.RetryMode = mode
		opts := dynamostore.NewClient(cfg).Options()
		r := opts.Retryer
		if n := r.MaxAttempts(); n != dynamostore.MaxAttempts {
			t.Errorf("%s: MaxAttempts %d, want %d", mode, n, dynamostore.MaxAttempts)
		}
		for _, c := range []struct {
			err       error
			retryable bool
		}{
			{throttled, true},
			{&types.RequestLimitExceeded{}, true},
			{&types.ConditionalCheckFailedException{}, false},
			{&types.TransactionCanceledException{}, false},
			{&types.TransactionConflictException{}, false}, // only single-item writes retry it
			{&smithy.CanceledError{Err: context.Canceled}, false},
		} {
			if got := r.IsErrorRetryable(c.err); got != c.retryable {
				t.Errorf("%s: IsErrorRetryable(%T) = %v, want %v", mode, c.err, got, c.retryable)
			}
		}
		// The SDK's own codes of a failed condition still never retry,
		// even where a caller adds codes.
		widened := retry.AddWithErrorCodes(r, "TransactionConflictException")
		if widened.IsErrorRetryable(&types.ConditionalCheckFailedException{}) || !widened.IsErrorRetryable(&types.TransactionConflictException{}) {
			t.Errorf("%s: with TransactionConflictException added, the decisions are wrong", mode)
		}
		var longest [2]map[bool]time.Duration // by retry (1, 2), by throttled
		for i := range longest {
			longest[i] = map[bool]time.Duration{}
		}
		for range 500 {
			for attempt := 1; attempt <= 2; attempt++ {
				for _, isThrottle := range []bool{false, true} {
					var err error = serverFault
					if isThrottle {
						err = throttled
					}
					d, e := r.RetryDelay(attempt, err)
					if e != nil {
						t.Fatal(e)
					}
					longest[attempt-1][isThrottle] = max(longest[attempt-1][isThrottle], d)
				}
			}
		}
		for attempt, bound := range []map[bool]time.Duration{
			{false: 25 * time.Millisecond, true: time.Second},
			{false: 50 * time.Millisecond, true: time.Second},
		} {
			for isThrottle, limit := range bound {
				got := longest[attempt][isThrottle]
				if got > limit || got < limit/2 {
					t.Errorf("%s: retry %d, throttled %v: longest of 500 waits %v, want up to %v (and near it)",
						mode, attempt+1, isThrottle, got, limit)
				}
			}
		}
		if b, ok := opts.HTTPClient.(*awshttp.BuildableClient); !ok || b.GetTimeout() != dynamostore.AttemptTimeout {
			t.Errorf("%s: HTTP client %T, want a BuildableClient with a timeout of %v", mode, opts.HTTPClient, dynamostore.AttemptTimeout)
		}
	}
}
