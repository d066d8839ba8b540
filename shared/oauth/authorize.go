package oauth

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Response types (RFC 6749 §3.1.1).
const (
	ResponseTypeCode  = "code"
	ResponseTypeToken = "token"
)

// AuthorizeRequest is a validated authorization request (RFC 6749 §4.1.1,
// §4.2.1; RFC 7636 §4.3).
type AuthorizeRequest struct {
	Client       *Client
	ResponseType string
	// RedirectURI is where the response goes: the parameter, or the only
	// registered URI when the parameter was omitted.
	RedirectURI string
	// RedirectURIParam is the redirect_uri parameter as sent ("" if
	// omitted); the token request must repeat it (§4.1.3).
	RedirectURIParam    string
	Scopes              []string
	State               string
	CodeChallenge       string
	CodeChallengeMethod string
	// Prompt is the prompt parameter's values (OpenID Connect Core §3.1.2.1:
	// "none", "login", "consent"), and MaxAge the max_age parameter (-1 if
	// absent): see Decide.
	Prompt []string
	MaxAge time.Duration
	// LoginHint is the login_hint parameter (§3.1.2.1): the username the
	// sign-in page starts with; the user may change it.
	LoginHint string
	// HintSubject is the "sub" of the id_token_hint parameter (§3.1.2.1),
	// an ID token this server issued; "" without one. See Decide.
	HintSubject string
	// Nonce is the nonce parameter ("" if absent), put on the code and
	// returned in the ID token (OpenID Connect Core §3.1.2.1): optional
	// for the code flow, required for a response type that returns an ID
	// token from the authorization endpoint (§3.2.2.1, §3.3.2.11).
	Nonce string
	// Params are the request's parameters, for carrying the request through
	// the login and consent pages.
	Params url.Values
}

// Scope returns the requested scope, space-delimited.
func (r *AuthorizeRequest) Scope() string { return joinScope(r.Scopes) }

// ParseAuthorizeRequest validates the parameters of an authorization
// request (each given at most once; the HTTP layer checks that).
//
// It returns a nil request when client_id or redirect_uri is missing,
// unknown or mismatched, when the redirect URI is one registration refuses
// (ValidateRedirectURI: a client stored before the rule), or when the
// request or its response would be too large (MaxAuthorizeRequestBytes,
// MaxRedirectBytes): that error MUST be shown to the user and never
// redirected (RFC 6749 §4.1.2.1, §3.1.2.4). Any other error comes with a
// non-nil request and is sent to the client with ErrorRedirect.
func (s *Server) ParseAuthorizeRequest(ctx context.Context, params url.Values) (*AuthorizeRequest, *Error) {
	if n := len(s.URL(PathAuthorize)) + len("?") + len(params.Encode()); n > MaxAuthorizeRequestBytes {
		return nil, ErrInvalidRequest("the authorization request is too large: %d bytes as a URL, at most %d", n, MaxAuthorizeRequestBytes)
	}
	clientID := params.Get("client_id")
	if clientID == "" {
		return nil, ErrInvalidRequest("client_id is missing")
	}
	client, err := s.lookupClient(ctx, clientID)
	if err != nil {
		return nil, AsError(err)
	}
	given := params.Get("redirect_uri")
	redirect := matchRedirectURI(client, given)
	switch {
	case given == "" && slices.Contains(strings.Fields(params.Get("scope")), ScopeOpenID):
		// OpenID Connect Core §3.1.2.1: REQUIRED in an OpenID request,
		// even where RFC 6749 §3.1.2.3 lets a single registration stand in.
		return nil, ErrInvalidRequest("redirect_uri is required in an OpenID Connect request (scope openid)")
	case redirect != "":
	case len(client.RedirectURIs) == 0:
		return nil, ErrInvalidRequest("the client has no redirect URI")
	case given == "":
		return nil, ErrInvalidRequest("redirect_uri is required: the client registered several")
	default:
		return nil, ErrInvalidRequest("redirect_uri does not match any URI registered for this client")
	}
	if err := ValidateRedirectURI(redirect); err != nil {
		return nil, ErrInvalidRequest("the client's redirect URI is not allowed: %v", err)
	}
	if !s.responseFits(redirect, params.Get("state"), params.Get("response_type")) {
		return nil, ErrInvalidRequest("state and redirect_uri are too long: the response would not fit in %d bytes", MaxRedirectBytes)
	}
	req := &AuthorizeRequest{
		Client:           client,
		ResponseType:     params.Get("response_type"),
		RedirectURI:      redirect,
		RedirectURIParam: given,
		State:            params.Get("state"),
		Nonce:            params.Get("nonce"),
		Params:           params,
	}
	if oe := s.validateAuthorizeRequest(req, params); oe != nil {
		return req, oe
	}
	if oe := s.parseIDTokenHint(ctx, req, params); oe != nil {
		return req, oe
	}
	return req, nil
}

func (s *Server) validateAuthorizeRequest(req *AuthorizeRequest, params url.Values) *Error {
	client := req.Client
	if rt := CanonicalResponseType(req.ResponseType); rt != "" {
		req.ResponseType = rt
	}
	switch req.ResponseType {
	case "":
		return ErrInvalidRequest("response_type is missing")
	case ResponseTypeCode:
		if !client.AllowsGrant(GrantAuthorizationCode) || !client.AllowsResponseType(ResponseTypeCode) {
			return ErrUnauthorizedClient("this client may not use the authorization code grant")
		}
	case ResponseTypeToken:
		if s.cfg.DisableImplicitGrant {
			// §4.2.2.1: the server does not support this response type.
			return ErrUnsupportedResponseType("response_type token (the implicit grant) is not supported: use the authorization code grant with PKCE")
		}
		if !client.AllowsGrant(GrantImplicit) || !client.AllowsResponseType(ResponseTypeToken) {
			return ErrUnauthorizedClient("this client may not use the implicit grant")
		}
	case ResponseTypeIDToken, ResponseTypeIDTokenToken, ResponseTypeCodeIDToken:
		// OpenID Connect Core §3.2, §3.3: the ID token (and access token)
		// are signed here, at the authorization endpoint, which may sign
		// only where the implicit grant is allowed (Config.DisableImplicitGrant).
		if s.cfg.DisableImplicitGrant {
			return ErrUnsupportedResponseType("response_type %q (tokens from the authorization endpoint) is not supported: use response_type code with PKCE", req.ResponseType)
		}
		// The client registered this response type and the grants it
		// implies (RFC 7591 §2.1).
		for _, g := range ResponseTypeGrants(req.ResponseType) {
			if !client.AllowsGrant(g) {
				return ErrUnauthorizedClient("this client may not use response_type %q: it did not register grant type %q", req.ResponseType, g)
			}
		}
		if !client.AllowsResponseType(req.ResponseType) {
			return ErrUnauthorizedClient("this client did not register response_type %q", req.ResponseType)
		}
	default:
		return ErrUnsupportedResponseType("response_type %q is not supported", req.ResponseType)
	}
	if rm := params.Get("response_mode"); rm != "" && rm != req.defaultResponseMode() {
		return ErrInvalidRequest("response_mode %q is not supported for response_type %s", rm, req.ResponseType)
	}
	scopes, oe := resolveScope(params.Get("scope"), client.Scopes)
	if oe != nil {
		return oe
	}
	req.Scopes = scopes
	if returnsIDToken(req.ResponseType) {
		if oe := req.validateIDTokenResponse(); oe != nil {
			return oe
		}
	}
	if oe := req.parsePrompt(params); oe != nil {
		return oe
	}
	if hasResponseWord(req.ResponseType, ResponseTypeCode) {
		return req.validatePKCE(params)
	}
	return nil
}

// validatePKCE applies RFC 7636 §4.3 and §4.4.1 and RFC 9700 §2.1.1: S256
// only, well-formed challenge, required for public clients.
func (req *AuthorizeRequest) validatePKCE(params url.Values) *Error {
	challenge, method := params.Get("code_challenge"), params.Get("code_challenge_method")
	if challenge == "" {
		if method != "" {
			return ErrInvalidRequest("code_challenge_method given without code_challenge")
		}
		if req.Client.IsPublic() {
			return ErrInvalidRequest("PKCE is required for public clients: send code_challenge with code_challenge_method=S256")
		}
		return nil
	}
	if method == "" {
		// RFC 7636 §4.3 defaults to "plain", which is refused.
		return ErrInvalidRequest("code_challenge_method is required and must be S256")
	}
	if method != PKCEMethodS256 {
		return ErrInvalidRequest("code_challenge_method %q is not supported; use S256", method)
	}
	if !validPKCEString(challenge) {
		return ErrInvalidRequest("code_challenge must be 43-128 unreserved characters (RFC 7636 §4.2)")
	}
	req.CodeChallenge, req.CodeChallengeMethod = challenge, method
	return nil
}

// defaultResponseMode is "query" for response_type=code and "fragment"
// for every response type that returns a token or an ID token (RFC 6749
// §4.2.2; Multiple Response Type Encoding Practices §2.1, §5: such a
// response MUST NOT be sent in the query). It is the only mode served.
func (req *AuthorizeRequest) defaultResponseMode() string {
	if req.inFragment() {
		return "fragment"
	}
	return "query"
}

// inFragment reports whether the response goes in the redirect URI's
// fragment (defaultResponseMode).
func (req *AuthorizeRequest) inFragment() bool {
	switch req.ResponseType {
	case ResponseTypeToken, ResponseTypeIDToken, ResponseTypeIDTokenToken, ResponseTypeCodeIDToken:
		return true
	}
	return false
}

// Approve issues the response to an authorization the user approved and
// returns the redirect URL: a code in the query (§4.1.2) or, for the
// implicit grant, an access token in the fragment (§4.2.2). consent says
// the user has just allowed req's scopes on the consent page: it is
// recorded with the code, in the same write, so that the next request
// for the same or fewer scopes skips the page.
//
// A session that ended meanwhile (logged out elsewhere) is ErrNotFound,
// with no location: the caller asks the user to sign in again. A failure
// to issue is itself redirected as server_error or
// temporarily_unavailable: location is then that error redirect, and err
// (an *Error) the error it carries, for the caller's log.
func (s *Server) Approve(ctx context.Context, req *AuthorizeRequest, sess *Session, consent bool) (location string, err error) {
	change := s.sessionChange(sess, req, consent)
	var params url.Values
	switch {
	case req.ResponseType == ResponseTypeToken:
		params, err = s.issueImplicit(ctx, req, sess, change)
	case returnsIDToken(req.ResponseType):
		params, err = s.issueFrontChannel(ctx, req, sess, change)
	default:
		params, err = s.issueCode(ctx, req, sess, change)
	}
	if errors.Is(err, ErrNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		oe := AsError(err)
		return s.ErrorRedirect(req, oe), oe
	}
	if req.State != "" {
		params.Set("state", req.State)
	}
	params.Set("iss", s.cfg.Issuer) // RFC 9207 §2
	return appendParams(req.RedirectURI, params, req.inFragment()), nil
}

// ErrorRedirect returns the redirect URL carrying an error response
// (§4.1.2.1, §4.2.2.1) with state and iss (RFC 9207). A description longer
// than maxRedirectDescription (it may quote the request) is cut short.
func (s *Server) ErrorRedirect(req *AuthorizeRequest, oe *Error) string {
	params := url.Values{"error": {oe.Code}}
	if d := oe.Description; d != "" {
		if len(d) > maxRedirectDescription {
			d = strings.ToValidUTF8(d[:maxRedirectDescription-len("...")], "") + "..."
		}
		params.Set("error_description", d)
	}
	if oe.URI != "" {
		params.Set("error_uri", oe.URI)
	}
	if req.State != "" {
		params.Set("state", req.State)
	}
	params.Set("iss", s.cfg.Issuer)
	return appendParams(req.RedirectURI, params, req.inFragment())
}

// issueCode creates and stores an authorization code (RFC 6749 §4.1.2):
// 256 random bits, stored hashed, bound to everything the token request
// must match.
func (s *Server) issueCode(ctx context.Context, req *AuthorizeRequest, sess *Session, change *SessionChange) (url.Values, error) {
	code := RandomToken()
	if err := s.storeCode(ctx, req, sess, change, code); err != nil {
		return nil, err
	}
	return url.Values{"code": {code}}, nil
}

// storeCode stores the authorization code code with the session change,
// in one write.
func (s *Server) storeCode(ctx context.Context, req *AuthorizeRequest, sess *Session, change *SessionChange, code string) error {
	now := s.now()
	return s.store.CreateCode(ctx, &AuthorizationCode{
		Hash:                HashToken(code),
		GrantID:             RandomToken(),
		ClientID:            req.Client.ID,
		RedirectURI:         req.RedirectURIParam,
		Scopes:              req.Scopes,
		Subject:             sess.Subject,
		Username:            sess.Username,
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod,
		AuthTime:            sess.AuthTime,
		Nonce:               req.Nonce,
		ExpiresAt:           now.Add(s.cfg.CodeLifetime),
	}, change)
}

// issueImplicit issues an access token in the authorization response
// (§4.2.2). It gets no refresh token and belongs to no grant. The session
// change is written first: a token is never returned for a session that
// ended.
func (s *Server) issueImplicit(ctx context.Context, req *AuthorizeRequest, sess *Session, change *SessionChange) (url.Values, error) {
	if change != nil {
		if err := s.store.UpdateSession(ctx, change); err != nil {
			return nil, err
		}
	}
	tok, lifetime, err := s.issueAccessToken(ctx, req.Client, sess.Subject, sess.Username, req.Scopes, "")
	if err != nil {
		return nil, err
	}
	return url.Values{
		"access_token": {tok},
		"token_type":   {"Bearer"},
		"expires_in":   {strconv.FormatInt(int64(lifetime/time.Second), 10)},
		"scope":        {req.Scope()},
	}, nil
}
