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
)

// storePaths is what info says about where the store is.
type storePaths struct {
	Store struct {
		GraphRoot string `json:"graph_root"`
		RunRoot   string `json:"run_root"`
		Images    int    `json:"images"`
	} `json:"store"`
}

// defaultStore is the store crun-lite picks without --root and --runroot
// for a user whose HOME is a fresh directory, with env added to the
// environment; the store is emptied and HOME removed when the test ends.
func defaultStore(t *testing.T, env ...string) (home string, full []string) {
	t.Helper()
	home, err := os.MkdirTemp("", "crl-home-")
	if err != nil {
		t.Fatal(err)
	}
	// XDG_DATA_HOME is cleared unless env sets it: the user's own must
	// not send the test to their real store.
	full = append([]string{"HOME=" + home, "XDG_DATA_HOME="}, env...)
	t.Cleanup(func() {
		crunInEnv(t, store{}, full, "system", "reset", "-f")
		removeStoreDir(t, home)
	})
	return home, full
}

// pullAndRun pulls busybox into the default store and runs it, and returns
// the paths info gives.
func pullAndRun(t *testing.T, env []string) storePaths {
	t.Helper()
	for _, args := range [][]string{
		{"pull", "-q", "oci-archive:" + imagePath("busybox") + ".tar"},
		{"run", "--rm", "busybox", "echo", "ran"},
		{"info", "--format", "json"},
	} {
		r := crunInEnv(t, store{}, env, args...)
		if r.Code != 0 {
			t.Fatalf("crun-lite %s: %s", strings.Join(args, " "), r)
		}
		if args[0] == "run" && r.Stdout != "ran\n" {
			t.Fatalf("run: %s", r)
		}
		if args[0] == "info" {
			var p storePaths
			if err := json.Unmarshal([]byte(r.Stdout), &p); err != nil {
				t.Fatalf("info: %v\n%s", err, r)
			}
			return p
		}
	}
	return storePaths{}
}

// checkLanded checks that the store at graphRoot, run root runRoot, holds
// the pulled image: storage's records are under the one, its per-boot
// state (mount points) under the other.
func checkLanded(t *testing.T, p storePaths, graphRoot, runRoot string) {
	t.Helper()
	if p.Store.GraphRoot != graphRoot || p.Store.RunRoot != runRoot || p.Store.Images != 1 {
		t.Errorf("info: graph root %s, run root %s, %d images; want %s, %s, 1",
			p.Store.GraphRoot, p.Store.RunRoot, p.Store.Images, graphRoot, runRoot)
	}
	for _, f := range []string{
		filepath.Join(graphRoot, "crun-lite-driver.json"),
		filepath.Join(graphRoot, "overlay-images", "images.json"),
		filepath.Join(runRoot, "overlay-layers", "mountpoints.json"),
	} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the store did not land there: %v", err)
		}
	}
}

// TestDefaultPaths: without --root and --runroot, images go to
// $XDG_DATA_HOME/crun-lite/storage, ~/.local/share/crun-lite/storage when
// it is unset, and the run root is $XDG_RUNTIME_DIR/crun-lite.
func TestDefaultPaths(t *testing.T) {
	t.Run("home", func(t *testing.T) {
		runtime := privateHolder(t)
		home, env := defaultStore(t, runtime...)
		p := pullAndRun(t, env)
		checkLanded(t, p, filepath.Join(home, ".local", "share", "crun-lite", "storage"),
			filepath.Join(strings.TrimPrefix(runtime[0], "XDG_RUNTIME_DIR="), "crun-lite"))
	})
	t.Run("xdg-data-home", func(t *testing.T) {
		runtime := privateHolder(t)
		data, err := os.MkdirTemp("", "crl-data-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { removeStoreDir(t, data) }) // after the reset below
		home, env := defaultStore(t, append(runtime, "XDG_DATA_HOME="+data)...)
		p := pullAndRun(t, env)
		checkLanded(t, p, filepath.Join(data, "crun-lite", "storage"),
			filepath.Join(strings.TrimPrefix(runtime[0], "XDG_RUNTIME_DIR="), "crun-lite"))
		if _, err := os.Stat(filepath.Join(home, ".local")); err == nil {
			t.Errorf("with XDG_DATA_HOME set, crun-lite wrote to ~/.local")
		}
	})
}

// TestDefaultRunRootWithoutXDG: without XDG_RUNTIME_DIR (su, some ssh
// sessions) the run root is /tmp/crun-lite-UID.
func TestDefaultRunRootWithoutXDG(t *testing.T) {
	dir := "/tmp/crun-lite-" + strconv.Itoa(os.Getuid())
	_, existed := os.Stat(dir)
	pidFile := filepath.Join(dir, "userns.pid")
	before, _ := os.ReadFile(pidFile)
	t.Cleanup(func() {
		// The holder made for this runtime dir, if this test made it (the
		// dir is the user's, other commands may use it), then the dir.
		if data, err := os.ReadFile(pidFile); err == nil && string(data) != string(before) {
			if pid, err := strconv.Atoi(strings.Fields(string(data))[0]); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if existed != nil {
			_ = os.RemoveAll(dir)
		}
	})
	home, env := defaultStore(t, "XDG_RUNTIME_DIR=")
	p := pullAndRun(t, env)
	checkLanded(t, p, filepath.Join(home, ".local", "share", "crun-lite", "storage"), dir)
}
