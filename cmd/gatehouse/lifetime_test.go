package main

import (
	"testing"

	"github.com/gatehouse/gatehouse/shared/config"
)

// TestClientsCreateLifetimeCap: `gatehouse clients create` refuses an
// access-token lifetime over GATEHOUSE_MAX_ACCESS_TOKEN_TTL (default 24 h),
// read from the environment as the server reads it, before reaching
// DynamoDB; before the cap it accepted up to a year.
func TestClientsCreateLifetimeCap(t *testing.T) {
	h := newOfflineHarness(t)
	wantFail(t, h.run("", "clients", "create", "--grant-type", "client_credentials", "--access-token-lifetime", "25h"), 2,
		"--access-token-lifetime: 90000 is out of range: want seconds between 1 and 86400 (GATEHOUSE_MAX_ACCESS_TOKEN_TTL is 24h0m0s)")
	h.env[config.EnvMaxAccessTokenTTL] = "12h"
	wantFail(t, h.run("", "clients", "create", "--grant-type", "client_credentials", "--access-token-lifetime", "13h"), 2,
		"--access-token-lifetime: 46800 is out of range: want seconds between 1 and 43200 (GATEHOUSE_MAX_ACCESS_TOKEN_TTL is 12h0m0s)")
	h.env[config.EnvMaxAccessTokenTTL] = "soon"
	wantFail(t, h.run("", "clients", "create", "--grant-type", "client_credentials"), 2,
		`GATEHOUSE_MAX_ACCESS_TOKEN_TTL: invalid duration "soon"`)
}

// TestClientsCreateUnderARaisedCap: with the maximum raised, a longer
// lifetime is registered.
func TestClientsCreateUnderARaisedCap(t *testing.T) {
	h := newHarnessWithTables(t)
	h.env[config.EnvMaxAccessTokenTTL] = "48h"
	r := h.must(h.clients("create", "--id", "batch", "--grant-type", "client_credentials", "--access-token-lifetime", "36h"))
	if got := decode[clientJSON](t, r.stdout).AccessTokenLifetime; got != 36*3600 {
		t.Errorf("access_token_lifetime %d, want %d", got, 36*3600)
	}
}
