package functions_test

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/apigw/lambdatest"
)

// inittraceLine is one line of GODEBUG=inittrace=1: a package's
// initialization, its wall-clock time and its allocations.
var inittraceLine = regexp.MustCompile(`(?m)^init (\S+) @[\d.]+ ms, ([\d.]+) ms clock, (\d+) bytes, (\d+) allocs`)

// minReportedInit leaves out of the report the packages whose
// initialization is too small to matter.
const minReportedInit = 50 * time.Microsecond

// initTraceRuns is how many traced starts packageInits takes the median
// of: one start is noisy at a tenth of a millisecond.
const initTraceRuns = 5

// packageInits starts program path initTraceRuns times with
// GODEBUG=inittrace=1 and returns each package's median initialization
// time by import path.
func packageInits(t *testing.T, name, path string, env map[string]string) map[string]time.Duration {
	t.Helper()
	samples := map[string][]time.Duration{}
	for range initTraceRuns {
		for pkg, d := range tracePackageInits(t, name, path, env) {
			samples[pkg] = append(samples[pkg], d)
		}
	}
	inits := make(map[string]time.Duration, len(samples))
	for pkg, s := range samples {
		inits[pkg] = median(s)
	}
	return inits
}

// tracePackageInits starts program path once with GODEBUG=inittrace=1 and
// returns each package's initialization time by import path.
func tracePackageInits(t *testing.T, name, path string, env map[string]string) map[string]time.Duration {
	t.Helper()
	rt := lambdatest.NewRuntime(t)
	procEnv := lambdatest.LambdaEnv(rt, "gatehouse-"+name)
	maps.Copy(procEnv, env)
	procEnv["GODEBUG"] = "inittrace=1"
	p := lambdatest.Start(t, path, procEnv)
	_, err := lambdatest.InitDuration(rt, p, initBound)
	// Stop waits for the process and for its standard error to be copied
	// in full: read before, the trace may lack its last lines.
	p.Stop()
	if err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s", name, err, p.Stderr())
	}
	inits := map[string]time.Duration{}
	for _, m := range inittraceLine.FindAllStringSubmatch(p.Stderr(), -1) {
		clock, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("%s: inittrace %q: %v", name, m[0], err)
		}
		inits[m[1]] += time.Duration(clock * float64(time.Millisecond))
	}
	if len(inits) == 0 {
		t.Fatalf("%s: no inittrace lines on standard error:\n%s", name, p.Stderr())
	}
	return inits
}

// initTraceMarkdown is a table of the packages whose initialization takes
// at least minReportedInit in some function, with each function's time
// ("–" where the function does not link the package), largest first.
func initTraceMarkdown(inits map[string]map[string]time.Duration) string {
	largest := map[string]time.Duration{}
	for _, byPkg := range inits {
		for pkg, d := range byPkg {
			if d >= minReportedInit {
				largest[pkg] = max(largest[pkg], d)
			}
		}
	}
	pkgs := slices.SortedFunc(maps.Keys(largest), func(a, b string) int {
		if largest[a] != largest[b] {
			return int(largest[b] - largest[a])
		}
		return strings.Compare(a, b)
	})
	var md strings.Builder
	fmt.Fprintf(&md, "| Package init (GODEBUG=inittrace=1, median ms) | %s |\n|---|%s\n",
		strings.Join(functionNames, " | "), strings.Repeat("---:|", len(functionNames)))
	for _, pkg := range pkgs {
		fmt.Fprintf(&md, "| `%s` |", pkg)
		for _, name := range functionNames {
			if d, ok := inits[name][pkg]; ok {
				fmt.Fprintf(&md, " %.2f |", ms(d))
			} else {
				md.WriteString(" – |")
			}
		}
		md.WriteString("\n")
	}
	fmt.Fprintf(&md, "| all packages |")
	for _, name := range functionNames {
		var total time.Duration
		for _, d := range inits[name] {
			total += d
		}
		fmt.Fprintf(&md, " %.2f |", ms(total))
	}
	md.WriteString("\n")
	return md.String()
}

// Lambda gives a function CPU in proportion to its memory: one full vCPU
// at 1,769 MB (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
const (
	fullVCPUMemoryMB = 1769
	// lambdaGoHelloInit is the published order of a Go hello-world's
	// Init Duration on Lambda (provided.al2023, arm64, zip).
	lambdaGoHelloInit = 40 * time.Millisecond
)

// projectionMemoriesMB are the memory sizes of the projection.
var projectionMemoriesMB = []int{128, 512, 1024}

// projectionMarkdown projects each function's init time above
// hello-world's onto Lambda: the difference measured here, scaled by the
// vCPU share of each memory size, next to the ~40 ms of a Go hello-world.
// It is an upper bound for this machine's CPU speed: Lambda's vCPUs are
// not faster than this machine's cores, and init runs on one thread.
func projectionMarkdown(overHello map[string]time.Duration) string {
	var md strings.Builder
	md.WriteString("| Function | here (ms) |")
	for _, m := range projectionMemoriesMB {
		fmt.Fprintf(&md, " %s MB: above hello-world / total (ms) |", thousands(m))
	}
	md.WriteString("\n|---|---:|" + strings.Repeat("---:|", len(projectionMemoriesMB)) + "\n")
	for _, name := range functionNames {
		d := max(overHello[name], 0)
		fmt.Fprintf(&md, "| %s | %+.2f |", name, ms(overHello[name]))
		for _, m := range projectionMemoriesMB {
			scaled := time.Duration(float64(d) * fullVCPUMemoryMB / float64(min(m, fullVCPUMemoryMB)))
			fmt.Fprintf(&md, " +%.1f / ~%.0f |", ms(scaled), ms(lambdaGoHelloInit+scaled))
		}
		md.WriteString("\n")
	}
	fmt.Fprintf(&md, "\nThe difference from hello-world measured here, scaled by 1,769 MB / memory "+
		"(Lambda's vCPU share), added to the ~%.0f ms Init Duration of a Go hello-world on Lambda.\n", ms(lambdaGoHelloInit))
	return md.String()
}

func thousands(n int) string {
	if n < 1000 {
		return strconv.Itoa(n)
	}
	return fmt.Sprintf("%d,%03d", n/1000, n%1000)
}

// TestProjectionMarkdown pins the projection's arithmetic: 1 ms here is
// 1769/128 = 13.8 ms at 128 MB, and a function faster than hello-world
// projects no extra time.
func TestProjectionMarkdown(t *testing.T) {
	over := map[string]time.Duration{}
	for _, name := range functionNames {
		over[name] = -time.Millisecond
	}
	over["token"] = time.Millisecond
	md := projectionMarkdown(over)
	for _, want := range []string{
		"| token | +1.00 | +13.8 / ~54 | +3.5 / ~43 | +1.7 / ~42 |",
		"| metadata | -1.00 | +0.0 / ~40 | +0.0 / ~40 | +0.0 / ~40 |",
		"1,024 MB",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("projection lacks %q:\n%s", want, md)
		}
	}
}

// TestInitTraceMarkdown: packages below minReportedInit are left out,
// the rest sorted largest first, with a dash where a function does not
// link the package.
func TestInitTraceMarkdown(t *testing.T) {
	inits := map[string]map[string]time.Duration{}
	for _, name := range functionNames {
		inits[name] = map[string]time.Duration{"runtime": 10 * time.Microsecond}
	}
	inits["authorize"]["github.com/a-h/templ"] = 200 * time.Microsecond
	inits["token"]["github.com/aws/aws-sdk-go-v2/service/dynamodb"] = 300 * time.Microsecond
	md := initTraceMarkdown(inits)
	lines := strings.Split(strings.TrimSpace(md), "\n")
	if len(lines) != 5 {
		t.Fatalf("want header, rule, 2 packages and the total:\n%s", md)
	}
	if !strings.HasPrefix(lines[2], "| `github.com/aws/aws-sdk-go-v2/service/dynamodb` | – | 0.30 |") {
		t.Errorf("first row %q", lines[2])
	}
	if strings.Contains(md, "`runtime`") {
		t.Errorf("a 10 µs package is reported:\n%s", md)
	}
	if !strings.HasPrefix(lines[4], "| all packages | 0.21 | 0.31 | 0.01 |") {
		t.Errorf("totals %q", lines[4])
	}
}
