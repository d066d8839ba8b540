package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
)

// This file holds what the admin commands (tables, clients, users) and
// `serve --store dynamodb` share: the table flags, the DynamoDB client and
// the explanation of AWS errors.

// tableFlags are the --*-table flags; each overrides its GATEHOUSE_*_TABLE
// variable.
type tableFlags struct {
	clients, users, codes, tokens, sessions string
	fs                                      *flag.FlagSet
}

// tableFlagNames maps each table variable to its flag.
var tableFlagNames = map[string]string{
	config.EnvClientsTable:  "clients-table",
	config.EnvUsersTable:    "users-table",
	config.EnvCodesTable:    "codes-table",
	config.EnvTokensTable:   "tokens-table",
	config.EnvSessionsTable: "sessions-table",
}

// addTableFlags adds the flags of the tables named by their variables
// (config.EnvClientsTable, ...), or of all five when none is named.
func addTableFlags(fs *flag.FlagSet, only ...string) *tableFlags {
	t := &tableFlags{fs: fs}
	def := config.DefaultTables()
	for _, f := range []struct {
		p    *string
		env  string
		what string
		def  string
	}{
		{&t.clients, config.EnvClientsTable, "clients", def.Clients},
		{&t.users, config.EnvUsersTable, "users", def.Users},
		{&t.codes, config.EnvCodesTable, "authorization codes", def.Codes},
		{&t.tokens, config.EnvTokensTable, "refresh tokens and revocations", def.Tokens},
		{&t.sessions, config.EnvSessionsTable, "sign-in sessions", def.Sessions},
	} {
		if len(only) > 0 && !slices.Contains(only, f.env) {
			continue
		}
		fs.StringVar(f.p, tableFlagNames[f.env], "", fmt.Sprintf("DynamoDB `table` of the %s (env %s; default %s)", f.what, f.env, f.def))
	}
	return t
}

// values returns the flags set on the command line, by variable name.
func (t *tableFlags) values() map[string]string {
	set := map[string]bool{}
	t.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	out := map[string]string{}
	for env, v := range map[string]string{
		config.EnvClientsTable: t.clients, config.EnvUsersTable: t.users, config.EnvCodesTable: t.codes,
		config.EnvTokensTable: t.tokens, config.EnvSessionsTable: t.sessions,
	} {
		if set[tableFlagNames[env]] {
			out[env] = v
		}
	}
	return out
}

// resolve returns the table names: a flag, else its variable, else the
// default. A bad flag value is a usage error naming the flag.
func (t *tableFlags) resolve(getenv func(string) string) (dynamostore.Tables, error) {
	flags := t.values()
	for _, env := range config.TableVariables {
		if v, ok := flags[env]; ok && !config.ValidTableName(v) {
			return dynamostore.Tables{}, usageError("--%s: %q is not a valid DynamoDB table name "+
				"(3 to 255 characters: letters, digits, '_', '-', '.')", tableFlagNames[env], v)
		}
	}
	tables, err := config.TablesFromEnv(func(key string) string {
		if v, ok := flags[key]; ok {
			return v
		}
		return getenv(key)
	})
	if err != nil {
		return dynamostore.Tables{}, fmt.Errorf("bad table names (flags --*-table or variables GATEHOUSE_*_TABLE):\n%w", err)
	}
	return dynamostore.Tables(tables), nil
}

// newDynamoDB returns the DynamoDB client: the test's, or one from the
// standard AWS configuration whose credential failures are marked so that
// explain can recognize them.
func (c *cli) newDynamoDB(ctx context.Context) (*dynamodb.Client, error) {
	if c.dynamoDB != nil {
		return c.dynamoDB(ctx)
	}
	cfg, err := loadAWSConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w", config.EnvStore, config.StoreDynamoDB, err)
	}
	if cfg.Credentials != nil {
		cfg.Credentials = markedCredentials{cfg.Credentials}
	}
	if cfg.Region == "" {
		return nil, c.explain(&aws.MissingRegionError{}, "")
	}
	return dynamostore.NewClient(cfg), nil
}

// loadAWSConfig is the standard AWS configuration (the SDK's
// config.LoadDefaultConfig: AWS_PROFILE, SSO, the shared files, ...),
// which the commands use where the Lambda functions read only their
// environment (app.EnvAWSConfig).
func loadAWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	return cfg, nil
}

// openStore returns a store on tables through the command's DynamoDB
// client. It makes no network call.
func (c *cli) openStore(ctx context.Context, tables dynamostore.Tables) (*dynamostore.Store, error) {
	client, err := c.newDynamoDB(ctx)
	if err != nil {
		return nil, err
	}
	return dynamostore.New(client, tables), nil
}

// credentialsError marks a failure to find AWS credentials.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// markedCredentials wraps the SDK's credentials provider (a cache around
// its default chain), marking its errors: the SDK reports them with plain
// fmt.Errorf wrapping, nothing a caller can test for.
type markedCredentials struct{ aws.CredentialsProvider }

func (p markedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := p.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return creds, &credentialsError{err}
	}
	return creds, nil
}

// explain turns an AWS error of an admin command into one that says what
// to do; table is the table the command worked on ("" for several).
func (c *cli) explain(err error, table string) error {
	if err == nil {
		return nil
	}
	var ce *credentialsError
	var mr *aws.MissingRegionError
	var notFound *types.ResourceNotFoundException
	var op *net.OpError
	endpoint := c.getenv("AWS_ENDPOINT_URL_DYNAMODB")
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("no AWS credentials found: configure them the standard AWS way, e.g. AWS_PROFILE=name "+
			"(after `aws configure` or `aws sso login`) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "+
			"(any dummy values for DynamoDB Local)\n(%v)", err)
	case errors.As(err, &mr):
		return errors.New("no AWS region: set AWS_REGION (e.g. AWS_REGION=us-east-1), or a region in your AWS profile")
	case errors.As(err, &notFound):
		what := "a table is missing"
		if table != "" {
			what = fmt.Sprintf("table %s does not exist", table)
		}
		return fmt.Errorf("%s: create the tables first with `gatehouse tables create` "+
			"(with the same --*-table flags or GATEHOUSE_*_TABLE variables)", what)
	case errors.As(err, &op) && op.Op == "dial" && endpoint != "":
		return fmt.Errorf("cannot reach DynamoDB at AWS_ENDPOINT_URL_DYNAMODB=%s: is DynamoDB Local running? "+
			"(eval \"$(scripts/dynamodb-local.sh start)\")\n(%v)", endpoint, err)
	}
	return err
}

// writeJSON writes v to the command's standard output, indented.
func (c *cli) writeJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
