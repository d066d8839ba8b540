package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// statusByCode is the one place OAuth error codes map to HTTP statuses
// (RFC 6749 §5.2: 400, or 401 for invalid_client; RFC 6750 §3.1; server
// faults 500 and 503).
var statusByCode = map[string]int{
	oauth.CodeInvalidRequest:         http.StatusBadRequest,
	oauth.CodeInvalidClient:          http.StatusUnauthorized,
	oauth.CodeInvalidGrant:           http.StatusBadRequest,
	oauth.CodeUnauthorizedClient:     http.StatusBadRequest,
	oauth.CodeUnsupportedGrantType:   http.StatusBadRequest,
	oauth.CodeInvalidScope:           http.StatusBadRequest,
	oauth.CodeUnsupportedTokenType:   http.StatusBadRequest,
	oauth.CodeAccessDenied:           http.StatusForbidden,
	oauth.CodeInvalidToken:           http.StatusUnauthorized,
	oauth.CodeInsufficientScope:      http.StatusForbidden,
	oauth.CodeServerError:            http.StatusInternalServerError,
	oauth.CodeTemporarilyUnavailable: http.StatusServiceUnavailable,
}

// statusOf returns the HTTP status for an OAuth error.
func statusOf(oe *oauth.Error) int {
	if s, ok := statusByCode[oe.Code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// errorBody is the JSON error response of RFC 6749 §5.2.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

// writeError sends an OAuth error as JSON with its status. basicTried adds
// the WWW-Authenticate challenge §5.2 requires when the client tried HTTP
// Basic authentication and failed.
func writeError(w http.ResponseWriter, err error, basicTried bool) {
	oe := oauth.AsError(err)
	status := statusOf(oe)
	if status == http.StatusUnauthorized && oe.Code == oauth.CodeInvalidClient && basicTried {
		w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`)
	}
	if oe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((oe.RetryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, status, errorBody{oe.Code, oe.Description, oe.URI})
}

// writeJSON sends v as JSON, uncacheable as §5.1 requires of token
// responses (and as every response here that carries or describes a token
// should be).
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// methodNotAllowed answers 405 with an Allow header.
func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: oauth.CodeInvalidRequest,
		ErrorDescription: "method not allowed; use " + allow})
}

// writePublicJSON sends a public, cacheable document (metadata, JWKS). Five
// minutes keeps a key rotation's new key visible well before it signs.
func writePublicJSON(w http.ResponseWriter, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*")
	_ = json.NewEncoder(w).Encode(v)
}
