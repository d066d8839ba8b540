// Command authorize is the Gatehouse authorize endpoint as an AWS Lambda function
// behind an API Gateway HTTP API: GET and POST /authorize (login and consent pages) and POST /logout.
// It links the store, password checking and the pages.
// It is configured by the GATEHOUSE_* environment variables (shared/config).
package main

import (
	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/app/stores"
	"github.com/gatehouse/gatehouse/shared/httpapi/pages"
	"github.com/gatehouse/gatehouse/shared/passwords"
)

func main() {
	app.StartLambda(app.FunctionAuthorize, app.Parts{
		Stores:    stores.Open,
		Passwords: passwords.DefaultScheme(),
		Pages:     pages.New(),
	})
}
