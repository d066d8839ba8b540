package deploy_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// specDir is where `make test-deps` installs the pinned
// @aws-cdk/aws-service-spec (tools/cfn-spec/package.json).
var specDir = filepath.Join("..", "tools", "cfn-spec", "node_modules", "@aws-cdk", "aws-service-spec")

// A spec holds the resource schemas of @aws-cdk/aws-service-spec's
// db.json.gz: the AWS CDK's database of every CloudFormation resource
// type, with SAM's AWS::Serverless::* types among them. The file is one
// gzipped JSON object, {"idCtr": N, "schema": {...}}, whose schema holds
// tables of entities. Two matter here:
//
//   - schema.resource.entities: one per resource type, with
//     cloudFormationType ("AWS::DynamoDB::Table"), attributes (what
//     Fn::GetAtt may ask for) and properties: name -> {type, required}.
//   - schema.typeDefinition.entities: the property types ("$id", name,
//     properties), which a property's type points to by "$ref".
//
// A type is {"type": K} with K one of string, number, integer, boolean,
// date-time, json (anything), tag ({Key, Value}); ref (reference.$ref, a
// type definition); array and map (element: a type); union (types: a
// list of types).
type spec struct {
	version   string
	resources map[string]*specResource
	types     map[string]*specTypeDef
}

type specResource struct {
	Type       string                     `json:"cloudFormationType"`
	Properties map[string]specProperty    `json:"properties"`
	Attributes map[string]json.RawMessage `json:"attributes"`
}

type specTypeDef struct {
	ID         string                  `json:"$id"`
	Name       string                  `json:"name"`
	Properties map[string]specProperty `json:"properties"`
}

type specProperty struct {
	Type     specType `json:"type"`
	Required bool     `json:"required"`
}

type specType struct {
	Type      string `json:"type"`
	Reference *struct {
		ID string `json:"$ref"`
	} `json:"reference"`
	Element *specType  `json:"element"`
	Types   []specType `json:"types"`
}

// loadSpec reads db.json.gz from dir. It returns os.ErrNotExist (wrapped)
// if the package is not installed.
func loadSpec(dir string) (*spec, error) {
	f, err := os.Open(filepath.Join(dir, "db.json.gz"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	var db struct {
		Schema struct {
			Resource struct {
				Entities []*specResource `json:"entities"`
			} `json:"resource"`
			TypeDefinition struct {
				Entities []*specTypeDef `json:"entities"`
			} `json:"typeDefinition"`
		} `json:"schema"`
	}
	if err := json.NewDecoder(z).Decode(&db); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	s := &spec{resources: map[string]*specResource{}, types: map[string]*specTypeDef{}}
	for _, r := range db.Schema.Resource.Entities {
		s.resources[r.Type] = r
	}
	for _, d := range db.Schema.TypeDefinition.Entities {
		s.types[d.ID] = d
	}
	if len(s.resources) < 1000 || s.resources["AWS::Serverless::Function"] == nil || len(s.types) == 0 {
		return nil, fmt.Errorf("%s: not the expected format: %d resource types, %d property types, AWS::Serverless::Function %v",
			f.Name(), len(s.resources), len(s.types), s.resources["AWS::Serverless::Function"] != nil)
	}
	var pkg struct{ Version string }
	if data, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil {
		_ = json.Unmarshal(data, &pkg)
	}
	s.version = pkg.Version
	return s, nil
}

// specCorrections are places where the schema is known to be wrong, with
// the shape to check against instead and the reason.
var specCorrections = map[string]struct {
	mapOf  bool // a map whose values have the spec's type
	reason string
}{
	"AWS::Serverless::HttpApi.RouteSettings": {mapOf: true, reason: "the spec types it as one RouteSettings, but SAM's RouteSettings " +
		`maps route keys ("POST /token") to RouteSettings and hands it to the stage (AWS::ApiGatewayV2::Stage's RouteSettings, a JSON map)`},
}

// Keys allowed at the top of a template and in a resource.
var (
	templateSections   = []string{"AWSTemplateFormatVersion", "Transform", "Description", "Metadata", "Parameters", "Rules", "Mappings", "Conditions", "Globals", "Resources", "Outputs"}
	resourceAttributes = []string{"Type", "Properties", "DependsOn", "Condition", "Metadata", "DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy"}
)

// check reports every unknown section, resource attribute, resource type,
// property (recursively, wherever the schema describes the value) and
// Fn::GetAtt attribute, and every missing required property.
func (s *spec) check(t *template) []string {
	var problems []string
	for _, k := range sortedKeys(t.doc) {
		if !slices.Contains(templateSections, k) {
			problems = append(problems, fmt.Sprintf("unknown top-level section %q%s", k, suggest(k, templateSections)))
		}
	}
	globals := t.section("Globals")
	for _, kind := range sortedKeys(globals) {
		r := s.resources["AWS::Serverless::"+kind]
		if r == nil {
			problems = append(problems, fmt.Sprintf("Globals.%s: SAM has no AWS::Serverless::%s", kind, kind))
			continue
		}
		props, _ := globals[kind].(map[string]any)
		problems = append(problems, s.checkObject("Globals."+kind, r.Type, props, r.Properties, false)...)
	}
	resources := t.section("Resources")
	for _, name := range sortedKeys(resources) {
		res, _ := resources[name].(map[string]any)
		path := "Resources." + name
		for _, k := range sortedKeys(res) {
			if !slices.Contains(resourceAttributes, k) {
				problems = append(problems, fmt.Sprintf("%s: unknown resource attribute %q%s", path, k, suggest(k, resourceAttributes)))
			}
		}
		typ := t.resourceType(name)
		r := s.resources[typ]
		if r == nil {
			problems = append(problems, fmt.Sprintf("%s: unknown resource type %q%s", path, typ, suggest(typ, sortedKeys(s.resources))))
			continue
		}
		own, _ := res["Properties"].(map[string]any)
		problems = append(problems, s.checkObject(path+".Properties", typ, own, r.Properties, false)...)
		// Required properties, once SAM has merged the Globals in.
		merged := t.properties(name)
		for _, p := range sortedKeys(r.Properties) {
			if _, ok := merged[p]; r.Properties[p].Required && !ok {
				problems = append(problems, fmt.Sprintf("%s.Properties: %s requires %s", path, typ, p))
			}
		}
	}
	walkRefs(t.doc, "", func(ref reference) {
		if ref.attr == "" || t.resource(ref.name) == nil {
			return // Ref, or an undefined name (the graph check reports those)
		}
		typ := t.resourceType(ref.name)
		// SAM resources become these; their attributes are the results'.
		switch typ {
		case "AWS::Serverless::Function":
			typ = "AWS::Lambda::Function"
		case "AWS::Serverless::HttpApi":
			typ = "AWS::ApiGatewayV2::Api"
		}
		if r := s.resources[typ]; r != nil {
			if _, ok := r.Attributes[ref.attr]; !ok {
				problems = append(problems, fmt.Sprintf("%s: %s has no attribute %q for Fn::GetAtt%s",
					ref.path, typ, ref.attr, suggest(ref.attr, sortedKeys(r.Attributes))))
			}
		}
	})
	return problems
}

// checkObject checks a mapping against a set of property schemas. owner
// names the resource type, for specCorrections.
func (s *spec) checkObject(path, owner string, m map[string]any, props map[string]specProperty, required bool) []string {
	var problems []string
	for _, k := range sortedKeys(m) {
		p, ok := props[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: unknown property %q%s%s", path, k, ofType(owner), suggest(k, sortedKeys(props))))
			continue
		}
		typ := p.Type
		if c, ok := specCorrections[owner+"."+k]; ok && c.mapOf {
			typ = specType{Type: "map", Element: &p.Type}
		}
		problems = append(problems, s.checkValue(path+"."+k, m[k], typ)...)
	}
	if required {
		for _, k := range sortedKeys(props) {
			if _, ok := m[k]; props[k].Required && !ok {
				problems = append(problems, fmt.Sprintf("%s: missing required property %q%s", path, k, ofType(owner)))
			}
		}
	}
	return problems
}

func ofType(owner string) string {
	if owner == "" {
		return ""
	}
	return " of " + owner
}

// checkValue checks one value against its type, descending into
// property types, lists and maps. An intrinsic function's result is
// unknown, except Fn::If's: both branches are checked.
func (s *spec) checkValue(path string, v any, typ specType) []string {
	if fn, arg := intrinsic(v); fn != "" {
		if l, ok := arg.([]any); fn == "Fn::If" && ok && len(l) == 3 {
			var problems []string
			for i, branch := range l[1:] {
				if f, a := intrinsic(branch); f == "Ref" && a == "AWS::NoValue" {
					continue
				}
				problems = append(problems, s.checkValue(fmt.Sprintf("%s(Fn::If branch %d)", path, i+1), branch, typ)...)
			}
			return problems
		}
		return nil
	}
	switch typ.Type {
	case "json":
		return nil
	case "union":
		var first []string
		matched := false
		for _, alt := range typ.Types {
			if !shapeFits(v, alt) {
				continue
			}
			problems := s.checkValue(path, v, alt)
			if len(problems) == 0 {
				return nil
			}
			if !matched {
				first, matched = problems, true
			}
		}
		if matched {
			return first
		}
		return []string{fmt.Sprintf("%s: a %s fits none of the types the schema allows", path, shape(v))}
	}
	if !shapeFits(v, typ) {
		return []string{fmt.Sprintf("%s: want %s, got a %s", path, describe(typ), shape(v))}
	}
	switch typ.Type {
	case "ref":
		def := s.types[typ.Reference.ID]
		if def == nil {
			return nil
		}
		return s.checkObject(path, def.Name, v.(map[string]any), def.Properties, true)
	case "tag":
		return s.checkObject(path, "Tag", v.(map[string]any), map[string]specProperty{
			"Key": {Type: specType{Type: "string"}, Required: true}, "Value": {Type: specType{Type: "string"}, Required: true},
		}, true)
	case "array":
		var problems []string
		for i, x := range v.([]any) {
			problems = append(problems, s.checkValue(fmt.Sprintf("%s[%d]", path, i), x, *typ.Element)...)
		}
		return problems
	case "map":
		var problems []string
		m := v.(map[string]any)
		for _, k := range sortedKeys(m) {
			problems = append(problems, s.checkValue(path+"."+k, m[k], *typ.Element)...)
		}
		return problems
	}
	return nil
}

// shapeFits reports whether v has the shape a type needs: a mapping for a
// property type, tag or map, a list for an array, a scalar otherwise.
func shapeFits(v any, typ specType) bool {
	if isIntrinsic(v) || typ.Type == "json" || typ.Type == "union" {
		return true
	}
	switch v.(type) {
	case map[string]any:
		return typ.Type == "ref" || typ.Type == "tag" || typ.Type == "map"
	case []any:
		return typ.Type == "array"
	}
	return typ.Type != "ref" && typ.Type != "tag" && typ.Type != "map" && typ.Type != "array"
}

func shape(v any) string {
	switch v.(type) {
	case map[string]any:
		return "mapping"
	case []any:
		return "list"
	case nil:
		return "null"
	}
	return "scalar"
}

func describe(typ specType) string {
	switch typ.Type {
	case "ref", "tag":
		return "a mapping"
	case "map":
		return "a mapping"
	case "array":
		return "a list"
	}
	return "a " + typ.Type
}

// suggest returns ` (did you mean "x"?)` for the closest candidate within
// a small edit distance, or "".
func suggest(name string, candidates []string) string {
	best, bestDist := "", 4
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
