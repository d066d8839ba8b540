// Package awsjson is a small client for AWS services that speak the AWS
// JSON protocol (JSON 1.0 and 1.1: one POST per operation, named by the
// X-Amz-Target header), signed with Signature Version 4. Gatehouse reaches
// DynamoDB and KMS through it.
//
// Why not the SDK's service clients: linking aws-sdk-go-v2's dynamodb and
// kms packages costs every Lambda bootstrap about 3 MB and, at every cold
// start, about 1.5 ms of package initialization (their generated schemas
// and endpoint rulesets) — more than the rest of the program's startup.
// Gatehouse calls a dozen operations whose JSON shapes are small and stable,
// so each store or signer declares the shapes it sends and reads. The SDK
// still does what is subtle: the aws.Config (region, credentials and their
// refresh, endpoint settings) and the SigV4 signature (aws/signer/v4).
//
// A Client retries what the SDK's standard retryer retries — throttling,
// server faults (5xx) and network errors — up to aws.Config.RetryMaxAttempts
// attempts (AWS_MAX_ATTEMPTS; default 3), with capped exponential backoff
// and full jitter, and checks DynamoDB's x-amz-crc32 response checksum.
package awsjson

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Service describes an AWS JSON protocol service.
type Service struct {
	// ID is the service's SDK ID, as in AWS_ENDPOINT_URL_<ID>: "DynamoDB",
	// "KMS".
	ID string
	// EndpointPrefix is the service's host name prefix and SigV4 signing
	// name: "dynamodb", "kms".
	EndpointPrefix string
	// TargetPrefix precedes the operation name in X-Amz-Target:
	// "DynamoDB_20120810", "TrentService".
	TargetPrefix string
	// JSONVersion is the protocol version: "1.0" (DynamoDB) or "1.1" (KMS).
	JSONVersion string
	// CRC32 makes the client check the x-amz-crc32 response header (a
	// CRC-32 of the body), which DynamoDB sends.
	CRC32 bool
}

// Options tune a Client. The zero value is the default.
type Options struct {
	// HTTPClient sends the requests; nil means a client with
	// DefaultTimeout. Tests use its Transport to watch or fail calls.
	HTTPClient *http.Client
	// MaxAttempts overrides aws.Config.RetryMaxAttempts; 1 disables
	// retries.
	MaxAttempts int
	// RetryCodes are error codes retried besides the throttling codes (for
	// example DynamoDB's TransactionConflictException, for writes whose
	// condition makes a repeat harmless).
	RetryCodes []string
	// Backoff returns the delay before retry n (1 for the first); nil means
	// DefaultBackoff.
	Backoff func(n int) time.Duration
	// Now is the signing clock; nil means time.Now.
	Now func() time.Time
}

const (
	// DefaultMaxAttempts is the SDK's default number of attempts.
	DefaultMaxAttempts = 3
	// DefaultTimeout bounds one attempt, response body included. An
	// authorization server answers people and programs waiting on it: a
	// DynamoDB or KMS call that takes this long has failed.
	DefaultTimeout = 5 * time.Second
	// maxResponseBytes bounds a response body: DynamoDB's largest
	// (BatchGetItem) is 16 MB.
	maxResponseBytes = 17 << 20
)

// DefaultBackoff is full-jitter exponential backoff: a random delay up to
// 50 ms × 2^(n-1), capped at 1 s. The SDK's default (up to 2^n seconds,
// capped at 20 s) suits batch jobs, not a person waiting for a sign-in.
func DefaultBackoff(n int) time.Duration {
	ceiling := min(50*time.Millisecond<<min(n-1, 10), time.Second)
	return rand.N(ceiling) + 1
}

// Client calls one AWS JSON protocol service. It is safe for concurrent use.
type Client struct {
	svc         Service
	endpoint    string // scheme://host[:port][/path], no trailing slash
	region      string
	credentials aws.CredentialsProvider
	signer      *v4.Signer
	http        *http.Client
	maxAttempts int
	retryCodes  map[string]bool
	backoff     func(int) time.Duration
	now         func() time.Time
}

// New returns a client of svc configured by cfg: its region, credentials,
// endpoint settings (BaseEndpoint, and AWS_ENDPOINT_URL_<ID> and the FIPS
// and dual-stack settings of cfg.ConfigSources) and RetryMaxAttempts. It
// makes no network call; it fails when no endpoint can be determined (no
// region and no endpoint URL).
func New(cfg aws.Config, svc Service, opts Options) (*Client, error) {
	endpoint, err := resolveEndpoint(cfg, svc)
	if err != nil {
		return nil, err
	}
	c := &Client{
		svc:         svc,
		endpoint:    endpoint,
		region:      cfg.Region,
		credentials: cfg.Credentials,
		signer:      v4.NewSigner(),
		http:        opts.HTTPClient,
		maxAttempts: firstPositive(opts.MaxAttempts, cfg.RetryMaxAttempts, DefaultMaxAttempts),
		retryCodes:  map[string]bool{},
		backoff:     opts.Backoff,
		now:         opts.Now,
	}
	if c.region == "" {
		c.region = "us-east-1" // signing only: the endpoint was given
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	if c.backoff == nil {
		c.backoff = DefaultBackoff
	}
	if c.now == nil {
		c.now = time.Now
	}
	for _, code := range throttlingCodes {
		c.retryCodes[code] = true
	}
	for _, code := range opts.RetryCodes {
		c.retryCodes[code] = true
	}
	return c, nil
}

// firstPositive returns the first positive value.
func firstPositive(vs ...int) int {
	for _, v := range vs {
		if v > 0 {
			return v
		}
	}
	return 0
}

// Endpoint returns the URL the client sends its requests to.
func (c *Client) Endpoint() string { return c.endpoint }

// Call performs operation op: in is marshalled as the JSON request body,
// and the JSON response body is unmarshalled into out (unless out is nil).
// A service error is an *APIError; a failure to reach the service, after
// the retries, is the transport's error wrapped with the operation's name.
func (c *Client) Call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s %s: encoding the request: %w", c.svc.ID, op, err)
	}
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, op, body)
		if err == nil {
			if out == nil || len(resp) == 0 {
				return nil
			}
			if err := json.Unmarshal(resp, out); err != nil {
				return fmt.Errorf("%s %s: decoding the response: %w", c.svc.ID, op, err)
			}
			return nil
		}
		if attempt >= c.maxAttempts || !c.retryable(ctx, err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(c.backoff(attempt)):
		}
	}
}

// attempt sends one signed request and returns the body of a 200 response.
func (c *Client) attempt(ctx context.Context, op string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.svc.ID, op, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-"+c.svc.JSONVersion)
	req.Header.Set("X-Amz-Target", c.svc.TargetPrefix+"."+op)
	// Ask for the body as sent: x-amz-crc32 is computed over it.
	req.Header.Set("Accept-Encoding", "identity")
	if err := c.sign(ctx, req, body); err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.svc.ID, op, err)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &transportError{svc: c.svc.ID, op: op, err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, &transportError{svc: c.svc.ID, op: op, err: fmt.Errorf("reading the response: %w", err)}
	}
	if c.svc.CRC32 {
		if want := resp.Header.Get("X-Amz-Crc32"); want != "" {
			if got := strconv.FormatUint(uint64(crc32.ChecksumIEEE(data)), 10); got != want {
				return nil, &transportError{svc: c.svc.ID, op: op, err: fmt.Errorf("response checksum %s, want x-amz-crc32 %s", got, want)}
			}
		}
	}
	if resp.StatusCode == http.StatusOK {
		return data, nil
	}
	return nil, newAPIError(c.svc.ID, op, resp, data)
}

// sign adds the SigV4 headers (Authorization, X-Amz-Date and, with
// temporary credentials, X-Amz-Security-Token).
func (c *Client) sign(ctx context.Context, req *http.Request, body []byte) error {
	if c.credentials == nil {
		return errors.New("no AWS credentials configured")
	}
	creds, err := c.credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieving AWS credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	return c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), c.svc.EndpointPrefix, c.region, c.now().UTC())
}

// retryable reports whether a failed attempt may be repeated: a throttling
// code or one of Options.RetryCodes, a server fault (5xx), or a network
// error other than the caller's own cancellation.
func (c *Client) retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return c.retryCodes[ae.Code] || ae.StatusCode >= 500
	}
	var te *transportError
	return errors.As(err, &te)
}

// WithRetryCodes returns a client like c (sharing its connections) that
// also retries the given error codes.
func (c *Client) WithRetryCodes(codes ...string) *Client {
	cc := *c
	cc.retryCodes = make(map[string]bool, len(c.retryCodes)+len(codes))
	for code := range c.retryCodes {
		cc.retryCodes[code] = true
	}
	for _, code := range codes {
		cc.retryCodes[code] = true
	}
	return &cc
}
