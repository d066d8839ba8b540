package app_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/gatehouse/gatehouse/shared/app"
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
		"AWS_USE_FIPS_ENDPOINT":     "true",
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

	ddb := app.NewDynamoDBClient(cfg).Options()
	if ddb.BaseEndpoint == nil || *ddb.BaseEndpoint != "http://127.0.0.1:8000" || !ddb.DisableValidateResponseChecksum {
		t.Errorf("DynamoDB endpoint %v (checksums off: %v); want AWS_ENDPOINT_URL_DYNAMODB's", ddb.BaseEndpoint, ddb.DisableValidateResponseChecksum)
	}
	k := kms.NewFromConfig(cfg).Options()
	if k.BaseEndpoint == nil || *k.BaseEndpoint != "http://127.0.0.1:9999" {
		t.Errorf("KMS endpoint %v; want AWS_ENDPOINT_URL's", k.BaseEndpoint)
	}
	if k.EndpointOptions.UseFIPSEndpoint != aws.FIPSEndpointStateEnabled {
		t.Errorf("UseFIPSEndpoint %v", k.EndpointOptions.UseFIPSEndpoint)
	}

	t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
	cfg, err = app.EnvAWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ep := app.NewDynamoDBClient(cfg).Options().BaseEndpoint; ep != nil {
		t.Errorf("endpoint %q despite AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", *ep)
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
