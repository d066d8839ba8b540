package app_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/awstest"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
)

// setAWSEnv clears every AWS_* variable for the test, then sets env.
func setAWSEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// EnvAWSConfig reads what Lambda sets, as the SDK's LoadDefaultConfig
// would, and the clients Build makes from it find their endpoints.
func TestEnvAWSConfig(t *testing.T) {
	ctx := context.Background()
	setAWSEnv(t, map[string]string{
		"AWS_REGION":                "eu-west-1",
		"AWS_DEFAULT_REGION":        "us-west-2",
		"AWS_ACCESS_KEY_ID":         "ASIAEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":     "secret",
		"AWS_SESSION_TOKEN":         "token",
		"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
		"AWS_ENDPOINT_URL":          "http://127.0.0.1:9999",
		"AWS_MAX_ATTEMPTS":          "2",
		"AWS_RETRY_MODE":            "adaptive",
	})
	cfg, err := app.EnvAWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || cfg.RetryMaxAttempts != 2 || cfg.RetryMode != aws.RetryModeAdaptive {
		t.Errorf("region %q, attempts %d, mode %q", cfg.Region, cfg.RetryMaxAttempts, cfg.RetryMode)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil || creds.AccessKeyID != "ASIAEXAMPLE" || creds.SecretAccessKey != "secret" || creds.SessionToken != "token" {
		t.Errorf("credentials %+v, %v", creds, err)
	}

	// endpoint returns the URL a service client made from cfg calls, as
	// the SDK resolves it (the request is stopped at the HTTP client).
	endpoint := func(service string, cfg aws.Config) string {
		t.Helper()
		var got string
		capture := awstest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r.URL.Scheme + "://" + r.URL.Host
			return nil, errors.New("stopped by the test")
		})
		httpClient := &http.Client{Transport: capture}
		switch service {
		case "dynamodb":
			c := dynamostore.NewClient(cfg, func(o *dynamodb.Options) { o.HTTPClient = httpClient; o.RetryMaxAttempts = 1 })
			c.ListTables(ctx, &dynamodb.ListTablesInput{})
		case "kms":
			c := kmssigner.NewClient(cfg, func(o *kms.Options) { o.HTTPClient = httpClient; o.RetryMaxAttempts = 1 })
			c.ListKeys(ctx, &kms.ListKeysInput{})
		}
		if got == "" {
			t.Fatalf("the %s client sent no request", service)
		}
		return got
	}
	if got := endpoint("dynamodb", cfg); got != "http://127.0.0.1:8000" {
		t.Errorf("DynamoDB endpoint %s; want AWS_ENDPOINT_URL_DYNAMODB's", got)
	}
	if got := endpoint("kms", cfg); got != "http://127.0.0.1:9999" {
		t.Errorf("KMS endpoint %s; want AWS_ENDPOINT_URL's", got)
	}

	// The SDK refuses FIPS with a custom endpoint; without the endpoints
	// (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS) FIPS selects the regional
	// FIPS endpoints.
	t.Setenv("AWS_USE_FIPS_ENDPOINT", "true")
	t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
	cfg, err = app.EnvAWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := endpoint("dynamodb", cfg); got != "https://dynamodb-fips.eu-west-1.amazonaws.com" {
		t.Errorf("DynamoDB endpoint %s despite AWS_IGNORE_CONFIGURED_ENDPOINT_URLS; want the regional FIPS endpoint", got)
	}
	if got := endpoint("kms", cfg); got != "https://kms-fips.eu-west-1.amazonaws.com" {
		t.Errorf("KMS endpoint %s; want the regional FIPS endpoint", got)
	}
}

func TestEnvAWSConfigWithoutCredentials(t *testing.T) {
	setAWSEnv(t, map[string]string{"AWS_DEFAULT_REGION": "us-west-2"})
	cfg, err := app.EnvAWSConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "us-west-2" {
		t.Errorf("region %q; want AWS_DEFAULT_REGION's", cfg.Region)
	}
	if _, err := cfg.Credentials.Retrieve(context.Background()); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("Retrieve error %v; want one naming AWS_ACCESS_KEY_ID", err)
	}
}

func TestEnvAWSConfigRejectsMalformedValues(t *testing.T) {
	setAWSEnv(t, map[string]string{"AWS_MAX_ATTEMPTS": "many", "AWS_RETRY_MODE": "eager", "AWS_USE_FIPS_ENDPOINT": "yes"})
	_, err := app.EnvAWSConfig(context.Background())
	for _, want := range []string{"AWS_MAX_ATTEMPTS=many", "AWS_RETRY_MODE=eager", "AWS_USE_FIPS_ENDPOINT=yes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v; want it to name %s", err, want)
		}
	}
}

// Build reports a malformed AWS setting as a start-up failure naming it.
func TestBuildBadAWSEnvironment(t *testing.T) {
	setAWSEnv(t, map[string]string{"AWS_MAX_ATTEMPTS": "0"})
	_, err := buildEnv(t, map[string]string{"GATEHOUSE_STORE": "dynamodb"})
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_STORE=dynamodb: AWS configuration: AWS_MAX_ATTEMPTS=0") {
		t.Errorf("error %v", err)
	}
}
