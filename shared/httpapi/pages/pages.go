// Package pages renders the authorization endpoint's HTML pages (sign-in,
// consent, error, sign-out) with html/template, for httpapi.Options.Pages.
//
// html/template escapes every value by the context it lands in: element
// text, a quoted attribute, a URL (where a javascript: or data: URL
// becomes "#ZgotmplZ"), CSS or JavaScript. The templates are embedded
// (templates/*.html) with the stylesheet they inline (templates/style.css),
// which the Content-Security-Policy allows by its hash (StyleSrc), so the
// pages need no 'unsafe-inline' and load nothing from anywhere.
//
// It is a package of its own so that only the authorization endpoint's
// function links html/template: package httpapi defines the data and the
// interface, and never imports this one.
package pages

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"sync"

	"github.com/gatehouse/gatehouse/shared/httpapi"
)

//go:embed templates/*.html templates/style.css
var files embed.FS

// pageNames are the pages, each a file templates/<name>.html that defines
// "content", which the layout (templates/layout.html) wraps.
var pageNames = []httpapi.Page{
	httpapi.PageLogin, httpapi.PageConsent, httpapi.PageError,
	httpapi.PageLogout, httpapi.PageSignedOut,
}

// set is the parsed templates and the hash of their stylesheet.
type set struct {
	pages    map[httpapi.Page]*template.Template
	styleSrc string
}

// parsed parses the templates once, at the first page a process renders
// rather than at its start. Parsed at package init they would add about
// 0.2 ms to the authorize function's init (GODEBUG=inittrace=1); lazily,
// init adds nothing and the first page takes about 0.25 ms more (parsing,
// and the escaping html/template does at a template's first execution
// either way). The first user waits the same; the function's init stays
// that of the code it must run, and a request that shows no page (a
// redirect) never pays. An error is a bug in the embedded templates,
// which the package's tests catch.
var parsed = sync.OnceValues(parse)

func parse() (*set, error) {
	css, err := files.ReadFile("templates/style.css")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(css)
	funcs := template.FuncMap{
		// stylesheet is the page's inline stylesheet: ours, trusted, and
		// inserted byte for byte so that its CSP hash matches.
		"stylesheet": func() template.CSS { return template.CSS(css) },
	}
	layout, err := template.New("layout").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	s := &set{
		pages:    make(map[httpapi.Page]*template.Template, len(pageNames)),
		styleSrc: "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'",
	}
	for _, name := range pageNames {
		t, err := layout.Clone()
		if err != nil {
			return nil, err
		}
		if t, err = t.ParseFS(files, "templates/"+string(name)+".html"); err != nil {
			return nil, err
		}
		s.pages[name] = t.Lookup("layout")
	}
	return s, nil
}

// Renderer renders the pages; it implements httpapi.Pages. The zero value
// is ready to use, and it is safe for concurrent use.
type Renderer struct{}

var _ httpapi.Pages = (*Renderer)(nil)

// New returns the pages, for httpapi.Options.Pages.
func New() *Renderer { return &Renderer{} }

// Render writes page, a whole HTML document, showing data.
func (*Renderer) Render(w io.Writer, page httpapi.Page, data *httpapi.PageData) error {
	s, err := parsed()
	if err != nil {
		return fmt.Errorf("pages: parsing the templates: %w", err)
	}
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("pages: no page %q", page)
	}
	if data == nil {
		data = &httpapi.PageData{}
	}
	return t.Execute(w, data)
}

// StyleSrc returns the CSP source of the pages' inline stylesheet: its
// SHA-256 hash.
func (*Renderer) StyleSrc() string {
	s, err := parsed()
	if err != nil {
		return "'none'"
	}
	return s.styleSrc
}
