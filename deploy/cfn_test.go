package deploy_test

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// A template is a parsed CloudFormation template as plain Go values:
// map[string]any for mappings, []any for sequences, and string, int,
// float64 or bool for scalars. Intrinsic functions take their long form
// whatever their form in the YAML: !Ref X becomes {"Ref": "X"}, !GetAtt A.B
// becomes {"Fn::GetAtt": ["A", "B"]}, !Sub s becomes {"Fn::Sub": s}, and so
// on, so the checks see one shape.
type template struct {
	doc map[string]any
}

// loadTemplate reads and parses a template file.
func loadTemplate(path string) (*template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseTemplate(data)
}

// parseTemplate parses a template's YAML.
func parseTemplate(data []byte) (*template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return nil, fmt.Errorf("template: want one YAML document")
	}
	v, err := fromNode(root.Content[0])
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template: the document is not a mapping")
	}
	return &template{doc: doc}, nil
}

// fromNode converts a YAML node, translating CloudFormation's short-form
// tags (!Ref, !GetAtt, !Sub, !Join, !If, !Equals, !Not, !And, !Or,
// !Select, !Split, !FindInMap, !Base64, !Cidr, !GetAZs, !ImportValue,
// !Condition) into their long form.
func fromNode(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		return fromNode(n.Alias)
	}
	tag := n.Tag
	if strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") {
		n2 := *n
		n2.Tag = "" // the content, untagged
		n2.Style &^= yaml.TaggedStyle
		content, err := fromNode(&n2)
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(tag, "!")
		switch name {
		case "Ref", "Condition":
			return map[string]any{name: content}, nil
		case "GetAtt":
			if s, ok := content.(string); ok {
				logical, attr, found := strings.Cut(s, ".")
				if !found {
					return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, s)
				}
				content = []any{logical, attr}
			}
		}
		return map[string]any{"Fn::" + name: content}, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			var key string
			if err := n.Content[i].Decode(&key); err != nil {
				return nil, fmt.Errorf("line %d: key: %w", n.Content[i].Line, err)
			}
			if _, dup := m[key]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, key)
			}
			v, err := fromNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[key] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := fromNode(c)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
}

// clone returns a deep copy, so that a test can break a copy of the
// template and leave the original alone.
func (t *template) clone() *template { return &template{doc: deepCopy(t.doc).(map[string]any)} }

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}

// section returns a top-level section (Resources, Parameters, ...), or an
// empty map.
func (t *template) section(name string) map[string]any {
	m, _ := t.doc[name].(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// resource returns the named resource's definition, or nil.
func (t *template) resource(name string) map[string]any {
	m, _ := t.section("Resources")[name].(map[string]any)
	return m
}

// resourceType returns the named resource's Type, or "".
func (t *template) resourceType(name string) string {
	s, _ := t.resource(name)["Type"].(string)
	return s
}

// resourcesOfType lists the names of the resources of a type, sorted.
func (t *template) resourcesOfType(typ string) []string {
	var names []string
	for name := range t.section("Resources") {
		if t.resourceType(name) == typ {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// properties returns a resource's Properties as SAM sees them: for a
// serverless function or API, merged with the template's Globals.
func (t *template) properties(name string) map[string]any {
	props, _ := t.resource(name)["Properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	var globals map[string]any
	switch t.resourceType(name) {
	case "AWS::Serverless::Function":
		globals, _ = t.section("Globals")["Function"].(map[string]any)
	case "AWS::Serverless::HttpApi":
		globals, _ = t.section("Globals")["HttpApi"].(map[string]any)
	}
	if globals == nil {
		return props
	}
	return mergeGlobals(globals, props).(map[string]any)
}

// mergeGlobals merges a Globals section into a resource's properties the
// way SAM does: mappings merge key by key, lists are concatenated (the
// global items first), and anything else, intrinsic functions included,
// is replaced by the resource's own value.
func mergeGlobals(global, local any) any {
	gm, gok := global.(map[string]any)
	lm, lok := local.(map[string]any)
	if gok && lok && !isIntrinsic(gm) && !isIntrinsic(lm) {
		out := make(map[string]any, len(gm)+len(lm))
		for k, v := range gm {
			out[k] = deepCopy(v)
		}
		for k, v := range lm {
			if g, ok := out[k]; ok {
				out[k] = mergeGlobals(g, v)
			} else {
				out[k] = deepCopy(v)
			}
		}
		return out
	}
	gl, gok := global.([]any)
	ll, lok := local.([]any)
	if gok && lok {
		return append(deepCopy(gl).([]any), deepCopy(ll).([]any)...)
	}
	return deepCopy(local)
}

// isIntrinsic reports whether v is an intrinsic function: a mapping with
// one key, Ref or Fn::Something.
func isIntrinsic(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// intrinsic returns the function name and argument of an intrinsic
// function, or "" if v is none.
func intrinsic(v any) (string, any) {
	if !isIntrinsic(v) {
		return "", nil
	}
	for k, arg := range v.(map[string]any) {
		return k, arg
	}
	return "", nil
}

// asList returns v as a list: a list as is, a single value as a list of
// one, nothing as an empty list. IAM's Action and Resource take either.
func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

// get walks a path of mapping keys and list indexes, returning nil where
// it leads nowhere.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k < 0 || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// sortedKeys returns a mapping's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
