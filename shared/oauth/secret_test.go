package oauth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// TestClientSecretMatches: the current secret always; the previous one a
// rotation kept only before its expiry; an empty hash never, not even for
// an empty secret.
func TestClientSecretMatches(t *testing.T) {
	t0 := time.Unix(1_900_000_000, 0)
	rotated := &oauth.Client{SecretHash: oauth.HashSecret("old")}
	rotated.RotateSecret("new", t0, time.Hour)
	tests := []struct {
		name   string
		client *oauth.Client
		secret string
		at     time.Time
		want   bool
	}{
		{"current", rotated, "new", t0, true},
		{"previous, at once", rotated, "old", t0, true},
		{"previous, a second before its end", rotated, "old", t0.Add(time.Hour - time.Second), true},
		{"previous, at its end", rotated, "old", t0.Add(time.Hour), false},
		{"current, long after", rotated, "new", t0.Add(1000 * time.Hour), true},
		{"wrong", rotated, "other", t0, false},
		{"empty secret", rotated, "", t0, false},
		{"public client, empty secret", &oauth.Client{}, "", t0, false},
		{"previous hash without expiry", &oauth.Client{SecretHash: oauth.HashSecret("a"), PreviousSecretHash: oauth.HashSecret("b")}, "b", t0, false},
		{"expiry without previous hash", &oauth.Client{SecretHash: oauth.HashSecret("a"), PreviousSecretExpiresAt: t0.Add(time.Hour)}, "", t0, false},
	}
	for _, tt := range tests {
		if got := tt.client.SecretMatches(tt.secret, tt.at); got != tt.want {
			t.Errorf("%s: SecretMatches = %v, want %v", tt.name, got, tt.want)
		}
	}

	// No grace: the old secret goes at once. A second rotation drops the
	// secret the first one kept.
	c := &oauth.Client{SecretHash: oauth.HashSecret("one")}
	c.RotateSecret("two", t0, 0)
	if c.SecretMatches("one", t0) || c.PreviousSecretHash != "" || !c.PreviousSecretExpiresAt.IsZero() {
		t.Errorf("a rotation without grace kept the old secret: %+v", c)
	}
	c.RotateSecret("three", t0, time.Hour)
	c.RotateSecret("four", t0, time.Hour)
	if c.SecretMatches("two", t0) || !c.SecretMatches("three", t0) || !c.SecretMatches("four", t0) {
		t.Errorf("after two rotations: %+v", c)
	}
}

// staleStore serves GetClient from a snapshot taken before a rotation, as
// a warm cache does, and ReloadClient from the store itself; reloadErr, if
// set, fails the reload.
type staleStore struct {
	*memstore.Store
	stale     map[string]*oauth.Client
	reloads   int
	reloadErr error
}

func (s *staleStore) GetClient(_ context.Context, id string) (*oauth.Client, error) {
	if c, ok := s.stale[id]; ok {
		cc := *c
		return &cc, nil
	}
	return nil, oauth.ErrNotFound
}

func (s *staleStore) ReloadClient(ctx context.Context, id string) (*oauth.Client, error) {
	s.reloads++
	if s.reloadErr != nil {
		return nil, s.reloadErr
	}
	return s.Store.GetClient(ctx, id)
}

// TestAuthenticateClientReloads: a secret that fails against a stale
// record is checked once more against a fresh one, so a new secret works
// at once; a right secret costs no fresh read; a fault of the fresh read
// is a server error, not "wrong secret".
func TestAuthenticateClientReloads(t *testing.T) {
	ctx := context.Background()
	signer, err := localsigner.New("RS256")
	if err != nil {
		t.Fatal(err)
	}
	mem := memstore.New()
	old := &oauth.Client{ID: "svc", SecretHash: oauth.HashSecret("old"), GrantTypes: []string{oauth.GrantClientCredentials},
		TokenEndpointAuthMethod: oauth.AuthMethodBasic}
	store := &staleStore{Store: mem, stale: map[string]*oauth.Client{"svc": old}}
	rotated := *old
	rotated.RotateSecret("new", time.Now(), time.Hour)
	if err := mem.PutClient(ctx, &rotated); err != nil {
		t.Fatal(err)
	}
	srv, err := oauth.NewServer(oauth.Config{Issuer: "https://auth.example.com"}, store, signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := func(secret string) (*oauth.Client, error) {
		return srv.AuthenticateClient(ctx, oauth.ClientCredentials{Method: oauth.AuthMethodBasic, ClientID: "svc", Secret: secret})
	}

	if _, err := auth("old"); err != nil || store.reloads != 0 {
		t.Errorf("old secret on the stale record: %v, %d reloads; want success without one", err, store.reloads)
	}
	if c, err := auth("new"); err != nil || store.reloads != 1 || c.SecretHash != oauth.HashSecret("new") {
		t.Errorf("new secret: %+v, %v, %d reloads; want the fresh record after one", c, err, store.reloads)
	}
	if _, err := auth("wrong"); oauth.AsError(err).Code != oauth.CodeInvalidClient || store.reloads != 2 {
		t.Errorf("wrong secret: %v, %d reloads; want invalid_client after one more", err, store.reloads)
	}
	store.reloadErr = errors.Join(errors.New("throttled"), oauth.ErrUnavailable)
	if _, err := auth("new"); oauth.AsError(err).Code != oauth.CodeTemporarilyUnavailable {
		t.Errorf("new secret, reload failing: %v, want temporarily_unavailable", err)
	}
	store.reloadErr = oauth.ErrNotFound
	if _, err := auth("new"); oauth.AsError(err).Code != oauth.CodeInvalidClient {
		t.Errorf("new secret, client gone: %v, want invalid_client", err)
	}
	// A fresh record with another method does not authenticate this one.
	store.reloadErr = nil
	post := rotated
	post.TokenEndpointAuthMethod = oauth.AuthMethodPost
	if err := mem.PutClient(ctx, &post); err != nil {
		t.Fatal(err)
	}
	if _, err := auth("new"); oauth.AsError(err).Code != oauth.CodeInvalidClient {
		t.Errorf("new secret, now registered for client_secret_post: %v, want invalid_client", err)
	}
}

// BenchmarkClientSecretMatches: checking a secret costs the same whichever
// secret it matches, and whether or not the client has a previous one.
func BenchmarkClientSecretMatches(b *testing.B) {
	t0 := time.Unix(1_900_000_000, 0)
	rotated := &oauth.Client{SecretHash: oauth.HashSecret("old")}
	rotated.RotateSecret("new", t0, time.Hour)
	plain := &oauth.Client{SecretHash: oauth.HashSecret("new")}
	for _, bc := range []struct {
		name   string
		client *oauth.Client
		secret string
	}{
		{"rotated/current", rotated, "new"},
		{"rotated/previous", rotated, "old"},
		{"rotated/wrong", rotated, "wrong"},
		{"plain/current", plain, "new"},
		{"plain/wrong", plain, "wrong"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				bc.client.SecretMatches(bc.secret, t0)
			}
		})
	}
}
