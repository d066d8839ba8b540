// Package app wires Gatehouse together: from a config.Config it creates the
// store, the signer, the password checker, the oauth.Server and the HTTP
// handlers. It is the one package, besides the functions/* and
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

	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// App is a wired Gatehouse instance.
type App struct {
	Config   config.Config
	Server   *oauth.Server
	Handlers *httpapi.Handlers
	// Store is the in-memory store (GATEHOUSE_STORE=memory).
	Store *memstore.Store
	// Signer signs the access tokens.
	Signer oauth.Signer
	// Seed is what was loaded from GATEHOUSE_SEED_FILE, with its plaintext
	// secrets and passwords; nil without a seed file.
	Seed   *Seed
	Logger *slog.Logger
}

// Build creates every component from cfg. Errors name the variable at
// fault where there is one. A nil logger means slog.Default().
func Build(ctx context.Context, cfg config.Config, logger *slog.Logger) (*App, error) {
	if logger == nil {
		logger = slog.Default()
	}
	a := &App{Config: cfg, Logger: logger}

	if cfg.SeedFile != "" {
		seed, err := LoadSeed(cfg.SeedFile)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", config.EnvSeedFile, cfg.SeedFile, err)
		}
		a.Seed = seed
	}

	switch cfg.Store {
	case config.StoreMemory, "":
		a.Store = memstore.New()
	default:
		return nil, fmt.Errorf("%s: unsupported store %q", config.EnvStore, cfg.Store)
	}
	if a.Seed != nil {
		if err := a.Seed.Apply(ctx, a.Store, passwords.Default); err != nil {
			return nil, err
		}
	}

	signer, err := newSigner(cfg, logger)
	if err != nil {
		return nil, err
	}
	a.Signer = signer

	scopes := cfg.Scopes
	if len(scopes) == 0 && a.Seed != nil {
		scopes = a.Seed.Scopes()
	}
	a.Server, err = oauth.NewServer(oauth.Config{
		Issuer:               cfg.Issuer,
		Audience:             cfg.Audience,
		ScopesSupported:      scopes,
		AccessTokenLifetime:  cfg.AccessTokenTTL,
		RefreshTokenLifetime: cfg.RefreshTokenTTL,
		CodeLifetime:         cfg.CodeTTL,
		SessionLifetime:      cfg.SessionTTL,
	}, a.Store, signer, passwords.Checker{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvIssuer, err)
	}
	a.Handlers = httpapi.New(a.Server, httpapi.Options{Logger: logger})
	return a, nil
}

// newSigner creates the token signer GATEHOUSE_SIGNER names.
func newSigner(cfg config.Config, logger *slog.Logger) (oauth.Signer, error) {
	switch cfg.Signer {
	case config.SignerLocal, "":
	default:
		return nil, fmt.Errorf("%s: unsupported signer %q", config.EnvSigner, cfg.Signer)
	}
	if cfg.SigningKeyFile == "" {
		logger.Warn("signing with an ephemeral key: tokens will not verify after a restart or on another instance; set " +
			config.EnvSigningKeyFile + " to keep the key")
		s, err := localsigner.New(cfg.SigningAlg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", config.EnvSigningAlg, err)
		}
		return s, nil
	}
	s, err := localsigner.LoadOrCreate(cfg.SigningKeyFile, cfg.SigningAlg)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w", config.EnvSigningKeyFile, cfg.SigningKeyFile, err)
	}
	return s, nil
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
