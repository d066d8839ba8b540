package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenRequest is a token endpoint request (RFC 6749 §4.1.3, §4.3.2,
// §4.4.2, §6), parameters already checked for repeats by the HTTP layer.
type TokenRequest struct {
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Scope        string
	Username     string
	Password     string
	// RemoteAddr is the client's network address ("ip" or "ip:port"), for
	// the password grant's login throttle; the HTTP layer fills it in.
	RemoteAddr string
}

// TokenRequestFromForm reads a token request's parameters.
func TokenRequestFromForm(form url.Values) *TokenRequest {
	return &TokenRequest{
		GrantType:    form.Get("grant_type"),
		Code:         form.Get("code"),
		RedirectURI:  form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"),
		RefreshToken: form.Get("refresh_token"),
		Scope:        form.Get("scope"),
		Username:     form.Get("username"),
		Password:     form.Get("password"),
	}
}

// TokenResponse is a successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	// IDToken is the OpenID Connect ID token (OpenID Connect Core
	// §3.1.3.3, §12.2), when the granted scope includes openid.
	IDToken string `json:"id_token,omitempty"`
}

// Token handles a token request from an authenticated client (§3.2).
func (s *Server) Token(ctx context.Context, client *Client, req *TokenRequest) (*TokenResponse, error) {
	var handle func(context.Context, *Client, *TokenRequest) (*TokenResponse, error)
	switch req.GrantType {
	case "":
		return nil, ErrInvalidRequest("grant_type is missing")
	case GrantAuthorizationCode:
		handle = s.exchangeCode
	case GrantRefreshToken:
		handle = s.refresh
	case GrantClientCredentials:
		handle = s.clientCredentials
	case GrantPassword:
		handle = s.passwordGrant
	default:
		return nil, ErrUnsupportedGrantType("grant_type %q is not supported", req.GrantType)
	}
	if !client.AllowsGrant(req.GrantType) {
		return nil, ErrUnauthorizedClient("this client is not registered for the %s grant", req.GrantType)
	}
	resp, err := handle(ctx, client, req)
	if err != nil {
		return nil, AsError(err)
	}
	return resp, nil
}

// accessTokenLifetime is the client's own lifetime or the default, capped
// at MaxAccessTokenLifetime: a client registered with a longer lifetime
// (before the cap, or before it was lowered) gets the cap.
func (s *Server) accessTokenLifetime(c *Client) time.Duration {
	if c.AccessTokenLifetime > 0 {
		return min(c.AccessTokenLifetime, s.cfg.MaxAccessTokenLifetime)
	}
	return s.cfg.AccessTokenLifetime
}

// issueAccessToken mints an RFC 9068 access token. grantID is empty for
// tokens that belong to no grant (client credentials, implicit).
func (s *Server) issueAccessToken(ctx context.Context, client *Client, subject, username string, scopes []string, grantID string) (string, time.Duration, error) {
	now := s.now().Truncate(time.Second)
	lifetime := s.accessTokenLifetime(client)
	claims := &AccessTokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings(s.cfg.Audience),
			ExpiresAt: jwt.NewNumericDate(now.Add(lifetime)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        RandomToken()[:22], // 128 bits is ample for a unique id
		},
		ClientID: client.ID,
		Scope:    joinScope(scopes),
		Username: username,
		GrantID:  grantID,
	}
	tok, err := mintAccessToken(ctx, s.signer, claims)
	return tok, lifetime, err
}

// newRefreshToken returns a fresh refresh token string for a grant and its
// record.
func (s *Server) newRefreshToken(client *Client, grantID, subject, username string, scopes []string) (string, *RefreshToken) {
	tok := grantID + grantIDSeparator + RandomToken()
	now := s.now()
	return tok, &RefreshToken{
		Hash:      HashToken(tok),
		GrantID:   grantID,
		ClientID:  client.ID,
		Subject:   subject,
		Username:  username,
		Scopes:    scopes,
		IssuedAt:  now,
		ExpiresAt: now.Add(s.cfg.RefreshTokenLifetime),
	}
}

// grantIDOf extracts the grant id from a refresh token string.
func grantIDOf(token string) (string, bool) {
	gid, secret, ok := strings.Cut(token, grantIDSeparator)
	return gid, ok && len(gid) == 43 && len(secret) == 43
}

// revokeGrant revokes every token of a grant, keeping the mark for as long
// as any of its tokens could live: its refresh tokens, and its access
// tokens, whose lifetime a client may set up to MaxAccessTokenLifetime.
func (s *Server) revokeGrant(ctx context.Context, grantID string) error {
	keep := max(s.cfg.RefreshTokenLifetime, s.cfg.MaxAccessTokenLifetime)
	return s.store.RevokeGrant(ctx, grantID, s.now().Add(keep+s.cfg.Leeway))
}

// abandonGrant handles a failed write that may nonetheless have landed (a
// timeout after DynamoDB committed, say): the client will not receive the
// tokens, so the grant is revoked lest a token nobody was given stay live.
// A code or refresh token whose grant is revoked cannot be used again, so
// the client starts over. A write the store reports as certainly not
// applied (ErrNotWritten, e.g. throttled) changes nothing, and the client
// may simply retry. It returns the original error.
func (s *Server) abandonGrant(ctx context.Context, grantID string, cause error) error {
	if errors.Is(cause, ErrNotWritten) {
		return cause
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if err := s.revokeGrant(ctx, grantID); err != nil {
		return fmt.Errorf("%w (and revoking grant after the failure: %v)", cause, err)
	}
	return cause
}

// tokenResponse assembles a §5.1 response.
func tokenResponse(access string, lifetime time.Duration, refresh string, scopes []string) *TokenResponse {
	return &TokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int64(lifetime / time.Second),
		RefreshToken: refresh,
		Scope:        joinScope(scopes),
	}
}
