package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// TestNewMetadataMatchesNew: the metadata function's handler, built from
// an oauth.Discovery without a store, answers every well-known path with
// the bytes, status and headers of the full server's, and refuses what the
// full server refuses.
func TestNewMetadataMatchesNew(t *testing.T) {
	signer, err := localsigner.New("RS256")
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth.Config{Issuer: "https://auth.example.com", ScopesSupported: []string{"read"}}
	srv, err := oauth.NewServer(cfg, memstore.New(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := oauth.NewDiscovery(cfg, signer)
	if err != nil {
		t.Fatal(err)
	}
	opts := httpapi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	full := httpapi.New(srv, opts).Metadata()
	only := httpapi.NewMetadata(disc, opts)
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, oauth.PathMetadata},
		{http.MethodGet, oauth.PathOpenIDMetadata},
		{http.MethodGet, oauth.PathJWKS},
		{http.MethodHead, oauth.PathJWKS},
		{http.MethodPost, oauth.PathMetadata},
		{http.MethodGet, "/.well-known/other"},
	} {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		full.ServeHTTP(want, httptest.NewRequest(tc.method, tc.path, nil))
		only.ServeHTTP(got, httptest.NewRequest(tc.method, tc.path, nil))
		if tc.method == http.MethodGet && tc.path != "/.well-known/other" && got.Code != http.StatusOK {
			t.Errorf("%s %s: status %d, want 200", tc.method, tc.path, got.Code)
		}
		if got.Code != want.Code || got.Body.String() != want.Body.String() {
			t.Errorf("%s %s: NewMetadata %d %q; New %d %q", tc.method, tc.path, got.Code, got.Body, want.Code, want.Body)
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Allow", "Access-Control-Allow-Origin"} {
			if got.Header().Get(h) != want.Header().Get(h) {
				t.Errorf("%s %s: %s %q, want %q", tc.method, tc.path, h, got.Header().Get(h), want.Header().Get(h))
			}
		}
	}
}
