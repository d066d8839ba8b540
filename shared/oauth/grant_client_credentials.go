package oauth

import "context"

// clientCredentials issues a token to a confidential client for itself (RFC
// 6749 §4.4). The subject is the client; no refresh token is issued
// (§4.4.3), and nothing is written: the grant costs one signature.
func (s *Server) clientCredentials(ctx context.Context, client *Client, req *TokenRequest) (*TokenResponse, error) {
	if client.IsPublic() {
		return nil, ErrUnauthorizedClient("the client_credentials grant is for confidential clients only")
	}
	scopes, oe := resolveScope(req.Scope, client.Scopes)
	if oe != nil {
		return nil, oe
	}
	access, lifetime, err := s.issueAccessToken(ctx, client, client.ID, "", scopes, "")
	if err != nil {
		return nil, err
	}
	return tokenResponse(access, lifetime, "", scopes), nil
}
