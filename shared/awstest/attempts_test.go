package awstest_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gatehouse/gatehouse/shared/awstest"
)

// TestInvocationIDAndAttempt: the SDK's retries of one call share its
// invocation id and number their attempts; another call has another id.
func TestInvocationIDAndAttempt(t *testing.T) {
	type seen struct {
		id           string
		attempt, max int
	}
	var mu sync.Mutex
	var requests []seen
	client := dynamodb.New(dynamodb.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String("http://127.0.0.1:1"),
		Credentials:      credentials.NewStaticCredentialsProvider("id", "secret", ""),
		RetryMaxAttempts: 3,
		HTTPClient: awstest.WrapClient(nil, func(http.RoundTripper) http.RoundTripper {
			return awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
				attempt, max := awstest.Attempt(r)
				mu.Lock()
				defer mu.Unlock()
				requests = append(requests, seen{awstest.InvocationID(r), attempt, max})
				return awstest.ErrorResponse(r, http.StatusInternalServerError, "InternalServerError", "boom"), nil
			})
		}),
	})
	for range 2 {
		if _, err := client.ListTables(t.Context(), &dynamodb.ListTablesInput{}); err == nil {
			t.Fatal("ListTables succeeded")
		}
	}
	if len(requests) != 6 {
		t.Fatalf("%d requests, want 2 calls of 3 attempts: %+v", len(requests), requests)
	}
	for i, r := range requests {
		first := requests[i/3*3]
		if r.id == "" || r.id != first.id || r.attempt != i%3+1 || r.max != 3 {
			t.Errorf("request %d: %+v, want attempt %d of 3 of call %q", i, r, i%3+1, first.id)
		}
	}
	if requests[0].id == requests[3].id {
		t.Errorf("two calls share the invocation id %q", requests[0].id)
	}
	bare := &http.Request{Header: http.Header{}}
	if attempt, max := awstest.Attempt(bare); awstest.InvocationID(bare) != "" || attempt != 0 || max != 0 {
		t.Errorf("a request without the headers: id %q, attempt %d of %d", awstest.InvocationID(bare), attempt, max)
	}
}
