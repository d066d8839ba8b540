package dynamostore

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Records are marshaled by the small explicit functions below, to items of
// attribute values (value.go), rather than by reflection: fewer
// allocations, no struct tags to keep in step with docs/dynamodb.md, and
// less work at a Lambda's cold start. Times are epoch seconds (N); lists of scopes are one
// space-separated S, as in OAuth's "scope" parameter (RFC 6749 §3.3); empty
// optional strings and lists are omitted and read back as empty.

// Attribute names, as documented in docs/dynamodb.md.
const (
	// Keys.
	attrClientID    = "client_id"    // clients
	attrUsername    = "username"     // users (key); codes, tokens, sessions
	attrCodeHash    = "code_hash"    // codes
	attrPK          = "pk"           // tokens: "rt#…", "grant#…", "jti#…"
	attrSessionHash = "session_hash" // sessions

	// Clients.
	attrSecretHash              = "secret_hash"
	attrClientName              = "client_name"
	attrRedirectURIs            = "redirect_uris"
	attrGrantTypes              = "grant_types"
	attrResponseTypes           = "response_types"
	attrScope                   = "scope" // also codes and refresh tokens
	attrTokenEndpointAuthMethod = "token_endpoint_auth_method"
	attrAccessTokenLifetime     = "access_token_lifetime"
	attrJWKS                    = "jwks" // a JWK Set as a JSON string
	attrJWKSURI                 = "jwks_uri"
	attrClientURI               = "client_uri"
	attrLogoURI                 = "logo_uri"
	attrFirstParty              = "first_party"

	// Users.
	attrSubject      = "subject" // also codes, refresh tokens, sessions
	attrPasswordHash = "password_hash"

	// Codes.
	attrGrantID             = "grant_id" // also refresh tokens
	attrRedirectURI         = "redirect_uri"
	attrCodeChallenge       = "code_challenge"
	attrCodeChallengeMethod = "code_challenge_method"
	attrAuthTime            = "auth_time" // also sessions
	attrRedeemed            = "redeemed"

	// Refresh tokens.
	attrIssuedAt = "issued_at"
	attrRotated  = "rotated"

	// Assertion ids (the tokens table).
	attrNonce = "nonce"

	// Sessions: the absolute end (expires_at is the idle one, the
	// earlier, so that TTL deletes idle sessions).
	attrSessionExpiresAt = "session_expires_at"

	// Failed-login counters (the sessions table).
	attrFailures = "failures"

	// Every expiring item: codes, tokens (all four kinds), sessions. It is
	// the tables' TTL attribute.
	attrExpiresAt = "expires_at"
)

// Prefixes of the tokens table's partition key.
const (
	prefixRefreshToken = "rt#"    // rt#<token hash>: a refresh token
	prefixGrant        = "grant#" // grant#<grant id>: a grant revocation
	prefixJTI          = "jti#"   // jti#<jti>: an access token revocation
	// jti_asrt#<base64url(SHA-256(client id, 0, jti))>: a used
	// private_key_jwt assertion id. Hashed, so any client id and jti fit a
	// key, and two clients' ids never meet.
	prefixAssertionID = "jti_asrt#"
)

func str(v string) value      { return value{typ: typeS, s: v} }
func num(v int64) value       { return value{typ: typeN, s: strconv.FormatInt(v, 10)} }
func boolean(v bool) value    { return value{typ: typeBOOL, b: v} }
func epoch(t time.Time) value { return num(t.Unix()) }

// Shared attribute values of conditions.
var (
	valTrue  = boolean(true)
	valFalse = boolean(false)
)

// putS sets attribute name to v unless v is empty.
func putS(it item, name, v string) {
	if v != "" {
		it[name] = str(v)
	}
}

// putL sets attribute name to the list vs unless vs is empty.
func putL(it item, name string, vs []string) {
	if len(vs) == 0 {
		return
	}
	l := make([]value, len(vs))
	for i, v := range vs {
		l[i] = str(v)
	}
	it[name] = value{typ: typeL, l: l}
}

// putWords sets attribute name to the space-separated words unless there
// are none.
func putWords(it item, name string, words []string) { putS(it, name, strings.Join(words, " ")) }

// putTime sets attribute name to t in epoch seconds unless t is zero.
func putTime(it item, name string, t time.Time) {
	if !t.IsZero() {
		it[name] = epoch(t)
	}
}

// reader reads typed attributes of one item, keeping the first error (an
// attribute of the wrong type: an item not written by this package).
type reader struct {
	it  item
	err error
}

func (r *reader) fail(name, want string, got value) {
	if r.err == nil {
		r.err = fmt.Errorf("attribute %s is %s, want %s", name, got.typ, want)
	}
}

// get returns attribute name if it is present and of type typ; an
// attribute of another type is an error.
func (r *reader) get(name, typ string) (value, bool) {
	v, ok := r.it[name]
	if !ok {
		return value{}, false
	}
	if v.typ != typ {
		r.fail(name, typ, v)
		return value{}, false
	}
	return v, true
}

// s returns the S attribute name, "" if it is absent.
func (r *reader) s(name string) string {
	v, _ := r.get(name, typeS)
	return v.s
}

// n returns the integer N attribute name and whether it is present.
func (r *reader) n(name string) (int64, bool) {
	v, ok := r.get(name, typeN)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v.s, 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return n, err == nil
}

// time returns the epoch-seconds attribute name, the zero time if absent.
func (r *reader) time(name string) time.Time {
	if n, ok := r.n(name); ok {
		return time.Unix(n, 0)
	}
	return time.Time{}
}

// b returns the BOOL attribute name, false if absent.
func (r *reader) b(name string) bool {
	v, _ := r.get(name, typeBOOL)
	return v.b
}

// l returns the list of strings name, nil if absent.
func (r *reader) l(name string) []string {
	v, ok := r.get(name, typeL)
	if !ok {
		return nil
	}
	out := make([]string, len(v.l))
	for i, e := range v.l {
		if e.typ != typeS {
			r.fail(name+"[]", typeS, e)
			return nil
		}
		out[i] = e.s
	}
	return out
}

// words returns the space-separated words of the S attribute name, nil if
// absent or empty.
func (r *reader) words(name string) []string {
	s := r.s(name)
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

// expiresAt returns the item's expires_at in epoch seconds; an item without
// one counts as long expired.
func expiresAt(it item) int64 {
	r := reader{it: it}
	n, _ := r.n(attrExpiresAt)
	return n
}

// Clients.

func clientKey(id string) item { return item{attrClientID: str(id)} }

func clientItem(c *oauth.Client) item {
	it := item{attrClientID: str(c.ID)}
	putS(it, attrSecretHash, c.SecretHash)
	putS(it, attrClientName, c.Name)
	putL(it, attrRedirectURIs, c.RedirectURIs)
	putL(it, attrGrantTypes, c.GrantTypes)
	putL(it, attrResponseTypes, c.ResponseTypes)
	putWords(it, attrScope, c.Scopes)
	putS(it, attrTokenEndpointAuthMethod, c.TokenEndpointAuthMethod)
	if secs := int64(c.AccessTokenLifetime / time.Second); secs != 0 {
		it[attrAccessTokenLifetime] = num(secs)
	}
	if c.JWKS != nil {
		// A JWK Set marshals without fail: it holds only strings.
		data, _ := json.Marshal(c.JWKS)
		it[attrJWKS] = str(string(data))
	}
	putS(it, attrJWKSURI, c.JWKSURI)
	putS(it, attrClientURI, c.ClientURI)
	putS(it, attrLogoURI, c.LogoURI)
	if c.FirstParty {
		it[attrFirstParty] = valTrue
	}
	return it
}

func clientFrom(it item) (*oauth.Client, error) {
	r := reader{it: it}
	lifetime, _ := r.n(attrAccessTokenLifetime)
	var set *oauth.JWKS
	if raw := r.s(attrJWKS); raw != "" {
		set = &oauth.JWKS{}
		if err := json.Unmarshal([]byte(raw), set); err != nil && r.err == nil {
			r.err = fmt.Errorf("attribute %s: %w", attrJWKS, err)
		}
	}
	c := &oauth.Client{
		ID:                      r.s(attrClientID),
		SecretHash:              r.s(attrSecretHash),
		Name:                    r.s(attrClientName),
		RedirectURIs:            r.l(attrRedirectURIs),
		GrantTypes:              r.l(attrGrantTypes),
		ResponseTypes:           r.l(attrResponseTypes),
		Scopes:                  r.words(attrScope),
		TokenEndpointAuthMethod: r.s(attrTokenEndpointAuthMethod),
		AccessTokenLifetime:     time.Duration(lifetime) * time.Second,
		JWKS:                    set,
		JWKSURI:                 r.s(attrJWKSURI),
		ClientURI:               r.s(attrClientURI),
		LogoURI:                 r.s(attrLogoURI),
		FirstParty:              r.b(attrFirstParty),
	}
	return c, r.err
}

// Users.

func userKey(username string) item { return item{attrUsername: str(username)} }

func userItem(u *oauth.User) item {
	it := item{attrUsername: str(u.Username)}
	putS(it, attrSubject, u.Subject)
	putS(it, attrPasswordHash, u.PasswordHash)
	putConsents(it, u.Consents)
	return it
}

func userFrom(it item) (*oauth.User, error) {
	r := reader{it: it}
	u := &oauth.User{
		Username:     r.s(attrUsername),
		Subject:      r.s(attrSubject),
		PasswordHash: r.s(attrPasswordHash),
		Consents:     r.consents(),
	}
	return u, r.err
}

// Authorization codes.

func codeKey(hash string) item { return item{attrCodeHash: str(hash)} }

func codeItem(c *oauth.AuthorizationCode) item {
	it := item{
		attrCodeHash:  str(c.Hash),
		attrExpiresAt: epoch(c.ExpiresAt),
		attrRedeemed:  boolean(c.Redeemed), // always present: RedeemCode's condition reads it
	}
	putS(it, attrGrantID, c.GrantID)
	putS(it, attrClientID, c.ClientID)
	putS(it, attrRedirectURI, c.RedirectURI)
	putWords(it, attrScope, c.Scopes)
	putS(it, attrSubject, c.Subject)
	putS(it, attrUsername, c.Username)
	putS(it, attrCodeChallenge, c.CodeChallenge)
	putS(it, attrCodeChallengeMethod, c.CodeChallengeMethod)
	putTime(it, attrAuthTime, c.AuthTime)
	return it
}

func codeFrom(it item) (*oauth.AuthorizationCode, error) {
	r := reader{it: it}
	c := &oauth.AuthorizationCode{
		Hash:                r.s(attrCodeHash),
		GrantID:             r.s(attrGrantID),
		ClientID:            r.s(attrClientID),
		RedirectURI:         r.s(attrRedirectURI),
		Scopes:              r.words(attrScope),
		Subject:             r.s(attrSubject),
		Username:            r.s(attrUsername),
		CodeChallenge:       r.s(attrCodeChallenge),
		CodeChallengeMethod: r.s(attrCodeChallengeMethod),
		AuthTime:            r.time(attrAuthTime),
		ExpiresAt:           r.time(attrExpiresAt),
		Redeemed:            r.b(attrRedeemed),
	}
	return c, r.err
}

// Refresh tokens and revocation markers (the tokens table).

func refreshTokenKey(hash string) item { return item{attrPK: str(prefixRefreshToken + hash)} }
func grantKey(grantID string) item     { return item{attrPK: str(prefixGrant + grantID)} }
func jtiKey(jti string) item           { return item{attrPK: str(prefixJTI + jti)} }

// assertionIDKey is the pk of client clientID's assertion id jti.
func assertionIDKey(clientID, jti string) string {
	sum := sha256.Sum256([]byte(clientID + "\x00" + jti))
	return prefixAssertionID + base64.RawURLEncoding.EncodeToString(sum[:])
}

// refreshTokenItem is the item of t. GrantRevoked is never stored: reads
// compute it from the grant's marker.
func refreshTokenItem(t *oauth.RefreshToken) item {
	it := item{
		attrPK:        str(prefixRefreshToken + t.Hash),
		attrExpiresAt: epoch(t.ExpiresAt),
		attrRotated:   boolean(t.Rotated), // always present: rotation's condition reads it
	}
	putS(it, attrGrantID, t.GrantID)
	putS(it, attrClientID, t.ClientID)
	putS(it, attrSubject, t.Subject)
	putS(it, attrUsername, t.Username)
	putWords(it, attrScope, t.Scopes)
	putTime(it, attrIssuedAt, t.IssuedAt)
	return it
}

func refreshTokenFrom(it item) (*oauth.RefreshToken, error) {
	r := reader{it: it}
	pk := r.s(attrPK)
	hash, ok := strings.CutPrefix(pk, prefixRefreshToken)
	if !ok && r.err == nil {
		r.err = fmt.Errorf("attribute %s has no %q prefix", attrPK, prefixRefreshToken)
	}
	t := &oauth.RefreshToken{
		Hash:      hash,
		GrantID:   r.s(attrGrantID),
		ClientID:  r.s(attrClientID),
		Subject:   r.s(attrSubject),
		Username:  r.s(attrUsername),
		Scopes:    r.words(attrScope),
		IssuedAt:  r.time(attrIssuedAt),
		ExpiresAt: r.time(attrExpiresAt),
		Rotated:   r.b(attrRotated),
	}
	return t, r.err
}

// Sessions.

func sessionKey(hash string) item { return item{attrSessionHash: str(hash)} }

// sessionItem stores the session's idle expiry, the earlier end, in
// expires_at (what reads check and TTL deletes by), and its absolute end
// in session_expires_at.
func sessionItem(s *oauth.Session) item {
	end := s.IdleExpiresAt
	if end.IsZero() || end.After(s.ExpiresAt) {
		end = s.ExpiresAt
	}
	it := item{
		attrSessionHash:      str(s.Hash),
		attrExpiresAt:        epoch(end),
		attrSessionExpiresAt: epoch(s.ExpiresAt),
	}
	putS(it, attrSubject, s.Subject)
	putS(it, attrUsername, s.Username)
	putTime(it, attrAuthTime, s.AuthTime)
	putConsents(it, s.Consents)
	return it
}

func sessionFrom(it item) (*oauth.Session, error) {
	r := reader{it: it}
	s := &oauth.Session{
		Hash:      r.s(attrSessionHash),
		Subject:   r.s(attrSubject),
		Username:  r.s(attrUsername),
		AuthTime:  r.time(attrAuthTime),
		ExpiresAt: r.time(attrExpiresAt),
		Consents:  r.consents(),
	}
	if abs := r.time(attrSessionExpiresAt); !abs.IsZero() {
		s.ExpiresAt, s.IdleExpiresAt = abs, r.time(attrExpiresAt)
	}
	return s, r.err
}

// Consents are stored as one string set per client, attribute
// "consent#<client id>", on users and sessions: ADD merges scopes into a
// set atomically. Each set also holds consentMarker, which no scope can be
// (RFC 6749 §3.3: scope tokens have no spaces), so that a consent to no
// scope is a set too (DynamoDB has no empty sets).
const (
	prefixConsent = "consent#"
	consentMarker = " "
)

// consentSet is the string set of a consent to scopes.
func consentSet(scopes []string) value {
	set := []string{consentMarker}
	for _, sc := range scopes {
		if !slices.Contains(set, sc) {
			set = append(set, sc)
		}
	}
	return value{typ: typeSS, ss: set}
}

func putConsents(it item, consents map[string][]string) {
	for client, scopes := range consents {
		it[prefixConsent+client] = consentSet(scopes)
	}
}

// consents reads the consent sets of the item, nil if there are none.
func (r *reader) consents() map[string][]string {
	var out map[string][]string
	for name, v := range r.it {
		client, ok := strings.CutPrefix(name, prefixConsent)
		if !ok {
			continue
		}
		if v.typ != typeSS {
			r.fail(name, typeSS, v)
			continue
		}
		scopes := make([]string, 0, len(v.ss))
		for _, sc := range v.ss {
			if sc != consentMarker {
				scopes = append(scopes, sc)
			}
		}
		slices.Sort(scopes)
		if out == nil {
			out = map[string][]string{}
		}
		out[client] = scopes
	}
	return out
}
