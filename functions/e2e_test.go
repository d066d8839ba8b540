package functions_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/apigw/lambdatest"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/passwords"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
)

// functionNames are the six functions, in the order they are started.
var functionNames = []string{"authorize", "token", "introspect", "revoke", "metadata", "userinfo"}

// deployment is the six real bootstrap binaries, each a child process
// polling its own fake Lambda Runtime API, behind one fake HTTP API.
type deployment struct {
	gw       *lambdatest.Gateway
	runtimes map[string]*lambdatest.Runtime
	procs    map[string]*lambdatest.Process
	inits    map[string]time.Duration
}

// deploy starts every function's bootstrap with env (plus the variables
// Lambda sets) as its only configuration, waits until each asks for its
// first event, and routes the HTTP API's paths to them.
func deploy(t *testing.T, env map[string]string) *deployment {
	t.Helper()
	bins := hostBootstraps(t)
	d := &deployment{gw: lambdatest.NewGateway(), runtimes: map[string]*lambdatest.Runtime{},
		procs: map[string]*lambdatest.Process{}, inits: map[string]time.Duration{}}
	for _, name := range functionNames {
		rt := lambdatest.NewRuntime(t)
		rt.FunctionARN = "arn:aws:lambda:" + kmstest.Region + ":" + kmstest.Account + ":function:gatehouse-" + name
		procEnv := lambdatest.LambdaEnv(rt, "gatehouse-"+name)
		for k, v := range env {
			procEnv[k] = v
		}
		d.runtimes[name] = rt
		d.procs[name] = lambdatest.Start(t, bins[name], procEnv)
	}
	for _, name := range functionNames {
		// Generous: the race detector may be slowing the machine down.
		took, err := lambdatest.InitDuration(d.runtimes[name], d.procs[name], 30*time.Second)
		if err != nil {
			<-d.procs[name].Exited()
			t.Fatalf("%s: %v (exit: %v)\nstderr:\n%s", name, err, d.procs[name].ExitErr(), d.procs[name].Stderr())
		}
		d.inits[name] = took
		for _, route := range gatewayRoutes[name] {
			d.gw.Route(route, d.runtimes[name].Integration())
		}
	}
	return d
}

// awsEnv is the AWS part of a deployed function's environment, pointing
// the SDK at DynamoDB Local and the KMS double as a deployed function's
// SDK finds DynamoDB and KMS: region, credentials (those DynamoDB Local
// was seeded with: it keeps one database per access key and region),
// AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_KMS, no SDK retries
// (AWS_MAX_ATTEMPTS=1, as kmstest.Server.Env sets), no shared config files,
// no instance metadata.
func awsEnv(t *testing.T, dynamoEndpoint, kmsEndpoint string) map[string]string {
	missing := filepath.Join(t.TempDir(), "missing")
	region := envOr("AWS_REGION", envOr("AWS_DEFAULT_REGION", "us-east-1"))
	return map[string]string{
		"AWS_REGION":                  region,
		"AWS_DEFAULT_REGION":          region,
		"AWS_ACCESS_KEY_ID":           envOr("AWS_ACCESS_KEY_ID", "local"),
		"AWS_SECRET_ACCESS_KEY":       envOr("AWS_SECRET_ACCESS_KEY", "local"),
		"AWS_ENDPOINT_URL_DYNAMODB":   dynamoEndpoint,
		"AWS_ENDPOINT_URL_KMS":        kmsEndpoint,
		"AWS_MAX_ATTEMPTS":            "1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             missing,
		"AWS_SHARED_CREDENTIALS_FILE": missing,
	}
}

// envOr is what dynamotest.Client does for the credentials and region.
func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// TestEndToEnd runs the six real bootstrap binaries (functions/*/main.go
// built as `make build` builds them, for this machine) as Lambda runs
// them: child processes configured only through their environment,
// polling a Lambda Runtime API for API Gateway HTTP API (payload 2.0)
// events. They share fresh tables on DynamoDB Local (the production
// default store, GATEHOUSE_STORE unset) and an RSA_2048 key on the KMS
// double named by an alias (the default signer, GATEHOUSE_SIGNER unset).
// A confidential client and a user are written straight into the tables.
// runFlows then drives every endpoint as clients and a browser would, and
// each process's output is checked: a JSON log line and an EMF line per
// invocation with its Lambda request id, and no secret anywhere.
//
// It skips without DynamoDB Local, and fails under CI=true
// (dynamotest.Client).
func TestEndToEnd(t *testing.T) {
	client := dynamotest.Client(t)
	tables := dynamotest.CreateTables(t, client)
	fx := newFlowFixture()
	seedFixture(t, dynamostore.New(client, tables), fx, passwords.Default)

	kms := kmstest.NewServer(t)
	const alias = "alias/gatehouse-e2e"
	kms.CreateAlias(alias, kms.CreateKey("RSA_2048"))

	env := awsEnv(t, dynamotest.Endpoint(t), kms.URL())
	env[config.EnvIssuer] = issuer
	env[config.EnvScopes] = "read write profile"
	env[config.EnvKMSKeyID] = alias
	env[config.EnvClientsTable] = tables.Clients
	env[config.EnvUsersTable] = tables.Users
	env[config.EnvCodesTable] = tables.Codes
	env[config.EnvTokensTable] = tables.Tokens
	env[config.EnvSessionsTable] = tables.Sessions

	start := time.Now()
	d := deploy(t, env)
	t.Logf("six functions initialized in %s (init: %v)", time.Since(start).Round(time.Millisecond), d.inits)

	start = time.Now()
	res := runFlows(t, d.gw, fx)
	t.Logf("%d requests in %s", len(d.gw.Exchanges()), time.Since(start).Round(time.Millisecond))

	if n := kms.Calls(kmstest.OpSign); n != res.tokensIssued+res.idTokensIssued {
		t.Errorf("KMS Sign calls: %d; want one per issued token (%d) and ID token (%d)", n, res.tokensIssued, res.idTokensIssued)
	}
	for _, name := range functionNames {
		p, rt := d.procs[name], d.runtimes[name]
		var ids []string
		for _, inv := range rt.Invocations() {
			if inv.Err != nil || inv.Response == nil {
				t.Errorf("%s: invocation %s failed: %v", name, inv.RequestID, inv.Err)
			}
			ids = append(ids, inv.RequestID)
		}
		if len(ids) == 0 {
			t.Errorf("%s was never invoked", name)
		}
		select {
		case <-p.Exited():
			t.Errorf("%s exited: %v", name, p.ExitErr())
		default:
		}
		// The output reaches the buffers through pipes: stop the process,
		// which waits for them to drain, before reading it all.
		p.Stop()
		// Logs are JSON on standard error, metrics EMF on standard output.
		checkObservations(t, name, []string{name}, lines(p.Stderr()), lines(p.Stdout()), ids, res)
		if t.Failed() {
			t.Logf("%s stderr:\n%s\nstdout:\n%s", name, p.Stderr(), p.Stdout())
		}
	}
	if !slices.ContainsFunc(d.gw.Exchanges(), func(ex lambdatest.Exchange) bool { return ex.Event.IsBase64Encoded }) {
		t.Error("no event had a base64 body")
	}
}
