package oauth

import (
	"context"
	"errors"
	"slices"
)

// Client authentication methods (RFC 7591 §2, RFC 6749 §2.3).
const (
	AuthMethodBasic = "client_secret_basic"
	AuthMethodPost  = "client_secret_post"
	AuthMethodNone  = "none"
)

// Grant types (RFC 6749 §4, RFC 7591 §2).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantImplicit          = "implicit"
	GrantPassword          = "password"
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
)

// IsPublic reports whether the client has no credentials (RFC 6749 §2.1).
func (c *Client) IsPublic() bool { return c.TokenEndpointAuthMethod == AuthMethodNone }

// AllowsGrant reports whether the client registered the grant type.
func (c *Client) AllowsGrant(grantType string) bool { return slices.Contains(c.GrantTypes, grantType) }

// AllowsResponseType reports whether the client registered the response type.
func (c *Client) AllowsResponseType(rt string) bool { return slices.Contains(c.ResponseTypes, rt) }

// ClientCredentials is what a request presented to authenticate its client
// (RFC 6749 §2.3). The HTTP layer fills it in and makes sure only one method
// was used.
type ClientCredentials struct {
	// Method is the method the request used: AuthMethodBasic,
	// AuthMethodPost, or AuthMethodNone when only client_id was sent.
	Method   string
	ClientID string
	Secret   string
}

// AuthenticateClient authenticates the client of a token, introspection or
// revocation request (RFC 6749 §2.3, §3.2.1). The method used must be the
// one the client registered. Every failure is invalid_client; a wrong
// method is named, to help developers, since client ids are not secrets.
func (s *Server) AuthenticateClient(ctx context.Context, cred ClientCredentials) (*Client, error) {
	if cred.ClientID == "" {
		return nil, ErrInvalidClient("client authentication is required")
	}
	client, err := s.store.GetClient(ctx, cred.ClientID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidClient("client authentication failed")
	}
	if err != nil {
		return nil, ErrServer(err)
	}
	if cred.Method != client.TokenEndpointAuthMethod {
		if client.TokenEndpointAuthMethod == AuthMethodNone {
			return nil, ErrInvalidClient("client authentication failed")
		}
		return nil, ErrInvalidClient("this client must authenticate with %s", client.TokenEndpointAuthMethod)
	}
	if cred.Method != AuthMethodNone && !SecretMatches(client.SecretHash, cred.Secret) {
		return nil, ErrInvalidClient("client authentication failed")
	}
	return client, nil
}

// lookupClient finds the client named by an authorization request.
func (s *Server) lookupClient(ctx context.Context, id string) (*Client, error) {
	client, err := s.store.GetClient(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidRequest("unknown client_id")
	}
	if err != nil {
		return nil, ErrServer(err)
	}
	return client, nil
}
