package functions_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// TestLambdaFunctionsOfferNoImplicitGrant: with the Lambda defaults the
// metadata function does not advertise the implicit grant, and the
// authorize function, which on AWS cannot sign, refuses response_type=token
// as unsupported_response_type (RFC 6749 §4.2.2.1) instead of failing to
// sign it with server_error, even for a client registered for it.
func TestLambdaFunctionsOfferNoImplicitGrant(t *testing.T) {
	env := lambdaEnv(t, filepath.Join(t.TempDir(), "key.pem"))
	seed := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(seed, []byte(`{"clients": [{"client_id": "legacy-spa", "redirect_uris": ["https://spa.example/cb"],
		"grant_types": ["implicit"], "scope": "read"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env[config.EnvSeedFile] = seed

	resp := invoke(t, function(t, app.FunctionMetadata, env), event(http.MethodGet, oauth.PathMetadata, "", nil, nil))
	var md oauth.Metadata
	if err := json.Unmarshal([]byte(resp.Body), &md); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("metadata: %d %v", resp.StatusCode, err)
	}
	if slices.Contains(md.GrantTypesSupported, oauth.GrantImplicit) || slices.Contains(md.ResponseTypesSupported, oauth.ResponseTypeToken) ||
		slices.Contains(md.ResponseModesSupported, "fragment") {
		t.Errorf("the metadata function advertises the implicit grant: %+v", md)
	}

	q := url.Values{"client_id": {"legacy-spa"}, "redirect_uri": {"https://spa.example/cb"}, "response_type": {"token"}, "state": {"s"}}
	resp = invoke(t, function(t, app.FunctionAuthorize, env), event(http.MethodGet, oauth.PathAuthorize, q.Encode(), nil, nil))
	loc, err := url.Parse(resp.Headers["Location"])
	if resp.StatusCode/100 != 3 || err != nil || !strings.HasPrefix(loc.String(), "https://spa.example/cb#") {
		t.Fatalf("authorize: %d Location %q", resp.StatusCode, resp.Headers["Location"])
	}
	if frag, _ := url.ParseQuery(loc.Fragment); frag.Get("error") != oauth.CodeUnsupportedResponseType {
		t.Errorf("authorize: redirect %s, want error=%s", loc, oauth.CodeUnsupportedResponseType)
	}
}
