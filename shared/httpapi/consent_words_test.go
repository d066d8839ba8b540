package httpapi_test

import (
	"context"
	"html"
	"strings"
	"testing"
)

// TestConsentNamesOpenIDScopesInWords: an OpenID request's consent page
// starts with "Confirm who you are" wherever openid stands in the request,
// then names in words the claims each scope releases (OpenID Connect Core
// §5.4, §11).
func TestConsentNamesOpenIDScopesInWords(t *testing.T) {
	ts := newTestServer(t)
	c := ts.Store
	web, err := c.GetClient(context.Background(), webID)
	if err != nil {
		t.Fatal(err)
	}
	web.Scopes = append(web.Scopes, "openid", "profile", "email", "address", "phone", "offline_access")
	if err := c.PutClient(context.Background(), web); err != nil {
		t.Fatal(err)
	}
	page := ts.signInToConsent(ts.newBrowser(), withParams(webCodeParams("st"), "scope", "read profile email openid address phone offline_access"))
	body := html.UnescapeString(page.Body)
	var last int
	for _, words := range []string{
		"Confirm who you are",
		"Read your data",
		"See your name, username, picture and profile",
		"See your email address and whether it is verified",
		"See your postal address",
		"See your phone number and whether it is verified",
		"Keep access to your account when you are not using it",
	} {
		i := strings.Index(body, words)
		if i < 0 || i < last {
			t.Fatalf("%q missing or out of order (at %d, after %d) on the consent page:\n%s", words, i, last, page.Body)
		}
		last = i
	}
}
