package httpapi

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

//go:embed templates/*.html templates/style.css
var templateFS embed.FS

// Pages, each parsed with the shared layout.
const (
	pageLogin     = "login.html"
	pageConsent   = "consent.html"
	pageError     = "error.html"
	pageLogout    = "logout.html"
	pageSignedOut = "signedout.html"
)

var (
	pages = map[string]*template.Template{}
	// stylesheet is inlined in every page and allowed by its hash, so the
	// Content-Security-Policy needs no 'unsafe-inline' and no other origin.
	stylesheet     template.CSS
	stylesheetHash string
)

func init() {
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		panic(err)
	}
	stylesheet = template.CSS(css)
	sum := sha256.Sum256(css)
	stylesheetHash = "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	for _, name := range []string{pageLogin, pageConsent, pageError, pageLogout, pageSignedOut} {
		pages[name] = template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/"+name))
	}
}

// pageData is what the templates show.
type pageData struct {
	Title      string
	CSS        template.CSS
	FormAction string
	CSRF       string
	Request    string // the authorization request, as a query string
	Error      string
	ClientName string
	Username   string
	Scopes     []scopeView
	ErrorCode  string
}

type scopeView struct{ Name, Description string }

// securityHeaders are sent with every page: never cached, never framed
// (RFC 6749 §10.13 clickjacking), nothing loaded from anywhere, forms posted
// only to us and to the client's redirect origin (browsers apply
// form-action to the redirect that follows a post).
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
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+stylesheetHash+
		"; img-src 'self'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
}

// render writes a page. formTarget is the client's redirect origin when the
// page's form may end in a redirect there.
func (h *Handlers) render(w http.ResponseWriter, r *http.Request, status int, name string, data *pageData, formTarget string) {
	securityHeaders(w, formTarget)
	data.CSS = stylesheet
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if err := pages[name].ExecuteTemplate(w, "layout", data); err != nil {
		h.log.ErrorContext(r.Context(), "rendering page", "page", name, "error", err)
	}
}

func (h *Handlers) loginPage(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, message string) {
	h.render(w, r, http.StatusOK, pageLogin, &pageData{
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
	h.render(w, r, http.StatusOK, pageConsent, &pageData{
		Title:      "Allow access?",
		FormAction: h.srv.URL(oauth.PathAuthorize),
		CSRF:       h.csrfToken(w, r),
		Request:    req.Params.Encode(),
		ClientName: clientName(req.Client),
		Username:   sess.Username,
		Scopes:     scopes,
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
