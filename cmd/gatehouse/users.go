package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
)

const usersUsage = `Usage: gatehouse users <command> [flags]

Manages the users (resource owners who sign in) in the DynamoDB users table.

Commands:
  create --username NAME [--subject SUB] [claim flags]
            create a user; the password is read from standard input (one
            line), or prompted for without echo on a terminal. Its "sub"
            claim is an opaque random id unless --subject pins one
  update --username NAME [claim flags]
            change the given claims of a user, and only those; its
            password, subject and consents are kept
  delete --username NAME
            delete a user

Claim flags set the user's OpenID Connect standard claims (OpenID Connect
Core 1.0 §5.1), released by scope in ID tokens and at the UserInfo
endpoint: the claim's name with "-" for "_":
  --name --given-name --family-name --middle-name --nickname
  --preferred-username --profile --picture --website --email
  --email-verified --gender --birthdate --zoneinfo --locale
  --phone-number --phone-number-verified
  --address-formatted --address-street-address --address-locality
  --address-region --address-postal-code --address-country
An empty value (--email "") removes the claim. Values are checked: --email
an address, --profile/--picture/--website absolute http(s) URLs,
--phone-number E.164 (+14155550100), --locale BCP 47 (en-US), --zoneinfo an
IANA time zone (Europe/Paris), --birthdate YYYY-MM-DD, 0000-MM-DD or YYYY,
--email-verified/--phone-number-verified true or false. updated_at is set
to the current time whenever the claims change.

Every command takes the --users-table flag (env GATEHOUSE_USERS_TABLE;
default gatehouse-users), and reaches DynamoDB through the standard AWS
configuration. Passwords are stored as argon2id hashes. Example:

  printf '%s\n' "$PASSWORD" | gatehouse users create --username alice \
      --name "Alice Liddell" --email alice@example.com --email-verified true
  gatehouse users update --username alice --locale en-GB --nickname ""
`

func (c *cli) users(ctx context.Context, args []string) error {
	return c.runGroup(ctx, args, usersUsage, []subcommand{
		{"create", (*cli).usersCreate},
		{"update", (*cli).usersUpdate},
		{"delete", (*cli).usersDelete},
	})
}

// userJSON is a user as the commands print it: never the password or its
// hash.
type userJSON struct {
	Username string            `json:"username"`
	Subject  string            `json:"subject"`
	Claims   *oauth.UserClaims `json:"claims,omitempty"`
}

// maxPasswordLen bounds a password read from standard input.
const maxPasswordLen = 1024

func (c *cli) usersCreate(ctx context.Context, args []string) error {
	fs := c.newFlagSet("users create", "--username NAME [--subject SUB] [claim flags] [flags] < password")
	var username, subject string
	fs.StringVar(&username, "username", "", "the `name` the user signs in with (required)")
	fs.StringVar(&subject, "subject", "", "pin the user's stable \"sub\" claim (default: an opaque random one, never the username)")
	cv := addClaimFlags(fs)
	tf := addTableFlags(fs, config.EnvUsersTable)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if username == "" {
		return usageError("--username is required")
	}
	// Check everything but the password before asking for it.
	u := app.SeedUser{Username: username, Subject: subject, Password: "-"}
	if _, err := cv.apply(&u.UserClaims); err != nil {
		return err
	}
	if errs := u.Validate(); len(errs) > 0 {
		return fieldProblems(errs)
	}
	tables, err := tf.resolve(c.getenv)
	if err != nil {
		return err
	}

	password, err := c.readPassword(username)
	if err != nil {
		return err
	}
	hash, err := c.passwords().Hash(password)
	if err != nil {
		return fmt.Errorf("hashing the password: %w", err)
	}

	store, err := c.openStore(ctx, tables)
	if err != nil {
		return err
	}
	if u.Subject == "" {
		u.Subject = oauth.NewSubject()
	} else if other, err := store.GetUserBySubject(ctx, u.Subject); err == nil {
		return fmt.Errorf("subject %q is already user %q's (a subject is never reused)", u.Subject, other.Username)
	} else if !errors.Is(err, oauth.ErrNotFound) {
		return c.explain(err, tables.Users)
	}
	claims := app.StampClaims(&u.UserClaims, nil, time.Now())
	err = store.CreateUser(ctx, &oauth.User{Subject: u.Subject, Username: u.Username, PasswordHash: hash, Claims: claims})
	if errors.Is(err, oauth.ErrConflict) {
		return fmt.Errorf("user %q already exists in table %s", u.Username, tables.Users)
	}
	if err != nil {
		return c.explain(err, tables.Users)
	}
	return c.writeJSON(userJSON{Username: u.Username, Subject: u.Subject, Claims: claims})
}

// usersUpdate changes the claims the command line gives (OpenID Connect
// Core 1.0 §5.1) and no other: the stored user is read, those claims set
// or (empty) removed, the result validated as the seed's, updated_at set
// to now if anything changed, and the user written back with its
// password hash, subject and consents.
func (c *cli) usersUpdate(ctx context.Context, args []string) error {
	fs := c.newFlagSet("users update", "--username NAME [claim flags] [flags]")
	var username string
	fs.StringVar(&username, "username", "", "the `name` of the user to change (required)")
	cv := addClaimFlags(fs)
	tf := addTableFlags(fs, config.EnvUsersTable)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if username == "" {
		return usageError("--username is required")
	}
	// Validate the flags alone before reading the user.
	var given oauth.UserClaims
	set, err := cv.apply(&given)
	if err != nil {
		return err
	}
	if !set {
		return usageError("nothing to change: give at least one claim flag (e.g. --email)")
	}
	if errs := app.ValidateClaims(&given); len(errs) > 0 {
		return fieldProblems(errs)
	}
	tables, err := tf.resolve(c.getenv)
	if err != nil {
		return err
	}
	store, err := c.openStore(ctx, tables)
	if err != nil {
		return err
	}
	u, err := store.GetUser(ctx, username)
	if errors.Is(err, oauth.ErrNotFound) {
		return fmt.Errorf("unknown user %q (not in table %s)", username, tables.Users)
	}
	if err != nil {
		return c.explain(err, tables.Users)
	}
	claims := u.Claims.Clone()
	if claims == nil {
		claims = &oauth.UserClaims{}
	}
	if _, err := cv.apply(claims); err != nil {
		return err
	}
	if errs := app.ValidateClaims(claims); len(errs) > 0 {
		return fieldProblems(errs)
	}
	claims.UpdatedAt = 0
	u.Claims = app.StampClaims(claims, u.Claims, time.Now())
	if err := store.PutUser(ctx, u); err != nil {
		return c.explain(err, tables.Users)
	}
	return c.writeJSON(userJSON{Username: u.Username, Subject: u.Subject, Claims: u.Claims})
}

// readPassword reads the new user's password: prompted for twice without
// echo when standard input is a terminal, else one line of standard input
// (without its line ending). An empty password is refused.
func (c *cli) readPassword(username string) (string, error) {
	if f, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return c.promptPassword(int(f.Fd()), username)
	}
	// One line; reading a little past the limit tells a long one apart.
	r := bufio.NewReader(io.LimitReader(c.stdin, maxPasswordLen+3))
	line, err := r.ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	password := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if len(password) > maxPasswordLen {
		return "", fmt.Errorf("the password on standard input is longer than %d bytes", maxPasswordLen)
	}
	if password == "" {
		return "", errors.New("empty password: give the password on standard input, one line " +
			"(e.g. printf '%s\\n' \"$PASSWORD\" | gatehouse users create --username NAME)")
	}
	return password, nil
}

func (c *cli) promptPassword(fd int, username string) (string, error) {
	read := func(prompt string) (string, error) {
		fmt.Fprint(c.stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(c.stderr)
		return string(b), err
	}
	password, err := read(fmt.Sprintf("Password for %s: ", username))
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if password == "" {
		return "", errors.New("empty password")
	}
	again, err := read("Repeat the password: ")
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if again != password {
		return "", errors.New("the passwords do not match")
	}
	return password, nil
}

func (c *cli) usersDelete(ctx context.Context, args []string) error {
	fs := c.newFlagSet("users delete", "--username NAME [flags]")
	var username string
	fs.StringVar(&username, "username", "", "the `name` of the user to delete (required)")
	tf := addTableFlags(fs, config.EnvUsersTable)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if username == "" {
		return usageError("--username is required")
	}
	tables, err := tf.resolve(c.getenv)
	if err != nil {
		return err
	}
	store, err := c.openStore(ctx, tables)
	if err != nil {
		return err
	}
	err = store.DeleteUser(ctx, username)
	if errors.Is(err, oauth.ErrNotFound) {
		return fmt.Errorf("unknown user %q (not in table %s)", username, tables.Users)
	}
	if err != nil {
		return c.explain(err, tables.Users)
	}
	fmt.Fprintf(c.stdout, "Deleted user %q.\n", username)
	fmt.Fprintln(c.stderr, "Note: the user's live sign-in sessions and the tokens already issued to it are not revoked; "+
		"they last until they expire (or are revoked).")
	return nil
}

// passwords is how the command hashes and checks user passwords: the
// test's hasher, or passwords.Default.
func (c *cli) passwords() passwords.Scheme {
	if c.hasher != nil {
		return passwords.Scheme{Hasher: *c.hasher}
	}
	return passwords.DefaultScheme()
}
