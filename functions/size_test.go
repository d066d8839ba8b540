package functions_test

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// maxBootstrapBytes is the target for each function's linux/arm64
// bootstrap: 10 MB. Smaller deployment packages load faster on a cold
// start.
const maxBootstrapBytes = 10_000_000

// TestBootstrapSizes builds the six functions exactly as they ship, with
// `make build` (linux/arm64, -tags lambda.norpc -trimpath -ldflags='-s -w',
// CGO_ENABLED=0), and checks each bootstrap: a static (no program
// interpreter), stripped (no symbol table) arm64 executable of at most
// 10 MB. Sizes are deterministic for a given Go version and go.sum.
//
// A binary grows past the target when something links much more code
// than it calls: a reachable text/template executor (its
// reflect.Value.MethodByName makes the linker keep every exported method
// of every type, the AWS SDK clients' whole APIs: 4 MB in authorize; the pages
// are generated Go, by templ), or the SDK's config.LoadDefaultConfig (its
// STS, SSO and sign-in clients, about 1.8 MB; the functions read their
// AWS configuration with app.EnvAWSConfig). TestFunctionDependencies
// keeps both out.
func TestBootstrapSizes(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("-short: builds six linux/arm64 binaries")
	}
	makeBin, err := exec.LookPath("make")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("make is required under CI=true")
		}
		t.Skip("make is not installed")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(makeBin, "--no-print-directory", "-s", "build", "BIN="+dir, "GO="+goBin)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	for _, name := range functionNames {
		path := filepath.Join(dir, name, "bootstrap")
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-10s %10d bytes (%.2f MB)", name, fi.Size(), float64(fi.Size())/1e6)
		if fi.Size() > maxBootstrapBytes {
			t.Errorf("%s: %d bytes; the target is at most %d", name, fi.Size(), maxBootstrapBytes)
		}
		f, err := elf.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
			t.Errorf("%s: %s %s; want an arm64 executable", name, f.Machine, f.Type)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s is dynamically linked; want static (CGO_ENABLED=0)", name)
			}
		}
		if f.Section(".symtab") != nil {
			t.Errorf("%s has a symbol table; want it stripped (-ldflags='-s -w')", name)
		}
		f.Close()
	}
}
