package kmstest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/gatehouse/gatehouse/shared/awsjson"
	"github.com/gatehouse/gatehouse/shared/awsjson/awsjsontest"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
)

// Tests of Server.Client, the awsjson client (kmssigner.Service) that
// Gatehouse's code and tests reach the double with.

// The KMS shapes these tests send and read, with KMS's member names.
type (
	keyIn  struct{ KeyId string }
	signIn struct {
		KeyId            string
		Message          []byte
		MessageType      string
		SigningAlgorithm string
	}
	signOut struct {
		KeyId            string
		Signature        []byte
		SigningAlgorithm string
	}
	publicKeyOut struct {
		KeyId, KeySpec, KeyUsage string
		PublicKey                []byte
		SigningAlgorithms        []string
	}
	describeKeyOut struct {
		KeyMetadata struct {
			KeyId, Arn, KeyState string
			Enabled              bool
		}
	}
)

// getPublicKey parses the public key of a key through client.
func getPublicKey(t *testing.T, client *awsjson.Client, keyID string) (publicKeyOut, any) {
	t.Helper()
	var out publicKeyOut
	if err := client.Call(t.Context(), kmstest.OpGetPublicKey, keyIn{keyID}, &out); err != nil {
		t.Fatalf("GetPublicKey(%s): %v", keyID, err)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		t.Fatalf("GetPublicKey(%s): %v", keyID, err)
	}
	return out, pub
}

func TestClientCallsTheDouble(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	if client.Endpoint() != srv.URL() {
		t.Errorf("Endpoint() = %q, want %q", client.Endpoint(), srv.URL())
	}
	rsaKey := srv.CreateKey("RSA_2048")
	ecKey := srv.CreateKey("ECC_NIST_P256")
	srv.CreateAlias("alias/ec", ecKey)
	digest := sha256.Sum256([]byte("header.payload"))

	for _, tt := range []struct{ key, alg string }{
		{rsaKey, "RSASSA_PKCS1_V1_5_SHA_256"},
		{"alias/ec", "ECDSA_SHA_256"},
	} {
		var out signOut
		err := client.Call(t.Context(), kmstest.OpSign,
			signIn{KeyId: tt.key, Message: digest[:], MessageType: "DIGEST", SigningAlgorithm: tt.alg}, &out)
		if err != nil {
			t.Fatalf("Sign(%s): %v", tt.key, err)
		}
		pk, pub := getPublicKey(t, client, tt.key)
		if out.KeyId != pk.KeyId || out.SigningAlgorithm != tt.alg {
			t.Errorf("Sign(%s) = KeyId %q, SigningAlgorithm %q; want %q, %q", tt.key, out.KeyId, out.SigningAlgorithm, pk.KeyId, tt.alg)
		}
		switch pub := pub.(type) {
		case *rsa.PublicKey:
			err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], out.Signature)
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(pub, digest[:], out.Signature) {
				err = errors.New("DER ECDSA signature does not verify")
			}
		}
		if err != nil {
			t.Errorf("Sign(%s): %v", tt.key, err)
		}
	}

	pk, pub := getPublicKey(t, client, kmstest.AliasARN("alias/ec"))
	if pk.KeyId != kmstest.KeyARN(ecKey) || pk.KeySpec != "ECC_NIST_P256" || pk.KeyUsage != "SIGN_VERIFY" ||
		len(pk.SigningAlgorithms) != 1 || !pub.(*ecdsa.PublicKey).Equal(srv.PublicKey(ecKey)) {
		t.Errorf("GetPublicKey(alias ARN) = %+v", pk)
	}
	srv.DisableKey(ecKey)
	var d describeKeyOut
	if err := client.Call(t.Context(), kmstest.OpDescribeKey, keyIn{"alias/ec"}, &d); err != nil {
		t.Fatal(err)
	}
	if m := d.KeyMetadata; m.KeyId != ecKey || m.Arn != kmstest.KeyARN(ecKey) || m.Enabled || m.KeyState != "Disabled" {
		t.Errorf("DescribeKey = %+v", m)
	}
	if n := srv.Calls("*"); n != 6 {
		t.Errorf("Calls = %d, want 6 (one request per call)", n)
	}
}

// Every injectable error reaches the caller at once, as an APIError with
// KMS's code, HTTP status and message: the Client does not retry.
func TestClientErrors(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	id := srv.CreateKey("ECC_NIST_P256")
	status := map[string]int{
		"KMSInternalException": 500, "KeyUnavailableException": 500, "InternalFailure": 500,
		"DependencyTimeoutException": 503, "ServiceUnavailable": 503,
	}
	for _, errType := range kmstest.ErrorTypes() {
		srv.Reset()
		srv.FailNext(kmstest.OpSign, errType)
		err := client.Call(t.Context(), kmstest.OpSign,
			signIn{KeyId: id, Message: make([]byte, 32), MessageType: "DIGEST", SigningAlgorithm: "ECDSA_SHA_256"}, nil)
		want := status[errType]
		if want == 0 {
			want = 400
		}
		var ae *awsjson.APIError
		if !errors.As(err, &ae) || ae.Code != errType || ae.StatusCode != want || ae.Message == "" || ae.Operation != kmstest.OpSign {
			t.Errorf("%s: error %#v, want an APIError with that code and HTTP %d", errType, err, want)
		}
		if n := srv.Calls(kmstest.OpSign); n != 1 {
			t.Errorf("%s: %d requests, want 1 (no retries)", errType, n)
		}
	}

	// Errors of the double's own checks, too.
	err := client.Call(t.Context(), kmstest.OpGetPublicKey, keyIn{"alias/missing"}, nil)
	if ae := (*awsjson.APIError)(nil); !errors.As(err, &ae) || ae.Code != "NotFoundException" || ae.StatusCode != 400 {
		t.Errorf("missing alias: %v", err)
	}
	err = client.Call(t.Context(), "Encrypt", keyIn{id}, nil)
	if awsjson.ErrorCode(err) != "UnknownOperationException" {
		t.Errorf("unknown operation: %v", err)
	}
}

// Member names match exactly, as in KMS: encoding/json's case-insensitive
// matching would take "keyId" for KeyId.
func TestMemberNamesAreExact(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	id := srv.CreateKey("ECC_NIST_P256")
	err := client.Call(t.Context(), kmstest.OpGetPublicKey, map[string]string{"keyId": id}, nil)
	if awsjson.ErrorCode(err) != "ValidationException" {
		t.Errorf("GetPublicKey with member keyId: %v, want ValidationException (KeyId is null)", err)
	}
	err = client.Call(t.Context(), kmstest.OpGetPublicKey, map[string]string{"KeyId": id, "Other": "x"}, nil)
	if err != nil {
		t.Errorf("an unknown member is not ignored: %v", err)
	}
	err = client.Call(t.Context(), kmstest.OpGetPublicKey, []string{id}, nil)
	if awsjson.ErrorCode(err) != "SerializationException" {
		t.Errorf("a body that is not an object: %v", err)
	}
}

// optFns reach the client's options: retries (without backoff delay) and
// a transport wrapper.
func TestClientOptions(t *testing.T) {
	srv := kmstest.NewServer(t)
	id := srv.CreateKey("ECC_NIST_P256")
	calls := awsjsontest.NewCalls()
	client := srv.Client(t, func(o *awsjson.Options) { o.MaxAttempts = 3 }, calls.Option)
	for _, errType := range []string{"ThrottlingException", "KMSInternalException", "ServiceUnavailable"} {
		srv.Reset()
		calls.Reset()
		srv.FailNext(kmstest.OpGetPublicKey, errType)
		start := time.Now()
		if err := client.Call(t.Context(), kmstest.OpGetPublicKey, keyIn{id}, nil); err != nil {
			t.Errorf("%s once: %v, want a retry", errType, err)
		}
		if n, m := srv.Calls(kmstest.OpGetPublicKey), calls.Count(kmstest.OpGetPublicKey); n != 2 || m != 2 {
			t.Errorf("%s: the double saw %d requests and the transport %d, want 2", errType, n, m)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: the retry took %v: backoff is not zero", errType, d)
		}
	}
	srv.Reset()
	srv.FailNext(kmstest.OpGetPublicKey, "AccessDeniedException")
	if err := client.Call(t.Context(), kmstest.OpGetPublicKey, keyIn{id}, nil); awsjson.ErrorCode(err) != "AccessDeniedException" {
		t.Errorf("AccessDenied: %v", err)
	}
	if n := srv.Calls(kmstest.OpGetPublicKey); n != 1 {
		t.Errorf("AccessDenied was retried: %d requests", n)
	}
}

// A slow double times out as a transport error carrying the deadline.
func TestClientDeadline(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	id := srv.CreateKey("ECC_NIST_P256")
	srv.SetDelay(10 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := client.Call(ctx, kmstest.OpGetPublicKey, keyIn{id}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !awsjson.IsTransport(err) || time.Since(start) > 5*time.Second {
		t.Errorf("delayed call: %v after %v", err, time.Since(start))
	}
}

// Env points an awsjson client made from the standard AWS configuration at
// the double, with its AWS_MAX_ATTEMPTS=1.
func TestEnvAWSJSON(t *testing.T) {
	srv := kmstest.NewServer(t)
	id := srv.CreateKey("RSA_2048")
	srv.CreateAlias("alias/gatehouse", id)
	srv.Env(t)
	cfg, err := awsconfig.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	client, err := awsjson.New(cfg, kmssigner.Service, awsjson.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if client.Endpoint() != srv.URL() {
		t.Errorf("Endpoint() = %q, want the double's %q", client.Endpoint(), srv.URL())
	}
	var d describeKeyOut
	if err := client.Call(t.Context(), kmstest.OpDescribeKey, keyIn{"alias/gatehouse"}, &d); err != nil || d.KeyMetadata.KeyId != id {
		t.Fatalf("DescribeKey = %+v, %v", d, err)
	}
	srv.FailNext(kmstest.OpDescribeKey, "ThrottlingException")
	if err := client.Call(t.Context(), kmstest.OpDescribeKey, keyIn{id}, nil); awsjson.ErrorCode(err) != "ThrottlingException" {
		t.Errorf("throttled DescribeKey: %v", err)
	}
	if n := srv.Calls(kmstest.OpDescribeKey); n != 2 {
		t.Errorf("Calls = %d, want 2 (no retries)", n)
	}
}
