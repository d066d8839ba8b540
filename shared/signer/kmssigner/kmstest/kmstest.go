// Package kmstest is a test double of AWS KMS: an httptest server speaking
// KMS's JSON 1.1 protocol, driven in tests by the AWS SDK's KMS client
// (service/kms), as production code drives KMS. No KMS emulator exists to
// install.
//
// It implements the operations a signer needs — Sign, GetPublicKey and
// DescribeKey
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_Operations.html)
// — with real in-process keys: RSA signatures are raw PKCS #1 v1.5 or PSS
// (salt as long as the hash) and ECDSA signatures ASN.1 DER, as KMS returns
// them; GetPublicKey returns the PKIX DER public key. Keys are addressable,
// as in KMS, by key id, key ARN, alias name and alias ARN, in account
// [Account] and region [Region].
//
// Requests must look like KMS's clients': POST / with Content-Type
// application/x-amz-json-1.1, X-Amz-Target TrentService.<Operation> and a
// SigV4 Authorization header for the kms service (the signature itself is
// not checked). Byte members (Message, Signature, PublicKey) travel as
// base64. Body members are matched by their exact names, as KMS does
// (encoding/json alone would take "keyId" for KeyId); others are ignored.
// Errors travel as KMS sends them: an HTTP 4xx or 5xx status and a JSON
// body {"__type": "NotFoundException", "message": "..."}, which the SDK
// reports as its modeled type (*types.NotFoundException) or, for AWS's
// common errors, a smithy.APIError with that code, and the HTTP status.
//
// [Server.Client] is the SDK's client of the double, and [Server.AWSConfig]
// makes any other (kms.NewFromConfig, or the client production code builds).
// Faults are injected with [Server.Fail], [Server.FailNext],
// [Server.SetDelay] and [Server.DisableKey]; [Server.Calls] and
// [Server.Requests] show what the code under test asked for. To watch or
// fail requests on the client's side, wrap its Options.HTTPClient
// (shared/awstest).
package kmstest

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// The account and region of every key of the double.
const (
	Region  = "us-east-1"
	Account = "111122223333"
)

// Operation names, as in X-Amz-Target (TrentService.Sign, ...).
const (
	OpSign         = "Sign"
	OpGetPublicKey = "GetPublicKey"
	OpDescribeKey  = "DescribeKey"
)

// Dummy credentials used by [Server.AWSConfig], [Server.Client] and
// [Server.Env].
const (
	AccessKeyID     = "AKIAKMSTESTEXAMPLE"
	SecretAccessKey = "kmstest-secret-access-key"
)

// Server is a KMS test double. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	keys     map[string]*key   // by key id
	aliases  map[string]string // alias name ("alias/x") -> key id
	fail     map[string]string // op -> error type, until Clear
	failNext map[string][]string
	delay    time.Duration
	calls    map[string]int
	requests []Request
}

// Request is a request the double received (after the protocol checks).
type Request struct {
	Op               string // OpSign, OpGetPublicKey or OpDescribeKey
	KeyID            string // as sent: key id, key ARN, alias or alias ARN
	SigningAlgorithm string // Sign only
	MessageType      string // Sign only: "RAW", "DIGEST" or "" (RAW)
	Message          []byte // Sign only
}

// NewServer starts a KMS double, closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		keys:     map[string]*key{},
		aliases:  map[string]string{},
		fail:     map[string]string{},
		failNext: map[string][]string{},
		calls:    map[string]int{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the endpoint, e.g. "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.srv.URL }

// AWSConfig is the AWS configuration of a client of the double: region
// [Region], dummy static credentials and BaseEndpoint [Server.URL]. A KMS
// client made from it calls the double, with the retries and HTTP client
// its constructor chooses.
func (s *Server) AWSConfig() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.URL()),
	}
}

// Client returns the AWS SDK's KMS client of the double ([Server.AWSConfig])
// with an HTTP client of its own, whose idle connections close when the
// test ends. Retries are off (one attempt), so one API call is one request
// and every injected fault reaches the caller. optFns apply last: setting
// RetryMaxAttempts turns retries on, without backoff delay; wrapping
// HTTPClient (awstest.WrapClient) watches or fails requests.
func (s *Server) Client(t testing.TB, optFns ...func(*kms.Options)) *kms.Client {
	t.Helper()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	noRetries := func(o *kms.Options) {
		o.HTTPClient = &http.Client{Transport: transport}
		o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 1
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			o.RateLimiter = ratelimit.None
		})
	}
	return kms.NewFromConfig(s.AWSConfig(), append([]func(*kms.Options){noRetries}, optFns...)...)
}

// Env points the standard AWS configuration (the SDK's
// config.LoadDefaultConfig, or Gatehouse's environment-only one) at the
// double, as deployed code would find KMS: it sets AWS_ENDPOINT_URL_KMS,
// AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the test. So
// that nothing on the machine interferes, it also clears AWS_PROFILE,
// AWS_SESSION_TOKEN, AWS_ENDPOINT_URL and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS,
// points the shared config and credentials files at missing files, disables
// the EC2 metadata service and sets AWS_MAX_ATTEMPTS=1 (no retries, so
// injected faults reach the caller at once; set it again after Env to test
// retries, which then back off for real). Like t.Setenv, it cannot be used
// in parallel tests.
func (s *Server) Env(t testing.TB) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_KMS":                s.URL(),
		"AWS_REGION":                          Region,
		"AWS_ACCESS_KEY_ID":                   AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":               SecretAccessKey,
		"AWS_SESSION_TOKEN":                   "",
		"AWS_PROFILE":                         "",
		"AWS_DEFAULT_PROFILE":                 "",
		"AWS_ENDPOINT_URL":                    "",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "",
		"AWS_CONFIG_FILE":                     filepath.Join(dir, "missing-config"),
		"AWS_SHARED_CREDENTIALS_FILE":         filepath.Join(dir, "missing-credentials"),
		"AWS_EC2_METADATA_DISABLED":           "true",
		"AWS_MAX_ATTEMPTS":                    "1",
	} {
		t.Setenv(k, v)
	}
}
