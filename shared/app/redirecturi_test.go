package app_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/app"
)

// TestSeedRedirectURIRules: the seed refuses the redirect URIs registration
// refuses (oauth.ValidateRedirectURI: RFC 6749 §3.1.2, RFC 8252 §7.1, §7.3,
// §8.3), naming the entry, and takes the ones native and web apps use.
func TestSeedRedirectURIRules(t *testing.T) {
	seed := func(uri string) string {
		return `{"clients": [{"client_id": "a", "grant_types": ["authorization_code"], "redirect_uris": ["https://ok.example/cb", ` +
			strings.ReplaceAll(strings.ReplaceAll(`"`+uri+`"`, `<`, `\u003c`), `>`, `\u003e`) + `]}]}`
	}
	for _, uri := range []string{
		"javascript:alert(document.domain)",
		"data:text/html,<script>alert(1)</script>",
		"vbscript:msgbox(1)",
		"file:///etc/passwd",
		"blob:https://ok.example/0f9e4c",
		"about:blank",
		"myapp:/cb",
		"ftp://ok.example/cb",
		"https://ok.example/" + strings.Repeat("x", 2048),
	} {
		_, err := app.ParseSeed(strings.NewReader(seed(uri)))
		if err == nil || !strings.Contains(err.Error(), "seed: clients[0].redirect_uris[1]: redirect URI") {
			t.Errorf("%.40s: %v, want clients[0].redirect_uris[1] refused", uri, err)
		}
	}
	for _, uri := range []string{"com.example.app:/oauth2redirect", "http://127.0.0.1:9000/cb", "http://[::1]/cb", "https://ok.example/cb2?x=1"} {
		if _, err := app.ParseSeed(strings.NewReader(seed(uri))); err != nil {
			t.Errorf("%s: %v, want it accepted", uri, err)
		}
		c := app.SeedClient{ClientID: "a", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{uri}}
		if errs := c.Validate(); errs != nil {
			t.Errorf("%s: Validate() = %v", uri, errs)
		}
	}
}
