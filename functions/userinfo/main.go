// Command userinfo is the Gatehouse UserInfo endpoint as an AWS Lambda
// function behind an API Gateway HTTP API: GET and POST /userinfo (OpenID
// Connect Core 1.0 §5.3). It links the store only: no password checking,
// no pages.
// It is configured by the GATEHOUSE_* environment variables (shared/config).
package main

import (
	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/app/stores"
)

func main() {
	app.StartLambda(app.FunctionUserInfo, app.Parts{Stores: stores.Open})
}
