package app

import (
	"context"
	"log/slog"
	"os"

	"github.com/gatehouse/gatehouse/shared/apigw"
	"github.com/gatehouse/gatehouse/shared/config"
)

// lambdaDefaults are what a Lambda function uses where its environment is
// silent: production's DynamoDB store and KMS key, not the local binary's
// memory and key file; and no implicit grant, which issues its token at the
// authorization endpoint, while on AWS only the token function may sign
// (template.yaml): the metadata must not advertise what the authorize
// function cannot do.
var lambdaDefaults = map[string]string{
	config.EnvStore:         config.StoreDynamoDB,
	config.EnvSigner:        config.SignerKMS,
	config.EnvImplicitGrant: "false",
}

// LambdaConfig reads a Lambda function's configuration: the environment,
// with lambdaDefaults for unset variables.
func LambdaConfig(getenv func(string) string) (config.Config, error) {
	return config.FromEnv(func(key string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return lambdaDefaults[key]
	})
}

// StartLambda runs the Lambda function name with the parts its endpoint
// uses (see Parts): configuration from the environment, the wired handler,
// then the Lambda runtime loop. Bad configuration exits at once, failing
// the function's initialization.
//
// Each request writes one JSON log line on standard error (NewLambdaLogger:
// with the invocation's aws_request_id) and one CloudWatch Embedded Metric
// Format line on standard output (EMF); Lambda sends both to the
// function's log group. Initialization makes no network call.
func StartLambda(name string, parts Parts) {
	cfg, err := LambdaConfig(os.Getenv)
	if err != nil {
		Exit(name, err)
	}
	logger := NewLambdaLogger(os.Stderr, cfg.LogLevel, name)
	slog.SetDefault(logger)
	a, err := Build(context.Background(), cfg, logger, parts, WithObserver(NewEMF(os.Stdout, name).Observe))
	if err != nil {
		Exit(name, err)
	}
	h, err := FunctionHandler(a, name)
	if err != nil {
		Exit(name, err)
	}
	apigw.Start(h)
}
