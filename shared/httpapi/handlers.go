// Package httpapi serves Gatehouse's OAuth endpoints over net/http: it
// parses requests strictly, authenticates clients from the request, writes
// JSON, redirects and the HTML pages, and maps every OAuth error to its HTTP
// status in one table (status.go). The logic lives in shared/oauth.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Options tune the HTTP layer. The zero value serves every endpoint but
// the authorization endpoint, which needs Pages.
type Options struct {
	// Logger receives one line per request; never secrets. Defaults to
	// slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies (default 64 KiB).
	MaxBodyBytes int64
	// ScopeDescriptions explain scopes on the consent page, by scope name,
	// in words a user understands. They add to (and may replace)
	// DefaultScopeDescriptions.
	ScopeDescriptions map[string]string
	// Observe, if not nil, is called once at the end of every request an
	// endpoint handled, after its log line, with the request's context and
	// what it did (metrics: the Lambda functions write CloudWatch Embedded
	// Metric Format lines from it). It runs on the request's goroutine and
	// must be safe for concurrent use.
	Observe func(ctx context.Context, e Event)
	// Pages renders the login, consent, error and sign-out pages (package
	// shared/httpapi/pages: pages.New()). The authorization endpoint
	// (Authorize) needs it: without it, /authorize and /logout answer
	// every request with a server_error. The other endpoints never use
	// it, so their functions need not link it.
	Pages Pages
}

// Handlers are the endpoint handlers of one oauth.Server.
type Handlers struct {
	srv  *oauth.Server
	disc *oauth.Discovery
	opts Options
	log  *slog.Logger
}

// New returns the handlers for srv. Authorize serves its pages only if
// opts.Pages is set (pages.New()); the token, introspection, revocation
// and metadata endpoints do without.
func New(srv *oauth.Server, opts Options) *Handlers {
	h := newHandlers(opts)
	h.srv, h.disc = srv, srv.Discovery()
	return h
}

// NewMetadata returns the handler of Metadata for a program that serves
// nothing else (the metadata function): it needs no oauth.Server, and so
// no store.
func NewMetadata(d *oauth.Discovery, opts Options) http.Handler {
	h := newHandlers(opts)
	h.disc = d
	return h.Metadata()
}

// newHandlers fills in opts' defaults.
func newHandlers(opts Options) *Handlers {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	descriptions := make(map[string]string, len(DefaultScopeDescriptions)+len(opts.ScopeDescriptions))
	for _, m := range []map[string]string{DefaultScopeDescriptions, opts.ScopeDescriptions} {
		for k, v := range m {
			descriptions[k] = v
		}
	}
	opts.ScopeDescriptions = descriptions
	return &Handlers{opts: opts, log: opts.Logger}
}

// DefaultScopeDescriptions explain the scopes whose meaning is standard,
// naming in words the claims each releases (OpenID Connect Core §5.4:
// profile is name, family_name, given_name, middle_name, nickname,
// preferred_username, profile, picture, website, gender, birthdate,
// zoneinfo, locale and updated_at; email is email and email_verified;
// address is address; phone is phone_number and phone_number_verified),
// and what offline_access allows (§11: refresh tokens, so access goes on
// while the user is away).
var DefaultScopeDescriptions = map[string]string{
	"openid":         "Confirm who you are",
	"profile":        "See your name, username, picture and profile: website, gender, birthday, time zone and language",
	"email":          "See your email address and whether it is verified",
	"address":        "See your postal address",
	"phone":          "See your phone number and whether it is verified",
	"offline_access": "Keep access to your account when you are not using it",
}

// Authorize serves the authorization endpoint (GET and POST /authorize:
// the login and consent pages) and POST /logout.
func (h *Handlers) Authorize() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(oauth.PathAuthorize, h.authorize)
	mux.HandleFunc(oauth.PathLogout, h.logout)
	return mux
}

// Token serves POST /token.
func (h *Handlers) Token() http.Handler { return h.clientEndpoint(EndpointToken, h.token) }

// Introspect serves POST /introspect.
func (h *Handlers) Introspect() http.Handler {
	return h.clientEndpoint(EndpointIntrospect, h.introspect)
}

// Revoke serves POST /revoke.
func (h *Handlers) Revoke() http.Handler { return h.clientEndpoint(EndpointRevoke, h.revoke) }

// Metadata serves the RFC 8414 metadata, the same document at
// /.well-known/openid-configuration, and the JWKS.
func (h *Handlers) Metadata() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(oauth.PathMetadata, h.metadata)
	mux.HandleFunc(oauth.PathOpenIDMetadata, h.metadata)
	mux.HandleFunc(oauth.PathJWKS, h.jwks)
	return mux
}

// All serves every endpoint on one mux, as `gatehouse serve` does.
func (h *Handlers) All() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(oauth.PathAuthorize, h.Authorize())
	mux.Handle(oauth.PathLogout, h.Authorize())
	mux.Handle(oauth.PathToken, h.Token())
	mux.Handle(oauth.PathIntrospect, h.Introspect())
	mux.Handle(oauth.PathRevoke, h.Revoke())
	mux.Handle(oauth.PathUserInfo, h.UserInfo())
	mux.Handle("/.well-known/", h.Metadata())
	return mux
}
