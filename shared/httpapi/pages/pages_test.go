package pages_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/httpapi/pages"
)

var update = flag.Bool("update", false, "rewrite testdata/*.html from the templates")

// render renders page with data, failing the test on an error.
func render(t *testing.T, page httpapi.Page, data *httpapi.PageData) string {
	t.Helper()
	var b bytes.Buffer
	if err := pages.New().Render(&b, page, data); err != nil {
		t.Fatalf("rendering %s: %v", page, err)
	}
	return b.String()
}

var styleElement = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// withoutStylesheet replaces the inline stylesheet's text with a marker,
// so that golden files hold the markup, not the CSS.
func withoutStylesheet(page string) string {
	return styleElement.ReplaceAllLiteralString(page, "<style>/* style.css */</style>")
}

// goldenCases are the pages as users see them, compared with
// testdata/<name>.html. templ writes each page on one line: it drops the
// whitespace between elements where HTML ignores it, and keeps one space
// where it shows (between inline elements and text). Element for element,
// attribute for attribute, the pages are those html/template wrote before
// them; see TestClientURIs for the one change in what they link.
var goldenCases = []struct {
	name string
	page httpapi.Page
	data httpapi.PageData
}{
	{"login", httpapi.PageLogin, httpapi.PageData{Title: "Sign in", FormAction: "http://127.0.0.1:8080/authorize", CSRF: "abc-_123",
		Request: "client_id=web&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&state=x+y&scope=read+write", ClientName: "Web App"}},
	{"login-error", httpapi.PageLogin, httpapi.PageData{Title: "Sign in", FormAction: "http://127.0.0.1:8080/authorize", CSRF: "c",
		Request: "a=b", Error: "The username or password is not right. Check them and try again.", ClientName: "Web App"}},
	// login_hint (OpenID Connect Core §3.1.2.1) fills the username in;
	// the password field gets the focus.
	{"login-hint", httpapi.PageLogin, httpapi.PageData{Title: "Sign in", FormAction: "http://127.0.0.1:8080/authorize", CSRF: "c",
		Request: "a=b&login_hint=alice%40example.com", ClientName: "Web App", LoginHint: "alice@example.com"}},
	{"consent", httpapi.PageConsent, httpapi.PageData{Title: "Allow access?", FormAction: "http://127.0.0.1:8080/authorize", CSRF: "c",
		Request: "client_id=web&state=s", ClientName: "Acme Photos", Username: "alice",
		Scopes:    []httpapi.PageScope{{Name: "profile", Description: "See your username"}, {Name: "read"}},
		ClientURI: "https://photos.example.com", LogoURI: "https://photos.example.com/logo.png?a=1&b=2",
		SwitchAccount: "http://127.0.0.1:8080/authorize?client_id=web&prompt=login&state=s+t%20u"}},
	{"consent-no-scopes", httpapi.PageConsent, httpapi.PageData{Title: "Allow access?", FormAction: "/authorize", CSRF: "c",
		Request: "r", ClientName: "X", Username: "bob", SwitchAccount: "/authorize?prompt=login"}},
	{"consent-hostile", httpapi.PageConsent, httpapi.PageData{Title: hostile, FormAction: "http://127.0.0.1:8080/authorize",
		CSRF: hostile, Request: "state=" + hostile, ClientName: hostile, Username: hostile,
		Scopes:    []httpapi.PageScope{{Name: hostile, Description: hostile}},
		ClientURI: "javascript:window.__xss=1", LogoURI: "data:text/html,<script>window.__xss=1</script>",
		SwitchAccount: "http://127.0.0.1:8080/authorize?state=" + hostile + `&x="><script>`}},
	{"error", httpapi.PageError, httpapi.PageData{Title: "Something went wrong", Error: "unknown client", ErrorCode: "invalid_request"}},
	{"error-no-description", httpapi.PageError, httpapi.PageData{Title: "Something went wrong", ErrorCode: "server_error"}},
	{"logout", httpapi.PageLogout, httpapi.PageData{Title: "Sign out", CSRF: "tok", FormAction: "http://127.0.0.1:8080/logout"}},
	{"signedout", httpapi.PageSignedOut, httpapi.PageData{Title: "Signed out"}},
}

// TestGolden: each page's markup is what testdata/<name>.html holds (go
// test -update rewrites them: review the diff).
func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			got := withoutStylesheet(render(t, c.page, &c.data))
			path := filepath.Join("testdata", c.name+".html")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", c.page, path, got)
			}
		})
	}
}

// TestEveryPage: each page is a whole document with its title, the
// stylesheet whose hash StyleSrc gives, and no script.
func TestEveryPage(t *testing.T) {
	r := pages.New()
	css, err := os.ReadFile("style.css")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(css)
	wantSrc := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if got := r.StyleSrc(); got != wantSrc {
		t.Fatalf("StyleSrc %q, want %q (the hash of style.css)", got, wantSrc)
	}
	// The stylesheet is written as it is, so it must not end its element.
	if strings.Contains(strings.ToLower(string(css)), "</style") {
		t.Fatalf("style.css holds </style")
	}
	for _, page := range []httpapi.Page{httpapi.PageLogin, httpapi.PageConsent, httpapi.PageError, httpapi.PageLogout, httpapi.PageSignedOut} {
		t.Run(string(page), func(t *testing.T) {
			body := render(t, page, &httpapi.PageData{Title: "T"})
			if !strings.HasPrefix(body, `<!doctype html><html lang="en">`) || !strings.HasSuffix(body, "</html>") {
				t.Errorf("not a whole document:\n%s", body)
			}
			if !strings.Contains(body, "<title>T · Gatehouse</title>") {
				t.Errorf("no title")
			}
			m := styleElement.FindStringSubmatch(body)
			if m == nil || m[1] != string(css) {
				t.Fatalf("the inline stylesheet is not style.css byte for byte")
			}
			if strings.Contains(strings.ToLower(body), "<script") {
				t.Errorf("the page has a script")
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	var b bytes.Buffer
	if err := pages.New().Render(&b, "nosuchpage", &httpapi.PageData{}); err == nil || b.Len() != 0 {
		t.Errorf("unknown page: error %v, wrote %d bytes; want an error and nothing written", err, b.Len())
	}
	// nil data renders the page empty, not a panic.
	if body := render(t, httpapi.PageSignedOut, nil); !strings.Contains(body, "You are signed out") {
		t.Errorf("nil data: %s", body)
	}
	// The zero Renderer works too.
	var zero pages.Renderer
	if err := zero.Render(&b, httpapi.PageLogout, &httpapi.PageData{}); err != nil {
		t.Error(err)
	}
}

// hostile is a value that would run a script, break out of a quoted
// attribute, or end the title, if it were not escaped.
const hostile = `<script>window.__xss=1</script>"'&+` + "\x00"

// hostileValues are what a client registration (name, URIs), a request
// (state, scope) or a server's scope descriptions may hold.
var hostileValues = []string{
	hostile,
	`"><script>window.__xss=1</script>`,
	`' onmouseover='window.__xss=1`,
	`" autofocus onfocus="window.__xss=1`,
	`</title><script>window.__xss=1</script>`,
	`</style><script>window.__xss=1</script>`,
	`<img src=x onerror="window.__xss=1">`,
	`<svg onload=window.__xss=1>`,
	`{{.CSRF}}`,            // data, never a template
	`&lt;script&gt;`,       // already escaped: shown as typed
	"\u2028<script>\u2029", // line separators
}

// textIn returns the unescaped text between open and close in body: one
// match, or the test fails.
func textIn(t *testing.T, body, open, close string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(open) + `([^<]*)` + regexp.QuoteMeta(close))
	m := re.FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("%d matches of %s…%s, want 1:\n%s", len(m), open, close, body)
	}
	return html.UnescapeString(m[0][1])
}

// attrOf returns the unescaped value of attribute attr of the one tag
// that starts with prefix.
func attrOf(t *testing.T, body, prefix, attr string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(prefix) + `[^>]*?\s` + attr + `="([^"<>]*)"[^<>]*>`)
	m := re.FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("%d tags %s… with %s, want 1:\n%s", len(m), prefix, attr, body)
	}
	return html.UnescapeString(m[0][1])
}

var (
	tagPattern  = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9]*)([^<>]*)>`)
	attrPattern = regexp.MustCompile(`\s([^\s="'<>/]+)(?:="[^"<>]*")?`)
)

// The elements and attributes the templates write: anything else on a
// page came from a value.
var (
	pageElements = map[string]bool{"html": true, "head": true, "meta": true, "title": true, "style": true,
		"body": true, "main": true, "p": true, "h1": true, "strong": true, "form": true, "input": true,
		"label": true, "button": true, "ul": true, "li": true, "code": true, "a": true, "br": true}
	pageAttributes = map[string]bool{"lang": true, "charset": true, "name": true, "content": true,
		"class": true, "aria-hidden": true, "method": true, "action": true, "type": true, "value": true,
		"for": true, "id": true, "autocomplete": true, "autocapitalize": true, "spellcheck": true,
		"required": true, "autofocus": true, "href": true, "rel": true, "role": true}
)

// wantInert checks that a page has no markup but its template's: only
// the templates' elements and attributes (no script, no image, no event
// handler), every attribute value quoted, and as many of each element in
// tags, and of autofocus attributes, as the template writes.
func wantInert(t *testing.T, body string, tags map[string]int, autofocus int) {
	t.Helper()
	lower := strings.ToLower(body)
	for _, bad := range []string{"<script", "<img", "<svg", "<iframe", "<object"} {
		if strings.Contains(lower, bad) {
			t.Errorf("the page contains %q:\n%s", bad, body)
		}
	}
	count := map[string]int{}
	focus := 0
	for _, m := range tagPattern.FindAllStringSubmatch(body, -1) {
		name := strings.ToLower(m[2])
		if !pageElements[name] {
			t.Errorf("element <%s%s> is not the template's", m[2], m[3])
		}
		if m[1] == "/" {
			continue
		}
		count[name]++
		rest := attrPattern.ReplaceAllStringFunc(m[3], func(a string) string {
			attr := strings.ToLower(attrPattern.FindStringSubmatch(a)[1])
			if !pageAttributes[attr] {
				t.Errorf("attribute %s in <%s%s> is not the template's", attr, m[2], m[3])
			}
			if attr == "autofocus" {
				focus++
			}
			return ""
		})
		if strings.TrimSpace(rest) != "" {
			t.Errorf("<%s%s>: %q is not a quoted attribute", m[2], m[3], rest)
		}
	}
	for tag, n := range tags {
		if count[tag] != n {
			t.Errorf("%d <%s> elements, want %d", count[tag], tag, n)
		}
	}
	if focus != autofocus {
		t.Errorf("%d autofocus attributes, want %d", focus, autofocus)
	}
}

// TestHostileValuesAreInert: a client name, a username, scope names and
// descriptions, the state in the carried request, the CSRF token and an
// error message holding markup, quotes or template syntax show as the
// text they are: no element, attribute or script comes of them, and each
// reads back exactly (text and attribute values unescape to the input).
func TestHostileValuesAreInert(t *testing.T) {
	for _, v := range hostileValues {
		t.Run(v, func(t *testing.T) {
			// The browser turns NUL into U+FFFD; Render writes it so.
			want := strings.ReplaceAll(v, "\x00", "\uFFFD")
			request := "client_id=web&state=" + v

			login := render(t, httpapi.PageLogin, &httpapi.PageData{Title: v, FormAction: "https://as.example/authorize",
				CSRF: v, Request: request, Error: v, ClientName: v, LoginHint: v})
			wantInert(t, login, map[string]int{"input": 5, "form": 1, "p": 3, "strong": 1, "title": 1}, 1)
			if got := attrOf(t, login, `<input id="username"`, "value"); got != want {
				t.Errorf("login_hint %q, want %q", got, want)
			}
			if got := textIn(t, login, "<title>", " · Gatehouse</title>"); got != want {
				t.Errorf("title %q, want %q", got, want)
			}
			if got := textIn(t, login, "to continue to <strong>", "</strong>"); got != want {
				t.Errorf("client name %q, want %q", got, want)
			}
			if got := textIn(t, login, `<p class="alert" role="alert">`, "</p>"); got != want {
				t.Errorf("error %q, want %q", got, want)
			}
			if got := attrOf(t, login, `<input type="hidden" name="gh_request"`, "value"); got != strings.ReplaceAll(request, "\x00", "\uFFFD") {
				t.Errorf("gh_request %q, want %q", got, request)
			}
			if got := attrOf(t, login, `<input type="hidden" name="gh_csrf"`, "value"); got != want {
				t.Errorf("gh_csrf %q, want %q", got, want)
			}

			consent := render(t, httpapi.PageConsent, &httpapi.PageData{Title: v, FormAction: "https://as.example/authorize",
				CSRF: v, Request: request, ClientName: v, Username: v,
				Scopes:        []httpapi.PageScope{{Name: v, Description: v}, {Name: v}},
				SwitchAccount: "https://as.example/authorize?prompt=login&state=" + v})
			wantInert(t, consent, map[string]int{"input": 3, "form": 1, "li": 2, "code": 2, "a": 1, "strong": 2}, 0)
			if got := textIn(t, consent, "Signed in as <strong>", "</strong>"); got != want {
				t.Errorf("username %q, want %q", got, want)
			}
			if got := textIn(t, consent, "<li>", " <code>"); got != want {
				t.Errorf("scope description %q, want %q", got, want)
			}
			href := attrOf(t, consent, "<a", "href")
			if !strings.HasPrefix(href, "https://as.example/authorize?prompt=login&state=") || strings.ContainsAny(href, "<>\"' ") {
				t.Errorf("Not you? href %q: want the same URL with the state percent-encoded", href)
			}

			errPage := render(t, httpapi.PageError, &httpapi.PageData{Title: v, Error: v, ErrorCode: v})
			wantInert(t, errPage, map[string]int{"code": 1, "p": 3}, 0)
			if got := textIn(t, errPage, "tell its support team this code: <code>", "</code>"); got != want {
				t.Errorf("error code %q, want %q", got, want)
			}
		})
	}
}

// TestClientURIs: the client's registered client_uri and logo_uri (RFC
// 7591 §2, anything a registration holds) are shown as text, as
// registered. They link only where they are absolute http or https URLs
// (clientURL), percent-encoded so that a quote cannot leave the href.
// Anything else, javascript:, data:, vbscript:, a scheme hidden by case,
// whitespace or an entity, mailto:, a relative or scheme-relative URL, is
// text with no link. (html/template linked these to "#ZgotmplZ", or
// linked mailto: and relative URLs; templ.URL would link the unsafe ones
// to "about:invalid#TemplFailedSanitizationURL". A dead link helps no
// one, and a link the browser tests follow must stay http(s).)
func TestClientURIs(t *testing.T) {
	tests := []struct {
		uri, href string // href "": no link
	}{
		{"https://photos.example.com", "https://photos.example.com"},
		{"http://localhost:3000/app?a=1&b=2", "http://localhost:3000/app?a=1&b=2"},
		{"HTTPS://photos.example.com/Logo.PNG", "HTTPS://photos.example.com/Logo.PNG"},
		{"https://photos.example.com/caf\u00e9 logo.png", "https://photos.example.com/caf%c3%a9%20logo.png"},
		{`https://acme.example/?q="><script>window.__xss=1</script>`, "https://acme.example/?q=%22%3e%3cscript%3ewindow.__xss=1%3c/script%3e"},
		{`https://acme.example/" onmouseover="window.__xss=1`, "https://acme.example/%22%20onmouseover=%22window.__xss=1"},
		{"https://acme.example/x'onmouseover='window.__xss=1", "https://acme.example/x%27onmouseover=%27window.__xss=1"},
		{"//evil.example/x", ""},
		{"/local/path", ""},
		{"javascript:window.__xss=1", ""},
		{"JavaScript:window.__xss=1", ""},
		{" javascript:window.__xss=1", ""},
		{"java\tscript:window.__xss=1", ""},
		{"javascript:https://photos.example.com", ""},
		{"javascript&#58;window.__xss=1", ""},
		{" https://photos.example.com", ""},
		{"data:text/html,<script>window.__xss=1</script>", ""},
		{"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+", ""},
		{"vbscript:msgbox(1)", ""},
		{"mailto:support@photos.example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			for _, field := range []string{"client_uri", "logo_uri"} {
				d := &httpapi.PageData{Title: "t", FormAction: "/authorize", ClientName: "c", SwitchAccount: "/authorize?prompt=login"}
				label := "Website: "
				if field == "client_uri" {
					d.ClientURI = tt.uri
				} else {
					d.LogoURI, label = tt.uri, "Logo: "
				}
				body := render(t, httpapi.PageConsent, d)
				links := 1 // Not you?
				if tt.href != "" {
					links++
				}
				wantInert(t, body, map[string]int{"a": links}, 0)
				if tt.href == "" {
					hint := textIn(t, body, `<p class="hint">`, "</p>")
					if hint != label+tt.uri {
						t.Errorf("%s: the hint reads %q, want %q, no link", field, hint, label+tt.uri)
					}
					continue
				}
				link := regexp.MustCompile(regexp.QuoteMeta(label) + `<a href="([^"<>]*)" rel="noopener noreferrer">([^<]*)</a>`).FindStringSubmatch(body)
				if link == nil {
					t.Fatalf("%s: no %slink:\n%s", field, label, body)
				}
				href, text := html.UnescapeString(link[1]), html.UnescapeString(link[2])
				if href != tt.href {
					t.Errorf("%s: href %q, want %q", field, href, tt.href)
				}
				if text != tt.uri {
					t.Errorf("%s: link text %q, want the URI as registered %q", field, text, tt.uri)
				}
				if low := strings.ToLower(href); !strings.HasPrefix(low, "http://") && !strings.HasPrefix(low, "https://") {
					t.Errorf("%s: href %q is not an http(s) URL", field, href)
				}
			}
		})
	}
}

// TestPageURLs: the URLs the server makes (the form's action, "Not you?")
// are percent-encoded where they must be and, were one ever to hold an
// unsafe scheme, templ.URL replaces it: no form posts to, and no link
// leads to, javascript: or data:.
func TestPageURLs(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"https://as.example/authorize", "https://as.example/authorize"},
		{"/authorize?prompt=login&state=a+b%20c", "/authorize?prompt=login&state=a+b%20c"},
		{`https://as.example/authorize?state="'<>` + "\x00 \u00e9%zz%4", "https://as.example/authorize?state=%22%27%3c%3e%00%20%c3%a9%25zz%254"},
		{"javascript:window.__xss=1", "about:invalid#TemplFailedSanitizationURL"},
		{"data:text/html,<script>window.__xss=1</script>", "about:invalid#TemplFailedSanitizationURL"},
		{" javascript:window.__xss=1", "about:invalid#TemplFailedSanitizationURL"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			body := render(t, httpapi.PageConsent, &httpapi.PageData{FormAction: tt.url, SwitchAccount: tt.url})
			if got := attrOf(t, body, "<form", "action"); got != tt.want {
				t.Errorf("form action %q, want %q", got, tt.want)
			}
			if got := attrOf(t, body, "<a", "href"); got != tt.want {
				t.Errorf("Not you? href %q, want %q", got, tt.want)
			}
			body = render(t, httpapi.PageLogin, &httpapi.PageData{FormAction: tt.url})
			if got := attrOf(t, body, "<form", "action"); got != tt.want {
				t.Errorf("login form action %q, want %q", got, tt.want)
			}
			body = render(t, httpapi.PageLogout, &httpapi.PageData{FormAction: tt.url})
			if got := attrOf(t, body, "<form", "action"); got != tt.want {
				t.Errorf("logout form action %q, want %q", got, tt.want)
			}
		})
	}
}

// TestConcurrentRender renders every page from many goroutines at once
// (run with -race): the components and the stylesheet's hash are shared.
func TestConcurrentRender(t *testing.T) {
	r := pages.New()
	want := map[string]string{}
	for _, c := range goldenCases {
		want[c.name] = render(t, c.page, &c.data)
	}
	var wg sync.WaitGroup
	for range 8 {
		for _, c := range goldenCases {
			wg.Go(func() {
				var b bytes.Buffer
				if err := r.Render(&b, c.page, &c.data); err != nil {
					t.Error(err)
					return
				}
				if b.String() != want[c.name] {
					t.Errorf("%s rendered differently under concurrency", c.name)
				}
				_ = r.StyleSrc()
			})
		}
	}
	wg.Wait()
}
