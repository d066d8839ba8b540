// Package dynamotest gives tests a DynamoDB Local client and a
// dynamostore.Store on fresh tables.
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
package dynamotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
)

// EnvEndpoint is the variable naming DynamoDB Local's URL, the one the AWS
// SDK itself reads.
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

// Client returns a client for DynamoDB Local, skipping t without one (see
// Endpoint). Credentials and region come from the usual variables, or are
// dummies ("local", us-east-1); the shared AWS config files are not read.
// Response checksum validation is off (DynamoDB Local's error responses
// would log checksum noise). optFns may add middlewares, such as a Calls
// counter or a fault injector, through Options.APIOptions.
func Client(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	t.Helper()
	endpoint := Endpoint(t)
	region := envOr("AWS_REGION", envOr("AWS_DEFAULT_REGION", "us-east-1"))
	opts := dynamodb.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(
			envOr("AWS_ACCESS_KEY_ID", "local"), envOr("AWS_SECRET_ACCESS_KEY", "local"), ""),
		DisableValidateResponseChecksum: true,
	}
	return dynamodb.New(opts, optFns...)
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
// Local (see Endpoint). optFns configure its client, as in Client.
func NewStore(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamostore.Store {
	t.Helper()
	client := Client(t, optFns...)
	return dynamostore.New(client, CreateTables(t, client))
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

// DeleteTables deletes the tables, reporting failures other than a table
// that does not exist.
func DeleteTables(t testing.TB, client *dynamodb.Client, tables dynamostore.Tables) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range []string{tables.Clients, tables.Users, tables.Codes, tables.Tokens, tables.Sessions} {
		_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		if err != nil && !isNotFound(err) {
			t.Errorf("deleting test table %s: %v", name, err)
		}
	}
}

func isNotFound(err error) bool {
	var rnf *types.ResourceNotFoundException
	return errors.As(err, &rnf)
}

// Calls counts the DynamoDB operations a client makes, by name
// ("GetItem", "TransactWriteItems", ...), once per operation however often
// the SDK retries it. Add it with Client(t, calls.Option) and read it with
// Count, Total and Reset; it is safe for concurrent use.
type Calls struct {
	mu     sync.Mutex
	counts map[string]int
}

// Option installs the counter on a client (a dynamodb.Options function).
func (c *Calls) Option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("dynamotest.Calls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
				middleware.InitializeOutput, middleware.Metadata, error,
			) {
				c.add(middleware.GetOperationName(ctx))
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

func (c *Calls) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[op]++
}

// Count returns how many op calls were made since the last Reset.
func (c *Calls) Count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[op]
}

// Total returns how many calls of any operation were made since the last
// Reset.
func (c *Calls) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}

// Counts returns a copy of the counts by operation since the last Reset.
func (c *Calls) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// Reset sets every count to zero.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = nil
}
