package oauth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// testClock is a settable clock for the server and the store.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// TestAccessTokenLifetimeCapped: a client's own access-token lifetime is
// capped at Config.MaxAccessTokenLifetime (default 24 h), in the token's
// exp and in expires_in (RFC 6749 §5.1), so that a JWT a resource server
// verifies on its own cannot outlive a revocation by more than the cap.
// Before the cap a client registered for 30 days got 30-day tokens.
func TestAccessTokenLifetimeCapped(t *testing.T) {
	signer, err := localsigner.New("RS256")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const day = 24 * time.Hour
	tests := []struct {
		name           string
		max, def       time.Duration // server's MaxAccessTokenLifetime and AccessTokenLifetime (0: defaults)
		clientLifetime time.Duration
		want           time.Duration
	}{
		{"server default", 0, 0, 0, oauth.DefaultAccessTokenLifetime},
		{"client's own, under the cap", 0, 0, 12 * time.Hour, 12 * time.Hour},
		{"client's own at the default cap", 0, 0, day, day},
		{"client's 30 days, default cap", 0, 0, 30 * day, oauth.DefaultMaxAccessTokenLifetime},
		{"client's 30 days, 48 h cap", 48 * time.Hour, 0, 30 * day, 48 * time.Hour},
		{"client's 36 h, 48 h cap", 48 * time.Hour, 0, 36 * time.Hour, 36 * time.Hour},
		{"server default over the cap", 30 * time.Minute, 0, 0, 30 * time.Minute},
		{"server's 2 h, client's 1 year, 90 min cap", 90 * time.Minute, 2 * time.Hour, 365 * day, 90 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := oauth.Config{Issuer: "https://auth.example.com", MaxAccessTokenLifetime: tt.max, AccessTokenLifetime: tt.def}
			srv, err := oauth.NewServer(cfg, memstore.New(), signer, nil)
			if err != nil {
				t.Fatal(err)
			}
			client := &oauth.Client{ID: "svc", SecretHash: oauth.HashSecret("s"), GrantTypes: []string{oauth.GrantClientCredentials},
				TokenEndpointAuthMethod: oauth.AuthMethodBasic, AccessTokenLifetime: tt.clientLifetime}
			resp, err := srv.Token(ctx, client, &oauth.TokenRequest{GrantType: oauth.GrantClientCredentials})
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(resp.ExpiresIn) * time.Second; got != tt.want {
				t.Errorf("expires_in %s, want %s", got, tt.want)
			}
			claims, err := srv.Verifier().Verify(ctx, resp.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if got := claims.ExpiresAt.Sub(claims.IssuedAt.Time); got != tt.want {
				t.Errorf("exp - iat = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestGrantRevocationOutlivesItsTokens: a revoked grant's mark is kept as
// long as any of its access tokens can live, which with long per-client
// lifetimes is longer than the refresh-token lifetime. Before, the mark was
// kept for max(refresh lifetime, default access-token lifetime): a client
// with 60-day tokens and 30-day refresh tokens had its revoked tokens come
// back to life at introspection after 30 days.
func TestGrantRevocationOutlivesItsTokens(t *testing.T) {
	signer, err := localsigner.New("RS256")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const day = 24 * time.Hour
	clk := &testClock{now: time.Now().Truncate(time.Second)}
	store := memstore.New()
	store.Now = clk.Now
	hash, err := passwords.Hasher{Memory: 64, Iterations: 1, Parallelism: 1}.Hash("wonderland")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutUser(ctx, &oauth.User{Subject: "u1", Username: "alice", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	srv, err := oauth.NewServer(oauth.Config{
		Issuer:                 "https://auth.example.com",
		MaxAccessTokenLifetime: 60 * day,
		RefreshTokenLifetime:   30 * day,
		Now:                    clk.Now,
	}, store, signer, passwords.Checker{})
	if err != nil {
		t.Fatal(err)
	}
	client := &oauth.Client{ID: "migrator", SecretHash: oauth.HashSecret("s"),
		GrantTypes:              []string{oauth.GrantPassword, oauth.GrantRefreshToken},
		TokenEndpointAuthMethod: oauth.AuthMethodBasic, AccessTokenLifetime: 60 * day}
	first, err := srv.Token(ctx, client, &oauth.TokenRequest{GrantType: oauth.GrantPassword, Username: "alice", Password: "wonderland", RemoteAddr: "203.0.113.7"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Token(ctx, client, &oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: first.RefreshToken}); err != nil {
		t.Fatal(err)
	}
	// Reuse of the rotated refresh token revokes the grant.
	_, err = srv.Token(ctx, client, &oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: first.RefreshToken})
	if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.CodeInvalidGrant {
		t.Fatalf("reuse: %v, want invalid_grant", err)
	}
	start := clk.Now()
	for _, after := range []time.Duration{0, 31 * day, 59 * day} {
		clk.Set(start.Add(after))
		in, err := srv.Introspect(ctx, client, first.AccessToken, "")
		if err != nil {
			t.Fatal(err)
		}
		if in.Active {
			t.Fatalf("%s after the grant was revoked, its access token (exp in 60 days) is active again", after)
		}
	}
}
