package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
	"github.com/gatehouse/gatehouse/shared/store/storetest"
)

// TestConformance runs the store suite against DynamoDB Local, every case
// on one set of tables (the cases use unique keys).
func TestConformance(t *testing.T) {
	s := dynamotest.NewStore(t)
	storetest.Run(t, func(*testing.T) storetest.Harness {
		return storetest.Harness{Store: s, Admin: s}
	})
}

// TestNewMakesNoCall: a Lambda's init builds the store; it must not wait
// for the network.
func TestNewMakesNoCall(t *testing.T) {
	var calls dynamotest.Calls
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1")},
		calls.Option)
	s := dynamostore.New(client, dynamotest.Tables())
	if n := calls.Total(); n != 0 {
		t.Errorf("New made %d calls", n)
	}
	if s.Now == nil || time.Since(s.Now()) > time.Minute {
		t.Error("New did not set Now to time.Now")
	}
}

// TestCreateTables: the tables have the design's keys, on-demand billing,
// encryption and TTL on expires_at where items expire; running it again
// changes nothing.
func TestCreateTables(t *testing.T) {
	var calls dynamotest.Calls
	var creates sync.Map // table name → *dynamodb.CreateTableInput
	client := dynamotest.Client(t, calls.Option, captureCreateTable(&creates))
	tables := dynamotest.Tables()
	t.Cleanup(func() { dynamotest.DeleteTables(t, client, tables) })
	s := dynamostore.New(client, tables)
	ctx := t.Context()

	start := time.Now()
	if err := s.CreateTables(ctx); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	t.Logf("CreateTables: %v, calls %v", time.Since(start), calls.Counts())
	calls.Reset()
	if err := s.CreateTables(ctx); err != nil {
		t.Fatalf("second CreateTables: %v", err)
	}
	if n := calls.Count("CreateTable") + calls.Count("UpdateTimeToLive"); n != 0 {
		t.Errorf("second CreateTables changed something: calls %v", calls.Counts())
	}

	for _, c := range []struct {
		table, key string
		ttl        bool
	}{
		{tables.Clients, "client_id", false},
		{tables.Users, "username", false},
		{tables.Codes, "code_hash", true},
		{tables.Tokens, "pk", true},
		{tables.Sessions, "session_hash", true},
	} {
		d, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &c.table})
		if err != nil {
			t.Fatal(err)
		}
		tab := d.Table
		if tab.TableStatus != types.TableStatusActive {
			t.Errorf("%s: status %s", c.table, tab.TableStatus)
		}
		if len(tab.KeySchema) != 1 || aws.ToString(tab.KeySchema[0].AttributeName) != c.key ||
			tab.KeySchema[0].KeyType != types.KeyTypeHash {
			t.Errorf("%s: key schema %+v, want partition key %s", c.table, tab.KeySchema, c.key)
		}
		if tab.BillingModeSummary == nil || tab.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
			t.Errorf("%s: billing %+v, want PAY_PER_REQUEST", c.table, tab.BillingModeSummary)
		}
		// DynamoDB Local does not describe encryption: check the request.
		if in, ok := creates.Load(c.table); !ok {
			t.Errorf("%s: no CreateTable request seen", c.table)
		} else if sse := in.(*dynamodb.CreateTableInput).SSESpecification; sse == nil || !aws.ToBool(sse.Enabled) {
			t.Errorf("%s: CreateTable with SSESpecification %+v, want enabled", c.table, sse)
		}
		ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &c.table})
		if err != nil {
			t.Fatal(err)
		}
		d2 := ttl.TimeToLiveDescription
		enabled := d2 != nil && d2.TimeToLiveStatus == types.TimeToLiveStatusEnabled
		if enabled != c.ttl || (c.ttl && aws.ToString(d2.AttributeName) != "expires_at") {
			t.Errorf("%s: TTL %+v, want enabled=%v on expires_at", c.table, d2, c.ttl)
		}
	}
}

// TestCreateTablesLeavesExistingAlone: an existing table of another shape
// is reported, not changed; a missing TTL is enabled.
func TestCreateTablesLeavesExistingAlone(t *testing.T) {
	client := dynamotest.Client(t)
	ctx := t.Context()

	t.Run("WrongKey", func(t *testing.T) {
		tables := dynamotest.Tables()
		t.Cleanup(func() { dynamotest.DeleteTables(t, client, tables) })
		createTable(t, client, tables.Tokens, "id")
		err := dynamostore.New(client, tables).CreateTables(ctx)
		if err == nil || !strings.Contains(err.Error(), tables.Tokens) || !strings.Contains(err.Error(), "pk") {
			t.Fatalf("CreateTables over a table with another key: error %v, want one naming it and pk", err)
		}
	})
	t.Run("TTLOnOtherAttribute", func(t *testing.T) {
		tables := dynamotest.Tables()
		t.Cleanup(func() { dynamotest.DeleteTables(t, client, tables) })
		createTable(t, client, tables.Sessions, "session_hash")
		_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: &tables.Sessions,
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("ttl"), Enabled: aws.Bool(true)}})
		if err != nil {
			t.Fatal(err)
		}
		err = dynamostore.New(client, tables).CreateTables(ctx)
		if err == nil || !strings.Contains(err.Error(), tables.Sessions) || !strings.Contains(err.Error(), "ttl") {
			t.Fatalf("CreateTables over a table with TTL on ttl: error %v", err)
		}
	})
	t.Run("TTLMissing", func(t *testing.T) {
		tables := dynamotest.Tables()
		t.Cleanup(func() { dynamotest.DeleteTables(t, client, tables) })
		createTable(t, client, tables.Codes, "code_hash")
		if err := dynamostore.New(client, tables).CreateTables(ctx); err != nil {
			t.Fatal(err)
		}
		ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &tables.Codes})
		if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
			t.Errorf("TTL of an existing codes table: %+v, %v; want enabled", ttl, err)
		}
	})
}

func createTable(t *testing.T, client *dynamodb.Client, name, key string) {
	t.Helper()
	_, err := client.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            &name,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: &key, AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: &key, KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMissingTables: every kind of call on a missing table says which
// table and how to create it, and is neither ErrNotFound nor
// ErrUnavailable.
func TestMissingTables(t *testing.T) {
	tables := dynamotest.Tables() // never created
	s := dynamostore.New(dynamotest.Client(t), tables)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	first := &oauth.RefreshToken{Hash: "h2", GrantID: "g", ExpiresAt: exp}
	for name, c := range map[string]struct {
		err   error
		table string
	}{
		"GetClient":          {second(s.GetClient(ctx, "c")), tables.Clients},
		"GetUser":            {second(s.GetUser(ctx, "u")), tables.Users},
		"CreateCode":         {s.CreateCode(ctx, &oauth.AuthorizationCode{Hash: "h", GrantID: "g", ExpiresAt: exp}), tables.Codes},
		"GetCode":            {second(s.GetCode(ctx, "h")), tables.Codes},
		"RedeemCode":         {s.RedeemCode(ctx, "h", first.GrantID, first), tables.Codes},
		"GetRefreshToken":    {second(s.GetRefreshToken(ctx, "g", "h")), tables.Tokens},
		"RotateRefreshToken": {s.RotateRefreshToken(ctx, "h", first), tables.Tokens},
		"RevokeGrant":        {s.RevokeGrant(ctx, "g", exp), tables.Tokens},
		"AccessTokenRevoked": {second(s.AccessTokenRevoked(ctx, "j", "g")), tables.Tokens},
		"GetSession":         {second(s.GetSession(ctx, "h")), tables.Sessions},
		"ListClients":        {second(s.ListClients(ctx)), tables.Clients},
	} {
		if c.err == nil {
			t.Errorf("%s on a missing table: no error", name)
			continue
		}
		if msg := c.err.Error(); !strings.Contains(msg, c.table) || !strings.Contains(msg, "gatehouse tables create") {
			t.Errorf("%s: error %q does not name %s and `gatehouse tables create`", name, msg, c.table)
		}
		if errors.Is(c.err, oauth.ErrNotFound) || errors.Is(c.err, oauth.ErrUnavailable) {
			t.Errorf("%s: error %v is ErrNotFound or ErrUnavailable", name, c.err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestClientAdmin(t *testing.T) {
	// Scan pages of two items, so ListClients must follow pagination.
	s := dynamotest.NewStore(t, setScanLimit(2))
	ctx := t.Context()
	if list, err := s.ListClients(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListClients on an empty table = %v, %v; want none", list, err)
	}
	for _, id := range []string{"b", "e", "c", "a", "d"} {
		mustOK(t, s.PutClient(ctx, &oauth.Client{ID: id, Name: "old " + id}))
	}
	mustOK(t, s.PutClient(ctx, &oauth.Client{ID: "b", Name: "new b"}))
	if c, err := s.GetClient(ctx, "b"); err != nil || c.Name != "new b" {
		t.Errorf("GetClient after replacing = %+v, %v; want name %q", c, err, "new b")
	}
	if err := s.CreateClient(ctx, &oauth.Client{ID: "b", Name: "newer b"}); !errors.Is(err, oauth.ErrConflict) {
		t.Errorf("CreateClient of an existing ID: error %v, want ErrConflict", err)
	}
	mustOK(t, s.CreateClient(ctx, &oauth.Client{ID: "f", Name: "f"}))

	mustOK(t, s.DeleteClient(ctx, "c"))
	if _, err := s.GetClient(ctx, "c"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("GetClient after DeleteClient: error %v, want ErrNotFound", err)
	}
	if err := s.DeleteClient(ctx, "c"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("DeleteClient of a missing client: error %v, want ErrNotFound", err)
	}

	list, err := s.ListClients(ctx)
	mustOK(t, err)
	var got []string
	for _, c := range list {
		got = append(got, c.ID+"="+c.Name)
	}
	if want := []string{"a=old a", "b=new b", "d=old d", "e=old e", "f=f"}; !slices.Equal(got, want) {
		t.Errorf("ListClients = %v, want %v", got, want)
	}
	for _, id := range []string{"", "x"} {
		if _, err := s.GetClient(ctx, id); !errors.Is(err, oauth.ErrNotFound) {
			t.Errorf("GetClient(%q): error %v, want ErrNotFound", id, err)
		}
	}
	if err := s.PutClient(ctx, &oauth.Client{}); err == nil {
		t.Error("PutClient without an ID: no error")
	}
}

func TestUserAdmin(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := t.Context()
	mustOK(t, s.PutUser(ctx, &oauth.User{Username: "alice", Subject: "1", PasswordHash: "old"}))
	mustOK(t, s.PutUser(ctx, &oauth.User{Username: "alice", Subject: "1", PasswordHash: "new"}))
	if u, err := s.GetUser(ctx, "alice"); err != nil || u.PasswordHash != "new" || u.Subject != "1" {
		t.Errorf("GetUser after replacing = %+v, %v; want password hash %q", u, err, "new")
	}
	if err := s.CreateUser(ctx, &oauth.User{Username: "alice", Subject: "2"}); !errors.Is(err, oauth.ErrConflict) {
		t.Errorf("CreateUser of an existing username: error %v, want ErrConflict", err)
	}
	mustOK(t, s.CreateUser(ctx, &oauth.User{Username: "bob", Subject: "2"}))
	mustOK(t, s.DeleteUser(ctx, "alice"))
	if _, err := s.GetUser(ctx, "alice"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("GetUser after DeleteUser: error %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(ctx, "alice"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("DeleteUser of a missing user: error %v, want ErrNotFound", err)
	}
	if u, err := s.GetUser(ctx, "bob"); err != nil || u.Subject != "2" {
		t.Errorf("GetUser(bob) = %+v, %v", u, err)
	}
}

// TestCallsPerMethod: each oauth.Store method is one DynamoDB call, of the
// kind docs/dynamodb.md names.
func TestCallsPerMethod(t *testing.T) {
	var calls dynamotest.Calls
	s := dynamotest.NewStore(t, calls.Option)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	code := &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: "g1", ExpiresAt: exp}
	code2 := &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: "g2", ExpiresAt: exp}
	rt := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: "g1", ExpiresAt: exp}
	next := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: "g1", ExpiresAt: exp}
	sess := &oauth.Session{Hash: oauth.RandomToken(), ExpiresAt: exp}
	mustOK(t, s.PutClient(ctx, &oauth.Client{ID: "c"}))
	mustOK(t, s.PutUser(ctx, &oauth.User{Username: "u"}))

	for _, c := range []struct {
		method string
		call   func() error
		want   string // operation, once
	}{
		{"GetClient", func() error { return second(s.GetClient(ctx, "c")) }, "GetItem"},
		{"GetUser", func() error { return second(s.GetUser(ctx, "u")) }, "GetItem"},
		{"CreateCode", func() error { return s.CreateCode(ctx, code) }, "PutItem"},
		{"GetCode", func() error { return second(s.GetCode(ctx, code.Hash)) }, "GetItem"},
		{"RedeemCode(first)", func() error { return s.RedeemCode(ctx, code.Hash, code.GrantID, rt) }, "TransactWriteItems"},
		{"CreateCode", func() error { return s.CreateCode(ctx, code2) }, "PutItem"},
		{"RedeemCode(nil)", func() error { return s.RedeemCode(ctx, code2.Hash, code2.GrantID, nil) }, "TransactWriteItems"},
		{"CreateRefreshToken", func() error {
			return s.CreateRefreshToken(ctx, &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: "g3", ExpiresAt: exp})
		}, "PutItem"},
		{"GetRefreshToken", func() error { return second(s.GetRefreshToken(ctx, "g1", rt.Hash)) }, "BatchGetItem"},
		{"RotateRefreshToken", func() error { return s.RotateRefreshToken(ctx, rt.Hash, next) }, "TransactWriteItems"},
		{"RevokeGrant", func() error { return s.RevokeGrant(ctx, "g1", exp) }, "UpdateItem"},
		{"RevokeGrant again", func() error { return s.RevokeGrant(ctx, "g1", exp) }, "UpdateItem"},
		{"RevokeAccessToken", func() error { return s.RevokeAccessToken(ctx, "j", exp) }, "UpdateItem"},
		{"AccessTokenRevoked(jti)", func() error { return second(s.AccessTokenRevoked(ctx, "j", "")) }, "GetItem"},
		{"AccessTokenRevoked(jti, grant)", func() error { return second(s.AccessTokenRevoked(ctx, "j", "g1")) }, "BatchGetItem"},
		{"CreateSession", func() error { return s.CreateSession(ctx, sess) }, "PutItem"},
		{"GetSession", func() error { return second(s.GetSession(ctx, sess.Hash)) }, "GetItem"},
		{"DeleteSession", func() error { return s.DeleteSession(ctx, sess.Hash) }, "DeleteItem"},
		{"UseAssertionID", func() error { return s.UseAssertionID(ctx, "c", "j", exp) }, "PutItem"},
		{"UseAssertionID replayed", func() error {
			if err := s.UseAssertionID(ctx, "c", "j", exp); !errors.Is(err, oauth.ErrConflict) {
				return fmt.Errorf("error %v, want ErrConflict", err)
			}
			return nil
		}, "PutItem"},
	} {
		calls.Reset()
		if err := c.call(); err != nil {
			t.Errorf("%s: %v", c.method, err)
		}
		if got := calls.Counts(); len(got) != 1 || got[c.want] != 1 {
			t.Errorf("%s made calls %v, want one %s", c.method, got, c.want)
		}
	}
}

// TestRedeemCodeOfOtherGrant: RedeemCode names the code's grant; a code of
// another grant, or a first token of another grant, is refused and nothing
// is written. One call either way.
func TestRedeemCodeOfOtherGrant(t *testing.T) {
	var calls dynamotest.Calls
	client := dynamotest.Client(t, calls.Option)
	s := dynamostore.New(client, dynamotest.CreateTables(t, client))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	c := &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: oauth.RandomToken(), ExpiresAt: exp}
	mustOK(t, s.CreateCode(ctx, c))

	calls.Reset()
	if err := s.RedeemCode(ctx, c.Hash, "another-grant", nil); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("RedeemCode with another grant id: error %v, want ErrNotFound", err)
	}
	if got := calls.Counts(); got["TransactWriteItems"] != 1 || len(got) != 1 {
		t.Errorf("RedeemCode made calls %v, want one TransactWriteItems", got)
	}
	first := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: "another-grant", ExpiresAt: exp}
	if err := s.RedeemCode(ctx, c.Hash, c.GrantID, first); err == nil {
		t.Error("RedeemCode with a token of another grant: no error")
	}
	if _, err := s.GetRefreshToken(ctx, first.GrantID, first.Hash); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("token of another grant stored: %v", err)
	}
	if got, err := s.GetCode(ctx, c.Hash); err != nil || got.Redeemed {
		t.Fatalf("code after refused redemptions = %+v, %v; want unredeemed", got, err)
	}
	mustOK(t, s.RedeemCode(ctx, c.Hash, c.GrantID, nil))
}

// TestRedeemConcurrentlyMixed: racing redemptions with and without a
// refresh token, on stores that have and have not seen the code: one wins.
func TestRedeemConcurrentlyMixed(t *testing.T) {
	client := dynamotest.Client(t)
	tables := dynamotest.CreateTables(t, client)
	s := dynamostore.New(client, tables)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	for range 3 {
		code := &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: oauth.RandomToken(), ExpiresAt: exp}
		mustOK(t, s.CreateCode(ctx, code))
		errs := race(50, func(i int) error {
			store := s
			if i%3 == 0 {
				store = dynamostore.New(client, tables) // another container
			}
			var first *oauth.RefreshToken
			if i%2 == 0 {
				first = &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: code.GrantID, ExpiresAt: exp}
			}
			return store.RedeemCode(ctx, code.Hash, code.GrantID, first)
		})
		oneWinner(t, errs)
	}
}

// TestRotateRacesRevocation: of rotations racing a revocation of their
// grant, at most one wins, and once RevokeGrant has returned the winner's
// token reads as revoked; the losers are ErrConflict.
func TestRotateRacesRevocation(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	old := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: oauth.RandomToken(), ExpiresAt: exp}
	mustOK(t, s.CreateRefreshToken(ctx, old))
	nexts := make([]*oauth.RefreshToken, 20)
	for i := range nexts {
		nexts[i] = &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: old.GrantID, ExpiresAt: exp}
	}
	errs := race(len(nexts)+1, func(i int) error {
		if i == len(nexts) {
			return s.RevokeGrant(ctx, old.GrantID, exp)
		}
		return s.RotateRefreshToken(ctx, old.Hash, nexts[i])
	})
	if err := errs[len(nexts)]; err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	wins := 0
	for i, err := range errs[:len(nexts)] {
		switch {
		case err == nil:
			wins++
			got, err := s.GetRefreshToken(ctx, old.GrantID, nexts[i].Hash)
			if err != nil || !got.GrantRevoked {
				t.Errorf("winning token = %+v, %v; want its grant revoked", got, err)
			}
		case !errors.Is(err, oauth.ErrConflict):
			t.Errorf("rotation %d: error %v, want ErrConflict", i, err)
		}
	}
	if wins > 1 {
		t.Errorf("%d rotations won", wins)
	}
}

// TestExpiredRecordsCanBeReplaced: an expired record that TTL has not
// deleted yet is as good as gone, as in memstore.
func TestExpiredRecordsCanBeReplaced(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := t.Context()
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	code := &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: "g", ExpiresAt: past}
	mustOK(t, s.CreateCode(ctx, code))
	code.ExpiresAt = future
	mustOK(t, s.CreateCode(ctx, code))
	rt := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: "g", ExpiresAt: past}
	mustOK(t, s.CreateRefreshToken(ctx, rt))
	rt.ExpiresAt = future
	mustOK(t, s.CreateRefreshToken(ctx, rt))
	sess := &oauth.Session{Hash: oauth.RandomToken(), ExpiresAt: past}
	mustOK(t, s.CreateSession(ctx, sess))
	sess.ExpiresAt = future
	mustOK(t, s.CreateSession(ctx, sess))
	if _, err := s.GetSession(ctx, sess.Hash); err != nil {
		t.Errorf("GetSession of the replacement: %v", err)
	}
}

// TestClockDecidesExpiry: Store.Now, not time.Now, decides expiry, in reads
// and in the conditions of writes alike.
func TestClockDecidesExpiry(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	code := &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: oauth.RandomToken(), ExpiresAt: exp}
	mustOK(t, s.CreateCode(ctx, code))
	rt := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: oauth.RandomToken(), ExpiresAt: exp}
	mustOK(t, s.CreateRefreshToken(ctx, rt))
	mustOK(t, s.RevokeAccessToken(ctx, "jti", exp))

	s.Now = func() time.Time { return exp }
	if _, err := s.GetCode(ctx, code.Hash); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("GetCode at expiry: error %v, want ErrNotFound", err)
	}
	if err := s.RedeemCode(ctx, code.Hash, code.GrantID, nil); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("RedeemCode at expiry: error %v, want ErrNotFound", err)
	}
	next := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: rt.GrantID, ExpiresAt: exp.Add(time.Hour)}
	if err := s.RotateRefreshToken(ctx, rt.Hash, next); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("RotateRefreshToken at expiry: error %v, want ErrNotFound", err)
	}
	if revoked, err := s.AccessTokenRevoked(ctx, "jti", ""); err != nil || revoked {
		t.Errorf("AccessTokenRevoked at the revocation's end = %v, %v; want false", revoked, err)
	}
	s.Now = func() time.Time { return exp.Add(-time.Second) }
	if err := s.RedeemCode(ctx, code.Hash, code.GrantID, nil); err != nil {
		t.Errorf("RedeemCode a second before expiry: %v", err)
	}
}

// Faults. These inject errors through the SDK's middleware stack, so the
// store sees exactly what the SDK would hand it.

// TestThrottlingIsUnavailable: throttling that outlasts the SDK's retries
// is ErrUnavailable, for plain calls and for cancelled transactions.
func TestThrottlingIsUnavailable(t *testing.T) {
	client := dynamotest.Client(t)
	tables := dynamotest.CreateTables(t, client)
	s := dynamostore.New(client, tables)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	code := &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: "g", ExpiresAt: exp}
	mustOK(t, s.CreateCode(ctx, code))
	throttled := dynamostore.New(dynamotest.Client(t, noRetries, failWith(func(string) error {
		return &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
	})), tables)
	if _, err := throttled.GetCode(ctx, code.Hash); !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("GetCode throttled: error %v, want ErrUnavailable", err)
	}
	if _, err := throttled.GetRefreshToken(ctx, "g", "h"); !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("GetRefreshToken throttled: error %v, want ErrUnavailable", err)
	}
	canceledFor := dynamostore.New(dynamotest.Client(t, failWith(func(op string) error {
		return cancellation(op, "ThrottlingError")
	})), tables)
	first := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: "g", ExpiresAt: exp}
	if err := canceledFor.RedeemCode(ctx, code.Hash, first.GrantID, first); !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("RedeemCode cancelled for throttling: error %v, want ErrUnavailable", err)
	}
	if err := canceledFor.RotateRefreshToken(ctx, "h", first); !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("RotateRefreshToken cancelled for throttling: error %v, want ErrUnavailable", err)
	}
}

// TestTransactionConflictIsConflict: a transaction cancelled because
// another transaction held an item lost a race: ErrConflict.
func TestTransactionConflictIsConflict(t *testing.T) {
	s := dynamotest.NewStore(t, failWith(func(op string) error { return cancellation(op, "TransactionConflict") }))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	first := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: "g", ExpiresAt: exp}
	if err := s.RedeemCode(ctx, "h", first.GrantID, first); !errors.Is(err, oauth.ErrConflict) {
		t.Errorf("RedeemCode: error %v, want ErrConflict", err)
	}
	if err := s.RotateRefreshToken(ctx, "h", first); !errors.Is(err, oauth.ErrConflict) {
		t.Errorf("RotateRefreshToken: error %v, want ErrConflict", err)
	}
}

// TestRevokeRetriesTransactionConflicts: a revocation that meets an
// in-flight rotation (TransactionConflictException) is retried, and is
// ErrUnavailable only if the conflicts persist.
func TestRevokeRetriesTransactionConflicts(t *testing.T) {
	var failures atomic.Int64
	s := dynamotest.NewStore(t, fastRetries, failInRetryLoop(func(op string) error {
		if op == "UpdateItem" && failures.Add(-1) >= 0 {
			return &types.TransactionConflictException{Message: aws.String("in a transaction")}
		}
		return nil
	}))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)

	failures.Store(2)
	mustOK(t, s.RevokeGrant(ctx, "g", exp))
	if revoked, err := s.AccessTokenRevoked(ctx, "j", "g"); err != nil || !revoked {
		t.Errorf("after RevokeGrant with two conflicts: revoked = %v, %v", revoked, err)
	}
	failures.Store(100)
	if err := s.RevokeAccessToken(ctx, "j", exp); !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("RevokeAccessToken with endless conflicts: error %v, want ErrUnavailable", err)
	}
}

// TestUnprocessedKeys: BatchGetItem keys that DynamoDB leaves unprocessed
// are asked for again, a few times, then the read is ErrUnavailable.
func TestUnprocessedKeys(t *testing.T) {
	var unprocessed atomic.Int64
	var calls dynamotest.Calls
	s := dynamotest.NewStore(t, calls.Option, leaveUnprocessed(&unprocessed))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	rt := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: "g", ExpiresAt: exp}
	mustOK(t, s.CreateRefreshToken(ctx, rt))
	mustOK(t, s.RevokeGrant(ctx, "g", exp))

	unprocessed.Store(2)
	calls.Reset()
	got, err := s.GetRefreshToken(ctx, "g", rt.Hash)
	if err != nil || !got.GrantRevoked {
		t.Errorf("GetRefreshToken after two unprocessed answers = %+v, %v", got, err)
	}
	if n := calls.Count("BatchGetItem"); n != 3 {
		t.Errorf("BatchGetItem calls = %d, want 3", n)
	}
	unprocessed.Store(100)
	if _, err := s.GetRefreshToken(ctx, "g", rt.Hash); !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("GetRefreshToken, always unprocessed: error %v, want ErrUnavailable", err)
	}
	if _, err := s.AccessTokenRevoked(ctx, "j", "g"); !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("AccessTokenRevoked, always unprocessed: error %v, want ErrUnavailable", err)
	}
}

// noRetries makes the SDK give up after the first attempt.
func noRetries(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }

// fastRetries retries without waiting.
func fastRetries(o *dynamodb.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 3
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
}

// failWith answers every call for which fault returns an error with that
// error, before it reaches DynamoDB (and before the SDK's retries).
func failWith(fault func(op string) error) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("test.fault",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
					middleware.InitializeOutput, middleware.Metadata, error,
				) {
					if err := fault(middleware.GetOperationName(ctx)); err != nil {
						return middleware.InitializeOutput{}, middleware.Metadata{}, err
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	}
}

// failInRetryLoop is failWith inside the SDK's retry loop: each attempt
// asks fault.
func failInRetryLoop(fault func(op string) error) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("test.fault",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
					middleware.FinalizeOutput, middleware.Metadata, error,
				) {
					if err := fault(middleware.GetOperationName(ctx)); err != nil {
						return middleware.FinalizeOutput{}, middleware.Metadata{}, err
					}
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	}
}

// cancellation is a TransactionCanceledException for op TransactWriteItems
// whose first action failed with reason; nil for other operations.
func cancellation(op, reason string) error {
	if op != "TransactWriteItems" {
		return nil
	}
	return &types.TransactionCanceledException{
		Message: aws.String(fmt.Sprintf("Transaction cancelled [%s]", reason)),
		CancellationReasons: []types.CancellationReason{
			{Code: aws.String(reason)}, {Code: aws.String("None")}, {Code: aws.String("None")},
		},
	}
}

// leaveUnprocessed makes the next *n BatchGetItem answers return every key
// as unprocessed, as DynamoDB does under throttling.
func leaveUnprocessed(n *atomic.Int64) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("test.unprocessed",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
					middleware.InitializeOutput, middleware.Metadata, error,
				) {
					out, md, err := next.HandleInitialize(ctx, in)
					req, ok := in.Parameters.(*dynamodb.BatchGetItemInput)
					if err == nil && ok && n.Add(-1) >= 0 {
						res := out.Result.(*dynamodb.BatchGetItemOutput)
						res.Responses, res.UnprocessedKeys = nil, req.RequestItems
					}
					return out, md, err
				}), middleware.After)
		})
	}
}

// captureCreateTable records the CreateTable requests by table name.
func captureCreateTable(into *sync.Map) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("test.captureCreateTable",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
					middleware.InitializeOutput, middleware.Metadata, error,
				) {
					if req, ok := in.Parameters.(*dynamodb.CreateTableInput); ok {
						into.Store(aws.ToString(req.TableName), req)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

// setScanLimit makes every Scan return at most n items a page.
func setScanLimit(n int32) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("test.scanLimit",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
					middleware.InitializeOutput, middleware.Metadata, error,
				) {
					if scan, ok := in.Parameters.(*dynamodb.ScanInput); ok {
						scan.Limit = aws.Int32(n)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

// race calls fn(0) … fn(n-1) in n goroutines released at once.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func oneWinner(t *testing.T, errs []error) {
	t.Helper()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, oauth.ErrConflict):
			t.Errorf("call %d: error %v, want ErrConflict", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d calls won, want 1", wins)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
