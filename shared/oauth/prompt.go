package oauth

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Prompt values (OpenID Connect Core §3.1.2.1), which Gatehouse honours in
// plain OAuth authorization requests too.
const (
	PromptNone    = "none"    // show no page: answer, or fail with login_required / consent_required
	PromptLogin   = "login"   // sign in again, even with a live session
	PromptConsent = "consent" // ask for consent, even if already given
	// PromptSelectAccount asks the user to choose an account: a browser
	// has one session, so it shows the sign-in page, as login does.
	PromptSelectAccount = "select_account"
)

// maxMaxAge bounds max_age, so that the duration cannot overflow.
const maxMaxAge = 100 * 365 * 24 * time.Hour

// parsePrompt reads prompt and max_age (OpenID Connect Core §3.1.2.1).
// "none" with any other value is invalid_request.
func (req *AuthorizeRequest) parsePrompt(params url.Values) *Error {
	req.MaxAge = -1
	if p := params.Get("prompt"); p != "" {
		for _, v := range strings.Fields(p) {
			switch v {
			case PromptNone, PromptLogin, PromptConsent, PromptSelectAccount:
				if !slices.Contains(req.Prompt, v) {
					req.Prompt = append(req.Prompt, v)
				}
			default:
				// §3.1.2.1 defines four values and says nothing of others:
				// refusing one is safer than guessing what the client meant.
				return ErrInvalidRequest("prompt %q is not supported: use none, login, consent or select_account", v)
			}
		}
		if req.prompts(PromptNone) && len(req.Prompt) > 1 {
			return ErrInvalidRequest("prompt=none cannot be combined with other prompt values")
		}
	}
	if v := params.Get("max_age"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return ErrInvalidRequest("max_age must be a number of seconds")
		}
		req.MaxAge = time.Duration(min(n, int64(maxMaxAge/time.Second))) * time.Second
	}
	req.LoginHint = params.Get("login_hint")
	return nil
}

// parseIDTokenHint reads id_token_hint (OpenID Connect Core §3.1.2.1): an
// ID token this server issued (verifyIDTokenHint, shared with RP-Initiated
// Logout; an expired one is accepted, as there: it is a hint about a past
// sign-in), whose "sub" Decide compares with the session's user. A hint
// that is not one is invalid_request; keys that cannot be read are
// server_error.
func (s *Server) parseIDTokenHint(ctx context.Context, req *AuthorizeRequest, params url.Values) *Error {
	hint := params.Get("id_token_hint")
	if hint == "" {
		return nil
	}
	claims, err := s.verifyIDTokenHint(ctx, hint)
	if errors.Is(err, ErrKeyUnavailable) {
		return ErrServer(err)
	}
	if err != nil {
		return ErrInvalidRequest("the id_token_hint is not an ID token this server issued")
	}
	req.HintSubject = claims.Subject
	return nil
}

// prompts reports whether the request carries prompt value v.
func (req *AuthorizeRequest) prompts(v string) bool { return slices.Contains(req.Prompt, v) }

// Satisfied returns the request's parameters as they are after the user
// has just signed in: without prompt=login (and select_account), max_age
// and id_token_hint, which the fresh sign-in satisfies once (the user who
// just signed in is the one the request is answered for, whoever the hint
// named). The login sends the browser back with them (so
// that the request does not ask again), and the consent page that follows
// posts them. Every other way in is decided again (Decide): a GET, or a
// form post, that still carries prompt=login or an exceeded max_age is
// asked to sign in.
func (req *AuthorizeRequest) Satisfied() url.Values {
	params := maps.Clone(req.Params)
	delete(params, "max_age")
	delete(params, "id_token_hint")
	if p := slices.DeleteFunc(slices.Clone(req.Prompt), func(v string) bool { return v == PromptLogin || v == PromptSelectAccount }); len(p) > 0 {
		params.Set("prompt", strings.Join(p, " "))
	} else {
		delete(params, "prompt")
	}
	return params
}

// Step is what an authorization request needs next.
type Step int

const (
	StepLogin   Step = iota + 1 // show the login page
	StepConsent                 // show the consent page
	StepApprove                 // respond to the client now (Approve)
)

// Decide returns what req needs next, given the browser's live session
// (nil if none):
//
//   - the login page without a session, with prompt=login or
//     select_account, when an id_token_hint names another user than the
//     session's, with max_age=0 ("equivalent to prompt=login", OpenID
//     Connect Core §3.1.2.1), or when the session's sign-in is older than
//     max_age;
//   - the consent page unless the client is first-party or the user has
//     already allowed it every requested scope, or with prompt=consent;
//   - else the response.
//
// With prompt=none a page is an error instead, to redirect to the client:
// login_required or consent_required (OpenID Connect Core §3.1.2.6).
//
// The authorization endpoint decides every request with it: each GET (the
// login form's post redirects to one) and again each consent form post, so
// that a form cannot skip a sign-in the request asks for (§3.1.2.1).
func (s *Server) Decide(req *AuthorizeRequest, sess *Session) (Step, *Error) {
	switch {
	case sess == nil:
		return s.pageOrError(req, StepLogin, "the user is not signed in")
	case req.prompts(PromptLogin), req.prompts(PromptSelectAccount):
		return StepLogin, nil
	case req.HintSubject != "" && req.HintSubject != sess.Subject:
		// §3.1.2.1 id_token_hint: "If the End-User identified by the ID
		// Token is logged in ... the Authorization Server returns a
		// positive response; otherwise, it SHOULD return an error, such
		// as login_required."
		return s.pageOrError(req, StepLogin, "the id_token_hint names another user than the signed-in one")
	case req.MaxAge == 0, req.MaxAge > 0 && s.now().Sub(sess.AuthTime) > req.MaxAge:
		return s.pageOrError(req, StepLogin, "the user signed in longer ago than max_age")
	case req.prompts(PromptConsent) || !consented(req, sess):
		return s.pageOrError(req, StepConsent, "the user has not allowed this client the requested scope")
	}
	return StepApprove, nil
}

func (s *Server) pageOrError(req *AuthorizeRequest, page Step, why string) (Step, *Error) {
	if !req.prompts(PromptNone) {
		return page, nil
	}
	if page == StepLogin {
		return 0, ErrLoginRequired("prompt=none: %s", why)
	}
	return 0, ErrConsentRequired("prompt=none: %s", why)
}

// consented reports whether req needs no consent page: a first-party
// client, or every requested scope already allowed to the client.
func consented(req *AuthorizeRequest, sess *Session) bool {
	if req.Client.FirstParty {
		return true
	}
	allowed, ok := sess.Consents[req.Client.ID]
	if !ok {
		return false
	}
	for _, sc := range req.Scopes {
		if !slices.Contains(allowed, sc) {
			return false
		}
	}
	return true
}
