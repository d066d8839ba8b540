package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// writeJWKS writes a JWK Set of one fresh P-256 key (kid "ec-1") to a file
// and returns its path and the set.
func writeJWKS(t *testing.T) (string, *oauth.JWKS) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	j, err := oauth.NewJWK(&k.PublicKey, "ec-1", "ES256")
	if err != nil {
		t.Fatal(err)
	}
	set := &oauth.JWKS{Keys: []oauth.JWK{j}}
	data, _ := json.Marshal(set)
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, set
}

// TestClientsCreatePrivateKeyJWT: `clients create --jwks-file` and
// `--jwks-uri` register a private_key_jwt client, without a secret; the
// keys show in get and list; rotate-secret refuses it.
func TestClientsCreatePrivateKeyJWT(t *testing.T) {
	h := newHarnessWithTables(t)
	ctx := context.Background()
	path, set := writeJWKS(t)

	r := h.must(h.clients("create", "--id", "inline", "--grant-type", "client_credentials", "--scope", "read", "--jwks-file", path))
	got := decode[clientJSON](t, r.stdout)
	want := clientJSON{ClientID: "inline", RedirectURIs: []string{}, GrantTypes: []string{"client_credentials"}, ResponseTypes: []string{},
		Scope: "read", TokenEndpointAuthMethod: oauth.AuthMethodPrivateKeyJWT, JWKS: set}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("output\n%+v\nwant\n%+v", got, want)
	}
	if strings.Contains(r.stdout, "client_secret\"") || strings.Contains(r.stderr, "shown only this once") {
		t.Errorf("a private_key_jwt client got a secret: %s %s", r.stdout, r.stderr)
	}
	stored, err := h.store.GetClient(ctx, "inline")
	if err != nil {
		t.Fatal(err)
	}
	if stored.SecretHash != "" || !reflect.DeepEqual(stored.JWKS, set) || stored.TokenEndpointAuthMethod != oauth.AuthMethodPrivateKeyJWT {
		t.Errorf("stored %+v", stored)
	}

	h.must(h.clients("create", "--id", "remote", "--grant-type", "client_credentials",
		"--auth-method", "private_key_jwt", "--jwks-uri", "https://remote.example.com/jwks.json"))
	if got := decode[clientJSON](t, h.must(h.clients("get", "remote")).stdout); got.JWKSURI != "https://remote.example.com/jwks.json" ||
		got.JWKS != nil || got.TokenEndpointAuthMethod != oauth.AuthMethodPrivateKeyJWT {
		t.Errorf("get remote = %+v", got)
	}
	if list := h.must(h.clients("list")).stdout; !strings.Contains(list, `"jwks_uri": "https://remote.example.com/jwks.json"`) ||
		!strings.Contains(list, `"kid": "ec-1"`) {
		t.Errorf("list:\n%s", list)
	}
	wantFail(t, h.clients("rotate-secret", "inline"), 1, `client "inline" authenticates with private_key_jwt: it has no secret to rotate`)
}

func TestClientsCreatePrivateKeyJWTBadFlags(t *testing.T) {
	h := newOfflineHarness(t)
	path, _ := writeJWKS(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cc := []string{"--grant-type", "client_credentials"}
	tests := []struct {
		args  []string
		wants []string
	}{
		{[]string{"--auth-method", "private_key_jwt"}, []string{"--jwks-file: a private_key_jwt client needs its public keys"}},
		{[]string{"--jwks-file", path, "--jwks-uri", "https://x.example.com/jwks"}, []string{"--jwks-uri: give jwks or jwks_uri, not both"}},
		{[]string{"--jwks-uri", "http://x.example.com/jwks"}, []string{`--jwks-uri: "http://x.example.com/jwks" must use https`}},
		{[]string{"--jwks-file", filepath.Join(t.TempDir(), "missing.json")}, []string{"--jwks-file: open", "no such file"}},
		{[]string{"--jwks-file", bad}, []string{`--jwks-file: keys[0] (kid "h") holds private or secret key material ("k")`}},
		{[]string{"--auth-method", "client_secret_basic", "--jwks-file", path}, []string{"--jwks-file: is only for token_endpoint_auth_method"}},
	}
	for _, tt := range tests {
		r := h.run("", append(append([]string{"clients", "create"}, cc...), tt.args...)...)
		wantFail(t, r, 2, tt.wants...)
		if r.stdout != "" {
			t.Errorf("%q: printed %q", tt.args, r.stdout)
		}
	}
}
