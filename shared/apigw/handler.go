package apigw

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// LambdaFunc is the Lambda handler signature for an API Gateway HTTP API
// proxy integration using payload format version 2.0. It is accepted by
// lambda.Start.
type LambdaFunc func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// ResponseReserve is the time Handler keeps back from an invocation's
// deadline for writing the answer: h's request context ends this much
// before Lambda stops the function. A DynamoDB or KMS call still retrying
// then fails in time for h to answer 503 temporarily_unavailable (RFC 6749
// §5.2), instead of the function timing out mid-request and API Gateway
// answering an opaque 503 of its own.
const ResponseReserve = 500 * time.Millisecond

// Handler adapts h to an API Gateway HTTP API (payload format 2.0) Lambda
// handler. For each event it builds the *http.Request net/http would have
// given h (see newRequest; its context is the Lambda ctx, so
// lambdacontext.FromContext reaches h, and its deadline is the
// invocation's less ResponseReserve), runs h
// against a buffering ResponseWriter, and converts what h wrote into the
// 2.0 response (see newResponse).
//
// The returned function never returns an error: Lambda would turn one into
// an opaque 500 from API Gateway. A body flagged base64 but undecodable is
// answered 400 invalid_request; a panic in h is recovered and answered 500
// {"error":"server_error"} (RFC 6749 §5.2 error shape), discarding anything
// h had written, and logged with log/slog. The log records only the panic,
// stack, method, path and API Gateway request ID; never the query, headers,
// cookies or body, which carry credentials (codes, client secrets, tokens).
func Handler(h http.Handler) LambdaFunc {
	return func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-ResponseReserve))
			defer cancel()
		}
		r, err := newRequest(ctx, &e)
		if err != nil {
			slog.WarnContext(ctx, "apigw: rejecting request",
				"reason", err.Error(),
				"request_id", e.RequestContext.RequestID,
				"method", e.RequestContext.HTTP.Method,
				"path", e.RawPath)
			return errorResponse(http.StatusBadRequest, "invalid_request", "request body is not valid base64"), nil
		}

		w := newRecorder()
		if !serve(h, w, r, &e) {
			return errorResponse(http.StatusInternalServerError, "server_error", ""), nil
		}
		status, header, body := w.result()
		return newResponse(r.Method, status, header, body), nil
	}
}

// Start runs h as the Lambda function's handler; it does not return.
// See Handler.
func Start(h http.Handler) {
	lambda.Start(Handler(h))
}

// serve runs h and reports whether it returned normally. A panic is logged
// and swallowed.
func serve(h http.Handler, w http.ResponseWriter, r *http.Request, e *events.APIGatewayV2HTTPRequest) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			slog.ErrorContext(r.Context(), "apigw: handler panic",
				"panic", fmt.Sprint(v),
				"request_id", e.RequestContext.RequestID,
				"method", r.Method,
				"path", r.URL.Path,
				"stack", string(debug.Stack()))
		}
	}()
	h.ServeHTTP(w, r)
	return true
}

// errorResponse is an OAuth-style JSON error answer (RFC 6749 §5.2), not
// cacheable (RFC 6749 §5.1). code and description must be JSON-safe
// literals.
func errorResponse(status int, code, description string) events.APIGatewayV2HTTPResponse {
	body := `{"error":"` + code + `"}`
	if description != "" {
		body = `{"error":"` + code + `","error_description":"` + description + `"}`
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers: map[string]string{
			"Content-Type":  "application/json",
			"Cache-Control": "no-store",
		},
		Body: body,
	}
}
