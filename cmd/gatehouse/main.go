// Command gatehouse runs the Gatehouse OAuth 2.0 authorization server
// locally and administers a deployment:
//
//   - `gatehouse serve` serves every endpoint on one port, configured by the
//     same GATEHOUSE_* environment variables as the Lambda functions (see
//     shared/config), with flags that override them;
//   - `gatehouse tables`, `gatehouse clients` and `gatehouse users` create
//     the DynamoDB tables and manage clients and users in them, through the
//     standard AWS configuration (AWS_PROFILE, AWS_REGION, ...; set
//     AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gatehouse/gatehouse/shared/passwords"
)

const usageText = `Gatehouse is an OAuth 2.0 authorization server.

Usage:
  gatehouse <command> [arguments]

Commands:
  serve     serve every endpoint on one port (memory or DynamoDB store)
  tables    create the DynamoDB tables
  clients   create, list, show, delete clients and rotate their secrets
  users     create and delete users
  version   print the version
  help      print this help, or a command's with 'gatehouse help <command>'

Configuration comes from the GATEHOUSE_* environment variables, as for the
Lambda functions; flags override them. The tables, clients and users
commands reach DynamoDB through the standard AWS configuration (AWS_PROFILE,
AWS_REGION, credentials; AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local).
Start with:

  gatehouse serve --seed dev/seed.json
`

// lookupEnv is os.LookupEnv, or a map in tests.
type lookupEnv func(string) (string, bool)

// cli is what a command sees of its process: standard streams and
// environment, and how it reaches DynamoDB and hashes passwords. main uses
// the real ones; tests fill in their own.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            lookupEnv
	// dynamoDB returns the DynamoDB client of the admin commands and of
	// `serve --store dynamodb`; nil means the AWS SDK's default
	// configuration (see newDynamoDB).
	dynamoDB func(ctx context.Context) (*dynamodb.Client, error)
	// hasher hashes user passwords; nil means passwords.Default.
	hasher *passwords.Hasher
}

func main() {
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, env: os.LookupEnv}
	os.Exit(c.run(context.Background(), os.Args[1:]))
}

// getenv returns the variable's value, "" when it is unset.
func (c *cli) getenv(key string) string {
	v, _ := c.env(key)
	return v
}

// command is one command or command group.
type command struct {
	name  string
	usage string // printed by `gatehouse help <name>`; "" for none
	run   func(c *cli, ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "", (*cli).serve},
		{"tables", tablesUsage, (*cli).tables},
		{"clients", clientsUsage, (*cli).clients},
		{"users", usersUsage, (*cli).users},
	}
}

// run executes one command and returns the process exit status: 0 on
// success, 1 when the command failed, 2 for a usage error.
func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usageText)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "version", "--version", "-version":
		fmt.Fprintln(c.stdout, versionString())
		return 0
	case "help", "-h", "-help", "--help":
		return c.help(rest)
	}
	for _, cmd := range commands() {
		if cmd.name == name {
			return c.exit(name, cmd.run(c, ctx, rest))
		}
	}
	fmt.Fprintf(c.stderr, "gatehouse: unknown command %q\n\n%s", name, usageText)
	return 2
}

// help prints the usage of gatehouse or of one command.
func (c *cli) help(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stdout, usageText)
		return 0
	}
	if args[0] == "serve" {
		newServeFlags(c.stdout).fs.Usage()
		return 0
	}
	for _, cmd := range commands() {
		if cmd.name == args[0] && cmd.usage != "" {
			fmt.Fprint(c.stdout, cmd.usage)
			return 0
		}
	}
	fmt.Fprintf(c.stderr, "gatehouse help: unknown command %q\n\n%s", args[0], usageText)
	return 2
}

// exit reports err, returned by the command name, and returns the exit
// status for it.
func (c *cli) exit(name string, err error) int {
	var ce *cmdError
	if errors.As(err, &ce) {
		name += " " + ce.cmd
		err = ce.err
	}
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		// The problem and the usage have been printed, unless the error
		// carries its own message.
		if msg := strings.TrimSuffix(err.Error(), errUsage.Error()); msg != "" {
			fmt.Fprintf(c.stderr, "gatehouse %s: %s\n", name, strings.TrimSuffix(msg, ": "))
		}
		return 2
	default:
		fmt.Fprintf(c.stderr, "gatehouse %s: %v\n", name, err)
		return 1
	}
}

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage error")

// usageError is a command-line mistake with its message, which run prints.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errUsage)
}

// cmdError names the subcommand of a group that failed, for the message.
type cmdError struct {
	cmd string
	err error
}

func (e *cmdError) Error() string { return e.cmd + ": " + e.err.Error() }
func (e *cmdError) Unwrap() error { return e.err }

// subcommand is one subcommand of a group such as `gatehouse clients`.
type subcommand struct {
	name string
	run  func(c *cli, ctx context.Context, args []string) error
}

// runGroup runs the subcommand args[0] of the group, printing usage (the
// group's help text) when there is none or it is unknown.
func (c *cli) runGroup(ctx context.Context, args []string, usage string, subs []subcommand) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, usage)
		return nil
	}
	for _, s := range subs {
		if s.name == args[0] {
			if err := s.run(c, ctx, args[1:]); err != nil {
				return &cmdError{cmd: s.name, err: err}
			}
			return nil
		}
	}
	fmt.Fprintf(c.stderr, "unknown subcommand %q\n\n%s", args[0], usage)
	return errUsage
}

// newFlagSet returns a flag set for `gatehouse <cmd>` that reports errors
// instead of exiting, printing usage (a synopsis line) and the flags.
func (c *cli) newFlagSet(cmd, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("gatehouse "+cmd, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gatehouse %s %s\n\n", cmd, synopsis)
		fmt.Fprintf(fs.Output(), "Flags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags and exactly want positional arguments, which may
// come before, between or after the flags. A mistake has been reported
// when it returns errUsage.
func parseArgs(fs *flag.FlagSet, args []string, want ...string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage // the flag package printed the problem and the usage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != len(want) {
		switch {
		case len(positional) < len(want):
			fmt.Fprintf(fs.Output(), "missing argument: %s\n", want[len(positional)])
		default:
			fmt.Fprintf(fs.Output(), "unexpected argument %q\n", positional[len(want)])
		}
		fs.Usage()
		return nil, errUsage
	}
	return positional, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ", ") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}
