package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/gatehouse/gatehouse/shared/apigw"
	"github.com/gatehouse/gatehouse/shared/apigw/lambdatest"
	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/passwords"
)

// functionEndpoints are the endpoints (the log's "endpoint") each function
// serves.
var functionEndpoints = map[string][]string{
	"authorize":  {"authorize", "logout"},
	"token":      {"token"},
	"introspect": {"introspect"},
	"revoke":     {"revoke"},
	"metadata":   {"metadata", "jwks"},
	"userinfo":   {"userinfo"},
}

// TestLogsAndMetricsCarryNoSecrets drives every endpoint with secrets,
// tokens, passwords and codes (runFlows) through the Lambda functions'
// handlers, logging as StartLambda does (app.NewLambdaLogger: JSON, at
// debug level here) and writing EMF metrics (app.EMF), both into buffers.
// No line may contain any credential; every request must have one log
// line with its aws_request_id, endpoint, grant type, client id, outcome
// and duration, and one EMF record.
func TestLogsAndMetricsCarryNoSecrets(t *testing.T) {
	fx := newFlowFixture()
	env := map[string]string{
		config.EnvIssuer:   issuer,
		config.EnvStore:    config.StoreMemory,
		config.EnvSigner:   config.SignerLocal,
		config.EnvScopes:   "read write profile",
		config.EnvLogLevel: "debug",
	}
	cfg, err := app.LambdaConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs, metrics syncBuffer
	ctx := context.Background()
	a, err := app.Build(ctx, cfg, app.NewLambdaLogger(&logs, cfg.LogLevel, "gatehouse-test"), allParts(),
		app.WithObserver(app.NewEMF(&metrics, "gatehouse-test").Observe))
	if err != nil {
		t.Fatal(err)
	}
	seedFixture(t, a.Admin, fx, passwords.Hasher{Memory: 64, Iterations: 1, Parallelism: 1})

	// One app serves every route (the functions share its memory store),
	// each request in a Lambda context of its own.
	gw := lambdatest.NewGateway()
	var (
		mu  sync.Mutex
		ids []string
	)
	for name, routes := range gatewayRoutes {
		h, err := app.FunctionHandler(a, name)
		if err != nil {
			t.Fatal(err)
		}
		fn := apigw.Handler(h)
		in := func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			id := oauth.RandomToken()[:20]
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
			return fn(lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: id}), e)
		}
		for _, rk := range routes {
			gw.Route(rk, in)
		}
	}

	res := runFlows(t, gw, fx)
	checkObservations(t, "gatehouse-test", slices.Collect(maps.Keys(functionEndpoints)),
		lines(logs.String()), lines(metrics.String()), ids, res)
}

// seedFixture registers the fixture's clients and user.
func seedFixture(t *testing.T, admin app.Admin, fx flowFixture, hasher passwords.Hasher) {
	t.Helper()
	ctx := context.Background()
	for _, c := range fx.clients() {
		if err := admin.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := hasher.Hash(fx.password)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.PutUser(ctx, &oauth.User{Subject: fx.subject, Username: fx.username, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
}

// checkObservations checks what function (serving the endpoints of
// functions) logged and measured while the flows ran: logLines (JSON log
// lines) and emfLines (EMF lines), for the invocations ids.
//
//   - No line contains a secret of the flows.
//   - Each invocation has exactly one request log line and one EMF line,
//     both with its aws_request_id and the same endpoint.
//   - The request lines carry function, endpoint, outcome, duration_ms,
//     and client_id and grant_type where the request had them; their
//     outcomes, by endpoint, are the ones the flows caused.
//   - The EMF lines count the tokens the flows got, and one error per
//     failed request.
func checkObservations(t *testing.T, function string, functions []string, logLines, emfLines, ids []string, res *flowResult) {
	t.Helper()
	checkNoSecrets(t, function+"'s log", strings.Join(logLines, "\n"), res.secrets)
	checkNoSecrets(t, function+"'s metrics", strings.Join(emfLines, "\n"), res.secrets)

	var endpoints []string
	for _, f := range functions {
		endpoints = append(endpoints, functionEndpoints[f]...)
	}
	known := map[string]bool{}
	for _, id := range ids {
		known[id] = true
	}

	logged := map[string]string{} // request id -> endpoint
	outcomes := map[string]map[string]int{}
	for _, rec := range requestLines(t, logLines) {
		id, endpoint, outcome := str(rec[app.RequestIDKey]), str(rec["endpoint"]), str(rec["outcome"])
		if !known[id] {
			t.Errorf("request line with aws_request_id %q, not one of the invocations: %v", id, rec)
		}
		if logged[id] != "" {
			t.Errorf("two request lines for invocation %s", id)
		}
		logged[id] = endpoint
		if rec["function"] != function || !slices.Contains(endpoints, endpoint) || outcome == "" {
			t.Errorf("request line %v; want function %s, an endpoint of %v, an outcome", rec, function, endpoints)
		}
		if d, ok := rec["duration_ms"].(float64); !ok || d < 0 {
			t.Errorf("request line %v: duration_ms %v", rec, rec["duration_ms"])
		}
		if endpoint == "token" && !slices.Contains(res.grantTypes, str(rec["grant_type"])) {
			t.Errorf("token request line %v: grant_type not one the flows sent (%v)", rec, res.grantTypes)
		}
		if slices.Contains([]string{"token", "introspect", "revoke"}, endpoint) && rec["client_id"] == nil {
			t.Errorf("%s request line %v has no client_id", endpoint, rec)
		}
		if outcomes[endpoint] == nil {
			outcomes[endpoint] = map[string]int{}
		}
		outcomes[endpoint][outcome]++
	}
	if len(logged) != len(ids) {
		t.Errorf("%d request lines for %d invocations", len(logged), len(ids))
	}
	for _, endpoint := range endpoints {
		if want := res.outcomes[endpoint]; !maps.Equal(outcomes[endpoint], want) {
			t.Errorf("%s outcomes logged %v; the flows caused %v", endpoint, outcomes[endpoint], want)
		}
	}

	tokens, errs, wantErrs := 0, 0, 0
	measured := map[string]bool{}
	for _, line := range emfLines {
		var m struct {
			AWS struct {
				CloudWatchMetrics []struct{ Namespace string }
			} `json:"_aws"`
			Function, Endpoint, Outcome string
			TokensIssued, Errors        int
			Latency                     *float64
			RequestID                   string `json:"aws_request_id"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil || len(m.AWS.CloudWatchMetrics) != 1 {
			t.Errorf("not an EMF line: %q (%v)", line, err)
			continue
		}
		if m.AWS.CloudWatchMetrics[0].Namespace != app.MetricsNamespace || m.Function != function || m.Latency == nil {
			t.Errorf("EMF line %s: want namespace %s, function %s, a latency", line, app.MetricsNamespace, function)
		}
		if logged[m.RequestID] != m.Endpoint || measured[m.RequestID] {
			t.Errorf("EMF line %s: endpoint %q logged for the invocation; one EMF line per invocation", line, logged[m.RequestID])
		}
		measured[m.RequestID] = true
		tokens += m.TokensIssued
		errs += m.Errors
	}
	for _, endpoint := range endpoints {
		for outcome, n := range res.outcomes[endpoint] {
			if outcome != "ok" {
				wantErrs += n
			}
		}
	}
	if len(measured) != len(ids) {
		t.Errorf("%d EMF lines for %d invocations", len(measured), len(ids))
	}
	wantTokens := 0
	if slices.Contains(functions, "token") {
		wantTokens = res.tokensIssued
	}
	if tokens != wantTokens || errs != wantErrs {
		t.Errorf("EMF: TokensIssued %d, Errors %d; the flows got %d tokens and %d errors", tokens, errs, wantTokens, wantErrs)
	}
}

// lines splits output into its non-empty lines.
func lines(output string) []string {
	var out []string
	for line := range strings.Lines(output) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
