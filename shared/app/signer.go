package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
)

// WithKMSClient makes a GATEHOUSE_SIGNER=kms app use client instead of
// kmssigner.NewClient's, made from the AWS configuration (tests).
func WithKMSClient(client kmssigner.API) Option {
	return func(o *options) { o.kms = client }
}

// newSigner creates the token signer GATEHOUSE_SIGNER names. Neither
// signer makes a network call here: the KMS signer fetches its public keys
// on first use.
func newSigner(ctx context.Context, cfg config.Config, o *options, logger *slog.Logger) (oauth.Signer, error) {
	switch cfg.Signer {
	case config.SignerKMS:
		client := o.kms
		if client == nil {
			awsCfg, err := o.aws(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s=%s: %w", config.EnvSigner, config.SignerKMS, err)
			}
			client = kmssigner.NewClient(awsCfg)
		}
		s, err := kmssigner.New(kmssigner.Config{
			Client:       client,
			Algorithm:    cfg.SigningAlg,
			SigningKeyID: cfg.KMSKeyID,
			VerifyKeys:   cfg.KMSVerifyKeys,
		})
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", config.EnvKMSKeyID, cfg.KMSKeyID, err)
		}
		return s, nil
	case config.SignerLocal, "":
		return newLocalSigner(cfg, logger)
	default:
		return nil, fmt.Errorf("%s: unsupported signer %q", config.EnvSigner, cfg.Signer)
	}
}

// newLocalSigner loads (or creates) the local signing key.
func newLocalSigner(cfg config.Config, logger *slog.Logger) (oauth.Signer, error) {
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
