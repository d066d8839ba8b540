package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gatehouse/gatehouse/shared/config"
)

// startServe runs `gatehouse serve args...` in the background with the
// harness's DynamoDB client and environment, and returns its issuer; the
// server stops when the test ends.
func (h *harness) startServe(args ...string) string {
	t := h.t
	t.Helper()
	var stdout, stderr syncBuffer
	c := &cli{
		stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, env: mapEnv(h.env),
		dynamoDB: func(context.Context) (*dynamodb.Client, error) { return h.client, nil },
	}
	banner := serveInBackground(t, &stdout, &stderr, func(ctx context.Context) int { return c.run(ctx, serveArgs(args...)) })
	for _, want := range []string{"dynamodb (tables " + h.tables.Clients, "gatehouse clients list"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	return bannerIssuer(t, banner)
}

// serveInBackground runs serve (a `gatehouse serve` writing to stdout and
// stderr) until the test ends, and returns its banner once it is serving.
func serveInBackground(t *testing.T, stdout, stderr *syncBuffer, serve func(ctx context.Context) int) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not shut down")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "Press Ctrl+C") {
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start; stdout %q, stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return stdout.String()
}

// bannerIssuer returns the issuer serve's banner shows.
func bannerIssuer(t *testing.T, banner string) string {
	t.Helper()
	m := regexp.MustCompile(`issuer\s+(http://127\.0\.0\.1:\d+)\n`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no issuer in banner:\n%s", banner)
	}
	return m[1]
}

func clientCredentials(t *testing.T, issuer, id, secret string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body.AccessToken + body.Error
}

// serve --store dynamodb serves what the admin commands manage, with the
// table flags and the same variables as the functions.
func TestServeDynamoDB(t *testing.T) {
	h := newHarnessWithTables(t)
	c := decode[clientJSON](t, h.must(h.clients("create", "--id", "svc", "--grant-type", "client_credentials", "--scope", "read")).stdout)

	h.env[config.EnvClientCacheTTL] = "0" // see a rotation at once
	h.env[config.EnvUsersTable] = h.tables.Users
	issuer := h.startServe(append([]string{"--store", "dynamodb"}, h.allTableFlags()...)...)

	if code, tok := clientCredentials(t, issuer, "svc", c.ClientSecret); code != http.StatusOK || tok == "" {
		t.Fatalf("token: %d %q", code, tok)
	}
	rotated := decode[clientJSON](t, h.must(h.clients("rotate-secret", "svc")).stdout)
	if code, body := clientCredentials(t, issuer, "svc", c.ClientSecret); code != http.StatusOK {
		t.Errorf("old secret in the rotation's grace period: %d %q", code, body)
	}
	if code, _ := clientCredentials(t, issuer, "svc", rotated.ClientSecret); code != http.StatusOK {
		t.Errorf("new secret: %d", code)
	}
	again := decode[clientJSON](t, h.must(h.clients("rotate-secret", "svc", "--grace", "0")).stdout)
	for _, old := range []string{c.ClientSecret, rotated.ClientSecret} {
		if code, body := clientCredentials(t, issuer, "svc", old); code != http.StatusUnauthorized || body != "invalid_client" {
			t.Errorf("old secret after rotate-secret --grace 0: %d %q", code, body)
		}
	}
	if code, _ := clientCredentials(t, issuer, "svc", again.ClientSecret); code != http.StatusOK {
		t.Errorf("newest secret: %d", code)
	}
	h.must(h.clients("delete", "svc"))
	if code, _ := clientCredentials(t, issuer, "svc", rotated.ClientSecret); code != http.StatusUnauthorized {
		t.Errorf("deleted client: %d", code)
	}
}

// On a warm client cache (the default TTL), a secret just set by
// rotate-secret works at once, and the old one during the grace period:
// the wiring hands the cache a store that reads a client afresh.
func TestServeDynamoDBRotationOnWarmCache(t *testing.T) {
	h := newHarnessWithTables(t)
	c := decode[clientJSON](t, h.must(h.clients("create", "--id", "svc", "--grant-type", "client_credentials", "--scope", "read")).stdout)
	h.env[config.EnvUsersTable] = h.tables.Users
	issuer := h.startServe(append([]string{"--store", "dynamodb"}, h.allTableFlags()...)...)

	if code, tok := clientCredentials(t, issuer, "svc", c.ClientSecret); code != http.StatusOK || tok == "" {
		t.Fatalf("token, warming the cache: %d %q", code, tok)
	}
	rotated := decode[clientJSON](t, h.must(h.clients("rotate-secret", "svc")).stdout)
	if code, body := clientCredentials(t, issuer, "svc", rotated.ClientSecret); code != http.StatusOK {
		t.Errorf("new secret at once: %d %q", code, body)
	}
	if code, body := clientCredentials(t, issuer, "svc", c.ClientSecret); code != http.StatusOK {
		t.Errorf("old secret in the grace period: %d %q", code, body)
	}
	if code, body := clientCredentials(t, issuer, "svc", "Wrong-Secret-42"); code != http.StatusUnauthorized || body != "invalid_client" {
		t.Errorf("wrong secret: %d %q", code, body)
	}
}

// The store can come from the environment alone, as for the functions.
func TestServeDynamoDBFromEnvironment(t *testing.T) {
	h := newHarnessWithTables(t)
	h.env[config.EnvStore] = "dynamodb"
	for i, env := range config.TableVariables {
		h.env[env] = []string{h.tables.Clients, h.tables.Users, h.tables.Codes, h.tables.Tokens, h.tables.Sessions}[i]
	}
	issuer := h.startServe()
	if code, body := clientCredentials(t, issuer, "nobody", "x"); code != http.StatusUnauthorized || body != "invalid_client" {
		t.Errorf("unknown client: %d %q", code, body)
	}
}

func serveArgs(args ...string) []string {
	return append([]string{"serve", "--addr", "127.0.0.1:0", "--signing-key=", "--signing-alg", "ES256"}, args...)
}

func TestServeDynamoDBMissingTables(t *testing.T) {
	h := newHarness(t) // no tables
	wantFail(t, h.run("", serveArgs(append([]string{"--store", "dynamodb"}, h.allTableFlags()...)...)...), 1,
		"gatehouse serve: table "+h.tables.Clients+" does not exist: create the tables first with `gatehouse tables create`")
}

func TestServeDynamoDBBadConfig(t *testing.T) {
	h := newOfflineHarness(t)
	serve := func(args ...string) result { return h.run("", serveArgs(args...)...) }
	wantFail(t, serve("--store", "dynamodb", "--seed", "../../dev/seed.json"), 1,
		"GATEHOUSE_SEED_FILE: a seed file is only for the memory store")
	wantFail(t, serve("--store", "dynamodb", "--sessions-table", "x"), 2, `--sessions-table: "x" is not a valid DynamoDB table name`)
	wantFail(t, serve("--store", "sqlite"), 1, `GATEHOUSE_STORE: unsupported value "sqlite"`)
}
