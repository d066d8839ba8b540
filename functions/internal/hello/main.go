// Command hello is the smallest aws-lambda-go function behind an API
// Gateway HTTP API: it answers every event "hello". It is the baseline the
// Gatehouse functions' cold starts are measured against
// (functions/coldstart_test.go, `make coldstart`), built with the same
// flags. It is never deployed: `make build` builds only the functions it
// lists.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{
			StatusCode: 200,
			Headers:    map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			Body:       "hello",
		}, nil
	})
}
