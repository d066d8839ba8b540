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

// basicChallenge is the WWW-Authenticate challenge of every 401 (RFC 7617
// §2, with the charset of §2.1).
const basicChallenge = `Basic realm="gatehouse", charset="UTF-8"`

// bearerChallenge is the challenge of an invalid_token 401 (RFC 6750 §3).
const bearerChallenge = `Bearer realm="gatehouse", error="invalid_token"`

// writeError sends an OAuth error as JSON with its status.
//
// Every 401 carries a WWW-Authenticate challenge (RFC 9110 §15.5.2: the
// server "MUST send a WWW-Authenticate header field containing at least
// one challenge applicable to the target resource"). For invalid_client
// that is HTTP Basic, whichever method the client tried: RFC 6749 §5.2
// requires the Basic scheme when the client tried Basic, and uses the 401
// "to indicate which HTTP authentication schemes are supported" otherwise;
// Basic is the only HTTP scheme the token, introspection and revocation
// endpoints accept, while client_secret_post, private_key_jwt and none are
// body parameters with no HTTP scheme of their own (the metadata's
// token_endpoint_auth_methods_supported lists them all). A browser shows
// no sign-in prompt for it on a cross-origin fetch (the usual single-page
// app's case): the Fetch standard prompts only for same-origin requests.
//
// The last argument is ignored; it remains until every caller drops it.
func writeError(w http.ResponseWriter, err error, _ bool) {
	oe := oauth.AsError(err)
	status := statusOf(oe)
	switch {
	case status != http.StatusUnauthorized:
	case oe.Code == oauth.CodeInvalidToken:
		w.Header().Set("WWW-Authenticate", bearerChallenge)
	default:
		w.Header().Set("WWW-Authenticate", basicChallenge)
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
