package httpapi

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

const (
	sessionCookie = "gh_session"
	csrfCookie    = "gh_csrf"
)

// session returns the request's live session, nil if there is none, and an
// error when the store could not tell.
func (h *Handlers) session(r *http.Request) (*oauth.Session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, nil
	}
	sess, err := h.srv.SessionFromCookie(r.Context(), c.Value)
	if errors.Is(err, oauth.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, oauth.ErrServer(err)
	}
	return sess, nil
}

// cookie returns a cookie with the attributes every Gatehouse cookie has:
// HttpOnly, SameSite=Lax, and Secure unless the issuer is plain http on a
// loopback address (browsers drop Secure cookies over http).
func (h *Handlers) cookie(name, value string) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: !h.srv.IsLoopbackIssuer(),
	}
}

func (h *Handlers) setSessionCookie(w http.ResponseWriter, value string, sess *oauth.Session) {
	c := h.cookie(sessionCookie, value)
	c.Expires = sess.ExpiresAt
	http.SetCookie(w, c)
}

func (h *Handlers) clearSessionCookie(w http.ResponseWriter) {
	c := h.cookie(sessionCookie, "")
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// csrfToken returns the browser's CSRF token, setting the cookie if the
// browser has none. The forms repeat it in a hidden field (double submit).
func (h *Handlers) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	token := oauth.RandomToken()
	http.SetCookie(w, h.cookie(csrfCookie, token))
	return token
}

// csrfValid checks a form post: the hidden token must equal the cookie, and
// a browser-sent Origin, if any, must be the issuer's.
func (h *Handlers) csrfValid(r *http.Request, form url.Values) bool {
	if origin := r.Header.Get("Origin"); origin != "" && origin != h.issuerOrigin() {
		return false
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) != 43 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(form.Get(fieldCSRF))) == 1
}

// issuerOrigin is the scheme://host[:port] of the issuer.
func (h *Handlers) issuerOrigin() string { return origin(h.srv.Config().Issuer) }

// origin is the serialized origin of a URL as browsers send it in the
// Origin header (RFC 6454 §6.2: lower-case host, default port omitted), or
// its "scheme:" for non-hierarchical URIs such as private-use redirect
// schemes.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if u.Host == "" {
		return scheme + ":"
	}
	host := strings.ToLower(u.Host)
	if port := u.Port(); scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		host = strings.TrimSuffix(host, ":"+port)
	}
	return scheme + "://" + host
}
