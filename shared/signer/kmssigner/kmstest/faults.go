package kmstest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Errors that [Server.Fail] and [Server.FailNext] inject, with the HTTP
// status KMS answers them with. InternalFailure and ServiceUnavailable are
// AWS's common errors, which clients know only by status and code.
var errorStatus = map[string]int{
	"ThrottlingException":        http.StatusBadRequest,
	"DisabledException":          http.StatusBadRequest,
	"AccessDeniedException":      http.StatusBadRequest,
	"KMSInvalidStateException":   http.StatusBadRequest,
	"NotFoundException":          http.StatusBadRequest,
	"InvalidKeyUsageException":   http.StatusBadRequest,
	"KMSInternalException":       http.StatusInternalServerError,
	"KeyUnavailableException":    http.StatusInternalServerError,
	"DependencyTimeoutException": http.StatusServiceUnavailable,
	"InternalFailure":            http.StatusInternalServerError,
	"ServiceUnavailable":         http.StatusServiceUnavailable,
}

// ErrorTypes lists the error types [Server.Fail] and [Server.FailNext]
// accept: ThrottlingException, DisabledException, AccessDeniedException,
// KMSInvalidStateException, KMSInternalException, NotFoundException,
// DependencyTimeoutException, KeyUnavailableException,
// InvalidKeyUsageException, InternalFailure (500) and ServiceUnavailable
// (503).
func ErrorTypes() []string {
	types := make([]string, 0, len(errorStatus))
	for t := range errorStatus {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Fail makes every later op request ("Sign", "GetPublicKey",
// "DescribeKey", or "*" for all) fail with errType until [Server.Clear].
// Unknown operations or error types panic.
func (s *Server) Fail(op, errType string) {
	checkFault(op, errType)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[op] = errType
}

// FailNext makes the next op request fail with errType, once; several calls
// queue up. It takes precedence over [Server.Fail].
func (s *Server) FailNext(op, errType string) {
	checkFault(op, errType)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[op] = append(s.failNext[op], errType)
}

// Clear removes all injected faults and the delay.
func (s *Server) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.fail)
	clear(s.failNext)
	s.delay = 0
}

// SetDelay makes every request wait d before it is answered (or until the
// client gives up), to test timeouts.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Calls returns how many op requests arrived since the start or the last
// [Server.Reset], failed ones included ("*" counts all operations).
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op == "*" {
		n := 0
		for _, c := range s.calls {
			n += c
		}
		return n
	}
	return s.calls[op]
}

// Requests returns the requests received since the start or the last
// [Server.Reset], in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Reset zeroes the counters and forgets the recorded requests; keys,
// aliases and faults stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
	s.requests = nil
}

func checkFault(op, errType string) {
	switch op {
	case OpSign, OpGetPublicKey, OpDescribeKey, "*":
	default:
		panic(fmt.Sprintf("kmstest: unknown operation %q", op))
	}
	if _, ok := errorStatus[errType]; !ok {
		panic(fmt.Sprintf("kmstest: unsupported error type %q; want one of %v", errType, ErrorTypes()))
	}
}

// fault returns the error type to inject into an op request, if any.
// s.mu is held.
func (s *Server) fault(op string) string {
	for _, o := range []string{op, "*"} {
		if q := s.failNext[o]; len(q) > 0 {
			s.failNext[o] = q[1:]
			return q[0]
		}
	}
	if t := s.fail[op]; t != "" {
		return t
	}
	return s.fail["*"]
}

// faultMessage is the message KMS sends with an error of type errType.
func faultMessage(op, errType, keyID string) string {
	arn := keyID
	if !strings.HasPrefix(keyID, "arn:") && !strings.HasPrefix(keyID, "alias/") {
		arn = KeyARN(keyID)
	}
	switch errType {
	case "ThrottlingException":
		return "Rate exceeded"
	case "DisabledException":
		return arn + " is disabled."
	case "AccessDeniedException":
		return fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/kmstest/kmstest is not authorized to perform: kms:%s "+
			"on resource: %s because no identity-based policy allows the kms:%s action", Account, op, arn, op)
	case "KMSInvalidStateException":
		return arn + " is pending deletion."
	case "NotFoundException":
		return fmt.Sprintf("Key '%s' does not exist", arn)
	case "InvalidKeyUsageException":
		return "KeyUsage " + arn + " is not SIGN_VERIFY"
	case "KeyUnavailableException":
		return arn + " is unavailable."
	case "DependencyTimeoutException":
		return "The system timed out while trying to fulfill the request."
	case "ServiceUnavailable":
		return "Service Unavailable"
	default:
		return "An internal error occurred."
	}
}

// wait sleeps d or until ctx ends.
func wait(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
