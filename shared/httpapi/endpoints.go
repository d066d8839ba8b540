package httpapi

import (
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// clientEndpoint serves a POST endpoint that authenticates its client
// (RFC 6749 §2.3): it reads the form, authenticates, calls serve, and
// writes serve's error, if any, as an OAuth JSON error. The request is
// logged under endpoint.
func (h *Handlers) clientEndpoint(endpoint string, serve func(w http.ResponseWriter, r *http.Request, client *oauth.Client, form url.Values, rec *record) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := h.begin(r, endpoint)
		defer rec.end()
		form, ok := h.postForm(w, r, rec)
		if !ok {
			return
		}
		if endpoint == EndpointToken {
			rec.ev.GrantType = form.Get("grant_type")
		}
		client, ok := h.authenticate(w, r, form, rec)
		if !ok {
			return
		}
		if err := serve(w, r, client, form, rec); err != nil {
			rec.fail(err)
			writeError(w, err, false)
		}
	}
}

// token serves the token endpoint (RFC 6749 §3.2).
func (h *Handlers) token(w http.ResponseWriter, r *http.Request, client *oauth.Client, form url.Values, rec *record) error {
	treq := oauth.TokenRequestFromForm(form)
	treq.RemoteAddr = r.RemoteAddr
	resp, err := h.srv.Token(r.Context(), client, treq)
	if err != nil {
		return err
	}
	rec.issued()
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// introspect serves the introspection endpoint (RFC 7662 §2).
func (h *Handlers) introspect(w http.ResponseWriter, r *http.Request, client *oauth.Client, form url.Values, _ *record) error {
	resp, err := h.srv.Introspect(r.Context(), client, form.Get("token"), form.Get("token_type_hint"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// revoke serves the revocation endpoint (RFC 7009 §2): 200 with an empty
// body whether or not the token was known (§2.2).
func (h *Handlers) revoke(w http.ResponseWriter, r *http.Request, client *oauth.Client, form url.Values, _ *record) error {
	if err := h.srv.Revoke(r.Context(), client, form.Get("token"), form.Get("token_type_hint")); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}

// metadata serves the RFC 8414 §3 metadata document.
func (h *Handlers) metadata(w http.ResponseWriter, r *http.Request) {
	rec := h.begin(r, EndpointMetadata)
	defer rec.end()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rec.ev.Outcome = oauth.CodeInvalidRequest
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	writePublicJSON(w, h.disc.Metadata())
}

// jwks serves the JWK Set (RFC 7517 §5) named by jwks_uri.
func (h *Handlers) jwks(w http.ResponseWriter, r *http.Request) {
	rec := h.begin(r, EndpointJWKS)
	defer rec.end()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rec.ev.Outcome = oauth.CodeInvalidRequest
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	set, err := h.disc.JWKS(r.Context())
	if err != nil {
		rec.fail(err)
		writeError(w, err, false)
		return
	}
	writePublicJSON(w, set)
}
