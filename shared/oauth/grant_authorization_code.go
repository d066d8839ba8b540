package oauth

import (
	"context"
	"errors"
)

// exchangeCode redeems an authorization code (RFC 6749 §4.1.3). The code is
// read, checked, the access token signed, and only then is the code marked
// redeemed in the same atomic write that stores the first refresh token, so
// a failure anywhere leaves nothing issued. A code presented twice revokes
// every token issued with it (§4.1.2, RFC 9700 §4.5).
//
// When the granted scope includes openid, the response also carries an ID
// token (OpenID Connect Core §3.1.3.3), signed before anything is written,
// and a refresh token is issued only if offline_access was granted too
// (§11); without openid, refresh tokens go to every client registered for
// the refresh_token grant, as in plain OAuth.
func (s *Server) exchangeCode(ctx context.Context, client *Client, req *TokenRequest) (*TokenResponse, error) {
	if req.Code == "" {
		return nil, ErrInvalidRequest("code is missing")
	}
	if len(req.Code) > maxTokenParamLength {
		return nil, ErrInvalidGrant("the code is invalid or expired")
	}
	hash := HashToken(req.Code)
	code, err := s.store.GetCode(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidGrant("the code is invalid or expired")
	}
	if err != nil {
		return nil, err
	}
	if code.ClientID != client.ID {
		return nil, ErrInvalidGrant("the code was issued to another client")
	}
	if code.Redeemed {
		return nil, s.codeReplayed(ctx, code)
	}
	if !s.now().Before(code.ExpiresAt) {
		return nil, ErrInvalidGrant("the code is invalid or expired")
	}
	if oe := checkCodeRedirectURI(client, code, req.RedirectURI); oe != nil {
		return nil, oe
	}
	if oe := verifyPKCE(code, req.CodeVerifier); oe != nil {
		return nil, oe
	}

	access, lifetime, err := s.issueAccessToken(ctx, client, code.Subject, code.Username, code.Scopes, code.GrantID)
	if err != nil {
		return nil, err
	}
	openID := hasScope(code.Scopes, ScopeOpenID)
	var idToken string
	if openID {
		idToken, err = s.issueIDToken(ctx, client, code.Subject, code.AuthTime, code.Nonce, access)
		if err != nil {
			return nil, err
		}
	}
	var refresh string
	var first *RefreshToken
	if client.AllowsGrant(GrantRefreshToken) && (!openID || hasScope(code.Scopes, ScopeOfflineAccess)) {
		refresh, first = s.newRefreshToken(client, code.GrantID, code.Subject, code.Username, code.Scopes)
		first.AuthTime = code.AuthTime
	}
	switch err := s.store.RedeemCode(ctx, hash, code.GrantID, first); {
	case errors.Is(err, ErrConflict):
		return nil, s.codeReplayed(ctx, code) // lost a race with another redemption
	case errors.Is(err, ErrNotFound):
		return nil, ErrInvalidGrant("the code is invalid or expired")
	case err != nil:
		return nil, s.abandonGrant(ctx, code.GrantID, err)
	}
	resp := tokenResponse(access, lifetime, refresh, code.Scopes)
	resp.IDToken = idToken
	return resp, nil
}

// codeReplayed handles a second redemption: revoke the grant, refuse.
func (s *Server) codeReplayed(ctx context.Context, code *AuthorizationCode) error {
	if err := s.revokeGrant(ctx, code.GrantID); err != nil {
		return err
	}
	return ErrInvalidGrant("the code was already used; tokens issued with it have been revoked")
}

// checkCodeRedirectURI applies §4.1.3: a redirect_uri sent with the
// authorization request must be sent again, identical. When it was omitted
// there, it may be omitted here or repeat the registered URI.
func checkCodeRedirectURI(client *Client, code *AuthorizationCode, given string) *Error {
	switch {
	case given == code.RedirectURI:
		return nil
	case code.RedirectURI != "":
		return ErrInvalidGrant("redirect_uri must be identical to the one in the authorization request")
	case len(client.RedirectURIs) == 1 && given == client.RedirectURIs[0]:
		return nil
	default:
		return ErrInvalidGrant("redirect_uri does not match the authorization request")
	}
}
