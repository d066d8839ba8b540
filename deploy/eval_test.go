package deploy_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Sample deployment used to evaluate the template: the pseudo parameters,
// and the physical ids CloudFormation would give the resources.
const (
	sampleStack     = "gatehouse"
	sampleRegion    = "us-east-1"
	sampleAccount   = "123456789012"
	samplePartition = "aws"
	sampleURLSuffix = "amazonaws.com"
	sampleAPIID     = "a1b2c3d4e5"
	sampleKeyID     = "1234abcd-12ab-34cd-56ef-1234567890ab"
)

// noValue is what AWS::NoValue evaluates to; the evaluator drops it from
// mappings and lists, as CloudFormation does.
type noValue struct{}

// An evaluator resolves a template's intrinsic functions for one set of
// parameter values, as CloudFormation would at deployment, with made-up
// but well-formed physical ids for the resources.
type evaluator struct {
	t      *template
	params map[string]any // parameter values: string, or []any for lists
	conds  map[string]bool
	busy   map[string]bool // conditions being evaluated (a loop is an error)
}

// newEvaluator takes each parameter's Default, overridden by overrides.
// It fails on an override of an unknown parameter and on a parameter
// without a value.
func newEvaluator(t *template, overrides map[string]string) (*evaluator, error) {
	e := &evaluator{t: t, params: map[string]any{}, conds: map[string]bool{}, busy: map[string]bool{}}
	params := t.section("Parameters")
	for name := range overrides {
		if _, ok := params[name]; !ok {
			return nil, fmt.Errorf("no parameter %q", name)
		}
	}
	for name, def := range params {
		var value string
		if v, ok := overrides[name]; ok {
			value = v
		} else if d := get(def, "Default"); d != nil {
			value = scalarString(d)
		} else {
			return nil, fmt.Errorf("parameter %s has no Default and no value", name)
		}
		typ, _ := get(def, "Type").(string)
		if typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<") {
			var l []any
			for _, s := range strings.Split(value, ",") {
				l = append(l, s)
			}
			e.params[name] = l
		} else {
			e.params[name] = value
		}
	}
	return e, nil
}

// scalarString formats a YAML scalar the way CloudFormation reads it.
func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// eval resolves every intrinsic function in v.
func (e *evaluator) eval(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if fn, arg := intrinsic(v); fn != "" {
			return e.call(fn, arg)
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			r, err := e.eval(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, drop := r.(noValue); !drop {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(v))
		for i, x := range v {
			r, err := e.eval(x)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if _, drop := r.(noValue); !drop {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return v, nil
}

// evalString evaluates v and requires a string (a number or boolean is
// formatted, as CloudFormation does for environment variables).
func (e *evaluator) evalString(v any) (string, error) {
	r, err := e.eval(v)
	if err != nil {
		return "", err
	}
	switch r := r.(type) {
	case string, int, float64, bool:
		return scalarString(r), nil
	}
	return "", fmt.Errorf("want a string, got %T", r)
}

func (e *evaluator) call(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Ref: want a name, got %T", arg)
		}
		return e.ref(name)
	case "Fn::GetAtt":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt: want [Resource, Attribute]")
		}
		name, _ := l[0].(string)
		attr, err := e.evalString(l[1])
		if err != nil {
			return nil, fmt.Errorf("Fn::GetAtt: %w", err)
		}
		return e.getAtt(name, attr)
	case "Fn::Sub":
		return e.sub(arg)
	case "Fn::Join":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Join: want [delimiter, list]")
		}
		delim, _ := l[0].(string)
		items, err := e.eval(l[1])
		if err != nil {
			return nil, err
		}
		var parts []string
		for _, x := range asList(items) {
			s, err := e.evalString(x)
			if err != nil {
				return nil, fmt.Errorf("Fn::Join: %w", err)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, delim), nil
	case "Fn::Split":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Split: want [delimiter, string]")
		}
		delim, _ := l[0].(string)
		s, err := e.evalString(l[1])
		if err != nil {
			return nil, fmt.Errorf("Fn::Split: %w", err)
		}
		var out []any
		for _, p := range strings.Split(s, delim) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Select: want [index, list]")
		}
		idx, err := e.evalString(l[0])
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			return nil, fmt.Errorf("Fn::Select: index %q", idx)
		}
		items, err := e.eval(l[1])
		if err != nil {
			return nil, err
		}
		list := asList(items)
		if i < 0 || i >= len(list) {
			return nil, fmt.Errorf("Fn::Select: index %d out of range", i)
		}
		return list[i], nil
	case "Fn::If":
		l, ok := arg.([]any)
		if !ok || len(l) != 3 {
			return nil, fmt.Errorf("Fn::If: want [condition, then, else]")
		}
		name, _ := l[0].(string)
		c, err := e.condition(name)
		if err != nil {
			return nil, err
		}
		if c {
			return e.eval(l[1])
		}
		return e.eval(l[2])
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition":
		return e.boolean(map[string]any{fn: arg})
	case "Fn::FindInMap":
		l, ok := arg.([]any)
		if !ok || len(l) != 3 {
			return nil, fmt.Errorf("Fn::FindInMap: want [map, key, key]")
		}
		var keys []string
		for _, x := range l {
			s, err := e.evalString(x)
			if err != nil {
				return nil, fmt.Errorf("Fn::FindInMap: %w", err)
			}
			keys = append(keys, s)
		}
		v := get(e.t.section("Mappings"), keys[0], keys[1], keys[2])
		if v == nil {
			return nil, fmt.Errorf("Fn::FindInMap: no %s.%s.%s", keys[0], keys[1], keys[2])
		}
		return e.eval(v)
	case "Fn::Base64":
		return e.evalString(arg)
	case "Fn::GetAZs":
		return []any{sampleRegion + "a", sampleRegion + "b", sampleRegion + "c"}, nil
	}
	return nil, fmt.Errorf("%s: not supported by these tests", fn)
}

// ref resolves Ref: a pseudo parameter, a parameter or a resource's
// physical id. SAM also resolves "Api.Stage" (the stage it creates).
func (e *evaluator) ref(name string) (any, error) {
	switch name {
	case "AWS::NoValue":
		return noValue{}, nil
	case "AWS::Region":
		return sampleRegion, nil
	case "AWS::AccountId":
		return sampleAccount, nil
	case "AWS::Partition":
		return samplePartition, nil
	case "AWS::URLSuffix":
		return sampleURLSuffix, nil
	case "AWS::StackName":
		return sampleStack, nil
	case "AWS::StackId":
		return "arn:aws:cloudformation:" + sampleRegion + ":" + sampleAccount + ":stack/" + sampleStack + "/1", nil
	}
	if v, ok := e.params[name]; ok {
		return v, nil
	}
	if api, ok := strings.CutSuffix(name, ".Stage"); ok && e.t.resourceType(api) == "AWS::Serverless::HttpApi" {
		return "$default", nil
	}
	res := e.t.resource(name)
	if res == nil {
		return nil, fmt.Errorf("Ref %s: no such parameter or resource", name)
	}
	props := e.t.properties(name)
	switch e.t.resourceType(name) {
	case "AWS::Serverless::HttpApi":
		return sampleAPIID, nil
	case "AWS::Serverless::Function":
		if fn, ok := props["FunctionName"]; ok {
			return e.evalString(fn)
		}
	case "AWS::KMS::Key":
		return sampleKeyID, nil
	case "AWS::KMS::Alias":
		return e.evalString(props["AliasName"])
	case "AWS::Logs::LogGroup":
		if n, ok := props["LogGroupName"]; ok {
			return e.evalString(n)
		}
	case "AWS::DynamoDB::Table":
		if n, ok := props["TableName"]; ok {
			return e.evalString(n)
		}
	case "AWS::ApiGatewayV2::DomainName":
		return e.evalString(props["DomainName"])
	}
	return sampleStack + "-" + name + "-1A2B3C4D5E6F", nil
}

// getAtt resolves Fn::GetAtt for the attributes this template uses.
func (e *evaluator) getAtt(name, attr string) (any, error) {
	if e.t.resource(name) == nil {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: no such resource", name, attr)
	}
	id, err := e.ref(name)
	if err != nil {
		return nil, err
	}
	arn := func(service, resource string) string {
		return "arn:" + samplePartition + ":" + service + ":" + sampleRegion + ":" + sampleAccount + ":" + resource
	}
	switch typ := e.t.resourceType(name); {
	case attr == "Arn" && typ == "AWS::DynamoDB::Table":
		return arn("dynamodb", "table/"+scalarString(id)), nil
	case attr == "Arn" && typ == "AWS::KMS::Key":
		return arn("kms", "key/"+scalarString(id)), nil
	case attr == "Arn" && typ == "AWS::Serverless::Function":
		return arn("lambda", "function:"+scalarString(id)), nil
	case attr == "Arn" && typ == "AWS::Logs::LogGroup":
		return arn("logs", "log-group:"+scalarString(id)+":*"), nil
	case attr == "RegionalDomainName" && typ == "AWS::ApiGatewayV2::DomainName":
		return "d-0123456789.execute-api." + sampleRegion + "." + sampleURLSuffix, nil
	}
	return name + "." + attr, nil
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// sub resolves Fn::Sub, in its one-argument and two-argument forms.
func (e *evaluator) sub(arg any) (any, error) {
	var s string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		s = a
	case []any:
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Sub: want a string or [string, variables]")
		}
		s, _ = a[0].(string)
		m, _ := a[1].(map[string]any)
		for k, v := range m {
			vars[k] = v
		}
	default:
		return nil, fmt.Errorf("Fn::Sub: want a string or [string, variables]")
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}" // ${!Literal}
		}
		var v any
		var err error
		switch x, ok := vars[name]; {
		case ok:
			v, err = e.evalString(x)
		case strings.Contains(name, ".") && !strings.HasPrefix(name, "AWS::"):
			res, attr, _ := strings.Cut(name, ".")
			v, err = e.getAtt(res, attr)
		default:
			v, err = e.ref(name)
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("Fn::Sub %q: %w", s, err)
		}
		if _, isList := v.([]any); isList && firstErr == nil {
			firstErr = fmt.Errorf("Fn::Sub %q: ${%s} is a list", s, name)
		}
		return scalarString(v)
	})
	return out, firstErr
}

// condition evaluates a named condition of the Conditions section.
func (e *evaluator) condition(name string) (bool, error) {
	if c, ok := e.conds[name]; ok {
		return c, nil
	}
	def, ok := e.t.section("Conditions")[name]
	if !ok {
		return false, fmt.Errorf("no condition %q", name)
	}
	if e.busy[name] {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	e.busy[name] = true
	c, err := e.boolean(def)
	delete(e.busy, name)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	e.conds[name] = c
	return c, nil
}

// boolean evaluates a condition function.
func (e *evaluator) boolean(v any) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("want a condition function, got %v", v)
	}
	for fn, arg := range m {
		l, _ := arg.([]any)
		switch fn {
		case "Condition":
			name, _ := arg.(string)
			return e.condition(name)
		case "Fn::Equals":
			if len(l) != 2 {
				return false, fmt.Errorf("Fn::Equals: want two values")
			}
			a, err := e.eval(l[0])
			if err != nil {
				return false, err
			}
			b, err := e.eval(l[1])
			if err != nil {
				return false, err
			}
			return fmt.Sprint(a) == fmt.Sprint(b), nil
		case "Fn::Not":
			if len(l) != 1 {
				return false, fmt.Errorf("Fn::Not: want one condition")
			}
			c, err := e.boolean(l[0])
			return !c, err
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			result := and
			for _, x := range l {
				c, err := e.boolean(x)
				if err != nil {
					return false, err
				}
				if and {
					result = result && c
				} else {
					result = result || c
				}
			}
			return result, nil
		}
		return false, fmt.Errorf("%s is not a condition function", fn)
	}
	return false, nil
}

// tableARNs maps each table's ARN, as the evaluator makes it, to its
// logical id.
func (e *evaluator) tableARNs() map[string]string {
	out := map[string]string{}
	for _, name := range e.t.resourcesOfType("AWS::DynamoDB::Table") {
		if arn, err := e.getAtt(name, "Arn"); err == nil {
			out[scalarString(arn)] = name
		}
	}
	return out
}

// stringList evaluates v to a list of strings (a single string is a list
// of one).
func (e *evaluator) stringList(v any) ([]string, error) {
	r, err := e.eval(v)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, x := range asList(r) {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("want strings, got %T", x)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}
