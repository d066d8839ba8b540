package app

import (
	"context"
	"io"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// RequestIDKey is the log attribute carrying the Lambda invocation's
// request id (the id in the function's REPORT line and in CloudWatch's
// @requestId), so one request's lines can be found together.
const RequestIDKey = "aws_request_id"

// NewLambdaLogger returns the logger of Lambda function name: JSON lines
// on w at level, each with "function": name and, when logged with an
// invocation's context, its request id (WithRequestID).
func NewLambdaLogger(w io.Writer, level slog.Leveler, name string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(WithRequestID(h)).With("function", name)
}

// WithRequestID wraps h so that every record logged with a context that
// carries a Lambda invocation (lambdacontext.FromContext: the handler's
// context, and the *http.Request's, which apigw derives from it) gets the
// attribute aws_request_id. Records logged without one (start-up) are
// passed on unchanged.
//
// It lives here, in the wiring, so that shared/httpapi, which logs with the
// request's context, knows nothing of Lambda.
func WithRequestID(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ next slog.Handler }

func (h requestIDHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r = r.Clone()
		r.AddAttrs(slog.String(RequestIDKey, lc.AwsRequestID))
	}
	return h.next.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.next.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.next.WithGroup(name)}
}
