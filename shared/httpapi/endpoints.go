package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// token serves the token endpoint (RFC 6749 §3.2).
func (h *Handlers) token(w http.ResponseWriter, r *http.Request) {
	rec := h.begin(r, "token")
	defer rec.end()
	form, ok := h.postForm(w, r)
	if !ok {
		rec.outcome = "bad_request"
		return
	}
	rec.grantType = form.Get("grant_type")
	client, ok := h.authenticate(w, r, form, rec)
	if !ok {
		return
	}
	resp, err := h.srv.Token(r.Context(), client, oauth.TokenRequestFromForm(form))
	if err != nil {
		rec.fail(err)
		writeError(w, err, false)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// introspect serves the introspection endpoint (RFC 7662 §2).
func (h *Handlers) introspect(w http.ResponseWriter, r *http.Request) {
	rec := h.begin(r, "introspect")
	defer rec.end()
	form, ok := h.postForm(w, r)
	if !ok {
		rec.outcome = "bad_request"
		return
	}
	client, ok := h.authenticate(w, r, form, rec)
	if !ok {
		return
	}
	resp, err := h.srv.Introspect(r.Context(), client, form.Get("token"), form.Get("token_type_hint"))
	if err != nil {
		rec.fail(err)
		writeError(w, err, false)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// revoke serves the revocation endpoint (RFC 7009 §2): 200 with an empty
// body whether or not the token was known (§2.2).
func (h *Handlers) revoke(w http.ResponseWriter, r *http.Request) {
	rec := h.begin(r, "revoke")
	defer rec.end()
	form, ok := h.postForm(w, r)
	if !ok {
		rec.outcome = "bad_request"
		return
	}
	client, ok := h.authenticate(w, r, form, rec)
	if !ok {
		return
	}
	if err := h.srv.Revoke(r.Context(), client, form.Get("token"), form.Get("token_type_hint")); err != nil {
		rec.fail(err)
		writeError(w, err, false)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// metadata serves the RFC 8414 §3 metadata document.
func (h *Handlers) metadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	writePublicJSON(w, h.srv.Metadata())
}

// jwks serves the JWK Set (RFC 7517 §5) named by jwks_uri.
func (h *Handlers) jwks(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	set, err := h.srv.JWKS(r.Context())
	if err != nil {
		writeError(w, err, false)
		return
	}
	writePublicJSON(w, set)
}
