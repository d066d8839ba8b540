package httpapi

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"maps"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The pages are written by the functions in page_html.go, not by
// html/template: executing a template calls reflect.Value.MethodByName,
// which makes the linker keep every exported method of every type in the
// binary (the AWS SDK clients' whole APIs), and so cost each Lambda
// bootstrap about 4 MB. Every value is HTML-escaped as html/template
// would (escapeHTML).

// Pages.
const (
	pageLogin     = "login"
	pageConsent   = "consent"
	pageError     = "error"
	pageLogout    = "logout"
	pageSignedOut = "signedout"
)

// stylesheet is inlined in every page and allowed by its hash, so the
// Content-Security-Policy needs no 'unsafe-inline' and no other origin.
//
//go:embed templates/style.css
var stylesheet string

var stylesheetHash = func() string {
	sum := sha256.Sum256([]byte(stylesheet))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// pageData is what the pages show.
type pageData struct {
	Title      string
	FormAction string
	CSRF       string
	Request    string // the authorization request, as a query string
	Error      string
	ClientName string
	Username   string
	Scopes     []scopeView
	ErrorCode  string
	// ClientURI and LogoURI are the client's registered home page and
	// logo, shown as text links only (RFC 7591 §2; no remote image).
	ClientURI, LogoURI string
	// SwitchAccount is the authorization request again with
	// prompt=login: sign in as someone else.
	SwitchAccount string
}

type scopeView struct{ Name, Description string }

// securityHeaders are sent with every page: never cached, never framed
// (RFC 6749 §10.13 clickjacking), nothing loaded from anywhere, forms posted
// only to us and to the client's redirect origin (browsers apply
// form-action to the redirect that follows a post). The referrer goes
// only to ourselves (same-origin): never with the authorization request to
// another site, but kept on our own form posts, whose Origin header the
// CSRF check reads (with no-referrer, browsers send "Origin: null").
func securityHeaders(w http.ResponseWriter, formTarget string) {
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	h := w.Header()
	h.Set("Content-Type", "text/html;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+stylesheetHash+
		"; img-src 'self'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
}

// render writes a page. formTarget is the client's redirect origin when the
// page's form may end in a redirect there.
func (h *Handlers) render(w http.ResponseWriter, r *http.Request, status int, name string, data *pageData, formTarget string) {
	securityHeaders(w, formTarget)
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	var b strings.Builder
	writePage(&b, name, data)
	if _, err := w.Write([]byte(b.String())); err != nil {
		h.log.DebugContext(r.Context(), "writing page", "page", name, "error", err)
	}
}

func (h *Handlers) loginPage(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, status int, message string) {
	h.render(w, r, status, pageLogin, &pageData{
		Title:      "Sign in",
		FormAction: h.srv.URL(oauth.PathAuthorize),
		CSRF:       h.csrfToken(w, r),
		Request:    req.Params.Encode(),
		Error:      message,
		ClientName: clientName(req.Client),
	}, origin(req.RedirectURI))
}

func (h *Handlers) consentPage(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, sess *oauth.Session) {
	scopes := make([]scopeView, 0, len(req.Scopes))
	for _, s := range req.Scopes {
		scopes = append(scopes, scopeView{Name: s, Description: h.opts.ScopeDescriptions[s]})
	}
	switchAccount := maps.Clone(req.Params)
	switchAccount.Set("prompt", oauth.PromptLogin)
	h.render(w, r, http.StatusOK, pageConsent, &pageData{
		Title:         "Allow access?",
		FormAction:    h.srv.URL(oauth.PathAuthorize),
		CSRF:          h.csrfToken(w, r),
		Request:       req.Params.Encode(),
		ClientName:    clientName(req.Client),
		Username:      sess.Username,
		Scopes:        scopes,
		ClientURI:     req.Client.ClientURI,
		LogoURI:       req.Client.LogoURI,
		SwitchAccount: h.srv.URL(oauth.PathAuthorize) + "?" + switchAccount.Encode(),
	}, origin(req.RedirectURI))
}

// errorPage shows an error that cannot be redirected to the client (RFC
// 6749 §4.1.2.1), in plain words with its OAuth code for support.
func (h *Handlers) errorPage(w http.ResponseWriter, r *http.Request, oe *oauth.Error) {
	h.errorPageStatus(w, r, oe, statusOf(oe))
}

func (h *Handlers) errorPageStatus(w http.ResponseWriter, r *http.Request, oe *oauth.Error, status int) {
	h.render(w, r, status, pageError, &pageData{
		Title:     "Something went wrong",
		Error:     oe.Description,
		ErrorCode: oe.Code,
	}, "")
}

func clientName(c *oauth.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}
