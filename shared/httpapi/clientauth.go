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
// client_secret in the body (client_secret_post), client_assertion and
// client_assertion_type in the body (private_key_jwt, RFC 7521 §4.2, RFC
// 7523 §2.2), or client_id alone (none). Using more than one method is
// invalid_request (RFC 6749 §2.3, §5.2), and so are half an assertion and
// two Authorization headers: which one would be meant is anyone's guess,
// and RFC 6749 §3.1 forbids repeated parameters (shared/resource refuses
// them likewise). The assertion itself is checked by the grant library.
func clientCredentials(r *http.Request, form url.Values) (cred oauth.ClientCredentials, oe *oauth.Error) {
	if len(r.Header.Values("Authorization")) > 1 {
		return cred, oauth.ErrInvalidRequest("the request has more than one Authorization header")
	}
	header := r.Header.Get("Authorization")
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	assertion, assertionType := form.Get("client_assertion"), form.Get("client_assertion_type")
	if assertion != "" || assertionType != "" {
		switch {
		case assertion == "":
			return cred, oauth.ErrInvalidRequest("client_assertion_type was sent without client_assertion")
		case assertionType == "":
			return cred, oauth.ErrInvalidRequest("client_assertion was sent without client_assertion_type")
		case header != "" || formSecret != "":
			return cred, oauth.ErrInvalidRequest("use one client authentication method, not a client assertion together with a secret")
		}
		return oauth.ClientCredentials{Method: oauth.AuthMethodPrivateKeyJWT, ClientID: formID,
			Assertion: assertion, AssertionType: assertionType}, nil
	}
	if header == "" {
		if formSecret != "" {
			return oauth.ClientCredentials{Method: oauth.AuthMethodPost, ClientID: formID, Secret: formSecret}, nil
		}
		return oauth.ClientCredentials{Method: oauth.AuthMethodNone, ClientID: formID}, nil
	}
	id, secret, ok := parseBasic(header)
	if !ok {
		return cred, oauth.ErrInvalidClient("the Authorization header is not valid HTTP Basic client authentication")
	}
	if formSecret != "" {
		return cred, oauth.ErrInvalidRequest("use one client authentication method, not Basic and client_secret together")
	}
	if formID != "" && formID != id {
		return cred, oauth.ErrInvalidClient("client_id in the body differs from the Basic credentials")
	}
	return oauth.ClientCredentials{Method: oauth.AuthMethodBasic, ClientID: id, Secret: secret}, nil
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
// response itself on failure (with its challenge: see writeError).
func (h *Handlers) authenticate(w http.ResponseWriter, r *http.Request, form url.Values, rec *record) (*oauth.Client, bool) {
	cred, oe := clientCredentials(r, form)
	rec.ev.ClientID = cred.ClientID
	if oe != nil {
		rec.fail(oe)
		writeError(w, oe, false)
		return nil, false
	}
	client, err := h.srv.AuthenticateClient(r.Context(), cred)
	if err != nil {
		rec.fail(err)
		writeError(w, err, false)
		return nil, false
	}
	rec.ev.ClientID = client.ID // a private_key_jwt request may name it only in the assertion
	return client, true
}
