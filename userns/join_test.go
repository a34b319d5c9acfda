package userns

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The unit-test binaries of userns, run and cmd/crun-lite link nsjoin.c.
// They must not join the holder a crun-lite of the same user keeps alive:
// the tests would then run as root in that namespace, among its mounts,
// and pass or fail by what the user happened to run before. This one
// starts a holder of its own, as the constructor finds one, and runs
// itself again to see whether the constructor joined it.
func TestTestBinaryDoesNotJoin(t *testing.T) {
	if os.Getenv("_CRUNLITE_TEST_REPORT_JOIN") != "" {
		fmt.Printf("joined=%t\n", Joined())
		return
	}
	if Joined() {
		t.Fatal("this test binary joined the user's namespace holder")
	}
	if os.Geteuid() == 0 {
		t.Skip("as real root the constructor never joins")
	}
	runtimeDir := t.TempDir()
	pid := fakeHolder(t)
	if err := os.Mkdir(filepath.Join(runtimeDir, "crun-lite"), 0o700); err != nil {
		t.Fatal(err)
	}
	pidFile := fmt.Sprintf("%d %d", pid, startTime(t, pid))
	if err := os.WriteFile(filepath.Join(runtimeDir, "crun-lite", "userns.pid"), []byte(pidFile), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTestBinaryDoesNotJoin$", "-test.count=1")
	cmd.Env = append(os.Environ(), "_CRUNLITE_TEST_REPORT_JOIN=1", "XDG_RUNTIME_DIR="+runtimeDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "joined=false\n") {
		t.Errorf("the test binary joined the user's namespace holder:\n%s", out)
	}
}

// fakeHolder starts a process in a user and mount namespace of its own, as
// the holder is, and returns its pid once it is in them.
func fakeHolder(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--mount", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Skipf("unshare: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(comm) == "sleep\n" {
			return pid
		}
	}
	t.Skip("unshare --user did not get to sleep: user namespaces may be disabled here")
	return 0
}

// startTime reads field 22 of /proc/PID/stat, as the pid file records it.
func startTime(t *testing.T, pid int) uint64 {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	var v uint64
	if _, err := fmt.Sscan(fields[22-3], &v); err != nil {
		t.Fatal(err)
	}
	return v
}
