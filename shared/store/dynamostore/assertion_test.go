package dynamostore_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
)

// TestUseAssertionIDItem: the marker is jti_asrt#<hash> in the tokens
// table, with expires_at (the TTL attribute) and the writer's nonce, and
// nothing that names the client or the jti in the clear.
func TestUseAssertionIDItem(t *testing.T) {
	client := dynamotest.Client(t)
	tables := dynamotest.CreateTables(t, client)
	var puts []map[string]types.AttributeValue
	s := dynamostore.New(dynamotest.Client(t, capturePuts(&puts)), tables)
	exp := time.Unix(time.Now().Add(time.Hour).Unix(), 0)
	mustOK(t, s.UseAssertionID(t.Context(), "client-1", "jti-1", exp))
	if len(puts) != 1 {
		t.Fatalf("%d PutItem calls, want 1", len(puts))
	}
	it := puts[0]
	pk, _ := it["pk"].(*types.AttributeValueMemberS)
	n, _ := it["expires_at"].(*types.AttributeValueMemberN)
	nonce, _ := it["nonce"].(*types.AttributeValueMemberS)
	switch {
	case pk == nil || len(pk.Value) != len("jti_asrt#")+43 || pk.Value[:9] != "jti_asrt#":
		t.Errorf("pk = %v, want jti_asrt#<43 characters>", it["pk"])
	case n == nil || n.Value != strconv.FormatInt(exp.Unix(), 10):
		t.Errorf("expires_at = %v, want %d", it["expires_at"], exp.Unix())
	case nonce == nil || nonce.Value == "":
		t.Errorf("nonce = %v, want a random string", it["nonce"])
	case len(it) != 3:
		t.Errorf("item has %d attributes, want 3 (pk, expires_at, nonce): %v", len(it), it)
	}
	got, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: &tables.Tokens,
		Key: map[string]types.AttributeValue{"pk": pk}, ConsistentRead: aws.Bool(true)})
	if err != nil || got.Item == nil {
		t.Fatalf("the marker is not in the tokens table: %v", err)
	}
}

// TestUseAssertionIDLostResponse: when the response to the first attempt
// is lost and the SDK retries, the retry meets the item its own first
// attempt wrote: that is no replay. A later use of the id still is.
func TestUseAssertionIDLostResponse(t *testing.T) {
	var lose atomic.Int64
	var attempts atomic.Int64
	s := dynamotest.NewStore(t, fastRetries, loseResponses("PutItem", &lose, &attempts))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)

	lose.Store(1)
	if err := s.UseAssertionID(ctx, "client-1", "jti-1", exp); err != nil {
		t.Fatalf("UseAssertionID whose first response was lost: %v", err)
	}
	if n := attempts.Load(); n != 2 {
		t.Fatalf("%d PutItem attempts, want 2 (the lost one and the retry)", n)
	}
	if err := s.UseAssertionID(ctx, "client-1", "jti-1", exp); !errors.Is(err, oauth.ErrConflict) {
		t.Errorf("a second use: error %v, want ErrConflict", err)
	}
}

// TestUseAssertionIDThrottled: throttling is ErrUnavailable (and not
// written), never a conflict.
func TestUseAssertionIDThrottled(t *testing.T) {
	s := dynamotest.NewStore(t, noRetries, failWith(func(op string) error {
		if op == "PutItem" {
			return &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
		}
		return nil
	}))
	err := s.UseAssertionID(t.Context(), "client-1", "jti-1", time.Now().Add(time.Hour))
	if !errors.Is(err, oauth.ErrUnavailable) || !errors.Is(err, oauth.ErrNotWritten) || errors.Is(err, oauth.ErrConflict) {
		t.Errorf("throttled UseAssertionID: error %v, want ErrUnavailable and ErrNotWritten", err)
	}
	if err := s.UseAssertionID(t.Context(), "", "jti", time.Now()); err == nil {
		t.Error("an empty client id was accepted")
	}
}

// capturePuts records the items of PutItem calls.
func capturePuts(into *[]map[string]types.AttributeValue) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("test.capturePuts",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
					middleware.InitializeOutput, middleware.Metadata, error,
				) {
					if put, ok := in.Parameters.(*dynamodb.PutItemInput); ok {
						*into = append(*into, put.Item)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

// lostResponse is a retryable transport error, as the SDK sees a
// connection that broke after the request was sent.
type lostResponse struct{}

func (lostResponse) Error() string        { return "connection reset after the request was sent" }
func (lostResponse) RetryableError() bool { return true }

// loseResponses lets the next *n attempts of op reach DynamoDB, then
// throws their responses away and reports a retryable error, as a
// connection lost after the write would. attempts counts every attempt.
func loseResponses(op string, n, attempts *atomic.Int64) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("test.loseResponse",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
					middleware.FinalizeOutput, middleware.Metadata, error,
				) {
					if middleware.GetOperationName(ctx) != op {
						return next.HandleFinalize(ctx, in)
					}
					attempts.Add(1)
					out, md, err := next.HandleFinalize(ctx, in)
					if err == nil && n.Add(-1) >= 0 {
						return middleware.FinalizeOutput{}, md, lostResponse{}
					}
					return out, md, err
				}), middleware.After)
		})
	}
}
