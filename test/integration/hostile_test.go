//go:build integration

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ownCopy copies the binaries under test (crun-lite and crun-lite-full
// beside it) into a directory of the user running the tests, as
// `make install PREFIX=~/.local` or a build tree leaves them: files the
// user, and so container root, owns.
func ownCopy(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{filepath.Base(Bin), "crun-lite-full"} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(Bin), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, filepath.Base(Bin))
}

// TestHostileImageCannotChangeBinary is the regression test of
// CVE-2019-5736 in crun-lite: an image whose command is /proc/self/exe
// runs crun-lite's own binary inside the container, with the image's
// loader and LD_PRELOAD, and tries to make it setuid, set an xattr on it
// and write it. Every attempt must fail and the file stay as it was,
// with and without --init.
func TestHostileImageCannotChangeBinary(t *testing.T) {
	requireDebian(t)
	dir := t.TempDir()
	so := filepath.Join(dir, "evil.so")
	if out, err := exec.Command("cc", "-shared", "-fPIC", "-o", so, "testdata/evil-exe.c").CombinedOutput(); err != nil {
		t.Fatalf("cc evil-exe.c: %v\n%s", err, out)
	}
	evil, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	l := newOCILayout(t)
	push(t, l.tag(l.imageWith(runtime.GOARCH, []testLayer{testImageLayer(t, "debian"), layerOf(t, map[string][]byte{"evil.so": evil})},
		map[string]any{"Entrypoint": []string{"/proc/self/exe"}, "Env": []string{"PATH=/usr/bin:/bin", "LD_PRELOAD=/evil.so"}})),
		Registry, "test/evil-exe")
	image := Registry + "/test/evil-exe"

	bin := ownCopy(t)
	before, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	s.Bin = bin
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	for _, args := range [][]string{{"run", "--rm", image}, {"run", "--rm", "--init", image}} {
		r := crunIn(t, s, args...)
		name := strings.Join(args[:len(args)-1], " ")
		// The attack ran (its lines are there) and each step failed.
		if !strings.Contains(r.Stdout, "chmod: ") || !strings.Contains(r.Stdout, "setxattr: ") {
			t.Fatalf("%s: the hostile library did not run: %s", name, r)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			if strings.HasSuffix(line, ": ok") {
				t.Errorf("%s: the container changed the binary: %q\n%s", name, line, r)
			}
		}
		var st unix.Stat_t
		if err := unix.Stat(bin, &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&0o7777 != 0o755 {
			t.Errorf("%s: binary mode is now %04o, want 0755", name, st.Mode&0o7777)
		}
		if n, err := unix.Getxattr(bin, "user.evil", make([]byte, 8)); err == nil {
			t.Errorf("%s: binary has the container's xattr user.evil (%d bytes)", name, n)
		}
		if after, err := os.ReadFile(bin); err != nil || !bytes.Equal(before, after) {
			t.Errorf("%s: binary content changed (%v)", name, err)
		}
	}
}

// TestRefusesSetID: crun-lite installed set-user-id for another user
// would run what any caller names as that user: it refuses to start.
func TestRefusesSetID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a binary set-user-id for another user needs root (make test-root)")
	}
	bin := ownCopy(t)
	if err := os.Chown(bin, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(bin, 0o4755); err != nil { // os.Chmod wants os.ModeSetuid
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--version"}, {"run", "--rm", Registry + "/test/busybox", "true"}} {
		r := crunIn(t, store{Bin: bin}, args...)
		if r.Code != 125 || !strings.Contains(r.Stderr, "refusing to run set-user-id") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("set-user-id crun-lite %s: want exit 125 and one line refusing: %s", strings.Join(args, " "), r)
		}
	}
}

// TestHostilePasswdFIFO: an image whose /etc/passwd is a FIFO made run
// hang forever in open(2), waiting for a writer that never comes. It must
// fail at once with 125 and say which file is wrong, whoever the user is,
// and leave no container behind.
func TestHostilePasswdFIFO(t *testing.T) {
	l := newOCILayout(t)
	push(t, l.tag(l.image(runtime.GOARCH, []testLayer{busyboxLayer(t), layerOfEntries(t, []tarEntry{fifoEntry("etc/passwd")})})),
		Registry, "test/passwd-fifo")
	image := Registry + "/test/passwd-fifo"
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	runs := [][]string{
		{"run", "--rm", image, "true"},
		{"run", "--rm", "--user", "1000:1000", image, "true"},
		{"run", "--rm", "-t", image, "true"},
	}
	if _, err := exec.LookPath("fuse-overlayfs"); err == nil && os.Geteuid() != 0 {
		// keep-id reads /etc/passwd itself, to add the kept user to it.
		runs = append(runs, []string{"run", "--rm", "--userns=keep-id", image, "true"})
	}
	const msg = "/etc/passwd of the image is a FIFO, not a regular file"
	for _, args := range runs {
		start := time.Now()
		r := crunIn(t, s, args...)
		took := time.Since(start)
		name := strings.Join(args[:len(args)-2], " ")
		t.Logf("%s: exit %d after %v: %s", name, r.Code, took.Round(time.Millisecond), strings.TrimSpace(r.Stderr))
		if r.Code != 125 || !strings.Contains(r.Stderr, msg) {
			t.Errorf("%s: want exit 125 and %q: %s", name, msg, r)
		}
		if took > 20*time.Second {
			t.Errorf("%s: took %v to fail", name, took)
		}
	}
	if ps := mustCrunIn(t, s, "ps", "-a", "-q").Stdout; ps != "" {
		t.Errorf("containers left behind: %q", ps)
	}
}
