// Package dynamotest gives tests a DynamoDB Local client (the one
// dynamostore.NewClient configures, so tests run the production retryer),
// a dynamostore.Store on fresh tables, options that count or fail the
// client's requests on the wire, and raw item access for assertions.
//
// DynamoDB Local is found through AWS_ENDPOINT_URL_DYNAMODB, which `make
// test` sets after starting it (scripts/dynamodb-local.sh). Without it the
// tests that need DynamoDB skip, except under CI=true or
// GATEHOUSE_TEST_DYNAMODB=1, where they fail: there DynamoDB Local was
// promised. To run them by hand:
//
//	eval "$(scripts/dynamodb-local.sh start)"
//	go test ./shared/store/dynamostore/...
//	scripts/dynamodb-local.sh stop
//
// The API:
//
//	const EnvEndpoint = "AWS_ENDPOINT_URL_DYNAMODB"
//	const EnvRequired = "GATEHOUSE_TEST_DYNAMODB"
//	func Endpoint(t testing.TB) string
//	func Client(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client
//	func Tables() dynamostore.Tables
//	func NewStore(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamostore.Store
//	func CreateTables(t testing.TB, client *dynamodb.Client) dynamostore.Tables
//	func DeleteTables(t testing.TB, client *dynamodb.Client, tables dynamostore.Tables)
//
// Options for Client and NewStore (options.go):
//
//	type Calls = awstest.Calls                    // requests by operation, attempts included
//	func Count(calls *Calls) func(*dynamodb.Options)
//	func Wrap(wrap func(next http.RoundTripper) http.RoundTripper) func(*dynamodb.Options)
//	func NoRetryDelay(o *dynamodb.Options)       // the retryer, without its waits
//	func NoRetryQuota(o *dynamodb.Options)       // the retryer, without its retry quota
//	func FastRetries(o *dynamodb.Options)        // both
//	func MaxAttempts(n int) func(*dynamodb.Options)
//
// Raw items, for what a test wants to see in a table as DynamoDB holds it
// (items.go):
//
//	type Item map[string]types.AttributeValue
//	func S(v string) types.AttributeValue
//	func N(v int64) types.AttributeValue
//	func BOOL(v bool) types.AttributeValue
//	func SS(vs ...string) types.AttributeValue
//	func (it Item) Type(name string) string       // "S", "N", …; "" if absent
//	func (it Item) S(name string) string          // "" if absent or not an S
//	func (it Item) N(name string) (int64, bool)   // false if absent, not an N or not an integer
//	func (it Item) BOOL(name string) bool         // false if absent or not a BOOL
//	func (it Item) String() string                // {name=S:abc, …}, sorted by name
//	func GetItem(t testing.TB, client *dynamodb.Client, table string, key Item) Item  // nil if none
//	func ScanItems(t testing.TB, client *dynamodb.Client, table string) []Item
//	func PutItem(t testing.TB, client *dynamodb.Client, table string, it Item)
//
// For example, the grant id of an authorization code and the live refresh
// tokens of a grant:
//
//	code := dynamotest.GetItem(t, db, tables.Codes, dynamotest.Item{"code_hash": dynamotest.S(hash)})
//	grantID := code.S("grant_id")
//	for _, it := range dynamotest.ScanItems(t, db, tables.Tokens) {
//		exp, _ := it.N("expires_at")
//		if strings.HasPrefix(it.S("pk"), "rt#") && it.S("grant_id") == grantID && !it.BOOL("rotated") && now < exp { … }
//	}
package dynamotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
)

// EnvEndpoint is the variable naming DynamoDB Local's URL, the one the AWS
// SDK reads.
const EnvEndpoint = "AWS_ENDPOINT_URL_DYNAMODB"

// EnvRequired, set to 1, makes a missing DynamoDB Local fail the tests
// instead of skipping them (`make test` sets it when it started one).
const EnvRequired = "GATEHOUSE_TEST_DYNAMODB"

// Endpoint returns DynamoDB Local's URL. Without one it skips t, or fails it
// under CI=true or GATEHOUSE_TEST_DYNAMODB=1.
func Endpoint(t testing.TB) string {
	t.Helper()
	endpoint := os.Getenv(EnvEndpoint)
	if endpoint != "" {
		return endpoint
	}
	const how = "run `make test`, or start DynamoDB Local with " +
		"`eval \"$(scripts/dynamodb-local.sh start)\"` first"
	if os.Getenv("CI") == "true" || os.Getenv(EnvRequired) == "1" {
		t.Fatalf("%s is not set, and CI=true or %s=1 require DynamoDB Local: %s", EnvEndpoint, EnvRequired, how)
	}
	t.Skipf("DynamoDB Local is not running (%s is not set): %s", EnvEndpoint, how)
	return ""
}

// Client returns dynamostore.NewClient's client for DynamoDB Local,
// skipping t without one (see Endpoint). Credentials and region come from
// the usual variables, or are dummies ("local", us-east-1); the shared AWS
// config files are not read. optFns apply last: a counter (Count), a fault
// injector (Wrap), FastRetries, MaxAttempts, or any other SDK option.
func Client(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	t.Helper()
	cfg := aws.Config{
		Region:       envOr("AWS_REGION", envOr("AWS_DEFAULT_REGION", "us-east-1")),
		BaseEndpoint: aws.String(Endpoint(t)),
		Credentials: credentials.NewStaticCredentialsProvider(
			envOr("AWS_ACCESS_KEY_ID", "local"), envOr("AWS_SECRET_ACCESS_KEY", "local"), ""),
	}
	return dynamostore.NewClient(cfg, optFns...)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// Tables returns table names unique to one test: gatehouse-test-<random>-
// clients and so on.
func Tables() dynamostore.Tables {
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "gatehouse-test-" + hex.EncodeToString(b[:]) + "-"
	return dynamostore.Tables{
		Clients:  prefix + "clients",
		Users:    prefix + "users",
		Codes:    prefix + "codes",
		Tokens:   prefix + "tokens",
		Sessions: prefix + "sessions",
	}
}

// NewStore returns a store on freshly created, uniquely named tables
// (CreateTables), which t's cleanup deletes. It skips t without DynamoDB
// Local (see Endpoint). optFns configure its client, as in Client; the
// tables are created and deleted through a plain client, so counters and
// fault injectors see only the store's calls.
func NewStore(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamostore.Store {
	t.Helper()
	tables := CreateTables(t, Client(t))
	return dynamostore.New(Client(t, optFns...), tables)
}

// CreateTables creates a fresh, uniquely named set of tables with
// dynamostore's CreateTables and returns their names; t's cleanup deletes
// them.
func CreateTables(t testing.TB, client *dynamodb.Client) dynamostore.Tables {
	t.Helper()
	tables := Tables()
	t.Cleanup(func() { DeleteTables(t, client, tables) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dynamostore.New(client, tables).CreateTables(ctx); err != nil {
		t.Fatalf("creating the test tables: %v", err)
	}
	return tables
}

// DeleteTables deletes the tables (DeleteTable), reporting failures other
// than a table that does not exist.
func DeleteTables(t testing.TB, client *dynamodb.Client, tables dynamostore.Tables) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range []string{tables.Clients, tables.Users, tables.Codes, tables.Tokens, tables.Sessions} {
		_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &name})
		var rnf *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &rnf) {
			t.Errorf("deleting test table %s: %v", name, err)
		}
	}
}
