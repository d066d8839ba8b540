package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Page names one HTML page of the authorization endpoint.
type Page string

// The pages, and the PageData fields each shows.
const (
	// PageLogin asks for a username and password: ClientName, Error,
	// LoginHint, and the form (FormAction, Request, CSRF).
	PageLogin Page = "login"
	// PageConsent asks the user to allow or deny the client: ClientName,
	// Username, SwitchAccount, ClientURI, LogoURI, Scopes, and the form.
	PageConsent Page = "consent"
	// PageError shows an error that cannot go back to the client: Error
	// and ErrorCode.
	PageError Page = "error"
	// PageLogout asks to confirm signing out: FormAction and CSRF, and
	// for a client's logout request (RP-Initiated Logout 1.0) ClientName
	// and Request.
	PageLogout Page = "logout"
	// PageSignedOut says the user is signed out.
	PageSignedOut Page = "signedout"
)

// PageData is what a page shows. Every field is plain text or a URL as
// the server has it, never markup: the Pages implementation escapes each
// for the place it appears in (element text, an attribute, a URL).
type PageData struct {
	// Title is the page's title, without the product name.
	Title string
	// FormAction is the URL the page's form posts to.
	FormAction string
	// CSRF is the form's anti-forgery token (field gh_csrf).
	CSRF string
	// Request is the authorization request, as a query string, which the
	// form posts back (field gh_request) to be validated again.
	Request string
	// Error is a message for the user (login, error page).
	Error string
	// ClientName is the client's name, or its ID if it has none.
	ClientName string
	// Username is the signed-in user's name (consent page).
	Username string
	// LoginHint is the username field's initial value (login page): the
	// request's login_hint (OpenID Connect Core §3.1.2.1).
	LoginHint string
	// Scopes are the scopes the client asks for (consent page).
	Scopes []PageScope
	// ErrorCode is the OAuth error code, for support (error page).
	ErrorCode string
	// ClientURI and LogoURI are the client's registered home page and
	// logo (RFC 7591 §2): as the client registered them, so they may be
	// anything; the page shows them as text links only, no remote image.
	ClientURI, LogoURI string
	// SwitchAccount is the authorization request again with
	// prompt=login: sign in as someone else.
	SwitchAccount string
}

// PageScope is one scope on the consent page: its name and, if the
// server has one, a description in words a user understands.
type PageScope struct{ Name, Description string }

// Pages renders the authorization endpoint's HTML pages. Package
// shared/httpapi/pages implements it with templ components (generated Go,
// escaped by context); it is an interface so that only the authorization
// endpoint links the pages: the token, introspection, revocation and
// metadata functions import httpapi, not the pages.
//
// Implementations must be safe for concurrent use.
type Pages interface {
	// Render writes page, a whole HTML document, showing data. It
	// escapes every value of data for its context.
	Render(w io.Writer, page Page, data *PageData) error
	// StyleSrc returns the Content-Security-Policy source expressions
	// the pages' styles need (such as "'sha256-...'" for an inline
	// stylesheet), space-separated. The CSP allows nothing else.
	StyleSrc() string
}

// errNoPages is the cause of the server_error the authorization endpoint
// answers when New had no Options.Pages.
var errNoPages = errors.New("httpapi: the authorization endpoint has no pages (Options.Pages is nil)")

// securityHeaders are sent with every page: never cached, never framed
// (RFC 6749 §10.13 clickjacking), nothing loaded from anywhere but the
// pages' own styles, forms posted only to us and to the client's redirect
// origin (browsers apply form-action to the redirect that follows a post).
// The referrer goes only to ourselves (same-origin): never with the
// authorization request to another site, but kept on our own form posts,
// whose Origin header the CSRF check reads (with no-referrer, browsers
// send "Origin: null").
func securityHeaders(w http.ResponseWriter, styleSrc, formTarget string) {
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	if styleSrc == "" {
		styleSrc = "'none'"
	}
	h := w.Header()
	h.Set("Content-Type", "text/html;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+styleSrc+
		"; img-src 'self'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
}

// render writes a page with Options.Pages. formTarget is the client's
// redirect origin when the page's form may end in a redirect there. The
// page is rendered before anything is sent, so a failure is a clean
// server_error rather than half a page.
func (h *Handlers) render(w http.ResponseWriter, r *http.Request, status int, page Page, data *PageData, formTarget string) {
	pages := h.opts.Pages
	if pages == nil { // authorize and logout answer before they get here
		writeError(w, errNoPages, false)
		return
	}
	if r.Method == http.MethodHead {
		securityHeaders(w, pages.StyleSrc(), formTarget)
		w.WriteHeader(status)
		return
	}
	var b bytes.Buffer
	if err := pages.Render(&b, page, data); err != nil {
		h.log.ErrorContext(r.Context(), "rendering a page", "page", string(page), "error", err)
		writeError(w, oauth.ErrServer(fmt.Errorf("rendering page %s: %w", page, err)), false)
		return
	}
	securityHeaders(w, pages.StyleSrc(), formTarget)
	w.WriteHeader(status)
	if _, err := w.Write(b.Bytes()); err != nil {
		h.log.DebugContext(r.Context(), "writing page", "page", string(page), "error", err)
	}
}

func (h *Handlers) loginPage(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, status int, message string) {
	h.render(w, r, status, PageLogin, &PageData{
		Title:      "Sign in",
		FormAction: h.srv.URL(oauth.PathAuthorize),
		CSRF:       h.csrfToken(w, r),
		Request:    req.Params.Encode(),
		Error:      message,
		ClientName: clientName(req.Client),
		LoginHint:  req.LoginHint,
	}, origin(req.RedirectURI))
}

func (h *Handlers) consentPage(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, sess *oauth.Session) {
	// openid first: an OpenID request is first of all a sign-in ("Confirm
	// who you are"); the claims the other scopes release follow.
	scopes := make([]PageScope, 0, len(req.Scopes))
	for _, s := range req.Scopes {
		scopes = append(scopes, PageScope{Name: s, Description: h.opts.ScopeDescriptions[s]})
	}
	if i := slices.IndexFunc(scopes, func(s PageScope) bool { return s.Name == "openid" }); i > 0 {
		openid := scopes[i]
		copy(scopes[1:i+1], scopes[:i])
		scopes[0] = openid
	}
	switchAccount := maps.Clone(req.Params)
	switchAccount.Set("prompt", oauth.PromptLogin)
	h.render(w, r, http.StatusOK, PageConsent, &PageData{
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
	h.render(w, r, status, PageError, &PageData{
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
