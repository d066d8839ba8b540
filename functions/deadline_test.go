package functions_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gatehouse/gatehouse/shared/apigw"
	"github.com/gatehouse/gatehouse/shared/apigw/lambdatest"
	"github.com/gatehouse/gatehouse/shared/config"
)

// TestSlowKMSAnswersBeforeTheDeadline: the real token bootstrap, its KMS
// endpoint a black hole (every attempt hangs until the client's attempt
// timeout) and a function timeout of 3 s, shorter than the client's
// retries. The request still gets a clean 503 temporarily_unavailable
// within the invocation's time (apigw.ResponseReserve), not a Lambda
// timeout, which API Gateway would turn into an opaque error.
func TestSlowKMSAnswersBeforeTheDeadline(t *testing.T) {
	bins := hostBootstraps(t)
	kms := newBlackHole(t)
	env := awsEnv(t, "http://127.0.0.1:1", kms.URL())
	delete(env, "AWS_MAX_ATTEMPTS") // the deployed default: kmssigner.MaxAttempts
	env[config.EnvIssuer] = issuer
	env[config.EnvKMSKeyID] = "alias/gatehouse-signing"
	env[config.EnvStore] = config.StoreMemory
	seed, err := filepath.Abs(filepath.Join("..", "dev", "seed.json"))
	if err != nil {
		t.Fatal(err)
	}
	env[config.EnvSeedFile] = seed

	rt := lambdatest.NewRuntime(t)
	rt.Timeout = 3 * time.Second
	procEnv := lambdatest.LambdaEnv(rt, "gatehouse-token")
	maps.Copy(procEnv, env)
	p := lambdatest.Start(t, bins["token"], procEnv)
	defer p.Stop()
	if _, err := lambdatest.InitDuration(rt, p, initBound); err != nil {
		t.Fatalf("init: %v\n%s", err, p.Stderr())
	}

	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	payload, err := json.Marshal(event(http.MethodPost, "/token", "", basic("demo-service", "dev-secret-demo-service-change-me"), form))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	inv, err := rt.Invoke(context.Background(), payload)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("after %s: %v (the function did not answer within its timeout)\n%s", took.Round(time.Millisecond), err, p.Stderr())
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(inv.Response, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.Body, `"temporarily_unavailable"`) {
		t.Errorf("answer %d %s; want 503 temporarily_unavailable", resp.StatusCode, resp.Body)
	}
	if took < rt.Timeout-apigw.ResponseReserve-time.Second {
		t.Errorf("answered after %s: the KMS black hole should have held the request until near the reserve", took)
	}
	if kms.Conns() == 0 {
		t.Error("the function never connected to KMS")
	}
}
