package resource

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// TestRevocationReachesResourceServer reproduces issue 11, item 7: after a
// code replay (which revokes the grant, RFC 6749 §4.1.2) or a revocation
// (RFC 7009), /introspect says inactive, but a resource server verifying
// the JWT alone kept accepting it until it expired. In introspection mode
// the middleware refuses it (401 invalid_token) once its cached answer is
// older than the cache TTL; a JWT-only middleware still accepts it, which
// is what the README must say plainly.
func TestRevocationReachesResourceServer(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			revocations := []struct {
				name string
				// issue returns a live access token and what revokes it.
				issue func(t *testing.T, as *authServer) (tok string, revoke func())
			}{
				{"code replay", func(t *testing.T, as *authServer) (string, func()) {
					code := as.code()
					status, m := as.redeem(code)
					if status != http.StatusOK {
						t.Fatalf("redeem: %d %v", status, m)
					}
					return m["access_token"].(string), func() {
						status, m := as.redeem(code)
						if status != http.StatusBadRequest || m["error"] != oauth.CodeInvalidGrant {
							t.Fatalf("replayed code: %d %v, want invalid_grant", status, m)
						}
					}
				}},
				{"revocation of the access token", func(t *testing.T, as *authServer) (string, func()) {
					tok := as.clientToken(svcID, svcSecret)
					return tok, func() {
						if status, m := as.post(oauth.PathRevoke, svcID, svcSecret, url.Values{"token": {tok}}); status != http.StatusOK {
							t.Fatalf("revoke: %d %v", status, m)
						}
					}
				}},
			}
			for _, rv := range revocations {
				t.Run(rv.name, func(t *testing.T) {
					as := newAuthServer(t, kind)
					withIntrospection := newAPI(t, as, nil)
					jwtOnly := newAPI(t, as, func(c *Config) { c.Introspection = nil })
					tok, revoke := rv.issue(t, as)
					for _, a := range []*api{withIntrospection, jwtOnly} {
						if rec := a.call(tok); rec.Code != http.StatusOK {
							t.Fatalf("live token: %d %s", rec.Code, rec.Body)
						}
					}

					revoke()
					status, m := as.post(oauth.PathIntrospect, apiID, apiSecret, url.Values{"token": {tok}})
					if status != http.StatusOK || m["active"] != false {
						t.Fatalf("introspection after the revocation: %d %v, want inactive", status, m)
					}

					// Within the cache TTL the cached answer stands: the
					// documented delay.
					withIntrospection.clock.Advance(DefaultIntrospectionCacheTTL - 1)
					if rec := withIntrospection.call(tok); rec.Code != http.StatusOK {
						t.Errorf("within the cache TTL: %d, want the cached answer (200)", rec.Code)
					}
					// After it, the revocation has reached the resource server.
					withIntrospection.clock.Advance(1)
					rec := withIntrospection.call(tok)
					if rec.Code != http.StatusUnauthorized || errorAttr(rec.Header().Get("WWW-Authenticate")) != ErrorInvalidToken {
						t.Errorf("revoked token, introspection mode: %d %q %s, want 401 invalid_token",
							rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
					}
					if n := withIntrospection.served.Load(); n != 2 {
						t.Errorf("the protected handler ran %d times, want 2 (before the revocation and within the TTL)", n)
					}
					// A JWT-only verifier cannot know: it accepts the token
					// until it expires.
					if rec := jwtOnly.call(tok); rec.Code != http.StatusOK {
						t.Errorf("revoked token, JWT only: %d; this middleware cannot see revocations", rec.Code)
					}
				})
			}
		})
	}
}
