package httpapi

import (
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// parseParams parses a query string or form body strictly (RFC 6749 §3.1,
// §3.2): a parameter named twice is invalid_request, and a parameter sent
// without a value counts as omitted. The raw string is parsed rather than
// any pre-parsed map, because API Gateway joins repeated parameters.
func parseParams(raw string) (url.Values, *oauth.Error) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, oauth.ErrInvalidRequest("the parameters are not validly URL-encoded")
	}
	for name, v := range vals {
		if len(v) > 1 {
			return nil, oauth.ErrInvalidRequest("parameter %q is repeated", name)
		}
		if v[0] == "" {
			delete(vals, name)
		}
	}
	return vals, nil
}

// readForm reads an application/x-www-form-urlencoded POST body of at most
// limit bytes (RFC 6749 §3.2, RFC 7009 §2.1, RFC 7662 §2.1).
func readForm(r *http.Request, limit int64) (url.Values, *oauth.Error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oauth.ErrInvalidRequest("the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, oauth.ErrInvalidRequest("the body could not be read")
	}
	if int64(len(body)) > limit {
		return nil, oauth.ErrInvalidRequest("the body is larger than %d bytes", limit)
	}
	if r.URL.RawQuery != "" {
		// Credentials and tokens in the URL leak into logs (RFC 6749 §3.2).
		return nil, oauth.ErrInvalidRequest("parameters must be sent in the body, not the URL")
	}
	return parseParams(string(body))
}

// postForm accepts only POST, then reads the form. It writes the error
// response itself, noting it in rec, and reports whether the caller may go
// on.
func (h *Handlers) postForm(w http.ResponseWriter, r *http.Request, rec *record) (url.Values, bool) {
	if r.Method != http.MethodPost {
		rec.ev.Outcome = oauth.CodeInvalidRequest
		methodNotAllowed(w, http.MethodPost)
		return nil, false
	}
	form, oe := readForm(r, h.opts.MaxBodyBytes)
	if oe != nil {
		rec.fail(oe)
		writeError(w, oe, false)
		return nil, false
	}
	return form, true
}
