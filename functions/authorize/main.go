// Command authorize is the Gatehouse authorize endpoint as an AWS Lambda function
// behind an API Gateway HTTP API: GET and POST /authorize (login and consent pages) and POST /logout.
// It is configured by the GATEHOUSE_* environment variables (shared/config).
package main

import "github.com/gatehouse/gatehouse/shared/app"

func main() { app.StartLambda(app.FunctionAuthorize) }
