package oauth

import (
	"context"
	"errors"
	"strings"
)

// Introspection is an introspection response (RFC 7662 §2.2). An inactive
// token yields only {"active": false}.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Username  string   `json:"username,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
}

// inactive is the whole answer for any token that is not active (§2.2).
func inactive() *Introspection { return &Introspection{Active: false} }

// Introspect reports on a token for an authenticated client (RFC 7662
// §2.1). Public clients may not introspect: their client_id is no secret,
// so allowing them would open the endpoint to anyone (§4).
//
// Who learns what (§4: the server "MUST determine whether or not the
// protected resource is allowed to make the given introspection call"): a
// client learns about the access tokens issued to itself, and a client
// registered with introspection_allowed (a resource server) about every
// access token. A refresh token is reported only to the client it was
// issued to: it is meant for the authorization server alone (RFC 6749
// §1.5), and it carries its user's name. Any other caller gets exactly
// {"active": false}, the answer for a token that does not exist, so a
// refusal confirms nothing.
//
// The hint is accepted and not needed (§2.1 lets the server ignore it):
// the two kinds of token differ in shape. Store faults are errors, not
// "inactive", so a resource server can tell an outage from a bad token.
func (s *Server) Introspect(ctx context.Context, caller *Client, token, hint string) (*Introspection, error) {
	if caller.IsPublic() {
		return nil, ErrInvalidClient("introspection requires a confidential client")
	}
	if token == "" {
		return nil, ErrInvalidRequest("token is missing")
	}
	if len(token) > maxTokenParamLength {
		return inactive(), nil
	}
	if looksLikeJWT(token) {
		return s.introspectAccessToken(ctx, caller, token)
	}
	return s.introspectRefreshToken(ctx, caller, token)
}

// looksLikeJWT tells a compact JWS (three dot-separated parts) from a
// refresh token ("<grant id>.<secret>").
func looksLikeJWT(token string) bool { return strings.Count(token, ".") == 2 }

func (s *Server) introspectAccessToken(ctx context.Context, caller *Client, token string) (*Introspection, error) {
	claims, err := s.verifier.Verify(ctx, token)
	if errors.Is(err, ErrKeyUnavailable) {
		return nil, ErrServer(err)
	}
	if err != nil {
		return inactive(), nil
	}
	if claims.ClientID != caller.ID && !caller.IntrospectionAllowed {
		return inactive(), nil // §4: not the caller's token, nor its to ask about
	}
	revoked, err := s.store.AccessTokenRevoked(ctx, claims.ID, claims.GrantID)
	if err != nil {
		return nil, ErrServer(err)
	}
	if revoked {
		return inactive(), nil
	}
	return &Introspection{
		Active:    true,
		Scope:     claims.Scope,
		ClientID:  claims.ClientID,
		Username:  claims.Username,
		TokenType: "Bearer",
		Exp:       claims.ExpiresAt.Unix(),
		Iat:       claims.IssuedAt.Unix(),
		Sub:       claims.Subject,
		Aud:       claims.Audience,
		Iss:       claims.Issuer,
		Jti:       claims.ID,
	}, nil
}

// introspectRefreshToken reports on a refresh token to the client it was
// issued to. The answer has no token_type: §2.2 means a type of RFC 6749
// §7.1 ("Bearer", the type of an access token), and a refresh token is
// none, nor one a resource server should accept.
func (s *Server) introspectRefreshToken(ctx context.Context, caller *Client, token string) (*Introspection, error) {
	rt, err := s.liveRefreshToken(ctx, token)
	if err != nil || rt == nil {
		return inactive(), err
	}
	if rt.ClientID != caller.ID {
		return inactive(), nil // RFC 6749 §1.5: for its own client only
	}
	return &Introspection{
		Active:   true,
		Scope:    joinScope(rt.Scopes),
		ClientID: rt.ClientID,
		Username: rt.Username,
		Exp:      rt.ExpiresAt.Unix(),
		Iat:      rt.IssuedAt.Unix(),
		Sub:      rt.Subject,
		Iss:      s.cfg.Issuer,
	}, nil
}

// liveRefreshToken returns the refresh token's record if it is live, nil if
// it is unknown, rotated, revoked or expired, and an error on store faults.
func (s *Server) liveRefreshToken(ctx context.Context, token string) (*RefreshToken, error) {
	grantID, ok := grantIDOf(token)
	if !ok {
		return nil, nil
	}
	rt, err := s.store.GetRefreshToken(ctx, grantID, HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, ErrServer(err)
	}
	if rt.Rotated || rt.GrantRevoked || !s.now().Before(rt.ExpiresAt) {
		return nil, nil
	}
	return rt, nil
}
