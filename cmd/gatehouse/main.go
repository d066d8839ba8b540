// Command gatehouse runs the Gatehouse OAuth 2.0 authorization server
// locally: `gatehouse serve` serves every endpoint on one port, configured by
// the same GATEHOUSE_* environment variables as the Lambda functions (see
// shared/config), with flags that override them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usageText = `Gatehouse is an OAuth 2.0 authorization server.

Usage:
  gatehouse <command> [flags]

Commands:
  serve     serve every endpoint on one port, for local development
  version   print the version
  help      print this help, or a command's with 'gatehouse help <command>'

Configuration comes from the GATEHOUSE_* environment variables, as for the
Lambda functions; the serve flags override them. Start with:

  gatehouse serve --seed dev/seed.json
`

// lookupEnv is os.LookupEnv, or a map in tests.
type lookupEnv func(string) (string, bool)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

// run executes one command and returns the process exit status: 0 on
// success, 1 when the command failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env lookupEnv) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = serve(ctx, rest, stdout, stderr, env)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] == "serve" {
			newServeFlags(stdout).fs.Usage()
			return 0
		}
		fmt.Fprint(stdout, usageText)
	default:
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", cmd, usageText)
		return 2
	}
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2 // the flag package has printed the problem and the usage
	default:
		fmt.Fprintf(stderr, "gatehouse %s: %v\n", args[0], err)
		return 1
	}
}

// errUsage marks a command-line mistake that has already been reported.
var errUsage = errors.New("usage error")
