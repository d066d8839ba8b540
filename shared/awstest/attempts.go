package awstest

import (
	"net/http"
	"strconv"
	"strings"
)

// InvocationID returns the id the SDK gives one operation call
// (amz-sdk-invocation-id): every attempt of the call, retries included,
// carries the same one, and no other call does. It is "" for a request
// not sent by the SDK.
func InvocationID(r *http.Request) string { return r.Header.Get("Amz-Sdk-Invocation-Id") }

// Attempt returns which attempt of its operation call a request is (from
// 1) and how many the SDK's retryer allows, from amz-sdk-request
// ("attempt=2; max=3"); zeros if it has none.
func Attempt(r *http.Request) (attempt, maxAttempts int) {
	for part := range strings.SplitSeq(r.Header.Get("Amz-Sdk-Request"), ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		n, _ := strconv.Atoi(value)
		switch name {
		case "attempt":
			attempt = n
		case "max":
			maxAttempts = n
		}
	}
	return attempt, maxAttempts
}
