package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
)

func TestUsersCreateDelete(t *testing.T) {
	h := newHarnessWithTables(t)
	ctx := context.Background()
	check := passwords.Checker{}

	for _, tt := range []struct {
		stdin, username, subject, password string
		args                               []string
	}{
		{"wonderland-rabbit-42\n", "alice", "", "wonderland-rabbit-42", nil},
		{"two words \r\nignored second line\n", "bob@example.com", "user-0002", "two words ", []string{"--subject", "user-0002"}},
		{"no newline", "carol", "", "no newline", nil},
	} {
		r := h.must(h.users(tt.stdin, append([]string{"create", "--username", tt.username}, tt.args...)...))
		got := decode[userJSON](t, r.stdout)
		if tt.subject == "" {
			// Server-assigned: opaque, 128 random bits, never the username.
			if len(got.Subject) != 22 || got.Subject == tt.username {
				t.Errorf("assigned subject %q for %s", got.Subject, tt.username)
			}
			tt.subject = got.Subject
		}
		if got != (userJSON{Username: tt.username, Subject: tt.subject}) {
			t.Errorf("printed %+v", got)
		}
		u, err := h.store.GetUser(ctx, tt.username)
		if err != nil {
			t.Fatal(err)
		}
		if u.Subject != tt.subject || !check.CheckPassword(u.PasswordHash, tt.password) ||
			check.CheckPassword(u.PasswordHash, tt.password+"x") || strings.Contains(u.PasswordHash, tt.password) {
			t.Errorf("stored %+v for password %q", u, tt.password)
		}
	}

	wantFail(t, h.users("other\n", "create", "--username", "alice"), 1, `gatehouse users create: user "alice" already exists`)
	wantFail(t, h.users("", "create", "--username", "dave"), 1, "gatehouse users create: empty password")
	wantFail(t, h.users("\n", "create", "--username", "dave"), 1, "empty password")
	wantFail(t, h.users(strings.Repeat("x", 2000)+"\n", "create", "--username", "dave"), 1, "longer than 1024 bytes")
	if _, err := h.store.GetUser(ctx, "dave"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("dave was created: %v", err)
	}
	wantFail(t, h.users("pw\n", "create"), 2, "gatehouse users create: --username is required")
	wantFail(t, h.users("pw\n", "create", "--username", " eve"), 2, `--username: " eve" must not have control characters or surrounding spaces`)
	wantFail(t, h.users("pw\n", "create", "--username", "eve", "--subject", "a\tb"), 2, `--subject: "a\tb" must not have control characters`)
	wantFail(t, h.users("pw\n", "create", "eve"), 2, `unexpected argument "eve"`)

	r := h.must(h.users("", "delete", "--username", "alice"))
	if !strings.Contains(r.stdout, `Deleted user "alice"`) || !strings.Contains(r.stderr, "not revoked") {
		t.Errorf("delete: %+v", r)
	}
	if _, err := h.store.GetUser(ctx, "alice"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("alice still stored: %v", err)
	}
	wantFail(t, h.users("", "delete", "--username", "alice"), 1, `gatehouse users delete: unknown user "alice"`)
	wantFail(t, h.users("", "delete"), 2, "--username is required")
	wantFail(t, h.run("", "users"), 2, "Usage: gatehouse users <command>")
}

// Without a test hasher the command hashes with passwords.Default.
func TestUsersCreateDefaultHasher(t *testing.T) {
	h := newHarnessWithTables(t)
	h.hasher = nil
	h.must(h.users("s3cret-passphrase\n", "create", "--username", "frank"))
	u, err := h.store.GetUser(context.Background(), "frank")
	if err != nil {
		t.Fatal(err)
	}
	want, err := passwords.Default.Hash("s3cret-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	// Same algorithm and parameters: everything up to the salt.
	prefix := want[:strings.LastIndex(want[:strings.LastIndex(want, "$")], "$")]
	if !strings.HasPrefix(u.PasswordHash, prefix) || !(passwords.Checker{}).CheckPassword(u.PasswordHash, "s3cret-passphrase") {
		t.Errorf("hash %q; want the Default hasher's (%s...)", u.PasswordHash, prefix)
	}
}
