package lambdatest

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// LambdaEnv returns the variables Lambda itself sets in a provided.al2023
// function's environment, for function name served by rt: the Runtime API
// address, the function's name, version, memory and log group, and the
// runtime's PATH, TZ and LANG. The function's own configuration (and the
// credentials and region Lambda would add) are for the caller to merge in.
func LambdaEnv(rt *Runtime, name string) map[string]string {
	return map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          rt.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME":        name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + newRequestID()[:8],
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                "/var/task",
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG":                            "en_US.UTF-8",
		"TZ":                              ":UTC",
	}
}

// Process is a function's bootstrap running as a child process.
type Process struct {
	// Started is the moment just before the process was started: the
	// beginning of its initialization.
	Started time.Time

	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	exited         chan struct{}
	waitErr        error
}

// Start runs the program at path as Lambda runs a function's bootstrap:
// env is its whole environment (nothing is inherited from the test), and
// its working directory is the program's folder. It is killed when the
// test ends. Its standard output and error are kept (Stdout, Stderr).
func Start(t testing.TB, path string, env map[string]string) *Process {
	t.Helper()
	cmd := exec.Command(path)
	cmd.Dir = filepath.Dir(path)
	cmd.Env = make([]string, 0, len(env))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	slices.Sort(cmd.Env)
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("lambdatest: starting %s: %v", path, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.Stop)
	return p
}

// Stop kills the process, if it still runs, and waits for it to end.
func (p *Process) Stop() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ExitErr is the process's exit status as exec.Cmd.Wait reports it (nil
// for status 0); call it after Exited is closed.
func (p *Process) ExitErr() error { return p.waitErr }

// Stdout is what the process has written to its standard output so far.
// Output travels through a pipe: all of it is there only once the process
// has ended (Exited, Stop).
func (p *Process) Stdout() string { return p.stdout.String() }

// Stderr is what the process has written to its standard error so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// Lines returns the process's output lines so far, standard output's then
// standard error's.
func (p *Process) Lines() []string {
	var lines []string
	for _, s := range []string{p.Stdout(), p.Stderr()} {
		for line := range strings.Lines(s) {
			if line = strings.TrimRight(line, "\n"); line != "" {
				lines = append(lines, line)
			}
		}
	}
	return lines
}

// ErrExited reports a function that ended before asking for an event.
var ErrExited = errors.New("lambdatest: the process exited during initialization")

// InitDuration waits, at most timeout, until the function p runs asks rt
// for its first event, and returns its initialization time: from p's start
// to that request. It returns ErrExited if the process ends first.
func InitDuration(rt *Runtime, p *Process, timeout time.Duration) (time.Duration, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-rt.Ready():
		return rt.FirstNext().Sub(p.Started), nil
	case <-p.Exited():
		select {
		case <-rt.Ready(): // asked, then exited
			return rt.FirstNext().Sub(p.Started), nil
		default:
		}
		return 0, ErrExited
	case <-timer.C:
		return 0, errors.New("lambdatest: no /next request within " + timeout.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and many readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
