// Command metadata is the Gatehouse metadata endpoint as an AWS Lambda function
// behind an API Gateway HTTP API: GET /.well-known/oauth-authorization-server,
// /.well-known/openid-configuration and /.well-known/jwks.json.
// It links no store, no password checking and no pages: only the signer's public keys.
// It is configured by the GATEHOUSE_* environment variables (shared/config).
package main

import (
	"github.com/gatehouse/gatehouse/shared/app"
)

func main() {
	app.StartLambda(app.FunctionMetadata, app.Parts{})
}
