// Command token is the Gatehouse token endpoint as an AWS Lambda function
// behind an API Gateway HTTP API: POST /token.
// It links the store and password checking (the password grant), no pages.
// It is configured by the GATEHOUSE_* environment variables (shared/config).
package main

import (
	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/app/stores"
	"github.com/gatehouse/gatehouse/shared/passwords"
)

func main() {
	app.StartLambda(app.FunctionToken, app.Parts{
		Stores:    stores.Open,
		Passwords: passwords.DefaultScheme(),
	})
}
