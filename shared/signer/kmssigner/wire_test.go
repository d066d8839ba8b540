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

	"github.com/aws/aws-sdk-go-v2/service/kms"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/gatehouse/gatehouse/shared/awstest"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
)

// wireRequest is a request as it left the client.
type wireRequest struct {
	target, contentType string
	body                map[string]any
}

// wrap returns a client option that puts wrap in front of the client's
// HTTP client (Options.HTTPClient, the SDK's seam for watching requests).
func wrap(wrap func(next http.RoundTripper) http.RoundTripper) func(*kms.Options) {
	return func(o *kms.Options) { o.HTTPClient = awstest.WrapClient(o.HTTPClient, wrap) }
}

// recorder returns an option recording every request on the wire.
func recorder(t *testing.T) (func(*kms.Options), func() []wireRequest) {
	var (
		mu   sync.Mutex
		reqs []wireRequest
	)
	opt := wrap(func(next http.RoundTripper) http.RoundTripper {
		return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			w := wireRequest{target: r.Header.Get("X-Amz-Target"), contentType: r.Header.Get("Content-Type")}
			if err := awstest.Decode(r, &w.body); err != nil {
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

// The Signer sends KMS's operations with KMS's exact member names and a
// base64 DIGEST: the double, like KMS, ignores a member whose name differs
// in case.
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
	broken := wrap(func(next http.RoundTripper) http.RoundTripper {
		return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			defer mu.Unlock()
			if fail[awstest.Operation(r)] {
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
		var sendErr *smithyhttp.RequestSendError
		if !errors.Is(err, oauth.ErrUnavailable) || !errors.As(err, &sendErr) {
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
