package httpapi_test

// Helpers for the real-browser tests (browser_test.go): finding and
// starting Chromium, a Gatehouse whose consent page reads like a real one,
// and a tiny client application on another origin that starts the code
// flow and shows what comes back to its redirect URI.

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/httpapi/pages"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// The client application of the browser tests: a confidential web client
// with a realistic name and scopes, so the screenshots show what a user
// would see.
const (
	acmeID, acmeSecret = "acme-photos", "acme-secret-0123456789"
	acmeName           = "Acme Photos"
	acmeScope          = "profile read write"
)

// acmeScopeDescriptions are the consent page's words for acmeScope.
var acmeScopeDescriptions = map[string]string{
	"profile": "See your username",
	"read":    "View your photos and albums",
	"write":   "Upload, edit and delete your photos",
}

// tabTimeout bounds everything one test does in its tab, so a page that
// never shows what a test waits for fails the test instead of hanging it.
const tabTimeout = 20 * time.Second

// browserInstallHint says how to get the browser the tests need.
const browserInstallHint = "install Debian's Chromium (`apt-get install -y chromium`, or `scripts/chromium.sh install`; " +
	"`make test` does it) or set GATEHOUSE_CHROMIUM to a Chromium or Chrome binary"

// findChromium returns the browser to drive: $GATEHOUSE_CHROMIUM, else the
// first of chromium, chromium-browser and google-chrome in PATH.
func findChromium() (string, error) {
	if p := os.Getenv("GATEHOUSE_CHROMIUM"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("GATEHOUSE_CHROMIUM=%s: %w", p, err)
		}
		return path, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("no chromium, chromium-browser or google-chrome in PATH")
}

// browserRequired reports whether a missing browser fails the tests
// instead of skipping them: under CI=true, or when `make test` found one
// (GATEHOUSE_TEST_BROWSER=1).
func browserRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv("GATEHOUSE_TEST_BROWSER") == "1"
}

// startBrowser starts one headless Chromium for the test and its
// subtests, and returns its context; it is closed when the test ends. It
// skips the test when there is no browser, unless browserRequired.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := findChromium()
	if err != nil {
		if browserRequired() {
			t.Fatalf("the browser tests need Chromium: %v; %s", err, browserInstallHint)
		}
		t.Skipf("skipping the browser tests: %v; %s", err, browserInstallHint)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless, // also hides scrollbars and mutes audio
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-proxy-server", true), // everything is on loopback
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// The first Do starts the browser and ties it to browserCtx, which has
	// no deadline; each tab gets its own (newTab). Starting is bounded too.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(browserCtx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", path, err)
		}
	case <-time.After(tabTimeout):
		t.Fatalf("%s did not start within %s", path, tabTimeout)
	}
	return browserCtx
}

// newTab opens a tab in a browser context of its own (its own cookies: a
// fresh user) that closes when the test ends or after tabTimeout.
func newTab(t *testing.T, browserCtx context.Context) context.Context {
	t.Helper()
	timeoutCtx, cancelTimeout := context.WithTimeout(browserCtx, tabTimeout)
	tab, cancelTab := chromedp.NewContext(timeoutCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(func() { cancelTab(); cancelTimeout() })
	// Light colours and English, whatever the machine prefers, so pages
	// and screenshots are the same everywhere.
	if err := chromedp.Do(tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}},
		})
		return err
	})); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return tab
}

// browserServer is a Gatehouse for the browser tests: the harness's
// fixtures plus the Acme Photos client, whose redirect URI is the client
// application's callback; it counts the codes it issues.
type browserServer struct {
	*testServer
	store   *countingStore
	handler http.Handler // the server's, for frameableMirror
	client  *clientApp
	conf    *oauth2.Config
}

// countingStore is a memstore that counts the authorization codes created.
type countingStore struct {
	*memstore.Store
	codes atomic.Int64
}

func (s *countingStore) CreateCode(ctx context.Context, c *oauth.AuthorizationCode, change *oauth.SessionChange) error {
	s.codes.Add(1)
	return s.Store.CreateCode(ctx, c, change)
}

// newBrowserServer starts a Gatehouse on a real port (httptest) with the
// test fixtures, the Acme Photos client and scope descriptions, and the
// client application on another origin.
func newBrowserServer(t *testing.T) *browserServer {
	t.Helper()
	return newBrowserServerWith(t, acmeScopeDescriptions, nil)
}

// newBrowserServerWith is newBrowserServer with other scope descriptions,
// and with wrap, if not nil, around the server's handler.
func newBrowserServerWith(t *testing.T, scopeDescriptions map[string]string, wrap func(http.Handler) http.Handler) *browserServer {
	t.Helper()
	ensureUserHash()
	signer, err := localsigner.New(localsigner.RS256)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now().Truncate(time.Second)}
	mem := memstore.New()
	mem.Now = clk.Now
	store := &countingStore{Store: mem}

	hs := httptest.NewServer(nil)
	t.Cleanup(hs.Close)
	srv, err := oauth.NewServer(oauth.Config{
		Issuer: hs.URL, Now: clk.Now, ScopesSupported: []string{"profile", "read", "write", "admin"},
	}, store, signer, passwords.Checker{})
	if err != nil {
		t.Fatal(err)
	}
	handler := httpapi.New(srv, httpapi.Options{
		Logger:            slog.New(slog.DiscardHandler),
		ScopeDescriptions: scopeDescriptions,
		Pages:             pages.New(),
	}).All()
	if wrap != nil {
		handler = wrap(handler)
	}
	hs.Config.Handler = handler
	seedStore(t, mem)

	client := startClientApp(t)
	if err := mem.PutClient(context.Background(), &oauth.Client{
		ID: acmeID, SecretHash: oauth.HashSecret(acmeSecret), Name: acmeName,
		RedirectURIs:            []string{client.URL + "/callback"},
		GrantTypes:              []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		ResponseTypes:           []string{oauth.ResponseTypeCode},
		Scopes:                  strings.Fields(acmeScope),
		TokenEndpointAuthMethod: oauth.AuthMethodBasic,
		ClientURI:               "https://photos.example.com",
	}); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, URL: hs.URL, OAuth: srv, Store: mem, Signer: signer, Clock: clk}
	ts.http = ts.newBrowser()
	return &browserServer{
		testServer: ts, store: store, handler: handler, client: client,
		conf: &oauth2.Config{
			ClientID: acmeID, ClientSecret: acmeSecret, RedirectURL: client.URL + "/callback",
			Scopes: strings.Fields(acmeScope),
			Endpoint: oauth2.Endpoint{AuthURL: hs.URL + oauth.PathAuthorize, TokenURL: hs.URL + oauth.PathToken,
				AuthStyle: oauth2.AuthStyleInHeader},
		},
	}
}

// flow is one authorization request the client application makes.
type flow struct {
	State, Verifier, AuthURL string
}

// newFlow makes a code+PKCE authorization request as golang.org/x/oauth2
// does and makes it the one the client application's pages use; extra
// parameters (such as prompt=consent) are added to it.
func (bs *browserServer) newFlow(extra ...oauth2.AuthCodeOption) flow {
	f := flow{State: oauth2.GenerateVerifier()[:16], Verifier: oauth2.GenerateVerifier()}
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier)}, extra...)
	f.AuthURL = bs.conf.AuthCodeURL(f.State, opts...)
	bs.client.setAuthURL(f.AuthURL)
	return f
}

// exchange redeems a code as the client application, with
// golang.org/x/oauth2, and checks the access token with the server
// (introspection, RFC 7662): alice's, for Acme Photos, with the scopes
// asked for.
func (bs *browserServer) exchange(t *testing.T, f flow, code string) *oauth2.Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := bs.conf.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("token response without an access or refresh token: %+v", tok)
	}
	resp := bs.post(oauth.PathIntrospect, url.Values{"token": {tok.AccessToken}}.Encode(), basic(serviceID, serviceSecret))
	if resp.Status != http.StatusOK {
		t.Fatalf("introspect: %d %s", resp.Status, resp.Body)
	}
	got := resp.JSON(t)
	if got["active"] != true || got["client_id"] != acmeID || got["username"] != userName ||
		got["scope"] != acmeScope || got["iss"] != bs.URL {
		t.Fatalf("introspection of the access token: %v", got)
	}
	return tok
}

// clientApp is the test's client application, on its own origin
// (http://localhost:port, another site than the issuer's 127.0.0.1): a
// home page with a "Sign in" link to the current authorization request, a
// redirect URI that shows what it received, and a page that tries to
// frame the authorization request.
type clientApp struct {
	URL string

	mu        sync.Mutex
	authURL   string
	callbacks []url.Values
}

func startClientApp(t *testing.T) *clientApp {
	t.Helper()
	c := &clientApp{}
	hs := httptest.NewServer(http.HandlerFunc(c.serveHTTP))
	t.Cleanup(hs.Close)
	_, port, err := net.SplitHostPort(hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.URL = "http://localhost:" + port
	return c
}

func (c *clientApp) setAuthURL(u string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.authURL = u
}

// Callbacks returns the queries the redirect URI has received.
func (c *clientApp) Callbacks() []url.Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]url.Values(nil), c.callbacks...)
}

const clientPageHead = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme Photos</title></head><body>`

func (c *clientApp) serveHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	authURL := c.authURL
	c.mu.Unlock()
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch r.URL.Path {
	case "/":
		fmt.Fprintf(w, clientPageHead+`<h1>Acme Photos</h1><p><a id="signin" href="%s">Sign in with Gatehouse</a></p></body></html>`,
			html.EscapeString(authURL))
	case "/callback":
		q := r.URL.Query()
		c.mu.Lock()
		c.callbacks = append(c.callbacks, q)
		c.mu.Unlock()
		fmt.Fprintf(w, clientPageHead+`<h1 id="callback">Back at Acme Photos</h1><dl>`+
			`<dt>code</dt><dd id="code">%s</dd><dt>state</dt><dd id="state">%s</dd>`+
			`<dt>error</dt><dd id="error">%s</dd><dt>iss</dt><dd id="iss">%s</dd></dl></body></html>`,
			html.EscapeString(q.Get("code")), html.EscapeString(q.Get("state")),
			html.EscapeString(q.Get("error")), html.EscapeString(q.Get("iss")))
	case "/frame":
		// The iframe's load event fires whether the frame shows the page or
		// the browser's error page for a refused frame; the test waits for it.
		src := r.URL.Query().Get("src")
		fmt.Fprintf(w, clientPageHead+`<h1>Acme Photos</h1>`+
			`<iframe id="framed" src="%s" width="600" height="600" onload="document.body.dataset.framed='loaded'"></iframe></body></html>`,
			html.EscapeString(src))
	default:
		http.NotFound(w, r)
	}
}

// callbackResult is what the client application's callback page shows.
type callbackResult struct{ Code, State, Error, Iss string }

// readCallback waits for the callback page in tab and reads it.
func readCallback(t *testing.T, tab context.Context) callbackResult {
	t.Helper()
	return readCallbackOr(t, tab, selAlert)
}

// readCallbackOr is readCallback failing at once if the tab shows an
// element matching stop instead.
func readCallbackOr(t *testing.T, tab context.Context, stop string) callbackResult {
	t.Helper()
	waitFor(t, tab, "the client's callback page", `#callback`, stop)
	var r callbackResult
	for id, dst := range map[string]*string{"code": &r.Code, "state": &r.State, "error": &r.Error, "iss": &r.Iss} {
		v, err := chromedp.Run(tab, chromedp.TextContent(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("reading #%s on the callback page: %v", id, err)
		}
		*dst = v
	}
	return r
}

// waitFor waits until tab shows an element that matches sel, and fails
// the test at once, with what the page says, if the page shows one that
// matches stop instead (both CSS selectors): a wrong turn fails fast, not
// at the tab's timeout. stop must match nothing on the page the tab is
// leaving.
func waitFor(t *testing.T, tab context.Context, what, sel, stop string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(sel+", "+stop))); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	found, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector('`+sel+`') !== null`))
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	if !found {
		text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s, the browser shows %s:\n%s", what, location(tab), text)
	}
}

// location returns the tab's URL, for messages.
func location(tab context.Context) string {
	ctx, cancel := context.WithTimeout(tab, 2*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown: " + err.Error()
	}
	return u
}

// startFlow opens the client application's home page in tab and follows
// its "Sign in" link.
func (bs *browserServer) startFlow(t *testing.T, tab context.Context) {
	t.Helper()
	if err := chromedp.Do(tab,
		chromedp.Navigate(bs.client.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.Click(chromedp.ID("signin")),
	); err != nil {
		t.Fatalf("starting the flow at the client: %v", err)
	}
}

// Selectors of the login and consent pages.
const (
	selLoginForm   = `form:has(input[name="gh_action"][value="login"])`
	selConsentForm = `form:has(input[name="gh_action"][value="consent"])`
	selAllow       = `button[name="decision"][value="allow"]`
	selDeny        = `button[name="decision"][value="deny"]`
	selLoginSubmit = selLoginForm + ` button[type="submit"]`
	selAlert       = `[role="alert"]`
)

// waitLoginPage waits until tab shows the login page on the issuer.
func (bs *browserServer) waitLoginPage(t *testing.T, tab context.Context) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(selLoginForm+` #username`))); err != nil {
		t.Fatalf("waiting for the login page: %v", err)
	}
	if loc := location(tab); !strings.HasPrefix(loc, bs.URL+oauth.PathAuthorize) {
		t.Fatalf("login page at %s, not the issuer's authorization endpoint", loc)
	}
}

// signIn fills in and submits the login page shown in tab.
func signIn(t *testing.T, tab context.Context, username, password string) {
	t.Helper()
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.ID("username"), username),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(selLoginSubmit)),
	); err != nil {
		t.Fatalf("signing in: %v", err)
	}
}

// waitConsentPage waits until tab shows the consent page on the issuer.
func (bs *browserServer) waitConsentPage(t *testing.T, tab context.Context) {
	t.Helper()
	waitFor(t, tab, "the consent page", selConsentForm+` `+selAllow, selAlert)
	if loc := location(tab); !strings.HasPrefix(loc, bs.URL+oauth.PathAuthorize) {
		t.Fatalf("consent page at %s, not the issuer's authorization endpoint", loc)
	}
}

// screenshotDir is where the screenshots go: $GATEHOUSE_SCREENSHOTS (`make
// screenshots` sets it to docs/screenshots), else a temporary directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if !filepath.IsAbs(dir) {
		// go test runs in the package's folder; a relative path is the
		// repository's, as `make screenshots` gives it.
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// viewport is a screen the screenshots are taken at.
type viewport struct {
	Suffix        string // of the file name: "" or "-mobile"
	Width, Height int64
	Mobile        bool
}

var screenshotViewports = []viewport{
	{Suffix: "", Width: 1280, Height: 800},
	{Suffix: "-mobile", Width: 390, Height: 844, Mobile: true},
}

// screenshot saves a full-page PNG of what tab shows at each viewport as
// dir/name{suffix}.png, and puts the tab back to the desktop viewport. It
// takes the focus off the autofocused field first: a blinking caret would
// make every run's images differ.
func screenshot(t *testing.T, tab context.Context, dir, name string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`)); err != nil {
		t.Fatal(err)
	}
	for _, v := range screenshotViewports {
		opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
		if v.Mobile {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
		}
		if err := chromedp.Do(tab, chromedp.EmulateViewport(v.Width, v.Height, opts...)); err != nil {
			t.Fatalf("setting the viewport to %dx%d: %v", v.Width, v.Height, err)
		}
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot of %s: %v", name, err)
		}
		if len(png) < 8 || string(png[1:4]) != "PNG" {
			t.Fatalf("screenshot of %s is not a PNG", name)
		}
		path := filepath.Join(dir, name+v.Suffix+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%dx%d, %d bytes)", path, v.Width, v.Height, len(png))
	}
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
}

// childFrames returns the frames below tab's main frame, as the browser's
// frame tree has them.
func childFrames(t *testing.T, tab context.Context) []*cdp.Frame {
	t.Helper()
	tree, err := chromedp.Call(tab, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		t.Fatalf("reading the frame tree: %v", err)
	}
	var frames []*cdp.Frame
	var walk func(children []*page.FrameTree)
	walk = func(children []*page.FrameTree) {
		for _, c := range children {
			frames = append(frames, c.Frame)
			walk(c.ChildFrames)
		}
	}
	walk(tree.FrameTree.ChildFrames)
	return frames
}

// tabRecorder records, in the order the browser reports them, the
// documents a tab's main frame commits and the messages of its console and
// log (where the browser reports Content-Security-Policy violations).
// chromedp.Listen calls it before any later command returns, so what
// happened before an action's end is recorded when the action returns.
type tabRecorder struct {
	mu        sync.Mutex
	documents []string
	messages  []string
}

func recordTab(t *testing.T, tab context.Context) *tabRecorder {
	t.Helper()
	r := &tabRecorder{}
	err := chromedp.Listen(tab, func(ev any) {
		r.mu.Lock()
		defer r.mu.Unlock()
		switch ev := ev.(type) {
		case *page.EventFrameNavigated:
			if ev.Frame.ParentID == "" {
				r.documents = append(r.documents, ev.Frame.URL)
			}
		case *cdplog.EventEntryAdded:
			r.messages = append(r.messages, fmt.Sprintf("%s %s: %s (%s)", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
		case *runtime.EventExceptionThrown:
			r.messages = append(r.messages, "exception: "+ev.ExceptionDetails.Text)
		}
	})
	if err != nil {
		t.Fatalf("listening to the tab: %v", err)
	}
	return r
}

// Documents returns the URLs the main frame has committed, in order.
func (r *tabRecorder) Documents() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.documents...)
}

// wantNoViolations fails the test if the browser reported a
// Content-Security-Policy violation or an exception: a page whose inline
// stylesheet does not match its CSP hash, say, shows unstyled.
func (r *tabRecorder) wantNoViolations(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.messages {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Content-Security-Policy") ||
			strings.HasPrefix(m, "exception: ") || strings.HasPrefix(m, "security ") {
			t.Errorf("the browser reported: %s", m)
		}
	}
}

// framedDocument opens the client application's framing page in tab with
// an iframe of src, waits for the iframe's load event, and returns the URL
// of the document the iframe ended up showing and whether that document
// has the login form. The frame comes from another site, so Chromium runs
// it out of process as a target of its own (site isolation stays on); the
// test attaches to it to read its document.
func (bs *browserServer) framedDocument(t *testing.T, tab context.Context, src string) (href string, hasLogin bool) {
	t.Helper()
	if err := chromedp.Do(tab,
		chromedp.Navigate(bs.client.URL+"/frame?src="+url.QueryEscape(src)),
		chromedp.WaitReady(chromedp.CSS(`body[data-framed="loaded"]`)),
	); err != nil {
		t.Fatalf("loading the framing page: %v", err)
	}
	infos, err := chromedp.Targets(tab)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if info.Type != "iframe" || info.URL != src {
			continue
		}
		frameCtx, cancel := chromedp.NewContext(tab, chromedp.WithTargetID(info.TargetID))
		defer cancel()
		doc, err := chromedp.Run(frameCtx, chromedp.Evaluate[framedDoc](
			`({href: location.href, login: document.querySelector('`+selLoginForm+`') !== null})`))
		if err != nil {
			t.Fatalf("reading the framed document: %v", err)
		}
		return doc.Href, doc.Login
	}
	// No frame target of its own: the frame is in the page's process (as
	// Chromium does for a same-site frame, or an error page), and the
	// page's frame tree has it.
	frames := childFrames(t, tab)
	if len(frames) == 0 {
		t.Fatalf("the framing page has no frame")
	}
	f := frames[0]
	return f.URL, strings.HasPrefix(f.URL, src) && f.UnreachableURL == ""
}

type framedDoc struct {
	Href  string `json:"href"`
	Login bool   `json:"login"`
}

// frameableMirror serves handler on another port with the anti-framing
// headers (X-Frame-Options, CSP frame-ancestors) removed from every
// response: a control that shows the framing test can see a framed login
// page.
func frameableMirror(t *testing.T, handler http.Handler) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.ServeHTTP(&unframingWriter{ResponseWriter: w}, r)
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

type unframingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *unframingWriter) WriteHeader(status int) {
	if !w.wrote {
		w.wrote = true
		h := w.Header()
		h.Del("X-Frame-Options")
		var kept []string
		for _, d := range strings.Split(h.Get("Content-Security-Policy"), ";") {
			if name, _, _ := strings.Cut(strings.TrimSpace(d), " "); name != "frame-ancestors" {
				kept = append(kept, d)
			}
		}
		h.Set("Content-Security-Policy", strings.Join(kept, ";"))
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *unframingWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// xssControlPath is a page withoutCSP serves that runs an inline script
// setting window.__xss: the control showing that, with the CSP removed,
// the browser would run a script that reached the page.
const xssControlPath = "/xss-control"

// withoutCSP serves handler with the Content-Security-Policy removed from
// every response, so that escaping is the pages' only defence against an
// injected script (the CSP allows none), plus the control page at
// xssControlPath.
func withoutCSP(handler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == xssControlPath {
			w.Header().Set("Content-Type", "text/html;charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>control</title></head>`+
				`<body><p id="control">control</p><script>window.__xss = "control"</script></body></html>`)
			return
		}
		handler.ServeHTTP(&cspStrippingWriter{ResponseWriter: w}, r)
	})
}

type cspStrippingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *cspStrippingWriter) WriteHeader(status int) {
	if !w.wrote {
		w.wrote = true
		w.Header().Del("Content-Security-Policy")
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *cspStrippingWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// pageSafety is what a page in the browser holds that a script injected
// through a value would change: window.__xss (which every injected
// script in the tests sets), script, image, SVG and frame elements,
// elements with an inline event handler, and the schemes the page's links
// resolve to.
type pageSafety struct {
	XSS         string   `json:"xss"` // typeof window.__xss
	Scripts     int      `json:"scripts"`
	Active      int      `json:"active"`
	Handlers    int      `json:"handlers"`
	LinkSchemes []string `json:"linkSchemes"`
	LinkHrefs   []string `json:"linkHrefs"`
	Text        string   `json:"text"`
}

const pageSafetyJS = `(() => {
	const all = [...document.querySelectorAll('*')];
	const links = [...document.querySelectorAll('a[href]')];
	return {
		xss: typeof window.__xss,
		scripts: document.scripts.length,
		active: document.querySelectorAll('img, svg, iframe, object, embed, video, audio').length,
		handlers: all.filter(e => [...e.attributes].some(a => a.name.toLowerCase().startsWith('on'))).length,
		linkSchemes: links.map(a => a.protocol),
		linkHrefs: links.map(a => a.getAttribute('href')),
		text: (document.querySelector('main') || document.body).innerText,
	};
})()`

// readPageSafety reads pageSafety from the page tab shows.
func readPageSafety(t *testing.T, tab context.Context) pageSafety {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Evaluate[pageSafety](pageSafetyJS))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	return s
}

// wantInertPage fails the test if the page tab shows ran a script or has
// an element or attribute that would, or a link to anything but an
// http(s) URL.
func wantInertPage(t *testing.T, tab context.Context, what string) pageSafety {
	t.Helper()
	s := readPageSafety(t, tab)
	if s.XSS != "undefined" || s.Scripts != 0 || s.Active != 0 || s.Handlers != 0 {
		t.Errorf("%s: window.__xss is %s, %d scripts, %d images/frames/SVG, %d elements with event handlers; want undefined and none",
			what, s.XSS, s.Scripts, s.Active, s.Handlers)
	}
	for i, scheme := range s.LinkSchemes {
		if scheme != "http:" && scheme != "https:" {
			t.Errorf("%s: link %q has scheme %s", what, s.LinkHrefs[i], scheme)
		}
	}
	return s
}
