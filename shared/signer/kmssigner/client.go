package kmssigner

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
)

// API is the part of the KMS API a Signer calls: Sign
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html) and
// GetPublicKey (API_GetPublicKey.html). The SDK's *kms.Client implements
// it, as does anything that wraps one (to trace or meter the calls).
type API interface {
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

var _ API = (*kms.Client)(nil)

// The retries of [NewClient]'s client. A token request waits for Sign, and
// a person or a program waits for the token, so the client absorbs a brief
// fault and then gives up, leaving the next move to the OAuth client, which
// is told temporarily_unavailable (HTTP 503 with Retry-After).
const (
	// MaxAttempts is the number of attempts of one KMS operation: the
	// first and two retries, the SDK's default. KMS answers in tens of
	// milliseconds, so a fault that outlasts three attempts is an outage
	// or sustained throttling, which more attempts would only prolong
	// and feed. AWS_MAX_ATTEMPTS (aws.Config.RetryMaxAttempts) overrides
	// it.
	MaxAttempts = 3
	// AttemptTimeout bounds one attempt, response included. A KMS call
	// unanswered after 2 s is stuck, typically on a keep-alive connection
	// that died while the Lambda container was frozen; the retry gets a
	// new connection. MaxAttempts attempts and their backoff (at most
	// 2 s) fit in the token function's 10 s timeout.
	AttemptTimeout = 2 * time.Second

	// baseDelay is the backoff ceiling before the first retry of a fault
	// (HTTP 5xx, a broken connection), doubled for each retry after it:
	// the retries come at most 50 and 100 ms later (full jitter).
	// Throttling backs off from 1 s instead, the SDK's rule, since KMS's
	// request quotas are per second.
	baseDelay = 50 * time.Millisecond
	// maxBackoff caps each delay: a throttled Sign waits at most 1 s
	// before each retry, 2 s in all.
	maxBackoff = time.Second
)

// NewClient returns the KMS client a [Signer] is meant to run with: the
// SDK's client configured by cfg (region, credentials, AWS_ENDPOINT_URL_KMS,
// FIPS and dual-stack endpoints, AWS_MAX_ATTEMPTS) with the SDK's standard
// retryer set deliberately:
//
//   - [MaxAttempts] attempts;
//   - retried: throttling (ThrottlingException and the SDK's other
//     throttling codes), KMSInternalException, DependencyTimeoutException,
//     any HTTP 500, 502, 503 or 504 (KeyUnavailableException is one), a
//     broken connection and a timed-out attempt;
//   - never retried: the errors no retry fixes, whatever their status
//     (DisabledException, AccessDeniedException, NotFoundException,
//     KMSInvalidStateException, InvalidKeyUsageException, ...), and the
//     caller's cancellation or deadline;
//   - jittered backoff of at most 50 then 100 ms, or 1 s for throttling;
//   - the SDK's retry quota: retries draw on a token bucket that successes
//     refill, so a container stops retrying during an outage and fails
//     fast;
//   - each attempt of the SDK's default HTTP client bounded by
//     [AttemptTimeout].
//
// AWS_RETRY_MODE=adaptive adds the SDK's client-side rate limiting to the
// same settings. A retryer in cfg (aws.Config.Retryer) and an HTTP client
// of the caller's own (or with a timeout already) are kept; optFns apply
// last. NewClient makes no network call.
func NewClient(cfg aws.Config, optFns ...func(*kms.Options)) *kms.Client {
	configure := func(o *kms.Options) {
		if cfg.Retryer == nil {
			o.Retryer = newRetryer(o.RetryMode)
		}
		if c, ok := o.HTTPClient.(*awshttp.BuildableClient); ok && c.GetTimeout() == 0 {
			o.HTTPClient = c.WithTimeout(AttemptTimeout)
		}
	}
	return kms.NewFromConfig(cfg, append([]func(*kms.Options){configure}, optFns...)...)
}

// newRetryer returns the retryer described at [NewClient] for the SDK's
// retry mode.
func newRetryer(mode aws.RetryMode) aws.Retryer {
	if mode == aws.RetryModeAdaptive {
		return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
			o.StandardOptions = append(o.StandardOptions, standardOptions)
		})
	}
	return retry.NewStandard(standardOptions)
}

func standardOptions(o *retry.StandardOptions) {
	o.MaxAttempts = MaxAttempts
	o.BaseDelay = baseDelay
	o.MaxBackoff = maxBackoff
	o.Retryables = slices.Clone(retryables)
}

// retryables decide whether a failed attempt is retried; the first that
// knows answers:
//
//  1. never the errors in permanentCodes;
//  2. the SDK's defaults (retry.DefaultRetryables): not the caller's
//     cancellation; yes for broken connections and timeouts, HTTP 500,
//     502, 503 and 504, and the throttling codes;
//  3. yes for KMSInternalException and DependencyTimeoutException, which
//     KMS sends as 5xx, whatever their status.
var retryables = slices.Concat(
	[]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(neverRetry)},
	retry.DefaultRetryables,
	[]retry.IsErrorRetryable{retry.RetryableErrorCode{Codes: map[string]struct{}{
		"KMSInternalException":       {},
		"DependencyTimeoutException": {},
	}}},
)

// permanentCodes are the errors of Sign and GetPublicKey
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html#API_Sign_Errors,
// API_GetPublicKey.html#API_GetPublicKey_Errors) and the common AWS errors
// that the same request meets again until someone changes the key, its
// policy or the configuration.
var permanentCodes = map[string]struct{}{
	"AccessDeniedException":         {},
	"DisabledException":             {},
	"DryRunOperationException":      {},
	"InvalidArnException":           {},
	"InvalidGrantTokenException":    {},
	"InvalidKeyUsageException":      {},
	"KMSInvalidStateException":      {},
	"NotFoundException":             {},
	"UnsupportedOperationException": {},
	"ValidationException":           {},
}

// neverRetry refuses to retry the errors in permanentCodes.
func neverRetry(err error) aws.Ternary {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if _, ok := permanentCodes[apiErr.ErrorCode()]; ok {
			return aws.FalseTernary
		}
	}
	return aws.UnknownTernary
}
