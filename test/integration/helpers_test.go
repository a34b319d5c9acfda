//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// result is what one crun-lite invocation produced. A non-zero Code is not an
// error by itself: many tests expect failures. Code is -1 when the process did
// not exit normally (killed by a signal, timed out, could not be started).
type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit code %d\n--- stdout:\n%s\n--- stderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// store is one isolated crun-lite storage: images, containers and state.
// Tests that pull once and then run several containers share one store.
type store struct {
	Root, RunRoot string
	// Extra global options for every invocation, e.g. a storage driver.
	Extra []string
	// Bin, when set, is the crun-lite binary to run instead of the one
	// under test (a copy of it somewhere else).
	Bin string
}

// globalFlags place crun-lite in the store; a store without a Root is the
// default one, whose paths crun-lite derives from the environment.
func (s store) globalFlags() []string {
	if s.Root == "" {
		return nil
	}
	return []string{"--root", s.Root, "--runroot", s.RunRoot}
}

// crunTimeout bounds one invocation, so that a hung container fails one test
// instead of the whole run hitting go test's -timeout without a useful message.
const crunTimeout = 2 * time.Minute

// newStore returns a fresh --root and --runroot for this test and arranges for
// them to be removed afterwards.
//
// Not t.TempDir(): files in a store can belong to subordinate ids the test user
// cannot delete, and t.TempDir's cleanup fails the test when removal fails.
// Also the path stays short (a deep path under a long test name would make
// socket paths in the runroot exceed the 108-byte limit of sun_path).
func newStore(t *testing.T) (root, runroot string) {
	t.Helper()
	base, err := os.MkdirTemp("", "crl-")
	if err != nil {
		t.Fatalf("creating store dir: %v", err)
	}
	root, runroot = base+"/root", base+"/runroot"
	for _, dir := range []string{root, runroot} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatalf("creating store dir: %v", err)
		}
	}
	t.Cleanup(func() {
		// Let crun-lite stop what it started and unmount what it mounted;
		// this fails harmlessly if the test already did it, or the store is
		// broken, which is what some tests produce on purpose.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		exec.CommandContext(ctx, Bin, "--root", root, "--runroot", runroot, "system", "reset", "-f").Run()
		removeStoreDir(t, base)
	})
	return root, runroot
}

// testStore is newStore in the form crunIn takes.
func testStore(t *testing.T) store {
	t.Helper()
	root, runroot := newStore(t)
	return store{Root: root, RunRoot: runroot}
}

// crun runs crun-lite with args in a store of its own. env entries
// ("NAME=value") are added to the test process's environment, overriding it.
func crun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return crunInEnv(t, testStore(t), env, args...)
}

// crunIn runs crun-lite with args in the given store.
func crunIn(t *testing.T, s store, args ...string) result {
	t.Helper()
	return crunInEnv(t, s, nil, args...)
}

// mustCrun is crun, failing the test unless crun-lite exits 0.
func mustCrun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := crun(t, env, args...)
	if r.Code != 0 {
		t.Fatalf("crun-lite %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// mustCrunIn is crunIn, failing the test unless crun-lite exits 0.
func mustCrunIn(t *testing.T, s store, args ...string) result {
	t.Helper()
	return mustCrunInEnv(t, s, nil, args...)
}

// mustCrunInEnv is crunInEnv, failing the test unless crun-lite exits 0.
func mustCrunInEnv(t *testing.T, s store, env []string, args ...string) result {
	t.Helper()
	r := crunInEnv(t, s, env, args...)
	if r.Code != 0 {
		t.Fatalf("crun-lite %s: %s", strings.Join(args, " "), r)
	}
	return r
}

func crunInEnv(t *testing.T, s store, env []string, args ...string) result {
	t.Helper()
	return crunWithFiles(t, s, env, nil, args...)
}

// crunWithFiles is crunInEnv with files as crun-lite's fds 3, 4, ... (nil:
// closed), as a caller that leaked them, or passes them on purpose, would.
func crunWithFiles(t *testing.T, s store, env []string, files []*os.File, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), crunTimeout)
	defer cancel()

	full := append(append(s.globalFlags(), s.Extra...), args...)
	bin := Bin
	if s.Bin != "" {
		bin = s.Bin
	}
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = withEnv(env)
	cmd.ExtraFiles = files
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// On timeout kill the whole process group: helpers crun-lite starts
	// (fuse-overlayfs, network helpers, the container) would otherwise live on
	// and keep the output pipes open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// A hang is a bug worth a post-mortem: what each process of ours
		// waits in, then Go's stack dump (SIGQUIT), then the kill.
		t.Logf("crun-lite %s hung; processes:\n%s", strings.Join(args, " "), describeProcesses())
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGQUIT)
		time.Sleep(2 * time.Second)
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A child that outlives crun-lite with our stdout (say a detached
	// container's monitor that did not close it) would block Wait forever.
	cmd.WaitDelay = 10 * time.Second

	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		r.Code = -1
		t.Logf("crun-lite %s: killed after %s", strings.Join(args, " "), crunTimeout)
	case err == nil:
		r.Code = 0
	case errors.Is(err, exec.ErrWaitDelay):
		// crun-lite itself exited; a process it left behind still held the
		// output pipes. Worth knowing: it usually is an fd leak.
		r.Code = cmd.ProcessState.ExitCode()
		t.Logf("crun-lite %s: exited, but a child kept its stdout/stderr open for %s", strings.Join(args, " "), cmd.WaitDelay)
	case errors.As(err, &exitErr):
		r.Code = exitErr.ExitCode()
	default:
		r.Code = -1
		r.Stderr += err.Error()
	}
	return r
}

// withEnv is the test process's environment changed by env: "NAME=value"
// entries override (later entries win in exec), a bare "NAME" unsets.
func withEnv(env []string) []string {
	var unset []string
	for _, kv := range env {
		if !strings.Contains(kv, "=") {
			unset = append(unset, kv)
		}
	}
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(unset, name) {
			out = append(out, kv)
		}
	}
	for _, kv := range env {
		if strings.Contains(kv, "=") {
			out = append(out, kv)
		}
	}
	return out
}

// removeStoreDir deletes a store without ever failing the test: a leftover in
// /tmp is not the behaviour under test.
func removeStoreDir(t *testing.T, dir string) {
	unmountFuseUnder(dir)
	if os.RemoveAll(dir) == nil {
		return
	}
	// What is left is owned by our subordinate ids. In a user namespace that
	// maps them (as crun-lite's does) and makes us root, rm may delete them.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exec.CommandContext(ctx, "unshare", "--map-root-user", "--map-auto", "rm", "-rf", "--one-file-system", dir).Run()
	if _, err := os.Lstat(dir); err == nil {
		t.Logf("could not remove store %s; leaving it behind", dir)
	}
}

// unmountFuseUnder lazily unmounts fuse mounts (fuse-overlayfs) that a crashed
// crun-lite left in dir, deepest first, so that RemoveAll does not walk into
// them or fail with EBUSY. Mounts in other mount namespaces are not visible
// here and need no help.
func unmountFuseUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var targets []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		// mountinfo escapes spaces and the like as octal; store paths have none.
		if mnt := fields[4]; strings.HasPrefix(mnt, dir+"/") {
			targets = append(targets, mnt)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(targets)))
	for _, mnt := range targets {
		exec.Command("fusermount3", "-u", "-z", mnt).Run()
	}
}

// describeProcesses lists this user's processes with their state and the
// kernel function they sleep in.
func describeProcesses() string {
	var b strings.Builder
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid := d.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		status, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil || !strings.Contains(string(status), fmt.Sprintf("\nUid:\t%d\t", os.Getuid())) {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		state := ""
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "State:") || strings.HasPrefix(line, "PPid:") {
				state += strings.Join(strings.Fields(line)[1:2], "") + " "
			}
		}
		fmt.Fprintf(&b, "  %s %s%s\n", pid, state, strings.ReplaceAll(string(cmdline), "\x00", " "))
		// Every thread: the kernel function it sleeps in and its syscall.
		tasks, _ := os.ReadDir("/proc/" + pid + "/task")
		for _, task := range tasks {
			dir := "/proc/" + pid + "/task/" + task.Name()
			wchan, _ := os.ReadFile(dir + "/wchan")
			sc, _ := os.ReadFile(dir + "/syscall")
			fmt.Fprintf(&b, "      tid %s wchan %s syscall %s\n", task.Name(), wchan, strings.TrimSpace(string(sc)))
		}
	}
	return b.String()
}

// skipIfRoot skips a test that is about rootless use when the suite runs as
// real root (make test-root).
func skipIfRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Skip("as real root: " + why)
	}
}
