package functions_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// bootstrapNames are the programs the process tests run: the six
// functions and hello, the smallest aws-lambda-go function (the cold-start
// baseline).
var bootstrapNames = []string{"authorize", "token", "introspect", "revoke", "metadata", "userinfo", "hello"}

// bootstrapDir holds this test binary's builds of the bootstraps; TestMain
// removes it.
var bootstrapDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-bootstraps-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bootstrapDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce  sync.Once
	bootstraps map[string]string // name -> path of its bootstrap
	buildErr   error
)

// hostBootstraps builds, once per test binary, every function's main and
// hello for this machine with `make build`'s flags (read from the
// Makefile: -tags lambda.norpc -trimpath -ldflags='-s -w', CGO_ENABLED=0),
// each as <dir>/<name>/bootstrap, and returns their paths by name. It
// builds without -race whatever the tests run with: the binaries are what
// Lambda would run.
func hostBootstraps(t testing.TB) map[string]string {
	t.Helper()
	buildOnce.Do(func() { bootstraps, buildErr = buildBootstraps(bootstrapDir) })
	if buildErr != nil {
		t.Fatalf("building the bootstraps: %v", buildErr)
	}
	return bootstraps
}

func buildBootstraps(dir string) (map[string]string, error) {
	flags, err := makefileBuildFlags()
	if err != nil {
		return nil, err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "out") + string(filepath.Separator)
	args := append([]string{"build"}, flags...)
	args = append(args, "-o", out)
	for _, name := range bootstrapNames {
		args = append(args, "./"+packageOf(name))
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = ".." // the module root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	paths := map[string]string{}
	for _, name := range bootstrapNames {
		path := filepath.Join(dir, name, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(out, name), path); err != nil {
			return nil, err
		}
		paths[name] = path
	}
	return paths, nil
}

// packageOf is the folder of a bootstrap's main package.
func packageOf(name string) string {
	if name == "hello" {
		return "functions/internal/hello"
	}
	return "functions/" + name
}

// lambdaBuildLine matches the go build command of the Makefile's
// lambda-build recipe and captures its flags.
var lambdaBuildLine = regexp.MustCompile(`(?m)^CGO_ENABLED=0 GOOS=linux GOARCH=arm64 \$\(GO\) build (.*) -o \$\(2\) \./functions/\$\(1\)$`)

// makefileBuildFlags returns the go build flags of the Makefile's
// lambda-build recipe, so these tests build exactly what `make build`
// ships, for this machine instead of linux/arm64.
func makefileBuildFlags() ([]string, error) {
	b, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		return nil, err
	}
	m := lambdaBuildLine.FindSubmatch(b)
	if m == nil {
		return nil, errors.New("the Makefile's lambda-build recipe is not the expected `CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build FLAGS -o $(2) ./functions/$(1)`")
	}
	return splitShellWords(string(m[1]))
}

// splitShellWords splits s into words as the shell would, for the subset
// the Makefile uses: blanks separate words, single quotes group.
func splitShellWords(s string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}
