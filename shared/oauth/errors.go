// Package oauth is Gatehouse's grant library: transport-free OAuth 2.0
// authorization server logic (RFC 6749, 7009, 7521, 7523, 7636, 7662, 8414,
// 9068, 9207, 9700). It imports nothing of Gatehouse's own; storage and signing are
// reached through the interfaces in store.go and signer.go, and the HTTP
// layer lives in shared/httpapi.
package oauth

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error is an OAuth 2.0 error response (RFC 6749 §4.1.2.1, §5.2; RFC 6750
// §3.1; RFC 7009 §2.2.1). Its fields carry the RFC's wire names. Error
// values are created fresh by the constructors below and may be annotated
// by the caller; there are no shared sentinels to mutate.
type Error struct {
	// Code is the "error" parameter, e.g. "invalid_grant".
	Code string
	// Description is the "error_description" parameter: human-readable,
	// never containing a secret.
	Description string
	// URI is the optional "error_uri" parameter.
	URI string
	// RetryAfter, when set, is sent as a Retry-After header (503 answers).
	RetryAfter time.Duration
	// cause is an internal error kept for logs, never sent to the client.
	cause error
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Unwrap returns the internal cause of a server-side error, if any.
func (e *Error) Unwrap() error { return e.cause }

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: descriptionChars(fmt.Sprintf(format, args...))}
}

// descriptionChars keeps an error_description within the characters RFC
// 6749 §5.2 and §4.1.2.1 allow (%x20-21 / %x23-5B / %x5D-7E), since
// descriptions may quote the request: a double quote becomes an apostrophe,
// any other character outside the set a question mark.
func descriptionChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r >= 0x20 && r <= 0x7e && r != '\\':
			return r
		default:
			return '?'
		}
	}, s)
}

// Error codes of RFC 6749 §4.1.2.1, §5.2, RFC 6750 §3.1 and RFC 7009 §2.2.1.
const (
	CodeInvalidRequest          = "invalid_request"
	CodeInvalidClient           = "invalid_client"
	CodeInvalidGrant            = "invalid_grant"
	CodeUnauthorizedClient      = "unauthorized_client"
	CodeUnsupportedGrantType    = "unsupported_grant_type"
	CodeInvalidScope            = "invalid_scope"
	CodeAccessDenied            = "access_denied"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeServerError             = "server_error"
	CodeTemporarilyUnavailable  = "temporarily_unavailable"
	CodeUnsupportedTokenType    = "unsupported_token_type"
	CodeInvalidToken            = "invalid_token"
	CodeInsufficientScope       = "insufficient_scope"
	CodeLoginRequired           = "login_required"
	CodeConsentRequired         = "consent_required"
)

// ErrInvalidRequest: a required parameter is missing, repeated, malformed or
// unsupported (RFC 6749 §5.2).
func ErrInvalidRequest(format string, args ...any) *Error {
	return newError(CodeInvalidRequest, format, args...)
}

// ErrInvalidClient: client authentication failed (RFC 6749 §5.2). Sent with
// HTTP 401.
func ErrInvalidClient(format string, args ...any) *Error {
	return newError(CodeInvalidClient, format, args...)
}

// ErrInvalidGrant: the code, refresh token or resource owner credentials are
// invalid, expired, revoked, or were issued to another client (§5.2).
func ErrInvalidGrant(format string, args ...any) *Error {
	return newError(CodeInvalidGrant, format, args...)
}

// ErrUnauthorizedClient: the client may not use this grant or response type.
func ErrUnauthorizedClient(format string, args ...any) *Error {
	return newError(CodeUnauthorizedClient, format, args...)
}

// ErrUnsupportedGrantType: the server does not know the grant type (§5.2).
func ErrUnsupportedGrantType(format string, args ...any) *Error {
	return newError(CodeUnsupportedGrantType, format, args...)
}

// ErrInvalidScope: the scope is unknown, malformed or exceeds what the client
// or the grant allows (§4.1.2.1, §5.2).
func ErrInvalidScope(format string, args ...any) *Error {
	return newError(CodeInvalidScope, format, args...)
}

// ErrAccessDenied: the resource owner denied the request (§4.1.2.1).
func ErrAccessDenied(format string, args ...any) *Error {
	return newError(CodeAccessDenied, format, args...)
}

// ErrLoginRequired: prompt=none, but the user must sign in (OpenID Connect
// Core §3.1.2.6).
func ErrLoginRequired(format string, args ...any) *Error {
	return newError(CodeLoginRequired, format, args...)
}

// ErrConsentRequired: prompt=none, but the user must consent (OpenID
// Connect Core §3.1.2.6).
func ErrConsentRequired(format string, args ...any) *Error {
	return newError(CodeConsentRequired, format, args...)
}

// ErrUnsupportedResponseType: unknown response_type (§4.1.2.1).
func ErrUnsupportedResponseType(format string, args ...any) *Error {
	return newError(CodeUnsupportedResponseType, format, args...)
}

// ErrUnsupportedTokenType: the revocation endpoint cannot revoke this token
// type (RFC 7009 §2.2.1).
func ErrUnsupportedTokenType(format string, args ...any) *Error {
	return newError(CodeUnsupportedTokenType, format, args...)
}

// ErrInvalidToken: a bearer token is missing, expired, revoked or malformed
// (RFC 6750 §3.1).
func ErrInvalidToken(format string, args ...any) *Error {
	return newError(CodeInvalidToken, format, args...)
}

// ErrServer wraps an internal failure as server_error (§5.2, §4.1.2.1) or,
// when cause is (or wraps) ErrUnavailable, as temporarily_unavailable. The
// cause is kept for logs and never shown to the client.
func ErrServer(cause error) *Error {
	var oe *Error
	if errors.As(cause, &oe) {
		return oe
	}
	if errors.Is(cause, ErrUnavailable) {
		return &Error{Code: CodeTemporarilyUnavailable,
			Description: "the service is busy; retry shortly",
			RetryAfter:  time.Second, cause: cause}
	}
	return &Error{Code: CodeServerError,
		Description: "the server could not complete the request", cause: cause}
}

// AsError returns err as an *Error, turning any other error into a
// server_error (or temporarily_unavailable) through ErrServer.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	return ErrServer(err)
}

// Store and signer implementations return (or wrap) these errors so the
// library can tell a client mistake from a fault.
var (
	// ErrNotFound: no such record, or the record has expired.
	ErrNotFound = errors.New("oauth: not found")
	// ErrConflict: a conditional write lost (already redeemed, already
	// rotated, already exists).
	ErrConflict = errors.New("oauth: conditional write failed")
	// ErrUnavailable: a dependency is throttling or briefly down; the client
	// should retry (temporarily_unavailable with Retry-After).
	ErrUnavailable = errors.New("oauth: dependency temporarily unavailable")
	// ErrNotWritten marks a failed write that certainly was not applied
	// (throttled, refused before any change). Without it a failed write may
	// have landed, and the library revokes the grant it was writing.
	ErrNotWritten = errors.New("oauth: write not applied")
)
