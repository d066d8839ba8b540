package pages_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGeneratedCode: the committed *_templ.go files are what `make
// generate` writes from the *.templ files, with the templ generator at the
// version go.mod requires (the runtime's version): none is stale, missing
// or left over from a deleted template. It builds that templ, generates
// into a copy of the templates, and compares. Where templ cannot be built
// (offline, with no module cache) it skips, except under CI=true.
func TestGeneratedCode(t *testing.T) {
	version := templVersion(t)
	bin := t.TempDir()
	install := exec.Command("go", "install", "github.com/a-h/templ/cmd/templ@"+version)
	install.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := install.CombinedOutput(); err != nil {
		msg := "building the templ generator " + version + ": " + err.Error() + "\n" + string(out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	templates, err := filepath.Glob("*.templ")
	if err != nil || len(templates) == 0 {
		t.Fatalf("no templates (%v)", err)
	}
	dir := t.TempDir()
	for _, name := range templates {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, filepath.Join(bin, "templ"), "generate", "-log-level", "error", "-path", dir)

	want := generatedFiles(t, dir)
	got := generatedFiles(t, ".")
	names := slices.Sorted(maps.Keys(want))
	for name := range got {
		if _, ok := want[name]; !ok {
			names = append(names, name)
		}
	}
	for _, name := range names {
		w, generated := want[name]
		g, committed := got[name]
		switch {
		case !generated:
			t.Errorf("%s has no template: delete it, or restore its .templ file", name)
		case !committed:
			t.Errorf("%s is missing: run make generate and commit it", name)
		case !bytes.Equal(g, w):
			t.Errorf("%s is stale (or was edited by hand): run make generate and commit it", name)
		}
	}
}

// templVersion returns the version of github.com/a-h/templ that go.mod
// requires (read with go mod edit, which needs no network).
func templVersion(t *testing.T) string {
	t.Helper()
	var mod struct {
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal([]byte(run(t, "go", "mod", "edit", "-json")), &mod); err != nil {
		t.Fatal(err)
	}
	for _, r := range mod.Require {
		if r.Path == "github.com/a-h/templ" {
			return r.Version
		}
	}
	t.Fatal("go.mod does not require github.com/a-h/templ")
	return ""
}

// generatedFiles reads the *_templ.go files in dir.
func generatedFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*_templ.go"))
	if err != nil {
		t.Fatal(err)
	}
	files := make(map[string][]byte, len(names))
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(name)] = b
	}
	return files
}

// run runs a command and returns its trimmed standard output, failing
// the test on an error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out))
}
