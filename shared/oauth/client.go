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
	// AuthMethodPrivateKeyJWT is a JWT signed with the client's private key
	// (RFC 7523 §2.2, OpenID Connect Core §9): see client_assertion.go.
	AuthMethodPrivateKeyJWT = "private_key_jwt"
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

// AllowsResponseType reports whether the client registered the response
// type, in any word order (RFC 6749 §3.1.1; Multiple Response Type
// Encoding Practices §5): "token id_token" is "id_token token".
func (c *Client) AllowsResponseType(rt string) bool {
	if slices.Contains(c.ResponseTypes, rt) {
		return true
	}
	want := CanonicalResponseType(rt)
	return want != "" && slices.ContainsFunc(c.ResponseTypes, func(r string) bool { return CanonicalResponseType(r) == want })
}

// ClientCredentials is what a request presented to authenticate its client
// (RFC 6749 §2.3). The HTTP layer fills it in and makes sure only one method
// was used.
type ClientCredentials struct {
	// Method is the method the request used: AuthMethodBasic,
	// AuthMethodPost, AuthMethodPrivateKeyJWT, or AuthMethodNone when only
	// client_id was sent.
	Method string
	// ClientID is the client_id the request named. With private_key_jwt it
	// may be empty: the assertion's "sub" names the client (RFC 7523 §3
	// item 2, RFC 7521 §4.2).
	ClientID string
	Secret   string
	// Assertion and AssertionType are the client_assertion and
	// client_assertion_type parameters of private_key_jwt (RFC 7521 §4.2).
	Assertion     string
	AssertionType string
}

// AuthenticateClient authenticates the client of a token, introspection or
// revocation request (RFC 6749 §2.3, §3.2.1), dispatching on the method the
// request used: a secret, a private_key_jwt assertion (client_assertion.go),
// or none. The method used must be the one the client registered. Every
// failure is invalid_client; a wrong method is named, to help developers,
// since client ids are not secrets.
//
// A secret is checked against the client's current secret and, during a
// rotation's grace period, its previous one (Client.SecretMatches). If it
// matches neither and the store can read the record afresh
// (ClientReloader), it is checked once more against the fresh record: a
// secret rotated a moment ago works at once, even where a cache still
// holds the record from before.
func (s *Server) AuthenticateClient(ctx context.Context, cred ClientCredentials) (*Client, error) {
	if cred.Method == AuthMethodPrivateKeyJWT {
		return s.authenticateAssertion(ctx, cred)
	}
	if cred.ClientID == "" {
		return nil, ErrInvalidClient("client authentication is required")
	}
	client, err := s.registeredClient(ctx, cred.ClientID, cred.Method)
	if err != nil {
		return nil, err
	}
	if cred.Method == AuthMethodNone || client.SecretMatches(cred.Secret, s.now()) {
		return client, nil
	}
	fresh, err := s.reloadClient(ctx, cred.ClientID)
	if err != nil {
		return nil, err
	}
	if fresh != nil && fresh.TokenEndpointAuthMethod == cred.Method && fresh.SecretMatches(cred.Secret, s.now()) {
		return fresh, nil
	}
	return nil, ErrInvalidClient("client authentication failed")
}

// ClientReloader is a Store that may serve GetClient from a cache or an
// eventually consistent read (shared/store/clientcache, dynamostore), and
// can read a client afresh. AuthenticateClient calls ReloadClient once when
// a secret matches neither of the record's secrets. An implementation may
// answer from a record it read afresh very recently, bounding the reads
// that wrong secrets cause. Errors are GetClient's.
type ClientReloader interface {
	ReloadClient(ctx context.Context, id string) (*Client, error)
}

// reloadClient reads the client afresh if the store can: nil if it cannot
// or the client is gone, an error on store faults.
func (s *Server) reloadClient(ctx context.Context, id string) (*Client, error) {
	r, ok := s.store.(ClientReloader)
	if !ok {
		return nil, nil
	}
	c, err := r.ReloadClient(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, ErrServer(err)
	}
	return c, nil
}

// registeredClient returns the client with this id if it registered method
// (RFC 7591 §2 token_endpoint_auth_method); otherwise invalid_client.
func (s *Server) registeredClient(ctx context.Context, id, method string) (*Client, error) {
	client, err := s.store.GetClient(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidClient("client authentication failed")
	}
	if err != nil {
		return nil, ErrServer(err)
	}
	if method != client.TokenEndpointAuthMethod {
		if client.TokenEndpointAuthMethod == AuthMethodNone {
			return nil, ErrInvalidClient("client authentication failed")
		}
		return nil, ErrInvalidClient("this client must authenticate with %s", client.TokenEndpointAuthMethod)
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
