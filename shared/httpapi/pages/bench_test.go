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

// firstRenderEnv makes TestFirstRender a child of BenchmarkFirstRender.
const firstRenderEnv = "GATEHOUSE_PAGES_FIRST_RENDER"

// BenchmarkFirstRender: the first page a process renders, as the first
// user of a cold Lambda container waits for it, then the second. Each
// iteration starts this test binary afresh (TestFirstRender), which times
// its first and second consent page; the benchmark reports their means as
// first-ns/op and second-ns/op (its own ns/op is the process's start).
func BenchmarkFirstRender(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var first, second time.Duration
	for range b.N {
		cmd := exec.Command(exe, "-test.run=^TestFirstRender$", "-test.count=1")
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

// TestFirstRender is BenchmarkFirstRender's child process: it renders the
// consent page twice, the process's first pages, and prints how long each
// took, in ns. Run alone (-test.run), nothing renders before it.
func TestFirstRender(t *testing.T) {
	if os.Getenv(firstRenderEnv) == "" {
		t.Skip("run by BenchmarkFirstRender")
	}
	r := pages.New()
	d := goldenCases[2].data
	var took [2]time.Duration
	for i := range took {
		start := time.Now()
		if err := r.Render(io.Discard, httpapi.PageConsent, &d); err != nil {
			t.Fatal(err)
		}
		took[i] = time.Since(start)
	}
	fmt.Println("first-render " + strconv.FormatInt(int64(took[0]), 10) + " " + strconv.FormatInt(int64(took[1]), 10))
}
