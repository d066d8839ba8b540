// Command introspect is the Gatehouse introspect endpoint as an AWS Lambda function
// behind an API Gateway HTTP API: POST /introspect (RFC 7662).
// It links the store only: no password checking, no pages.
// It is configured by the GATEHOUSE_* environment variables (shared/config).
package main

import (
	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/app/stores"
)

func main() {
	app.StartLambda(app.FunctionIntrospect, app.Parts{Stores: stores.Open})
}
