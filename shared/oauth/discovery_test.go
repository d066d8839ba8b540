package oauth_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// TestDiscoveryMatchesServer: the metadata and JWK Set a store-less
// Discovery publishes (the metadata function) are exactly the Server's.
func TestDiscoveryMatchesServer(t *testing.T) {
	signer, err := localsigner.New("ES256")
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth.Config{Issuer: "https://auth.example.com/", ScopesSupported: []string{"read", "write"}}
	srv, err := oauth.NewServer(cfg, memstore.New(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := oauth.NewDiscovery(cfg, signer)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Metadata(), srv.Metadata(); !reflect.DeepEqual(got, want) {
		t.Errorf("Discovery.Metadata() = %+v\nServer.Metadata() = %+v", got, want)
	}
	if got := d.Metadata().Issuer; got != "https://auth.example.com" {
		t.Errorf("issuer %q: the trailing slash is not trimmed", got)
	}
	ctx := context.Background()
	got, err := d.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := srv.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Keys) != 1 || !reflect.DeepEqual(got, want) {
		t.Errorf("Discovery.JWKS() = %+v, Server.JWKS() = %+v", got, want)
	}
}

// TestNewDiscoveryChecksConfig: a bad issuer or a missing signer fails as
// NewServer does.
func TestNewDiscoveryChecksConfig(t *testing.T) {
	signer, err := localsigner.New("RS256")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oauth.NewDiscovery(oauth.Config{Issuer: "http://auth.example.com"}, signer); err == nil {
		t.Error("an http issuer on a public host was accepted")
	}
	if _, err := oauth.NewDiscovery(oauth.Config{Issuer: "https://auth.example.com"}, nil); err == nil {
		t.Error("a nil signer was accepted")
	}
}

// TestServerWithoutPasswords: a server built without a password checker
// (the introspection and revocation functions) answers a password with
// server_error, rather than panicking, and counts no failed login: more
// attempts than the limit leave the user free to sign in on a server that
// has one.
func TestServerWithoutPasswords(t *testing.T) {
	signer, err := localsigner.New("ES256")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := memstore.New()
	hash, err := passwords.Hasher{Memory: 64, Iterations: 1, Parallelism: 1}.Hash("wonderland")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutUser(ctx, &oauth.User{Subject: "u1", Username: "alice", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	cfg := oauth.Config{Issuer: "https://auth.example.com", LoginMaxFailures: 2}
	without, err := oauth.NewServer(cfg, store, signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, _, err = without.Login(ctx, "alice", "wonderland", "203.0.113.7")
		if oe := oauth.AsError(err); oe.Code != oauth.CodeServerError || errors.Is(err, oauth.ErrLoginFailed) {
			t.Fatalf("Login without a password checker: %v, want server_error", err)
		}
	}
	with, err := oauth.NewServer(cfg, store, signer, passwords.Checker{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := with.Login(ctx, "alice", "wonderland", "203.0.113.7"); err != nil {
		t.Errorf("Login after the refused attempts: %v (were they counted as failures?)", err)
	}
}
