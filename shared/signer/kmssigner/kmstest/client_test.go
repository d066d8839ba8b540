package kmstest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/gatehouse/gatehouse/shared/awstest"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
)

// Tests of Server.Client and Server.AWSConfig, the ways tests reach the
// double with the SDK's KMS client.

// Server.Client makes no retries, so every fault reaches the caller and
// one call is one request; its optFns reach the client's options: retries
// (without backoff delay) and a wrapped HTTP client.
func TestClientOptions(t *testing.T) {
	srv := kmstest.NewServer(t)
	id := srv.CreateKey("ECC_NIST_P256")
	getPublicKey := func(c *kms.Client) error {
		_, err := c.GetPublicKey(t.Context(), &kms.GetPublicKeyInput{KeyId: aws.String(id)})
		return err
	}

	srv.FailNext(kmstest.OpGetPublicKey, "ThrottlingException")
	if err := getPublicKey(srv.Client(t)); !isCode(err, "ThrottlingException") {
		t.Errorf("throttled once without retries: %v", err)
	}
	if n := srv.Calls(kmstest.OpGetPublicKey); n != 1 {
		t.Errorf("Calls = %d, want 1 (no retries)", n)
	}

	calls := awstest.NewCalls()
	client := srv.Client(t,
		func(o *kms.Options) { o.RetryMaxAttempts = 3 },
		func(o *kms.Options) { o.HTTPClient = awstest.WrapClient(o.HTTPClient, calls.Wrap) })
	tests := []struct {
		errType string
		faults  int // consecutive faults injected
		wantErr bool
		want    int // requests
	}{
		{"ThrottlingException", 1, false, 2},
		{"KMSInternalException", 2, false, 3},
		{"ServiceUnavailable", 3, true, 3},
		{"AccessDeniedException", 1, true, 1},
	}
	for _, tt := range tests {
		srv.Reset()
		calls.Reset()
		for range tt.faults {
			srv.FailNext(kmstest.OpGetPublicKey, tt.errType)
		}
		start := time.Now()
		err := getPublicKey(client)
		if (err != nil) != tt.wantErr || (err != nil && !isCode(err, tt.errType)) {
			t.Errorf("%s ×%d: error %v, want error %v", tt.errType, tt.faults, err, tt.wantErr)
		}
		if n, m := srv.Calls(kmstest.OpGetPublicKey), calls.Count(kmstest.OpGetPublicKey); n != tt.want || m != tt.want {
			t.Errorf("%s ×%d: the double saw %d requests and the HTTP client %d, want %d", tt.errType, tt.faults, n, m, tt.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s ×%d: the retries took %v: backoff is not zero", tt.errType, tt.faults, d)
		}
	}
	srv.Clear()
}

// A client made from AWSConfig, with the SDK's own defaults, reaches the
// double.
func TestAWSConfig(t *testing.T) {
	srv := kmstest.NewServer(t)
	id := srv.CreateKey("RSA_2048")
	srv.CreateAlias("alias/gatehouse", id)
	cfg := srv.AWSConfig()
	if cfg.Region != kmstest.Region || aws.ToString(cfg.BaseEndpoint) != srv.URL() {
		t.Errorf("AWSConfig = region %q, endpoint %q", cfg.Region, aws.ToString(cfg.BaseEndpoint))
	}
	client := kms.NewFromConfig(cfg)
	out, err := client.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String("alias/gatehouse")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.KeyMetadata.KeyId) != id || srv.Calls("*") != 1 {
		t.Errorf("DescribeKey = %+v, calls %d", out.KeyMetadata, srv.Calls("*"))
	}
}

// rawCall sends one KMS request as bytes, with the headers of a signed
// request of the SDK, and returns the HTTP status and the JSON body.
func rawCall(t *testing.T, srv *kmstest.Server, op, body string) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	req.Header.Set("Authorization", sigV4)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var fields map[string]string
	_ = json.Unmarshal(data, &fields) // success bodies hold more than strings: only errors are read
	return resp.StatusCode, fields
}

// sigV4 is an Authorization header of the form the SDK sends.
const sigV4 = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00"

// Member names match exactly, as in KMS: encoding/json's case-insensitive
// matching would take "keyId" for KeyId.
func TestMemberNamesAreExact(t *testing.T) {
	srv := kmstest.NewServer(t)
	id := srv.CreateKey("ECC_NIST_P256")
	tests := []struct {
		name, body string
		status     int
		errType    string
	}{
		{"exact", `{"KeyId":"` + id + `"}`, http.StatusOK, ""},
		{"member keyId", `{"keyId":"` + id + `"}`, http.StatusBadRequest, "ValidationException"},
		{"unknown member ignored", `{"KeyId":"` + id + `","Other":"x"}`, http.StatusOK, ""},
		{"not an object", `["` + id + `"]`, http.StatusBadRequest, "SerializationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rawCall(t, srv, kmstest.OpGetPublicKey, tt.body)
			if status != tt.status || body["__type"] != tt.errType {
				t.Errorf("GetPublicKey %s = %d %v, want %d %q", tt.body, status, body, tt.status, tt.errType)
			}
		})
	}
}
