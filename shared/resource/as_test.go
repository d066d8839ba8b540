package resource

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/awstest"
	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/clientcache"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// The authorization server these tests run against is Gatehouse itself:
// the grant library and its HTTP handlers on memstore or on DynamoDB Local
// (behind the client cache, as deployed), with a local RS256 key. Only its
// introspection endpoint can be made to fail, to test what the middleware
// does when the answer does not come.

// Registered clients. The resource server's secret holds characters that
// RFC 6749 §2.3.1 makes a client form-encode inside Basic credentials.
const (
	apiID, apiSecret       = "notes-api", "api:secret%+/=&?0123456789"
	webID, webSecret       = "web", "web-secret-0123456789"
	svcID, svcSecret       = "svc", "svc-secret-0123456789"
	shortID, shortSecret   = "short-lived", "short-secret-0123456789"
	webRedirect            = "https://web.example/cb"
	userName, userPassword = "alice", "correct horse battery"
	// shortLifetime is short-lived's access-token lifetime.
	shortLifetime = 10 * time.Second
)

// authServer is a running Gatehouse.
type authServer struct {
	t     *testing.T
	URL   string
	OAuth *oauth.Server
	// Introspections counts the requests that reached /introspect;
	// Calls, on DynamoDB, counts the store's DynamoDB requests by
	// operation.
	Introspections atomic.Int32
	Calls          *dynamotest.Calls

	mu      sync.Mutex
	status  int           // non-zero: /introspect answers with this status
	body    string        // non-empty: /introspect answers with this body
	release chan struct{} // non-nil: /introspect waits for it
}

// storeKind names the backends the tests run on.
var storeKinds = []string{"memstore", "dynamodb"}

// newAuthServer starts Gatehouse on the store named kind ("memstore" or
// "dynamodb"; DynamoDB Local is required under CI=true).
func newAuthServer(t *testing.T, kind string) *authServer {
	t.Helper()
	as := &authServer{t: t}
	ctx := context.Background()
	var backing interface {
		oauth.Store
		PutClient(context.Context, *oauth.Client) error
		PutUser(context.Context, *oauth.User) error
	}
	switch kind {
	case "memstore":
		backing = memstore.New()
	case "dynamodb":
		as.Calls = awstest.NewCalls()
		backing = dynamotest.NewStore(t, dynamotest.Count(as.Calls))
	default:
		t.Fatalf("unknown store %q", kind)
	}
	signer, err := localsigner.New(localsigner.RS256)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	hs.Start()
	t.Cleanup(hs.Close)
	as.URL = hs.URL
	// The deployed functions cache client records for 30 s.
	store := clientcache.New(backing, 30*time.Second, nil)
	as.OAuth, err = oauth.NewServer(oauth.Config{Issuer: hs.URL}, store, signer, passwords.Checker{})
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.New(as.OAuth, httpapi.Options{Logger: slog.New(slog.DiscardHandler)}).All()
	hs.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == oauth.PathIntrospect {
			as.Introspections.Add(1)
			as.mu.Lock()
			status, body, release := as.status, as.body, as.release
			as.mu.Unlock()
			if release != nil {
				<-release
			}
			switch {
			case status != 0:
				w.WriteHeader(status)
				return
			case body != "":
				_, _ = io.WriteString(w, body)
				return
			}
		}
		h.ServeHTTP(w, r)
	})

	hash, err := passwords.Hasher{Memory: 64, Iterations: 1, Parallelism: 1}.Hash(userPassword)
	if err != nil {
		t.Fatal(err)
	}
	confidential := func(id, secret string) *oauth.Client {
		return &oauth.Client{ID: id, SecretHash: oauth.HashSecret(secret), TokenEndpointAuthMethod: oauth.AuthMethodBasic,
			GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"notes:read", "notes:write"}}
	}
	api := confidential(apiID, apiSecret)
	api.IntrospectionAllowed = true // it introspects the tokens of every client
	web := confidential(webID, webSecret)
	web.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
	web.ResponseTypes = []string{oauth.ResponseTypeCode}
	web.RedirectURIs = []string{webRedirect}
	short := confidential(shortID, shortSecret)
	short.AccessTokenLifetime = shortLifetime
	for _, c := range []*oauth.Client{api, web, confidential(svcID, svcSecret), short} {
		if err := backing.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := backing.PutUser(ctx, &oauth.User{Subject: "user-1", Username: userName, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	if as.Calls != nil {
		as.Calls.Reset()
	}
	return as
}

// failIntrospection makes /introspect answer with status (0: normally).
func (as *authServer) failIntrospection(status int) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.status = status
}

// introspectionBody makes /introspect answer with body ("": normally).
func (as *authServer) introspectionBody(body string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.body = body
}

// holdIntrospection makes /introspect wait until release is closed.
func (as *authServer) holdIntrospection(release chan struct{}) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.release = release
}

// post sends a form to an endpoint with Basic client credentials (RFC 6749
// §2.3.1) and decodes the JSON answer.
func (as *authServer) post(path, id, secret string, form url.Values) (int, map[string]any) {
	as.t.Helper()
	req, err := http.NewRequest(http.MethodPost, as.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		as.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		as.t.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]any{}
	if b, _ := io.ReadAll(resp.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			as.t.Fatalf("POST %s: %d %q", path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, m
}

// clientToken gets an access token by the client credentials grant.
func (as *authServer) clientToken(id, secret string) string {
	as.t.Helper()
	status, m := as.post(oauth.PathToken, id, secret, url.Values{"grant_type": {oauth.GrantClientCredentials}, "scope": {"notes:read"}})
	tok, _ := m["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		as.t.Fatalf("client credentials for %s: %d %v", id, status, m)
	}
	return tok
}

// code has alice sign in and approve web's request, as the authorize
// endpoint does after its sign-in and consent pages, and returns the code.
func (as *authServer) code() string {
	as.t.Helper()
	ctx := context.Background()
	sess, _, err := as.OAuth.Login(ctx, userName, userPassword, "203.0.113.9")
	if err != nil {
		as.t.Fatal(err)
	}
	req, oe := as.OAuth.ParseAuthorizeRequest(ctx, url.Values{"client_id": {webID}, "redirect_uri": {webRedirect},
		"response_type": {oauth.ResponseTypeCode}, "scope": {"notes:read"}})
	if oe != nil {
		as.t.Fatal(oe)
	}
	loc, err := as.OAuth.Approve(ctx, req, sess, true)
	if err != nil {
		as.t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil || u.Query().Get("code") == "" {
		as.t.Fatalf("approval redirect %q", loc)
	}
	return u.Query().Get("code")
}

// redeem exchanges a code at the token endpoint as web (RFC 6749 §4.1.3).
func (as *authServer) redeem(code string) (int, map[string]any) {
	as.t.Helper()
	return as.post(oauth.PathToken, webID, webSecret, url.Values{"grant_type": {oauth.GrantAuthorizationCode},
		"code": {code}, "redirect_uri": {webRedirect}})
}

// api is a resource server guarded by a Middleware for the authorization
// server as: the fixture's fake clock, and introspection (as the
// resource server's client) unless edit removes it. served counts the
// requests that reached the protected handler.
type api struct {
	mw     *Middleware
	clock  *fakeClock
	h      http.Handler
	served atomic.Int32
}

func newAPI(t *testing.T, as *authServer, edit func(*Config)) *api {
	t.Helper()
	cfg := Config{
		Issuer:        as.URL,
		Audience:      []string{as.URL},
		Realm:         "notes",
		Logger:        discardLogger(),
		Introspection: &Introspection{ClientID: apiID, ClientSecret: apiSecret},
	}
	if edit != nil {
		edit(&cfg)
	}
	mw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := &api{mw: mw, clock: &fakeClock{t: time.Now()}}
	mw.now = a.clock.Now
	a.h = mw.Require("notes:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.served.Add(1)
		claims, _ := ClaimsFrom(r.Context())
		_, _ = io.WriteString(w, claims.Subject)
	}))
	return a
}

// call presents tok to the API and returns the response.
func (a *api) call(tok string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, bearer(tok))
	return rec
}
