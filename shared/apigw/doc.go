// Package apigw adapts Amazon API Gateway HTTP API events (Lambda proxy
// integration, payload format version 2.0) to ordinary net/http handlers,
// so every Gatehouse endpoint can be written, and tested, as an
// http.Handler and deployed as a Lambda function.
//
// The request side (request.go) follows the 2.0 event format documented in
// "Create AWS Lambda proxy integrations for HTTP APIs in API Gateway"
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
// The query is taken from rawQueryString only: API Gateway joins repeated
// parameters with commas in queryStringParameters, and OAuth endpoints must
// see the repeats to reject them (RFC 6749 §3.1, §3.2).
//
// The response side (recorder.go, response.go) buffers what the handler
// writes and converts it to the 2.0 response format: Set-Cookie values go
// into the cookies array one per entry (a Set-Cookie header cannot be
// comma-joined; RFC 6265 §3), other multi-valued headers are joined with
// ", " (RFC 9110 §5.3), and non-textual bodies are base64-encoded.
//
// Handler (handler.go) never returns a Lambda error: client mistakes get a
// 4xx answer, and a panicking handler gets a 500 {"error":"server_error"}
// (RFC 6749 §5.2 error shape) logged through log/slog without request data.
package apigw
