package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Form fields of the login and consent pages. The original authorization
// request travels in fieldRequest and is validated again on every post:
// nothing from a hidden field is trusted.
const (
	fieldAction   = "gh_action" // "login" or "consent"
	fieldRequest  = "gh_request"
	fieldCSRF     = "gh_csrf"
	actionLogin   = "login"
	actionConsent = "consent"
)

// authorize serves the authorization endpoint (RFC 6749 §3.1): GET, or POST
// of the same parameters (§3.1 allows it), or POST from our own login and
// consent forms.
func (h *Handlers) authorize(w http.ResponseWriter, r *http.Request) {
	rec := h.begin(r, EndpointAuthorize)
	defer rec.end()
	if h.opts.Pages == nil {
		rec.fail(errNoPages)
		writeError(w, errNoPages, false)
		return
	}
	var params url.Values
	var oe *oauth.Error
	switch r.Method {
	case http.MethodGet:
		if len(r.URL.RawQuery) > oauth.MaxAuthorizeRequestBytes {
			oe = errRequestTooLarge()
			break
		}
		params, oe = parseParams(r.URL.RawQuery)
	case http.MethodPost:
		params, oe = readForm(r, h.opts.MaxBodyBytes)
		if oe == nil && params.Get(fieldAction) != "" {
			h.formPost(w, r, params, rec)
			return
		}
	default:
		rec.ev.Outcome = oauth.CodeInvalidRequest
		methodNotAllowed(w, "GET, POST")
		return
	}
	if oe != nil {
		rec.fail(oe)
		h.errorPage(w, r, oe)
		return
	}
	req := h.parseRequest(w, r, params, rec)
	if req == nil {
		return
	}
	sess, err := h.session(r)
	if err != nil {
		rec.fail(err)
		h.errorPage(w, r, oauth.AsError(err))
		return
	}
	h.next(w, r, req, sess, rec)
}

// next shows the page the request needs, or answers the client (Decide).
func (h *Handlers) next(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, sess *oauth.Session, rec *record) {
	step, oe := h.srv.Decide(req, sess)
	if oe != nil { // prompt=none
		rec.fail(oe)
		h.redirect(w, r, rec, h.srv.ErrorRedirect(req, oe))
		return
	}
	switch step {
	case oauth.StepLogin:
		h.loginPage(w, r, req, http.StatusOK, "")
	case oauth.StepConsent:
		if err := h.srv.TouchSession(r.Context(), sess); errors.Is(err, oauth.ErrNotFound) {
			h.loginPage(w, r, req, http.StatusOK, msgSessionEnded)
			return
		} else if err != nil {
			rec.fail(err)
			h.errorPage(w, r, oauth.AsError(err))
			return
		}
		h.consentPage(w, r, req, sess)
	default:
		h.approve(w, r, req, sess, false, rec)
	}
}

// approve answers the client (Approve); consent says the user has just
// allowed the request on the consent page.
func (h *Handlers) approve(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, sess *oauth.Session, consent bool, rec *record) {
	location, err := h.srv.Approve(r.Context(), req, sess, consent)
	switch {
	case location == "": // the session ended meanwhile
		h.loginPage(w, r, req, http.StatusOK, msgSessionEnded)
		return
	case err != nil:
		rec.fail(err)
	case req.ResponseType != oauth.ResponseTypeCode:
		rec.issued() // a token or an ID token, from this endpoint
	}
	h.redirect(w, r, rec, location)
}

// Messages of the login page.
const (
	msgSessionEnded = "Your session has ended. Sign in again."
	msgSignInAgain  = "Sign in again to continue."
	msgLoginFailed  = "The username or password is not right. Check them and try again."
)

// errRequestTooLarge answers an authorization request over
// oauth.MaxAuthorizeRequestBytes, before it is parsed.
func errRequestTooLarge() *oauth.Error {
	return oauth.ErrInvalidRequest("the authorization request is larger than %d bytes", oauth.MaxAuthorizeRequestBytes)
}

// parseRequest validates an authorization request. Errors that must not be
// redirected (bad client or redirect URI) get the error page; the others
// are redirected to the client. It returns nil when it has answered.
func (h *Handlers) parseRequest(w http.ResponseWriter, r *http.Request, params url.Values, rec *record) *oauth.AuthorizeRequest {
	rec.ev.ClientID = params.Get("client_id")
	req, oe := h.srv.ParseAuthorizeRequest(r.Context(), params)
	if req != nil {
		rec.ev.GrantType = grantOf(req.ResponseType)
	}
	switch {
	case req == nil:
		rec.fail(oe)
		h.errorPage(w, r, oe)
		return nil
	case oe != nil:
		rec.fail(oe)
		h.redirect(w, r, rec, h.srv.ErrorRedirect(req, oe))
		return nil
	}
	return req
}

// formPost handles the login and consent forms.
func (h *Handlers) formPost(w http.ResponseWriter, r *http.Request, form url.Values, rec *record) {
	if !h.csrfValid(r, form) {
		oe := oauth.ErrInvalidRequest("this form has expired or did not come from this site")
		rec.fail(oe)
		h.errorPageStatus(w, r, oe, http.StatusForbidden)
		return
	}
	raw := form.Get(fieldRequest)
	if len(raw) > oauth.MaxAuthorizeRequestBytes {
		oe := errRequestTooLarge()
		rec.fail(oe)
		h.errorPage(w, r, oe)
		return
	}
	params, oe := parseParams(raw)
	if oe != nil {
		rec.fail(oe)
		h.errorPage(w, r, oe)
		return
	}
	req := h.parseRequest(w, r, params, rec)
	if req == nil {
		return
	}
	switch form.Get(fieldAction) {
	case actionLogin:
		h.login(w, r, req, form, rec)
	case actionConsent:
		h.consent(w, r, req, form, rec)
	default:
		oe := oauth.ErrInvalidRequest("unknown form action")
		rec.fail(oe)
		h.errorPage(w, r, oe)
	}
}

// login checks the password, starts a session and sends the browser back to
// the authorization request (POST-redirect-GET), which now finds the
// session and shows the consent page.
//
// Too many failures for the username or from the address (oauth's login
// throttle) get 429 with Retry-After and a message that reads the same
// whether or not the user exists.
func (h *Handlers) login(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, form url.Values, rec *record) {
	sess, cookie, err := h.srv.Login(r.Context(), form.Get("username"), form.Get("password"), r.RemoteAddr)
	var throttled *oauth.ThrottledError
	switch {
	case errors.Is(err, oauth.ErrLoginFailed):
		rec.ev.Outcome = OutcomeLoginFailed
		h.loginPage(w, r, req, http.StatusOK, msgLoginFailed)
		return
	case errors.As(err, &throttled):
		rec.ev.Outcome = OutcomeLoginThrottled
		wait := max(throttled.RetryAfter, time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		h.loginPage(w, r, req, http.StatusTooManyRequests, fmt.Sprintf(
			"Too many failed sign-in attempts. For your security, signing in is paused: try again in %s.", humanMinutes(wait)))
		return
	case err != nil:
		rec.fail(err)
		h.errorPage(w, r, oauth.AsError(err))
		return
	}
	if old, err := r.Cookie(sessionCookie); err == nil { // signing in again ends the old session
		if err := h.srv.Logout(r.Context(), old.Value); err != nil {
			h.log.WarnContext(r.Context(), "ending the replaced session", "error", err)
		}
	}
	h.setSessionCookie(w, cookie, sess)
	h.redirect(w, r, rec, h.srv.URL(oauth.PathAuthorize)+"?"+req.Satisfied().Encode())
}

// humanMinutes says a wait in whole minutes ("1 minute", "12 minutes").
func humanMinutes(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "1 minute"
	}
	return strconv.Itoa(m) + " minutes"
}

// consent applies the user's decision (RFC 6749 §4.1.2, §4.1.2.1
// access_denied), after deciding the request again as its GET would be
// (OpenID Connect Core §3.1.2.1): a request that now needs a sign-in (no
// session, prompt=login, max_age=0 or exceeded) gets the login page, and
// one with prompt=none that needs a page gets its error, never a code. The
// consent page's own form carries the request as the login left it
// (oauth's Satisfied), so only a sign-in the request still asks for is
// asked for.
func (h *Handlers) consent(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, form url.Values, rec *record) {
	decision := form.Get("decision")
	if decision != "allow" && decision != "deny" {
		oe := oauth.ErrInvalidRequest("choose allow or deny")
		rec.fail(oe)
		h.errorPage(w, r, oe)
		return
	}
	sess, err := h.session(r)
	if err != nil {
		rec.fail(err)
		h.errorPage(w, r, oauth.AsError(err))
		return
	}
	step, oe := h.srv.Decide(req, sess)
	switch {
	case oe != nil: // prompt=none
		rec.fail(oe)
		h.redirect(w, r, rec, h.srv.ErrorRedirect(req, oe))
	case step == oauth.StepLogin && sess == nil:
		h.loginPage(w, r, req, http.StatusOK, msgSessionEnded)
	case step == oauth.StepLogin:
		h.loginPage(w, r, req, http.StatusOK, msgSignInAgain)
	case decision == "allow":
		h.approve(w, r, req, sess, true, rec)
	default:
		rec.ev.Outcome = oauth.CodeAccessDenied
		h.redirect(w, r, rec, h.srv.ErrorRedirect(req, oauth.ErrAccessDenied("the user denied the request")))
	}
}

// logout serves the end-session endpoint (OpenID Connect RP-Initiated
// Logout 1.0): GET, or POST of the same parameters (§2: the OP "MUST
// support the use of the HTTP GET and POST methods"), or POST from our own
// confirmation form (with the CSRF token). A logout request with an
// id_token_hint naming the session's user ends the session at once; any
// other asks the user to confirm first (§4). After the logout the browser
// goes back to the client's registered post_logout_redirect_uri, with
// state (§3), or sees the signed-out page. A request in error is never
// redirected: it gets the error page.
//
// A POST without the CSRF token and without any logout parameter is a
// forged confirmation: 403, the session untouched.
func (h *Handlers) logout(w http.ResponseWriter, r *http.Request) {
	rec := h.begin(r, EndpointLogout)
	defer rec.end()
	if h.opts.Pages == nil {
		rec.fail(errNoPages)
		writeError(w, errNoPages, false)
		return
	}
	var params url.Values
	var oe *oauth.Error
	confirmed := false
	switch r.Method {
	case http.MethodGet:
		if len(r.URL.RawQuery) > oauth.MaxLogoutRequestBytes {
			oe = errLogoutTooLarge()
			break
		}
		params, oe = parseParams(r.URL.RawQuery)
	case http.MethodPost:
		var form url.Values
		form, oe = readForm(r, h.opts.MaxBodyBytes)
		switch {
		case oe != nil:
		case form.Has(fieldCSRF) || !hasLogoutParam(form):
			if !h.csrfValid(r, form) {
				oe = oauth.ErrInvalidRequest("this form has expired or did not come from this site")
				rec.fail(oe)
				h.errorPageStatus(w, r, oe, http.StatusForbidden)
				return
			}
			confirmed = true
			if raw := form.Get(fieldRequest); len(raw) > oauth.MaxLogoutRequestBytes {
				oe = errLogoutTooLarge()
			} else {
				params, oe = parseParams(raw)
			}
		default:
			params = form
		}
	default:
		rec.ev.Outcome = oauth.CodeInvalidRequest
		methodNotAllowed(w, "GET, POST")
		return
	}
	if oe != nil {
		rec.fail(oe)
		h.errorPage(w, r, oe)
		return
	}
	rec.ev.ClientID = params.Get("client_id")
	req, oe := h.srv.ParseLogoutRequest(r.Context(), params)
	if oe != nil {
		rec.fail(oe)
		h.errorPage(w, r, oe)
		return
	}
	if req.Client != nil {
		rec.ev.ClientID = req.Client.ID
	}
	sess, err := h.session(r)
	if err != nil {
		rec.fail(err)
		h.errorPage(w, r, oauth.AsError(err))
		return
	}
	if !confirmed && req.NeedsConfirmation(sess) {
		data := &PageData{Title: "Sign out", CSRF: h.csrfToken(w, r), FormAction: h.srv.URL(oauth.PathLogout)}
		if len(req.Params) > 0 {
			data.Request = req.Params.Encode()
		}
		if req.Client != nil {
			data.ClientName = clientName(req.Client)
		}
		var target string // the form's redirect, which form-action governs too
		if req.RedirectURI != "" {
			target = origin(req.RedirectURI)
		}
		h.render(w, r, http.StatusOK, PageLogout, data, target)
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := h.srv.Logout(r.Context(), c.Value); err != nil {
			rec.fail(err)
			h.errorPage(w, r, oauth.AsError(err))
			return
		}
		h.clearSessionCookie(w)
	}
	if location := req.Location(); location != "" {
		h.redirect(w, r, rec, location)
		return
	}
	h.render(w, r, http.StatusOK, PageSignedOut, &PageData{Title: "Signed out"}, "")
}

// hasLogoutParam reports whether a form carries a logout request
// parameter (RP-Initiated Logout 1.0 §2), rather than being our own
// confirmation form.
func hasLogoutParam(form url.Values) bool {
	for _, p := range oauth.LogoutParams {
		if form.Has(p) {
			return true
		}
	}
	return false
}

// errLogoutTooLarge answers a logout request over
// oauth.MaxLogoutRequestBytes, before it is parsed.
func errLogoutTooLarge() *oauth.Error {
	return oauth.ErrInvalidRequest("the logout request is larger than %d bytes", oauth.MaxLogoutRequestBytes)
}

// grantOf names the grant an authorization request's response type starts
// (RFC 6749 §4.1, §4.2), for the log: the implicit grant for every
// response type that returns tokens from the authorization endpoint
// (OpenID Connect Core 1.0 §3.2, §3.3), "code id_token" included.
func grantOf(responseType string) string {
	switch oauth.CanonicalResponseType(responseType) {
	case oauth.ResponseTypeCode:
		return oauth.GrantAuthorizationCode
	case oauth.ResponseTypeToken, oauth.ResponseTypeIDToken, oauth.ResponseTypeIDTokenToken, oauth.ResponseTypeCodeIDToken:
		return oauth.GrantImplicit
	}
	return ""
}

// redirect sends the browser on: 302 after a GET, 303 after a POST so the
// form body is not re-posted to the target (RFC 9700 §4.12). A location
// over oauth.MaxRedirectBytes, which the request's checks should have
// prevented, is not sent: the user gets the error page.
func (h *Handlers) redirect(w http.ResponseWriter, r *http.Request, rec *record, location string) {
	if len(location) > oauth.MaxRedirectBytes {
		oe := oauth.ErrInvalidRequest("the response is too large to send back: the request's state or redirect URI is too long")
		h.log.ErrorContext(r.Context(), "a redirect over the size limit", "bytes", len(location), "limit", oauth.MaxRedirectBytes)
		rec.fail(oe)
		h.errorPage(w, r, oe)
		return
	}
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", location)
	w.WriteHeader(status)
}
