// Package app wires Gatehouse together: from a config.Config and the Parts
// a program links, it creates the signer, the store (through
// Parts.Stores) behind the client cache, the oauth.Server and the HTTP
// handlers. With the functions/* mains and cmd/gatehouse it is the only
// code that sees every implementation; shared/oauth and shared/httpapi
// import nothing of it.
//
// The package itself links no store, no password hashing and no pages:
// each Lambda function passes only the Parts its endpoint uses, so that
// the metadata function links no DynamoDB client, argon2 or templates
// (functions/deps_test.go checks each function's dependencies).
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner"
	"github.com/gatehouse/gatehouse/shared/store/clientcache"
)

// App is a wired Gatehouse program.
type App struct {
	Config config.Config
	// Server is the OAuth logic and Handlers its endpoints; both are nil
	// in a program without Parts.Stores, which serves only Metadata.
	Server   *oauth.Server
	Handlers *httpapi.Handlers
	// Discovery publishes the metadata and the JWK Set.
	Discovery *oauth.Discovery
	// Store is what the server reads and writes: the backing store behind
	// the client cache (unless GATEHOUSE_CLIENT_CACHE_TTL is 0). Nil
	// without Parts.Stores.
	Store oauth.Store
	// Admin is the backing store's administrative side, without the cache:
	// what the seed loader and the admin commands write through.
	Admin Admin
	// Backing is the store Parts.Stores opened: a *memstore.Store or a
	// *dynamostore.Store.
	Backing Storage
	// Signer signs the access tokens.
	Signer oauth.Signer
	// Seed is what was loaded from GATEHOUSE_SEED_FILE, with its plaintext
	// secrets and passwords; nil without a seed file.
	Seed   *Seed
	Logger *slog.Logger

	parts       Parts
	httpOptions httpapi.Options
}

// Admin is the administrative side of a store, which oauth.Store leaves
// out: every store (memstore and dynamostore) has these methods. Missing
// records are oauth.ErrNotFound.
type Admin interface {
	GetClient(ctx context.Context, id string) (*oauth.Client, error)
	// PutClient creates the client or replaces the one with the same ID.
	PutClient(ctx context.Context, c *oauth.Client) error
	DeleteClient(ctx context.Context, id string) error
	ListClients(ctx context.Context) ([]*oauth.Client, error)
	GetUser(ctx context.Context, username string) (*oauth.User, error)
	// PutUser creates the user or replaces the one with the same username.
	PutUser(ctx context.Context, u *oauth.User) error
	DeleteUser(ctx context.Context, username string) error
}

// Storage is a backing store: the oauth.Store with its administrative
// side (memstore.Store, dynamostore.Store).
type Storage interface {
	oauth.Store
	Admin
}

// StoreOpener opens the store cfg.Store names (GATEHOUSE_STORE); loadAWS
// returns the AWS configuration (loaded once, on first use) for a store
// that needs it. shared/app/stores.Open is Gatehouse's.
type StoreOpener func(ctx context.Context, cfg config.Config, loadAWS AWSConfigLoader) (Storage, error)

// Passwords checks users' passwords and hashes new ones (the seed's
// users): passwords.DefaultScheme().
type Passwords interface {
	oauth.PasswordChecker
	Hash(password string) (string, error)
}

// Parts are what a program links beyond the core (configuration, signer,
// handlers). Each Lambda function passes only what its endpoint uses:
//
//	function    Stores  Passwords  Pages
//	authorize   yes     yes        yes
//	token       yes     yes
//	introspect  yes
//	revoke      yes
//	metadata
//
// and `gatehouse serve` passes all three.
type Parts struct {
	// Stores opens GATEHOUSE_STORE. Without it the program has no Server
	// and serves only the metadata and JWK Set.
	Stores StoreOpener
	// Passwords checks the passwords of the password grant and the
	// sign-in page, and hashes the seed's users. Without it both answer
	// server_error, and a seed's users are not loaded.
	Passwords Passwords
	// Pages renders the sign-in pages (shared/httpapi/pages); the
	// authorize endpoint needs it.
	Pages httpapi.Pages
}

// Option changes how Build wires the app.
type Option func(*options)

type options struct {
	kms       kmssigner.API
	observe   func(context.Context, httpapi.Event)
	awsConfig AWSConfigLoader

	loaded    bool // awsConfig was called
	awsCfg    aws.Config
	awsCfgErr error
}

// aws returns the AWS configuration, loading it on first use.
func (o *options) aws(ctx context.Context) (aws.Config, error) {
	if !o.loaded {
		load := o.awsConfig
		if load == nil {
			load = EnvAWSConfig
		}
		o.awsCfg, o.awsCfgErr = load(ctx)
		if o.awsCfgErr == nil && o.awsCfg.Region == "" {
			o.awsCfgErr = errNoRegion
		}
		o.loaded = true
	}
	return o.awsCfg, o.awsCfgErr
}

// errNoRegion fails a program at start-up rather than at its first AWS
// request: the SDK's clients need a region to find their endpoint and to
// sign, even for DynamoDB Local.
var errNoRegion = errors.New("AWS configuration: no region (set AWS_REGION; Lambda sets it)")

// WithObserver makes the handlers report every request to observe
// (httpapi.Options.Observe): the Lambda functions pass an EMF writer's
// Observe, so each request also writes its metrics.
func WithObserver(observe func(context.Context, httpapi.Event)) Option {
	return func(o *options) { o.observe = observe }
}

// Build creates every component from cfg and parts. Errors name the
// variable at fault where there is one. A nil logger means slog.Default().
//
// Build makes no network call, so a Lambda function's initialization stays
// fast: the AWS clients resolve their credentials on their first request.
// They are made from EnvAWSConfig's configuration (the Lambda
// environment), or WithAWSConfig's.
func Build(ctx context.Context, cfg config.Config, logger *slog.Logger, parts Parts, opts ...Option) (*App, error) {
	if logger == nil {
		logger = slog.Default()
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	a := &App{Config: cfg, Logger: logger, parts: parts}

	if cfg.SeedFile != "" && cfg.Store == config.StoreDynamoDB {
		return nil, fmt.Errorf("%s: a seed file is only for the memory store; with %s=%s create clients and users with the gatehouse command",
			config.EnvSeedFile, config.EnvStore, config.StoreDynamoDB)
	}
	if cfg.SeedFile != "" {
		seed, err := LoadSeed(cfg.SeedFile)
		if err == nil {
			err = seed.checkLifetimes(cfg.MaxAccessTokenTTL)
		}
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", config.EnvSeedFile, cfg.SeedFile, err)
		}
		a.Seed = seed
	}
	if cfg.ClientCacheTTL < 0 {
		return nil, fmt.Errorf("%s: %s must not be negative", config.EnvClientCacheTTL, cfg.ClientCacheTTL)
	}

	if parts.Stores != nil {
		backing, err := parts.Stores(ctx, cfg, o.aws)
		if err != nil {
			return nil, err
		}
		a.Backing, a.Admin = backing, backing
		a.Store = clientcache.New(backing, cfg.ClientCacheTTL, nil)
		if a.Seed != nil {
			if err := a.Seed.Apply(ctx, a.Admin, parts.Passwords); err != nil {
				return nil, err
			}
		}
	}

	signer, err := newSigner(ctx, cfg, &o, logger)
	if err != nil {
		return nil, err
	}
	a.Signer = signer

	scopes := cfg.Scopes
	if len(scopes) == 0 && a.Seed != nil {
		scopes = a.Seed.Scopes()
	}
	oauthCfg := oauth.Config{
		Issuer:                 cfg.Issuer,
		Audience:               cfg.Audience,
		ScopesSupported:        scopes,
		AccessTokenLifetime:    cfg.AccessTokenTTL,
		MaxAccessTokenLifetime: cfg.MaxAccessTokenTTL,
		DisableImplicitGrant:   !cfg.ImplicitGrant,
		RefreshTokenLifetime:   cfg.RefreshTokenTTL,
		CodeLifetime:           cfg.CodeTTL,
		SessionLifetime:        cfg.SessionTTL,
		SessionIdleTimeout:     cfg.SessionIdleTTL,
		LoginMaxFailures:       cfg.LoginMaxFailures,
		LoginMaxFailuresPerIP:  cfg.LoginMaxFailuresPerIP,
		LoginFailureWindow:     cfg.LoginFailureWindow,
		Leeway:                 cfg.Leeway,
		JWKSFetcher:            NewJWKSFetcher(logger),
	}
	a.httpOptions = httpapi.Options{Logger: logger, Observe: o.observe, ScopeDescriptions: cfg.ScopeDescriptions, Pages: parts.Pages}
	if a.Discovery, err = oauth.NewDiscovery(oauthCfg, signer); err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvIssuer, err)
	}
	if a.Store == nil {
		return a, nil
	}
	var checker oauth.PasswordChecker
	if parts.Passwords != nil {
		checker = parts.Passwords
	}
	if a.Server, err = oauth.NewServer(oauthCfg, a.Store, signer, checker); err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvIssuer, err)
	}
	a.Handlers = httpapi.New(a.Server, a.httpOptions)
	return a, nil
}

// checkLifetimes refuses the seed's clients whose access_token_lifetime
// exceeds the deployment's maximum (GATEHOUSE_MAX_ACCESS_TOKEN_TTL; zero
// means its default), as `gatehouse clients create` does: the seed is a
// registration path too. LoadSeed checks only the ceiling, as it does not
// know the maximum.
func (s *Seed) checkLifetimes(limit time.Duration) error {
	if limit <= 0 {
		limit = config.DefaultMaxAccessTokenTTL
	}
	v := &validator{}
	for i := range s.Clients {
		c := &s.Clients[i]
		if msg := accessTokenLifetimeProblem(c.AccessTokenLifetime, limit); msg != "" {
			v.fail(fmt.Sprintf("clients[%d].access_token_lifetime", i), "%s (client %q)", msg, c.ClientID)
		}
	}
	return errors.Join(v.errs...)
}

// Metadata serves the metadata and the JWK Set: the Handlers' when the app
// has a Server, httpapi.NewMetadata's otherwise.
func (a *App) Metadata() http.Handler {
	if a.Handlers != nil {
		return a.Handlers.Metadata()
	}
	return httpapi.NewMetadata(a.Discovery, a.httpOptions)
}

// ScopesSupported returns the scopes advertised in the metadata:
// GATEHOUSE_SCOPES, or else the union of the seeded clients' scopes.
func (a *App) ScopesSupported() []string { return a.Discovery.Metadata().ScopesSupported }

// NewLogger returns a logger writing to w at level: JSON lines (for
// CloudWatch) when json is true, logfmt-style text otherwise.
func NewLogger(w io.Writer, level slog.Leveler, json bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Exit logs a start-up failure of a Lambda function as one JSON line on
// standard error and exits with status 1, so a bad configuration fails the
// function's initialization instead of every request.
func Exit(function string, err error) {
	if err == nil {
		err = errors.New("unknown error")
	}
	NewLogger(os.Stderr, slog.LevelError, true).Error("gatehouse: start-up failed",
		"function", function, "error", err.Error())
	os.Exit(1)
}
