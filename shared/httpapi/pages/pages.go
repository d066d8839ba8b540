// Package pages renders the authorization endpoint's HTML pages (sign-in,
// consent, error, sign-out) for httpapi.Options.Pages. They are templ
// components (https://templ.guide): each page is a *.templ file beside
// this one, compiled by `make generate` (templ generate, at the version
// go.mod requires) into the *_templ.go files, which are committed, so that
// building needs no templ tool. TestGeneratedCode fails if they are stale.
//
// templ escapes every value for the place it lands in: element text and
// quoted attribute values are HTML-escaped, and a URL attribute (href,
// action) takes only a URL whose scheme is safe. On top of that, pageURL
// percent-encodes what a URL must not hold, clientURL links a client's
// registered URLs only when they are http or https, and Render writes a NUL
// a value holds as U+FFFD, as a browser reads it. The pages' one inline
// stylesheet (style.css) is ours, allowed by the Content-Security-Policy
// by its hash (StyleSrc), so the pages need no 'unsafe-inline' and load
// nothing from anywhere.
//
// Why templ rather than html/template: the generated code calls no method
// by name. html/template's executor calls reflect.Value.MethodByName,
// which makes the linker keep every exported method of every linked type,
// the AWS SDK clients' whole APIs among them: the authorize function's
// linux/arm64 bootstrap was 13.7 MB with html/template, and is 9.7 MB with
// templ. templ's runtime still links html/template for its types, but not
// the executor.
//
// It is a package of its own so that only the authorization endpoint's
// function links it: package httpapi defines the data and the interface,
// and never imports this one.
package pages

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/a-h/templ"

	"github.com/gatehouse/gatehouse/shared/httpapi"
)

// css is the pages' stylesheet, inlined in each page's <style> element.
//
//go:embed style.css
var css string

// styleSrc is the CSP source of the stylesheet, its SHA-256 hash,
// computed at the first use rather than at package init.
var styleSrc = sync.OnceValue(func() string {
	sum := sha256.Sum256([]byte(css))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
})

// Renderer renders the pages; it implements httpapi.Pages. The zero value
// is ready to use, and it is safe for concurrent use.
type Renderer struct{}

var _ httpapi.Pages = (*Renderer)(nil)

// New returns the pages, for httpapi.Options.Pages.
func New() *Renderer { return &Renderer{} }

// Render writes page, a whole HTML document, showing data. Nothing is
// written if it fails.
func (*Renderer) Render(w io.Writer, page httpapi.Page, data *httpapi.PageData) error {
	if data == nil {
		data = &httpapi.PageData{}
	}
	var c templ.Component
	switch page {
	case httpapi.PageLogin:
		c = login(data)
	case httpapi.PageConsent:
		c = consent(data)
	case httpapi.PageError:
		c = errorPage(data)
	case httpapi.PageLogout:
		c = logout(data)
	case httpapi.PageSignedOut:
		c = signedOut(data.Title)
	default:
		return fmt.Errorf("pages: no page %q", page)
	}
	var b bytes.Buffer
	b.Grow(4096)
	if err := c.Render(context.Background(), &b); err != nil {
		return fmt.Errorf("pages: rendering %s: %w", page, err)
	}
	out := b.Bytes()
	// A NUL in an HTML document is a parse error, which browsers read as
	// U+FFFD (in attribute values and the title) or drop (in text). The
	// templates hold none, so any is a value's: write it as the browser
	// reads it, as html/template did.
	if bytes.IndexByte(out, 0) >= 0 {
		out = bytes.ReplaceAll(out, []byte{0}, []byte("\uFFFD"))
	}
	_, err := w.Write(out)
	return err
}

// StyleSrc returns the CSP source of the pages' inline stylesheet: its
// SHA-256 hash.
func (*Renderer) StyleSrc() string { return styleSrc() }

// stylesheet writes the pages' <style> element: style.css byte for byte,
// so that its hash is StyleSrc. It is ours, not a value, and holds no
// "</style" (TestEveryPage).
func stylesheet() templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		for _, s := range [...]string{"<style>", css, "</style>"} {
			if _, err := io.WriteString(w, s); err != nil {
				return err
			}
		}
		return nil
	})
}

// pageURL is a URL the server made (the form's action, the request again
// with prompt=login) for an href or action attribute. templ.URL keeps it
// only if its scheme is safe (else about:invalid#TemplFailedSanitizationURL),
// and what a URL must not hold (quotes, spaces, <, >, non-ASCII) is
// percent-encoded first, as html/template does, so the attribute holds a
// valid URL that no value can end early.
func pageURL(s string) templ.SafeURL {
	return templ.URL(normalizeURL(s))
}

// clientURL is the link for a URL a client registered (client_uri,
// logo_uri: RFC 7591 §2, anything a registration holds), and whether there
// is one: only an absolute http or https URL links. Anything else,
// javascript:, data:, vbscript:, a scheme hidden by whitespace or an
// entity, a relative or scheme-relative URL, is shown as text, not linked.
// This is stricter than templ.URL, which also lets mailto:, tel:, ftp:
// and relative URLs through.
func clientURL(s string) (templ.SafeURL, bool) {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || !(strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")) {
		return "", false
	}
	u := pageURL(s)
	return u, u != templ.FailedSanitizationURL
}

// normalizeURL percent-encodes every byte of s that is neither reserved
// nor unreserved in a URL (RFC 3986 §2.2, §2.3) except the single quote
// and parentheses, which it encodes too, leaving valid %XX escapes as
// they are: html/template's URL normalizer, so links read as they did.
func normalizeURL(s string) string {
	var b strings.Builder
	written := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~!#$&*+,/:;=?@[]", c) >= 0:
			continue
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			continue
		}
		if written == 0 {
			b.Grow(len(s) + 16)
		}
		b.WriteString(s[written:i])
		fmt.Fprintf(&b, "%%%02x", c)
		written = i + 1
	}
	if written == 0 {
		return s
	}
	b.WriteString(s[written:])
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
