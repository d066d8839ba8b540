// Package kmstest is a test double of AWS KMS: an httptest server speaking
// KMS's JSON 1.1 protocol, so Gatehouse's awsjson client (and the signer
// above it) runs unchanged in tests, as does the AWS SDK's KMS client, which
// the package's own tests use to hold the double to KMS's real protocol. No
// KMS emulator exists to install.
//
// It implements the operations a signer needs — Sign, GetPublicKey and
// DescribeKey — with real in-process keys: RSA signatures are raw PKCS #1
// v1.5 or PSS (salt as long as the hash) and ECDSA signatures ASN.1 DER, as
// KMS returns them. Keys are addressable, as in KMS, by key id, key ARN,
// alias name and alias ARN, in account [Account] and region [Region].
//
// Requests must look like KMS's clients': POST / with Content-Type
// application/x-amz-json-1.1, X-Amz-Target TrentService.<Operation> and a
// SigV4 Authorization header for the kms service (the signature itself is
// not checked). Body members are matched by their exact names, as KMS does
// (encoding/json alone would take "keyId" for KeyId); others are ignored.
// Errors travel as KMS sends them: an HTTP 4xx or 5xx status
// and a JSON body {"__type": "NotFoundException", "message": "..."}, which
// awsjson reports as an *awsjson.APIError with that Code and StatusCode
// (and the SDK as its modeled types, such as *types.NotFoundException, or
// a smithy.APIError with that code).
//
// Faults are injected with [Server.Fail], [Server.FailNext] and
// [Server.DisableKey]; [Server.Calls] and [Server.Requests] show what the
// code under test asked for.
package kmstest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gatehouse/gatehouse/shared/awsjson"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner"
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

// Dummy credentials used by [Server.Client] and [Server.Env].
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

// Client returns a KMS client ([kmssigner.Service]) pointed at the double:
// dummy static credentials, region [Region], endpoint [Server.URL], and an
// HTTP client of its own with awsjson.DefaultTimeout. Retries are off
// (MaxAttempts 1), so every injected fault reaches the caller and one API
// call is one request; optFns may change that (for example set
// MaxAttempts: retries then happen without backoff delay, unless an
// optFn sets Backoff too).
func (s *Server) Client(t testing.TB, optFns ...func(*awsjson.Options)) *awsjson.Client {
	t.Helper()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	opts := awsjson.Options{
		HTTPClient:  &http.Client{Transport: transport, Timeout: awsjson.DefaultTimeout},
		MaxAttempts: 1,
		Backoff:     func(int) time.Duration { return 0 },
	}
	for _, fn := range optFns {
		fn(&opts)
	}
	client, err := awsjson.New(aws.Config{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
	}, kmssigner.Service, opts)
	if err != nil {
		t.Fatalf("kmstest: Client: %v", err)
	}
	return client
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

// key is a KMS key of the double.
type key struct {
	id      string
	arn     string
	spec    string
	signer  crypto.Signer
	der     []byte // PKIX public key
	algs    []string
	enabled bool
	created time.Time
}

// specs are the key specs the double supports, with KMS's signing
// algorithms for each (in the order GetPublicKey lists them).
var specs = map[string][]string{
	"RSA_2048":      rsaAlgs,
	"RSA_3072":      rsaAlgs,
	"RSA_4096":      rsaAlgs,
	"ECC_NIST_P256": {"ECDSA_SHA_256"},
	"ECC_NIST_P384": {"ECDSA_SHA_384"},
}

var rsaAlgs = []string{
	"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
	"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
}

// CreateKey creates an enabled asymmetric SIGN_VERIFY key and returns its
// key id. spec is "RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256" or
// "ECC_NIST_P384"; any other panics.
func (s *Server) CreateKey(spec string) (keyID string) {
	var (
		signer crypto.Signer
		err    error
	)
	switch spec {
	case "RSA_2048", "RSA_3072", "RSA_4096":
		var bits int
		fmt.Sscanf(spec, "RSA_%d", &bits)
		signer, err = rsa.GenerateKey(rand.Reader, bits)
	case "ECC_NIST_P256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ECC_NIST_P384":
		signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		panic(fmt.Sprintf("kmstest: CreateKey: unsupported key spec %q", spec))
	}
	if err != nil {
		panic(fmt.Sprintf("kmstest: CreateKey %s: %v", spec, err))
	}
	return s.AddKey(spec, signer)
}

// AddKey adds a caller-supplied private key as a key of the given spec and
// returns its key id. The key's type and size are NOT checked against spec,
// so a test can make the double misbehave (say, a 1024-bit RSA key claimed
// as RSA_2048); an unknown spec panics.
func (s *Server) AddKey(spec string, signer crypto.Signer) (keyID string) {
	algs, ok := specs[spec]
	if !ok {
		panic(fmt.Sprintf("kmstest: AddKey: unsupported key spec %q", spec))
	}
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		panic(fmt.Sprintf("kmstest: AddKey: %v", err))
	}
	id := newUUID()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[id] = &key{
		id: id, arn: KeyARN(id), spec: spec, signer: signer, der: der,
		algs: algs, enabled: true, created: time.Now().Truncate(time.Millisecond),
	}
	return id
}

// CreateAlias points alias ("alias/name") at a key named by key id, key ARN,
// alias or alias ARN. Unlike KMS, it moves an existing alias (as KMS's
// UpdateAlias does). An invalid alias or unknown key panics.
func (s *Server) CreateAlias(alias, keyID string) {
	name, ok := strings.CutPrefix(alias, "alias/")
	if !ok || name == "" || strings.HasPrefix(name, "aws/") {
		panic(fmt.Sprintf("kmstest: CreateAlias: %q is not an alias name (alias/NAME)", alias))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _ := s.resolve(keyID)
	if k == nil {
		panic(fmt.Sprintf("kmstest: CreateAlias: no key %q", keyID))
	}
	s.aliases[alias] = k.id
}

// DisableKey disables a key (named by any identifier): Sign and
// GetPublicKey then fail with DisabledException, as in KMS. An unknown key
// panics.
func (s *Server) DisableKey(keyID string) { s.setEnabled(keyID, false) }

// EnableKey enables a disabled key again.
func (s *Server) EnableKey(keyID string) { s.setEnabled(keyID, true) }

func (s *Server) setEnabled(keyID string, enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _ := s.resolve(keyID)
	if k == nil {
		panic(fmt.Sprintf("kmstest: no key %q", keyID))
	}
	k.enabled = enabled
}

// PublicKey returns the public key (*rsa.PublicKey or *ecdsa.PublicKey) of a
// key named by any identifier, or nil if there is no such key.
func (s *Server) PublicKey(keyID string) crypto.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, _ := s.resolve(keyID); k != nil {
		return k.signer.Public()
	}
	return nil
}

// KeyARN is the ARN of the key with the given key id.
func KeyARN(keyID string) string {
	return "arn:aws:kms:" + Region + ":" + Account + ":key/" + keyID
}

// AliasARN is the ARN of an alias ("alias/name").
func AliasARN(alias string) string {
	return "arn:aws:kms:" + Region + ":" + Account + ":" + alias
}

// Errors that [Server.Fail] and [Server.FailNext] inject, with the HTTP
// status KMS answers them with. InternalFailure and ServiceUnavailable are
// AWS's common errors, which clients know only by status and code.
var errorStatus = map[string]int{
	"ThrottlingException":        http.StatusBadRequest,
	"DisabledException":          http.StatusBadRequest,
	"AccessDeniedException":      http.StatusBadRequest,
	"KMSInvalidStateException":   http.StatusBadRequest,
	"NotFoundException":          http.StatusBadRequest,
	"InvalidKeyUsageException":   http.StatusBadRequest,
	"KMSInternalException":       http.StatusInternalServerError,
	"KeyUnavailableException":    http.StatusInternalServerError,
	"DependencyTimeoutException": http.StatusServiceUnavailable,
	"InternalFailure":            http.StatusInternalServerError,
	"ServiceUnavailable":         http.StatusServiceUnavailable,
}

// ErrorTypes lists the error types [Server.Fail] and [Server.FailNext]
// accept: ThrottlingException, DisabledException, AccessDeniedException,
// KMSInvalidStateException, KMSInternalException, NotFoundException,
// DependencyTimeoutException, KeyUnavailableException,
// InvalidKeyUsageException, InternalFailure (500) and ServiceUnavailable
// (503).
func ErrorTypes() []string {
	types := make([]string, 0, len(errorStatus))
	for t := range errorStatus {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Fail makes every later op request ("Sign", "GetPublicKey",
// "DescribeKey", or "*" for all) fail with errType until [Server.Clear].
// Unknown operations or error types panic.
func (s *Server) Fail(op, errType string) {
	checkFault(op, errType)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[op] = errType
}

// FailNext makes the next op request fail with errType, once; several calls
// queue up. It takes precedence over [Server.Fail].
func (s *Server) FailNext(op, errType string) {
	checkFault(op, errType)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[op] = append(s.failNext[op], errType)
}

// Clear removes all injected faults and the delay.
func (s *Server) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.fail)
	clear(s.failNext)
	s.delay = 0
}

// SetDelay makes every request wait d before it is answered (or until the
// client gives up), to test timeouts.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Calls returns how many op requests arrived since the start or the last
// [Server.Reset], failed ones included ("*" counts all operations).
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op == "*" {
		n := 0
		for _, c := range s.calls {
			n += c
		}
		return n
	}
	return s.calls[op]
}

// Requests returns the requests received since the start or the last
// [Server.Reset], in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Reset zeroes the counters and forgets the recorded requests; keys,
// aliases and faults stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
	s.requests = nil
}

func checkFault(op, errType string) {
	switch op {
	case OpSign, OpGetPublicKey, OpDescribeKey, "*":
	default:
		panic(fmt.Sprintf("kmstest: unknown operation %q", op))
	}
	if _, ok := errorStatus[errType]; !ok {
		panic(fmt.Sprintf("kmstest: unsupported error type %q; want one of %v", errType, ErrorTypes()))
	}
}

// resolve finds a key by key id, key ARN, alias name or alias ARN. If there
// is none, it returns KMS's NotFoundException message. s.mu is held.
func (s *Server) resolve(id string) (*key, string) {
	ref := id
	if rest, ok := strings.CutPrefix(id, "arn:aws:kms:"); ok {
		region, rest, _ := strings.Cut(rest, ":")
		account, resource, _ := strings.Cut(rest, ":")
		if region != Region || account != Account {
			return nil, fmt.Sprintf("Invalid arn %s", id)
		}
		ref = resource
		if keyID, ok := strings.CutPrefix(resource, "key/"); ok {
			ref = keyID
		} else if !strings.HasPrefix(resource, "alias/") {
			return nil, fmt.Sprintf("Invalid arn %s", id)
		}
	}
	if strings.HasPrefix(ref, "alias/") {
		if k := s.keys[s.aliases[ref]]; k != nil {
			return k, ""
		}
		return nil, fmt.Sprintf("Alias %s is not found.", AliasARN(ref))
	}
	if k := s.keys[ref]; k != nil {
		return k, ""
	}
	return nil, fmt.Sprintf("Key '%s' does not exist", KeyARN(ref))
}

// fault returns the error type to inject into an op request, if any.
// s.mu is held.
func (s *Server) fault(op string) string {
	for _, o := range []string{op, "*"} {
		if q := s.failNext[o]; len(q) > 0 {
			s.failNext[o] = q[1:]
			return q[0]
		}
	}
	if t := s.fail[op]; t != "" {
		return t
	}
	return s.fail["*"]
}

// faultMessage is the message KMS sends with an error of type errType.
func faultMessage(op, errType, keyID string) string {
	arn := keyID
	if !strings.HasPrefix(keyID, "arn:") && !strings.HasPrefix(keyID, "alias/") {
		arn = KeyARN(keyID)
	}
	switch errType {
	case "ThrottlingException":
		return "Rate exceeded"
	case "DisabledException":
		return arn + " is disabled."
	case "AccessDeniedException":
		return fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/kmstest/kmstest is not authorized to perform: kms:%s "+
			"on resource: %s because no identity-based policy allows the kms:%s action", Account, op, arn, op)
	case "KMSInvalidStateException":
		return arn + " is pending deletion."
	case "NotFoundException":
		return fmt.Sprintf("Key '%s' does not exist", arn)
	case "InvalidKeyUsageException":
		return "KeyUsage " + arn + " is not SIGN_VERIFY"
	case "KeyUnavailableException":
		return arn + " is unavailable."
	case "DependencyTimeoutException":
		return "The system timed out while trying to fulfill the request."
	case "ServiceUnavailable":
		return "Service Unavailable"
	default:
		return "An internal error occurred."
	}
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// wait sleeps d or until ctx ends.
func wait(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
