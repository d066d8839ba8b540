package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
)

// The admin commands run in-process against DynamoDB Local (they skip
// without it; see dynamotest), each test on its own uniquely named tables.

// fastHasher keeps the user tests quick; the command's default is
// passwords.Default.
var fastHasher = passwords.Hasher{Memory: 64, Iterations: 1, Parallelism: 1}

type result struct {
	code           int
	stdout, stderr string
}

// harness runs gatehouse commands on fresh tables of DynamoDB Local.
type harness struct {
	t      *testing.T
	client *dynamodb.Client
	tables dynamostore.Tables
	store  *dynamostore.Store // to check what the commands stored
	env    map[string]string
	hasher *passwords.Hasher
}

// newHarness returns a harness whose tables do not exist yet.
func newHarness(t *testing.T) *harness {
	t.Helper()
	client := dynamotest.Client(t)
	tables := dynamotest.Tables()
	t.Cleanup(func() { dynamotest.DeleteTables(t, client, tables) })
	return &harness{
		t: t, client: client, tables: tables, store: dynamostore.New(client, tables),
		env: map[string]string{}, hasher: &fastHasher,
	}
}

// newOfflineHarness returns a harness for commands that must fail before
// they reach DynamoDB: it needs no DynamoDB Local, and any DynamoDB call
// fails the test.
func newOfflineHarness(t *testing.T) *harness {
	tables := dynamotest.Tables()
	return &harness{t: t, tables: tables, env: map[string]string{}, hasher: &fastHasher}
}

// newHarnessWithTables returns a harness whose tables `gatehouse tables
// create` has created.
func newHarnessWithTables(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.must(h.run("", append([]string{"tables", "create"}, h.allTableFlags()...)...))
	return h
}

func (h *harness) allTableFlags() []string {
	return []string{
		"--clients-table", h.tables.Clients, "--users-table", h.tables.Users, "--codes-table", h.tables.Codes,
		"--tokens-table", h.tables.Tokens, "--sessions-table", h.tables.Sessions,
	}
}

// run runs gatehouse args with stdin as standard input.
func (h *harness) run(stdin string, args ...string) result {
	h.t.Helper()
	var out, errOut bytes.Buffer
	c := &cli{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, env: mapEnv(h.env),
		dynamoDB: func(context.Context) (*dynamodb.Client, error) {
			if h.client == nil {
				h.t.Errorf("gatehouse %q: an offline test reached for DynamoDB", args)
				return nil, errors.New("no DynamoDB in this test")
			}
			return h.client, nil
		},
		hasher: h.hasher,
	}
	code := c.run(context.Background(), args)
	return result{code, out.String(), errOut.String()}
}

// clients runs `gatehouse clients args... --clients-table <the test's>`.
func (h *harness) clients(args ...string) result {
	h.t.Helper()
	return h.run("", append(append([]string{"clients"}, args...), "--clients-table", h.tables.Clients)...)
}

// users runs `gatehouse users args... --users-table <the test's>`.
func (h *harness) users(stdin string, args ...string) result {
	h.t.Helper()
	return h.run(stdin, append(append([]string{"users"}, args...), "--users-table", h.tables.Users)...)
}

// must fails the test unless r succeeded.
func (h *harness) must(r result) result {
	h.t.Helper()
	if r.code != 0 {
		h.t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	return r
}

// wantFail checks that r failed with code and that its stderr has every
// one of wants.
func wantFail(t *testing.T, r result, code int, wants ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d; want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
	return v
}

func TestTablesCreate(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	args := append([]string{"tables", "create"}, h.allTableFlags()...)
	for i := range 2 { // idempotent
		r := h.must(h.run("", args...))
		for _, name := range []string{h.tables.Clients, h.tables.Users, h.tables.Codes, h.tables.Tokens, h.tables.Sessions} {
			if !strings.Contains(r.stdout, name) {
				t.Errorf("run %d: stdout lacks %s:\n%s", i, name, r.stdout)
			}
		}
	}
	for _, name := range []string{h.tables.Codes, h.tables.Tokens, h.tables.Sessions} {
		out, err := h.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if d := out.TimeToLiveDescription; aws.ToString(d.AttributeName) != "expires_at" || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
			t.Errorf("table %s: TTL %s on %q", name, d.TimeToLiveStatus, aws.ToString(d.AttributeName))
		}
	}
	// The store works on them.
	if _, err := h.store.ListClients(ctx); err != nil {
		t.Errorf("ListClients: %v", err)
	}
}

// Without flags the table names come from the variables the functions
// read.
func TestTablesCreateFromEnvironment(t *testing.T) {
	h := newHarness(t)
	for i, env := range config.TableVariables {
		h.env[env] = []string{h.tables.Clients, h.tables.Users, h.tables.Codes, h.tables.Tokens, h.tables.Sessions}[i]
	}
	r := h.must(h.run("", "tables", "create"))
	if !strings.Contains(r.stdout, h.tables.Sessions) {
		t.Errorf("stdout: %s", r.stdout)
	}
	if _, err := h.store.ListClients(context.Background()); err != nil {
		t.Errorf("ListClients: %v", err)
	}
	// A flag overrides its variable.
	h.env[config.EnvUsersTable] = "bad/name"
	wantFail(t, h.run("", "tables", "create"), 1, "GATEHOUSE_USERS_TABLE: \"bad/name\" is not a valid DynamoDB table name")
	h.must(h.run("", "tables", "create", "--users-table", h.tables.Users))
}

func TestTablesCreateBadFlags(t *testing.T) {
	h := newOfflineHarness(t)
	wantFail(t, h.run("", "tables", "create", "--clients-table", "x"), 2, `--clients-table: "x" is not a valid DynamoDB table name`)
	wantFail(t, h.run("", "tables", "create", "--no-such-flag"), 2, "flag provided but not defined: -no-such-flag")
	wantFail(t, h.run("", "tables", "create", "extra"), 2, `unexpected argument "extra"`)
	wantFail(t, h.run("", "tables", "create", "--clients-table", "same-name", "--users-table", "same-name"), 1,
		`GATEHOUSE_USERS_TABLE: "same-name" is also the table of GATEHOUSE_CLIENTS_TABLE`)
	wantFail(t, h.run("", "tables"), 2, "Usage: gatehouse tables create")
	wantFail(t, h.run("", "tables", "drop"), 2, `unknown subcommand "drop"`)
}

// isolateAWS leaves the AWS SDK's default configuration nothing from this
// machine: no credentials, no profile or shared files, no instance
// metadata (a network call), and DynamoDB at a closed loopback port, so
// nothing can leave the machine.
func isolateAWS(t *testing.T) {
	t.Helper()
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_ENDPOINT_URL", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_REGION", "AWS_DEFAULT_REGION",
	} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://"+addr)
}

// The commands' own DynamoDB client, from the standard AWS configuration,
// explains missing credentials and a missing region. No DynamoDB needed.
func TestAdminAWSConfigurationErrors(t *testing.T) {
	isolateAWS(t)
	run := func(args ...string) result {
		var out, errOut bytes.Buffer
		c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, env: os.LookupEnv}
		return result{c.run(context.Background(), args), out.String(), errOut.String()}
	}
	t.Setenv("AWS_REGION", "us-east-1")
	wantFail(t, run("clients", "list"), 1, "gatehouse clients list: no AWS credentials found: configure them the standard AWS way",
		"AWS_PROFILE", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	wantFail(t, run("tables", "create"), 1, "gatehouse tables create: no AWS credentials found")

	os.Unsetenv("AWS_REGION")
	os.Unsetenv("AWS_ENDPOINT_URL_DYNAMODB")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	wantFail(t, run("clients", "get", "svc"), 1, "gatehouse clients get: no AWS region: set AWS_REGION")
}

// A closed DynamoDB Local port is named, with how to start it.
func TestAdminUnreachableEndpoint(t *testing.T) {
	isolateAWS(t)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	var out, errOut bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, env: os.LookupEnv}
	code := c.run(context.Background(), []string{"users", "delete", "--username", "alice"})
	wantFail(t, result{code, out.String(), errOut.String()}, 1,
		"cannot reach DynamoDB at AWS_ENDPOINT_URL_DYNAMODB="+os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"), "is DynamoDB Local running?")
}

// Every command names the missing table and says to create the tables.
func TestAdminMissingTables(t *testing.T) {
	h := newHarness(t) // no tables
	hint := "create the tables first with `gatehouse tables create`"
	for _, tt := range []struct {
		r    result
		want string
	}{
		{h.clients("list"), "gatehouse clients list: table " + h.tables.Clients + " does not exist"},
		{h.clients("get", "svc"), "gatehouse clients get: table " + h.tables.Clients + " does not exist"},
		{h.clients("delete", "svc"), "gatehouse clients delete: table " + h.tables.Clients + " does not exist"},
		{h.clients("rotate-secret", "svc"), "gatehouse clients rotate-secret: table " + h.tables.Clients + " does not exist"},
		{h.clients("create", "--grant-type", "client_credentials"), "gatehouse clients create: table " + h.tables.Clients + " does not exist"},
		{h.users("pw\n", "create", "--username", "alice"), "gatehouse users create: table " + h.tables.Users + " does not exist"},
		{h.users("", "delete", "--username", "alice"), "gatehouse users delete: table " + h.tables.Users + " does not exist"},
	} {
		wantFail(t, tt.r, 1, tt.want, hint)
	}
}
