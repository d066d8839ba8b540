package deploy_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// A project is what the template is checked against, read from the
// repository: the function folders, the Makefile's SAM build targets,
// docs/dynamodb.md's tables and least-privilege table, and the resource
// schemas (nil when @aws-cdk/aws-service-spec is not installed).
type project struct {
	functionDirs []string          // functions/<dir> holding a main.go
	makeTargets  map[string]string // build-<LogicalId> -> the functions/<dir> its recipe builds ("" if none)
	tables       []docTable        // docs/dynamodb.md, "Tables"
	access       map[string]map[string][]string
	spec         *spec
}

// A docTable is one row of docs/dynamodb.md's "Tables".
type docTable struct {
	column string // the least-privilege table's column: clients, users, ...
	name   string // default name: gatehouse-clients
	key    string // partition key
	sort   string // sort key, "" for none
	ttl    string // TTL attribute, "" for none
}

// loadProject reads the project's files, relative to the deploy folder.
func loadProject() (*project, error) {
	p := &project{}
	entries, err := os.ReadDir(filepath.Join("..", "functions"))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join("..", "functions", e.Name(), "main.go")); e.IsDir() && err == nil {
			p.functionDirs = append(p.functionDirs, e.Name())
		}
	}
	if p.makeTargets, err = readMakeTargets(filepath.Join("..", "Makefile")); err != nil {
		return nil, err
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "dynamodb.md"))
	if err != nil {
		return nil, err
	}
	if p.tables, p.access, err = parseDynamoDoc(string(doc)); err != nil {
		return nil, fmt.Errorf("docs/dynamodb.md: %w", err)
	}
	return p, nil
}

var (
	makeTarget  = regexp.MustCompile(`^(build-[A-Za-z0-9]+):\s*$`)
	makeBuilds  = regexp.MustCompile(`lambda-build,\s*([A-Za-z0-9_-]+)\s*,|\./functions/([A-Za-z0-9_-]+)`)
	dynamoWords = regexp.MustCompile(`\b(BatchGetItem|BatchWriteItem|ConditionCheckItem|GetItem|PutItem|UpdateItem|DeleteItem|Query|Scan)\b`)
)

// readMakeTargets finds the Makefile's explicit build-<LogicalId> targets
// (the ones `sam build` runs) and the function folder each recipe builds.
func readMakeTargets(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	targets := map[string]string{}
	current := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := makeTarget.FindStringSubmatch(line); m != nil {
			current = m[1]
			targets[current] = ""
			continue
		}
		if current == "" || !strings.HasPrefix(line, "\t") {
			current = ""
			continue
		}
		if m := makeBuilds.FindStringSubmatch(line); m != nil && targets[current] == "" {
			targets[current] = m[1] + m[2]
		}
	}
	return targets, sc.Err()
}

// parseDynamoDoc reads docs/dynamodb.md's table of tables and its
// least-privilege table (function -> table column -> DynamoDB actions).
func parseDynamoDoc(doc string) ([]docTable, map[string]map[string][]string, error) {
	rows := func(header string) ([][]string, error) {
		lines := strings.Split(doc, "\n")
		for i, l := range lines {
			if !strings.HasPrefix(l, header) {
				continue
			}
			var out [][]string
			for _, r := range lines[i+2:] { // skip the |---| line
				if !strings.HasPrefix(r, "|") {
					break
				}
				cells := strings.Split(strings.Trim(strings.TrimSpace(r), "|"), "|")
				for j := range cells {
					cells[j] = strings.TrimSpace(strings.ReplaceAll(cells[j], "`", ""))
				}
				out = append(out, cells)
			}
			return out, nil
		}
		return nil, fmt.Errorf("no table starting %q", header)
	}
	tableRows, err := rows("| table (default name) | partition key (S) | sort key | TTL attribute |")
	if err != nil {
		return nil, nil, err
	}
	var tables []docTable
	for _, r := range tableRows {
		if len(r) < 4 {
			return nil, nil, fmt.Errorf("short row %q", r)
		}
		none := func(s string) string {
			if s == "none" {
				return ""
			}
			return s
		}
		tables = append(tables, docTable{
			column: strings.TrimPrefix(r[0], "gatehouse-"), name: r[0], key: r[1], sort: none(r[2]), ttl: none(r[3]),
		})
	}
	header := "| function | clients | users | codes | tokens | sessions |"
	accessRows, err := rows(header)
	if err != nil {
		return nil, nil, err
	}
	columns := strings.Split(strings.Trim(header, "| "), " | ")[1:]
	access := map[string]map[string][]string{}
	for _, r := range accessRows {
		if len(r) != len(columns)+1 {
			return nil, nil, fmt.Errorf("least-privilege row %q: want %d cells", r, len(columns)+1)
		}
		fn := r[0]
		access[fn] = map[string][]string{}
		for i, col := range columns {
			var actions []string
			for _, a := range dynamoWords.FindAllString(r[i+1], -1) {
				if !slices.Contains(actions, a) {
					actions = append(actions, a)
				}
			}
			slices.Sort(actions)
			access[fn][col] = actions
		}
	}
	if len(tables) == 0 || len(access) == 0 {
		return nil, nil, fmt.Errorf("found %d tables and %d least-privilege rows", len(tables), len(access))
	}
	return tables, access, nil
}
