package app

import (
	"log/slog"

	"github.com/gatehouse/gatehouse/shared/jwks"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// NewJWKSFetcher returns what oauth.Config.JWKSFetcher needs so that
// private_key_jwt clients registered with a jwks_uri can authenticate: an
// HTTP GET of the client's https jwks_uri (plain http only on loopback,
// redirects to http refused) with a 5 s timeout, responses of at most
// 64 KiB, each set cached for 5 minutes per URI and fetched again when an
// assertion names a key id it lacks, at most once every 10 s per URI, one
// fetch per URI at a time (shared/jwks). Fetch failures are logged to
// logger (nil: slog.Default()).
//
// Build wires it in the oauth.Config it passes to oauth.NewServer:
//
//	JWKSFetcher: NewJWKSFetcher(logger),
func NewJWKSFetcher(logger *slog.Logger) oauth.JWKSFetcher {
	return jwks.NewClientFetcher(jwks.Options{Logger: logger})
}
