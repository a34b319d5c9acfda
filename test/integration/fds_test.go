//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestLeakedFDsStayOut (CVE-2024-21626): a directory fd crun-lite's caller
// leaked (fd 7 here) does not reach the container, so an image whose
// WorkingDir is /proc/self/fd/7 cannot start with its cwd on the host; the
// container sees no fd of ours above stderr. --preserve-fds N hands fds 3 ..
// 3+N-1 over on purpose, and even then a working directory through one of
// them is refused: the cwd must be inside the container's root.
func TestLeakedFDsStayOut(t *testing.T) {
	hostDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "secret"), []byte("host file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir, err := os.Open(hostDir)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	leak := []*os.File{devnull, devnull, devnull, devnull, dir} // dir is fd 7

	l := newOCILayout(t)
	push(t, l.tag(l.imageWith(runtime.GOARCH, []testLayer{busyboxLayer(t)},
		map[string]any{"Cmd": []string{"sh", "-c", "pwd; echo owned > pwned; cat secret"}, "WorkingDir": "/proc/self/fd/7",
			"Env": []string{"PATH=/bin"}})), Registry, "test/fd-workdir")
	image := Registry + "/test/fd-workdir"
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)

	r := crunWithFiles(t, s, nil, leak, "run", "--rm", image)
	if r.Code != 125 || !strings.Contains(r.Stderr, "change directory to /proc/self/fd/7") || strings.Contains(r.Stdout, "host file") {
		t.Errorf("image WorkingDir through a leaked fd: want a refusal, exit 125:\n%s", r)
	}
	r = crunWithFiles(t, s, nil, leak, "run", "--rm", "--workdir", "/", image, "ls", "/proc/self/fd")
	if r.Code != 0 || strings.Fields(r.Stdout)[len(strings.Fields(r.Stdout))-1] != "3" {
		// ls itself holds fd 3 for the directory it lists.
		t.Errorf("fds the container sees: want 0 1 2 and ls's own 3:\n%s", r)
	}
	r = crunWithFiles(t, s, nil, []*os.File{devnull, dir}, "run", "--rm", "--preserve-fds", "2", "--workdir", "/", image,
		"sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; cat /proc/self/fd/4/secret")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "0 1 2 3 4 ") || !strings.Contains(r.Stdout, "host file") {
		t.Errorf("--preserve-fds 2: want fds 3 and 4 handed over:\n%s", r)
	}
	r = crunWithFiles(t, s, nil, []*os.File{dir}, "run", "--rm", "--preserve-fds", "1", "--workdir", "/proc/self/fd/3", image)
	if r.Code != 125 || !strings.Contains(r.Stderr, "outside the container's root filesystem") {
		t.Errorf("a working directory through a preserved fd: want a refusal:\n%s", r)
	}
	r = crunIn(t, s, "run", "--rm", "--preserve-fds", "1", image, "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "fd 3 was not passed to crun-lite") {
		t.Errorf("--preserve-fds of an fd nobody passed: %s", r)
	}
	if _, err := os.Stat(filepath.Join(hostDir, "pwned")); err == nil {
		t.Error("the container wrote into the host directory")
	}
}
