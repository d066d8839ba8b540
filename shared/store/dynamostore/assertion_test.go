package dynamostore_test

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

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
	var mu sync.Mutex
	var puts []dynamotest.Item
	s := dynamostore.New(dynamotest.Client(t, capture("PutItem", func(body []byte) {
		var in struct{ Item json.RawMessage }
		if err := json.Unmarshal(body, &in); err != nil {
			t.Errorf("PutItem request: %v", err)
		}
		it, err := attributevalue.UnmarshalMapJSON(in.Item)
		if err != nil {
			t.Errorf("PutItem request's Item: %v", err)
		}
		mu.Lock()
		puts = append(puts, it)
		mu.Unlock()
	})), tables)
	exp := time.Unix(time.Now().Add(time.Hour).Unix(), 0)
	mustOK(t, s.UseAssertionID(t.Context(), "client-1", "jti-1", exp))
	if len(puts) != 1 {
		t.Fatalf("%d PutItem calls, want 1", len(puts))
	}
	it := puts[0]
	pk := it.S("pk")
	n, _ := it.N("expires_at")
	switch {
	case len(pk) != len("jti_asrt#")+43 || pk[:9] != "jti_asrt#":
		t.Errorf("pk = %q, want jti_asrt#<43 characters>", pk)
	case n != exp.Unix():
		t.Errorf("expires_at = %d, want %d", n, exp.Unix())
	case it.S("nonce") == "":
		t.Errorf("nonce = %q, want a random string", it.S("nonce"))
	case len(it) != 3:
		t.Errorf("item has %d attributes, want 3 (pk, expires_at, nonce): %v", len(it), it)
	}
	if got := dynamotest.GetItem(t, client, tables.Tokens, dynamotest.Item{"pk": it["pk"]}); got == nil {
		t.Fatal("the marker is not in the tokens table")
	} else if got.String() != it.String() {
		t.Errorf("stored %v, sent %v", got, it)
	}
}

// TestUseAssertionIDLostResponse: when the response to the first attempt
// is lost and the client retries, the retry meets the item its own first
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
	s := dynamotest.NewStore(t, noRetries, failWith(func(op string) *answer {
		if op == "PutItem" {
			return throttling()
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
