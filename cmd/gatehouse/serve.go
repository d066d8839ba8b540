package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/app/stores"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/httpapi/pages"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
)

const (
	defaultAddr       = "127.0.0.1:8080"
	defaultSigningKey = ".dev/signing-key.pem"
	shutdownTimeout   = 10 * time.Second
)

// serveFlags are the serve flags; each one overrides a GATEHOUSE_*
// variable.
type serveFlags struct {
	fs         *flag.FlagSet
	addr       string
	issuer     string
	seed       string
	signingKey string
	signingAlg string
	signer     string
	kmsKeyID   string
	kmsVerify  string
	audience   string
	store      string
	tables     *tableFlags
}

func newServeFlags(out io.Writer) *serveFlags {
	f := &serveFlags{fs: flag.NewFlagSet("gatehouse serve", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(out)
	fs.StringVar(&f.addr, "addr", defaultAddr, "listen `address` (host:port; port 0 picks a free port)")
	fs.StringVar(&f.issuer, "issuer", "", "issuer `URL` (env "+config.EnvIssuer+`; default "http://" + the listen address)`)
	fs.StringVar(&f.seed, "seed", "", "seed `file` of clients and users to load (env "+config.EnvSeedFile+")")
	fs.StringVar(&f.signingKey, "signing-key", defaultSigningKey,
		"PEM signing key `file`, created if missing so tokens survive a restart; \"\" for an ephemeral key (env "+config.EnvSigningKeyFile+")")
	fs.StringVar(&f.signingAlg, "signing-alg", "", "signing `algorithm`: RS256, ES256, or PS256 with kms (env "+config.EnvSigningAlg+"; default RS256)")
	fs.StringVar(&f.signer, "signer", "", "token `signer`: local, or kms (env "+config.EnvSigner+"; default local)")
	fs.StringVar(&f.kmsKeyID, "kms-key-id", "", "KMS signing `key`: key id, key ARN or alias (env "+config.EnvKMSKeyID+"; required with --signer kms)")
	fs.StringVar(&f.kmsVerify, "kms-verify-keys", "", "comma-separated verification-only KMS `keys`, each key or key=ALG (env "+config.EnvKMSVerifyKeys+")")
	fs.StringVar(&f.audience, "audience", "", "comma-separated access-token `audiences` (env "+config.EnvAudience+"; default the issuer)")
	fs.StringVar(&f.store, "store", "", "`store`: memory, or dynamodb (env "+config.EnvStore+"; default memory)")
	f.tables = addTableFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: gatehouse serve [flags]

Serves every Gatehouse endpoint on one port and prints the issuer, the
endpoints and the seeded clients and users. The store is in memory (with
--seed for clients and users), or DynamoDB with --store dynamodb: the same
tables as the Lambda functions, reached through the standard AWS
configuration (AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local), with clients
and users managed by 'gatehouse clients' and 'gatehouse users'.
Configuration comes from the GATEHOUSE_* environment variables (see
shared/config); a flag given on the command line overrides its variable.

Flags:
`)
		fs.PrintDefaults()
	}
	return f
}

// getenv returns the environment serve's configuration is read from: a flag
// set on the command line wins, then the environment variable, then the
// flag's default. boundAddr is the address actually listened on.
func (f *serveFlags) getenv(env lookupEnv, boundAddr string) func(string) string {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	flagFor := map[string]struct {
		name  string
		value string
	}{
		config.EnvIssuer:         {"issuer", f.issuer},
		config.EnvSeedFile:       {"seed", f.seed},
		config.EnvSigningKeyFile: {"signing-key", f.signingKey},
		config.EnvSigningAlg:     {"signing-alg", f.signingAlg},
		config.EnvSigner:         {"signer", f.signer},
		config.EnvKMSKeyID:       {"kms-key-id", f.kmsKeyID},
		config.EnvKMSVerifyKeys:  {"kms-verify-keys", f.kmsVerify},
		config.EnvAudience:       {"audience", f.audience},
		config.EnvStore:          {"store", f.store},
	}
	for env, v := range f.tables.values() {
		flagFor[env] = struct {
			name  string
			value string
		}{tableFlagNames[env], v}
	}
	var getenv func(string) string
	getenv = func(key string) string {
		if key == config.EnvSigningKeyFile && getenv(config.EnvSigner) == config.SignerKMS && !set["signing-key"] {
			return "" // the key file default is the local signer's
		}
		fl, hasFlag := flagFor[key]
		if hasFlag && set[fl.name] {
			return fl.value
		}
		if v, ok := env(key); ok && (v != "" || key != config.EnvIssuer) {
			return v
		}
		if key == config.EnvIssuer {
			return "http://" + issuerHost(f.addr, boundAddr)
		}
		if hasFlag {
			return fl.value // the flag's default
		}
		return ""
	}
	return getenv
}

// issuerHost is host:port for the default issuer: the host as given in
// --addr (a name stays a name), a loopback address when it was empty or a
// wildcard, and the port actually bound.
func issuerHost(flagAddr, boundAddr string) string {
	host, _, _ := net.SplitHostPort(flagAddr)
	_, port, _ := net.SplitHostPort(boundAddr)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// serve runs the server until ctx is done or SIGINT or SIGTERM arrives,
// then shuts it down gracefully.
func (c *cli) serve(ctx context.Context, args []string) error {
	stdout, stderr := c.stdout, c.stderr
	f := newServeFlags(stderr)
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if f.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gatehouse serve: unexpected argument %q\n", f.fs.Arg(0))
		f.fs.Usage()
		return errUsage
	}
	for env, v := range f.tables.values() {
		if !config.ValidTableName(v) {
			return usageError("--%s: %q is not a valid DynamoDB table name (3 to 255 characters: letters, digits, '_', '-', '.')",
				tableFlagNames[env], v)
		}
	}

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	defer ln.Close()

	cfg, err := config.FromEnv(f.getenv(c.env, ln.Addr().String()))
	if err != nil {
		return fmt.Errorf("bad configuration:\n%w", err)
	}
	logger := app.NewLogger(stderr, cfg.LogLevel, false)
	parts := app.Parts{Stores: stores.Open, Passwords: c.passwords(), Pages: pages.New()}
	if cfg.Store == config.StoreDynamoDB {
		client, err := c.newDynamoDB(ctx)
		if err != nil {
			return err
		}
		if err := c.checkTables(ctx, client, dynamostore.Tables(cfg.Tables)); err != nil {
			return err
		}
		parts.Stores = stores.WithDynamoDBClient(client)
	}
	a, err := app.Build(ctx, cfg, logger, parts, app.WithAWSConfig(loadAWSConfig))
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{
		Handler:           a.Handlers.All(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	printBanner(stdout, a, ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills at once
	logger.Info("shutting down", "timeout", shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// printBanner prints what a developer needs to use the server: the issuer,
// the endpoints, and the seeded clients and users with their secrets, which
// only the seed file knows.
func printBanner(w io.Writer, a *app.App, listening string) {
	srv := a.Server
	cfg := a.Config
	fmt.Fprintf(w, "%s\n\n", versionString())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  issuer\t%s\n", srv.Config().Issuer)
	fmt.Fprintf(tw, "  listening on\t%s\n", listening)
	fmt.Fprintf(tw, "  audience\t%s\n", strings.Join(srv.Config().Audience, ", "))
	key := "ephemeral (tokens will not survive a restart)"
	if cfg.SigningKeyFile != "" {
		key = cfg.SigningKeyFile
	}
	if keys, err := a.Signer.PublicKeys(context.Background()); err == nil && len(keys) > 0 {
		key += fmt.Sprintf(" (%s, kid %s)", keys[0].Algorithm, keys[0].KeyID)
	}
	fmt.Fprintf(tw, "  signing key\t%s\n", key)
	store := cfg.Store
	if store == config.StoreDynamoDB {
		t := cfg.Tables
		store += fmt.Sprintf(" (tables %s, %s, %s, %s, %s)", t.Clients, t.Users, t.Codes, t.Tokens, t.Sessions)
		// The SDK reads the process environment itself.
		if endpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"); endpoint != "" {
			store += " at " + endpoint
		}
	}
	fmt.Fprintf(tw, "  store\t%s\n", store)
	fmt.Fprintf(tw, "  client cache\t%s\n", clientCacheText(cfg.ClientCacheTTL))
	sc := srv.Config()
	fmt.Fprintf(tw, "  sessions\t%s, ending after %s idle\n", shortDuration(sc.SessionLifetime), shortDuration(sc.SessionIdleTimeout))
	fmt.Fprintf(tw, "  sign-in limits\t%d failures per username, %d per address, per %s\n",
		sc.LoginMaxFailures, sc.LoginMaxFailuresPerIP, shortDuration(sc.LoginFailureWindow))
	tw.Flush()

	fmt.Fprintf(w, "\nEndpoints\n")
	for _, e := range []struct{ name, path string }{
		{"authorization", oauth.PathAuthorize},
		{"token", oauth.PathToken},
		{"introspection", oauth.PathIntrospect},
		{"revocation", oauth.PathRevoke},
		{"metadata", oauth.PathMetadata},
		{"openid config", oauth.PathOpenIDMetadata},
		{"jwks", oauth.PathJWKS},
		{"userinfo", oauth.PathUserInfo},
		{"logout", oauth.PathLogout},
	} {
		fmt.Fprintf(tw, "  %s\t%s\n", e.name, srv.URL(e.path))
	}
	tw.Flush()

	switch {
	case cfg.Store == config.StoreDynamoDB:
		fmt.Fprintf(w, "\nClients and users live in DynamoDB: see them with 'gatehouse clients list', add them with\n"+
			"'gatehouse clients create' and 'gatehouse users create' (same tables and AWS settings).\n")
	case a.Seed == nil:
		fmt.Fprintf(w, "\nNo seed file: the store is empty. Start with --seed dev/seed.json for demo clients and users.\n")
	default:
		printSeed(w, tw, a)
	}
	fmt.Fprintf(w, "\nPress Ctrl+C to stop.\n")
}

func printSeed(w io.Writer, tw *tabwriter.Writer, a *app.App) {
	seed := a.Seed
	fmt.Fprintf(w, "\nClients (from %s)\n", a.Config.SeedFile)
	if len(seed.Clients) == 0 {
		fmt.Fprintf(w, "  none\n")
	} else {
		fmt.Fprintf(tw, "  CLIENT ID\tSECRET\tAUTH METHOD\tGRANT TYPES\tSCOPE\tREDIRECT URIS\n")
		for _, c := range seed.Clients {
			secret := "(public)"
			switch {
			case c.ClientSecret != "":
				secret = c.ClientSecret
			case c.TokenEndpointAuthMethod == oauth.AuthMethodPrivateKeyJWT:
				secret = "(its private key)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.ClientID, secret, c.TokenEndpointAuthMethod,
				strings.Join(c.GrantTypes, ","), orDash(c.Scope), orDash(strings.Join(c.RedirectURIs, " ")))
		}
		tw.Flush()
	}

	fmt.Fprintf(w, "\nUsers\n")
	if len(seed.Users) == 0 {
		fmt.Fprintf(w, "  none\n")
	} else {
		fmt.Fprintf(tw, "  USERNAME\tPASSWORD\tSUBJECT\n")
		for _, u := range seed.Users {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", u.Username, u.Password, u.Subject)
		}
		tw.Flush()
	}

	for _, c := range seed.Clients {
		if c.TokenEndpointAuthMethod == oauth.AuthMethodBasic && len(c.GrantTypes) > 0 && c.GrantTypes[0] == oauth.GrantClientCredentials {
			fmt.Fprintf(w, "\nTry:\n  curl -s -u '%s:%s' -d grant_type=client_credentials %s\n",
				c.ClientID, c.ClientSecret, a.Server.URL(oauth.PathToken))
			break
		}
	}
}

// checkTables makes sure every table exists before serving, so a missing
// one is reported at once, with what to do, rather than on every request.
func (c *cli) checkTables(ctx context.Context, client *dynamodb.Client, t dynamostore.Tables) error {
	for _, name := range []string{t.Clients, t.Users, t.Codes, t.Tokens, t.Sessions} {
		if _, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}); err != nil {
			return c.explain(err, name)
		}
	}
	return nil
}

func clientCacheText(ttl time.Duration) string {
	if ttl == 0 {
		return "off"
	}
	return ttl.String()
}

// shortDuration writes d without zero trailing units: "12h", "15m", "1h30m".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
