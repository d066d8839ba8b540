package deploy_test

import (
	"fmt"
	"slices"
	"strings"
)

// A reference is one mention of a logical name in the template.
type reference struct {
	path string // where it occurs
	kind string // Ref, Fn::GetAtt, Fn::Sub or DependsOn
	name string // the parameter, resource or pseudo parameter named
	attr string // the attribute, for Fn::GetAtt and ${Name.Attribute}
}

// walkRefs calls fn for every Ref, Fn::GetAtt and Fn::Sub variable in v.
// SAM's "Api.Stage" counts as a reference to Api.
func walkRefs(v any, path string, fn func(reference)) {
	switch v := v.(type) {
	case []any:
		for i, x := range v {
			walkRefs(x, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case map[string]any:
		name, arg := intrinsic(v)
		switch name {
		case "Ref":
			if s, ok := arg.(string); ok {
				if !strings.HasPrefix(s, "AWS::") {
					s, _, _ = strings.Cut(s, ".")
				}
				fn(reference{path: path, kind: "Ref", name: s})
			}
			return
		case "Fn::GetAtt":
			if l, ok := arg.([]any); ok && len(l) == 2 {
				res, _ := l[0].(string)
				attr, _ := l[1].(string)
				fn(reference{path: path, kind: "Fn::GetAtt", name: res, attr: attr})
				walkRefs(l[1], path, fn)
			}
			return
		case "Fn::Sub":
			var s string
			vars := map[string]any{}
			switch a := arg.(type) {
			case string:
				s = a
			case []any:
				if len(a) == 2 {
					s, _ = a[0].(string)
					vars, _ = a[1].(map[string]any)
					walkRefs(a[1], path, fn)
				}
			}
			for _, m := range subVar.FindAllStringSubmatch(s, -1) {
				v := m[1]
				if _, local := vars[v]; local || strings.HasPrefix(v, "!") {
					continue
				}
				if strings.HasPrefix(v, "AWS::") {
					fn(reference{path: path, kind: "Fn::Sub", name: v})
					continue
				}
				res, attr, _ := strings.Cut(v, ".")
				fn(reference{path: path, kind: "Fn::Sub", name: res, attr: attr})
			}
			return
		}
		for _, k := range sortedKeys(v) {
			walkRefs(v[k], path+"."+k, fn)
		}
	}
}

var pseudoParameters = []string{"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}

// An edge says that resource from needs resource to first, and why.
type edge struct{ from, to, why string }

// dependencies returns the template's dependency graph between resources,
// as CloudFormation builds it after SAM's transform, and the references to
// names that are neither parameters, pseudo parameters nor resources.
//
// A resource depends on every resource its properties (with SAM's Globals
// merged in) name through Ref, Fn::GetAtt or Fn::Sub, and on its
// DependsOn. Fn::If's branches count whatever the condition: CloudFormation
// does the same. SAM adds one kind of edge of its own: a function's Api or
// HttpApi event puts the function's ARN into that API's definition, so
// the API depends on the function (not the other way round).
func dependencies(t *template) (map[string][]edge, []string) {
	graph := map[string][]edge{}
	var undefined []string
	params := t.section("Parameters")
	known := func(ref reference) bool {
		if _, ok := params[ref.name]; ok && ref.attr == "" {
			return true
		}
		return slices.Contains(pseudoParameters, ref.name) || t.resource(ref.name) != nil
	}
	add := func(from, to, why string) {
		if !slices.ContainsFunc(graph[from], func(e edge) bool { return e.to == to }) {
			graph[from] = append(graph[from], edge{from: from, to: to, why: why})
		}
	}
	for _, name := range sortedKeys(t.section("Resources")) {
		if _, ok := graph[name]; !ok {
			graph[name] = nil // every resource is a node
		}
		res := t.resource(name)
		for _, d := range asList(res["DependsOn"]) {
			dep, _ := d.(string)
			if t.resource(dep) == nil {
				undefined = append(undefined, fmt.Sprintf("Resources.%s.DependsOn: no resource %q", name, dep))
				continue
			}
			add(name, dep, "DependsOn")
		}
		props := t.properties(name)
		events, _ := props["Events"].(map[string]any)
		for _, k := range sortedKeys(props) {
			if k == "Events" && t.resourceType(name) == "AWS::Serverless::Function" {
				continue
			}
			walkRefs(props[k], "Resources."+name+".Properties."+k, func(ref reference) {
				switch {
				case !known(ref):
					undefined = append(undefined, fmt.Sprintf("%s: %s %s: no such parameter or resource", ref.path, ref.kind, ref.name))
				case t.resource(ref.name) != nil:
					add(name, ref.name, fmt.Sprintf("%s at %s", ref.kind, ref.path))
				}
			})
		}
		for _, ev := range sortedKeys(events) {
			path := fmt.Sprintf("Resources.%s.Properties.Events.%s", name, ev)
			walkRefs(events[ev], path, func(ref reference) {
				if !known(ref) {
					undefined = append(undefined, fmt.Sprintf("%s: %s %s: no such parameter or resource", ref.path, ref.kind, ref.name))
				}
			})
			typ, _ := get(events[ev], "Type").(string)
			if typ != "HttpApi" && typ != "Api" {
				continue
			}
			for _, key := range []string{"ApiId", "RestApiId"} {
				if fn, arg := intrinsic(get(events[ev], "Properties", key)); fn == "Ref" {
					api, _ := arg.(string)
					if t.resource(api) != nil {
						add(api, name, fmt.Sprintf("SAM puts %s's ARN into %s's definition for its %s event %q (%s)", name, api, typ, ev, path))
					}
				}
			}
		}
	}
	for _, section := range []string{"Outputs", "Conditions", "Globals"} {
		walkRefs(t.section(section), section, func(ref reference) {
			if !known(ref) {
				undefined = append(undefined, fmt.Sprintf("%s: %s %s: no such parameter or resource", ref.path, ref.kind, ref.name))
			}
		})
	}
	return graph, undefined
}

// cycles returns every dependency cycle, one per strongly connected
// component, each as the edges of one loop through it.
func cycles(graph map[string][]edge) [][]edge {
	// Tarjan's algorithm.
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var sccs [][]string
	var strongconnect func(v string)
	strongconnect = func(v string) {
		index[v], low[v] = len(index), len(index)
		stack = append(stack, v)
		onStack[v] = true
		for _, e := range graph[v] {
			if _, seen := index[e.to]; !seen {
				strongconnect(e.to)
				low[v] = min(low[v], low[e.to])
			} else if onStack[e.to] {
				low[v] = min(low[v], index[e.to])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			sccs = append(sccs, scc)
		}
	}
	for _, v := range sortedKeys(graph) {
		if _, seen := index[v]; !seen {
			strongconnect(v)
		}
	}
	var out [][]edge
	for _, scc := range sccs {
		slices.Sort(scc)
		selfLoop := slices.ContainsFunc(graph[scc[0]], func(e edge) bool { return e.to == scc[0] })
		if len(scc) == 1 && !selfLoop {
			continue
		}
		out = append(out, loopThrough(graph, scc))
	}
	return out
}

// loopThrough finds one loop from the first node of a strongly connected
// component back to itself, by breadth-first search inside it.
func loopThrough(graph map[string][]edge, scc []string) []edge {
	start := scc[0]
	prev := map[string]edge{}
	queue := []string{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, e := range graph[v] {
			if !slices.Contains(scc, e.to) {
				continue
			}
			if e.to == start {
				loop := []edge{e}
				for w := v; w != start; w = prev[w].from {
					loop = append(loop, prev[w])
				}
				slices.Reverse(loop)
				return loop
			}
			if _, seen := prev[e.to]; !seen {
				prev[e.to] = e
				queue = append(queue, e.to)
			}
		}
	}
	return nil
}

// describeLoop formats a loop as "A -> B -> A" followed by why each step.
func describeLoop(loop []edge) string {
	names := []string{loop[0].from}
	var whys []string
	for _, e := range loop {
		names = append(names, e.to)
		whys = append(whys, fmt.Sprintf("%s -> %s: %s", e.from, e.to, e.why))
	}
	return strings.Join(names, " -> ") + " (" + strings.Join(whys, "; ") + ")"
}
