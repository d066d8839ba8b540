package kmssigner_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gatehouse/gatehouse/shared/awsjson"
	"github.com/gatehouse/gatehouse/shared/awsjson/awsjsontest"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
)

// wireRequest is a request as it left the client.
type wireRequest struct {
	target, contentType string
	body                map[string]any
}

// recorder returns an option recording every request on the wire.
func recorder(t *testing.T) (func(*awsjson.Options), func() []wireRequest) {
	var (
		mu   sync.Mutex
		reqs []wireRequest
	)
	opt := awsjsontest.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return awsjsontest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			w := wireRequest{target: r.Header.Get("X-Amz-Target"), contentType: r.Header.Get("Content-Type")}
			if err := awsjsontest.Decode(r, &w.body); err != nil {
				t.Errorf("request body: %v", err)
			}
			mu.Lock()
			reqs = append(reqs, w)
			mu.Unlock()
			return next.RoundTrip(r)
		})
	})
	return opt, func() []wireRequest {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(reqs)
	}
}

// The Signer sends KMS's operations with KMS's exact member names: the
// double, like KMS, ignores a member whose name differs in case.
func TestWireRequests(t *testing.T) {
	srv := kmstest.NewServer(t)
	srv.CreateAlias("alias/signing", srv.CreateKey("ECC_NIST_P256"))
	record, requests := recorder(t)
	s := newSigner(t, srv.Client(t, record), "ES256", "alias/signing")
	input := []byte("header.payload")
	if _, err := s.KeyID(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(t.Context(), input); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(input)
	want := []wireRequest{
		{"TrentService.GetPublicKey", "application/x-amz-json-1.1", map[string]any{"KeyId": "alias/signing"}},
		{"TrentService.Sign", "application/x-amz-json-1.1", map[string]any{
			"KeyId":            "alias/signing",
			"Message":          base64.StdEncoding.EncodeToString(digest[:]),
			"MessageType":      "DIGEST",
			"SigningAlgorithm": "ECDSA_SHA_256",
		}},
	}
	got := requests()
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, _ := json.Marshal(got[i].body)
		w, _ := json.Marshal(want[i].body)
		if got[i].target != want[i].target || got[i].contentType != want[i].contentType || string(g) != string(w) {
			t.Errorf("request %d = %s %s %s, want %s %s %s", i,
				got[i].target, got[i].contentType, g, want[i].target, want[i].contentType, w)
		}
	}
}

// A network failure (no response) fails the request as temporarily
// unavailable: signing writes nothing, so nothing is lost, and a failed
// fetch is not cached.
func TestTransportFailureIsUnavailable(t *testing.T) {
	srv := kmstest.NewServer(t)
	var (
		mu   sync.Mutex
		fail = map[string]bool{}
	)
	broken := awsjsontest.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return awsjsontest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			defer mu.Unlock()
			if fail[awsjsontest.Operation(r)] {
				return nil, errors.New("connection reset by peer")
			}
			return next.RoundTrip(r)
		})
	})
	s := newSigner(t, srv.Client(t, broken), "RS256", srv.CreateKey("RSA_2048"))
	for _, op := range []string{kmstest.OpGetPublicKey, kmstest.OpSign} {
		mu.Lock()
		fail[op] = true
		mu.Unlock()
		var err error
		if op == kmstest.OpSign {
			_, err = s.Sign(t.Context(), []byte("x"))
		} else {
			_, err = s.KeyID(t.Context())
		}
		if !errors.Is(err, oauth.ErrUnavailable) || !awsjson.IsTransport(err) {
			t.Errorf("%s over a broken connection: %v, want ErrUnavailable", op, err)
		}
		mu.Lock()
		fail[op] = false
		mu.Unlock()
		if _, err := mint(t.Context(), s); err != nil {
			t.Errorf("after the %s failure: %v", op, err)
		}
	}
}

// With retries on (the production default), the client absorbs one
// throttled Sign; Sign stays one KMS operation.
func TestSignWithRetries(t *testing.T) {
	srv := kmstest.NewServer(t)
	s := newSigner(t, srv.Client(t, func(o *awsjson.Options) { o.MaxAttempts = 3 }), "PS256", srv.CreateKey("RSA_3072"))
	mustMint(t, s)
	srv.Reset()
	srv.FailNext(kmstest.OpSign, "ThrottlingException")
	if _, err := s.Sign(t.Context(), []byte("x")); err != nil {
		t.Fatalf("Sign throttled once: %v", err)
	}
	if n := srv.Calls(kmstest.OpSign); n != 2 {
		t.Errorf("Sign requests = %d, want 2 (one retry)", n)
	}
}

// Service names KMS's regional endpoints (kmstest's TestEnvAWSJSON checks
// AWS_ENDPOINT_URL_KMS).
func TestServiceEndpoint(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("AKID", "secret", "")
	for region, want := range map[string]string{
		"eu-west-1":  "https://kms.eu-west-1.amazonaws.com",
		"cn-north-1": "https://kms.cn-north-1.amazonaws.com.cn",
	} {
		c, err := awsjson.New(aws.Config{Region: region, Credentials: creds}, kmssigner.Service, awsjson.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Endpoint() != want {
			t.Errorf("endpoint in %s = %s, want %s", region, c.Endpoint(), want)
		}
	}
}
