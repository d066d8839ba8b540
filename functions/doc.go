// Package functions holds Gatehouse's AWS Lambda functions, one command per
// endpoint group, each deployed behind an API Gateway HTTP API (payload
// format 2.0) and built as a linux/arm64 "bootstrap" binary by `make build`:
//
//	functions/authorize   GET, POST /authorize; POST /logout
//	functions/token       POST /token
//	functions/introspect  POST /introspect
//	functions/revoke      POST /revoke
//	functions/metadata    GET /.well-known/oauth-authorization-server,
//	                      /.well-known/openid-configuration, /.well-known/jwks.json
//	functions/userinfo    GET, POST /userinfo (OpenID Connect Core 1.0 §5.3)
//
// Every main reads shared/config from the environment, wires the
// components with app.Build, takes its handler from app.FunctionHandler and
// hands it to apigw.Start. Each request writes a JSON log line (with the
// Lambda request id) and a CloudWatch Embedded Metric Format line.
//
// The tests in this folder build the same handlers and feed them API
// Gateway events, and also run the real bootstrap binaries as Lambda runs
// them, child processes polling a fake Lambda Runtime API
// (shared/apigw/lambdatest): end to end on DynamoDB Local and the KMS
// double (e2e_test.go), and for their cold starts against a hello-world
// function, functions/internal/hello (coldstart_test.go, `make coldstart`).
package functions
