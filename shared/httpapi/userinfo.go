package httpapi

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// EndpointUserInfo names the UserInfo endpoint in logs and Events.
const EndpointUserInfo = "userinfo"

// UserInfo serves GET and POST /userinfo (OpenID Connect Core 1.0 §5.3).
func (h *Handlers) UserInfo() http.Handler { return http.HandlerFunc(h.userInfo) }

// userInfo answers a UserInfo request (§5.3.1: GET and POST) with the
// claims the access token's scopes release, as JSON (§5.3.2). The token
// comes in the Authorization header (RFC 6750 §2.1) or, for a POST, the
// form body's access_token (§2.2); never the URL (§2.3 is not offered: a
// token in a URL leaks into logs and histories), and never two ways at
// once (§2: "Clients MUST NOT use more than one method"). Errors are RFC
// 6750 §3 challenges in WWW-Authenticate.
func (h *Handlers) userInfo(w http.ResponseWriter, r *http.Request) {
	rec := h.begin(r, EndpointUserInfo)
	defer rec.end()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		rec.ev.Outcome = oauth.CodeInvalidRequest
		methodNotAllowed(w, "GET, POST")
		return
	}
	token, oe := h.bearerToken(r)
	if oe != nil {
		rec.fail(oe)
		writeBearerError(w, oe)
		return
	}
	if token == "" {
		// §3.1: a request without authentication gets a bare challenge,
		// with no error code.
		rec.ev.Outcome = oauth.CodeInvalidToken
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: oauth.CodeInvalidToken,
			ErrorDescription: "an access token is required"})
		return
	}
	claims, err := h.srv.UserInfo(r.Context(), token)
	if err != nil {
		rec.fail(err)
		writeBearerError(w, oauth.AsError(err))
		return
	}
	writeJSON(w, http.StatusOK, claims)
}

// bearerToken returns the request's access token ("" if it has none).
func (h *Handlers) bearerToken(r *http.Request) (string, *oauth.Error) {
	q := r.URL.Query()
	if q.Has("access_token") {
		return "", oauth.ErrInvalidRequest("the access token must not be sent in the URL")
	}
	var header string
	if vs := r.Header.Values("Authorization"); len(vs) > 1 {
		return "", oauth.ErrInvalidRequest("more than one Authorization header")
	} else if len(vs) == 1 {
		scheme, cred, ok := strings.Cut(vs[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) == "" {
			return "", oauth.ErrInvalidRequest("the Authorization header must be Bearer <token>")
		}
		header = strings.TrimSpace(cred)
	}
	if r.Method != http.MethodPost {
		return header, nil
	}
	if r.Header.Get("Content-Type") == "" && r.ContentLength <= 0 && header != "" {
		return header, nil // a POST with an empty body (§5.3.1)
	}
	form, oe := readForm(r, h.opts.MaxBodyBytes)
	if oe != nil {
		return "", oe
	}
	body := form.Get("access_token")
	switch {
	case body != "" && header != "":
		return "", oauth.ErrInvalidRequest("the access token was sent more than one way")
	case body != "":
		return body, nil
	}
	return header, nil
}

// writeBearerError answers an RFC 6750 §3 error: its status (400, 401,
// 403, or 5xx for server faults), a WWW-Authenticate challenge carrying
// the error code (and scope="openid" for insufficient_scope, §3), and the
// JSON error body.
func writeBearerError(w http.ResponseWriter, oe *oauth.Error) {
	status := statusOf(oe)
	if status < http.StatusInternalServerError {
		challenge := `Bearer realm="gatehouse", error="` + oe.Code + `"`
		if oe.Description != "" {
			challenge += `, error_description="` + oe.Description + `"`
		}
		if oe.Code == oauth.CodeInsufficientScope {
			challenge += `, scope="openid"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeJSON(w, status, errorBody{Error: oe.Code, ErrorDescription: oe.Description})
		return
	}
	writeError(w, oe, false) // server faults: with Retry-After where it applies
}
