//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crun-lite/crun-lite/internal/faults"
)

// killedAt runs crun-lite with args, killed with SIGKILL when it reaches
// phase (internal/faults), and fails the test unless it was.
func killedAt(t *testing.T, s store, phase string, args ...string) {
	t.Helper()
	r := crunInEnv(t, s, []string{faults.EnvDieAt + "=" + phase}, args...)
	if r.Code != -1 && r.Code != 137 {
		t.Fatalf("crun-lite %s was not killed at %s: %s", strings.Join(args, " "), phase, r)
	}
}

// checkStoreAfterCrash is what must hold after any crash: the next commands
// work and collect what the dead one left (no run dir, no mount under the
// store, no process of its container), every listed image is whole and
// runs, and a new run works (pulling the image again if it is gone).
func checkStoreAfterCrash(t *testing.T, s store, image string) {
	t.Helper()
	var imgs []struct {
		ID    string   `json:"id"`
		Names []string `json:"names"`
	}
	if err := json.Unmarshal([]byte(mustCrunIn(t, s, "images", "--format", "json").Stdout), &imgs); err != nil {
		t.Fatalf("images --format json: %v", err)
	}
	for _, img := range imgs {
		if len(img.Names) == 0 {
			t.Errorf("a nameless image is left: %s", img.ID)
		}
		if r := crunIn(t, s, "run", "--rm", img.ID, "true"); r.Code != 0 {
			t.Errorf("a listed image does not run: %s", r)
		}
	}
	mustCrunIn(t, s, "ps", "-a")
	assertNoRunDirs(t, s)
	if m := holderMountsUnder(t, s.Root); len(m) != 0 {
		t.Errorf("mounts left under the store: %v", m)
	}
	if out := mustCrunIn(t, s, "run", "--rm", "--tls-verify=false", image, "echo", "alive").Stdout; out != "alive\n" {
		t.Errorf("a run after the crash: %q", out)
	}
}

// processesWith lists the pids whose command line contains marker.
func processesWith(marker string) []int {
	var pids []int
	matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil && strings.Contains(string(b), marker) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(m)))
			if pid != os.Getpid() {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// TestKillAtEveryPhase: crun-lite killed with SIGKILL at each phase of
// pull, run (--rm and kept, on both store kinds), rm and rmi leaves a store
// that the next command cleans and uses.
func TestKillAtEveryPhase(t *testing.T) {
	image := Registry + "/test/busybox:latest"
	for _, phase := range []string{"pull:layer-committed", "pull:image-written"} {
		t.Run(phase, func(t *testing.T) {
			s := testStore(t)
			killedAt(t, s, phase, "pull", "-q", "--tls-verify=false", image)
			checkStoreAfterCrash(t, s, image) // run pulls it again when it is gone
		})
	}
	forEachStore(t, func(t *testing.T, s store, image string) {
		for _, phase := range []string{"run:prepared", "run:cloned", "run:rootfs", "run:running"} {
			marker := "crashmark-" + strings.ReplaceAll(phase, ":", "-")
			killedAt(t, s, phase, "run", "--rm", image, "sleep", "1000", marker)
			for deadline := time.Now().Add(5 * time.Second); len(processesWith(marker)) > 0 && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			if p := processesWith(marker); len(p) != 0 {
				t.Errorf("%s: the container outlived its killed monitor: pids %v", phase, p)
			}
			checkStoreAfterCrash(t, s, image)
		}
		// A kept container's foreground run starts it through a
		// monitor (TestMonitorKilled kills that one): killed before.
		killedAt(t, s, "run:rootfs", "run", "--name", "kept", image, "true")
		if ps := mustCrunIn(t, s, "ps", "-a").Stdout; !strings.Contains(ps, "kept") || strings.Contains(ps, "Up ") {
			t.Errorf("a kept container whose start was killed: ps -a:\n%s", ps)
		}
		killedAt(t, s, "rm:container", "rm", "kept")
		if r := crunIn(t, s, "rm", "kept"); r.Code != 0 && !strings.Contains(r.Stderr, "no container") {
			t.Errorf("rm after an rm killed midway: %s", r)
		}
		if ps := mustCrunIn(t, s, "ps", "-a").Stdout; strings.Contains(ps, "kept") {
			t.Errorf("the container is still listed after rm:\n%s", ps)
		}
		mustCrunIn(t, s, "run", "--name", "kept", image, "true")
		mustCrunIn(t, s, "rm", "kept")
		// exec killed while its command runs: the command dies with it
		// (parent-death signal), the container runs on.
		detach(t, s, "--name", "svc", image, "sh", "-c", `trap "" TERM; while :; do sleep 1; done`)
		killedAt(t, s, "exec:started", "exec", "svc", "sleep", "1000", "crashmark-exec")
		waitFor(t, "the exec'd command to die with its exec", func() bool { return len(processesWith("crashmark-exec")) == 0 })
		if out := mustCrunIn(t, s, "exec", "svc", "echo", "again").Stdout; out != "again\n" {
			t.Errorf("exec after an exec killed: %q", out)
		}
		// stop killed after its signal, which the container ignores: it
		// still runs, and the next stop ends it.
		killedAt(t, s, "stop:signalled", "stop", "-t", "10", "svc")
		if l := psLine(t, s, "svc"); !strings.Contains(l, "Up ") {
			t.Errorf("a container whose stop was killed before SIGKILL: %q", l)
		}
		mustCrunIn(t, s, "stop", "-t", "0", "svc")
		if l := psLine(t, s, "svc"); !strings.Contains(l, "Exited (137)") {
			t.Errorf("stop after a stop killed: %q", l)
		}
		mustCrunIn(t, s, "rm", "svc")
		killedAt(t, s, "rmi:image", "rmi", image)
		checkStoreAfterCrash(t, s, image)
	})
}

// TestHolderKilled: the process that holds the user namespace killed with
// SIGKILL, idle or while a container runs: the running container goes on
// and exits normally, and the next commands make a new holder.
func TestHolderKilled(t *testing.T) {
	skipIfRoot(t, "real root has no user-namespace holder")
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	holder := func() int {
		data, err := os.ReadFile(filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "crun-lite", "userns.pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.Fields(string(data))[0])
		return pid
	}
	old := holder()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(old)
	checkStoreAfterCrash(t, s, image)
	if holder() == old {
		t.Error("no new holder after the old one was killed")
	}

	cmd, done := startCrun(t, s, "run", "--rm", image, "sh", "-c", "sleep 1; echo finished")
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(holder(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, done); code != 0 {
		t.Errorf("the container running while its holder was killed exited %d", code)
	}
	checkStoreAfterCrash(t, s, image)
}
