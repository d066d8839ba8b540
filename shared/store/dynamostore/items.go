package dynamostore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The items of the five tables, as attributevalue marshals them: each
// field's dynamodbav tag is its attribute's name in docs/dynamodb.md.
// Times are epoch seconds (N, "unixtime"), rounded down, so a record never
// outlives its ExpiresAt. Lists of scopes are one space-separated S, as in
// OAuth's "scope" parameter (RFC 6749 §3.3). Empty optional attributes are
// not written ("omitempty", and empty lists made nil) and read back as
// empty. Consents, whose attribute names vary, are added and read by
// consents.go. Items are read by unmarshal (decode.go), which refuses an
// attribute of another type than its field's.

// clientItem is a registered client (clients table).
type clientItem struct {
	ClientID                string   `dynamodbav:"client_id"`
	SecretHash              string   `dynamodbav:"secret_hash,omitempty"`
	ClientName              string   `dynamodbav:"client_name,omitempty"`
	RedirectURIs            []string `dynamodbav:"redirect_uris,omitempty"` // L of S
	GrantTypes              []string `dynamodbav:"grant_types,omitempty"`
	ResponseTypes           []string `dynamodbav:"response_types,omitempty"`
	Scope                   string   `dynamodbav:"scope,omitempty"`
	TokenEndpointAuthMethod string   `dynamodbav:"token_endpoint_auth_method,omitempty"`
	// AccessTokenLifetime is in seconds; absent (0) means the server's.
	AccessTokenLifetime int64 `dynamodbav:"access_token_lifetime,omitempty"`
	// JWKS is a JWK Set as one JSON string: read whole, never queried.
	JWKS       string `dynamodbav:"jwks,omitempty"`
	JWKSURI    string `dynamodbav:"jwks_uri,omitempty"`
	ClientURI  string `dynamodbav:"client_uri,omitempty"`
	LogoURI    string `dynamodbav:"logo_uri,omitempty"`
	FirstParty bool   `dynamodbav:"first_party,omitempty"`
	// IntrospectionAllowed is written only when true.
	IntrospectionAllowed bool `dynamodbav:"introspection_allowed,omitempty"`
	// PreviousSecretHash, until PreviousSecretExpiresAt, is the secret a
	// rotation replaced; both absent when there is none.
	PreviousSecretHash      string    `dynamodbav:"previous_secret_hash,omitempty"`
	PreviousSecretExpiresAt time.Time `dynamodbav:"previous_secret_expires_at,unixtime,omitempty"`
	// PostLogoutRedirectURIs are the client's RP-Initiated Logout 1.0
	// post_logout_redirect_uris.
	PostLogoutRedirectURIs []string `dynamodbav:"post_logout_redirect_uris,omitempty"` // L of S
}

func newClientItem(c *oauth.Client) clientItem {
	it := clientItem{
		ClientID:                c.ID,
		SecretHash:              c.SecretHash,
		ClientName:              c.Name,
		RedirectURIs:            nonEmpty(c.RedirectURIs),
		GrantTypes:              nonEmpty(c.GrantTypes),
		ResponseTypes:           nonEmpty(c.ResponseTypes),
		Scope:                   strings.Join(c.Scopes, " "),
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		AccessTokenLifetime:     int64(c.AccessTokenLifetime / time.Second),
		JWKSURI:                 c.JWKSURI,
		ClientURI:               c.ClientURI,
		LogoURI:                 c.LogoURI,
		FirstParty:              c.FirstParty,
		IntrospectionAllowed:    c.IntrospectionAllowed,
		PreviousSecretHash:      c.PreviousSecretHash,
		PreviousSecretExpiresAt: c.PreviousSecretExpiresAt,
		PostLogoutRedirectURIs:  nonEmpty(c.PostLogoutRedirectURIs),
	}
	if c.JWKS != nil {
		data, _ := json.Marshal(c.JWKS) // a JWK Set holds only strings
		it.JWKS = string(data)
	}
	return it
}

func (it *clientItem) client() (*oauth.Client, error) {
	c := &oauth.Client{
		ID:                      it.ClientID,
		SecretHash:              it.SecretHash,
		Name:                    it.ClientName,
		RedirectURIs:            it.RedirectURIs,
		GrantTypes:              it.GrantTypes,
		ResponseTypes:           it.ResponseTypes,
		Scopes:                  words(it.Scope),
		TokenEndpointAuthMethod: it.TokenEndpointAuthMethod,
		AccessTokenLifetime:     time.Duration(it.AccessTokenLifetime) * time.Second,
		JWKSURI:                 it.JWKSURI,
		ClientURI:               it.ClientURI,
		LogoURI:                 it.LogoURI,
		FirstParty:              it.FirstParty,
		IntrospectionAllowed:    it.IntrospectionAllowed,
		PreviousSecretHash:      it.PreviousSecretHash,
		PreviousSecretExpiresAt: it.PreviousSecretExpiresAt,
		PostLogoutRedirectURIs:  it.PostLogoutRedirectURIs,
	}
	if it.JWKS != "" {
		c.JWKS = &oauth.JWKS{}
		if err := json.Unmarshal([]byte(it.JWKS), c.JWKS); err != nil {
			return nil, fmt.Errorf("attribute jwks: %w", err)
		}
	}
	return c, nil
}

// userItem is a resource owner (users table), without its consents.
type userItem struct {
	Username     string `dynamodbav:"username"`
	Subject      string `dynamodbav:"subject,omitempty"`
	PasswordHash string `dynamodbav:"password_hash,omitempty"`
	// Claims are the user's OpenID Connect claims as one JSON object
	// (oauth.UserClaims), projected into the subject index.
	Claims string `dynamodbav:"claims,omitempty"`
}

// codeItem is an authorization code (codes table).
type codeItem struct {
	CodeHash            string    `dynamodbav:"code_hash"`
	GrantID             string    `dynamodbav:"grant_id,omitempty"`
	ClientID            string    `dynamodbav:"client_id,omitempty"`
	RedirectURI         string    `dynamodbav:"redirect_uri,omitempty"`
	Scope               string    `dynamodbav:"scope,omitempty"`
	Subject             string    `dynamodbav:"subject,omitempty"`
	Username            string    `dynamodbav:"username,omitempty"`
	CodeChallenge       string    `dynamodbav:"code_challenge,omitempty"`
	CodeChallengeMethod string    `dynamodbav:"code_challenge_method,omitempty"`
	AuthTime            time.Time `dynamodbav:"auth_time,unixtime,omitempty"`
	Nonce               string    `dynamodbav:"nonce,omitempty"`
	ExpiresAt           time.Time `dynamodbav:"expires_at,unixtime"`
	// Redeemed is always written: RedeemCode's condition compares it.
	Redeemed bool `dynamodbav:"redeemed"`
}

func newCodeItem(c *oauth.AuthorizationCode) codeItem {
	return codeItem{
		CodeHash:            c.Hash,
		GrantID:             c.GrantID,
		ClientID:            c.ClientID,
		RedirectURI:         c.RedirectURI,
		Scope:               strings.Join(c.Scopes, " "),
		Subject:             c.Subject,
		Username:            c.Username,
		CodeChallenge:       c.CodeChallenge,
		CodeChallengeMethod: c.CodeChallengeMethod,
		AuthTime:            c.AuthTime,
		Nonce:               c.Nonce,
		ExpiresAt:           c.ExpiresAt,
		Redeemed:            c.Redeemed,
	}
}

func (it *codeItem) code() *oauth.AuthorizationCode {
	return &oauth.AuthorizationCode{
		Hash:                it.CodeHash,
		GrantID:             it.GrantID,
		ClientID:            it.ClientID,
		RedirectURI:         it.RedirectURI,
		Scopes:              words(it.Scope),
		Subject:             it.Subject,
		Username:            it.Username,
		CodeChallenge:       it.CodeChallenge,
		CodeChallengeMethod: it.CodeChallengeMethod,
		AuthTime:            it.AuthTime,
		Nonce:               it.Nonce,
		ExpiresAt:           it.ExpiresAt,
		Redeemed:            it.Redeemed,
	}
}

// refreshTokenItem is a refresh token (tokens table, pk rt#<hash>).
// GrantRevoked is never stored: reads compute it from the grant's marker.
type refreshTokenItem struct {
	PK        string    `dynamodbav:"pk"`
	GrantID   string    `dynamodbav:"grant_id,omitempty"`
	ClientID  string    `dynamodbav:"client_id,omitempty"`
	Subject   string    `dynamodbav:"subject,omitempty"`
	Username  string    `dynamodbav:"username,omitempty"`
	Scope     string    `dynamodbav:"scope,omitempty"`
	AuthTime  time.Time `dynamodbav:"auth_time,unixtime,omitempty"`
	IssuedAt  time.Time `dynamodbav:"issued_at,unixtime,omitempty"`
	ExpiresAt time.Time `dynamodbav:"expires_at,unixtime"`
	// Rotated is always written: RotateRefreshToken's condition compares
	// it.
	Rotated bool `dynamodbav:"rotated"`
}

func newRefreshTokenItem(t *oauth.RefreshToken) refreshTokenItem {
	return refreshTokenItem{
		PK:        prefixRefreshToken + t.Hash,
		GrantID:   t.GrantID,
		ClientID:  t.ClientID,
		Subject:   t.Subject,
		Username:  t.Username,
		Scope:     strings.Join(t.Scopes, " "),
		AuthTime:  t.AuthTime,
		IssuedAt:  t.IssuedAt,
		ExpiresAt: t.ExpiresAt,
		Rotated:   t.Rotated,
	}
}

func (it *refreshTokenItem) refreshToken() (*oauth.RefreshToken, error) {
	hash, ok := strings.CutPrefix(it.PK, prefixRefreshToken)
	if !ok {
		return nil, fmt.Errorf("attribute pk has no %q prefix", prefixRefreshToken)
	}
	return &oauth.RefreshToken{
		Hash:      hash,
		GrantID:   it.GrantID,
		ClientID:  it.ClientID,
		Subject:   it.Subject,
		Username:  it.Username,
		Scopes:    words(it.Scope),
		AuthTime:  it.AuthTime,
		IssuedAt:  it.IssuedAt,
		ExpiresAt: it.ExpiresAt,
		Rotated:   it.Rotated,
	}, nil
}

// assertionIDItem is a used client assertion id (tokens table, pk
// jti_asrt#<hash>), with the random nonce of the write that stored it.
type assertionIDItem struct {
	PK        string    `dynamodbav:"pk"`
	ExpiresAt time.Time `dynamodbav:"expires_at,unixtime"`
	Nonce     string    `dynamodbav:"nonce"`
}

// sessionItem is a browser session (sessions table), without its
// consents. expires_at, what reads check and TTL deletes by, is the idle
// expiry, the earlier end; session_expires_at is the absolute end.
type sessionItem struct {
	SessionHash      string    `dynamodbav:"session_hash"`
	Subject          string    `dynamodbav:"subject,omitempty"`
	Username         string    `dynamodbav:"username,omitempty"`
	AuthTime         time.Time `dynamodbav:"auth_time,unixtime,omitempty"`
	ExpiresAt        time.Time `dynamodbav:"expires_at,unixtime"`
	SessionExpiresAt time.Time `dynamodbav:"session_expires_at,unixtime,omitempty"`
}

func newSessionItem(s *oauth.Session) sessionItem {
	end := s.IdleExpiresAt
	if end.IsZero() || end.After(s.ExpiresAt) {
		end = s.ExpiresAt
	}
	return sessionItem{
		SessionHash:      s.Hash,
		Subject:          s.Subject,
		Username:         s.Username,
		AuthTime:         s.AuthTime,
		ExpiresAt:        end,
		SessionExpiresAt: s.ExpiresAt,
	}
}

// session returns the session; one written before idle expiry existed
// (no session_expires_at) ends at its expires_at.
func (it *sessionItem) session() *oauth.Session {
	s := &oauth.Session{
		Hash:      it.SessionHash,
		Subject:   it.Subject,
		Username:  it.Username,
		AuthTime:  it.AuthTime,
		ExpiresAt: it.ExpiresAt,
	}
	if !it.SessionExpiresAt.IsZero() {
		s.ExpiresAt, s.IdleExpiresAt = it.SessionExpiresAt, it.ExpiresAt
	}
	return s
}

// loginCounterItem is a failed-login counter (sessions table, key
// login#…, see oauth's throttle.go).
type loginCounterItem struct {
	Key       string    `dynamodbav:"session_hash"`
	Failures  int64     `dynamodbav:"failures"`
	ExpiresAt time.Time `dynamodbav:"expires_at,unixtime"`
}

// words returns the space-separated words of s, nil if there are none.
func words(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

// nonEmpty returns vs, or nil if it is empty: an empty list is not
// written.
func nonEmpty(vs []string) []string {
	if len(vs) == 0 {
		return nil
	}
	return vs
}

// Whole items of each record, as the store writes and reads them.

func itemOfClient(c *oauth.Client) item { return marshal(newClientItem(c)) }

func clientOf(it item) (*oauth.Client, error) {
	var ci clientItem
	if err := unmarshal(it, &ci); err != nil {
		return nil, err
	}
	return ci.client()
}

func itemOfUser(u *oauth.User) item {
	ui := userItem{Username: u.Username, Subject: u.Subject, PasswordHash: u.PasswordHash}
	if !u.Claims.IsZero() {
		data, _ := json.Marshal(u.Claims) // strings, bools, numbers only
		ui.Claims = string(data)
	}
	it := marshal(ui)
	putConsents(it, u.Consents)
	return it
}

func userOf(it item) (*oauth.User, error) {
	var ui userItem
	if err := unmarshal(it, &ui); err != nil {
		return nil, err
	}
	consents, err := readConsents(it)
	if err != nil {
		return nil, err
	}
	u := &oauth.User{Username: ui.Username, Subject: ui.Subject, PasswordHash: ui.PasswordHash, Consents: consents}
	if ui.Claims != "" {
		u.Claims = &oauth.UserClaims{}
		if err := json.Unmarshal([]byte(ui.Claims), u.Claims); err != nil {
			return nil, fmt.Errorf("attribute claims: %w", err)
		}
	}
	return u, nil
}

func itemOfCode(c *oauth.AuthorizationCode) item { return marshal(newCodeItem(c)) }

func codeOf(it item) (*oauth.AuthorizationCode, error) {
	var ci codeItem
	if err := unmarshal(it, &ci); err != nil {
		return nil, err
	}
	return ci.code(), nil
}

func itemOfRefreshToken(t *oauth.RefreshToken) item { return marshal(newRefreshTokenItem(t)) }

func refreshTokenOf(it item) (*oauth.RefreshToken, error) {
	var ti refreshTokenItem
	if err := unmarshal(it, &ti); err != nil {
		return nil, err
	}
	return ti.refreshToken()
}

func itemOfSession(s *oauth.Session) item {
	it := marshal(newSessionItem(s))
	putConsents(it, s.Consents)
	return it
}

func sessionOf(it item) (*oauth.Session, error) {
	var si sessionItem
	if err := unmarshal(it, &si); err != nil {
		return nil, err
	}
	consents, err := readConsents(it)
	if err != nil {
		return nil, err
	}
	s := si.session()
	s.Consents = consents
	return s, nil
}
