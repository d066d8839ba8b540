package dynamostore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
	client := dynamostore.NewClient(aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials:  credentials.NewStaticCredentialsProvider("id", "secret", ""),
	}, dynamotest.Count(&calls))
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
	var creates sync.Map // table name → CreateTable request
	client := dynamotest.Client(t, dynamotest.Count(&calls), capture("CreateTable", func(body []byte) {
		var in createTableRequest
		if err := json.Unmarshal(body, &in); err != nil {
			t.Errorf("CreateTable request: %v", err)
		}
		creates.Store(in.TableName, in)
	}))
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
		mustOK(t, err)
		tab := d.Table
		if tab.TableStatus != types.TableStatusActive {
			t.Errorf("%s: status %s", c.table, tab.TableStatus)
		}
		if ks := tab.KeySchema; len(ks) != 1 || aws.ToString(ks[0].AttributeName) != c.key || ks[0].KeyType != types.KeyTypeHash {
			t.Errorf("%s: key schema %+v, want partition key %s", c.table, ks, c.key)
		}
		wantDefs := 1
		if c.table == tables.Users {
			// The users table's subject index (OpenID Connect UserInfo).
			wantDefs = 2
			if g := tab.GlobalSecondaryIndexes; len(g) != 1 || aws.ToString(g[0].IndexName) != dynamostore.SubjectIndex ||
				aws.ToString(g[0].KeySchema[0].AttributeName) != "subject" || g[0].Projection.ProjectionType != types.ProjectionTypeInclude ||
				!slices.Equal(g[0].Projection.NonKeyAttributes, []string{"claims"}) {
				t.Errorf("%s: indexes %+v, want %s on subject projecting claims", c.table, g, dynamostore.SubjectIndex)
			}
		}
		if ad := tab.AttributeDefinitions; len(ad) != wantDefs || aws.ToString(ad[0].AttributeName) != c.key || ad[0].AttributeType != types.ScalarAttributeTypeS {
			t.Errorf("%s: attribute definitions %+v, want %s of type S", c.table, ad, c.key)
		}
		if tab.BillingModeSummary == nil || tab.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
			t.Errorf("%s: billing %+v, want PAY_PER_REQUEST", c.table, tab.BillingModeSummary)
		}
		// DynamoDB Local does not describe encryption: check the request.
		if in, ok := creates.Load(c.table); !ok {
			t.Errorf("%s: no CreateTable request seen", c.table)
		} else if sse := in.(createTableRequest).SSESpecification; sse == nil || !sse.Enabled {
			t.Errorf("%s: CreateTable with SSESpecification %+v, want enabled", c.table, sse)
		}
		if got, want := describeTTL(t, client, c.table), map[bool]string{true: "ENABLED expires_at", false: "DISABLED"}[c.ttl]; got != want {
			t.Errorf("%s: TTL %s, want %s", c.table, got, want)
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
		mustOK(t, err)
		err = dynamostore.New(client, tables).CreateTables(ctx)
		if err == nil || !strings.Contains(err.Error(), tables.Sessions) || !strings.Contains(err.Error(), "ttl") {
			t.Fatalf("CreateTables over a table with TTL on ttl: error %v", err)
		}
	})
	// A users table made before the subject index existed gets it, and
	// the users already in it are found by subject: no step for the
	// operator but running tables create (or deploying the template) again.
	t.Run("SubjectIndexMissing", func(t *testing.T) {
		tables := dynamotest.Tables()
		t.Cleanup(func() { dynamotest.DeleteTables(t, client, tables) })
		createTable(t, client, tables.Users, "username")
		s := dynamostore.New(client, tables)
		mustOK(t, s.PutUser(ctx, &oauth.User{Username: "old-alice", Subject: "sub-old-alice", PasswordHash: "h"}))
		mustOK(t, s.CreateTables(ctx))
		deadline := time.Now().Add(10 * time.Second)
		for {
			u, err := s.GetUserBySubject(ctx, "sub-old-alice")
			if err == nil && u.Username == "old-alice" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GetUserBySubject after CreateTables added the index: %v, %v", u, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("TTLMissing", func(t *testing.T) {
		tables := dynamotest.Tables()
		t.Cleanup(func() { dynamotest.DeleteTables(t, client, tables) })
		createTable(t, client, tables.Codes, "code_hash")
		if err := dynamostore.New(client, tables).CreateTables(ctx); err != nil {
			t.Fatal(err)
		}
		if got := describeTTL(t, client, tables.Codes); got != "ENABLED expires_at" {
			t.Errorf("TTL of an existing codes table: %s; want ENABLED on expires_at", got)
		}
	})
}

// createTableRequest is the part of CreateTable's request, as sent on the
// wire, that DynamoDB Local does not describe back.
type createTableRequest struct {
	TableName        string
	SSESpecification *struct{ Enabled bool }
}

// createTable creates table name with partition key key (a string).
func createTable(t *testing.T, client *dynamodb.Client, name, key string) {
	t.Helper()
	_, err := client.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            &name,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: &key, AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: &key, KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	mustOK(t, err)
}

// describeTTL returns the TTL status of table, and its attribute if any:
// "ENABLED expires_at", "DISABLED".
func describeTTL(t *testing.T, client *dynamodb.Client, table string) string {
	t.Helper()
	out, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: &table})
	mustOK(t, err)
	d := out.TimeToLiveDescription
	return strings.TrimSpace(string(d.TimeToLiveStatus) + " " + aws.ToString(d.AttributeName))
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
		"CreateCode":         {s.CreateCode(ctx, &oauth.AuthorizationCode{Hash: "h", GrantID: "g", ExpiresAt: exp}, nil), tables.Codes},
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
	var calls dynamotest.Calls
	s := dynamotest.NewStore(t, dynamotest.Count(&calls))
	dynamostore.SetScanLimit(s, 2)
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

	calls.Reset()
	list, err := s.ListClients(ctx)
	mustOK(t, err)
	if n := calls.Count("Scan"); n < 3 {
		t.Errorf("ListClients of 5 clients, 2 a page, made %d Scan calls, want 3 or more", n)
	}
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
	s := dynamotest.NewStore(t, dynamotest.Count(&calls))
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
		{"CreateCode", func() error { return s.CreateCode(ctx, code, nil) }, "PutItem"},
		{"GetCode", func() error { return second(s.GetCode(ctx, code.Hash)) }, "GetItem"},
		{"RedeemCode(first)", func() error { return s.RedeemCode(ctx, code.Hash, code.GrantID, rt) }, "TransactWriteItems"},
		{"CreateCode", func() error { return s.CreateCode(ctx, code2, nil) }, "PutItem"},
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
	client := dynamotest.Client(t, dynamotest.Count(&calls))
	s := dynamostore.New(client, dynamotest.CreateTables(t, client))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	c := &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: oauth.RandomToken(), ExpiresAt: exp}
	mustOK(t, s.CreateCode(ctx, c, nil))

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
		mustOK(t, s.CreateCode(ctx, code, nil))
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
	mustOK(t, s.CreateCode(ctx, code, nil))
	code.ExpiresAt = future
	mustOK(t, s.CreateCode(ctx, code, nil))
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
	mustOK(t, s.CreateCode(ctx, code, nil))
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

// Faults. These are injected on the wire (faults_test.go), so the store
// sees exactly what its client makes of DynamoDB's answers.

// TestThrottlingIsUnavailable: throttling that outlasts the client's
// retries is ErrUnavailable and ErrNotWritten, for plain calls and for
// cancelled transactions.
func TestThrottlingIsUnavailable(t *testing.T) {
	client := dynamotest.Client(t)
	tables := dynamotest.CreateTables(t, client)
	s := dynamostore.New(client, tables)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	code := &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: "g", ExpiresAt: exp}
	mustOK(t, s.CreateCode(ctx, code, nil))
	var calls dynamotest.Calls
	throttled := dynamostore.New(dynamotest.Client(t, fastRetries, failWith(func(string) *answer { return throttling() }), dynamotest.Count(&calls)), tables)
	if _, err := throttled.GetCode(ctx, code.Hash); !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("GetCode throttled: error %v, want ErrUnavailable", err)
	}
	if n := calls.Count("GetItem"); n != 3 {
		t.Errorf("GetCode throttled: %d attempts, want 3 (throttling is retried)", n)
	}
	if _, err := throttled.GetRefreshToken(ctx, "g", "h"); !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("GetRefreshToken throttled: error %v, want ErrUnavailable", err)
	}
	for name, err := range map[string]error{
		"CreateCode":  throttled.CreateCode(ctx, &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: "g", ExpiresAt: exp}, nil),
		"RedeemCode":  throttled.RedeemCode(ctx, code.Hash, code.GrantID, nil),
		"RevokeGrant": throttled.RevokeGrant(ctx, "g", exp),
	} {
		if !errors.Is(err, oauth.ErrUnavailable) || !errors.Is(err, oauth.ErrNotWritten) {
			t.Errorf("%s throttled: error %v, want ErrUnavailable and ErrNotWritten", name, err)
		}
	}
	canceledFor := dynamostore.New(dynamotest.Client(t, failWith(func(op string) *answer {
		return cancellation(op, "ThrottlingError")
	})), tables)
	first := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: "g", ExpiresAt: exp}
	for name, err := range map[string]error{
		"RedeemCode":         canceledFor.RedeemCode(ctx, code.Hash, first.GrantID, first),
		"RotateRefreshToken": canceledFor.RotateRefreshToken(ctx, "h", first),
	} {
		if !errors.Is(err, oauth.ErrUnavailable) || !errors.Is(err, oauth.ErrNotWritten) {
			t.Errorf("%s cancelled for throttling: error %v, want ErrUnavailable and ErrNotWritten", name, err)
		}
	}
	if got, err := s.GetCode(ctx, code.Hash); err != nil || got.Redeemed {
		t.Errorf("code after throttled redemptions = %+v, %v; want unredeemed", got, err)
	}
}

// TestServerFaultIsUnavailable: a server fault (HTTP 5xx) or a network
// failure that outlasts the retries is ErrUnavailable but not
// ErrNotWritten: a write may have landed.
func TestServerFaultIsUnavailable(t *testing.T) {
	tables := dynamotest.CreateTables(t, dynamotest.Client(t))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	for name, opt := range map[string]func(*dynamodb.Options){
		"InternalServerError": failWith(func(string) *answer { return serverError() }),
		"unreachable":         unreachable("PutItem"),
	} {
		var calls dynamotest.Calls
		s := dynamostore.New(dynamotest.Client(t, fastRetries, opt, dynamotest.Count(&calls)), tables)
		err := s.CreateCode(ctx, &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: "g", ExpiresAt: exp}, nil)
		if !errors.Is(err, oauth.ErrUnavailable) || errors.Is(err, oauth.ErrNotWritten) {
			t.Errorf("%s: CreateCode: error %v, want ErrUnavailable without ErrNotWritten", name, err)
		}
		if name == "InternalServerError" && calls.Count("PutItem") != 3 {
			t.Errorf("%s: %d attempts, want 3 (server faults are retried)", name, calls.Count("PutItem"))
		}
	}
}

// TestLostResponses: a write whose responses are all lost may have
// landed: ErrUnavailable, not ErrNotWritten. When only the first is lost,
// the retry of a transaction that landed (same ClientRequestToken)
// succeeds, rather than failing on its own write.
func TestLostResponses(t *testing.T) {
	var lose, attempts atomic.Int64
	var tokens []string
	var mu sync.Mutex
	s := dynamotest.NewStore(t, fastRetries, loseResponses("TransactWriteItems", &lose, &attempts),
		capture("TransactWriteItems", func(body []byte) {
			var in struct{ ClientRequestToken string }
			_ = json.Unmarshal(body, &in)
			mu.Lock()
			tokens = append(tokens, in.ClientRequestToken)
			mu.Unlock()
		}))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	code := &oauth.AuthorizationCode{Hash: oauth.RandomToken(), GrantID: oauth.RandomToken(), ExpiresAt: exp}
	mustOK(t, s.CreateCode(ctx, code, nil))
	first := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: code.GrantID, ExpiresAt: exp}

	lose.Store(1)
	if err := s.RedeemCode(ctx, code.Hash, code.GrantID, first); err != nil {
		t.Fatalf("RedeemCode whose first response was lost: %v", err)
	}
	if n := attempts.Load(); n != 2 || len(tokens) != 2 || tokens[0] != tokens[1] || tokens[0] == "" {
		t.Fatalf("%d attempts with request tokens %q; want 2 with one token", n, tokens)
	}
	if got, err := s.GetCode(ctx, code.Hash); err != nil || !got.Redeemed {
		t.Errorf("code after RedeemCode = %+v, %v; want redeemed", got, err)
	}
	if _, err := s.GetRefreshToken(ctx, code.GrantID, first.Hash); err != nil {
		t.Errorf("first refresh token: %v", err)
	}
	if err := s.RedeemCode(ctx, code.Hash, code.GrantID, nil); !errors.Is(err, oauth.ErrConflict) {
		t.Errorf("a second redemption: error %v, want ErrConflict", err)
	}

	tokens = nil
	next := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: code.GrantID, ExpiresAt: exp}
	lose.Store(1)
	mustOK(t, s.RotateRefreshToken(ctx, first.Hash, next))
	if len(tokens) != 2 || tokens[0] != tokens[1] {
		t.Errorf("RotateRefreshToken's attempts sent request tokens %q, want one token twice", tokens)
	}

	tokens = nil
	lose.Store(100)
	last := &oauth.RefreshToken{Hash: oauth.RandomToken(), GrantID: code.GrantID, ExpiresAt: exp}
	err := s.RotateRefreshToken(ctx, next.Hash, last)
	if !errors.Is(err, oauth.ErrUnavailable) || errors.Is(err, oauth.ErrNotWritten) || errors.Is(err, oauth.ErrConflict) {
		t.Errorf("RotateRefreshToken, every response lost: error %v, want ErrUnavailable without ErrNotWritten", err)
	}
	if len(tokens) != 3 || tokens[0] != tokens[2] {
		t.Errorf("attempts sent request tokens %q, want one token thrice", tokens)
	}
	// It did land: the next rotation finds next rotated.
	if got, err := s.GetRefreshToken(ctx, code.GrantID, next.Hash); err != nil || !got.Rotated {
		t.Errorf("token after the lost rotation = %+v, %v; want rotated", got, err)
	}
	lose.Store(0)
	if err := s.RedeemCode(ctx, oauth.RandomToken(), "g", nil); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("a new call with a new token: error %v, want ErrNotFound", err)
	}
	if tokens[len(tokens)-1] == tokens[0] {
		t.Error("two calls sent the same request token")
	}
}

// TestTransactionConflictIsConflict: a transaction cancelled because
// another transaction held an item lost a race: ErrConflict.
func TestTransactionConflictIsConflict(t *testing.T) {
	s := dynamotest.NewStore(t, failWith(func(op string) *answer { return cancellation(op, "TransactionConflict") }))
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

// TestWritesRetryTransactionConflicts: a single-item write that meets an
// in-flight transaction (TransactionConflictException: refused, nothing
// written) is retried — a revocation meeting a rotation's ConditionCheck
// of the grant's marker, say — and is ErrUnavailable and ErrNotWritten
// only if the conflicts persist.
func TestWritesRetryTransactionConflicts(t *testing.T) {
	var failures atomic.Int64
	s := dynamotest.NewStore(t, fastRetries, failWith(func(op string) *answer {
		if (op == "UpdateItem" || op == "PutItem" || op == "DeleteItem") && failures.Add(-1) >= 0 {
			return transactionConflict()
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
	sess := &oauth.Session{Hash: oauth.RandomToken(), ExpiresAt: exp}
	failures.Store(2)
	mustOK(t, s.CreateSession(ctx, sess))
	failures.Store(2)
	mustOK(t, s.DeleteSession(ctx, sess.Hash))
	if _, err := s.GetSession(ctx, sess.Hash); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("GetSession after DeleteSession: error %v, want ErrNotFound", err)
	}
	failures.Store(100)
	if err := s.RevokeAccessToken(ctx, "j", exp); !errors.Is(err, oauth.ErrUnavailable) || !errors.Is(err, oauth.ErrNotWritten) {
		t.Errorf("RevokeAccessToken with endless conflicts: error %v, want ErrUnavailable and ErrNotWritten", err)
	}
}

// TestUnprocessedKeys: BatchGetItem keys that DynamoDB leaves unprocessed
// are asked for again, a few times, then the read is ErrUnavailable.
func TestUnprocessedKeys(t *testing.T) {
	var unprocessed atomic.Int64
	var calls dynamotest.Calls
	s := dynamotest.NewStore(t, dynamotest.Count(&calls), leaveUnprocessed(&unprocessed))
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

// TestUnreadableItems: an item of the wrong shape in a table (not written
// by this package) is an error naming the table, never a key, and neither
// ErrNotFound nor a zero value.
func TestUnreadableItems(t *testing.T) {
	client := dynamotest.Client(t)
	tables := dynamotest.CreateTables(t, client)
	s := dynamostore.New(client, tables)
	ctx := t.Context()
	later := time.Now().Add(time.Hour).Unix()
	S, N, BOOL := dynamotest.S, dynamotest.N, dynamotest.BOOL
	dynamotest.PutItem(t, client, tables.Clients, dynamotest.Item{"client_id": S("c-secret-id"),
		"redirect_uris": S("https://x/cb")})
	dynamotest.PutItem(t, client, tables.Users, dynamotest.Item{"username": S("alice"), "password_hash": N(1)})
	dynamotest.PutItem(t, client, tables.Codes, dynamotest.Item{"code_hash": S("code-hash"),
		"expires_at": N(later), "redeemed": S("no")})
	dynamotest.PutItem(t, client, tables.Tokens, dynamotest.Item{"pk": S("rt#token-hash"),
		"expires_at": N(later), "grant_id": S("g"), "rotated": BOOL(false), "scope": N(7)})
	dynamotest.PutItem(t, client, tables.Sessions, dynamotest.Item{"session_hash": S("session-hash"),
		"expires_at": N(later), "auth_time": S("yesterday")})
	for name, c := range map[string]struct {
		err        error
		table, key string
	}{
		"GetClient":       {second(s.GetClient(ctx, "c-secret-id")), tables.Clients, "c-secret-id"},
		"ListClients":     {second(s.ListClients(ctx)), tables.Clients, "c-secret-id"},
		"GetUser":         {second(s.GetUser(ctx, "alice")), tables.Users, "alice"},
		"GetCode":         {second(s.GetCode(ctx, "code-hash")), tables.Codes, "code-hash"},
		"GetRefreshToken": {second(s.GetRefreshToken(ctx, "g", "token-hash")), tables.Tokens, "token-hash"},
		"GetSession":      {second(s.GetSession(ctx, "session-hash")), tables.Sessions, "session-hash"},
	} {
		switch {
		case c.err == nil:
			t.Errorf("%s of an unreadable item: no error", name)
		case !strings.Contains(c.err.Error(), "unreadable item in table "+c.table):
			t.Errorf("%s: error %q, want one naming the unreadable item's table", name, c.err)
		case strings.Contains(c.err.Error(), c.key):
			t.Errorf("%s: error %q shows the item's key", name, c.err)
		case errors.Is(c.err, oauth.ErrNotFound) || errors.Is(c.err, oauth.ErrUnavailable):
			t.Errorf("%s: error %v is ErrNotFound or ErrUnavailable", name, c.err)
		}
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
