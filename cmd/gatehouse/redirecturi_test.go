package main

import "testing"

// TestClientsCreateRefusesDangerousRedirectURIs: `gatehouse clients create`
// applies the redirect URI rules of registration (oauth.ValidateRedirectURI:
// no javascript:, data:, vbscript:, file:, blob:, about:, no private-use
// scheme without a dot, RFC 8252 §7.1), before any DynamoDB call.
func TestClientsCreateRefusesDangerousRedirectURIs(t *testing.T) {
	h := newOfflineHarness(t)
	for _, uri := range []string{
		"javascript:alert(document.domain)", "data:text/html,x", "vbscript:msgbox(1)", "file:///etc/passwd",
		"blob:https://app.example.com/x", "about:blank", "myapp:/cb",
	} {
		r := h.run("", "clients", "create", "--grant-type", "authorization_code", "--auth-method", "none", "--redirect-uri", uri)
		wantFail(t, r, 2, `--redirect-uri: redirect URI "`+uri+`"`)
		if r.stdout != "" {
			t.Errorf("%s: printed %q", uri, r.stdout)
		}
	}
}
