package app

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// FieldError is one problem with a client's or a user's metadata: the
// field, by its RFC 7591 name (with an index into a list, as in
// "redirect_uris[1]"), and what is wrong with it.
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// fieldErrors collects FieldErrors.
type fieldErrors []FieldError

func (v *fieldErrors) fail(field, format string, args ...any) {
	*v = append(*v, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// SeedClient is a client in RFC 7591 §2 metadata names: an entry of a seed
// file, or what `gatehouse clients create` registers. Both check it with
// Validate.
type SeedClient struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	ClientName   string   `json:"client_name,omitempty"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// GrantTypes is required: the seed states what each client may do.
	GrantTypes []string `json:"grant_types"`
	// ResponseTypes defaults to what GrantTypes allow: "code" for
	// authorization_code, "token" for implicit.
	ResponseTypes []string `json:"response_types,omitempty"`
	// Scope is the space-separated scope the client may request.
	Scope string `json:"scope,omitempty"`
	// TokenEndpointAuthMethod defaults to client_secret_basic when a secret
	// is given and to none (a public client) otherwise.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// AccessTokenLifetime in seconds; 0 means the server default.
	AccessTokenLifetime int64 `json:"access_token_lifetime,omitempty"`
}

// SeedUser is a resource owner who can sign in.
type SeedUser struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Subject is the "sub" claim; it defaults to the username.
	Subject string `json:"subject,omitempty"`
}

// MaxSeedAccessTokenLifetime bounds access_token_lifetime (one year).
const MaxSeedAccessTokenLifetime = 365 * 24 * 60 * 60

var (
	knownGrantTypes    = []string{oauth.GrantAuthorizationCode, oauth.GrantImplicit, oauth.GrantPassword, oauth.GrantClientCredentials, oauth.GrantRefreshToken}
	knownAuthMethods   = []string{oauth.AuthMethodBasic, oauth.AuthMethodPost, oauth.AuthMethodNone}
	knownResponseTypes = []string{oauth.ResponseTypeCode, oauth.ResponseTypeToken}
)

// Validate checks the client's metadata and fills in its defaults:
// token_endpoint_auth_method (client_secret_basic with a secret, none
// without), response_types (from the grant types) and a normalized scope.
// It returns every problem it finds, each naming its RFC 7591 field. The
// seed loader and `gatehouse clients create` both validate with it.
func (c *SeedClient) Validate() []FieldError {
	var v fieldErrors
	switch {
	case c.ClientID == "":
		v.fail("client_id", "is required")
	case !printableNoSpace(c.ClientID):
		v.fail("client_id", "%q must be printable ASCII without spaces", c.ClientID)
	}

	if c.ClientName != "" && !cleanText(c.ClientName) {
		v.fail("client_name", "%q must not have control characters or surrounding spaces", c.ClientName)
	}

	// Authentication: a secret exactly when the method needs one.
	switch {
	case c.TokenEndpointAuthMethod == "" && c.ClientSecret != "":
		c.TokenEndpointAuthMethod = oauth.AuthMethodBasic
	case c.TokenEndpointAuthMethod == "":
		c.TokenEndpointAuthMethod = oauth.AuthMethodNone
	case !slices.Contains(knownAuthMethods, c.TokenEndpointAuthMethod):
		v.fail("token_endpoint_auth_method", "unknown method %q (known: %s)",
			c.TokenEndpointAuthMethod, strings.Join(knownAuthMethods, ", "))
	case c.TokenEndpointAuthMethod == oauth.AuthMethodNone && c.ClientSecret != "":
		v.fail("client_secret", "a public client (token_endpoint_auth_method %q) must not have a secret", oauth.AuthMethodNone)
	case c.TokenEndpointAuthMethod != oauth.AuthMethodNone && c.ClientSecret == "":
		v.fail("client_secret", "is required for token_endpoint_auth_method %q (use %q for a public client)",
			c.TokenEndpointAuthMethod, oauth.AuthMethodNone)
	}
	public := c.TokenEndpointAuthMethod == oauth.AuthMethodNone

	// Grant types.
	if len(c.GrantTypes) == 0 {
		v.fail("grant_types", "is required (known: %s)", strings.Join(knownGrantTypes, ", "))
	}
	for i, g := range c.GrantTypes {
		switch {
		case !slices.Contains(knownGrantTypes, g):
			v.fail("grant_types", "unknown grant type %q (known: %s)", g, strings.Join(knownGrantTypes, ", "))
		case slices.Index(c.GrantTypes, g) < i:
			v.fail("grant_types", "duplicate grant type %q", g)
		}
	}
	has := func(g string) bool { return slices.Contains(c.GrantTypes, g) }
	if public && has(oauth.GrantClientCredentials) {
		v.fail("grant_types", "%q needs a confidential client (RFC 6749 §4.4); this client has no secret", oauth.GrantClientCredentials)
	}
	if has(oauth.GrantRefreshToken) && !has(oauth.GrantAuthorizationCode) && !has(oauth.GrantPassword) {
		v.fail("grant_types", "%q needs %q or %q, the grants that issue refresh tokens",
			oauth.GrantRefreshToken, oauth.GrantAuthorizationCode, oauth.GrantPassword)
	}

	// Response types, consistent with the grant types (RFC 7591 §2.1).
	if len(c.ResponseTypes) == 0 {
		if has(oauth.GrantAuthorizationCode) {
			c.ResponseTypes = append(c.ResponseTypes, oauth.ResponseTypeCode)
		}
		if has(oauth.GrantImplicit) {
			c.ResponseTypes = append(c.ResponseTypes, oauth.ResponseTypeToken)
		}
	} else {
		for i, rt := range c.ResponseTypes {
			switch {
			case !slices.Contains(knownResponseTypes, rt):
				v.fail("response_types", "unknown response type %q (known: %s)", rt, strings.Join(knownResponseTypes, ", "))
			case slices.Index(c.ResponseTypes, rt) < i:
				v.fail("response_types", "duplicate response type %q", rt)
			case rt == oauth.ResponseTypeCode && !has(oauth.GrantAuthorizationCode):
				v.fail("response_types", "%q needs grant type %q", rt, oauth.GrantAuthorizationCode)
			case rt == oauth.ResponseTypeToken && !has(oauth.GrantImplicit):
				v.fail("response_types", "%q needs grant type %q", rt, oauth.GrantImplicit)
			}
		}
		if has(oauth.GrantAuthorizationCode) && !slices.Contains(c.ResponseTypes, oauth.ResponseTypeCode) {
			v.fail("response_types", "grant type %q needs response type %q", oauth.GrantAuthorizationCode, oauth.ResponseTypeCode)
		}
		if has(oauth.GrantImplicit) && !slices.Contains(c.ResponseTypes, oauth.ResponseTypeToken) {
			v.fail("response_types", "grant type %q needs response type %q", oauth.GrantImplicit, oauth.ResponseTypeToken)
		}
	}

	// Redirect URIs: required by the redirect-based grants.
	if len(c.RedirectURIs) == 0 && (has(oauth.GrantAuthorizationCode) || has(oauth.GrantImplicit)) {
		v.fail("redirect_uris", "is required for grant types %q and %q", oauth.GrantAuthorizationCode, oauth.GrantImplicit)
	}
	for i, u := range c.RedirectURIs {
		field := fmt.Sprintf("redirect_uris[%d]", i)
		if err := oauth.ValidateRedirectURI(u); err != nil {
			v.fail(field, "%s", describe(err))
		} else if slices.Index(c.RedirectURIs, u) < i {
			v.fail(field, "duplicate redirect URI %q", u)
		}
	}

	// Scope.
	scopes := strings.Fields(c.Scope)
	for i, s := range scopes {
		switch {
		case !config.ValidScopeToken(s):
			v.fail("scope", "%q is not a valid scope token (RFC 6749 §3.3)", s)
		case slices.Index(scopes, s) < i:
			v.fail("scope", "duplicate scope %q", s)
		}
	}
	c.Scope = strings.Join(scopes, " ")

	if c.AccessTokenLifetime < 0 || c.AccessTokenLifetime > MaxSeedAccessTokenLifetime {
		v.fail("access_token_lifetime", "%d is out of range: want seconds between 1 and %d, or 0 for the server default",
			c.AccessTokenLifetime, MaxSeedAccessTokenLifetime)
	}
	return v
}

// Validate checks the user and fills in its default subject (the
// username). It returns every problem it finds, each naming its field.
func (u *SeedUser) Validate() []FieldError {
	var v fieldErrors
	switch {
	case u.Username == "":
		v.fail("username", "is required")
	case !cleanText(u.Username):
		v.fail("username", "%q must not have control characters or surrounding spaces", u.Username)
	}
	if u.Password == "" {
		v.fail("password", "is required")
	}
	if u.Subject == "" {
		u.Subject = u.Username
	} else if !cleanText(u.Subject) {
		v.fail("subject", "%q must not have control characters or surrounding spaces", u.Subject)
	}
	return v
}

// describe returns an oauth.Error's description, or the error's text.
func describe(err error) string {
	var oe *oauth.Error
	if errors.As(err, &oe) && oe.Description != "" {
		return oe.Description
	}
	return err.Error()
}

func printableNoSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func cleanText(s string) bool {
	if strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

// OAuthClient returns the client as the store keeps it: the secret hashed
// with oauth.HashSecret, the scope split.
func (c *SeedClient) OAuthClient() *oauth.Client {
	var hash string
	if c.ClientSecret != "" {
		hash = oauth.HashSecret(c.ClientSecret)
	}
	return &oauth.Client{
		ID:                      c.ClientID,
		SecretHash:              hash,
		Name:                    c.ClientName,
		RedirectURIs:            slices.Clone(c.RedirectURIs),
		GrantTypes:              slices.Clone(c.GrantTypes),
		ResponseTypes:           slices.Clone(c.ResponseTypes),
		Scopes:                  strings.Fields(c.Scope),
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		AccessTokenLifetime:     time.Duration(c.AccessTokenLifetime) * time.Second,
	}
}
