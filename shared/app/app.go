// Package app wires Gatehouse together: from a config.Config it creates the
// store (in memory, or DynamoDB through the AWS configuration of the
// environment, EnvAWSConfig, or WithAWSConfig's) behind the client cache, the signer, the password checker,
// the oauth.Server and the HTTP handlers. It is the one package, besides the functions/* and
// cmd/gatehouse mains, that sees every implementation; shared/oauth and
// shared/httpapi import nothing of it.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/gatehouse/gatehouse/shared/awsjson"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner"
	"github.com/gatehouse/gatehouse/shared/store/clientcache"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// App is a wired Gatehouse instance.
type App struct {
	Config   config.Config
	Server   *oauth.Server
	Handlers *httpapi.Handlers
	// Store is what the server reads and writes: the backing store behind
	// the client cache (unless GATEHOUSE_CLIENT_CACHE_TTL is 0).
	Store oauth.Store
	// Admin is the backing store's administrative side, without the cache:
	// what the seed loader and the admin commands write through.
	Admin Admin
	// MemStore is the in-memory store (GATEHOUSE_STORE=memory); nil
	// otherwise.
	MemStore *memstore.Store
	// DynamoStore is the DynamoDB store (GATEHOUSE_STORE=dynamodb) and
	// DynamoDB its client; both nil otherwise.
	DynamoStore *dynamostore.Store
	DynamoDB    *awsjson.Client
	// Signer signs the access tokens.
	Signer oauth.Signer
	// Seed is what was loaded from GATEHOUSE_SEED_FILE, with its plaintext
	// secrets and passwords; nil without a seed file.
	Seed   *Seed
	Logger *slog.Logger
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

var (
	_ Admin = (*memstore.Store)(nil)
	_ Admin = (*dynamostore.Store)(nil)
)

// Option changes how Build wires the app.
type Option func(*options)

type options struct {
	dynamoDB  *awsjson.Client
	kms       *awsjson.Client
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
		o.loaded = true
	}
	return o.awsCfg, o.awsCfgErr
}

// WithObserver makes the handlers report every request to observe
// (httpapi.Options.Observe): the Lambda functions pass an EMF writer's
// Observe, so each request also writes its metrics.
func WithObserver(observe func(context.Context, httpapi.Event)) Option {
	return func(o *options) { o.observe = observe }
}

// WithDynamoDBClient makes a GATEHOUSE_STORE=dynamodb app use client
// instead of one made from the AWS configuration (tests, and the admin
// commands' own client).
func WithDynamoDBClient(client *awsjson.Client) Option {
	return func(o *options) { o.dynamoDB = client }
}

// Build creates every component from cfg. Errors name the variable at
// fault where there is one. A nil logger means slog.Default().
//
// Build makes no network call, so a Lambda function's initialization stays
// fast: the DynamoDB client resolves its credentials on its first request.
// The AWS clients it is not given are made from EnvAWSConfig's
// configuration (the Lambda environment), or WithAWSConfig's.
func Build(ctx context.Context, cfg config.Config, logger *slog.Logger, opts ...Option) (*App, error) {
	if logger == nil {
		logger = slog.Default()
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	a := &App{Config: cfg, Logger: logger}

	if cfg.SeedFile != "" && cfg.Store == config.StoreDynamoDB {
		return nil, fmt.Errorf("%s: a seed file is only for the memory store; with %s=%s create clients and users with the gatehouse command",
			config.EnvSeedFile, config.EnvStore, config.StoreDynamoDB)
	}
	if cfg.SeedFile != "" {
		seed, err := LoadSeed(cfg.SeedFile)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", config.EnvSeedFile, cfg.SeedFile, err)
		}
		a.Seed = seed
	}

	var backing oauth.Store
	switch cfg.Store {
	case config.StoreMemory, "":
		a.MemStore = memstore.New()
		backing, a.Admin = a.MemStore, a.MemStore
	case config.StoreDynamoDB:
		a.DynamoDB = o.dynamoDB
		if a.DynamoDB == nil {
			awsCfg, err := o.aws(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s=%s: %w", config.EnvStore, config.StoreDynamoDB, err)
			}
			if a.DynamoDB, err = NewDynamoDBClient(awsCfg); err != nil {
				return nil, fmt.Errorf("%s=%s: %w", config.EnvStore, config.StoreDynamoDB, err)
			}
		}
		tables := cfg.Tables
		if tables == (config.Tables{}) {
			tables = config.DefaultTables()
		}
		a.DynamoStore = dynamostore.New(a.DynamoDB, dynamostore.Tables(tables))
		backing, a.Admin = a.DynamoStore, a.DynamoStore
	default:
		return nil, fmt.Errorf("%s: unsupported store %q", config.EnvStore, cfg.Store)
	}
	if cfg.ClientCacheTTL < 0 {
		return nil, fmt.Errorf("%s: %s must not be negative", config.EnvClientCacheTTL, cfg.ClientCacheTTL)
	}
	a.Store = clientcache.New(backing, cfg.ClientCacheTTL, nil)
	if a.Seed != nil {
		if err := a.Seed.Apply(ctx, a.Admin, passwords.Default); err != nil {
			return nil, err
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
	a.Server, err = oauth.NewServer(oauth.Config{
		Issuer:                cfg.Issuer,
		Audience:              cfg.Audience,
		ScopesSupported:       scopes,
		AccessTokenLifetime:   cfg.AccessTokenTTL,
		RefreshTokenLifetime:  cfg.RefreshTokenTTL,
		CodeLifetime:          cfg.CodeTTL,
		SessionLifetime:       cfg.SessionTTL,
		SessionIdleTimeout:    cfg.SessionIdleTTL,
		LoginMaxFailures:      cfg.LoginMaxFailures,
		LoginMaxFailuresPerIP: cfg.LoginMaxFailuresPerIP,
		LoginFailureWindow:    cfg.LoginFailureWindow,
		Leeway:                cfg.Leeway,
		JWKSFetcher:           NewJWKSFetcher(logger),
	}, a.Store, signer, passwords.Checker{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvIssuer, err)
	}
	a.Handlers = httpapi.New(a.Server, httpapi.Options{Logger: logger, Observe: o.observe, ScopeDescriptions: cfg.ScopeDescriptions})
	return a, nil
}

// NewDynamoDBClient returns a DynamoDB client made from cfg (EnvAWSConfig's,
// or the SDK's config.LoadDefaultConfig's): its region, credentials, and
// AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL) to point it at DynamoDB
// Local. It makes no network call: credentials are resolved on the first
// request. It fails only when cfg names no region and no endpoint.
func NewDynamoDBClient(cfg aws.Config, optFns ...func(*awsjson.Options)) (*awsjson.Client, error) {
	return newAWSClient(cfg, dynamostore.Service, optFns)
}

// NewKMSClient is NewDynamoDBClient for KMS (AWS_ENDPOINT_URL_KMS).
func NewKMSClient(cfg aws.Config, optFns ...func(*awsjson.Options)) (*awsjson.Client, error) {
	return newAWSClient(cfg, kmssigner.Service, optFns)
}

func newAWSClient(cfg aws.Config, svc awsjson.Service, optFns []func(*awsjson.Options)) (*awsjson.Client, error) {
	var o awsjson.Options
	for _, fn := range optFns {
		fn(&o)
	}
	return awsjson.New(cfg, svc, o)
}

// ScopesSupported returns the scopes advertised in the metadata:
// GATEHOUSE_SCOPES, or else the union of the seeded clients' scopes.
func (a *App) ScopesSupported() []string { return a.Server.Config().ScopesSupported }

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
