// Package resource protects the APIs of resource servers with Gatehouse
// access tokens: RFC 9068 JWTs presented as OAuth 2.0 bearer tokens
// (RFC 6750).
//
// A Middleware takes the token from the request (RFC 6750 §2), verifies it
// with oauth.TokenVerifier against the authorization server's JWK Set,
// which it fetches and caches, checks the scopes a route requires, and puts
// the token's claims in the request context:
//
//	mw, err := resource.New(resource.Config{
//		Issuer:   "https://auth.example.com",
//		Audience: []string{"https://api.example.com"},
//		// Optional: also ask the authorization server (RFC 7662), so a
//		// revoked token is refused within 5 s. The client is registered
//		// with introspection_allowed: true.
//		Introspection: &resource.Introspection{
//			ClientID:     "notes-api",
//			ClientSecret: os.Getenv("NOTES_API_CLIENT_SECRET"),
//		},
//	})
//	...
//	mux.Handle("GET /notes", mw.Require("notes:read")(listNotes))
//
//	func listNotes(w http.ResponseWriter, r *http.Request) {
//		claims, _ := resource.ClaimsFrom(r.Context())
//		...
//	}
//
// Failures are answered as RFC 6750 §3 describes: 401 with a Bearer
// challenge, 400 invalid_request, 401 invalid_token, or 403
// insufficient_scope. When the keys cannot be fetched, or in introspection
// mode the introspection endpoint cannot answer, the answer is 503
// temporarily_unavailable with Retry-After, not 401: the fault is not the
// client's, and the token is not accepted either.
//
// By default a token is judged by its signature and claims alone, so a
// revoked token is accepted until it expires (Gatehouse caps access-token
// lifetimes at GATEHOUSE_MAX_ACCESS_TOKEN_TTL, default 24 h). In
// introspection mode (Config.Introspection, introspect.go) the middleware
// also asks the authorization server (RFC 7662) and refuses a revoked token
// within a few seconds, for one introspection request per token per cache
// period.
package resource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/shared/jwks"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/golang-jwt/jwt/v5"
)

// maxFormBytes bounds a form-encoded body read for its access_token
// parameter (RFC 6750 §2.2); it matches net/http's ParseForm limit, so the
// middleware refuses no body a handler would have accepted.
const maxFormBytes = 10 << 20

// Error codes of RFC 6750 §3.1.
const (
	ErrorInvalidRequest    = "invalid_request"
	ErrorInvalidToken      = "invalid_token"
	ErrorInsufficientScope = "insufficient_scope"
)

// Middleware verifies bearer tokens for one authorization server. It is safe
// for concurrent use; create one and share it between routes, so they share
// the key cache.
type Middleware struct {
	cfg      Config
	keys     *jwks.Cache[[]oauth.PublicKey]
	verifier *oauth.TokenVerifier
	// introspector is nil unless Config.Introspection is set.
	introspector *introspector
	now          func() time.Time // the clock; tests replace it
}

// New checks cfg, fills in its defaults and returns a Middleware. It does
// not contact the authorization server; the JWKS is fetched on first use.
func New(cfg Config) (*Middleware, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Middleware{cfg: cfg, now: time.Now}
	clock := func() time.Time { return m.now() }
	m.keys = jwks.New(jwks.Options{
		HTTPClient:         cfg.HTTPClient,
		TTL:                cfg.CacheTTL,
		MinRefetchInterval: cfg.MinRefetchInterval,
		Logger:             cfg.Logger,
		Now:                clock,
	}, accessTokenKeys)
	m.verifier = &oauth.TokenVerifier{
		Issuer:   cfg.Issuer,
		Audience: cfg.Audience,
		Keys:     m.verificationKeys,
		Leeway:   cfg.Leeway,
		Now:      clock,
	}
	if cfg.Introspection != nil {
		m.introspector = newIntrospector(*cfg.Introspection, cfg.HTTPClient, cfg.Logger.Warn, clock)
	}
	return m, nil
}

// verificationKeys returns the keys to check a token naming kid against,
// refetching the JWKS if they lack kid: the signature of
// oauth.TokenVerifier.Keys. An error means the keys could not be obtained
// (the JWKS is unreachable), not that the token is bad.
func (m *Middleware) verificationKeys(ctx context.Context, kid string) ([]oauth.PublicKey, error) {
	return m.keys.Get(ctx, m.cfg.JWKSURL, func(keys []oauth.PublicKey) bool { return hasKid(keys, kid) })
}

// Config returns the effective configuration, defaults filled in.
func (m *Middleware) Config() Config {
	c := m.cfg
	c.Audience = slices.Clone(c.Audience)
	if c.Introspection != nil {
		in := *c.Introspection
		c.Introspection = &in
	}
	return c
}

// Require returns middleware that lets a request through only with a valid
// access token granting every one of scopes (RFC 6750 §3.1
// insufficient_scope otherwise). With no scopes, any valid token will do.
// It panics if a scope is not a valid scope-token (RFC 6749 §3.3).
func (m *Middleware) Require(scopes ...string) func(http.Handler) http.Handler {
	var required []string
	for _, s := range scopes {
		if !validScopeToken(s) {
			panic(fmt.Sprintf("resource: invalid scope %q", s))
		}
		if !contains(required, s) {
			required = append(required, s)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cred, aerr := m.credential(r)
			if aerr != nil {
				m.fail(w, aerr)
				return
			}
			claims, err := m.verifier.Verify(r.Context(), cred.token)
			if err != nil {
				m.fail(w, verifyError(err))
				return
			}
			if aerr := m.introspect(r.Context(), cred.token, claims); aerr != nil {
				m.fail(w, aerr)
				return
			}
			if !HasScope(claims, required...) {
				m.fail(w, &authError{
					status:      http.StatusForbidden,
					code:        ErrorInsufficientScope,
					description: "The access token does not grant the scope this request requires.",
					scope:       strings.Join(required, " "),
				})
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims))
			if cred.body != nil {
				r.Body = io.NopCloser(bytes.NewReader(cred.body))
			}
			if cred.fromQuery {
				// RFC 6750 §2.3: success responses to URI-query requests
				// SHOULD be marked private.
				w.Header().Set("Cache-Control", "private")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// introspect, in introspection mode, asks whether the verified token is
// still active (introspect.go): an inactive one is invalid_token (RFC 6750
// §3.1), and no answer is 503. Without introspection it accepts.
func (m *Middleware) introspect(ctx context.Context, token string, claims *oauth.AccessTokenClaims) *authError {
	if m.introspector == nil {
		return nil
	}
	active, err := m.introspector.active(ctx, token, claims.ExpiresAt.Time)
	switch {
	case err != nil:
		return &authError{
			status:      http.StatusServiceUnavailable,
			code:        "temporarily_unavailable",
			description: "The access token cannot be checked with the authorization server at the moment.",
			retryAfter:  m.cfg.Introspection.CacheTTL,
		}
	case !active:
		return &authError{status: http.StatusUnauthorized, code: ErrorInvalidToken, description: "The access token is not active (it may have been revoked)."}
	}
	return nil
}

// credential is a bearer token found in a request.
type credential struct {
	token     string
	fromQuery bool
	body      []byte // the request body, if it was read
}

// credential finds the access token by the methods of RFC 6750 §2: the
// Authorization header (§2.1), a form-encoded body parameter (§2.2) and,
// if allowed, a URI query parameter (§2.3). Clients "MUST NOT use more than
// one method to transmit the token in each request" (§2). An error with an
// empty code means no token at all (§3.1).
func (m *Middleware) credential(r *http.Request) (credential, *authError) {
	var cred credential
	var found []string

	// §2.1: credentials = "Bearer" 1*SP b64token; the scheme is
	// case-insensitive (RFC 9110 §11.1). Other schemes are not bearer
	// tokens and are ignored.
	switch auth := r.Header.Values("Authorization"); len(auth) {
	case 0:
	case 1:
		scheme, rest, _ := strings.Cut(auth[0], " ")
		if strings.EqualFold(scheme, "Bearer") {
			tok := strings.TrimLeft(rest, " ")
			if !isB64Token(tok) {
				return cred, badRequest("The Authorization header does not hold a bearer token.")
			}
			cred.token = tok
			found = append(found, tok)
		}
	default:
		return cred, badRequest("The request has more than one Authorization header.")
	}

	// §2.2: form-encoded body, single-part, with a method whose body has
	// defined semantics ("GET" MUST NOT be used).
	if hasFormBody(r) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
		if err != nil {
			return cred, badRequest("The request body could not be read.")
		}
		if len(body) > maxFormBytes {
			return cred, badRequest("The request body is too large.")
		}
		cred.body = body
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return cred, badRequest("The form-encoded body is malformed.")
		}
		if tok, aerr := single(form, "body"); aerr != nil {
			return cred, aerr
		} else if tok != nil {
			cred.token = *tok
			found = append(found, *tok)
		}
	}

	// §2.3: URI query parameter, only if enabled.
	query, _ := url.ParseQuery(r.URL.RawQuery)
	if tok, aerr := single(query, "URI query"); aerr != nil {
		return cred, aerr
	} else if tok != nil {
		if !m.cfg.AllowQueryToken {
			return cred, badRequest("An access token in the URI query is not accepted; use the Authorization header.")
		}
		cred.token = *tok
		cred.fromQuery = true
		found = append(found, *tok)
	}

	switch len(found) {
	case 0:
		return cred, &authError{status: http.StatusUnauthorized}
	case 1:
		return cred, nil
	default:
		return cred, badRequest("The request uses more than one method to transmit the access token.")
	}
}

// single returns the one access_token parameter in vals, nil if there is
// none, or an invalid_request error if it is repeated or malformed.
func single(vals url.Values, where string) (*string, *authError) {
	v, ok := vals["access_token"]
	switch {
	case !ok:
		return nil, nil
	case len(v) > 1:
		return nil, badRequest("The " + where + " repeats the access_token parameter.")
	case !isB64Token(v[0]):
		return nil, badRequest("The access_token parameter in the " + where + " is malformed.")
	}
	return &v[0], nil
}

// hasFormBody reports whether RFC 6750 §2.2 applies to r: a single-part
// application/x-www-form-urlencoded body on a method that defines one.
func hasFormBody(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return false
	}
	if r.Body == nil || r.Body == http.NoBody {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// isB64Token matches b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
// / "+" / "/" ) *"=" (RFC 6750 §2.1).
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && isB64Char(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

func isB64Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}

// validScopeToken matches scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
// (RFC 6749 §3.3), so a scope needs no escaping in a challenge.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// authError is a failed authorization, answered per RFC 6750 §3.
type authError struct {
	status      int
	code        string // RFC 6750 §3.1 error code; empty if no token was sent
	description string // human-readable; fixed text, never token data
	scope       string // for insufficient_scope
	// retryAfter is the Retry-After of a 503; zero means
	// MinRefetchInterval (the keys may be fetched again by then).
	retryAfter time.Duration
}

func badRequest(description string) *authError {
	return &authError{status: http.StatusBadRequest, code: ErrorInvalidRequest, description: description}
}

// verifyError maps a verification failure to its answer. The verifier's
// messages quote token headers, so they are not passed on.
func verifyError(err error) *authError {
	if errors.Is(err, oauth.ErrKeyUnavailable) {
		return &authError{
			status:      http.StatusServiceUnavailable,
			code:        "temporarily_unavailable",
			description: "The access token cannot be verified at the moment: the authorization server's keys are unavailable.",
		}
	}
	desc := "The access token is invalid."
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		desc = "The access token expired."
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		desc = "The access token is not meant for this resource server."
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		desc = "The access token is not valid yet."
	}
	return &authError{status: http.StatusUnauthorized, code: ErrorInvalidToken, description: desc}
}

// fail writes the error response: a Bearer challenge in WWW-Authenticate
// (RFC 6750 §3) and, when there is an error code, a JSON body in the shape
// of RFC 6749 §5.2. A 503 also carries the challenge (§3: "MAY include it
// in response to other conditions as well"), with the error
// temporarily_unavailable, which no client mistakes for a bad token, and
// Retry-After (RFC 9110 §10.2.3).
func (m *Middleware) fail(w http.ResponseWriter, e *authError) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("WWW-Authenticate", m.challenge(e))
	if e.status == http.StatusServiceUnavailable {
		wait := e.retryAfter
		if wait <= 0 {
			wait = m.cfg.MinRefetchInterval
		}
		h.Set("Retry-After", strconv.Itoa(max(int((wait+time.Second-1)/time.Second), 1)))
	}
	if e.code == "" {
		// §3.1: no error information when no authentication was attempted.
		w.WriteHeader(e.status)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
		Scope       string `json:"scope,omitempty"`
	}{e.code, e.description, e.scope})
}

// challenge formats the Bearer challenge of RFC 6750 §3:
// Bearer realm="...", error="...", error_description="...", scope="...".
func (m *Middleware) challenge(e *authError) string {
	var params []string
	add := func(name, value string) {
		if value != "" {
			params = append(params, name+"="+quote(value))
		}
	}
	add("realm", m.cfg.Realm)
	add("error", e.code)
	add("error_description", e.description)
	add("scope", e.scope)
	if len(params) == 0 {
		return "Bearer"
	}
	return "Bearer " + strings.Join(params, ", ")
}

// quote makes a quoted-string (RFC 9110 §5.6.4), escaping '"' and '\'.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
