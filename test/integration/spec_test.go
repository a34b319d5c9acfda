//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/crun-lite/crun-lite/run/spec"
)

// TestSpecWritten: a running container's run dir records its pid, its
// start time and the path of its resolved spec, and the spec holds what the
// options and the image decided, with the user resolved from the image.
func TestSpecWritten(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	// The test reads the container's environ to find it: its user must be
	// the test user's own id (container root), so the group shows the lookup.
	stop := startSleeper(t, s, "--rm", "--user", "root:nogroup", "-e", "FOO=bar", "-w", "/tmp", "--cap-drop", "ALL", image)
	defer stop()

	var rec struct {
		Pid      int    `json:"pid"`
		PidStart uint64 `json:"pid_start"`
		SpecPath string `json:"spec_path"`
	}
	runs := filepath.Join(s.Root, "crun-lite-runs")
	for deadline := time.Now().Add(10 * time.Second); rec.SpecPath == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		locks, _ := filepath.Glob(filepath.Join(runs, "*", "lock"))
		for _, l := range locks {
			if b, err := os.ReadFile(l); err == nil {
				_ = json.Unmarshal(b, &rec)
			}
		}
	}
	if rec.SpecPath == "" || rec.Pid == 0 || rec.PidStart == 0 {
		t.Fatalf("the run dir's record lacks pid, start time or spec path: %+v", rec)
	}
	sp, err := spec.Read(rec.SpecPath)
	if err != nil {
		t.Fatal(err)
	}
	p := sp.Process
	if !slices.Equal(p.Args[len(p.Args)-2:], []string{"sleep", "1000"}) || p.Cwd != "/tmp" || p.UserSpec != "root:nogroup" {
		t.Errorf("spec process: %+v", p)
	}
	if p.User == nil || p.User.UID != 0 || p.User.GID != 65534 || p.User.Name != "root" {
		t.Errorf("spec user not resolved from the image's /etc/passwd: %+v", p.User)
	}
	if !slices.Contains(p.Env, "FOO=bar") || !slices.Contains(p.Env, "USER=root") || len(p.Caps) != 0 || p.Seccomp == nil {
		t.Errorf("spec env %v, caps %v, seccomp %d bytes", p.Env, p.Caps, len(p.Seccomp))
	}
	if !sp.Remove || sp.Network != "bridge" || len(sp.Masked) == 0 {
		t.Errorf("spec: remove %v network %q masked %v", sp.Remove, sp.Network, sp.Masked)
	}
}
