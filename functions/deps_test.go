package functions_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Packages a function may or may not link (see app.Parts).
const (
	pkgDynamoDB   = "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	pkgKMS        = "github.com/aws/aws-sdk-go-v2/service/kms"
	pkgArgon2     = "golang.org/x/crypto/argon2"
	pkgPasswords  = "github.com/gatehouse/gatehouse/shared/passwords"
	pkgPages      = "github.com/gatehouse/gatehouse/shared/httpapi/pages"
	pkgTempl      = "github.com/a-h/templ"
	pkgDynamo     = "github.com/gatehouse/gatehouse/shared/store/dynamostore"
	pkgSDKConfig  = "github.com/aws/aws-sdk-go-v2/config"
	pkgSTS        = "github.com/aws/aws-sdk-go-v2/service/sts"
	pkgSSO        = "github.com/aws/aws-sdk-go-v2/service/sso"
	pkgAppStores  = "github.com/gatehouse/gatehouse/shared/app/stores"
	pkgMemstore   = "github.com/gatehouse/gatehouse/shared/store/memstore"
	pkgHTTPAPI    = "github.com/gatehouse/gatehouse/shared/httpapi"
	pkgLambdaRPC  = "net/rpc"
	pkgAWSJSONOld = "github.com/gatehouse/gatehouse/shared/awsjson"
)

// functionDeps is what each function must and must not link: each links
// only what its endpoint serves (app.Parts). Every function needs KMS (the
// signer's public keys) and none the SDK's config package (its STS and SSO
// clients: about 1.8 MB; app.EnvAWSConfig reads Lambda's environment).
var functionDeps = map[string]struct{ must, mustNot []string }{
	"authorize": {
		must:    []string{pkgDynamoDB, pkgKMS, pkgArgon2, pkgPages, pkgTempl},
		mustNot: []string{pkgSDKConfig, pkgSTS, pkgSSO, pkgLambdaRPC, pkgAWSJSONOld},
	},
	"token": {
		must:    []string{pkgDynamoDB, pkgKMS, pkgArgon2},
		mustNot: []string{pkgPages, pkgTempl, "html/template", pkgSDKConfig, pkgSTS, pkgSSO, pkgLambdaRPC, pkgAWSJSONOld},
	},
	"introspect": {
		must:    []string{pkgDynamoDB, pkgKMS},
		mustNot: []string{pkgArgon2, pkgPasswords, pkgPages, pkgTempl, "html/template", pkgSDKConfig, pkgSTS, pkgSSO, pkgLambdaRPC},
	},
	"revoke": {
		must:    []string{pkgDynamoDB, pkgKMS},
		mustNot: []string{pkgArgon2, pkgPasswords, pkgPages, pkgTempl, "html/template", pkgSDKConfig, pkgSTS, pkgSSO, pkgLambdaRPC},
	},
	// UserInfo (OpenID Connect Core 1.0 §5.3) verifies an access token
	// and reads the user: the store and the public keys, no passwords, no
	// pages.
	"userinfo": {
		must:    []string{pkgDynamoDB, pkgKMS},
		mustNot: []string{pkgArgon2, pkgPasswords, pkgPages, pkgTempl, "html/template", pkgSDKConfig, pkgSTS, pkgSSO, pkgLambdaRPC},
	},
	"metadata": {
		must: []string{pkgKMS, pkgHTTPAPI},
		mustNot: []string{pkgDynamoDB, pkgDynamo, pkgAppStores, pkgMemstore, pkgArgon2, pkgPasswords,
			pkgPages, pkgTempl, "html/template", pkgSDKConfig, pkgSTS, pkgSSO, pkgLambdaRPC},
	},
}

// TestFunctionDependencies checks each function's dependency set, as `go
// list -deps` reports it for the Lambda build (-tags lambda.norpc), so a
// later change cannot quietly pull a store, argon2 or the pages into a
// function that does not serve them. It is quick (no build) and runs even
// under -short.
func TestFunctionDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	if len(functionDeps) != len(functionNames) {
		t.Fatalf("functionDeps covers %d functions; there are %d", len(functionDeps), len(functionNames))
	}
	for _, name := range functionNames {
		t.Run(name, func(t *testing.T) {
			rules, ok := functionDeps[name]
			if !ok {
				t.Fatalf("no dependency rules for function %s", name)
			}
			cmd := exec.Command(goBin, "list", "-tags", "lambda.norpc", "-deps", "./functions/"+name)
			cmd.Dir = ".."
			cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps ./functions/%s: %v", name, err)
			}
			deps := strings.Fields(string(out))
			for _, pkg := range rules.mustNot {
				if slices.Contains(deps, pkg) {
					t.Errorf("functions/%s depends on %s, which its endpoint does not use", name, pkg)
				}
			}
			for _, pkg := range rules.must {
				if !slices.Contains(deps, pkg) {
					t.Errorf("functions/%s does not depend on %s (has the wiring changed? update functionDeps)", name, pkg)
				}
			}
		})
	}
}
