package kmssigner_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/gatehouse/gatehouse/shared/awstest"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
)

// Tests of NewClient's configuration: its retries, measured on the wire
// against the double, and its settings.

// respond answers a request in the double's place, or returns nil, nil to
// let it through.
type respond func(r *http.Request) (*http.Response, error)

// productionClient returns NewClient's client of the double, its requests
// (every attempt) counted by calls; respond, if not nil, answers first.
func productionClient(srv *kmstest.Server, respond respond) (client *kms.Client, calls *awstest.Calls) {
	calls = awstest.NewCalls()
	return kmssigner.NewClient(srv.AWSConfig(), func(o *kms.Options) {
		if respond != nil {
			o.HTTPClient = awstest.WrapClient(o.HTTPClient, func(next http.RoundTripper) http.RoundTripper {
				return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
					if resp, err := respond(r); resp != nil || err != nil {
						return resp, err
					}
					return next.RoundTrip(r)
				})
			})
		}
		o.HTTPClient = awstest.WrapClient(o.HTTPClient, calls.Wrap)
	}), calls
}

// answer returns a respond that fails every request with an AWS JSON error
// of that status and code.
func answer(status int, code string) respond {
	return func(r *http.Request) (*http.Response, error) {
		return awstest.ErrorResponse(r, status, code, "injected"), nil
	}
}

// A fault that persists is attempted MaxAttempts times, then reported as
// temporarily unavailable; an error no retry fixes is sent exactly once,
// whatever its HTTP status. Counted on the wire, each attempt a request.
func TestNewClientRetries(t *testing.T) {
	t.Parallel() // with the other tests that back off or time out
	tests := []struct {
		name     string
		errType  string  // a fault of the double, persistent
		respond  respond // or a response in its place
		attempts int
		// unavailable: the Signer reports oauth.ErrUnavailable.
		unavailable bool
	}{
		{name: "throttling", errType: "ThrottlingException", attempts: kmssigner.MaxAttempts, unavailable: true},
		{name: "KMS internal error", errType: "KMSInternalException", attempts: kmssigner.MaxAttempts, unavailable: true},
		{name: "dependency timeout", errType: "DependencyTimeoutException", attempts: kmssigner.MaxAttempts, unavailable: true},
		{name: "500 InternalFailure", errType: "InternalFailure", attempts: kmssigner.MaxAttempts, unavailable: true},
		{name: "503 ServiceUnavailable", errType: "ServiceUnavailable", attempts: kmssigner.MaxAttempts, unavailable: true},
		{name: "502 from a proxy", respond: answer(http.StatusBadGateway, "BadGateway"), attempts: kmssigner.MaxAttempts, unavailable: true},
		{name: "connection reset", respond: func(*http.Request) (*http.Response, error) {
			return nil, errors.New("read tcp: connection reset by peer")
		}, attempts: kmssigner.MaxAttempts, unavailable: true},
		// A 5xx, so retried; its hint makes it a server_error all the same.
		{name: "custom key store unavailable", errType: "KeyUnavailableException", attempts: kmssigner.MaxAttempts},
		// KMS's internal error is retried whatever its status.
		{name: "KMSInternalException as 400", respond: answer(http.StatusBadRequest, "KMSInternalException"),
			attempts: kmssigner.MaxAttempts, unavailable: true},

		{name: "disabled key", errType: "DisabledException", attempts: 1},
		{name: "access denied", errType: "AccessDeniedException", attempts: 1},
		{name: "no such key", errType: "NotFoundException", attempts: 1},
		{name: "pending deletion", errType: "KMSInvalidStateException", attempts: 1},
		{name: "not a signing key", errType: "InvalidKeyUsageException", attempts: 1},
		// Never retried, even as a 5xx.
		{name: "AccessDeniedException as 500", respond: answer(http.StatusInternalServerError, "AccessDeniedException"), attempts: 1},
		{name: "DisabledException as 503", respond: answer(http.StatusServiceUnavailable, "DisabledException"), attempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // throttling backs off for up to 2 s
			srv := kmstest.NewServer(t)
			keyID := srv.CreateKey("RSA_2048")
			var faulty respond
			if tt.respond != nil {
				faulty = func(r *http.Request) (*http.Response, error) {
					if awstest.Operation(r) == kmstest.OpSign {
						return tt.respond(r)
					}
					return nil, nil
				}
			}
			client, calls := productionClient(srv, faulty)
			s := newSigner(t, client, "RS256", keyID)
			if _, err := s.KeyID(t.Context()); err != nil {
				t.Fatal(err)
			}
			if tt.errType != "" {
				srv.Fail(kmstest.OpSign, tt.errType)
			}
			calls.Reset()
			_, err := s.Sign(t.Context(), []byte("header.payload"))
			if err == nil {
				t.Fatal("Sign succeeded")
			}
			if n := calls.Count(kmstest.OpSign); n != tt.attempts {
				t.Errorf("%d Sign requests, want %d: %v", n, tt.attempts, err)
			}
			if tt.errType != "" {
				if n := srv.Calls(kmstest.OpSign); n != tt.attempts {
					t.Errorf("the double counted %d Sign requests, want %d", n, tt.attempts)
				}
			}
			if got := errors.Is(err, oauth.ErrUnavailable); got != tt.unavailable {
				t.Errorf("errors.Is(ErrUnavailable) = %v, want %v: %v", got, tt.unavailable, err)
			}
			if calls.Total() != tt.attempts {
				t.Errorf("requests %v: only Sign was due", calls.Counts())
			}
		})
	}
}

// A fault that passes within the attempts costs the caller nothing: Sign
// succeeds, one KMS operation in as many requests as it took.
func TestNewClientAbsorbsBriefFaults(t *testing.T) {
	t.Parallel() // a throttled Sign backs off up to 1 s
	srv := kmstest.NewServer(t)
	client, calls := productionClient(srv, nil)
	s := newSigner(t, client, "PS256", srv.CreateKey("RSA_3072"))
	mustMint(t, s)
	for _, faults := range [][]string{
		{"ThrottlingException"},
		{"KMSInternalException", "ServiceUnavailable"},
	} {
		calls.Reset()
		for _, f := range faults {
			srv.FailNext(kmstest.OpSign, f)
		}
		if _, err := mint(t.Context(), s); err != nil {
			t.Fatalf("Sign after %v: %v", faults, err)
		}
		if n := calls.Count(kmstest.OpSign); n != len(faults)+1 {
			t.Errorf("after %v: %d Sign requests, want %d", faults, n, len(faults)+1)
		}
	}
}

// An attempt that gets no answer within AttemptTimeout (a connection
// that died while the container was frozen) is abandoned and retried,
// and the Signer then reports KMS as temporarily unavailable. Counted on
// the client's side, before each request leaves: the double, which holds
// every request, counts them too, but only as they arrive.
func TestNewClientAttemptTimeout(t *testing.T) {
	t.Parallel() // two attempts of 2 s
	srv := kmstest.NewServer(t)
	keyID := srv.CreateKey("ECC_NIST_P256")
	calls := awstest.NewCalls()
	client := kmssigner.NewClient(srv.AWSConfig(), func(o *kms.Options) {
		o.RetryMaxAttempts = 2
		o.HTTPClient = awstest.WrapClient(o.HTTPClient, calls.Wrap)
	})
	s := newSigner(t, client, "ES256", keyID)
	if _, err := s.KeyID(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.SetDelay(time.Minute)
	calls.Reset()
	start := time.Now()
	_, err := s.Sign(t.Context(), []byte("x"))
	elapsed := time.Since(start)
	if !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("Sign on a KMS that never answers: %v, want ErrUnavailable", err)
	}
	if n := calls.Count(kmstest.OpSign); n != 2 {
		t.Errorf("%d Sign attempts, want 2", n)
	}
	// At least the two timeouts; far less than the minute KMS would have
	// been waited for (the slack is for a loaded machine, not the backoff).
	if elapsed < 2*kmssigner.AttemptTimeout || elapsed > 2*kmssigner.AttemptTimeout+5*time.Second {
		t.Errorf("two attempts took %v, want about %v", elapsed, 2*kmssigner.AttemptTimeout)
	}
}

// NewClient's settings, read back from the client it makes.
func TestNewClientSettings(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("AKID", "secret", "")
	base := aws.Config{Region: "eu-west-1", Credentials: creds}
	throttled := &smithy.GenericAPIError{Code: "ThrottlingException"}
	fault := &types.KMSInternalException{} // no HTTP status: retried by its code alone
	// disabled503 is a permanent error sent with a retryable status.
	disabled503 := &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusServiceUnavailable}},
		Err:      &types.DisabledException{},
	}

	o := kmssigner.NewClient(base).Options()
	r := o.Retryer
	if r.MaxAttempts() != kmssigner.MaxAttempts {
		t.Errorf("MaxAttempts() = %d, want %d", r.MaxAttempts(), kmssigner.MaxAttempts)
	}
	for _, tt := range []struct {
		err       error
		retryable bool
	}{
		{throttled, true},
		{fault, true},
		{&types.DependencyTimeoutException{}, true},
		{&types.DisabledException{}, false},
		{disabled503, false},
		{&smithyhttp.ResponseError{Response: disabled503.Response, Err: &smithy.GenericAPIError{Code: "InternalFailure"}}, true},
		{&types.NotFoundException{}, false},
		{&smithy.GenericAPIError{Code: "AccessDeniedException"}, false},
	} {
		if got := r.IsErrorRetryable(tt.err); got != tt.retryable {
			t.Errorf("IsErrorRetryable(%T %v) = %v, want %v", tt.err, tt.err, got, tt.retryable)
		}
	}

	// Backoff: full jitter under 50 ms, then 100 ms, for a fault; under
	// 1 s for throttling, which is not the faults' 50 ms base.
	var longestThrottle time.Duration
	for range 200 {
		for _, tt := range []struct {
			attempt int
			err     error
			ceiling time.Duration
		}{
			{1, fault, 50 * time.Millisecond},
			{2, fault, 100 * time.Millisecond},
			{10, fault, time.Second},
			{1, throttled, time.Second},
			{2, throttled, time.Second},
		} {
			d, err := r.RetryDelay(tt.attempt, tt.err)
			if err != nil || d < 0 || d > tt.ceiling {
				t.Fatalf("RetryDelay(%d, %v) = %v, %v; want at most %v", tt.attempt, tt.err, d, err, tt.ceiling)
			}
			if tt.err == throttled {
				longestThrottle = max(longestThrottle, d)
			}
		}
	}
	if longestThrottle < 100*time.Millisecond {
		t.Errorf("throttling backs off at most %v in 400 draws: not the 1 s base", longestThrottle)
	}

	if c, ok := o.HTTPClient.(*awshttp.BuildableClient); !ok || c.GetTimeout() != kmssigner.AttemptTimeout {
		t.Errorf("HTTPClient %T: want the SDK's client with a %v timeout per attempt", o.HTTPClient, kmssigner.AttemptTimeout)
	}

	// AWS_MAX_ATTEMPTS (aws.Config.RetryMaxAttempts) overrides MaxAttempts;
	// AWS_RETRY_MODE=adaptive keeps the same settings.
	withEnv := base
	withEnv.RetryMaxAttempts = 5
	if n := kmssigner.NewClient(withEnv).Options().Retryer.MaxAttempts(); n != 5 {
		t.Errorf("with RetryMaxAttempts 5: MaxAttempts() = %d", n)
	}
	adaptive := base
	adaptive.RetryMode = aws.RetryModeAdaptive
	ar := kmssigner.NewClient(adaptive).Options().Retryer
	if _, ok := ar.(*retry.AdaptiveMode); !ok || ar.MaxAttempts() != kmssigner.MaxAttempts ||
		ar.IsErrorRetryable(disabled503) || !ar.IsErrorRetryable(fault) {
		t.Errorf("adaptive mode: retryer %T, %d attempts", ar, ar.MaxAttempts())
	}

	// The caller's own retryer and HTTP client are kept.
	own := base
	own.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	own.HTTPClient = &http.Client{}
	o = kmssigner.NewClient(own).Options()
	if _, ok := o.Retryer.(aws.NopRetryer); !ok || o.HTTPClient != own.HTTPClient {
		t.Errorf("the caller's retryer %T and HTTP client %T were replaced", o.Retryer, o.HTTPClient)
	}
}

// NewClient resolves KMS's endpoints by the SDK's rules (partitions, FIPS),
// checked without the network: the request is answered before it leaves.
func TestNewClientEndpoints(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("AKID", "secret", "")
	fips := func(o *kms.Options) { o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled }
	tests := []struct {
		cfg    aws.Config
		optFns []func(*kms.Options)
		want   string
	}{
		{aws.Config{Region: "eu-west-1"}, nil, "kms.eu-west-1.amazonaws.com"},
		{aws.Config{Region: "cn-north-1"}, nil, "kms.cn-north-1.amazonaws.com.cn"},
		{aws.Config{Region: "us-gov-west-1"}, nil, "kms.us-gov-west-1.amazonaws.com"},
		{aws.Config{Region: "us-east-1"}, []func(*kms.Options){fips}, "kms-fips.us-east-1.amazonaws.com"},
		{aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:4566")}, nil, "127.0.0.1:4566"},
	}
	for _, tt := range tests {
		tt.cfg.Credentials = creds
		var host string
		client := kmssigner.NewClient(tt.cfg, append(tt.optFns, func(o *kms.Options) {
			o.HTTPClient = awstest.WrapClient(o.HTTPClient, func(http.RoundTripper) http.RoundTripper {
				return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
					host = r.URL.Host
					return awstest.ErrorResponse(r, http.StatusBadRequest, "AccessDeniedException", "offline"), nil
				})
			})
		})...)
		_, _ = client.GetPublicKey(t.Context(), &kms.GetPublicKeyInput{KeyId: aws.String("alias/x")})
		if host != tt.want {
			t.Errorf("%s (endpoint %s): request to %q, want %q", tt.cfg.Region, aws.ToString(tt.cfg.BaseEndpoint), host, tt.want)
		}
	}
}
