package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/gatehouse/gatehouse/shared/app"
)

func TestLambdaLoggerAddsTheRequestID(t *testing.T) {
	var buf bytes.Buffer
	logger := app.NewLambdaLogger(&buf, slog.LevelInfo, "token")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})

	logger.InfoContext(ctx, "request", "endpoint", "token")
	logger.With("k", "v").InfoContext(ctx, "with attrs")
	logger.Info("start-up") // no Lambda context: no request id
	logger.DebugContext(ctx, "below the level")

	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines; want 3:\n%s", len(lines), buf.String())
	}
	want := []map[string]any{
		{"msg": "request", "function": "token", "endpoint": "token", app.RequestIDKey: "req-1"},
		{"msg": "with attrs", "function": "token", "k": "v", app.RequestIDKey: "req-1"},
		{"msg": "start-up", "function": "token", app.RequestIDKey: nil},
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("line %d: %s = %v; want %v (%s)", i, k, got[k], v, line)
			}
		}
	}
}

// The request id is added to a copy of the record: a handler shared by
// several loggers never sees another request's id.
func TestWithRequestIDDoesNotLeakAcrossRecords(t *testing.T) {
	var buf bytes.Buffer
	h := app.WithRequestID(slog.NewJSONHandler(&buf, nil))
	logger := slog.New(h)
	for _, id := range []string{"a", "b"} {
		ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
		logger.InfoContext(ctx, "x", "one", 1, "two", 2, "three", 3, "four", 4, "five", 5, "six", 6)
	}
	if strings.Count(buf.String(), `"aws_request_id"`) != 2 || !strings.Contains(buf.String(), `"aws_request_id":"b"`) {
		t.Errorf("output:\n%s", buf.String())
	}
}
