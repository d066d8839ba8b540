package deploy_test

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
)

// A rule is one family of checks on the template. Each returns its
// problems as sentences that name the resource and the fix.
type rule struct {
	name  string
	check func(t *template, p *project) []string
}

var rules = []rule{
	{"schema", checkSchema},
	{"dependencies", checkDependencies},
	{"functions", checkFunctions},
	{"routes", checkRoutes},
	{"environment", checkEnvironment},
	{"iam", checkIAM},
	{"tables", checkTables},
	{"kms", checkKMS},
	{"parameters", checkParameters},
	{"outputs", checkOutputs},
}

// checkAll runs every rule.
func checkAll(t *template, p *project) []string {
	var problems []string
	for _, r := range rules {
		for _, msg := range r.check(t, p) {
			problems = append(problems, r.name+": "+msg)
		}
	}
	return problems
}

// A parameterSet is one way to deploy the stack; the checks that depend
// on parameters run for each.
type parameterSet struct {
	name   string
	params map[string]string
	issuer string // the GATEHOUSE_ISSUER the functions must get
}

var defaultIssuer = "https://" + sampleAPIID + ".execute-api." + sampleRegion + "." + sampleURLSuffix

var parameterSets = []parameterSet{
	{name: "defaults", issuer: defaultIssuer},
	{name: "custom domain", issuer: "https://auth.example.com", params: map[string]string{
		"CustomDomain": "auth.example.com", "CustomDomainCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d",
	}},
	{name: "explicit issuer", issuer: "https://id.example.com/tenant-1", params: map[string]string{
		"Issuer": "https://id.example.com/tenant-1", "Audience": "https://api.example.com", "Scopes": "read write",
	}},
	{name: "key rotation", issuer: defaultIssuer, params: map[string]string{
		"SigningKeyArn": "arn:aws:kms:us-east-1:123456789012:key/new-key-0001",
		"VerifyKeyArns": "arn:aws:kms:us-east-1:123456789012:key/old-key-0001,arn:aws:kms:us-east-1:123456789012:key/old-key-0002",
	}},
	{name: "browser clients", issuer: defaultIssuer, params: map[string]string{
		"CorsAllowedOrigins": "https://app.example.com,http://localhost:5173", "LogRetentionDays": "7", "LogLevel": "debug",
	}},
	{name: "sessions and sign-in limits", issuer: defaultIssuer, params: map[string]string{
		"SessionTTL": "8h", "SessionIdleTTL": "1800", "LoginMaxFailures": "10", "LoginMaxFailuresPerIP": "200", "LoginFailureWindow": "24h",
	}},
}

func (ps parameterSet) label() string {
	if ps.name == "defaults" {
		return ""
	}
	return "[parameters: " + ps.name + "] "
}

// forEachParameterSet runs check with an evaluator for each parameter set,
// prefixing its problems with the set's name. A problem that the defaults
// have too is reported once, for the defaults.
func forEachParameterSet(t *template, check func(e *evaluator, ps parameterSet) []string) []string {
	var problems, byDefault []string
	for _, ps := range parameterSets {
		e, err := newEvaluator(t, ps.params)
		if err != nil {
			problems = append(problems, ps.label()+err.Error())
			continue
		}
		for _, msg := range check(e, ps) {
			if ps.name == "defaults" {
				byDefault = append(byDefault, msg)
			} else if slices.Contains(byDefault, msg) {
				continue
			}
			problems = append(problems, ps.label()+msg)
		}
	}
	return problems
}

func checkSchema(t *template, p *project) []string {
	if p.spec == nil {
		return nil // the test says why it skips
	}
	return p.spec.check(t)
}

func checkDependencies(t *template, _ *project) []string {
	graph, problems := dependencies(t)
	for _, loop := range cycles(graph) {
		problems = append(problems, "dependency cycle: "+describeLoop(loop)+
			"; CloudFormation cannot create these resources (see the note at the top of template.yaml)")
	}
	return problems
}

// functions maps each endpoint (functions/<dir>) to the logical id of the
// function whose FunctionName is "<stack>-<dir>".
func functions(t *template) (map[string]string, []string) {
	e, err := newEvaluator(t, nil)
	if err != nil {
		return nil, []string{err.Error()}
	}
	out := map[string]string{}
	var problems []string
	for _, name := range t.resourcesOfType("AWS::Serverless::Function") {
		raw, ok := t.properties(name)["FunctionName"]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: FunctionName is not set; want !Sub ${AWS::StackName}-<endpoint> "+
				"(the API's integrations and the log groups name the function by it)", name))
			continue
		}
		fn, err := e.evalString(raw)
		endpoint, ok := strings.CutPrefix(fn, sampleStack+"-")
		if err != nil || !ok {
			problems = append(problems, fmt.Sprintf("%s: FunctionName %q (%v): want ${AWS::StackName}-<endpoint>", name, fn, err))
			continue
		}
		if other, dup := out[endpoint]; dup {
			problems = append(problems, fmt.Sprintf("%s and %s are both the %s function", other, name, endpoint))
			continue
		}
		out[endpoint] = name
	}
	return out, problems
}

func checkFunctions(t *template, p *project) []string {
	byEndpoint, problems := functions(t)
	e, err := newEvaluator(t, nil)
	if err != nil {
		return append(problems, err.Error())
	}
	if !slices.Equal(sorted(p.functionDirs), sorted(app.Functions)) {
		problems = append(problems, fmt.Sprintf("the folders of functions/ %v are not app.Functions %v", p.functionDirs, app.Functions))
	}
	for _, dir := range p.functionDirs {
		if _, ok := byEndpoint[dir]; !ok {
			problems = append(problems, fmt.Sprintf("functions/%s has no AWS::Serverless::Function (FunctionName !Sub ${AWS::StackName}-%s)", dir, dir))
		}
	}
	memory := map[string]int{}
	for _, endpoint := range sortedKeys(byEndpoint) {
		name := byEndpoint[endpoint]
		if !slices.Contains(p.functionDirs, endpoint) {
			problems = append(problems, fmt.Sprintf("%s is the %s function, but there is no functions/%s/main.go", name, endpoint, endpoint))
		}
		switch dir, ok := p.makeTargets["build-"+name]; {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: the Makefile has no target build-%s (sam build runs it: BuildMethod makefile)", name, name))
		case dir != endpoint:
			problems = append(problems, fmt.Sprintf("%s: the Makefile's build-%s builds functions/%s, want functions/%s", name, name, dir, endpoint))
		}
		props := t.properties(name)
		want := map[string]any{"Runtime": "provided.al2023", "Handler": "bootstrap", "CodeUri": "."}
		for _, k := range sortedKeys(want) {
			if props[k] != want[k] {
				problems = append(problems, fmt.Sprintf("%s: %s is %v, want %v", name, k, props[k], want[k]))
			}
		}
		if a := asList(props["Architectures"]); len(a) != 1 || a[0] != "arm64" {
			problems = append(problems, fmt.Sprintf("%s: Architectures is %v, want [arm64] (the Makefile builds GOARCH=arm64)", name, props["Architectures"]))
		}
		if m := get(t.resource(name), "Metadata", "BuildMethod"); m != "makefile" {
			problems = append(problems, fmt.Sprintf("%s: Metadata.BuildMethod is %v, want makefile", name, m))
		}
		mem, ok1 := props["MemorySize"].(int)
		timeout, ok2 := props["Timeout"].(int)
		if !ok1 || mem < 128 || mem > 10240 {
			problems = append(problems, fmt.Sprintf("%s: MemorySize %v: want a number of MB from 128 to 10240, chosen for the function", name, props["MemorySize"]))
		}
		if !ok2 || timeout < 1 || timeout > 29 {
			problems = append(problems, fmt.Sprintf("%s: Timeout %v: want 1 to 29 seconds (API Gateway gives up after 30)", name, props["Timeout"]))
		}
		memory[endpoint] = mem
		if _, ok := props["Events"]; ok {
			problems = append(problems, fmt.Sprintf("%s: has Events; the routes belong in GatehouseApi's DefinitionBody "+
				"(SAM events make the API depend on the function, whose environment depends on the API: a cycle)", name))
		}
		if _, ok := props["Role"]; ok {
			problems = append(problems, fmt.Sprintf("%s: has a Role; give it inline Policies so that SAM makes it a role of its own", name))
		}
		// Its log group, named as Lambda names it.
		fn, _ := e.evalString(props["FunctionName"])
		var group string
		for _, lg := range t.resourcesOfType("AWS::Logs::LogGroup") {
			if n, _ := e.evalString(t.properties(lg)["LogGroupName"]); n == "/aws/lambda/"+fn {
				group = lg
			}
		}
		if group == "" {
			problems = append(problems, fmt.Sprintf("%s: no AWS::Logs::LogGroup named /aws/lambda/%s (with a retention)", name, fn))
			continue
		}
		if _, ok := t.properties(group)["RetentionInDays"]; !ok {
			problems = append(problems, fmt.Sprintf("%s: no RetentionInDays: its logs would be kept forever", group))
		}
		if !slices.Contains(asList(t.resource(name)["DependsOn"]), any(group)) {
			problems = append(problems, fmt.Sprintf("%s: DependsOn should name %s, so that the log group exists before the function can log", name, group))
		}
	}
	for _, target := range sortedKeys(p.makeTargets) {
		name := strings.TrimPrefix(target, "build-")
		if strings.HasSuffix(name, "Function") && t.resourceType(name) != "AWS::Serverless::Function" {
			problems = append(problems, fmt.Sprintf("the Makefile's %s builds no function of the template (no resource %s)", target, name))
		}
	}
	authorize := memory[app.FunctionAuthorize]
	for endpoint, mem := range memory {
		if mem > authorize {
			problems = append(problems, fmt.Sprintf("%s has %d MB, more than authorize's %d MB: authorize hashes passwords "+
				"(argon2id: 20 MB and CPU, which Lambda scales with memory)", byEndpoint[endpoint], mem, authorize))
		}
	}
	return problems
}

// A route is a method and path of the API and the function that serves it.
type route struct{ method, path, function string }

func (r route) key() string { return r.method + " " + r.path }

// wantRoutes lists every endpoint's route: shared/app/functions.go says
// which function serves which.
var wantRoutes = []route{
	{"GET", oauth.PathAuthorize, app.FunctionAuthorize},
	{"POST", oauth.PathAuthorize, app.FunctionAuthorize},
	{"GET", oauth.PathLogout, app.FunctionAuthorize}, // the sign-out page (its form posts to POST /logout)
	{"POST", oauth.PathLogout, app.FunctionAuthorize},
	{"POST", oauth.PathToken, app.FunctionToken},
	{"POST", oauth.PathIntrospect, app.FunctionIntrospect},
	{"POST", oauth.PathRevoke, app.FunctionRevoke},
	{"GET", oauth.PathMetadata, app.FunctionMetadata},
	{"GET", oauth.PathOpenIDMetadata, app.FunctionMetadata},
	{"GET", oauth.PathJWKS, app.FunctionMetadata},
	{"GET", oauth.PathUserInfo, app.FunctionUserInfo}, // OpenID Connect Core 1.0 §5.3.1: GET and POST
	{"POST", oauth.PathUserInfo, app.FunctionUserInfo},
}

// Routes held to stricter throttling than the API's default.
var strictRoutes = []string{"POST " + oauth.PathToken, "POST " + oauth.PathAuthorize}

var integrationFunction = regexp.MustCompile(`:function:([A-Za-z0-9_-]+)(/invocations)?$`)

func checkRoutes(t *template, _ *project) []string {
	apis := t.resourcesOfType("AWS::Serverless::HttpApi")
	if len(apis) != 1 {
		return []string{fmt.Sprintf("want one AWS::Serverless::HttpApi, found %v", apis)}
	}
	api := apis[0]
	byEndpoint, problems := functions(t)
	return append(problems, forEachParameterSet(t, func(e *evaluator, ps parameterSet) []string {
		var problems []string
		endpointOf := map[string]string{} // function name -> endpoint
		for endpoint, name := range byEndpoint {
			fn, _ := e.ref(name)
			endpointOf[scalarString(fn)] = endpoint
		}
		props := t.properties(api)
		body, err := e.eval(props["DefinitionBody"])
		if err != nil {
			return []string{fmt.Sprintf("%s.DefinitionBody: %v", api, err)}
		}
		paths, _ := get(body, "paths").(map[string]any)
		got := map[string]route{}
		for _, p := range sortedKeys(paths) {
			ops, _ := paths[p].(map[string]any)
			for _, m := range sortedKeys(ops) {
				r := route{method: strings.ToUpper(m), path: p}
				in, _ := get(ops[m], "x-amazon-apigateway-integration").(map[string]any)
				uri, _ := in["uri"].(string)
				match := integrationFunction.FindStringSubmatch(uri)
				switch {
				case in == nil:
					problems = append(problems, fmt.Sprintf("%s: %s has no x-amazon-apigateway-integration", api, r.key()))
				case match == nil || endpointOf[match[1]] == "":
					problems = append(problems, fmt.Sprintf("%s: %s integrates %q, which is none of the template's functions", api, r.key(), uri))
				default:
					r.function = endpointOf[match[1]]
				}
				if in != nil && (in["type"] != "aws_proxy" || in["payloadFormatVersion"] != "2.0") {
					problems = append(problems, fmt.Sprintf("%s: %s: want type aws_proxy with payloadFormatVersion \"2.0\" (shared/apigw reads payload v2), got %v and %v",
						api, r.key(), in["type"], in["payloadFormatVersion"]))
				}
				got[r.key()] = r
			}
		}
		for _, want := range wantRoutes {
			r, ok := got[want.key()]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s: no route %s (want %s)", api, want.key(), byEndpoint[want.function]))
			case r.function != "" && r.function != want.function:
				problems = append(problems, fmt.Sprintf("%s: %s goes to %s, want %s", api, want.key(), byEndpoint[r.function], byEndpoint[want.function]))
			}
		}
		for _, k := range sortedKeys(got) {
			if !slices.ContainsFunc(wantRoutes, func(w route) bool { return w.key() == k }) {
				problems = append(problems, fmt.Sprintf("%s: unexpected route %s: no endpoint of shared/oauth serves it", api, k))
			}
		}
		// Each route's function lets API Gateway invoke it, for this API
		// and this route only.
		apiARN := fmt.Sprintf("arn:%s:execute-api:%s:%s:%s/", samplePartition, sampleRegion, sampleAccount, sampleAPIID)
		type permission struct{ function, source string }
		var perms []permission
		for _, name := range t.resourcesOfType("AWS::Lambda::Permission") {
			pp, err := e.eval(t.properties(name))
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			fn, _ := get(pp, "FunctionName").(string)
			src, _ := get(pp, "SourceArn").(string)
			if get(pp, "Principal") != "apigateway.amazonaws.com" || get(pp, "Action") != "lambda:InvokeFunction" {
				continue
			}
			if !strings.HasPrefix(src, apiARN) {
				problems = append(problems, fmt.Sprintf("%s: SourceArn %q lets more than this API invoke %s; want %s<stage>/<method>/<path>", name, src, fn, apiARN))
			}
			perms = append(perms, permission{function: endpointOf[fn], source: src})
		}
		for _, r := range sortedKeys(got) {
			rt := got[r]
			arn := apiARN + "$default/" + rt.method + rt.path
			if !slices.ContainsFunc(perms, func(p permission) bool {
				ok, _ := path.Match(p.source, arn)
				return p.function == rt.function && ok
			}) && rt.function != "" {
				problems = append(problems, fmt.Sprintf("no AWS::Lambda::Permission lets API Gateway invoke %s for %s (source %s)", byEndpoint[rt.function], r, arn))
			}
		}
		// Throttling: the stage's route settings may name only existing
		// routes (else creating the stage fails), and the expensive routes
		// are held lower than the default.
		settings, err := e.eval(props["RouteSettings"])
		if err != nil {
			return append(problems, err.Error())
		}
		defaults, _ := e.eval(props["DefaultRouteSettings"])
		defBurst, ok1 := get(defaults, "ThrottlingBurstLimit").(int)
		defRate, ok2 := get(defaults, "ThrottlingRateLimit").(int)
		if !ok1 || !ok2 {
			problems = append(problems, fmt.Sprintf("%s: DefaultRouteSettings needs ThrottlingBurstLimit and ThrottlingRateLimit", api))
		}
		sm, _ := settings.(map[string]any)
		for _, k := range sortedKeys(sm) {
			if _, ok := got[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s: RouteSettings names %q, which is no route (the stage would fail: Unable to find Route by key)", api, k))
			}
		}
		for _, k := range strictRoutes {
			burst, ok1 := get(sm, k, "ThrottlingBurstLimit").(int)
			rate, ok2 := get(sm, k, "ThrottlingRateLimit").(int)
			if !ok1 || !ok2 || burst >= defBurst || rate >= defRate {
				problems = append(problems, fmt.Sprintf("%s: RouteSettings[%q] should throttle below the default (burst %d, rate %d), got burst %v, rate %v",
					api, k, defBurst, defRate, get(sm, k, "ThrottlingBurstLimit"), get(sm, k, "ThrottlingRateLimit")))
			}
		}
		// CORS: only the configured origins, never with credentials.
		cors := get(body, "x-amazon-apigateway-cors")
		if c := props["CorsConfiguration"]; c != nil {
			problems = append(problems, fmt.Sprintf("%s: CORS is configured in DefinitionBody (x-amazon-apigateway-cors); drop CorsConfiguration", api))
		}
		origins := ps.params["CorsAllowedOrigins"]
		switch {
		case origins == "" && cors != nil:
			problems = append(problems, fmt.Sprintf("%s: CORS is on although CorsAllowedOrigins is empty", api))
		case origins != "" && cors == nil:
			problems = append(problems, fmt.Sprintf("%s: CorsAllowedOrigins is %q but the API has no CORS configuration", api, origins))
		case cors != nil:
			got, _ := e.stringList(get(cors, "allowOrigins"))
			if want := sorted(strings.Split(origins, ",")); !slices.Equal(got, want) {
				problems = append(problems, fmt.Sprintf("%s: CORS allows origins %v, want CorsAllowedOrigins %v", api, got, want))
			}
			if get(cors, "allowCredentials") != false {
				problems = append(problems, fmt.Sprintf("%s: CORS allowCredentials must be false: the session cookie of /authorize must not be usable cross-origin", api))
			}
		}
		return problems
	})...)
}

// exemptVariables are the configuration variables the functions must not
// get, and why.
var exemptVariables = map[string]string{
	config.EnvSeedFile:       "local only: a seed file is for the memory store, and an error with GATEHOUSE_STORE=dynamodb",
	config.EnvSigningKeyFile: "local only: a key file is for the local signer, and an error with GATEHOUSE_SIGNER=kms",
}

func checkEnvironment(t *template, p *project) []string {
	byEndpoint, problems := functions(t)
	tables, tp := tableResources(t, p)
	problems = append(problems, tp...)
	for _, v := range sortedKeys(exemptVariables) {
		if !slices.Contains(config.Variables, v) {
			problems = append(problems, fmt.Sprintf("exemptVariables names %s, which config.Variables does not list", v))
		}
	}
	for _, endpoint := range sortedKeys(byEndpoint) {
		name := byEndpoint[endpoint]
		vars, _ := get(t.properties(name), "Environment", "Variables").(map[string]any)
		for _, v := range config.Variables {
			_, set := vars[v]
			if reason, exempt := exemptVariables[v]; exempt && set {
				problems = append(problems, fmt.Sprintf("%s: %s must not be set (%s)", name, v, reason))
			} else if !exempt && !set {
				problems = append(problems, fmt.Sprintf("%s: %s is not set (shared/config reads it; set it in Globals or on the function)", name, v))
			}
		}
		for _, k := range sortedKeys(vars) {
			if strings.HasPrefix(k, "GATEHOUSE_") && !slices.Contains(config.Variables, k) {
				problems = append(problems, fmt.Sprintf("%s: %s is no variable of shared/config%s", name, k, suggest(k, config.Variables)))
			}
		}
	}
	return append(problems, forEachParameterSet(t, func(e *evaluator, ps parameterSet) []string {
		var problems []string
		values := map[string]map[string]string{} // variable -> function -> value
		for _, endpoint := range sortedKeys(byEndpoint) {
			name := byEndpoint[endpoint]
			env, err := e.eval(get(t.properties(name), "Environment", "Variables"))
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: Environment: %v", name, err))
				continue
			}
			vars := map[string]string{}
			for k, v := range asMap(env) {
				vars[k] = scalarString(v)
				if values[k] == nil {
					values[k] = map[string]string{}
				}
				values[k][name] = vars[k]
			}
			// The function's own start-up: the Lambda defaults, then the
			// same checks as in production.
			cfg, err := app.LambdaConfig(func(k string) string { return vars[k] })
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: its configuration does not load, so the function would fail to start: %v",
					name, strings.ReplaceAll(err.Error(), "\n", "; ")))
				continue
			}
			if vars[config.EnvStore] != config.StoreDynamoDB {
				problems = append(problems, fmt.Sprintf("%s: %s is %q, want %q (the memory store loses everything between invocations)",
					name, config.EnvStore, vars[config.EnvStore], config.StoreDynamoDB))
			}
			if vars[config.EnvSigner] != config.SignerKMS {
				problems = append(problems, fmt.Sprintf("%s: %s is %q, want %q (a local key would differ per instance)",
					name, config.EnvSigner, vars[config.EnvSigner], config.SignerKMS))
			}
			if cfg.Issuer != ps.issuer {
				problems = append(problems, fmt.Sprintf("%s: the issuer is %q, want %q", name, cfg.Issuer, ps.issuer))
			}
			problems = append(problems, capabilityProblems(name, cfg)...)
			for _, tbl := range p.tables {
				v := tableVariable(tbl)
				want, err := e.ref(tables[tbl.column])
				if tables[tbl.column] == "" || err != nil {
					continue
				}
				if vars[v] != want {
					problems = append(problems, fmt.Sprintf("%s: %s is %q, want the %s table (%s)", name, v, vars[v], tbl.column, tables[tbl.column]))
				}
			}
			wantKey := ps.params["SigningKeyArn"]
			if wantKey == "" {
				if keys := t.resourcesOfType("AWS::KMS::Key"); len(keys) == 1 {
					k, _ := e.getAtt(keys[0], "Arn")
					wantKey = scalarString(k)
				}
			}
			if cfg.KMSKeyID != wantKey {
				problems = append(problems, fmt.Sprintf("%s: %s is %q, want the signing key %q", name, config.EnvKMSKeyID, cfg.KMSKeyID, wantKey))
			}
		}
		// One server: every function must agree on every setting.
		for _, v := range sortedKeys(values) {
			distinct := map[string]bool{}
			for _, val := range values[v] {
				distinct[val] = true
			}
			if len(distinct) > 1 || (len(values[v]) != len(byEndpoint) && len(values[v]) > 0) {
				problems = append(problems, fmt.Sprintf("%s differs between the functions: %v; they are one server and must agree", v, values[v]))
			}
		}
		return problems
	})...)
}

// tableVariable names the GATEHOUSE_*_TABLE variable of a docs table.
func tableVariable(tbl docTable) string {
	d := config.DefaultTables()
	defaults := []string{d.Clients, d.Users, d.Codes, d.Tokens, d.Sessions} // the order of config.TableVariables
	if i := slices.Index(defaults, tbl.name); i >= 0 {
		return config.TableVariables[i]
	}
	return ""
}

// tableResources maps each table of docs/dynamodb.md (by column name) to
// the AWS::DynamoDB::Table whose partition key is the table's.
func tableResources(t *template, p *project) (map[string]string, []string) {
	out := map[string]string{}
	var problems []string
	for _, tbl := range p.tables {
		if tableVariable(tbl) == "" {
			problems = append(problems, fmt.Sprintf("docs/dynamodb.md's table %s is none of config.DefaultTables()", tbl.name))
		}
		var found []string
		for _, name := range t.resourcesOfType("AWS::DynamoDB::Table") {
			for _, k := range asList(t.properties(name)["KeySchema"]) {
				if get(k, "KeyType") == "HASH" && get(k, "AttributeName") == tbl.key {
					found = append(found, name)
				}
			}
		}
		switch len(found) {
		case 0:
			problems = append(problems, fmt.Sprintf("no AWS::DynamoDB::Table for %s (partition key %s, docs/dynamodb.md)", tbl.name, tbl.key))
		case 1:
			out[tbl.column] = found[0]
		default:
			problems = append(problems, fmt.Sprintf("%v all have partition key %s; want one table for %s", found, tbl.key, tbl.name))
		}
	}
	return out, problems
}

// Tables that hold what cannot be recreated: point-in-time recovery, and
// they outlive the stack.
var durableTables = []string{"clients", "users"}

func checkTables(t *template, p *project) []string {
	byColumn, problems := tableResources(t, p)
	for _, name := range t.resourcesOfType("AWS::DynamoDB::Table") {
		if !slices.Contains(mapValues(byColumn), name) {
			problems = append(problems, fmt.Sprintf("%s is none of docs/dynamodb.md's tables", name))
		}
	}
	for _, tbl := range p.tables {
		name := byColumn[tbl.column]
		if name == "" {
			continue
		}
		props := t.properties(name)
		var keys []string
		for _, k := range asList(props["KeySchema"]) {
			keys = append(keys, fmt.Sprintf("%v %v", get(k, "AttributeName"), get(k, "KeyType")))
		}
		want := []string{tbl.key + " HASH"}
		if tbl.sort != "" {
			want = append(want, tbl.sort+" RANGE")
		}
		if !slices.Equal(keys, want) {
			problems = append(problems, fmt.Sprintf("%s: KeySchema %v, want %v (docs/dynamodb.md)", name, keys, want))
		}
		for _, d := range asList(props["AttributeDefinitions"]) {
			if get(d, "AttributeName") == tbl.key && get(d, "AttributeType") != "S" {
				problems = append(problems, fmt.Sprintf("%s: %s is of type %v, want S", name, tbl.key, get(d, "AttributeType")))
			}
		}
		if props["BillingMode"] != "PAY_PER_REQUEST" {
			problems = append(problems, fmt.Sprintf("%s: BillingMode %v, want PAY_PER_REQUEST (on demand)", name, props["BillingMode"]))
		}
		if get(props, "SSESpecification", "SSEEnabled") != true {
			problems = append(problems, fmt.Sprintf("%s: server-side encryption is off; want SSESpecification: {SSEEnabled: true}", name))
		}
		if props["LocalSecondaryIndexes"] != nil {
			problems = append(problems, fmt.Sprintf("%s: has a local secondary index, which docs/dynamodb.md does not describe", name))
		}
		problems = append(problems, checkIndexes(name, tbl.column, props)...)
		ttl := get(props, "TimeToLiveSpecification")
		switch {
		case tbl.ttl != "" && (get(ttl, "Enabled") != true || get(ttl, "AttributeName") != tbl.ttl):
			problems = append(problems, fmt.Sprintf("%s: no TTL on %s; want TimeToLiveSpecification: {AttributeName: %s, Enabled: true} "+
				"(docs/dynamodb.md; without it expired %s pile up for ever)", name, tbl.ttl, tbl.ttl, tbl.column))
		case tbl.ttl == "" && get(ttl, "Enabled") == true:
			problems = append(problems, fmt.Sprintf("%s: TTL is on, but docs/dynamodb.md gives %s no TTL attribute", name, tbl.name))
		}
		durable := slices.Contains(durableTables, tbl.column)
		if durable && get(props, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled") != true {
			problems = append(problems, fmt.Sprintf("%s: point-in-time recovery is off; the %s cannot be recreated: "+
				"want PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}", name, tbl.column))
		}
		for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			if durable && t.resource(name)[policy] != "Retain" {
				problems = append(problems, fmt.Sprintf("%s: %s is %v, want Retain: the %s must outlive the stack", name, policy, t.resource(name)[policy], tbl.column))
			}
		}
	}
	return problems
}

// The KMS actions each function needs on the signing key and on the
// verification-only keys. Only the token function signs (docs/design.md), and
// reads only the signing key's public half (for the kid); the functions
// that verify tokens or publish the keys read every public key: authorize
// verifies the ID tokens sent back to /logout as id_token_hint. Authorize
// never signs, although the implicit grant issues a token there: see the
// note on AuthorizeFunction in template.yaml.
var (
	wantKMS = map[string][]string{
		app.FunctionAuthorize:  {"GetPublicKey"},
		app.FunctionToken:      {"GetPublicKey", "Sign"},
		app.FunctionIntrospect: {"GetPublicKey"},
		app.FunctionRevoke:     {"GetPublicKey"},
		app.FunctionMetadata:   {"GetPublicKey"},
		app.FunctionUserInfo:   {"GetPublicKey"},
	}
	wantKMSVerifyKeys = map[string][]string{
		app.FunctionAuthorize:  {"GetPublicKey"},
		app.FunctionIntrospect: {"GetPublicKey"},
		app.FunctionRevoke:     {"GetPublicKey"},
		app.FunctionMetadata:   {"GetPublicKey"},
		app.FunctionUserInfo:   {"GetPublicKey"},
	}
)

var dynamoWrites = []string{"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "ConditionCheckItem"}

func checkIAM(t *template, p *project) []string {
	byEndpoint, problems := functions(t)
	tables, tp := tableResources(t, p)
	problems = append(problems, tp...)
	for _, endpoint := range sortedKeys(byEndpoint) {
		name := byEndpoint[endpoint]
		if _, ok := p.access[endpoint]; !ok {
			problems = append(problems, fmt.Sprintf("docs/dynamodb.md's least-privilege table has no row for %s", endpoint))
		}
		for i, pol := range asList(t.properties(name)["Policies"]) {
			if m, ok := pol.(map[string]any); !ok || m["Statement"] == nil {
				problems = append(problems, fmt.Sprintf("%s: Policies[%d] is %v; want inline statements only (managed policies and SAM policy templates grant more than the function needs)", name, i, pol))
			}
		}
	}
	columnOf := map[string]string{}
	for col, name := range tables {
		columnOf[name] = col
	}
	return append(problems, forEachParameterSet(t, func(e *evaluator, ps parameterSet) []string {
		var problems []string
		tableOf := map[string]string{} // table ARN -> docs column
		for arn, name := range e.tableARNs() {
			tableOf[arn] = columnOf[name]
		}
		signingKey := ps.params["SigningKeyArn"]
		if keys := t.resourcesOfType("AWS::KMS::Key"); signingKey == "" && len(keys) == 1 {
			k, _ := e.getAtt(keys[0], "Arn")
			signingKey = scalarString(k)
		}
		var verifyKeys []string
		if v := ps.params["VerifyKeyArns"]; v != "" {
			verifyKeys = strings.Split(v, ",")
		}
		for _, endpoint := range sortedKeys(byEndpoint) {
			name := byEndpoint[endpoint]
			policies, err := e.eval(t.properties(name)["Policies"])
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: Policies: %v", name, err))
				continue
			}
			dynamo := map[string][]string{} // column -> actions
			kms := map[string][]string{}    // key ARN -> actions
			for _, pol := range asList(policies) {
				for _, st := range asList(get(pol, "Statement")) {
					sid, _ := get(st, "Sid").(string)
					where := fmt.Sprintf("%s: statement %q", name, sid)
					if get(st, "Effect") != "Allow" {
						continue
					}
					if get(st, "NotAction") != nil || get(st, "NotResource") != nil {
						problems = append(problems, where+": NotAction and NotResource allow more than they name; list actions and resources")
					}
					var resources []string
					for _, r := range asList(get(st, "Resource")) {
						resources = append(resources, scalarString(r))
					}
					for _, a := range asList(get(st, "Action")) {
						action := scalarString(a)
						service, op, _ := strings.Cut(action, ":")
						if strings.Contains(action, "*") {
							problems = append(problems, fmt.Sprintf("%s grants %q: name each action", where, action))
						}
						if service != "dynamodb" && service != "kms" {
							problems = append(problems, fmt.Sprintf("%s grants %s, which no function needs", where, action))
							continue
						}
						for _, r := range resources {
							if r == "*" || strings.Contains(r, "*") {
								problems = append(problems, fmt.Sprintf("%s grants %s on Resource %q: name the %s", where, action, r,
									map[string]string{"dynamodb": "tables", "kms": "key"}[service]))
								continue
							}
							switch service {
							case "dynamodb":
								col := tableOf[r]
								if table, index, ok := strings.Cut(r, "/index/"); ok && tableOf[table] != "" {
									// An index grants only reads through it, and only on
									// the one index the store queries (docs/dynamodb.md,
									// "The subject index").
									col = tableOf[table]
									if col != "users" || index != dynamostore.SubjectIndex || op != "Query" {
										problems = append(problems, fmt.Sprintf("%s grants %s on the index %q: only dynamodb:Query on the users table's %s",
											where, action, r, dynamostore.SubjectIndex))
										continue
									}
								} else if op == "Query" || op == "Scan" {
									problems = append(problems, fmt.Sprintf("%s grants %s on the table %q: a Query may read only the index it needs", where, action, r))
									continue
								}
								if col == "" {
									problems = append(problems, fmt.Sprintf("%s grants %s on %q, which is none of the stack's tables", where, action, r))
									continue
								}
								dynamo[col] = appendNew(dynamo[col], op)
							case "kms":
								if r != signingKey && !slices.Contains(verifyKeys, r) {
									problems = append(problems, fmt.Sprintf("%s grants %s on %q, which is neither the signing key nor a verification key", where, action, r))
									continue
								}
								if op == "Sign" && r != signingKey {
									problems = append(problems, fmt.Sprintf("%s grants kms:Sign on the verification-only key %q", where, r))
								}
								kms[r] = appendNew(kms[r], op)
							}
						}
					}
				}
			}
			// DynamoDB: exactly docs/dynamodb.md's least-privilege row.
			want := p.access[endpoint]
			for _, tbl := range p.tables {
				col := tbl.column
				got, exp := sorted(dynamo[col]), want[col]
				for _, a := range exp {
					if !slices.Contains(got, a) {
						problems = append(problems, fmt.Sprintf("%s lacks dynamodb:%s on the %s table, which docs/dynamodb.md's least-privilege table gives %s",
							name, a, col, endpoint))
					}
				}
				for _, a := range got {
					if slices.Contains(exp, a) {
						continue
					}
					writesThere := slices.ContainsFunc(exp, func(x string) bool { return slices.Contains(dynamoWrites, x) })
					if slices.Contains(dynamoWrites, a) && !writesThere {
						problems = append(problems, fmt.Sprintf("%s may write to the %s table (dynamodb:%s), where docs/dynamodb.md's least-privilege table gives %s %s",
							name, col, a, endpoint, describeAccess(exp)))
					} else {
						problems = append(problems, fmt.Sprintf("%s has dynamodb:%s on the %s table, which docs/dynamodb.md's least-privilege table does not give %s (it gives %s)",
							name, a, col, endpoint, describeAccess(exp)))
					}
				}
			}
			// KMS: Sign only on token; GetPublicKey where tokens are
			// verified or keys published, on every key in use.
			wantOps := wantKMS[endpoint]
			for _, key := range append([]string{signingKey}, verifyKeys...) {
				got := sorted(kms[key])
				exp := wantOps
				if key != signingKey {
					exp = wantKMSVerifyKeys[endpoint]
				}
				for _, op := range got {
					if slices.Contains(exp, op) {
						continue
					}
					switch {
					case op == "Sign":
						problems = append(problems, fmt.Sprintf("%s has kms:Sign: only the token function may sign (docs/design.md, least privilege)", name))
					case len(exp) == 0 && len(wantOps) == 0:
						problems = append(problems, fmt.Sprintf("%s has kms:%s, but %s needs no KMS access (see the implicit-grant note in template.yaml)", name, op, endpoint))
					default:
						problems = append(problems, fmt.Sprintf("%s has kms:%s on %s, which it does not need", name, op, key))
					}
				}
				for _, op := range exp {
					if !slices.Contains(got, op) {
						problems = append(problems, fmt.Sprintf("%s lacks kms:%s on %s", name, op, key))
					}
				}
			}
		}
		return problems
	})...)
}

func describeAccess(actions []string) string {
	if len(actions) == 0 {
		return "no access"
	}
	return "only " + strings.Join(actions, ", ")
}

// keySpecs lists the KMS key specs each JWS algorithm can use.
var keySpecs = map[string][]string{
	config.AlgRS256: {"RSA_2048", "RSA_3072", "RSA_4096"},
	config.AlgPS256: {"RSA_2048", "RSA_3072", "RSA_4096"},
	config.AlgES256: {"ECC_NIST_P256"},
}

func checkKMS(t *template, _ *project) []string {
	keys := t.resourcesOfType("AWS::KMS::Key")
	if len(keys) != 1 {
		return []string{fmt.Sprintf("want one AWS::KMS::Key (the signing key), found %v", keys)}
	}
	key := keys[0]
	props := t.properties(key)
	var problems []string
	if props["KeyUsage"] != "SIGN_VERIFY" {
		problems = append(problems, fmt.Sprintf("%s: KeyUsage %v, want SIGN_VERIFY", key, props["KeyUsage"]))
	}
	e, err := newEvaluator(t, nil)
	if err != nil {
		return append(problems, err.Error())
	}
	byEndpoint, _ := functions(t)
	algs := map[string]bool{}
	for _, name := range byEndpoint {
		alg, err := e.evalString(get(t.properties(name), "Environment", "Variables", config.EnvSigningAlg))
		if err != nil || alg == "" {
			alg = config.AlgRS256 // the configuration's default
		}
		algs[alg] = true
	}
	spec, _ := props["KeySpec"].(string)
	for _, alg := range sortedKeys(algs) {
		if !slices.Contains(keySpecs[alg], spec) {
			problems = append(problems, fmt.Sprintf("%s: KeySpec %q cannot sign %s, which the functions' %s asks for: want one of %v",
				key, spec, alg, config.EnvSigningAlg, keySpecs[alg]))
		}
	}
	policy, err := e.eval(props["KeyPolicy"])
	if err != nil {
		return append(problems, fmt.Sprintf("%s: KeyPolicy: %v", key, err))
	}
	root := fmt.Sprintf("arn:%s:iam::%s:root", samplePartition, sampleAccount)
	hasRoot := false
	for _, st := range asList(get(policy, "Statement")) {
		principal := get(st, "Principal")
		var principals []string
		if s, ok := principal.(string); ok {
			principals = []string{s}
		} else {
			for _, k := range sortedKeys(asMap(principal)) {
				for _, x := range asList(asMap(principal)[k]) {
					principals = append(principals, scalarString(x))
				}
			}
		}
		for _, pr := range principals {
			if pr == "*" && get(st, "Effect") == "Allow" {
				problems = append(problems, fmt.Sprintf("%s: the key policy's statement %q allows the principal \"*\": anyone could use the key", key, get(st, "Sid")))
			}
			if pr == root && get(st, "Effect") == "Allow" {
				hasRoot = true
			}
		}
	}
	if !hasRoot {
		problems = append(problems, fmt.Sprintf("%s: no key policy statement lets the account (%s) administer the key: it could become unmanageable", key, root))
	}
	aliased := false
	for _, a := range t.resourcesOfType("AWS::KMS::Alias") {
		if fn, arg := intrinsic(t.properties(a)["TargetKeyId"]); (fn == "Ref" && arg == key) || (fn == "Fn::GetAtt" && get(arg, 0) == key) {
			aliased = true
		}
	}
	if !aliased {
		problems = append(problems, fmt.Sprintf("%s: no AWS::KMS::Alias names it", key))
	}
	return problems
}

// Parameters the deployment must offer.
var wantParameters = []string{"Issuer", "CustomDomain", "AccessTokenTTL", "RefreshTokenTTL", "CodeTTL", "SessionTTL", "SessionIdleTTL",
	"LoginMaxFailures", "LoginMaxFailuresPerIP", "LoginFailureWindow", "CorsAllowedOrigins", "LogRetentionDays"}

func checkParameters(t *template, _ *project) []string {
	var problems []string
	params := t.section("Parameters")
	for _, p := range wantParameters {
		if _, ok := params[p]; !ok {
			problems = append(problems, fmt.Sprintf("no parameter %s", p))
		}
	}
	used := map[string]bool{}
	for _, section := range []string{"Resources", "Outputs", "Conditions", "Globals", "Rules"} {
		walkRefs(t.section(section), section, func(r reference) { used[r.name] = true })
	}
	for _, name := range sortedKeys(params) {
		if !used[name] {
			problems = append(problems, fmt.Sprintf("parameter %s is never used", name))
		}
		values := []string{}
		if d := get(params[name], "Default"); d != nil {
			values = append(values, scalarString(d))
		}
		for _, ps := range parameterSets {
			if v, ok := ps.params[name]; ok {
				values = append(values, v)
			}
		}
		pattern, _ := get(params[name], "AllowedPattern").(string)
		allowed := asList(get(params[name], "AllowedValues"))
		for _, v := range values {
			if pattern != "" {
				re, err := regexp.Compile("^(?:" + pattern + ")$")
				if err != nil {
					problems = append(problems, fmt.Sprintf("parameter %s: AllowedPattern: %v", name, err))
				} else if !re.MatchString(v) {
					problems = append(problems, fmt.Sprintf("parameter %s: %q does not match its AllowedPattern", name, v))
				}
			}
			if len(allowed) > 0 && !slices.ContainsFunc(allowed, func(a any) bool { return scalarString(a) == v }) {
				problems = append(problems, fmt.Sprintf("parameter %s: %q is not among its AllowedValues", name, v))
			}
		}
	}
	return append(problems, forEachParameterSet(t, func(e *evaluator, _ parameterSet) []string {
		var problems []string
		for _, c := range sortedKeys(t.section("Conditions")) {
			if _, err := e.condition(c); err != nil {
				problems = append(problems, err.Error())
			}
		}
		return problems
	})...)
}

func checkOutputs(t *template, p *project) []string {
	tables, problems := tableResources(t, p)
	outputs := t.section("Outputs")
	endpoints := map[string]string{
		"AuthorizationEndpoint":  oauth.PathAuthorize,
		"TokenEndpoint":          oauth.PathToken,
		"IntrospectionEndpoint":  oauth.PathIntrospect,
		"RevocationEndpoint":     oauth.PathRevoke,
		"UserInfoEndpoint":       oauth.PathUserInfo,
		"MetadataURL":            oauth.PathMetadata,
		"OpenIDConfigurationURL": oauth.PathOpenIDMetadata,
		"JWKSURI":                oauth.PathJWKS,
	}
	want := []string{"Issuer", "SigningKeyArn"}
	want = append(want, sortedKeys(endpoints)...)
	tableOutputs := map[string]string{} // output -> docs column
	for _, tbl := range p.tables {
		out := strings.ToUpper(tbl.column[:1]) + tbl.column[1:] + "TableName"
		tableOutputs[out] = tbl.column
		want = append(want, out)
	}
	for _, o := range want {
		if _, ok := outputs[o]; !ok {
			problems = append(problems, fmt.Sprintf("no output %s", o))
		}
	}
	return append(problems, forEachParameterSet(t, func(e *evaluator, ps parameterSet) []string {
		var problems []string
		value := func(o string) (string, bool) {
			if c, ok := get(outputs[o], "Condition").(string); ok {
				if on, _ := e.condition(c); !on {
					return "", false
				}
			}
			v, err := e.evalString(get(outputs[o], "Value"))
			if err != nil {
				problems = append(problems, fmt.Sprintf("output %s: %v", o, err))
				return "", false
			}
			return v, true
		}
		for _, o := range sortedKeys(outputs) {
			value(o)
		}
		if v, ok := value("Issuer"); ok && v != ps.issuer {
			problems = append(problems, fmt.Sprintf("output Issuer is %q, want %q", v, ps.issuer))
		}
		for _, o := range sortedKeys(endpoints) {
			if v, ok := value(o); ok && v != ps.issuer+endpoints[o] {
				problems = append(problems, fmt.Sprintf("output %s is %q, want %q", o, v, ps.issuer+endpoints[o]))
			}
		}
		for _, o := range sortedKeys(tableOutputs) {
			name := tables[tableOutputs[o]]
			if name == "" {
				continue
			}
			id, _ := e.ref(name)
			if v, ok := value(o); ok && v != id {
				problems = append(problems, fmt.Sprintf("output %s is %q, want the name of %s", o, v, name))
			}
		}
		return problems
	})...)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// checkIndexes: the users table has the subject-index that UserInfo
// queries, exactly as dynamostore's CreateTables makes it (partition key
// subject, of type S; projecting the keys and claims, never the password
// hash or consents: docs/dynamodb.md, "The subject index"); no other
// table has a global secondary index.
func checkIndexes(name, column string, props map[string]any) []string {
	gsis := asList(props["GlobalSecondaryIndexes"])
	if column != "users" {
		if len(gsis) > 0 {
			return []string{fmt.Sprintf("%s: has a secondary index, which docs/dynamodb.md does not describe", name)}
		}
		return nil
	}
	want := fmt.Sprintf("%s: subject HASH, INCLUDE [claims]", dynamostore.SubjectIndex)
	if len(gsis) != 1 {
		return []string{fmt.Sprintf("%s: %d global secondary indexes; want one, %s (UserInfo finds users by subject)", name, len(gsis), want)}
	}
	g := gsis[0]
	var keys []string
	for _, k := range asList(get(g, "KeySchema")) {
		keys = append(keys, fmt.Sprintf("%v %v", get(k, "AttributeName"), get(k, "KeyType")))
	}
	var include []string
	for _, a := range asList(get(g, "Projection", "NonKeyAttributes")) {
		include = append(include, fmt.Sprint(a))
	}
	got := fmt.Sprintf("%v: %s, %v %v", get(g, "IndexName"), strings.Join(keys, ", "), get(g, "Projection", "ProjectionType"), include)
	var problems []string
	if got != want {
		problems = append(problems, fmt.Sprintf("%s: index %s; want %s, as dynamostore's CreateTables makes it", name, got, want))
	}
	typed := false
	for _, d := range asList(props["AttributeDefinitions"]) {
		typed = typed || get(d, "AttributeName") == "subject" && get(d, "AttributeType") == "S"
	}
	if !typed {
		problems = append(problems, fmt.Sprintf("%s: AttributeDefinitions lack subject of type S, the index's key", name))
	}
	return problems
}
