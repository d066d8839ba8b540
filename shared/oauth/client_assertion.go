package oauth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// private_key_jwt client authentication: the client signs a short-lived JWT
// about itself with its private key and sends it as client_assertion (RFC
// 7523 §2.2, §3; RFC 7521 §4.2; OpenID Connect Core §9). The server checks
// it against the public keys the client registered, inline (jwks) or at a
// URL (jwks_uri, fetched through a JWKSFetcher), and remembers its jti
// until it expires so it is accepted once.

// ClientAssertionTypeJWT is the client_assertion_type of a JWT client
// assertion (RFC 7523 §2.2).
const ClientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// DefaultMaxClientAssertionLifetime is the default of
// Config.MaxClientAssertionLifetime.
const DefaultMaxClientAssertionLifetime = 5 * time.Minute

const (
	// maxAssertionLength bounds client_assertion: an RS256 assertion with a
	// 4096-bit key is under 1 KiB.
	maxAssertionLength = 8 << 10
	// maxAssertionIDLength bounds the jti the store keeps.
	maxAssertionIDLength = 256
	// jwksRetryAfter is the Retry-After of a jwks_uri that could not be
	// fetched: about the least time between two fetches of one URI, so a
	// retry sooner would be answered from the same failure.
	jwksRetryAfter = 10 * time.Second
)

// clientAssertionAlgs are the JWS algorithms a client assertion may use:
// asymmetric only (never "none", never HMAC: RFC 8725 §3.1, §3.2), the ones
// the keys ClientKey accepts can verify.
var clientAssertionAlgs = []string{"RS256", "PS256", "ES256"}

// ClientAssertionAlgs returns the JWS algorithms accepted for client
// assertions, as the metadata's *_auth_signing_alg_values_supported
// publish them (RFC 8414 §2).
func ClientAssertionAlgs() []string { return slices.Clone(clientAssertionAlgs) }

// JWKSFetcher fetches the JWK Set of a private_key_jwt client registered
// with a jwks_uri (RFC 7591 §2). The grant library does no HTTP itself: the
// wiring supplies an implementation (shared/jwks), which caches.
type JWKSFetcher interface {
	// FetchJWKS returns the JWK Set at uri, from its cache while that is
	// fresh. With refresh, the caller did not find the key it needs in the
	// set it was given (the client may have rotated its keys), and the
	// fetcher fetches again unless it did so very recently, in which case
	// it answers from what it has. The set returned is shared: callers must
	// not modify it.
	//
	// An error wrapping ErrUnavailable means the set could not be fetched
	// (network failure, timeout, HTTP error status): the request is
	// answered temporarily_unavailable, since the client's keys are
	// unknown, not wrong. Any other error means the document at uri is not
	// a usable JWK Set: the client cannot authenticate (invalid_client).
	FetchJWKS(ctx context.Context, uri string, refresh bool) (*JWKS, error)
}

// authenticateAssertion authenticates a private_key_jwt client (RFC 7523
// §3; OpenID Connect Core §9). Every failure is invalid_client (RFC 7521
// §4.2.1, RFC 7523 §3.2), with a description that names the failed check
// but never repeats the request's data; a jwks_uri that cannot be fetched
// is temporarily_unavailable.
//
// The cheap checks come first, so a stale or misaddressed assertion costs
// no key fetch and no write: the client_assertion_type, the claims, the
// header; then the signature; then the single-use record of the jti, last,
// so that only a genuine assertion can use up its jti.
func (s *Server) authenticateAssertion(ctx context.Context, cred ClientCredentials) (*Client, error) {
	if cred.AssertionType != ClientAssertionTypeJWT {
		// RFC 7521 §4.2.1: an assertion the server cannot use is
		// invalid_client, as is an unsupported authentication method
		// (RFC 6749 §5.2).
		return nil, ErrInvalidClient("client_assertion_type must be %s", ClientAssertionTypeJWT)
	}
	if len(cred.Assertion) > maxAssertionLength {
		return nil, ErrInvalidClient("the client assertion is longer than %d bytes", maxAssertionLength)
	}
	var claims jwt.RegisteredClaims
	token, _, err := jwt.NewParser().ParseUnverified(cred.Assertion, &claims)
	switch {
	case errors.Is(err, jwt.ErrTokenUnverifiable): // an unknown alg
		return nil, errAssertionAlg()
	case err != nil:
		return nil, ErrInvalidClient("the client assertion is not a well-formed JWT")
	}

	// The client: client_id if the request sent one, else the subject
	// (RFC 7521 §4.2: client_id is optional with an assertion).
	id := cred.ClientID
	if id == "" {
		id = claims.Subject
	}
	if id == "" {
		return nil, ErrInvalidClient("the client assertion has no sub claim")
	}
	client, err := s.registeredClient(ctx, id, AuthMethodPrivateKeyJWT)
	if err != nil {
		return nil, err
	}
	if oe := s.checkAssertionClaims(&claims, client.ID); oe != nil {
		return nil, oe
	}
	if oe := checkAssertionHeader(token); oe != nil {
		return nil, oe
	}
	if err := s.verifyAssertionSignature(ctx, client, cred.Assertion); err != nil {
		return nil, err
	}

	// RFC 7523 §3 item 7: the jti is remembered until the assertion
	// expires (plus the leeway exp is checked with), and used once.
	err = s.store.UseAssertionID(ctx, client.ID, claims.ID, claims.ExpiresAt.Add(s.cfg.Leeway))
	if errors.Is(err, ErrConflict) {
		return nil, ErrInvalidClient("the client assertion was already used: each jti is accepted once")
	}
	if err != nil {
		return nil, ErrServer(err)
	}
	return client, nil
}

// checkAssertionClaims applies RFC 7523 §3 and OpenID Connect Core §9 to
// the claims of a client assertion for clientID: iss and sub are the
// client_id (items 1, 2); aud names this server, by its token endpoint URL
// or its issuer, at every endpoint that authenticates clients (item 3); exp
// is present, not past, and at most MaxClientAssertionLifetime ahead (item
// 4); nbf and iat, if present, are not in the future (items 5, 6); jti is
// present (item 7). Times allow the server's leeway.
func (s *Server) checkAssertionClaims(c *jwt.RegisteredClaims, clientID string) *Error {
	now, leeway := s.now(), s.cfg.Leeway
	switch {
	case c.Issuer != clientID:
		return ErrInvalidClient("the client assertion's iss must be the client_id")
	case c.Subject != clientID:
		return ErrInvalidClient("the client assertion's sub must be the client_id")
	case !slices.Contains(c.Audience, s.URL(PathToken)) && !slices.Contains(c.Audience, s.cfg.Issuer):
		return ErrInvalidClient("the client assertion's aud must contain the token endpoint URL %s or the issuer %s",
			s.URL(PathToken), s.cfg.Issuer)
	case c.ExpiresAt == nil:
		return ErrInvalidClient("the client assertion has no exp claim")
	case !now.Before(c.ExpiresAt.Add(leeway)):
		return ErrInvalidClient("the client assertion has expired")
	case c.ExpiresAt.After(now.Add(s.cfg.MaxClientAssertionLifetime + leeway)):
		return ErrInvalidClient("the client assertion expires too late: its exp may be at most %s ahead",
			s.cfg.MaxClientAssertionLifetime)
	case c.NotBefore != nil && now.Before(c.NotBefore.Add(-leeway)):
		return ErrInvalidClient("the client assertion is not valid yet (nbf)")
	case c.IssuedAt != nil && now.Before(c.IssuedAt.Add(-leeway)):
		return ErrInvalidClient("the client assertion was issued in the future (iat)")
	case c.ID == "":
		return ErrInvalidClient("the client assertion has no jti claim")
	case len(c.ID) > maxAssertionIDLength:
		return ErrInvalidClient("the client assertion's jti is longer than %d characters", maxAssertionIDLength)
	}
	return nil
}

// checkAssertionHeader accepts only the asymmetric algorithms of
// clientAssertionAlgs, a string kid if any, and no critical extension
// (RFC 7515 §4.1.11: none is understood here).
func checkAssertionHeader(t *jwt.Token) *Error {
	if !slices.Contains(clientAssertionAlgs, t.Method.Alg()) {
		return errAssertionAlg()
	}
	if _, ok := t.Header["crit"]; ok {
		return ErrInvalidClient("the client assertion has a crit header, which is not supported")
	}
	if kid, ok := t.Header["kid"]; ok {
		if _, isString := kid.(string); !isString {
			return ErrInvalidClient("the client assertion's kid header is not a string")
		}
	}
	return nil
}

func errAssertionAlg() *Error {
	return ErrInvalidClient("the client assertion must be signed with RS256, PS256 or ES256")
}

// verifyAssertionSignature checks the assertion's signature with the
// client's key it names (RFC 7515 §4.1.4 kid; with no kid, the client's
// only key). A key not found in a jwks_uri set fetched earlier makes the
// set be fetched again, once: the client may have rotated its keys.
func (s *Server) verifyAssertionSignature(ctx context.Context, client *Client, assertion string) error {
	var keyErr error
	keyfunc := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		alg := t.Method.Alg()
		set, err := s.clientKeys(ctx, client, false)
		if err != nil {
			keyErr = err
			return nil, err
		}
		if key := assertionKey(set, kid, alg); key != nil {
			return key, nil
		}
		if client.JWKS == nil {
			if set, err = s.clientKeys(ctx, client, true); err != nil {
				keyErr = err
				return nil, err
			}
			if key := assertionKey(set, kid, alg); key != nil {
				return key, nil
			}
		}
		keyErr = ErrInvalidClient("no key of this client matches the client assertion's kid and alg")
		return nil, keyErr
	}
	_, err := jwt.NewParser(jwt.WithValidMethods(clientAssertionAlgs), jwt.WithoutClaimsValidation()).
		Parse(assertion, keyfunc)
	if keyErr != nil {
		return keyErr
	}
	if err != nil {
		return ErrInvalidClient("the client assertion's signature does not verify with the client's keys")
	}
	return nil
}

// clientKeys returns the client's JWK Set: the registered one (jwks), or
// the one at its jwks_uri through the JWKSFetcher (refresh: the set given
// before lacked the key needed).
func (s *Server) clientKeys(ctx context.Context, client *Client, refresh bool) (*JWKS, error) {
	switch {
	case client.JWKS != nil:
		return client.JWKS, nil
	case client.JWKSURI == "":
		return nil, ErrServer(fmt.Errorf("oauth: private_key_jwt client %q has neither jwks nor jwks_uri", client.ID))
	case s.cfg.JWKSFetcher == nil:
		return nil, ErrServer(errors.New("oauth: no Config.JWKSFetcher: private_key_jwt clients with a jwks_uri cannot authenticate"))
	}
	set, err := s.cfg.JWKSFetcher.FetchJWKS(ctx, client.JWKSURI, refresh)
	switch {
	case errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// The client's keys are unknown, not wrong: the failure is a
		// dependency's, and a retry may succeed.
		return nil, &Error{Code: CodeTemporarilyUnavailable,
			Description: "the client's jwks_uri could not be fetched; retry shortly",
			RetryAfter:  jwksRetryAfter, cause: err}
	case err != nil || set == nil:
		return nil, ErrInvalidClient("the document at the client's jwks_uri is not a usable JWK Set")
	}
	return set, nil
}

// assertionKey returns the key of set that verifies an assertion signed
// with alg and naming kid: a usable key (JWK.ClientKey) with that kid whose
// alg, if it has one, is alg; with no kid, the set's only usable key, if it
// has exactly one. nil if there is none.
func assertionKey(set *JWKS, kid, alg string) crypto.PublicKey {
	if set == nil {
		return nil
	}
	var only crypto.PublicKey
	usable := 0
	for _, j := range set.Keys {
		pub, err := j.ClientKey()
		if err != nil {
			continue
		}
		fits := (j.Alg == "" || j.Alg == alg) && algFits(pub, alg)
		if kid != "" {
			if j.Kid == kid && fits {
				return pub
			}
			continue
		}
		usable++
		if fits {
			only = pub
		} else {
			only = nil
		}
	}
	if kid == "" && usable == 1 {
		return only
	}
	return nil
}
