package oauth

import (
	"context"
	"errors"
	"slices"
)

// refresh exchanges a refresh token (RFC 6749 §6). Refresh tokens rotate on
// every use; presenting a rotated one revokes the whole grant, newest tokens
// included (RFC 9700 §4.14.2). The scope may be narrowed, never widened;
// the new refresh token keeps the original scope (§6).
//
// A refresh whose scope includes openid returns a fresh ID token (OpenID
// Connect Core §12.1, §12.2) with the same iss, sub and aud, and the
// auth_time of the original sign-in, which the refresh token carries; it
// has no nonce. A grant with no sign-in time (the password grant, which
// OpenID Connect does not define, or a token stored before ID tokens
// existed) gets none: §12.2 allows a refresh response without id_token.
func (s *Server) refresh(ctx context.Context, client *Client, req *TokenRequest) (*TokenResponse, error) {
	if req.RefreshToken == "" {
		return nil, ErrInvalidRequest("refresh_token is missing")
	}
	grantID, ok := grantIDOf(req.RefreshToken)
	if !ok {
		return nil, ErrInvalidGrant("the refresh token is invalid, expired or revoked")
	}
	hash := HashToken(req.RefreshToken)
	old, err := s.store.GetRefreshToken(ctx, grantID, hash)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidGrant("the refresh token is invalid, expired or revoked")
	}
	if err != nil {
		return nil, err
	}
	if old.ClientID != client.ID {
		return nil, ErrInvalidGrant("the refresh token was issued to another client")
	}
	if old.GrantRevoked || !s.now().Before(old.ExpiresAt) {
		return nil, ErrInvalidGrant("the refresh token is invalid, expired or revoked")
	}
	if old.Rotated {
		return nil, s.refreshReused(ctx, grantID)
	}
	scopes, oe := resolveScope(req.Scope, old.Scopes)
	if oe != nil {
		return nil, oe
	}

	access, lifetime, err := s.issueAccessToken(ctx, client, old.Subject, old.Username, scopes, grantID)
	if err != nil {
		return nil, err
	}
	var idToken string
	if hasScope(scopes, ScopeOpenID) && !old.AuthTime.IsZero() {
		idToken, err = s.issueIDToken(ctx, client, old.Subject, old.AuthTime, "", access)
		if err != nil {
			return nil, err
		}
	}
	next, record := s.newRefreshToken(client, grantID, old.Subject, old.Username, slices.Clone(old.Scopes))
	record.AuthTime = old.AuthTime
	if err := s.store.RotateRefreshToken(ctx, hash, record); err != nil {
		if errors.Is(err, ErrConflict) {
			// Another request rotated it first, or the grant was revoked
			// meanwhile: either way this presentation is a reuse.
			return nil, s.refreshReused(ctx, grantID)
		}
		return nil, s.abandonGrant(ctx, grantID, err)
	}
	resp := tokenResponse(access, lifetime, next, scopes)
	resp.IDToken = idToken
	return resp, nil
}

// refreshReused revokes the grant of a reused refresh token and refuses.
func (s *Server) refreshReused(ctx context.Context, grantID string) error {
	if err := s.revokeGrant(ctx, grantID); err != nil {
		return err
	}
	return ErrInvalidGrant("the refresh token was already used; the grant has been revoked")
}
