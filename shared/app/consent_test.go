package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// TestScopeDescriptionsReachTheConsentPage: GATEHOUSE_SCOPE_DESCRIPTIONS
// words the consent page, with the standard scopes' own wording kept.
func TestScopeDescriptionsReachTheConsentPage(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	defer srv.Close()
	cfg, err := config.FromEnv(func(k string) string {
		return map[string]string{
			config.EnvIssuer:            srv.URL,
			config.EnvSigningAlg:        "ES256",
			config.EnvSeedFile:          writeFile(t, "seed.json", goodSeed),
			config.EnvScopeDescriptions: `{"read": "Read your notes & lists"}`,
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Build(context.Background(), cfg, discard, allParts())
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = a.Handlers.All()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	query := url.Values{
		"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {"https://app.example.com/cb"},
		"scope": {"openid read"}, "code_challenge": {oauth.S256Challenge(oauth.RandomToken())}, "code_challenge_method": {"S256"},
	}
	login := get(t, browser, srv.URL+"/authorize?"+query.Encode())
	form := hiddenFields(login)
	form.Set("username", "alice")
	form.Set("password", "wonderland-rabbit-42")
	resp, err := browser.PostForm(srv.URL+"/authorize", form) // follows the redirect to the consent page
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	consent := string(body)
	for _, want := range []string{"Read your notes &amp; lists", "Confirm who you are"} {
		if !strings.Contains(consent, want) {
			t.Errorf("the consent page lacks %q:\n%s", want, consent)
		}
	}
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields returns a page's hidden form fields, unescaped.
func hiddenFields(page string) url.Values {
	form := url.Values{}
	unescape := strings.NewReplacer("&amp;", "&", "&#34;", `"`, "&#39;", "'", "&#43;", "+", "&lt;", "<", "&gt;", ">")
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], unescape.Replace(m[2]))
	}
	return form
}
