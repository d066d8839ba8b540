package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// capabilityProblems checks that the deployed configuration advertises only
// what the deployment can do. The implicit grant issues its access token at
// the authorization endpoint, and on AWS the authorize function cannot sign
// (only the token function has kms:Sign, checked by the iam rule): so the
// metadata function, run on the function's own evaluated environment, must
// advertise no implicit grant, response_type=token or fragment response
// mode (RFC 8414 §2), and the authorize function must refuse
// response_type=token as unsupported (GATEHOUSE_IMPLICIT_GRANT off).
func capabilityProblems(function string, cfg config.Config) []string {
	var problems []string
	if cfg.ImplicitGrant {
		problems = append(problems, fmt.Sprintf("%s: %s is on, but the authorize function cannot sign (only TokenFunction may call kms:Sign): "+
			"response_type=token would answer server_error", function, config.EnvImplicitGrant))
	}
	// The metadata function's own wiring: no store, the KMS signer (which
	// makes no call to publish the metadata).
	a, err := app.Build(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Parts{},
		app.WithAWSConfig(func(context.Context) (aws.Config, error) { return aws.Config{Region: sampleRegion}, nil }))
	if err != nil {
		return append(problems, fmt.Sprintf("%s: the metadata function's app does not build: %v", function, err))
	}
	rec := httptest.NewRecorder()
	a.Metadata().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, oauth.PathMetadata, nil))
	var md oauth.Metadata
	if err := json.Unmarshal(rec.Body.Bytes(), &md); rec.Code != http.StatusOK || err != nil {
		return append(problems, fmt.Sprintf("%s: the metadata does not serve: %d %v", function, rec.Code, err))
	}
	for what, list := range map[string][]string{
		"grant_types_supported " + oauth.GrantImplicit:        md.GrantTypesSupported,
		"response_types_supported " + oauth.ResponseTypeToken: md.ResponseTypesSupported,
		// OpenID Connect Core §3.2, §3.3: signed at the authorization endpoint too.
		"response_types_supported " + oauth.ResponseTypeIDToken:      md.ResponseTypesSupported,
		"response_types_supported " + oauth.ResponseTypeIDTokenToken: md.ResponseTypesSupported,
		"response_types_supported " + oauth.ResponseTypeCodeIDToken:  md.ResponseTypesSupported,
		"response_modes_supported fragment":                          md.ResponseModesSupported,
	} {
		name, value, _ := strings.Cut(what, " ")
		if slices.Contains(list, value) {
			problems = append(problems, fmt.Sprintf("%s: the metadata advertises %s in %s, which the authorize function cannot issue (it cannot sign)",
				function, value, name))
		}
	}
	slices.Sort(problems)
	return problems
}

// TestCapabilitiesCatchImplicitGrant: turning the implicit grant on in the
// template's environment is reported, as the metadata would then advertise
// what the authorize function cannot do.
func TestCapabilitiesCatchImplicitGrant(t *testing.T) {
	tmpl, proj := load(t)
	baseline := checkAll(tmpl, proj)
	broken := tmpl.clone()
	vars := get(broken.section("Globals"), "Function", "Environment", "Variables").(map[string]any)
	vars[config.EnvImplicitGrant] = "true"
	problems := checkAll(broken, proj)
	want := []string{
		"MetadataFunction: the metadata advertises implicit in grant_types_supported",
		"MetadataFunction: the metadata advertises token in response_types_supported",
		"MetadataFunction: the metadata advertises fragment in response_modes_supported",
		"AuthorizeFunction: GATEHOUSE_IMPLICIT_GRANT is on, but the authorize function cannot sign",
	}
	for _, w := range want {
		found := false
		for _, msg := range problems {
			if strings.Contains(msg, w) && !slices.Contains(baseline, msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem reported contains %q; got:\n%s", w, strings.Join(problems, "\n"))
		}
	}
	// The unbroken template: the deployed metadata has no implicit grant.
	for _, msg := range baseline {
		if strings.Contains(msg, "implicit") || strings.Contains(msg, config.EnvImplicitGrant) {
			t.Errorf("the template: %s", msg)
		}
	}
}
