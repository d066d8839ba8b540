package app_test

import (
	"context"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/app/stores"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
)

// isolateAWS gives the AWS SDK's default configuration a fixed region and
// static credentials, and nothing else from this machine: no profile, no
// shared files, no instance metadata (which would be a network call).
func isolateAWS(t *testing.T) {
	t.Helper()
	for _, k := range []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_DEFAULT_REGION",
	} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
}

// Build with GATEHOUSE_STORE=dynamodb makes no network call (a Lambda
// function's initialization must stay fast), and its client, from the SDK's
// default configuration, follows AWS_ENDPOINT_URL_DYNAMODB.
func TestBuildDynamoDBNoNetworkAtBuild(t *testing.T) {
	var calls atomic.Int64
	var target atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		target.Store(r.Header.Get("X-Amz-Target"))
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte("{}"))), 10))
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	isolateAWS(t)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", srv.URL)

	a, err := buildEnv(t, map[string]string{config.EnvStore: "dynamodb", config.EnvClientsTable: "my-clients"})
	if err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("Build made %d requests; want none", n)
	}
	if _, ok := a.Backing.(*dynamostore.Store); !ok || a.Admin == nil {
		t.Fatalf("incomplete DynamoDB app: %+v", a)
	}
	if a.Store == oauth.Store(a.Backing) {
		t.Error("the server reads clients without the cache")
	}
	eq(t, a.Config.Tables.Clients, "my-clients")

	_, err = a.Store.GetClient(context.Background(), "svc")
	if calls.Load() == 0 {
		t.Fatalf("GetClient (%v) did not reach AWS_ENDPOINT_URL_DYNAMODB", err)
	}
	if got, _ := target.Load().(string); !strings.HasPrefix(got, "DynamoDB_20120810.") {
		t.Errorf("X-Amz-Target = %q", got)
	}
}

// freshTables creates a uniquely named set of tables, deleted after the
// test.
func freshTables(t *testing.T, client *dynamodb.Client) dynamostore.Tables {
	t.Helper()
	tables := dynamotest.Tables()
	t.Cleanup(func() { dynamotest.DeleteTables(t, client, tables) })
	if err := dynamostore.New(client, tables).CreateTables(context.Background()); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	return tables
}

func tableEnv(tables dynamostore.Tables) map[string]string {
	return map[string]string{
		config.EnvStore:         config.StoreDynamoDB,
		config.EnvClientsTable:  tables.Clients,
		config.EnvUsersTable:    tables.Users,
		config.EnvCodesTable:    tables.Codes,
		config.EnvTokensTable:   tables.Tokens,
		config.EnvSessionsTable: tables.Sessions,
	}
}

// A client-credentials grant through the token handler, on DynamoDB Local:
// one DynamoDB call on a cold cache (the client), none when it is warm
// (docs/design.md's budget: client_credentials 0 + 1).
func TestBuildDynamoDBClientCredentials(t *testing.T) {
	ctx := context.Background()
	var calls dynamotest.Calls
	client := dynamotest.Client(t, dynamotest.Count(&calls))
	tables := freshTables(t, client)
	secret := oauth.NewClientSecret()
	err := dynamostore.New(client, tables).CreateClient(ctx, &oauth.Client{
		ID: "svc", SecretHash: oauth.HashSecret(secret), GrantTypes: []string{oauth.GrantClientCredentials},
		Scopes: []string{"read", "write"}, TokenEndpointAuthMethod: oauth.AuthMethodBasic,
	})
	if err != nil {
		t.Fatal(err)
	}

	env := tableEnv(tables)
	env[config.EnvIssuer] = "https://auth.example.com"
	env[config.EnvSigningAlg] = "ES256"
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	calls.Reset()
	a, err := app.Build(ctx, cfg, discard, app.Parts{Stores: stores.WithDynamoDBClient(client), Passwords: allParts().Passwords})
	if err != nil {
		t.Fatal(err)
	}
	if n := calls.Total(); n != 0 {
		t.Errorf("Build made %d DynamoDB calls; want none", n)
	}
	h, err := app.FunctionHandler(a, app.FunctionToken)
	if err != nil {
		t.Fatal(err)
	}
	token := func(secret string) (int, map[string]any) {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
		req := httptest.NewRequest(http.MethodPost, "https://auth.example.com/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("svc", secret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("response %d %q: %v", rec.Code, rec.Body, err)
		}
		return rec.Code, body
	}

	for i, wantCalls := range []int{1, 1} { // cold, then warm
		code, body := token(secret)
		if code != http.StatusOK || body["access_token"] == nil || body["scope"] != "read" {
			t.Fatalf("request %d: %d %v", i, code, body)
		}
		if n := calls.Total(); n != wantCalls {
			t.Errorf("after request %d: DynamoDB calls %v; want %d in all", i, calls.Counts(), wantCalls)
		}
	}
	if code, body := token("wrong"); code != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", code, body)
	}
}
