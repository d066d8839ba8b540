package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/httpapi/pages"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// obsServer is a server whose handlers report to Options.Observe and log
// JSON into a buffer (newObsServer's failCodes makes storing authorization
// codes fail).
type obsServer struct {
	handler http.Handler
	logs    bytes.Buffer
	mu      sync.Mutex
	events  []httpapi.Event
}

// obsStore makes CreateCode fail when fail is set.
type obsStore struct {
	oauth.Store
	fail bool
}

func (s obsStore) CreateCode(ctx context.Context, c *oauth.AuthorizationCode, change *oauth.SessionChange) error {
	if s.fail {
		return errors.New("dynamodb: connection reset")
	}
	return s.Store.CreateCode(ctx, c, change)
}

const obsIssuer = "https://auth.example"

func newObsServer(t *testing.T, failCodes bool) *obsServer {
	t.Helper()
	mem := memstore.New()
	signer, err := localsigner.New(localsigner.ES256)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := oauth.NewServer(oauth.Config{Issuer: obsIssuer}, obsStore{mem, failCodes}, signer, passwords.Checker{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []*oauth.Client{
		{ID: "implicit-app", RedirectURIs: []string{"https://app.example/cb"}, GrantTypes: []string{oauth.GrantImplicit},
			ResponseTypes: []string{oauth.ResponseTypeToken}, Scopes: []string{"read"}, TokenEndpointAuthMethod: oauth.AuthMethodNone},
		{ID: "code-app", RedirectURIs: []string{"https://app.example/cb"}, GrantTypes: []string{oauth.GrantAuthorizationCode},
			ResponseTypes: []string{oauth.ResponseTypeCode}, Scopes: []string{"read"}, TokenEndpointAuthMethod: oauth.AuthMethodNone},
	} {
		if err := mem.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := passwords.Hasher{Memory: 64, Iterations: 1, Parallelism: 1}.Hash("pw-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.PutUser(ctx, &oauth.User{Subject: "u1", Username: "bob", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	s := &obsServer{}
	s.handler = httpapi.New(srv, httpapi.Options{
		Logger: slog.New(slog.NewJSONHandler(&s.logs, nil)),
		Observe: func(_ context.Context, e httpapi.Event) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.events = append(s.events, e)
		},
		Pages: pages.New(),
	}).All()
	return s
}

// do serves one request with cookies, returning the response.
func (s *obsServer) do(method, target string, form url.Values, cookies []*http.Cookie) *http.Response {
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, r)
	return w.Result()
}

func (s *obsServer) last(t *testing.T) httpapi.Event {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		t.Fatal("no event observed")
	}
	return s.events[len(s.events)-1]
}

var obsHidden = regexp.MustCompile(`name="(gh_[a-z]+)" value="([^"]*)"`)

func obsFields(body string) url.Values {
	v := url.Values{}
	for _, m := range obsHidden.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// approve logs bob in and approves the authorization request query,
// returning the consent post's response.
func (s *obsServer) approve(t *testing.T, query url.Values) *http.Response {
	t.Helper()
	target := obsIssuer + "/authorize?" + query.Encode()
	resp := s.do(http.MethodGet, target, nil, nil)
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	cookies := resp.Cookies()
	f := obsFields(b.String())
	f.Set("username", "bob")
	f.Set("password", "pw-0123456789")
	resp = s.do(http.MethodPost, obsIssuer+"/authorize", f, cookies)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d", resp.StatusCode)
	}
	cookies = append(cookies, resp.Cookies()...)
	resp = s.do(http.MethodGet, resp.Header.Get("Location"), nil, cookies)
	b.Reset()
	b.ReadFrom(resp.Body)
	f = obsFields(b.String())
	if f.Get("gh_action") != "consent" {
		t.Fatalf("no consent page: %s", b.String())
	}
	f.Set("decision", "allow")
	return s.do(http.MethodPost, obsIssuer+"/authorize", f, cookies)
}

// TestObserveImplicitIssuesAToken: an implicit-grant authorization issues
// an access token at the authorization endpoint, and says so.
func TestObserveImplicitIssuesAToken(t *testing.T) {
	s := newObsServer(t, false)
	resp := s.approve(t, url.Values{"response_type": {"token"}, "client_id": {"implicit-app"},
		"redirect_uri": {"https://app.example/cb"}, "state": {"xyz"}})
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "#access_token=") {
		t.Fatalf("Location %q carries no token", loc)
	}
	e := s.last(t)
	if e.Endpoint != httpapi.EndpointAuthorize || e.Outcome != httpapi.OutcomeOK || e.TokensIssued != 1 ||
		e.GrantType != oauth.GrantImplicit || e.ClientID != "implicit-app" || e.Duration <= 0 {
		t.Errorf("event %+v", e)
	}
}

// TestObserveApproveFailure: when the code cannot be stored, the browser
// is sent back with server_error, and the request's outcome is
// server_error, logged at error level with its cause (not "ok").
func TestObserveApproveFailure(t *testing.T) {
	s := newObsServer(t, true)
	resp := s.approve(t, url.Values{"response_type": {"code"}, "client_id": {"code-app"},
		"redirect_uri": {"https://app.example/cb"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"}})
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "error=server_error") {
		t.Fatalf("Location %q", loc)
	}
	e := s.last(t)
	if e.Outcome != oauth.CodeServerError || e.TokensIssued != 0 || e.GrantType != oauth.GrantAuthorizationCode {
		t.Errorf("event %+v; want outcome server_error", e)
	}
	lines := strings.Split(strings.TrimSpace(s.logs.String()), "\n")
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["level"] != "ERROR" || rec["outcome"] != "server_error" || !strings.Contains(str(rec, "cause"), "connection reset") {
		t.Errorf("log line %v; want an ERROR with the cause", rec)
	}
}

// TestObserveOutcomes: every request is observed once, with the OAuth
// error code the client was sent; values the client chooses are clipped.
func TestObserveOutcomes(t *testing.T) {
	s := newObsServer(t, false)
	long := strings.Repeat("é", 200)
	tests := []struct {
		method, target string
		form           url.Values
		want           httpapi.Event
	}{
		{http.MethodGet, "/token", nil, httpapi.Event{Endpoint: "token", Outcome: "invalid_request"}},
		{http.MethodPost, "/token", url.Values{"grant_type": {long}, "client_id": {long}},
			httpapi.Event{Endpoint: "token", Outcome: "invalid_client", GrantType: strings.Repeat("é", 64) + "…", ClientID: strings.Repeat("é", 64) + "…"}},
		{http.MethodPost, "/introspect", url.Values{"token": {"x"}}, httpapi.Event{Endpoint: "introspect", Outcome: "invalid_client"}},
		{http.MethodDelete, "/authorize", nil, httpapi.Event{Endpoint: "authorize", Outcome: "invalid_request"}},
		{http.MethodGet, "/authorize?client_id=nobody&response_type=code", nil, httpapi.Event{Endpoint: "authorize", Outcome: "invalid_request", ClientID: "nobody"}},
		{http.MethodPost, "/.well-known/jwks.json", nil, httpapi.Event{Endpoint: "jwks", Outcome: "invalid_request"}},
		{http.MethodGet, "/.well-known/oauth-authorization-server", nil, httpapi.Event{Endpoint: "metadata", Outcome: "ok"}},
		{http.MethodGet, "/logout", nil, httpapi.Event{Endpoint: "logout", Outcome: "ok"}},
	}
	for i, tt := range tests {
		s.do(tt.method, obsIssuer+tt.target, tt.form, nil)
		if len(s.events) != i+1 {
			t.Fatalf("%s %s: %d events; want one per request", tt.method, tt.target, len(s.events)-i)
		}
		got := s.last(t)
		got.Duration = 0
		if got != tt.want {
			t.Errorf("%s %s: event %+v; want %+v", tt.method, tt.target, got, tt.want)
		}
	}
}
