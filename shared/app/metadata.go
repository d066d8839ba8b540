package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/jwks"
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
	// PostLogoutRedirectURIs (OpenID Connect RP-Initiated Logout 1.0 §3.1
	// post_logout_redirect_uris) are where the end-session endpoint may
	// send the browser back after a logout: checked as redirect URIs are.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// GrantTypes is required: the seed states what each client may do.
	GrantTypes []string `json:"grant_types"`
	// ResponseTypes defaults to what GrantTypes allow: "code" for
	// authorization_code, "token" for implicit. The OpenID Connect
	// response types "id_token", "id_token token" and "code id_token"
	// (OpenID Connect Core 1.0 §3.2, §3.3) are only ever registered
	// explicitly, with the grant types they imply (RFC 7591 §2.1).
	ResponseTypes []string `json:"response_types,omitempty"`
	// Scope is the space-separated scope the client may request.
	Scope string `json:"scope,omitempty"`
	// TokenEndpointAuthMethod defaults to client_secret_basic when a secret
	// is given and to none (a public client) otherwise.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// AccessTokenLifetime in seconds; 0 means the server default.
	AccessTokenLifetime int64 `json:"access_token_lifetime,omitempty"`
	// MaxAccessTokenLifetime is the longest AccessTokenLifetime Validate
	// accepts: the server's GATEHOUSE_MAX_ACCESS_TOKEN_TTL, which the
	// registration path sets. Zero means config.AccessTokenTTLCeiling
	// (MaxSeedAccessTokenLifetime). It is not client metadata.
	MaxAccessTokenLifetime time.Duration `json:"-"`
	// JWKS is the client's JWK Set, inline, and JWKSURI the https URL
	// where the client publishes it (RFC 7591 §2 jwks, jwks_uri): the
	// public keys of a private_key_jwt client, exactly one of the two. JWKS
	// is kept raw so a set may carry members Gatehouse does not use (x5c,
	// key_ops, ...); Validate parses it.
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri,omitempty"`
	// ClientURI is the client's home page and LogoURI its logo (RFC 7591
	// §2 client_uri, logo_uri): https URLs (plain http only on a loopback
	// host), which the consent page shows as text links only.
	ClientURI string `json:"client_uri,omitempty"`
	LogoURI   string `json:"logo_uri,omitempty"`
	// FirstParty (Gatehouse's first_party) marks a client run by the
	// server's own operator: its users are not asked for consent.
	FirstParty bool `json:"first_party,omitempty"`
	// IntrospectionAllowed (Gatehouse's introspection_allowed) lets a
	// confidential client, a resource server, introspect the access tokens
	// of every client (RFC 7662 §4); without it a client introspects only
	// its own tokens.
	IntrospectionAllowed bool `json:"introspection_allowed,omitempty"`
}

// SeedUser is a resource owner who can sign in.
type SeedUser struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Sub pins the user's "sub" claim (OpenID Connect Core 1.0 §2);
	// without it the server assigns an opaque random one (never the
	// username, which can change) and keeps it across later loads.
	Sub string `json:"sub,omitempty"`
	// Subject is the older name of sub, still accepted; Validate moves
	// sub into it.
	Subject string `json:"subject,omitempty"`
	// UserClaims are the user's OpenID Connect standard claims (OpenID
	// Connect Core 1.0 §5.1), top-level fields of the user under their
	// claim names ("name", "email", "email_verified", "address": {...}).
	// updated_at may be omitted: Apply sets it when the claims change.
	oauth.UserClaims
}

// MaxSeedAccessTokenLifetime bounds access_token_lifetime (one year,
// config.AccessTokenTTLCeiling) when no lower maximum is given
// (SeedClient.MaxAccessTokenLifetime).
const MaxSeedAccessTokenLifetime = 365 * 24 * 60 * 60

// MaxJWKSBytes bounds an inline jwks: a few keys, stored in the client's
// record (and DynamoDB item).
const MaxJWKSBytes = 16 << 10

var (
	knownGrantTypes    = []string{oauth.GrantAuthorizationCode, oauth.GrantImplicit, oauth.GrantPassword, oauth.GrantClientCredentials, oauth.GrantRefreshToken}
	knownAuthMethods   = []string{oauth.AuthMethodBasic, oauth.AuthMethodPost, oauth.AuthMethodPrivateKeyJWT, oauth.AuthMethodNone}
	knownResponseTypes = []string{oauth.ResponseTypeCode, oauth.ResponseTypeToken,
		oauth.ResponseTypeIDToken, oauth.ResponseTypeIDTokenToken, oauth.ResponseTypeCodeIDToken}
)

// responseTypesFor returns the known response types that use grant type g
// (quoted, for messages).
func responseTypesFor(g string) []string {
	var out []string
	for _, rt := range knownResponseTypes {
		if slices.Contains(oauth.ResponseTypeGrants(rt), g) {
			out = append(out, fmt.Sprintf("%q", rt))
		}
	}
	return out
}

// Validate checks the client's metadata and fills in its defaults:
// token_endpoint_auth_method (client_secret_basic with a secret,
// private_key_jwt with keys, none without either), response_types (from the
// grant types) and a normalized scope. It returns every problem it finds,
// each naming its RFC 7591 field. The seed loader and `gatehouse clients
// create` both validate with it.
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

	// Authentication: a secret exactly when the method needs one, keys
	// exactly for private_key_jwt.
	hasKeys := c.hasJWKS() || c.JWKSURI != ""
	switch {
	case c.TokenEndpointAuthMethod == "" && c.ClientSecret != "":
		c.TokenEndpointAuthMethod = oauth.AuthMethodBasic
	case c.TokenEndpointAuthMethod == "" && hasKeys:
		c.TokenEndpointAuthMethod = oauth.AuthMethodPrivateKeyJWT
	case c.TokenEndpointAuthMethod == "":
		c.TokenEndpointAuthMethod = oauth.AuthMethodNone
	case !slices.Contains(knownAuthMethods, c.TokenEndpointAuthMethod):
		v.fail("token_endpoint_auth_method", "unknown method %q (known: %s)",
			c.TokenEndpointAuthMethod, strings.Join(knownAuthMethods, ", "))
	case c.TokenEndpointAuthMethod == oauth.AuthMethodNone && c.ClientSecret != "":
		v.fail("client_secret", "a public client (token_endpoint_auth_method %q) must not have a secret", oauth.AuthMethodNone)
	case c.TokenEndpointAuthMethod == oauth.AuthMethodPrivateKeyJWT && c.ClientSecret != "":
		v.fail("client_secret", "a %s client authenticates with its keys and must not have a secret", oauth.AuthMethodPrivateKeyJWT)
	case c.TokenEndpointAuthMethod != oauth.AuthMethodNone && c.TokenEndpointAuthMethod != oauth.AuthMethodPrivateKeyJWT &&
		c.ClientSecret == "":
		v.fail("client_secret", "is required for token_endpoint_auth_method %q (use %q for a public client)",
			c.TokenEndpointAuthMethod, oauth.AuthMethodNone)
	}
	if c.TokenEndpointAuthMethod == oauth.AuthMethodPrivateKeyJWT {
		c.validateKeys(&v)
	} else {
		if c.hasJWKS() {
			v.fail("jwks", "is only for token_endpoint_auth_method %q", oauth.AuthMethodPrivateKeyJWT)
		}
		if c.JWKSURI != "" {
			v.fail("jwks_uri", "is only for token_endpoint_auth_method %q", oauth.AuthMethodPrivateKeyJWT)
		}
	}
	public := c.TokenEndpointAuthMethod == oauth.AuthMethodNone
	if public && c.IntrospectionAllowed {
		v.fail("introspection_allowed", "needs a confidential client (RFC 7662 §4); this client has no credentials")
	}

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
		// A response type is a set of words (RFC 6749 §3.1.1): each is
		// stored in its canonical order ("token id_token" becomes
		// "id_token token"), and needs the grant types it implies (RFC 7591
		// §2.1; OpenID Connect Dynamic Client Registration 1.0 §2: "code
		// id_token" needs authorization_code and implicit).
		for i, rt := range c.ResponseTypes {
			canon := oauth.CanonicalResponseType(rt)
			if canon == "" {
				v.fail("response_types", "unknown response type %q (known: %s)", rt, strings.Join(knownResponseTypes, ", "))
				continue
			}
			c.ResponseTypes[i] = canon
			if slices.Index(c.ResponseTypes, canon) < i {
				v.fail("response_types", "duplicate response type %q", rt)
				continue
			}
			for _, g := range oauth.ResponseTypeGrants(canon) {
				if !has(g) {
					v.fail("response_types", "%q needs grant type %q", rt, g)
				}
			}
		}
		// Each redirect-based grant type is used by some response type.
		for _, g := range []string{oauth.GrantAuthorizationCode, oauth.GrantImplicit} {
			used := slices.ContainsFunc(c.ResponseTypes, func(rt string) bool {
				return slices.Contains(oauth.ResponseTypeGrants(rt), g)
			})
			if has(g) && !used {
				uses := responseTypesFor(g)
				v.fail("response_types", "grant type %q needs response type %s (or %s)", g, uses[0], strings.Join(uses[1:], ", "))
			}
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

	for i, u := range c.PostLogoutRedirectURIs {
		field := fmt.Sprintf("post_logout_redirect_uris[%d]", i)
		if err := oauth.ValidateRedirectURI(u); err != nil {
			v.fail(field, "%s", describe(err))
		} else if slices.Index(c.PostLogoutRedirectURIs, u) < i {
			v.fail(field, "duplicate post-logout redirect URI %q", u)
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

	// Links shown on the consent page.
	if c.ClientURI != "" {
		if msg := checkLinkURL(c.ClientURI); msg != "" {
			v.fail("client_uri", "%s", msg)
		}
	}
	if c.LogoURI != "" {
		if msg := checkLinkURL(c.LogoURI); msg != "" {
			v.fail("logo_uri", "%s", msg)
		}
	}

	if msg := accessTokenLifetimeProblem(c.AccessTokenLifetime, c.MaxAccessTokenLifetime); msg != "" {
		v.fail("access_token_lifetime", "%s", msg)
	}
	return v
}

// accessTokenLifetimeProblem says what is wrong with an
// access_token_lifetime of seconds under the maximum limit (zero: the
// ceiling, MaxSeedAccessTokenLifetime), or "" if nothing is. The grant
// library caps a longer lifetime anyway; refusing it at registration keeps
// the operator from believing a client gets longer-lived tokens than it
// does.
func accessTokenLifetimeProblem(seconds int64, limit time.Duration) string {
	maxSeconds, why := int64(MaxSeedAccessTokenLifetime), ""
	if limit > 0 && int64(limit/time.Second) < maxSeconds {
		maxSeconds, why = int64(limit/time.Second), fmt.Sprintf(" (%s is %s)", config.EnvMaxAccessTokenTTL, limit)
	}
	if seconds < 0 || seconds > maxSeconds {
		return fmt.Sprintf("%d is out of range: want seconds between 1 and %d%s, or 0 for the server default", seconds, maxSeconds, why)
	}
	return ""
}

// hasJWKS reports whether an inline jwks was given (JSON null is none).
func (c *SeedClient) hasJWKS() bool {
	return len(c.JWKS) > 0 && string(bytes.TrimSpace(c.JWKS)) != "null"
}

// validateKeys checks the keys of a private_key_jwt client: exactly one of
// jwks and jwks_uri (RFC 7591 §2), a jwks_uri the server may fetch, or an
// inline set it can use.
func (c *SeedClient) validateKeys(v *fieldErrors) {
	switch {
	case c.hasJWKS() && c.JWKSURI != "":
		v.fail("jwks_uri", "give jwks or jwks_uri, not both (RFC 7591 §2)")
	case !c.hasJWKS() && c.JWKSURI == "":
		v.fail("jwks", "a %s client needs its public keys: jwks (the JWK Set) or jwks_uri (where it is published)",
			oauth.AuthMethodPrivateKeyJWT)
	case c.JWKSURI != "":
		if msg := checkJWKSURI(c.JWKSURI); msg != "" {
			v.fail("jwks_uri", "%s", msg)
		}
	default:
		if _, problems := ParseClientJWKS(c.JWKS); len(problems) > 0 {
			for _, p := range problems {
				v.fail("jwks", "%s", p)
			}
		}
	}
}

// checkJWKSURI requires an absolute https URL (plain http only on a
// loopback host, for development) without fragment or user info; "" if it
// is fine.
func checkJWKSURI(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || !u.IsAbs():
		return fmt.Sprintf("%q is not an absolute URL", raw)
	case u.Fragment != "" || u.User != nil:
		return fmt.Sprintf("%q must not have a fragment or user info", raw)
	case len(raw) > 2048:
		return "is longer than 2048 characters"
	case !jwks.SecureURL(u):
		return fmt.Sprintf("%q must use https (plain http only on loopback)", raw)
	}
	return ""
}

// MaxLinkURLLength bounds client_uri and logo_uri.
const MaxLinkURLLength = 2048

// checkLinkURL checks a client_uri or logo_uri: an absolute https URL
// (plain http only on a loopback host, for development), printable ASCII
// (non-ASCII percent-encoded), without user info, which could make a link
// on the consent page read as another site's ("https://bank.example@evil.example/");
// "" if it is fine.
func checkLinkURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case len(raw) > MaxLinkURLLength:
		return fmt.Sprintf("is longer than %d characters", MaxLinkURLLength)
	case !printableNoSpace(raw):
		return fmt.Sprintf("%q must be printable ASCII without spaces (percent-encode the rest)", raw)
	case err != nil || !u.IsAbs() || u.Hostname() == "":
		return fmt.Sprintf("%q is not an absolute URL", raw)
	case u.User != nil:
		return fmt.Sprintf("%q must not have user info", raw)
	case !jwks.SecureURL(u):
		return fmt.Sprintf("%q must use https (plain http only on 127.0.0.1, [::1] or localhost)", raw)
	}
	return ""
}

// privateMembers are the JWK members of private or symmetric keys (RFC
// 7518 §6.2.2, §6.3.2, §6.4.1).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParseClientJWKS parses a client's inline JWK Set (RFC 7517 §5) and
// returns its keys usable for private_key_jwt assertions, or every problem
// it has. Each key must be a public signing key the server accepts
// (oauth.JWK.ClientKey: RSA of 2048 bits or more, or P-256) with a unique
// kid; keys marked "use": "enc" are left out; a private key is refused
// outright, since the server must never hold it. Members Gatehouse does not
// use (x5c, key_ops, ...) are dropped.
func ParseClientJWKS(raw json.RawMessage) (*oauth.JWKS, []string) {
	if len(raw) > MaxJWKSBytes {
		return nil, []string{fmt.Sprintf("is larger than %d bytes", MaxJWKSBytes)}
	}
	var members struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	var set oauth.JWKS
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, []string{"is not a JWK Set (RFC 7517 §5: {\"keys\": [...]}): " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	if err := json.Unmarshal(raw, &set); err != nil || members.Keys == nil {
		return nil, []string{"is not a JWK Set (RFC 7517 §5: {\"keys\": [...]})"}
	}
	var problems []string
	out := &oauth.JWKS{Keys: []oauth.JWK{}}
	seen := map[string]int{}
	for i, j := range set.Keys {
		at := fmt.Sprintf("keys[%d]", i)
		if j.Kid != "" {
			at += fmt.Sprintf(" (kid %q)", j.Kid)
		}
		if m := privateMember(members.Keys[i]); m != "" {
			problems = append(problems, fmt.Sprintf("%s holds private or secret key material (%q): register the public key only", at, m))
			continue
		}
		if j.Use == "enc" {
			continue
		}
		if _, err := j.ClientKey(); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s", at, strings.TrimPrefix(err.Error(), "oauth: ")))
			continue
		}
		if j.Kid == "" {
			problems = append(problems, at+" has no kid")
			continue
		}
		if k, dup := seen[j.Kid]; dup {
			problems = append(problems, fmt.Sprintf("%s: duplicate kid (also keys[%d])", at, k))
			continue
		}
		seen[j.Kid] = i
		out.Keys = append(out.Keys, j)
	}
	if len(problems) == 0 && len(out.Keys) == 0 {
		problems = append(problems, "has no signing key: want an RSA key of 2048 bits or more, or a P-256 key, with a kid")
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}

func privateMember(m map[string]json.RawMessage) string {
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return name
		}
	}
	return ""
}

// Validate checks the user and its claims (ValidateClaims) and moves sub
// into Subject. It returns every problem it finds, each naming its field.
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
	switch {
	case u.Sub != "" && u.Subject != "" && u.Sub != u.Subject:
		v.fail("sub", "%q differs from subject %q (give one of them)", u.Sub, u.Subject)
	case u.Sub != "":
		u.Subject, u.Sub = u.Sub, ""
	}
	if u.Subject != "" && !cleanText(u.Subject) {
		v.fail("subject", "%q must not have control characters or surrounding spaces", u.Subject)
	}
	v = append(v, ValidateClaims(&u.UserClaims)...)
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
// with oauth.HashSecret, the scope split, the jwks parsed (its usable keys
// only). Call it on a client Validate accepted.
func (c *SeedClient) OAuthClient() *oauth.Client {
	var hash string
	if c.ClientSecret != "" {
		hash = oauth.HashSecret(c.ClientSecret)
	}
	var set *oauth.JWKS
	if c.hasJWKS() {
		set, _ = ParseClientJWKS(c.JWKS)
	}
	return &oauth.Client{
		ID:                      c.ClientID,
		SecretHash:              hash,
		Name:                    c.ClientName,
		RedirectURIs:            slices.Clone(c.RedirectURIs),
		PostLogoutRedirectURIs:  slices.Clone(c.PostLogoutRedirectURIs),
		GrantTypes:              slices.Clone(c.GrantTypes),
		ResponseTypes:           slices.Clone(c.ResponseTypes),
		Scopes:                  strings.Fields(c.Scope),
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		AccessTokenLifetime:     time.Duration(c.AccessTokenLifetime) * time.Second,
		JWKS:                    set,
		JWKSURI:                 c.JWKSURI,
		ClientURI:               c.ClientURI,
		LogoURI:                 c.LogoURI,
		FirstParty:              c.FirstParty,
		IntrospectionAllowed:    c.IntrospectionAllowed,
	}
}
