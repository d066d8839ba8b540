package main

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/passwords"
)

// users create and users update set a user's OpenID Connect claims
// (OpenID Connect Core 1.0 §5.1), validated as the seed's, on DynamoDB
// Local; update changes only the claims given and keeps the password,
// subject and consents.
func TestUsersClaims(t *testing.T) {
	h := newHarnessWithTables(t)
	ctx := context.Background()
	before := time.Now().Unix()
	r := h.must(h.users("pw-alice\n", "create", "--username", "alice", "--subject", "u-alice",
		"--name", "Alice Liddell", "--given-name", "Alice", "--family-name", "Liddell",
		"--email", "alice@example.com", "--email-verified", "true", "--phone-number", "+441632960001",
		"--locale", "en-GB", "--zoneinfo", "Europe/London", "--address-country", "UK"))
	got := decode[userJSON](t, r.stdout)
	if got.Claims == nil || got.Claims.Name != "Alice Liddell" || got.Claims.UpdatedAt < before {
		t.Fatalf("printed %+v", got)
	}
	u, err := h.store.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	c := u.Claims
	if c == nil || c.GivenName != "Alice" || c.FamilyName != "Liddell" || c.Email != "alice@example.com" ||
		c.EmailVerified == nil || !*c.EmailVerified || c.PhoneNumber != "+441632960001" || c.Locale != "en-GB" ||
		c.Zoneinfo != "Europe/London" || c.Address == nil || c.Address.Country != "UK" || c.UpdatedAt < before {
		t.Fatalf("stored claims %+v", c)
	}
	// Pretend the claims were set long ago, and alice consented to a client.
	u.Claims.UpdatedAt = 1000
	u.Consents = map[string][]string{"web": {"openid", "email"}}
	if err := h.store.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}

	// Refused updates change nothing.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--email", "not-an-address"}, `--email: "not-an-address" is not an email address`},
		{[]string{"--email-verified", "yes"}, `--email-verified: "yes" must be true or false`},
		{[]string{"--picture", "ftp://x.example/a.png"}, `--picture: "ftp://x.example/a.png" must be an absolute http or https URL`},
		{[]string{"--phone-number", "555-1234"}, `--phone-number: "555-1234" must be in E.164 format`},
		{[]string{"--locale", "en_US"}, `--locale: "en_US" must be a BCP 47 language tag`},
		{[]string{"--zoneinfo", "Nowhere/Atlantis"}, `--zoneinfo: "Nowhere/Atlantis" is not an IANA time zone name`},
		{[]string{"--birthdate", "1990-13-01"}, `--birthdate: "1990-13-01" must be YYYY-MM-DD`},
		{[]string{"--address-country", "U\nK"}, `--address-country: "U\nK" must not have control characters`},
		{nil, "nothing to change"},
	} {
		wantFail(t, h.users("", append([]string{"update", "--username", "alice"}, tt.args...)...), 2, tt.want)
	}
	wantFail(t, h.users("", "update", "--username", "nobody", "--name", "X"), 1, `unknown user "nobody"`)
	wantFail(t, h.users("pw\n", "create", "--username", "bob", "--email", "bob"), 2, `--email: "bob" is not an email address`)
	if same, _ := h.store.GetUser(ctx, "alice"); same.Claims.UpdatedAt != 1000 || same.Claims.Email != "alice@example.com" {
		t.Fatalf("a refused update changed the user: %+v", same.Claims)
	}

	// Setting a claim to the value it has keeps updated_at.
	h.must(h.users("", "update", "--username", "alice", "--name", "Alice Liddell"))
	if same, _ := h.store.GetUser(ctx, "alice"); same.Claims.UpdatedAt != 1000 {
		t.Errorf("unchanged claims: updated_at = %d, want 1000 kept", same.Claims.UpdatedAt)
	}

	// A change: only the given claims; an empty value removes one.
	h.must(h.users("", "update", "--username", "alice", "--nickname", "Al", "--email", "", "--email-verified", "", "--address-country", ""))
	after, err := h.store.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	c = after.Claims
	if c.Nickname != "Al" || c.Email != "" || c.EmailVerified != nil || c.Address != nil || c.Name != "Alice Liddell" ||
		c.Locale != "en-GB" || c.UpdatedAt < before {
		t.Errorf("after update: %+v", c)
	}
	if after.Subject != "u-alice" || !(passwords.Checker{}).CheckPassword(after.PasswordHash, "pw-alice") ||
		len(after.Consents["web"]) != 2 {
		t.Errorf("update lost the subject, password or consents: %+v", after)
	}
	if by, err := h.store.GetUserBySubject(ctx, "u-alice"); err != nil || by.Claims == nil || by.Claims.Nickname != "Al" {
		t.Errorf("GetUserBySubject = %+v, %v", by, err)
	}
}
