package pages_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/httpapi/pages"
)

// BenchmarkRender: a page rendered by a warm process (the golden cases).
func BenchmarkRender(b *testing.B) {
	r := pages.New()
	for _, c := range goldenCases {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := r.Render(&buf, c.page, &c.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// firstRenderEnv makes the test binary BenchmarkFirstRender's child (see
// TestMain).
const firstRenderEnv = "GATEHOUSE_PAGES_FIRST_RENDER"

// BenchmarkFirstRender: the first page a process renders, as the first
// user of a cold Lambda container waits for it, then the second. Each
// iteration starts this test binary afresh (firstRender), which times
// its first and second consent page; the benchmark reports their means as
// first-ns/op and second-ns/op (its own ns/op is the process's start).
func BenchmarkFirstRender(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var first, second time.Duration
	for range b.N {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), firstRenderEnv+"=1")
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		var f, s int64
		if _, err := fmt.Sscanf(lastLine(string(out), "first-render "), "%d %d", &f, &s); err != nil {
			b.Fatalf("reading %q: %v", out, err)
		}
		first += time.Duration(f)
		second += time.Duration(s)
	}
	b.ReportMetric(float64(first.Nanoseconds())/float64(b.N), "first-ns/op")
	b.ReportMetric(float64(second.Nanoseconds())/float64(b.N), "second-ns/op")
}

// lastLine returns what follows prefix on the line of out that starts
// with it.
func lastLine(out, prefix string) string {
	for line := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return rest
		}
	}
	return ""
}

// TestMain runs the tests, or, in BenchmarkFirstRender's child process,
// only firstRender.
func TestMain(m *testing.M) {
	if os.Getenv(firstRenderEnv) != "" {
		if err := firstRender(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// firstRender is BenchmarkFirstRender's child process: it renders the
// consent page twice, the process's first pages, and prints how long each
// took, in ns.
func firstRender() error {
	r := pages.New()
	d := goldenCases[2].data
	var took [2]time.Duration
	for i := range took {
		start := time.Now()
		if err := r.Render(io.Discard, httpapi.PageConsent, &d); err != nil {
			return err
		}
		took[i] = time.Since(start)
	}
	fmt.Println("first-render " + strconv.FormatInt(int64(took[0]), 10) + " " + strconv.FormatInt(int64(took[1]), 10))
	return nil
}
