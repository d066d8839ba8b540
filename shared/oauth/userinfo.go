package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
)

// PathUserInfo is the UserInfo endpoint (OpenID Connect Core 1.0 §5.3).
const PathUserInfo = "/userinfo"

// Address is the address claim (OpenID Connect Core 1.0 §5.1.1).
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"street_address,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postal_code,omitempty"`
	Country       string `json:"country,omitempty"`
}

// UserClaims are a user's OpenID Connect standard claims (OpenID Connect
// Core 1.0 §5.1), under their wire names; every one is optional. sub is
// not among them: it is User.Subject.
type UserClaims struct {
	Name                string   `json:"name,omitempty"`
	GivenName           string   `json:"given_name,omitempty"`
	FamilyName          string   `json:"family_name,omitempty"`
	MiddleName          string   `json:"middle_name,omitempty"`
	Nickname            string   `json:"nickname,omitempty"`
	PreferredUsername   string   `json:"preferred_username,omitempty"`
	Profile             string   `json:"profile,omitempty"`
	Picture             string   `json:"picture,omitempty"`
	Website             string   `json:"website,omitempty"`
	Email               string   `json:"email,omitempty"`
	EmailVerified       *bool    `json:"email_verified,omitempty"`
	Gender              string   `json:"gender,omitempty"`
	Birthdate           string   `json:"birthdate,omitempty"`
	Zoneinfo            string   `json:"zoneinfo,omitempty"`
	Locale              string   `json:"locale,omitempty"`
	PhoneNumber         string   `json:"phone_number,omitempty"`
	PhoneNumberVerified *bool    `json:"phone_number_verified,omitempty"`
	Address             *Address `json:"address,omitempty"`
	// UpdatedAt is updated_at: when the claims last changed, in seconds
	// since the epoch; 0 when unknown.
	UpdatedAt int64 `json:"updated_at,omitempty"`
}

// IsZero reports whether no claim is set.
func (c *UserClaims) IsZero() bool {
	return c == nil || *c == UserClaims{}
}

// Clone returns a deep copy of c (nil for nil).
func (c *UserClaims) Clone() *UserClaims {
	if c == nil {
		return nil
	}
	out := *c
	if c.EmailVerified != nil {
		v := *c.EmailVerified
		out.EmailVerified = &v
	}
	if c.PhoneNumberVerified != nil {
		v := *c.PhoneNumberVerified
		out.PhoneNumberVerified = &v
	}
	if c.Address != nil {
		a := *c.Address
		out.Address = &a
	}
	return &out
}

// NewSubject returns a fresh subject identifier: 128 random bits,
// base64url, so it is opaque, never reused and never derived from the
// username, which can change (OpenID Connect Core 1.0 §2: "A locally
// unique and never reassigned identifier within the Issuer for the
// End-User").
func NewSubject() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("oauth: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// ReleasedClaims returns the claims of user that scopes release, with sub
// (OpenID Connect Core 1.0 §5.4): profile releases name, family_name,
// given_name, middle_name, nickname, preferred_username, profile, picture,
// website, gender, birthdate, zoneinfo, locale and updated_at; email
// releases email and email_verified; address releases address; phone
// releases phone_number and phone_number_verified. A claim the user does
// not have is omitted (§5.3.2: "If a Claim is not returned, that Claim
// Name SHOULD be omitted"); preferred_username defaults to the username.
func ReleasedClaims(user *User, scopes []string) map[string]any {
	out := map[string]any{"sub": user.Subject}
	c := user.Claims
	if c == nil {
		c = &UserClaims{}
	}
	set := func(name, v string) {
		if v != "" {
			out[name] = v
		}
	}
	setBool := func(name string, v *bool) {
		if v != nil {
			out[name] = *v
		}
	}
	if slices.Contains(scopes, "profile") {
		set("name", c.Name)
		set("given_name", c.GivenName)
		set("family_name", c.FamilyName)
		set("middle_name", c.MiddleName)
		set("nickname", c.Nickname)
		pu := c.PreferredUsername
		if pu == "" {
			pu = user.Username
		}
		set("preferred_username", pu)
		set("profile", c.Profile)
		set("picture", c.Picture)
		set("website", c.Website)
		set("gender", c.Gender)
		set("birthdate", c.Birthdate)
		set("zoneinfo", c.Zoneinfo)
		set("locale", c.Locale)
		if c.UpdatedAt != 0 {
			out["updated_at"] = c.UpdatedAt
		}
	}
	if slices.Contains(scopes, "email") {
		set("email", c.Email)
		setBool("email_verified", c.EmailVerified)
	}
	if slices.Contains(scopes, "address") && c.Address != nil && *c.Address != (Address{}) {
		a := *c.Address
		out["address"] = &a
	}
	if slices.Contains(scopes, "phone") {
		set("phone_number", c.PhoneNumber)
		setBool("phone_number_verified", c.PhoneNumberVerified)
	}
	return out
}

// SupportedClaims are the claims the UserInfo endpoint can return
// (OpenID Connect Discovery 1.0 §3, claims_supported).
var SupportedClaims = []string{
	"sub", "name", "given_name", "family_name", "middle_name", "nickname",
	"preferred_username", "profile", "picture", "website", "email",
	"email_verified", "gender", "birthdate", "zoneinfo", "locale",
	"phone_number", "phone_number_verified", "address", "updated_at",
}

// UserInfo answers a UserInfo request (OpenID Connect Core 1.0 §5.3) made
// with the access token token: the claims its scopes release about its
// user (§5.3.2), sub always among them.
//
// The token is verified locally (signature, iss, aud, exp: RFC 9068 §4)
// and checked for revocation as introspection does, so a revoked token or
// grant stops answering at once. A token that fails any check, a client
// credentials token (it has no user), or one whose user is gone or no
// longer has the token's sub is invalid_token (RFC 6750 §3.1); a live
// token without the openid scope is insufficient_scope (§5.3.3 and RFC
// 6750 §3.1). Store faults are server errors, never invalid_token.
//
// The user is read by subject (one DynamoDB read). Should that find
// nothing (a just-assigned subject the store's index has not caught up
// with), the token's username is read and must carry the same subject.
func (s *Server) UserInfo(ctx context.Context, token string) (map[string]any, error) {
	if token == "" || len(token) > maxTokenParamLength || !looksLikeJWT(token) {
		return nil, ErrInvalidToken("the access token is malformed")
	}
	claims, err := s.verifier.Verify(ctx, token)
	if errors.Is(err, ErrKeyUnavailable) {
		return nil, ErrServer(err)
	}
	if err != nil {
		return nil, ErrInvalidToken("the access token is invalid or expired")
	}
	revoked, err := s.store.AccessTokenRevoked(ctx, claims.ID, claims.GrantID)
	if err != nil {
		return nil, ErrServer(err)
	}
	if revoked {
		return nil, ErrInvalidToken("the access token has been revoked")
	}
	if claims.Username == "" || claims.Subject == "" {
		return nil, ErrInvalidToken("the access token has no user")
	}
	scopes := strings.Fields(claims.Scope)
	if !slices.Contains(scopes, ScopeOpenID) {
		return nil, &Error{Code: CodeInsufficientScope,
			Description: "the access token was not granted the openid scope"}
	}
	user, err := s.store.GetUserBySubject(ctx, claims.Subject)
	if errors.Is(err, ErrNotFound) {
		user, err = s.store.GetUser(ctx, claims.Username)
	}
	if errors.Is(err, ErrNotFound) || err == nil && user.Subject != claims.Subject {
		return nil, ErrInvalidToken("the access token's user no longer exists")
	}
	if err != nil {
		return nil, ErrServer(err)
	}
	return ReleasedClaims(user, scopes), nil
}
