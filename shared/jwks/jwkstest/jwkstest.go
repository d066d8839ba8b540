// Package jwkstest serves a JWK Set (RFC 7517 §5) over HTTP for tests of
// the code that fetches one: the jwks cache, the resource middleware, and
// private_key_jwt clients' jwks_uri.
package jwkstest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Server publishes a JWK Set and counts the fetches. Its answer can be
// changed at any time: other keys, an error status, a raw body, or a hold
// until released.
type Server struct {
	*httptest.Server
	// Fetches counts the requests that reached the key set.
	Fetches atomic.Int32

	path    string
	mu      sync.Mutex
	set     oauth.JWKS
	status  int           // non-zero: answer with this status
	body    string        // non-empty: answer with this body
	release chan struct{} // non-nil: wait for it before answering
}

// NewServer starts a server publishing keys at path ("" for any path),
// closed when the test ends. Requests other than GET of path get 404.
func NewServer(t testing.TB, path string, keys ...oauth.JWK) *Server {
	t.Helper()
	s := &Server{path: path, set: oauth.JWKS{Keys: keys}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || (s.path != "" && r.URL.Path != s.path) {
		http.NotFound(w, r)
		return
	}
	s.Fetches.Add(1)
	s.mu.Lock()
	set, status, body, release := s.set, s.status, s.body, s.release
	s.mu.Unlock()
	if release != nil {
		<-release
	}
	switch {
	case status != 0:
		w.WriteHeader(status)
	case body != "":
		_, _ = w.Write([]byte(body))
	default:
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(set)
	}
}

// SetKeys replaces the published keys.
func (s *Server) SetKeys(keys ...oauth.JWK) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set = oauth.JWKS{Keys: keys}
}

// SetStatus makes the server answer with status (0: the key set again).
func (s *Server) SetStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

// SetBody makes the server answer with body instead of the key set ("":
// the key set again).
func (s *Server) SetBody(body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
}

// Hold makes every answer wait until release is closed (nil: answer at
// once).
func (s *Server) Hold(release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.release = release
}
