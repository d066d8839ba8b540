package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// LogoutParams are the parameters of an RP-Initiated Logout 1.0 §2 logout
// request that Gatehouse reads; the others (logout_hint, ui_locales) are
// accepted and ignored.
var LogoutParams = []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"}

// LogoutRequest is a validated logout request to the end-session endpoint
// (OpenID Connect RP-Initiated Logout 1.0 §2).
type LogoutRequest struct {
	// Params are the request's LogoutParams, as sent: what the
	// confirmation page posts back to be validated again.
	Params url.Values
	// Client is the relying party: the id_token_hint's audience or the
	// client_id parameter (§2: when both are sent they must agree); nil
	// when the request names neither.
	Client *Client
	// HintSubject is the "sub" of the id_token_hint; "" without a hint.
	HintSubject string
	// RedirectURI is the post_logout_redirect_uri, registered for Client
	// (§3); "" when none was sent.
	RedirectURI string
	State       string
}

// MaxLogoutRequestBytes bounds a logout request, as
// MaxAuthorizeRequestBytes bounds an authorization request: an ID token
// hint is a few hundred bytes to a few kilobytes.
const MaxLogoutRequestBytes = MaxAuthorizeRequestBytes

// ParseLogoutRequest validates a logout request (RP-Initiated Logout 1.0
// §2, §3). Every error is one the end-session endpoint shows on its own
// error page: §3 says the OP "MUST NOT perform post-logout redirection" to
// a URI that is not registered for the client, and §4 that errors in the
// request are shown to the End-User, not redirected.
//
//   - id_token_hint must be an ID token this server issued: signed by one of
//     its keys, "iss" the issuer, an audience. An expired one is accepted
//     (§2: "The OP SHOULD accept ID Tokens ... even when the exp time has
//     passed"): a relying party logs out long after its ID token expired.
//   - client_id, with a hint, must be the hint's client (§2).
//   - post_logout_redirect_uri needs a client (the hint's or client_id) and
//     must exactly match one of its post_logout_redirect_uris (§3).
func (s *Server) ParseLogoutRequest(ctx context.Context, params url.Values) (*LogoutRequest, *Error) {
	for _, p := range LogoutParams {
		if len(params[p]) > 1 {
			return nil, ErrInvalidRequest("parameter %s is repeated", p)
		}
	}
	req := &LogoutRequest{Params: url.Values{}, State: params.Get("state")}
	for _, p := range LogoutParams {
		if v := params.Get(p); v != "" {
			req.Params.Set(p, v)
		}
	}
	clientID := params.Get("client_id")
	if hint := params.Get("id_token_hint"); hint != "" {
		claims, err := s.verifyIDTokenHint(ctx, hint)
		if errors.Is(err, ErrKeyUnavailable) {
			return nil, ErrServer(err)
		}
		if err != nil {
			return nil, ErrInvalidRequest("the id_token_hint is not an ID token this server issued")
		}
		if clientID != "" && clientID != claims.client {
			return nil, ErrInvalidRequest("client_id is not the client the id_token_hint was issued to")
		}
		clientID, req.HintSubject = claims.client, claims.Subject
	}
	if clientID != "" {
		client, err := s.lookupClient(ctx, clientID)
		if err != nil {
			return nil, AsError(err)
		}
		req.Client = client
	}
	if uri := params.Get("post_logout_redirect_uri"); uri != "" {
		switch {
		case req.Client == nil:
			return nil, ErrInvalidRequest("post_logout_redirect_uri needs id_token_hint or client_id, to know whose it is")
		case !slices.Contains(req.Client.PostLogoutRedirectURIs, uri):
			return nil, ErrInvalidRequest("post_logout_redirect_uri is not registered for this client")
		}
		req.RedirectURI = uri
	}
	return req, nil
}

// Location returns where the browser goes once the session has ended: the
// post_logout_redirect_uri with the request's state added (RP-Initiated
// Logout 1.0 §3: "the OP MUST include the state value if the RP's initial
// Logout Request included state"), or "" for the signed-out page. The
// registered URI's own query is kept as registered.
func (r *LogoutRequest) Location() string {
	if r.RedirectURI == "" || r.State == "" {
		return r.RedirectURI
	}
	sep := "?"
	if strings.Contains(r.RedirectURI, "?") {
		sep = "&"
	}
	return r.RedirectURI + sep + url.Values{"state": {r.State}}.Encode()
}

// NeedsConfirmation reports whether the End-User must confirm the logout
// of sess (nil: no live session) first (RP-Initiated Logout 1.0 §4: the OP
// SHOULD ask the End-User whether to log out): always without an
// id_token_hint, since anyone can send the browser here, and when the
// hint names another user than the session's. A hint naming the
// session's user (only its relying party holds that ID token), or any
// valid hint when there is no session to end, needs no confirmation.
func (r *LogoutRequest) NeedsConfirmation(sess *Session) bool {
	return r.HintSubject == "" || sess != nil && r.HintSubject != sess.Subject
}

// idTokenHintClaims are the claims of an id_token_hint that logout reads.
type idTokenHintClaims struct {
	jwt.RegisteredClaims
	AuthorizedParty string `json:"azp,omitempty"`
	client          string // aud, or azp when aud has several values
}

// hintAlgorithms are the JWS algorithms a hint may be signed with: those a
// Signer can have (never "none", never HMAC).
var hintAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256"}

// verifyIDTokenHint checks that hint is an ID token this server issued
// (OpenID Connect Core §2, §3.1.3.7 items 2, 3, 6): signed by one of the
// signer's keys with that key's algorithm, "iss" the issuer, a "sub", and
// an audience naming one client ("azp" chooses among several). An access
// token (typ at+jwt, RFC 9068 §2.1) is not an ID token. "exp" is not
// checked (RP-Initiated Logout 1.0 §2). A failure to read the keys wraps
// ErrKeyUnavailable.
func (s *Server) verifyIDTokenHint(ctx context.Context, hint string) (*idTokenHintClaims, error) {
	var keyErr error
	claims := &idTokenHintClaims{}
	parser := jwt.NewParser(jwt.WithValidMethods(hintAlgorithms), jwt.WithoutClaimsValidation())
	_, err := parser.ParseWithClaims(hint, claims, func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("unsupported crit header")
		}
		if typ, _ := t.Header["typ"].(string); typ != "" && !strings.EqualFold(typ, "JWT") {
			return nil, fmt.Errorf("typ %q is not an ID token's", typ)
		}
		kid, _ := t.Header["kid"].(string)
		keys, err := s.signer.PublicKeys(ctx)
		if err != nil {
			keyErr = fmt.Errorf("%w: %w", ErrKeyUnavailable, err)
			return nil, keyErr
		}
		for _, k := range keys {
			if k.KeyID == kid && kid != "" {
				if k.Algorithm != t.Method.Alg() {
					return nil, fmt.Errorf("key %q is for %s, not %s", kid, k.Algorithm, t.Method.Alg())
				}
				return k.Key, nil
			}
		}
		return nil, fmt.Errorf("unknown kid %q", kid)
	})
	if keyErr != nil {
		return nil, keyErr
	}
	if err != nil {
		return nil, err
	}
	if claims.Issuer != s.cfg.Issuer || claims.Subject == "" {
		return nil, errors.New("wrong issuer or no subject")
	}
	switch aud := claims.Audience; {
	case len(aud) == 1 && (claims.AuthorizedParty == "" || claims.AuthorizedParty == aud[0]):
		claims.client = aud[0]
	case len(aud) > 1 && claims.AuthorizedParty != "" && slices.Contains(aud, claims.AuthorizedParty):
		claims.client = claims.AuthorizedParty
	default:
		return nil, errors.New("no single client in aud / azp")
	}
	if claims.client == "" {
		return nil, errors.New("empty aud")
	}
	return claims, nil
}
