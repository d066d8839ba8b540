package app

import (
	"context"
	"log/slog"
	"os"

	"github.com/gatehouse/gatehouse/shared/apigw"
	"github.com/gatehouse/gatehouse/shared/config"
)

// StartLambda runs the Lambda function name: configuration from the
// environment, the wired handler, then the Lambda runtime loop. Bad
// configuration exits at once, failing the function's initialization.
func StartLambda(name string) {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		Exit(name, err)
	}
	logger := NewLogger(os.Stderr, cfg.LogLevel, true).With("function", name)
	slog.SetDefault(logger)
	a, err := Build(context.Background(), cfg, logger)
	if err != nil {
		Exit(name, err)
	}
	h, err := FunctionHandler(a, name)
	if err != nil {
		Exit(name, err)
	}
	apigw.Start(h)
}
