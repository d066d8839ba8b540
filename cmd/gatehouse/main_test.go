package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/config"
)

func noEnv(string) (string, bool) { return "", false }

func mapEnv(m map[string]string) lookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// run runs gatehouse with args, an environment and no standard input,
// as main would.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env lookupEnv) int {
	c := &cli{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, env: env}
	return c.run(ctx, args)
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, noEnv)
	return code, out.String(), errOut.String()
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		out, errIn string
	}{
		{nil, 2, "", "Usage:\n  gatehouse <command>"},
		{[]string{"frobnicate"}, 2, "", `gatehouse: unknown command "frobnicate"`},
		{[]string{"help"}, 0, "gatehouse serve --seed dev/seed.json", ""},
		{[]string{"--help"}, 0, "Commands:", ""},
		{[]string{"help", "serve"}, 0, "-signing-key file", ""},
		{[]string{"serve", "-h"}, 0, "", "Usage: gatehouse serve [flags]"},
		{[]string{"serve", "--no-such-flag"}, 2, "", "flag provided but not defined: -no-such-flag"},
		{[]string{"serve", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"help", "clients"}, 0, "rotate-secret ID", ""},
		{[]string{"help", "users"}, 0, "create --username NAME", ""},
		{[]string{"help", "tables"}, 0, "gatehouse tables create", ""},
		{[]string{"help", "frobnicate"}, 2, "", `gatehouse help: unknown command "frobnicate"`},
		{[]string{"users", "rename"}, 2, "", `unknown subcommand "rename"`},
		{[]string{"tables", "create", "-h"}, 0, "", "-sessions-table table"},
		{[]string{"serve", "-h"}, 0, "", "-store store"},
		{[]string{"version"}, 0, "gatehouse ", ""},
		{[]string{"--version"}, 0, "gatehouse ", ""},
	}
	for _, tt := range tests {
		code, out, errOut := runCmd(tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.errIn) {
			t.Errorf("gatehouse %q: exit %d, stdout %q, stderr %q; want exit %d, stdout ⊇ %q, stderr ⊇ %q",
				tt.args, code, out, errOut, tt.code, tt.out, tt.errIn)
		}
	}
}

func TestVersionString(t *testing.T) {
	if v := versionString(); !regexp.MustCompile(`^gatehouse \S+ \(go\S+ \w+/\w+\)$`).MatchString(v) {
		t.Errorf("versionString() = %q", v)
	}
	version = "v1.2.3"
	defer func() { version = "" }()
	if v := versionString(); !strings.HasPrefix(v, "gatehouse v1.2.3 (") {
		t.Errorf("versionString() = %q", v)
	}
}

func TestServeBadConfig(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--signing-alg", "HS256"}, &out, &errOut,
		mapEnv(map[string]string{config.EnvStore: "postgres"}))
	if code != 1 {
		t.Errorf("exit %d; want 1", code)
	}
	for _, want := range []string{"GATEHOUSE_SIGNING_ALG: unsupported value \"HS256\"", "GATEHOUSE_STORE: unsupported value \"postgres\""} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr %q lacks %q", errOut.String(), want)
		}
	}
}

func TestServeConfigPrecedence(t *testing.T) {
	const bound = "127.0.0.1:8080"
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c config.Config)
	}{
		{"defaults", nil, nil, func(t *testing.T, c config.Config) {
			eq(t, c.Issuer, "http://127.0.0.1:8080")
			eq(t, c.SigningKeyFile, defaultSigningKey)
			eq(t, c.SigningAlg, "RS256")
			eq(t, c.SeedFile, "")
			eq(t, strings.Join(c.Audience, ","), "http://127.0.0.1:8080")
		}},
		{"environment over defaults", nil, map[string]string{
			config.EnvIssuer:         "https://auth.example.com",
			config.EnvSigningKeyFile: "",
			config.EnvSeedFile:       "env-seed.json",
			config.EnvSigningAlg:     "ES256",
			config.EnvAudience:       "api",
		}, func(t *testing.T, c config.Config) {
			eq(t, c.Issuer, "https://auth.example.com")
			eq(t, c.SigningKeyFile, "") // set but empty: an ephemeral key
			eq(t, c.SeedFile, "env-seed.json")
			eq(t, c.SigningAlg, "ES256")
			eq(t, strings.Join(c.Audience, ","), "api")
		}},
		{"flags over environment", []string{
			"--issuer", "https://flag.example.com", "--signing-key", "flag.pem", "--seed", "flag-seed.json",
			"--signing-alg", "RS256", "--audience", "a,b",
		}, map[string]string{
			config.EnvIssuer:         "https://auth.example.com",
			config.EnvSigningKeyFile: "env.pem",
			config.EnvSeedFile:       "env-seed.json",
			config.EnvSigningAlg:     "ES256",
			config.EnvAudience:       "api",
			config.EnvCodeTTL:        "30s", // no flag: read as is
		}, func(t *testing.T, c config.Config) {
			eq(t, c.Issuer, "https://flag.example.com")
			eq(t, c.SigningKeyFile, "flag.pem")
			eq(t, c.SeedFile, "flag-seed.json")
			eq(t, c.SigningAlg, "RS256")
			eq(t, strings.Join(c.Audience, ","), "a,b")
			eq(t, c.CodeTTL, 30*time.Second)
		}},
		{"store and tables: flags over environment", []string{"--store", "dynamodb", "--clients-table", "flag-clients"}, map[string]string{
			config.EnvStore:          "memory",
			config.EnvClientsTable:   "env-clients",
			config.EnvUsersTable:     "env-users",
			config.EnvClientCacheTTL: "0",
		}, func(t *testing.T, c config.Config) {
			eq(t, c.Store, config.StoreDynamoDB)
			eq(t, c.Tables.Clients, "flag-clients")
			eq(t, c.Tables.Users, "env-users")
			eq(t, c.Tables.Codes, "gatehouse-codes")
			eq(t, c.ClientCacheTTL, time.Duration(0))
		}},
		{"empty flag means ephemeral key", []string{"--signing-key="}, map[string]string{config.EnvSigningKeyFile: "env.pem"}, func(t *testing.T, c config.Config) {
			eq(t, c.SigningKeyFile, "")
		}},
		{"empty issuer variable takes the default", nil, map[string]string{config.EnvIssuer: ""}, func(t *testing.T, c config.Config) {
			eq(t, c.Issuer, "http://127.0.0.1:8080")
		}},
		{"issuer from a host name", []string{"--addr", "localhost:9999"}, nil, func(t *testing.T, c config.Config) {
			eq(t, c.Issuer, "http://localhost:8080") // port as bound
		}},
		{"issuer from a wildcard address", []string{"--addr", ":8080"}, nil, func(t *testing.T, c config.Config) {
			eq(t, c.Issuer, "http://127.0.0.1:8080")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newServeFlags(&bytes.Buffer{})
			if err := f.fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			c, err := config.FromEnv(f.getenv(mapEnv(tt.env), bound))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestIssuerHost(t *testing.T) {
	for _, tt := range []struct{ flag, bound, want string }{
		{"127.0.0.1:0", "127.0.0.1:43210", "127.0.0.1:43210"},
		{"0.0.0.0:8080", "0.0.0.0:8080", "127.0.0.1:8080"},
		{"[::]:8080", "[::]:8080", "127.0.0.1:8080"},
		{"[::1]:8080", "[::1]:8080", "[::1]:8080"},
		{"localhost:8080", "127.0.0.1:8080", "localhost:8080"},
	} {
		if got := issuerHost(tt.flag, tt.bound); got != tt.want {
			t.Errorf("issuerHost(%q, %q) = %q; want %q", tt.flag, tt.bound, got, tt.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	keyFile := filepath.Join(t.TempDir(), "signing-key.pem")
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--seed", filepath.Join("..", "..", "dev", "seed.json"),
			"--signing-key", keyFile, "--signing-alg", "ES256"}, &stdout, &stderr, noEnv)
	}()

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
	banner := stdout.String()
	m := regexp.MustCompile(`issuer\s+(http://127\.0\.0\.1:\d+)\n`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no issuer in banner:\n%s", banner)
	}
	issuer := m[1]
	for _, want := range []string{
		issuer + "/token", issuer + "/.well-known/oauth-authorization-server",
		"demo-service", "dev-secret-demo-service-change-me", "client_credentials",
		"demo-spa", "(public)", "alice", "wonderland-rabbit-42",
		keyFile + " (ES256, kid ",
		"sessions        12h, ending after 1h idle",
		"sign-in limits  5 failures per username, 50 per address, per 15m",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}

	resp, err := http.Get(issuer + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Issuer string }
	err = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || meta.Issuer != issuer {
		t.Errorf("metadata: status %d, issuer %q, %v", resp.StatusCode, meta.Issuer, err)
	}

	req, _ := http.NewRequest(http.MethodPost, issuer+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("demo-service", "dev-secret-demo-service-change-me")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || tok.AccessToken == "" {
		t.Errorf("token: status %d, %+v, %v", resp.StatusCode, tok, err)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited with %d: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("stderr lacks the shutdown log: %q", stderr.String())
	}
}

func eq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v; want %v", got, want)
	}
}

// The session and login-throttling variables reach the server: the banner
// shows them, and the password grant refuses a username after
// GATEHOUSE_LOGIN_MAX_FAILURES failures, even with the right password.
func TestServeSessionAndLoginSettings(t *testing.T) {
	var stdout, stderr syncBuffer
	banner := serveInBackground(t, &stdout, &stderr, func(ctx context.Context) int {
		return run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--seed", filepath.Join("..", "..", "dev", "seed.json"),
			"--signing-key=", "--signing-alg", "ES256"}, &stdout, &stderr, mapEnv(map[string]string{
			config.EnvSessionTTL:            "8h",
			config.EnvSessionIdleTTL:        "90m",
			config.EnvLoginMaxFailures:      "2",
			config.EnvLoginMaxFailuresPerIP: "40",
			config.EnvLoginFailureWindow:    "10m",
		}))
	})
	for _, want := range []string{"8h, ending after 1h30m idle", "2 failures per username, 40 per address, per 10m"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	issuer := bannerIssuer(t, banner)

	password := func(pw string) int {
		req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(url.Values{
			"grant_type": {"password"}, "username": {"alice"}, "password": {pw},
		}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("demo-legacy", "dev-secret-demo-legacy-change-me")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := password("wonderland-rabbit-42"); code != http.StatusOK {
		t.Fatalf("right password: status %d", code)
	}
	for i := 0; i < 2; i++ {
		if code := password("wrong"); code == http.StatusOK {
			t.Fatalf("wrong password accepted")
		}
	}
	if code := password("wonderland-rabbit-42"); code == http.StatusOK {
		t.Error("right password accepted after GATEHOUSE_LOGIN_MAX_FAILURES=2 failures: throttling is not wired")
	}
}

func TestServeBadSessionAndLoginSettings(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--signing-key="}, &out, &errOut,
		mapEnv(map[string]string{
			config.EnvSessionIdleTTL:        "0",
			config.EnvLoginMaxFailures:      "five",
			config.EnvLoginMaxFailuresPerIP: "-1",
			config.EnvLoginFailureWindow:    "48h",
		}))
	if code != 1 {
		t.Errorf("exit %d; want 1", code)
	}
	for _, want := range []string{
		`GATEHOUSE_SESSION_IDLE_TTL: "0" must be positive`,
		`GATEHOUSE_LOGIN_MAX_FAILURES: "five" is not a whole number`,
		`GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP: "-1" must be positive`,
		`GATEHOUSE_LOGIN_FAILURE_WINDOW: "48h" exceeds the maximum of 24h0m0s`,
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr %q lacks %q", errOut.String(), want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		12 * time.Hour: "12h", 15 * time.Minute: "15m", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s",
		30 * time.Second: "30s", time.Hour + time.Second: "1h0m1s",
	} {
		eq(t, shortDuration(d), want)
	}
}
