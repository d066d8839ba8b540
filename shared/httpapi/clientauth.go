package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// clientCredentials extracts the client's credentials from a request (RFC
// 6749 §2.3.1): HTTP Basic (client_secret_basic), client_id and
// client_secret in the body (client_secret_post), or client_id alone
// (none). Using more than one method is invalid_request. basicTried reports
// whether an Authorization header was sent, for the 401 challenge.
func clientCredentials(r *http.Request, form url.Values) (cred oauth.ClientCredentials, basicTried bool, oe *oauth.Error) {
	header := r.Header.Get("Authorization")
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	if header == "" {
		if formSecret != "" {
			return oauth.ClientCredentials{Method: oauth.AuthMethodPost, ClientID: formID, Secret: formSecret}, false, nil
		}
		return oauth.ClientCredentials{Method: oauth.AuthMethodNone, ClientID: formID}, false, nil
	}
	id, secret, ok := parseBasic(header)
	if !ok {
		return cred, true, oauth.ErrInvalidClient("the Authorization header is not valid HTTP Basic client authentication")
	}
	if formSecret != "" {
		return cred, true, oauth.ErrInvalidRequest("use one client authentication method, not Basic and client_secret together")
	}
	if formID != "" && formID != id {
		return cred, true, oauth.ErrInvalidClient("client_id in the body differs from the Basic credentials")
	}
	return oauth.ClientCredentials{Method: oauth.AuthMethodBasic, ClientID: id, Secret: secret}, true, nil
}

// parseBasic decodes "Basic base64(urlencode(id):urlencode(secret))": the id
// and secret are form-urlencoded before Basic encoding (RFC 6749 §2.3.1).
func parseBasic(header string) (id, secret string, ok bool) {
	scheme, payload, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return "", "", false
	}
	encID, encSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(encID)
	secret, err2 := url.QueryUnescape(encSecret)
	if err1 != nil || err2 != nil || id == "" {
		return "", "", false
	}
	return id, secret, true
}

// authenticate authenticates the request's client, writing the error
// response itself on failure.
func (h *Handlers) authenticate(w http.ResponseWriter, r *http.Request, form url.Values, rec *record) (*oauth.Client, bool) {
	cred, basicTried, oe := clientCredentials(r, form)
	rec.clientID = cred.ClientID
	if oe != nil {
		rec.fail(oe)
		writeError(w, oe, basicTried)
		return nil, false
	}
	client, err := h.srv.AuthenticateClient(r.Context(), cred)
	if err != nil {
		rec.fail(err)
		writeError(w, err, basicTried)
		return nil, false
	}
	return client, true
}
