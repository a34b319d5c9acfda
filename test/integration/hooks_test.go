//go:build integration

package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/crun-lite/crun-lite/run"
	"github.com/crun-lite/crun-lite/run/spec"
	cstore "github.com/crun-lite/crun-lite/store"
)

// TestStartHooks drives package run's API the way a detached monitor and
// the network will: Prepare, Start with Stdio and Hooks, Supervise. The
// Created hook runs once the root filesystem is mounted and before the
// command: it writes a file into the container's root that the command
// then prints. A hook that fails stops the start with its error, exit 125,
// before the command runs, and Close leaves no run dir. Real root only:
// the test process itself is the monitor, and rootless it would have to be
// in the user's namespace first.
func TestStartHooks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs as real root (make test-root)")
	}
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox:latest")
	st, err := cstore.Open(cstore.Options{GraphRoot: s.Root, RunRoot: s.RunRoot})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	opts := run.Options{Options: spec.Options{
		// The default network needs Options.StartNetworkHub (the CLI's);
		// the hooks do not.
		Image: Registry + "/test/busybox:latest", Remove: true, Network: "none",
		Command: []string{"sh", "-c", "cat /hooked; echo to-stderr >&2; exit 3"},
	}}

	c, err := run.Prepare(context.Background(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	var hookPid int
	p, err := c.Start(run.Stdio{Out: out, Err: out}, run.Hooks{Created: func(pid int) error {
		hookPid = pid
		self, _ := os.Readlink("/proc/self/ns/mnt")
		theirs, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "ns/mnt"))
		if self == theirs {
			return errors.New("the hook ran before the container's mount namespace existed")
		}
		return os.WriteFile(filepath.Join("/proc", strconv.Itoa(pid), "root/hooked"), []byte("written by the hook\n"), 0o644)
	}})
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	code, err := run.Supervise(p)
	c.Close()
	if err != nil || code != 3 || hookPid != p.Pid {
		t.Errorf("supervise: code %d, err %v, hook pid %d, container pid %d", code, err, hookPid, p.Pid)
	}
	b, _ := os.ReadFile(out.Name())
	if string(b) != "written by the hook\nto-stderr\n" {
		t.Errorf("the command's output through Stdio: %q", b)
	}

	marker := filepath.Join(t.TempDir(), "ran")
	opts.Command = []string{"touch", "/m/ran"}
	opts.Volumes = []string{filepath.Dir(marker) + ":/m"}
	c, err = run.Prepare(context.Background(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Start(run.Stdio{Out: out, Err: out}, run.Hooks{Created: func(int) error { return errors.New("no network for you") }})
	c.Close()
	var ee *run.ExitError
	if !errors.As(err, &ee) || ee.Code != 125 || !strings.Contains(err.Error(), "no network for you") {
		t.Errorf("a failing hook: %v", err)
	}
	if fileExists(marker) {
		t.Error("the command ran although the hook failed")
	}
	if left, _ := filepath.Glob(filepath.Join(s.Root, "crun-lite-runs", "[0-9a-f]*")); len(left) != 0 {
		t.Errorf("run dirs left after Close: %v", left)
	}
}
