package main

import (
	"context"
	"fmt"
	"text/tabwriter"
)

const tablesUsage = `Usage: gatehouse tables create [flags]

Creates Gatehouse's five DynamoDB tables (on-demand capacity, encrypted, TTL
on expires_at) where they are missing, and waits until they are ACTIVE.
Running it again is harmless. The table names come from the --*-table flags,
else the GATEHOUSE_*_TABLE variables the Lambda functions read, else the
defaults (gatehouse-clients, gatehouse-users, ...).

DynamoDB is reached through the standard AWS configuration (AWS_PROFILE,
AWS_REGION, credentials); AWS_ENDPOINT_URL_DYNAMODB points it at DynamoDB
Local. Run 'gatehouse tables create -h' for the flags.
`

func (c *cli) tables(ctx context.Context, args []string) error {
	return c.runGroup(ctx, args, tablesUsage, []subcommand{
		{"create", (*cli).tablesCreate},
	})
}

func (c *cli) tablesCreate(ctx context.Context, args []string) error {
	fs := c.newFlagSet("tables create", "[flags]")
	tf := addTableFlags(fs)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	tables, err := tf.resolve(c.getenv)
	if err != nil {
		return err
	}
	store, err := c.openStore(ctx, tables)
	if err != nil {
		return err
	}
	if err := store.CreateTables(ctx); err != nil {
		return c.explain(err, "")
	}
	fmt.Fprintln(c.stdout, "Tables ready:")
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	for _, t := range []struct{ what, name string }{
		{"clients", tables.Clients}, {"users", tables.Users}, {"codes", tables.Codes},
		{"tokens", tables.Tokens}, {"sessions", tables.Sessions},
	} {
		fmt.Fprintf(tw, "  %s\t%s\n", t.what, t.name)
	}
	return tw.Flush()
}
