package oauth

import (
	"context"
	"errors"
)

// passwordGrant implements the resource owner password credentials grant
// (RFC 6749 §4.3). RFC 9700 §2.4 says it MUST NOT be used; it is here for
// migrations and is only open to clients registered for it. Wrong
// credentials are invalid_grant, the same for unknown users, and count
// against the login throttle (throttle.go) like the sign-in page's.
func (s *Server) passwordGrant(ctx context.Context, client *Client, req *TokenRequest) (*TokenResponse, error) {
	if req.Username == "" || req.Password == "" {
		return nil, ErrInvalidRequest("username and password are required")
	}
	scopes, oe := resolveScope(req.Scope, client.Scopes)
	if oe != nil {
		return nil, oe
	}
	user, err := s.authenticate(ctx, req.Username, req.Password, req.RemoteAddr)
	if errors.Is(err, ErrLoginFailed) {
		return nil, ErrInvalidGrant("wrong username or password")
	}
	if errors.Is(err, ErrLoginThrottled) {
		return nil, ErrInvalidGrant("too many failed sign-in attempts: try again later")
	}
	if err != nil {
		return nil, err
	}
	grantID := RandomToken()
	access, lifetime, err := s.issueAccessToken(ctx, client, user.Subject, user.Username, scopes, grantID)
	if err != nil {
		return nil, err
	}
	var refresh string
	if client.AllowsGrant(GrantRefreshToken) {
		var record *RefreshToken
		refresh, record = s.newRefreshToken(client, grantID, user.Subject, user.Username, scopes)
		if err := s.store.CreateRefreshToken(ctx, record); err != nil {
			return nil, s.abandonGrant(ctx, grantID, err)
		}
	}
	return tokenResponse(access, lifetime, refresh, scopes), nil
}
