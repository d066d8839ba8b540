package functions_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/shared/apigw"
	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner"
	"github.com/gatehouse/gatehouse/shared/signer/kmssigner/kmstest"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore/dynamotest"
)

// The functions are tested with the development seed, so the README's
// examples are exercised too.
const (
	issuer        = "https://auth.gatehouse.example"
	serviceID     = "demo-service"
	serviceSecret = "dev-secret-demo-service-change-me"
	webID         = "demo-web"
	callback      = "http://127.0.0.1:9000/callback"
)

// lambdaEnv is the environment of a deployed function. All functions share
// one signing key file, as they must share one key in a deployment.
func lambdaEnv(t *testing.T, keyFile string) map[string]string {
	t.Helper()
	return map[string]string{
		config.EnvIssuer:         issuer,
		config.EnvStore:          config.StoreMemory,
		config.EnvSigner:         config.SignerLocal,
		config.EnvSeedFile:       filepath.Join("..", "dev", "seed.json"),
		config.EnvSigningAlg:     "ES256",
		config.EnvSigningKeyFile: keyFile,
	}
}

// function builds the handler exactly as functions/<name>/main.go does and
// returns it as the Lambda handler apigw.Start would run.
func function(t *testing.T, name string, env map[string]string) apigw.LambdaFunc {
	t.Helper()
	cfg, err := app.LambdaConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("app.LambdaConfig: %v", err)
	}
	a, err := app.Build(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), functionParts(name))
	if err != nil {
		t.Fatalf("app.Build: %v", err)
	}
	h, err := app.FunctionHandler(a, name)
	if err != nil {
		t.Fatalf("app.FunctionHandler: %v", err)
	}
	return apigw.Handler(h)
}

// event is an API Gateway HTTP API (payload 2.0) event. A form body is sent
// base64-encoded, as API Gateway does for non-JSON bodies.
func event(method, path, query string, headers map[string]string, form url.Values) events.APIGatewayV2HTTPRequest {
	h := map[string]string{"host": "auth.gatehouse.example", "user-agent": "functions-test/1.0"}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	e := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       method + " " + path,
		RawPath:        path,
		RawQueryString: query,
		Headers:        h,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			DomainName: "auth.gatehouse.example",
			RequestID:  "test-request-id",
			Stage:      "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    method,
				Path:      path,
				Protocol:  "HTTP/1.1",
				SourceIP:  "203.0.113.9",
				UserAgent: "functions-test/1.0",
			},
		},
	}
	if form != nil {
		e.Headers["content-type"] = "application/x-www-form-urlencoded"
		e.Body = base64.StdEncoding.EncodeToString([]byte(form.Encode()))
		e.IsBase64Encoded = true
	}
	return e
}

// basic is the Authorization header of RFC 6749 §2.3.1 (form-encoded id and
// secret).
func basic(id, secret string) map[string]string {
	cred := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))}
}

func invoke(t *testing.T, fn apigw.LambdaFunc, e events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := fn(context.Background(), e)
	if err != nil {
		t.Fatalf("%s %s: Lambda error %v", e.RequestContext.HTTP.Method, e.RawPath, err)
	}
	return resp
}

func body(t *testing.T, resp events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	if !resp.IsBase64Encoded {
		return resp.Body
	}
	b, err := base64.StdEncoding.DecodeString(resp.Body)
	if err != nil {
		t.Fatalf("response body: %v", err)
	}
	return string(b)
}

// jsonBody checks status and media type and decodes the JSON body.
func jsonBody(t *testing.T, resp events.APIGatewayV2HTTPResponse, status int) map[string]any {
	t.Helper()
	b := body(t, resp)
	if resp.StatusCode != status {
		t.Errorf("status %d; want %d (body %q)", resp.StatusCode, status, b)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Headers["Content-Type"]); mt != "application/json" {
		t.Errorf("Content-Type %q; want application/json", resp.Headers["Content-Type"])
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(b), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", b, err)
	}
	return m
}

func TestMetadataFunction(t *testing.T) {
	fn := function(t, app.FunctionMetadata, lambdaEnv(t, filepath.Join(t.TempDir(), "key.pem")))
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		t.Run(path, func(t *testing.T) {
			m := jsonBody(t, invoke(t, fn, event(http.MethodGet, path, "", nil, nil)), http.StatusOK)
			for field, want := range map[string]string{
				"issuer":                 issuer,
				"authorization_endpoint": issuer + "/authorize",
				"token_endpoint":         issuer + "/token",
				"introspection_endpoint": issuer + "/introspect",
				"revocation_endpoint":    issuer + "/revoke",
				"jwks_uri":               issuer + "/.well-known/jwks.json",
			} {
				if m[field] != want {
					t.Errorf("%s = %v; want %q", field, m[field], want)
				}
			}
			// scopes_supported defaults to the union of the seeded clients' scopes.
			scopes, _ := m["scopes_supported"].([]any)
			for _, s := range []string{"profile", "read", "write"} {
				if !slices.Contains(scopes, any(s)) {
					t.Errorf("scopes_supported %v lacks %q", scopes, s)
				}
			}
		})
	}
	t.Run("jwks", func(t *testing.T) {
		m := jsonBody(t, invoke(t, fn, event(http.MethodGet, "/.well-known/jwks.json", "", nil, nil)), http.StatusOK)
		keys, _ := m["keys"].([]any)
		if len(keys) != 1 {
			t.Fatalf("keys = %v; want one key", m["keys"])
		}
		k, _ := keys[0].(map[string]any)
		if k["kty"] != "EC" || k["alg"] != "ES256" || k["kid"] == "" || k["d"] != nil {
			t.Errorf("key = %v", k)
		}
	})
}

func TestTokenFunction(t *testing.T) {
	fn := function(t, app.FunctionToken, lambdaEnv(t, filepath.Join(t.TempDir(), "key.pem")))
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}

	t.Run("client credentials", func(t *testing.T) {
		resp := invoke(t, fn, event(http.MethodPost, "/token", "", basic(serviceID, serviceSecret), form))
		m := jsonBody(t, resp, http.StatusOK)
		if tok, _ := m["access_token"].(string); strings.Count(tok, ".") != 2 {
			t.Errorf("access_token %q is not a JWS", m["access_token"])
		}
		if tt, _ := m["token_type"].(string); !strings.EqualFold(tt, "Bearer") {
			t.Errorf("token_type = %v", m["token_type"])
		}
		if exp, _ := m["expires_in"].(float64); exp <= 0 {
			t.Errorf("expires_in = %v", m["expires_in"])
		}
		if m["scope"] != "read" {
			t.Errorf("scope = %v", m["scope"])
		}
		if resp.Headers["Cache-Control"] != "no-store" {
			t.Errorf("Cache-Control = %q; want no-store (RFC 6749 §5.1)", resp.Headers["Cache-Control"])
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		resp := invoke(t, fn, event(http.MethodPost, "/token", "", basic(serviceID, "wrong"), form))
		m := jsonBody(t, resp, http.StatusUnauthorized)
		if m["error"] != "invalid_client" {
			t.Errorf("error = %v", m["error"])
		}
		if resp.Headers["Www-Authenticate"] == "" {
			t.Error("401 after Basic authentication lacks WWW-Authenticate (RFC 6749 §5.2)")
		}
	})
}

func TestAuthorizeFunction(t *testing.T) {
	fn := function(t, app.FunctionAuthorize, lambdaEnv(t, filepath.Join(t.TempDir(), "key.pem")))
	query := url.Values{
		"response_type":         {"code"},
		"client_id":             {webID},
		"redirect_uri":          {callback},
		"scope":                 {"profile read"},
		"state":                 {"af0ifjsldkj"},
		"code_challenge":        {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"},
	}

	t.Run("login page", func(t *testing.T) {
		resp := invoke(t, fn, event(http.MethodGet, "/authorize", query.Encode(), nil, nil))
		b := body(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d; want 200 (body %q)", resp.StatusCode, b)
		}
		if mt, _, _ := mime.ParseMediaType(resp.Headers["Content-Type"]); mt != "text/html" {
			t.Errorf("Content-Type %q; want text/html", resp.Headers["Content-Type"])
		}
		if !strings.Contains(b, "<form") || !strings.Contains(strings.ToLower(b), "password") {
			t.Errorf("body is not a login form: %q", b)
		}
	})
	t.Run("sign-out page", func(t *testing.T) {
		// template.yaml routes GET /logout here: the page whose form posts
		// to POST /logout.
		resp := invoke(t, fn, event(http.MethodGet, "/logout", "", nil, nil))
		b := body(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(b, `<form method="post" action="`+issuer+`/logout"`) {
			t.Errorf("GET /logout: status %d, body %q; want 200 and the sign-out form", resp.StatusCode, b)
		}
	})
	t.Run("unknown client is not redirected", func(t *testing.T) {
		q := url.Values{"response_type": {"code"}, "client_id": {"nobody"}, "redirect_uri": {callback}}
		resp := invoke(t, fn, event(http.MethodGet, "/authorize", q.Encode(), nil, nil))
		if resp.StatusCode != http.StatusBadRequest || resp.Headers["Location"] != "" {
			t.Errorf("status %d, Location %q; want 400 and no redirect (RFC 6749 §4.1.2.1)",
				resp.StatusCode, resp.Headers["Location"])
		}
	})
}

func TestIntrospectFunctionRequiresClientAuth(t *testing.T) {
	fn := function(t, app.FunctionIntrospect, lambdaEnv(t, filepath.Join(t.TempDir(), "key.pem")))
	m := jsonBody(t, invoke(t, fn, event(http.MethodPost, "/introspect", "", nil, url.Values{"token": {"abc"}})), http.StatusUnauthorized)
	if m["error"] != "invalid_client" {
		t.Errorf("error = %v; want invalid_client", m["error"])
	}
}

func TestRevokeFunctionRequiresClientAuth(t *testing.T) {
	fn := function(t, app.FunctionRevoke, lambdaEnv(t, filepath.Join(t.TempDir(), "key.pem")))
	m := jsonBody(t, invoke(t, fn, event(http.MethodPost, "/revoke", "", nil, url.Values{"token": {"abc"}})), http.StatusUnauthorized)
	if m["error"] != "invalid_client" {
		t.Errorf("error = %v; want invalid_client", m["error"])
	}
}

// TestFunctionsShareTheSigningKey runs the token, introspect and revoke
// functions as separate instances, as Lambda does, sharing only their
// configuration: a token issued by one is active at another, and revoking
// it is accepted.
func TestFunctionsShareTheSigningKey(t *testing.T) {
	env := lambdaEnv(t, filepath.Join(t.TempDir(), "key.pem"))
	token := function(t, app.FunctionToken, env)
	introspect := function(t, app.FunctionIntrospect, env)
	revoke := function(t, app.FunctionRevoke, env)
	auth := basic(serviceID, serviceSecret)

	m := jsonBody(t, invoke(t, token, event(http.MethodPost, "/token", "", auth,
		url.Values{"grant_type": {"client_credentials"}})), http.StatusOK)
	accessToken, _ := m["access_token"].(string)
	if accessToken == "" {
		t.Fatalf("no access token: %v", m)
	}

	m = jsonBody(t, invoke(t, introspect, event(http.MethodPost, "/introspect", "", auth,
		url.Values{"token": {accessToken}})), http.StatusOK)
	if m["active"] != true || m["client_id"] != serviceID || m["iss"] != issuer {
		t.Errorf("introspection = %v; want active, client_id %s, iss %s", m, serviceID, issuer)
	}
	if m["scope"] != "read write" {
		t.Errorf("scope = %v; want the client's whole scope", m["scope"])
	}

	resp := invoke(t, revoke, event(http.MethodPost, "/revoke", "", auth,
		url.Values{"token": {accessToken}, "token_type_hint": {"access_token"}}))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("revoke: status %d (body %q); want 200 (RFC 7009 §2.2)", resp.StatusCode, body(t, resp))
	}
}

// TestFunctionsServeOnlyTheirRoutes: a function given another's path (a
// misrouted API Gateway integration) must not answer as if it were that
// endpoint.
func TestFunctionsServeOnlyTheirRoutes(t *testing.T) {
	env := lambdaEnv(t, filepath.Join(t.TempDir(), "key.pem"))
	for name, path := range map[string]string{
		app.FunctionMetadata:  "/authorize",
		app.FunctionAuthorize: "/.well-known/jwks.json",
	} {
		resp := invoke(t, function(t, name, env), event(http.MethodGet, path, "", nil, nil))
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s function, GET %s: status %d; want 404", name, path, resp.StatusCode)
		}
	}
}

// TestTokenFunctionOnDynamoDB: a Lambda function whose environment names
// no store runs on DynamoDB (the production default), reaching DynamoDB
// Local through the standard AWS configuration
// (AWS_ENDPOINT_URL_DYNAMODB), as deployed functions reach DynamoDB.
func TestTokenFunctionOnDynamoDB(t *testing.T) {
	client := dynamotest.Client(t)
	tables := dynamotest.CreateTables(t, client)
	store := dynamostore.New(client, tables)
	const secret = "a-secret-only-this-test-knows-0123456789"
	if err := store.PutClient(context.Background(), &oauth.Client{
		ID: "ddb-service", SecretHash: oauth.HashSecret(secret),
		GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"read"},
		TokenEndpointAuthMethod: oauth.AuthMethodBasic,
	}); err != nil {
		t.Fatal(err)
	}
	fn := function(t, app.FunctionToken, map[string]string{
		config.EnvIssuer:         issuer,
		config.EnvSigner:         config.SignerLocal,
		config.EnvSigningKeyFile: filepath.Join(t.TempDir(), "key.pem"),
		config.EnvClientsTable:   tables.Clients,
		config.EnvUsersTable:     tables.Users,
		config.EnvCodesTable:     tables.Codes,
		config.EnvTokensTable:    tables.Tokens,
		config.EnvSessionsTable:  tables.Sessions,
	})
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	m := jsonBody(t, invoke(t, fn, event(http.MethodPost, "/token", "", basic("ddb-service", secret), form)), http.StatusOK)
	if tok, _ := m["access_token"].(string); strings.Count(tok, ".") != 2 {
		t.Errorf("access_token %q is not a JWS", m["access_token"])
	}
	// The client exists only in DynamoDB: a memory store would not know it.
	m = jsonBody(t, invoke(t, fn, event(http.MethodPost, "/token", "", basic("ddb-service", "wrong"), form)), http.StatusUnauthorized)
	if m["error"] != "invalid_client" {
		t.Errorf("error = %v", m["error"])
	}
}

// lambdaFunction builds function name exactly as functions/<name>/main.go
// does through app.StartLambda, from the process environment alone: every
// GATEHOUSE_* variable is cleared, then env is set (t.Setenv), and the
// configuration is read with os.Getenv and the Lambda defaults.
func lambdaFunction(t *testing.T, name string, env map[string]string) apigw.LambdaFunc {
	t.Helper()
	for _, v := range config.Variables {
		t.Setenv(v, env[v])
	}
	cfg, err := app.LambdaConfig(os.Getenv)
	if err != nil {
		t.Fatalf("app.LambdaConfig: %v", err)
	}
	a, err := app.Build(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), functionParts(name))
	if err != nil {
		t.Fatalf("app.Build: %v", err)
	}
	h, err := app.FunctionHandler(a, name)
	if err != nil {
		t.Fatalf("app.FunctionHandler: %v", err)
	}
	return apigw.Handler(h)
}

// kmsEnv is the environment of a function signing with KMS as deployed:
// no GATEHOUSE_SIGNER (the Lambda default is kms) and no
// GATEHOUSE_SIGNING_ALG (RS256), only the key, named by an alias. The
// store is memory with the development seed, so the functions share
// nothing but KMS.
func kmsEnv(alias string, extra ...string) map[string]string {
	env := map[string]string{
		config.EnvIssuer:   issuer,
		config.EnvStore:    config.StoreMemory,
		config.EnvSeedFile: filepath.Join("..", "dev", "seed.json"),
		config.EnvKMSKeyID: alias,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// TestKMSTokenVerifiesAgainstTheMetadataJWKS: a token function and a
// metadata function, separate instances configured only through their
// environment (the KMS key by alias, KMS found through the standard AWS
// variables, as a deployed function finds it), agree on the key: the
// token verifies against the metadata function's JWKS, whose kid is the
// key's RFC 7638 thumbprint, and a third instance, the introspect
// function, finds it active. No kid is configured anywhere.
func TestKMSTokenVerifiesAgainstTheMetadataJWKS(t *testing.T) {
	const alias = "alias/gatehouse-signing"
	k := kmstest.NewServer(t)
	keyID := k.CreateKey("RSA_2048")
	k.CreateAlias(alias, keyID)
	k.Env(t)
	env := kmsEnv(alias)
	token := lambdaFunction(t, app.FunctionToken, env)
	metadata := lambdaFunction(t, app.FunctionMetadata, env)
	introspect := lambdaFunction(t, app.FunctionIntrospect, env)
	auth := basic(serviceID, serviceSecret)

	m := jsonBody(t, invoke(t, token, event(http.MethodPost, "/token", "", auth,
		url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})), http.StatusOK)
	accessToken, _ := m["access_token"].(string)

	var set oauth.JWKS
	if err := json.Unmarshal([]byte(body(t, invoke(t, metadata, event(http.MethodGet, "/.well-known/jwks.json", "", nil, nil)))), &set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	wantKid, err := oauth.Thumbprint(k.PublicKey(keyID))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 || set.Keys[0].Kid != wantKid || set.Keys[0].Alg != "RS256" {
		t.Fatalf("JWKS %+v: want the one RS256 key with kid %s", set, wantKid)
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(issuer),
		jwt.WithExpirationRequired(),
	).ParseWithClaims(accessToken, claims, func(tok *jwt.Token) (any, error) {
		for _, key := range set.Keys {
			if key.Kid == tok.Header["kid"] {
				return key.PublicKey()
			}
		}
		return nil, fmt.Errorf("kid %v is not in the metadata function's JWKS", tok.Header["kid"])
	})
	if err != nil {
		t.Fatalf("the token function's token does not verify against the metadata function's JWKS: %v", err)
	}
	if parsed.Header["kid"] != wantKid || claims["client_id"] != serviceID {
		t.Errorf("header %v, claims %v", parsed.Header, claims)
	}

	m = jsonBody(t, invoke(t, introspect, event(http.MethodPost, "/introspect", "", auth,
		url.Values{"token": {accessToken}})), http.StatusOK)
	if m["active"] != true || m["client_id"] != serviceID {
		t.Errorf("introspection = %v; want active", m)
	}

	// Every KMS call named the key as configured, and each instance
	// fetched the public key once: KMS was really used, through the
	// environment's configuration.
	for _, r := range k.Requests() {
		if r.KeyID != alias {
			t.Errorf("a %s request named key %q, want the configured %s", r.Op, r.KeyID, alias)
		}
	}
	if s, g := k.Calls(kmstest.OpSign), k.Calls(kmstest.OpGetPublicKey); s != 1 || g != 3 {
		t.Errorf("KMS saw %d Sign and %d GetPublicKey, want 1 Sign and one GetPublicKey per instance (3)", s, g)
	}
}

// TestKMSTokenLeewayFromTheEnvironment: GATEHOUSE_TOKEN_LEEWAY reaches
// the introspect function's verifier. A token (signed with the deployment's
// KMS key) that expired 20 s ago is active under the default leeway of
// 30 s and inactive under GATEHOUSE_TOKEN_LEEWAY=10s; one that expired 5 s
// ago is active under both.
func TestKMSTokenLeewayFromTheEnvironment(t *testing.T) {
	const alias = "alias/gatehouse-signing"
	k := kmstest.NewServer(t)
	k.CreateAlias(alias, k.CreateKey("RSA_2048"))
	k.Env(t)
	signer, err := kmssigner.New(kmssigner.Config{Client: k.Client(t), SigningKeyID: alias})
	if err != nil {
		t.Fatal(err)
	}
	expiredFor := func(d time.Duration) string {
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": issuer, "sub": serviceID, "aud": []string{issuer}, "client_id": serviceID,
			"jti": oauth.RandomToken()[:22], "iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-d).Unix(),
		})
		tok.Header["typ"] = oauth.AccessTokenType
		kid, err := signer.KeyID(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tok.Header["kid"] = kid
		input, err := tok.SigningString()
		if err != nil {
			t.Fatal(err)
		}
		sig, err := signer.Sign(context.Background(), []byte(input))
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + tok.EncodeSegment(sig)
	}
	active := func(fn apigw.LambdaFunc, token string) bool {
		t.Helper()
		m := jsonBody(t, invoke(t, fn, event(http.MethodPost, "/introspect", "", basic(serviceID, serviceSecret),
			url.Values{"token": {token}})), http.StatusOK)
		return m["active"] == true
	}
	byDefault := lambdaFunction(t, app.FunctionIntrospect, kmsEnv(alias))
	strict := lambdaFunction(t, app.FunctionIntrospect, kmsEnv(alias, config.EnvLeeway, "10s"))
	for _, c := range []struct {
		expired           time.Duration
		byDefault, strict bool
	}{
		{5 * time.Second, true, true},
		{20 * time.Second, true, false},
		{45 * time.Second, false, false},
	} {
		tok := expiredFor(c.expired)
		if got := active(byDefault, tok); got != c.byDefault {
			t.Errorf("expired %s ago, default leeway: active = %v, want %v", c.expired, got, c.byDefault)
		}
		if got := active(strict, tok); got != c.strict {
			t.Errorf("expired %s ago, %s=10s: active = %v, want %v", c.expired, config.EnvLeeway, got, c.strict)
		}
	}
}
