package kmstest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
)

// These tests hold the double to KMS's real protocol: they call it with the
// AWS SDK's own KMS client (Server.Client), so a request the SDK sends must
// be understood and an answer must decode, errors included, as KMS's would.

// The double must sign as KMS does: raw PKCS #1 v1.5 / PSS for RSA, DER for
// ECDSA, RAW messages hashed by the service, DIGEST messages used as is.
func TestSignVerifies(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	ctx := t.Context()
	rsa2048 := srv.CreateKey("RSA_2048")
	rsa3072 := srv.CreateKey("RSA_3072")
	p256 := srv.CreateKey("ECC_NIST_P256")
	p384 := srv.CreateKey("ECC_NIST_P384")
	msg := []byte("header.payload")

	tests := []struct {
		key     string
		alg     types.SigningAlgorithmSpec
		msgType types.MessageType
		hash    crypto.Hash
	}{
		{rsa2048, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.MessageTypeRaw, crypto.SHA256},
		{rsa2048, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.MessageTypeDigest, crypto.SHA256},
		{rsa2048, types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeDigest, crypto.SHA256},
		{rsa2048, types.SigningAlgorithmSpecRsassaPssSha256, "", crypto.SHA256},
		{rsa3072, types.SigningAlgorithmSpecRsassaPkcs1V15Sha384, types.MessageTypeDigest, crypto.SHA384},
		{rsa3072, types.SigningAlgorithmSpecRsassaPssSha512, types.MessageTypeRaw, crypto.SHA512},
		{p256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, crypto.SHA256},
		{p256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest, crypto.SHA256},
		{p384, types.SigningAlgorithmSpecEcdsaSha384, types.MessageTypeDigest, crypto.SHA384},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg)+"/"+string(tt.msgType), func(t *testing.T) {
			h := tt.hash.New()
			h.Write(msg)
			digest := h.Sum(nil)
			message := msg
			if tt.msgType == types.MessageTypeDigest {
				message = digest
			}
			out, err := client.Sign(ctx, &kms.SignInput{
				KeyId: aws.String(tt.key), Message: message, MessageType: tt.msgType, SigningAlgorithm: tt.alg,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(out.KeyId); got != kmstest.KeyARN(tt.key) {
				t.Errorf("KeyId = %q, want the key ARN %q", got, kmstest.KeyARN(tt.key))
			}
			if out.SigningAlgorithm != tt.alg {
				t.Errorf("SigningAlgorithm = %q, want %q", out.SigningAlgorithm, tt.alg)
			}
			pk, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(tt.key)})
			if err != nil {
				t.Fatal(err)
			}
			pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			switch pub := pub.(type) {
			case *rsa.PublicKey:
				if len(out.Signature) != pub.Size() {
					t.Errorf("RSA signature is %d bytes, want %d (raw)", len(out.Signature), pub.Size())
				}
				if strings.Contains(string(tt.alg), "PSS") {
					err = rsa.VerifyPSS(pub, tt.hash, digest, out.Signature,
						&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
				} else {
					err = rsa.VerifyPKCS1v15(pub, tt.hash, digest, out.Signature)
				}
				if err != nil {
					t.Errorf("signature does not verify: %v", err)
				}
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest, out.Signature) {
					t.Error("DER ECDSA signature does not verify")
				}
			default:
				t.Fatalf("public key is %T", pub)
			}
		})
	}
}

func TestGetPublicKeyAndDescribeKey(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	ctx := t.Context()
	id := srv.CreateKey("ECC_NIST_P256")
	srv.CreateAlias("alias/signing", id)

	for _, name := range []string{id, kmstest.KeyARN(id), "alias/signing", kmstest.AliasARN("alias/signing")} {
		out, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(name)})
		if err != nil {
			t.Fatalf("GetPublicKey(%s): %v", name, err)
		}
		if aws.ToString(out.KeyId) != kmstest.KeyARN(id) || out.KeySpec != types.KeySpecEccNistP256 ||
			out.KeyUsage != types.KeyUsageTypeSignVerify ||
			len(out.SigningAlgorithms) != 1 || out.SigningAlgorithms[0] != types.SigningAlgorithmSpecEcdsaSha256 {
			t.Errorf("GetPublicKey(%s) = %+v", name, out)
		}
		pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
		if err != nil || !pub.(*ecdsa.PublicKey).Equal(srv.PublicKey(name)) {
			t.Errorf("GetPublicKey(%s): public key %v, %v differs from the key's", name, pub, err)
		}
	}

	d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/signing")})
	if err != nil {
		t.Fatal(err)
	}
	m := d.KeyMetadata
	if aws.ToString(m.KeyId) != id || aws.ToString(m.Arn) != kmstest.KeyARN(id) || !m.Enabled ||
		m.KeyState != types.KeyStateEnabled || m.KeySpec != types.KeySpecEccNistP256 ||
		m.KeyUsage != types.KeyUsageTypeSignVerify || aws.ToString(m.AWSAccountId) != kmstest.Account ||
		m.CreationDate == nil || time.Since(*m.CreationDate) > time.Minute {
		t.Errorf("DescribeKey = %+v", m)
	}
	srv.DisableKey(id)
	d, err = client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil || d.KeyMetadata.Enabled || d.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Errorf("DescribeKey of a disabled key = %+v, %v", d, err)
	}
}

// Service-side checks answer with KMS's typed errors.
func TestKMSChecks(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	ctx := t.Context()
	rsaKey := srv.CreateKey("RSA_2048")
	ecKey := srv.CreateKey("ECC_NIST_P256")
	disabled := srv.CreateKey("ECC_NIST_P256")
	srv.DisableKey(disabled)
	digest := make([]byte, 32)

	sign := func(key string, alg types.SigningAlgorithmSpec, mt types.MessageType, msg []byte) error {
		_, err := client.Sign(ctx, &kms.SignInput{KeyId: aws.String(key), Message: msg, MessageType: mt, SigningAlgorithm: alg})
		return err
	}
	getPublicKey := func(key string) error {
		_, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(key)})
		return err
	}
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"unknown key", sign(kmstest.KeyARN("00000000-0000-0000-0000-000000000000"),
			types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest, digest), "NotFoundException"},
		{"unknown alias", getPublicKey("alias/nope"), "NotFoundException"},
		{"other account", getPublicKey("arn:aws:kms:us-east-1:999999999999:key/" + ecKey), "NotFoundException"},
		{"disabled key signs", sign(disabled, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest, digest), "DisabledException"},
		{"disabled key GetPublicKey", getPublicKey(disabled), "DisabledException"},
		{"RSA algorithm on EC key", sign(ecKey, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.MessageTypeDigest, digest), "InvalidKeyUsageException"},
		{"EC algorithm on RSA key", sign(rsaKey, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest, digest), "InvalidKeyUsageException"},
		{"short digest", sign(ecKey, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest, digest[:20]), "ValidationException"},
		{"long digest", sign(rsaKey, types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeDigest, make([]byte, 48)), "ValidationException"},
		{"RAW over 4096 bytes", sign(rsaKey, types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeRaw, make([]byte, 4097)), "ValidationException"},
		{"dry run", func() error {
			_, err := client.Sign(ctx, &kms.SignInput{KeyId: aws.String(ecKey), Message: digest, DryRun: aws.Bool(true),
				MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		}(), "DryRunOperationException"},
		{"unknown operation", func() error {
			_, err := client.ListKeys(ctx, &kms.ListKeysInput{})
			return err
		}(), "UnknownOperationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var apiErr smithy.APIError
			if !errors.As(tt.err, &apiErr) || apiErr.ErrorCode() != tt.code {
				t.Fatalf("error = %v, want %s", tt.err, tt.code)
			}
		})
	}
	// The modeled ones arrive as the SDK's types.
	var nf *types.NotFoundException
	var de *types.DisabledException
	var iku *types.InvalidKeyUsageException
	if !errors.As(tests[0].err, &nf) || !errors.As(tests[3].err, &de) || !errors.As(tests[5].err, &iku) {
		t.Errorf("errors are not typed: %T %T %T", tests[0].err, tests[3].err, tests[5].err)
	}
	if !strings.Contains(nf.ErrorMessage(), "does not exist") || !strings.Contains(de.ErrorMessage(), "is disabled") {
		t.Errorf("messages: %q, %q", nf.ErrorMessage(), de.ErrorMessage())
	}
}

// Every injectable error reaches the SDK with its code, its HTTP status and,
// where KMS models it, its type.
func TestFaultInjection(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	ctx := t.Context()
	id := srv.CreateKey("ECC_NIST_P256")
	status := map[string]int{
		"KMSInternalException": 500, "KeyUnavailableException": 500, "InternalFailure": 500,
		"DependencyTimeoutException": 503, "ServiceUnavailable": 503,
	}
	getPublicKey := func() error {
		_, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(id)})
		return err
	}
	for _, errType := range kmstest.ErrorTypes() {
		t.Run(errType, func(t *testing.T) {
			srv.Clear()
			srv.Reset()
			srv.Fail(kmstest.OpGetPublicKey, errType)
			for range 2 { // persistent
				err := getPublicKey()
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode() != errType {
					t.Fatalf("error = %v, want %s", err, errType)
				}
				var respErr interface{ HTTPStatusCode() int }
				want := status[errType]
				if want == 0 {
					want = 400
				}
				if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != want {
					t.Errorf("HTTP status of %s: %v, want %d", errType, err, want)
				}
			}
			if _, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); err != nil {
				t.Errorf("Fail(GetPublicKey) broke DescribeKey: %v", err)
			}
			srv.Clear()
			if err := getPublicKey(); err != nil {
				t.Errorf("after Clear: %v", err)
			}
			if n := srv.Calls(kmstest.OpGetPublicKey); n != 3 {
				t.Errorf("Calls(GetPublicKey) = %d, want 3", n)
			}
		})
	}

	typed := []struct {
		errType string
		target  any
	}{
		{"DisabledException", new(*types.DisabledException)},
		{"KMSInvalidStateException", new(*types.KMSInvalidStateException)},
		{"KMSInternalException", new(*types.KMSInternalException)},
		{"NotFoundException", new(*types.NotFoundException)},
		{"DependencyTimeoutException", new(*types.DependencyTimeoutException)},
		{"KeyUnavailableException", new(*types.KeyUnavailableException)},
		{"InvalidKeyUsageException", new(*types.InvalidKeyUsageException)},
	}
	for _, tt := range typed {
		srv.FailNext(kmstest.OpSign, tt.errType)
		_, err := client.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: make([]byte, 32),
			MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		if !errors.As(err, tt.target) {
			t.Errorf("%s: error %v (%T) is not the SDK's type", tt.errType, err, err)
		}
	}
	srv.FailNext("*", "ThrottlingException")
	srv.FailNext(kmstest.OpDescribeKey, "AccessDeniedException")
	if _, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); !isCode(err, "AccessDeniedException") {
		t.Errorf("first DescribeKey: %v, want the op's own FailNext first", err)
	}
	if err := getPublicKey(); !isCode(err, "ThrottlingException") {
		t.Errorf("GetPublicKey after FailNext(*): %v", err)
	}
	if err := getPublicKey(); err != nil {
		t.Errorf("FailNext is not once: %v", err)
	}
}

func isCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}

// Requests that are not the SDK's are refused as KMS would.
func TestProtocolChecks(t *testing.T) {
	srv := kmstest.NewServer(t)
	const auth = sigV4
	tests := []struct {
		name, method, contentType, target, auth, want string
	}{
		{"GET", http.MethodGet, "application/x-amz-json-1.1", "TrentService.DescribeKey", auth, "UnknownOperationException"},
		{"JSON 1.0", http.MethodPost, "application/x-amz-json-1.0", "TrentService.DescribeKey", auth, "UnknownOperationException"},
		{"no target", http.MethodPost, "application/x-amz-json-1.1", "", auth, "UnknownOperationException"},
		{"other service", http.MethodPost, "application/x-amz-json-1.1", "DynamoDB_20120810.GetItem", auth, "UnknownOperationException"},
		{"unknown operation", http.MethodPost, "application/x-amz-json-1.1", "TrentService.Encrypt", auth, "UnknownOperationException"},
		{"unsigned", http.MethodPost, "application/x-amz-json-1.1", "TrentService.DescribeKey", "", "MissingAuthenticationTokenException"},
		{"signed for S3", http.MethodPost, "application/x-amz-json-1.1", "TrentService.DescribeKey",
			strings.Replace(auth, "/kms/", "/s3/", 1), "IncompleteSignatureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL()+"/", strings.NewReader(`{"KeyId":"alias/x"}`))
			req.Header.Set("Content-Type", tt.contentType)
			req.Header.Set("X-Amz-Target", tt.target)
			req.Header.Set("Authorization", tt.auth)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 400 || !strings.Contains(string(body), `"__type":"`+tt.want+`"`) {
				t.Errorf("got %d %s, want 400 %s", resp.StatusCode, body, tt.want)
			}
		})
	}
	if n := srv.Calls("*"); n != 0 {
		t.Errorf("refused requests were counted: %d", n)
	}
}

// Env makes the standard AWS configuration reach the double.
func TestEnv(t *testing.T) {
	srv := kmstest.NewServer(t)
	id := srv.CreateKey("RSA_2048")
	srv.CreateAlias("alias/gatehouse", id)
	srv.Env(t)
	cfg, err := awsconfig.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	client := kms.NewFromConfig(cfg)
	out, err := client.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String("alias/gatehouse")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.KeyMetadata.KeyId) != id || srv.Calls(kmstest.OpDescribeKey) != 1 {
		t.Errorf("DescribeKey = %+v, calls %d", out.KeyMetadata, srv.Calls(kmstest.OpDescribeKey))
	}
	// No retries: one failure is one error and one request.
	srv.FailNext(kmstest.OpDescribeKey, "ThrottlingException")
	if _, err := client.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(id)}); !isCode(err, "ThrottlingException") {
		t.Errorf("throttled DescribeKey: %v", err)
	}
	if n := srv.Calls(kmstest.OpDescribeKey); n != 2 {
		t.Errorf("Calls = %d, want 2 (no retries)", n)
	}
}

func TestRequestsAndCounters(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	id := srv.CreateKey("ECC_NIST_P256")
	digest := make([]byte, 32)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := client.Sign(t.Context(), &kms.SignInput{KeyId: aws.String(id), Message: digest,
				MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if srv.Calls(kmstest.OpSign) != 10 || srv.Calls("*") != 10 || len(srv.Requests()) != 10 {
		t.Errorf("Calls = %d, requests %d", srv.Calls(kmstest.OpSign), len(srv.Requests()))
	}
	r := srv.Requests()[0]
	if r.Op != kmstest.OpSign || r.KeyID != id || r.MessageType != "DIGEST" ||
		r.SigningAlgorithm != "ECDSA_SHA_256" || len(r.Message) != 32 {
		t.Errorf("request = %+v", r)
	}
	srv.Reset()
	if srv.Calls(kmstest.OpSign) != 0 || len(srv.Requests()) != 0 {
		t.Error("Reset did not reset")
	}
}

func TestDelay(t *testing.T) {
	srv := kmstest.NewServer(t)
	client := srv.Client(t)
	id := srv.CreateKey("ECC_NIST_P256")
	srv.SetDelay(10 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(id)})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("delayed call: %v after %v", err, time.Since(start))
	}
	srv.Clear()
	if _, err := client.GetPublicKey(t.Context(), &kms.GetPublicKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Error(err)
	}
}

func TestHelpersPanicOnMisuse(t *testing.T) {
	srv := kmstest.NewServer(t)
	id := srv.CreateKey("ECC_NIST_P256")
	for name, f := range map[string]func(){
		"spec":        func() { srv.CreateKey("HMAC_256") },
		"alias":       func() { srv.CreateAlias("signing", id) },
		"alias key":   func() { srv.CreateAlias("alias/x", "alias/missing") },
		"disable":     func() { srv.DisableKey("nope") },
		"fail op":     func() { srv.Fail("Encrypt", "ThrottlingException") },
		"fail type":   func() { srv.FailNext(kmstest.OpSign, "Throttled") },
		"AWS managed": func() { srv.CreateAlias("alias/aws/kms", id) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	if srv.PublicKey("alias/none") != nil {
		t.Error("PublicKey of a missing key is not nil")
	}
}
