package deploy_test

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

var (
	loadOnce   sync.Once
	loaded     *template
	loadedProj *project
	loadErr    error
	specErr    error
)

// load reads template.yaml and the project once for all tests. A missing
// schema package leaves the project's spec nil and sets specErr.
func load(t *testing.T) (*template, *project) {
	t.Helper()
	loadOnce.Do(func() {
		loaded, loadErr = loadTemplate(filepath.Join("..", "template.yaml"))
		if loadErr != nil {
			return
		}
		loadedProj, loadErr = loadProject()
		if loadErr != nil {
			return
		}
		loadedProj.spec, specErr = loadSpec(specDir)
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded, loadedProj
}

// requireSpec skips (or, under CI=true, fails) a test that needs the
// resource schemas when they are not installed.
func requireSpec(t *testing.T, p *project) {
	t.Helper()
	if p.spec != nil {
		return
	}
	if errors.Is(specErr, fs.ErrNotExist) {
		msg := "the CloudFormation/SAM schemas are not installed (" + specErr.Error() + "); run `make test-deps` (npm ci in tools/cfn-spec)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Fatalf("reading the CloudFormation/SAM schemas: %v", specErr)
}

// TestTemplate runs every rule on template.yaml.
func TestTemplate(t *testing.T) {
	tmpl, p := load(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			if r.name == "schema" {
				requireSpec(t, p)
				t.Logf("resource schemas of @aws-cdk/aws-service-spec %s", p.spec.version)
			}
			for _, problem := range r.check(tmpl, p) {
				t.Error(problem)
			}
		})
	}
}

// TestTemplateCatchesBrokenRules breaks a copy of the template (or of
// what it is checked against) one rule at a time and checks that the
// rules report it, in a message that says what is wrong.
func TestTemplateCatchesBrokenRules(t *testing.T) {
	tmpl, proj := load(t)
	baseline := checkAll(tmpl, proj)
	tests := []struct {
		name      string
		needsSpec bool
		mutate    func(t *template, p *project)
		want      string
	}{
		{
			name: "kms:Sign added to the introspect function",
			mutate: func(t *template, _ *project) {
				setStatement(t, "IntrospectFunction", "VerifyAccessTokens", "Action", []any{"kms:GetPublicKey", "kms:Sign"})
			},
			want: "IntrospectFunction has kms:Sign: only the token function may sign",
		},
		{
			name:   "kms:Sign given to the authorize function",
			mutate: func(t *template, _ *project) { addStatement(t, "AuthorizeFunction", kmsStatement("kms:Sign")) },
			want:   "AuthorizeFunction has kms:Sign: only the token function may sign",
		},
		{
			name: "the token function loses kms:Sign",
			mutate: func(t *template, _ *project) {
				setStatement(t, "TokenFunction", "SignAccessTokens", "Action", "kms:GetPublicKey")
			},
			want: "TokenFunction lacks kms:Sign on arn:aws:kms:us-east-1:123456789012:key/",
		},
		{
			name: "the verification keys readable by the token function",
			mutate: func(t *template, _ *project) {
				addStatement(t, "TokenFunction", map[string]any{"Fn::If": []any{"HasVerifyKeys",
					map[string]any{"Sid": "Verify", "Effect": "Allow", "Action": "kms:GetPublicKey",
						"Resource": map[string]any{"Fn::Split": []any{",", map[string]any{"Ref": "VerifyKeyArns"}}}},
					map[string]any{"Ref": "AWS::NoValue"}}})
			},
			want: "[parameters: key rotation] TokenFunction has kms:GetPublicKey on arn:aws:kms:us-east-1:123456789012:key/old-key-0001, which it does not need",
		},
		{
			name: "/token routed to the revoke function",
			mutate: func(t *template, _ *project) {
				in := get(apiPaths(t), "/token", "post", "x-amazon-apigateway-integration").(map[string]any)
				in["uri"] = map[string]any{"Fn::Sub": strings.Replace(in["uri"].(map[string]any)["Fn::Sub"].(string), "-token/", "-revoke/", 1)}
			},
			want: "POST /token goes to RevokeFunction, want TokenFunction",
		},
		{
			name:   "the JWKS route missing",
			mutate: func(t *template, _ *project) { delete(apiPaths(t), "/.well-known/jwks.json") },
			want:   "no route GET /.well-known/jwks.json (want MetadataFunction)",
		},
		{
			name:   "GATEHOUSE_ISSUER removed from the functions",
			mutate: func(t *template, _ *project) { delete(globalVariables(t), "GATEHOUSE_ISSUER") },
			want:   "TokenFunction: GATEHOUSE_ISSUER is not set",
		},
		{
			name: "a misspelled variable",
			mutate: func(t *template, _ *project) {
				v := globalVariables(t)
				v["GATEHOUSE_ISUER"] = v["GATEHOUSE_ISSUER"]
				delete(v, "GATEHOUSE_ISSUER")
			},
			want: `GATEHOUSE_ISUER is no variable of shared/config (did you mean "GATEHOUSE_ISSUER"?)`,
		},
		{
			name:   "the memory store on Lambda",
			mutate: func(t *template, _ *project) { globalVariables(t)["GATEHOUSE_STORE"] = "memory" },
			want:   `GATEHOUSE_STORE is "memory", want "dynamodb"`,
		},
		{
			name:   "a local-only variable set",
			mutate: func(t *template, _ *project) { globalVariables(t)["GATEHOUSE_SEED_FILE"] = "dev/seed.json" },
			want:   "GATEHOUSE_SEED_FILE must not be set (local only",
		},
		{
			name:   "a code lifetime the configuration refuses",
			mutate: func(t *template, _ *project) { t.section("Parameters")["CodeTTL"].(map[string]any)["Default"] = "1h" },
			want:   "its configuration does not load, so the function would fail to start: GATEHOUSE_CODE_TTL",
		},
		{
			name: "a login failure window the configuration refuses",
			mutate: func(t *template, _ *project) {
				t.section("Parameters")["LoginFailureWindow"].(map[string]any)["Default"] = "48h"
			},
			want: "its configuration does not load, so the function would fail to start: GATEHOUSE_LOGIN_FAILURE_WINDOW",
		},
		{
			name: "a login limit of zero",
			mutate: func(t *template, _ *project) {
				t.section("Parameters")["LoginMaxFailures"].(map[string]any)["Default"] = "0"
			},
			want: `parameter LoginMaxFailures: "0" does not match its AllowedPattern`,
		},
		{
			name:   "the session idle timeout missing from the functions",
			mutate: func(t *template, _ *project) { delete(globalVariables(t), "GATEHOUSE_SESSION_IDLE_TTL") },
			want:   "AuthorizeFunction: GATEHOUSE_SESSION_IDLE_TTL is not set",
		},
		{
			name:   "a table without TTL",
			mutate: func(t *template, _ *project) { delete(rawProperties(t, "CodesTable"), "TimeToLiveSpecification") },
			want:   "CodesTable: no TTL on expires_at",
		},
		{
			name: "the users table without point-in-time recovery",
			mutate: func(t *template, _ *project) {
				delete(rawProperties(t, "UsersTable"), "PointInTimeRecoverySpecification")
			},
			want: "UsersTable: point-in-time recovery is off",
		},
		{
			name:   "the clients table deleted with the stack",
			mutate: func(t *template, _ *project) { delete(t.resource("ClientsTable"), "DeletionPolicy") },
			want:   "ClientsTable: DeletionPolicy is <nil>, want Retain",
		},
		{
			name:   "a table without encryption",
			mutate: func(t *template, _ *project) { delete(rawProperties(t, "TokensTable"), "SSESpecification") },
			want:   "TokensTable: server-side encryption is off",
		},
		{
			name: `Resource "*" on a DynamoDB statement`,
			mutate: func(t *template, _ *project) {
				setStatement(t, "TokenFunction", "ReadClientsAndUsers", "Resource", "*")
			},
			want: `TokenFunction: statement "ReadClientsAndUsers" grants dynamodb:GetItem on Resource "*": name the tables`,
		},
		{
			name: "a wildcard DynamoDB action",
			mutate: func(t *template, _ *project) {
				setStatement(t, "RevokeFunction", "RevokeTokens", "Action", "dynamodb:*")
			},
			want: `RevokeFunction: statement "RevokeTokens" grants "dynamodb:*": name each action`,
		},
		{
			name: "a write where the function only reads",
			mutate: func(t *template, _ *project) {
				setStatement(t, "TokenFunction", "ReadClientsAndUsers", "Action", []any{"dynamodb:GetItem", "dynamodb:PutItem"})
			},
			want: "TokenFunction may write to the clients table (dynamodb:PutItem), where docs/dynamodb.md's least-privilege table gives token only GetItem",
		},
		{
			name: "a table the function does not use",
			mutate: func(t *template, _ *project) {
				addStatement(t, "MetadataFunction", map[string]any{"Sid": "Clients", "Effect": "Allow", "Action": "dynamodb:GetItem",
					"Resource": map[string]any{"Fn::GetAtt": []any{"ClientsTable", "Arn"}}})
			},
			want: "MetadataFunction has dynamodb:GetItem on the clients table, which docs/dynamodb.md's least-privilege table does not give metadata",
		},
		{
			name: "a SAM policy template instead of statements",
			mutate: func(t *template, _ *project) {
				addPolicy(t, "RevokeFunction", map[string]any{"DynamoDBCrudPolicy": map[string]any{"TableName": "x"}})
			},
			want: "RevokeFunction: Policies[1] is map[DynamoDBCrudPolicy:map[TableName:x]]; want inline statements only",
		},
		{
			name:      "a misspelled property",
			needsSpec: true,
			mutate: func(t *template, _ *project) {
				p := rawProperties(t, "TokenFunction")
				p["MemorySizes"] = p["MemorySize"]
				delete(p, "MemorySize")
			},
			want: `Resources.TokenFunction.Properties: unknown property "MemorySizes" of AWS::Serverless::Function (did you mean "MemorySize"?)`,
		},
		{
			name:      "a misspelled nested property",
			needsSpec: true,
			mutate: func(t *template, _ *project) {
				ttl := rawProperties(t, "SessionsTable")["TimeToLiveSpecification"].(map[string]any)
				ttl["AtributeName"] = ttl["AttributeName"]
				delete(ttl, "AttributeName")
			},
			want: `Resources.SessionsTable.Properties.TimeToLiveSpecification: unknown property "AtributeName" of TimeToLiveSpecification (did you mean "AttributeName"?)`,
		},
		{
			name:      "an unknown resource type",
			needsSpec: true,
			mutate:    func(t *template, _ *project) { t.resource("SigningKeyAlias")["Type"] = "AWS::KMS::Aliases" },
			want:      `Resources.SigningKeyAlias: unknown resource type "AWS::KMS::Aliases" (did you mean "AWS::KMS::Alias"?)`,
		},
		{
			name: "a cycle through a SAM HttpApi event",
			mutate: func(t *template, _ *project) {
				rawProperties(t, "TokenFunction")["Events"] = map[string]any{"Token": map[string]any{"Type": "HttpApi", "Properties": map[string]any{
					"ApiId": map[string]any{"Ref": "GatehouseApi"}, "Path": "/token", "Method": "post"}}}
			},
			want: `dependency cycle: GatehouseApi -> TokenFunction -> GatehouseApi (GatehouseApi -> TokenFunction: SAM puts TokenFunction's ARN into GatehouseApi's definition for its HttpApi event "Token"`,
		},
		{
			name: "a cycle through an integration that names the function's ARN",
			mutate: func(t *template, _ *project) {
				in := get(apiPaths(t), "/revoke", "post", "x-amazon-apigateway-integration").(map[string]any)
				in["uri"] = map[string]any{"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${RevokeFunction.Arn}/invocations"}
			},
			want: "dependency cycle: GatehouseApi -> RevokeFunction -> GatehouseApi (GatehouseApi -> RevokeFunction: Fn::Sub at Resources.GatehouseApi.Properties.DefinitionBody.paths./revoke.post",
		},
		{
			name: "a reference to nothing",
			mutate: func(t *template, _ *project) {
				rawProperties(t, "SigningKeyAlias")["TargetKeyId"] = map[string]any{"Ref": "SigningKy"}
			},
			want: "Resources.SigningKeyAlias.Properties.TargetKeyId: Ref SigningKy: no such parameter or resource",
		},
		{
			name:   "an EC key for RS256",
			mutate: func(t *template, _ *project) { rawProperties(t, "SigningKey")["KeySpec"] = "ECC_NIST_P256" },
			want:   `SigningKey: KeySpec "ECC_NIST_P256" cannot sign RS256`,
		},
		{
			name: "a key anyone may use",
			mutate: func(t *template, _ *project) {
				st := get(rawProperties(t, "SigningKey"), "KeyPolicy", "Statement").([]any)
				get(rawProperties(t, "SigningKey"), "KeyPolicy").(map[string]any)["Statement"] = append(st, map[string]any{
					"Sid": "Open", "Effect": "Allow", "Principal": map[string]any{"AWS": "*"}, "Action": "kms:Sign", "Resource": "*"})
			},
			want: `SigningKey: the key policy's statement "Open" allows the principal "*"`,
		},
		{
			name:   "a Makefile without the build target",
			mutate: func(_ *template, p *project) { delete(p.makeTargets, "build-TokenFunction") },
			want:   "TokenFunction: the Makefile has no target build-TokenFunction",
		},
		{
			name:   "a function folder without its function",
			mutate: func(t *template, _ *project) { delete(t.section("Resources"), "MetadataFunction") },
			want:   "functions/metadata has no AWS::Serverless::Function",
		},
		{
			name:   "a log group without retention",
			mutate: func(t *template, _ *project) { delete(rawProperties(t, "TokenLogGroup"), "RetentionInDays") },
			want:   "TokenLogGroup: no RetentionInDays",
		},
		{
			name: "throttling for a route that does not exist",
			mutate: func(t *template, _ *project) {
				s := rawProperties(t, "GatehouseApi")["RouteSettings"].(map[string]any)
				s["POST /tokens"] = s["POST /token"]
				delete(s, "POST /token")
			},
			want: `GatehouseApi: RouteSettings names "POST /tokens", which is no route`,
		},
		{
			name: "userinfo may Query the whole users table",
			mutate: func(t *template, _ *project) {
				setStatement(t, "UserInfoFunction", "ReadUsersBySubject", "Resource", map[string]any{"Fn::GetAtt": []any{"UsersTable", "Arn"}})
			},
			want: `UserInfoFunction: statement "ReadUsersBySubject" grants dynamodb:Query on the table`,
		},
		{
			name: "userinfo may write through the index",
			mutate: func(t *template, _ *project) {
				setStatement(t, "UserInfoFunction", "ReadUsersBySubject", "Action", []any{"dynamodb:Query", "dynamodb:UpdateItem"})
			},
			want: `UserInfoFunction: statement "ReadUsersBySubject" grants dynamodb:UpdateItem on the index`,
		},
		{
			name: "userinfo may sign",
			mutate: func(t *template, _ *project) {
				setStatement(t, "UserInfoFunction", "VerifyAccessTokens", "Action", []any{"kms:GetPublicKey", "kms:Sign"})
			},
			want: "UserInfoFunction has kms:Sign: only the token function may sign",
		},
		{
			name:   "no userinfo route",
			mutate: func(t *template, _ *project) { delete(apiPaths(t), "/userinfo") },
			want:   "GatehouseApi: no route GET /userinfo",
		},
		{
			name: "the subject index projects everything",
			mutate: func(t *template, _ *project) {
				get(rawProperties(t, "UsersTable"), "GlobalSecondaryIndexes", 0, "Projection").(map[string]any)["ProjectionType"] = "ALL"
			},
			want: "UsersTable: index subject-index: subject HASH, ALL [claims]; want subject-index: subject HASH, INCLUDE [claims]",
		},
		{
			name:   "no subject index",
			mutate: func(t *template, _ *project) { delete(rawProperties(t, "UsersTable"), "GlobalSecondaryIndexes") },
			want:   "UsersTable: 0 global secondary indexes; want one, subject-index",
		},
		{
			name: "an index on another table",
			mutate: func(t *template, _ *project) {
				rawProperties(t, "TokensTable")["GlobalSecondaryIndexes"] = get(rawProperties(t, "UsersTable"), "GlobalSecondaryIndexes")
			},
			want: "TokensTable: has a secondary index, which docs/dynamodb.md does not describe",
		},
		{
			name: "CORS with credentials",
			mutate: func(t *template, _ *project) {
				cors := get(rawProperties(t, "GatehouseApi"), "DefinitionBody", "x-amazon-apigateway-cors", "Fn::If", 1).(map[string]any)
				cors["allowCredentials"] = true
			},
			want: "[parameters: browser clients] GatehouseApi: CORS allowCredentials must be false",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needsSpec {
				requireSpec(t, proj)
			}
			broken, p := tmpl.clone(), *proj
			p.makeTargets = maps.Clone(proj.makeTargets)
			tt.mutate(broken, &p)
			problems := checkAll(broken, &p)
			for _, msg := range problems {
				if strings.Contains(msg, tt.want) {
					t.Logf("caught: %s", msg)
					for _, b := range baseline {
						if b == msg {
							t.Errorf("the unbroken template has the same problem: %s", msg)
						}
					}
					return
				}
			}
			t.Errorf("no problem reported contains %q; got %d:\n%s", tt.want, len(problems), strings.Join(problems, "\n"))
		})
	}
}

// TestParse checks the translation of CloudFormation's short-form tags.
func TestParse(t *testing.T) {
	tests := []struct {
		yaml string
		want any
	}{
		{"v: !Ref X", map[string]any{"Ref": "X"}},
		{"v: !GetAtt A.B.C", map[string]any{"Fn::GetAtt": []any{"A", "B.C"}}},
		{"v: !GetAtt [A, B]", map[string]any{"Fn::GetAtt": []any{"A", "B"}}},
		{"v: !Sub 'x-${AWS::Region}'", map[string]any{"Fn::Sub": "x-${AWS::Region}"}},
		{"v: !Sub ['${A}', {A: !Ref B}]", map[string]any{"Fn::Sub": []any{"${A}", map[string]any{"A": map[string]any{"Ref": "B"}}}}},
		{"v: !If [C, !Ref AWS::NoValue, 3]", map[string]any{"Fn::If": []any{"C", map[string]any{"Ref": "AWS::NoValue"}, 3}}},
		{"v: !Not [!Equals [!Ref P, '']]", map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "P"}, ""}}}}},
		{"v: !Select [0, !Split [',', !Join [',', [a, b]]]]", map[string]any{"Fn::Select": []any{0, map[string]any{"Fn::Split": []any{",",
			map[string]any{"Fn::Join": []any{",", []any{"a", "b"}}}}}}}},
		{"v: !Condition C", map[string]any{"Condition": "C"}},
		{"v: {Fn::Sub: x}", map[string]any{"Fn::Sub": "x"}},
		{"v: '2.0'", "2.0"},
		{"v: 1024", 1024},
		{"v: true", true},
	}
	for _, tt := range tests {
		tmpl, err := parseTemplate([]byte(tt.yaml))
		if err != nil {
			t.Errorf("%s: %v", tt.yaml, err)
			continue
		}
		if got := tmpl.doc["v"]; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.yaml, got, tt.want)
		}
	}
	if _, err := parseTemplate([]byte("a: 1\na: 2\n")); err == nil {
		t.Error("a duplicate key parsed")
	}
}

// TestEvaluate checks the evaluator on the intrinsic functions the rules
// rely on.
func TestEvaluate(t *testing.T) {
	tmpl, err := parseTemplate([]byte(`
Parameters:
  P: {Type: String, Default: ""}
  L: {Type: String, Default: "a,b"}
Conditions:
  HasP: !Not [!Equals [!Ref P, ""]]
  Both: !And [!Condition HasP, !Equals [x, x]]
Resources:
  T: {Type: AWS::DynamoDB::Table}
  F: {Type: AWS::Serverless::Function, Properties: {FunctionName: !Sub "${AWS::StackName}-f"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		params map[string]string
		expr   string
		want   any
	}{
		{nil, `!If [HasP, !Ref P, none]`, "none"},
		{map[string]string{"P": "p"}, `!If [HasP, !Ref P, none]`, "p"},
		{map[string]string{"P": "p"}, `!If [Both, yes, no]`, "yes"},
		{nil, `[a, !If [HasP, b, !Ref AWS::NoValue], c]`, []any{"a", "c"}},
		{nil, `{k: !If [HasP, b, !Ref AWS::NoValue], j: 1}`, map[string]any{"j": 1}},
		{nil, `!Sub "${F}|${T.Arn}|${!Literal}"`, "gatehouse-f|arn:aws:dynamodb:us-east-1:123456789012:table/gatehouse-T-1A2B3C4D5E6F|${Literal}"},
		{nil, `!Sub ["${X}/${AWS::Region}", {X: !Select [1, !Split [",", !Ref L]]}]`, "b/us-east-1"},
		{nil, `!Join ["-", [!Ref AWS::AccountId, !GetAtt F.Arn]]`, "123456789012-arn:aws:lambda:us-east-1:123456789012:function:gatehouse-f"},
	}
	for _, tt := range tests {
		e, err := newEvaluator(tmpl, tt.params)
		if err != nil {
			t.Fatal(err)
		}
		expr, err := parseTemplate([]byte("v: " + tt.expr))
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		got, err := e.eval(expr.doc["v"])
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s with %v = %#v, %v; want %#v", tt.expr, tt.params, got, err, tt.want)
		}
	}
}

// Helpers for the broken templates.

func rawProperties(t *template, name string) map[string]any {
	return t.resource(name)["Properties"].(map[string]any)
}

func apiPaths(t *template) map[string]any {
	return get(rawProperties(t, "GatehouseApi"), "DefinitionBody", "paths").(map[string]any)
}

func globalVariables(t *template) map[string]any {
	return get(t.section("Globals"), "Function", "Environment", "Variables").(map[string]any)
}

// setStatement sets a field of the statement with Sid sid in a function's
// first policy.
func setStatement(t *template, function, sid, field string, value any) {
	for _, st := range get(rawProperties(t, function), "Policies", 0, "Statement").([]any) {
		if get(st, "Sid") == sid {
			st.(map[string]any)[field] = value
			return
		}
	}
	panic("no statement " + sid + " in " + function)
}

func addStatement(t *template, function string, st map[string]any) {
	pol := get(rawProperties(t, function), "Policies", 0).(map[string]any)
	pol["Statement"] = append(pol["Statement"].([]any), st)
}

func addPolicy(t *template, function string, pol any) {
	p := rawProperties(t, function)
	p["Policies"] = append(p["Policies"].([]any), pol)
}

func kmsStatement(action string) map[string]any {
	return map[string]any{"Sid": "Keys", "Effect": "Allow", "Action": action,
		"Resource": map[string]any{"Fn::GetAtt": []any{"SigningKey", "Arn"}}}
}
