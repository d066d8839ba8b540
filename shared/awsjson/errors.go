package awsjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// throttlingCodes are the error codes the SDK's standard retryer retries
// as throttling (aws/retry's DefaultThrottleErrorCodes).
var throttlingCodes = []string{
	"Throttling",
	"ThrottlingException",
	"ThrottledException",
	"RequestThrottledException",
	"TooManyRequestsException",
	"ProvisionedThroughputExceededException",
	"TransactionInProgressException",
	"RequestLimitExceeded",
	"BandwidthLimitExceeded",
	"LimitExceededException",
	"RequestThrottled",
	"SlowDown",
	"PriorRequestNotComplete",
	"EC2ThrottledException",
}

// APIError is an error response of the service: the error code (the name
// of the exception, without its namespace), the message and the HTTP
// status. Body keeps the whole response for the fields some errors carry
// (DynamoDB's Item, CancellationReasons): read them with Decode.
type APIError struct {
	Service    string
	Operation  string
	Code       string
	Message    string
	StatusCode int
	RequestID  string
	Body       []byte
}

// Error names the service, operation, code and message. Messages of
// DynamoDB and KMS describe the request, never its data.
func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: %s (HTTP %d)", e.Service, e.Operation, e.Code, e.StatusCode)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RequestID != "" {
		msg += " [request id " + e.RequestID + "]"
	}
	return msg
}

// Decode unmarshals the error response's body into v.
func (e *APIError) Decode(v any) error { return json.Unmarshal(e.Body, v) }

// Throttling reports whether the service refused the request for capacity
// or rate: it applied nothing, and a later retry may succeed.
func (e *APIError) Throttling() bool {
	for _, c := range throttlingCodes {
		if e.Code == c {
			return true
		}
	}
	return false
}

// ServerFault reports whether the service failed (HTTP 5xx): a write may or
// may not have been applied.
func (e *APIError) ServerFault() bool { return e.StatusCode >= 500 }

// ErrorCode returns the error code of err if it is (or wraps) an APIError,
// or "".
func ErrorCode(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// newAPIError reads an error response of the AWS JSON protocol: the code is
// the body's __type (or code), or the X-Amzn-ErrorType header, without its
// namespace ("com.amazonaws.dynamodb.v20120810#ResourceNotFoundException")
// or trailing URI ("ThrottlingException:http://internal..."); the message
// is the body's message or Message.
func newAPIError(service, op string, resp *http.Response, body []byte) *APIError {
	var fields struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageC string `json:"Message"`
	}
	_ = json.Unmarshal(body, &fields) // a non-JSON body leaves the fields empty
	code := firstNonEmpty(fields.Type, fields.Code, resp.Header.Get("X-Amzn-Errortype"))
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if code == "" {
		code = fmt.Sprintf("HTTP%d", resp.StatusCode)
	}
	return &APIError{
		Service:    service,
		Operation:  op,
		Code:       code,
		Message:    firstNonEmpty(fields.Message, fields.MessageC),
		StatusCode: resp.StatusCode,
		RequestID:  firstNonEmpty(resp.Header.Get("X-Amzn-Requestid"), resp.Header.Get("X-Amz-Request-Id")),
		Body:       body,
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// transportError is a failure to get a response: the service may or may
// not have received (and applied) the request.
type transportError struct {
	svc, op string
	err     error
}

func (e *transportError) Error() string { return fmt.Sprintf("%s %s: %v", e.svc, e.op, e.err) }
func (e *transportError) Unwrap() error { return e.err }

// IsTransport reports whether err is a failure to get a response (a
// network error, a timeout, a corrupt response), after which the service
// may or may not have applied the request.
func IsTransport(err error) bool {
	var te *transportError
	return errors.As(err, &te)
}
