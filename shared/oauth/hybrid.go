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

// OpenID Connect response types that return an ID token from the
// authorization endpoint (OpenID Connect Core 1.0 §3.2 Implicit Flow,
// §3.3 Hybrid Flow; OAuth 2.0 Multiple Response Type Encoding Practices
// §3, §5). They are written here in their canonical order; a request or
// a registration may list the same words in any order (RFC 6749 §3.1.1:
// "the order of values does not matter").
const (
	ResponseTypeIDToken      = "id_token"
	ResponseTypeIDTokenToken = "id_token token"
	ResponseTypeCodeIDToken  = "code id_token"
)

// responseTypes are the response types Gatehouse knows, canonical, each
// with the grant types a client must register to use it (RFC 7591 §2.1;
// OpenID Connect Dynamic Client Registration 1.0 §2, response_types).
var responseTypes = []struct {
	words  []string // sorted
	name   string
	grants []string
}{
	{[]string{"code"}, ResponseTypeCode, []string{GrantAuthorizationCode}},
	{[]string{"token"}, ResponseTypeToken, []string{GrantImplicit}},
	{[]string{"id_token"}, ResponseTypeIDToken, []string{GrantImplicit}},
	{[]string{"id_token", "token"}, ResponseTypeIDTokenToken, []string{GrantImplicit}},
	{[]string{"code", "id_token"}, ResponseTypeCodeIDToken, []string{GrantAuthorizationCode, GrantImplicit}},
}

// CanonicalResponseType returns the canonical spelling of the response
// type rt ("token id_token" is "id_token token"), or "" if Gatehouse does
// not support it. rt is a list of words separated by single spaces (RFC
// 6749 §3.1.1), each at most once; order does not matter (Multiple
// Response Type Encoding Practices §5).
func CanonicalResponseType(rt string) string {
	words := strings.Split(rt, " ")
	slices.Sort(words)
	for _, t := range responseTypes {
		if slices.Equal(words, t.words) {
			return t.name
		}
	}
	return ""
}

// ResponseTypeGrants returns the grant types a client must register to
// use the response type rt (RFC 7591 §2.1): authorization_code for one
// with code, implicit for one with token or id_token. nil if rt is not
// supported.
func ResponseTypeGrants(rt string) []string {
	rt = CanonicalResponseType(rt)
	for _, t := range responseTypes {
		if t.name == rt && rt != "" {
			return slices.Clone(t.grants)
		}
	}
	return nil
}

// hasResponseWord reports whether the response type rt contains word
// ("code", "token" or "id_token").
func hasResponseWord(rt, word string) bool { return slices.Contains(strings.Split(rt, " "), word) }

// returnsIDToken reports whether the response type returns an ID token
// from the authorization endpoint (OpenID Connect Core 1.0 §3.2.2.5,
// §3.3.2.5).
func returnsIDToken(rt string) bool { return hasResponseWord(rt, ResponseTypeIDToken) }

// validateIDTokenResponse applies OpenID Connect Core 1.0 to a request
// whose response type returns an ID token from the authorization
// endpoint: the openid scope is required (§3.2.2.1, §3.3.2.1: without it
// the request is no OpenID Connect request, and OAuth 2.0 defines no
// id_token response), and so is nonce (§3.2.2.1: "REQUIRED" for the
// Implicit Flow; §3.3.2.11 for the Hybrid Flow's ID token), so that a
// replayed ID token can be told apart. Both are invalid_request,
// redirected to the client in the fragment (§3.2.2.6, §3.3.2.6).
func (req *AuthorizeRequest) validateIDTokenResponse() *Error {
	if !hasScope(req.Scopes, ScopeOpenID) {
		return ErrInvalidRequest("response_type %q returns an ID token and needs the openid scope (OpenID Connect Core 1.0 §3.2.2.1)", req.ResponseType)
	}
	if req.Nonce == "" {
		return ErrInvalidRequest("nonce is required for response_type %q (OpenID Connect Core 1.0 §3.2.2.1, §3.3.2.11)", req.ResponseType)
	}
	if len(req.Nonce) > MaxNonceBytes {
		return ErrInvalidRequest("nonce is longer than %d bytes", MaxNonceBytes)
	}
	return nil
}

// MaxNonceBytes bounds the nonce of a request that returns an ID token
// from the authorization endpoint, so that the ID token, which repeats it,
// fits in the redirect (MaxRedirectBytes). OpenID Connect Core 1.0 sets no
// bound; a nonce is a random value or a hash of one (§15.5.2), tens of
// bytes.
const MaxNonceBytes = 512

// claimScopes are the scopes whose claims go into an ID token issued
// without an access token (OpenID Connect Core 1.0 §5.4).
var claimScopes = []string{"profile", "email", "address", "phone"}

// issueFrontChannel answers an authorization request whose response type
// returns an ID token from the authorization endpoint (OpenID Connect Core
// 1.0 §3.2.2.5, §3.3.2.5): "id_token", "id_token token" or "code
// id_token". Every token is signed before anything is written, so a
// signing failure leaves nothing behind (for "code id_token" the code's
// write is the only write and comes last; for the others the session's
// change is written before anything is returned, as issueImplicit does).
//
// The ID token (§3.2.2.10, §3.3.2.11) has iss, sub, aud, exp, iat,
// auth_time, nonce and amr as the token endpoint's has, with at_hash when
// an access token comes with it and c_hash when a code does. With
// response_type=id_token no access token is issued, so no UserInfo call
// is possible: the claims the granted profile, email, address and phone
// scopes release go into the ID token itself (§5.4, last paragraph), read
// from the user's record (one more store read, only then).
//
// The code of "code id_token" is the code flow's: its token request
// returns the usual ID token with the same sub, nonce and auth_time
// (§3.3.3.6).
func (s *Server) issueFrontChannel(ctx context.Context, req *AuthorizeRequest, sess *Session, change *SessionChange) (url.Values, error) {
	id := idTokenParams{client: req.Client, subject: sess.Subject, authTime: sess.AuthTime, nonce: req.Nonce}
	out := url.Values{}
	if hasResponseWord(req.ResponseType, ResponseTypeCode) {
		code := RandomToken()
		id.code = code
		idToken, err := s.mintIDToken(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := s.storeCode(ctx, req, sess, change, code); err != nil {
			return nil, err
		}
		out.Set("code", code)
		out.Set("id_token", idToken)
		return out, nil
	}
	if change != nil {
		if err := s.store.UpdateSession(ctx, change); err != nil {
			return nil, err
		}
	}
	if hasResponseWord(req.ResponseType, ResponseTypeToken) {
		tok, lifetime, err := s.issueAccessToken(ctx, req.Client, sess.Subject, sess.Username, req.Scopes, "")
		if err != nil {
			return nil, err
		}
		id.accessToken = tok
		out.Set("access_token", tok)
		out.Set("token_type", "Bearer")
		out.Set("expires_in", strconv.FormatInt(int64(lifetime/time.Second), 10))
		out.Set("scope", req.Scope())
	} else if slices.ContainsFunc(claimScopes, func(sc string) bool { return hasScope(req.Scopes, sc) }) {
		claims, err := s.idTokenUserClaims(ctx, sess, req.Scopes)
		if err != nil {
			return nil, err
		}
		id.claims = claims
	}
	idToken, err := s.mintIDToken(ctx, id)
	if err != nil {
		return nil, err
	}
	out.Set("id_token", idToken)
	return out, nil
}

// idTokenUserClaims returns the claims scopes release about the session's
// user (ReleasedClaims), for an ID token issued without an access token
// (OpenID Connect Core 1.0 §5.4). A user who is gone, or whose subject is
// no longer the session's, is ErrNotFound: the session is for someone who
// no longer exists, and the caller asks for a new sign-in.
func (s *Server) idTokenUserClaims(ctx context.Context, sess *Session, scopes []string) (map[string]any, error) {
	user, err := s.store.GetUser(ctx, sess.Username)
	if errors.Is(err, ErrNotFound) || err == nil && user.Subject != sess.Subject {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return ReleasedClaims(user, scopes), nil
}
