package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
)

// AWSConfigLoader loads the AWS SDK configuration Build makes its DynamoDB
// and KMS clients from: EnvAWSConfig (the default), or the SDK's
// config.LoadDefaultConfig (WithAWSConfig).
type AWSConfigLoader func(ctx context.Context) (aws.Config, error)

// WithAWSConfig makes Build create the AWS clients it is not given
// (WithDynamoDBClient, WithKMSClient) from load's configuration instead of
// EnvAWSConfig's. The gatehouse command passes the SDK's
// config.LoadDefaultConfig, so that profiles, SSO and the shared files
// work on a developer's machine.
func WithAWSConfig(load AWSConfigLoader) Option {
	return func(o *options) { o.awsConfig = load }
}

// EnvAWSConfig returns the AWS configuration of a Lambda function:
// what Lambda puts in its environment, read as the SDK's
// config.LoadDefaultConfig reads it
// (https://docs.aws.amazon.com/sdkref/latest/guide/settings-reference.html):
//
//	AWS_REGION, AWS_DEFAULT_REGION            the region
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, the credentials (Lambda's: the
//	AWS_SESSION_TOKEN, AWS_ACCOUNT_ID         execution role's)
//	AWS_CONTAINER_CREDENTIALS_FULL_URI,       a credentials endpoint, used
//	AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)  when no keys are set
//	AWS_ENDPOINT_URL_<SERVICE>,               endpoints (DynamoDB Local, a KMS
//	AWS_ENDPOINT_URL,                         double), unless ignored
//	AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
//	AWS_MAX_ATTEMPTS, AWS_RETRY_MODE          retries (dynamostore.NewClient
//	                                          and kmssigner.NewClient start
//	                                          from them, see their retryers)
//	AWS_USE_FIPS_ENDPOINT,                    endpoint variants
//	AWS_USE_DUALSTACK_ENDPOINT
//
// and nothing else: no shared config or credentials files, profiles, SSO,
// web identity, process credentials or instance metadata, which a Lambda
// function never uses. Linking them (config.LoadDefaultConfig links the
// STS, SSO, SSO OIDC and sign-in clients) would cost every bootstrap about
// 1.8 MB and 0.6 ms of initialization.
//
// It makes no network call. It fails only on a malformed value; missing
// credentials fail the first request, as with the SDK.
func EnvAWSConfig(ctx context.Context) (aws.Config, error) { return awsConfigFromEnv(os.Getenv) }

func awsConfigFromEnv(getenv func(string) string) (aws.Config, error) {
	first := func(names ...string) string {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	var errs []error
	cfg := aws.Config{
		Region:        first("AWS_REGION", "AWS_DEFAULT_REGION"),
		ConfigSources: []any{envSource{getenv}},
	}

	id, secret := first("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"), first("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	switch uri := getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"); {
	case id != "" && secret != "":
		cfg.Credentials = credentials.StaticCredentialsProvider{Value: aws.Credentials{
			AccessKeyID: id, SecretAccessKey: secret, SessionToken: getenv("AWS_SESSION_TOKEN"),
			AccountID: getenv("AWS_ACCOUNT_ID"), Source: "EnvConfigCredentials",
		}}
	case uri != "":
		cfg.Credentials = aws.NewCredentialsCache(endpointcreds.New(uri, func(o *endpointcreds.Options) {
			o.AuthorizationToken = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
			if file := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); file != "" {
				o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
					b, err := os.ReadFile(file)
					return strings.TrimSpace(string(b)), err
				})
			}
		}))
	default:
		cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set " +
				"(Lambda sets them to the execution role's credentials)")
		})
	}

	if v := getenv("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("AWS_MAX_ATTEMPTS=%s: want a positive number of attempts", v))
		}
		cfg.RetryMaxAttempts = n
	}
	if v := getenv("AWS_RETRY_MODE"); v != "" {
		mode, err := aws.ParseRetryMode(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("AWS_RETRY_MODE=%s: %w", v, err))
		}
		cfg.RetryMode = mode
	}
	src := envSource{getenv}
	if ignore, _, _ := src.GetIgnoreConfiguredEndpoints(context.Background()); !ignore {
		if v := getenv("AWS_ENDPOINT_URL"); v != "" {
			cfg.BaseEndpoint = aws.String(v)
		}
	}
	for _, name := range []string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"} {
		if _, err := parseEnvBool(getenv(name)); err != nil {
			errs = append(errs, fmt.Errorf("%s=%s: %w", name, getenv(name), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	return cfg, nil
}

// envSource answers the service clients' questions about the environment
// (aws.Config.ConfigSources): service endpoints and endpoint variants.
type envSource struct{ getenv func(string) string }

// GetServiceBaseEndpoint returns AWS_ENDPOINT_URL_<SDK ID>, the SDK ID
// upper-cased with spaces as underscores (AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_KMS), unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is
// true.
func (s envSource) GetServiceBaseEndpoint(ctx context.Context, sdkID string) (string, bool, error) {
	if ignore, _, _ := s.GetIgnoreConfiguredEndpoints(ctx); ignore {
		return "", false, nil
	}
	v := s.getenv("AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_"))
	return v, v != "", nil
}

// GetIgnoreConfiguredEndpoints reports AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (s envSource) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	v, err := parseEnvBool(s.getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))
	return v, err == nil && s.getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") != "", nil
}

// GetUseFIPSEndpoint reports AWS_USE_FIPS_ENDPOINT.
func (s envSource) GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error) {
	switch v, err := parseEnvBool(s.getenv("AWS_USE_FIPS_ENDPOINT")); {
	case err != nil || s.getenv("AWS_USE_FIPS_ENDPOINT") == "":
		return aws.FIPSEndpointStateUnset, false, nil
	case v:
		return aws.FIPSEndpointStateEnabled, true, nil
	default:
		return aws.FIPSEndpointStateDisabled, true, nil
	}
}

// GetUseDualStackEndpoint reports AWS_USE_DUALSTACK_ENDPOINT.
func (s envSource) GetUseDualStackEndpoint(context.Context) (aws.DualStackEndpointState, bool, error) {
	switch v, err := parseEnvBool(s.getenv("AWS_USE_DUALSTACK_ENDPOINT")); {
	case err != nil || s.getenv("AWS_USE_DUALSTACK_ENDPOINT") == "":
		return aws.DualStackEndpointStateUnset, false, nil
	case v:
		return aws.DualStackEndpointStateEnabled, true, nil
	default:
		return aws.DualStackEndpointStateDisabled, true, nil
	}
}

// parseEnvBool parses an SDK boolean setting: "true" or "false", any case;
// empty is false.
func parseEnvBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errors.New(`want "true" or "false"`)
}
