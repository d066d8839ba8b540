package oauth

import (
	"context"
	"errors"
)

// Revoke revokes a token for an authenticated client (RFC 7009 §2.1).
// Revoking a refresh token revokes its whole grant, access tokens included;
// revoking an access token revokes that token. A token issued to another
// client is refused and left alone; an invalid or unknown token is not an
// error (§2.2). The hint is not needed: the two kinds of token differ in shape.
func (s *Server) Revoke(ctx context.Context, caller *Client, token, hint string) error {
	if token == "" {
		return ErrInvalidRequest("token is missing")
	}
	if len(token) > maxTokenParamLength {
		return nil
	}
	if looksLikeJWT(token) {
		return s.revokeAccessToken(ctx, caller, token)
	}
	return s.revokeRefreshToken(ctx, caller, token)
}

func (s *Server) revokeAccessToken(ctx context.Context, caller *Client, token string) error {
	claims, err := s.verifier.Verify(ctx, token)
	if errors.Is(err, ErrKeyUnavailable) {
		return ErrServer(err)
	}
	if err != nil {
		return nil // expired, forged or not ours: nothing to revoke
	}
	if claims.ClientID != caller.ID {
		return ErrUnauthorizedClient("the token was issued to another client")
	}
	// Keep the mark until the token would have expired, plus the leeway
	// verification allows.
	until := claims.ExpiresAt.Add(s.cfg.Leeway)
	if err := s.store.RevokeAccessToken(ctx, claims.ID, until); err != nil {
		return ErrServer(err)
	}
	return nil
}

func (s *Server) revokeRefreshToken(ctx context.Context, caller *Client, token string) error {
	rt, err := s.liveRefreshToken(ctx, token)
	if err != nil || rt == nil {
		return err
	}
	if rt.ClientID != caller.ID {
		return ErrUnauthorizedClient("the token was issued to another client")
	}
	if err := s.revokeGrant(ctx, rt.GrantID); err != nil {
		return ErrServer(err)
	}
	return nil
}
