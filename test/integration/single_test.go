//go:build integration

package integration

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The single-id mode (userns/single.go): crun-lite as a user with no
// subordinate ids, or without newuidmap, or who asks for it.
//
// These tests run crun-lite as real users other than the suite's own: the
// user with no /etc/subuid line that hack/test-setup.sh makes
// (crunlite-single), and the test user. Switching users needs root, so a
// test as another user than the suite's runs in the root pass (make
// test-root) and is skipped, saying so, in the unprivileged one; a test as
// the suite's own user runs in both.

// realUser is a user a test runs crun-lite as, with a HOME and an
// XDG_RUNTIME_DIR of the test's own (so its default store and its
// namespace holders are the test's, not the user's real ones).
type realUser struct {
	name          string
	uid, gid      int
	home, rundir  string
	path          string // PATH; "" for the usual one
	viaSetpriv    bool   // the suite runs as root and switches to the user
	removeOnClean []string
}

// singleUserName is the user without subordinate ids of hack/test-setup.sh.
func singleUserName() string {
	if n := os.Getenv("CRUNLITE_SINGLE_USER"); n != "" {
		return n
	}
	return "crunlite-single"
}

// testUserName is the user the unprivileged pass runs as.
func testUserName() string {
	if n := os.Getenv("CRUNLITE_TEST_USER"); n != "" {
		return n
	}
	return "crunlite-test"
}

// asUser prepares name for a test, or skips the test when this pass cannot
// run commands as name.
func asUser(t *testing.T, name string) *realUser {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Skipf("no user %s (run hack/test-setup.sh): %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	r := &realUser{name: name, uid: uid, gid: gid}
	switch {
	case os.Geteuid() == 0:
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("as root without setpriv: cannot switch to " + name)
		}
		r.viaSetpriv = true
	case os.Getuid() != uid:
		t.Skipf("runs crun-lite as %s, which only root can switch to: this test runs in the root pass (make test-root)", name)
	}
	r.home = r.privateDir(t, "crl-home-")
	r.rundir = r.privateDir(t, "crl-run-")
	t.Cleanup(func() { r.stopHolders(t) })
	return r
}

// privateDir makes a 0700 directory owned by the user under /tmp.
func (r *realUser) privateDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	if r.viaSetpriv {
		if err := os.Chown(dir, r.uid, r.gid); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { removeStoreDir(t, dir) })
	return dir
}

// stopHolders kills the holders the user's commands made in the test's
// runtime dir.
func (r *realUser) stopHolders(t *testing.T) {
	for _, f := range []string{"userns.pid", "userns.single.pid"} {
		if pid := pidInFile(filepath.Join(r.rundir, "crun-lite", f)); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func pidInFile(path string) int {
	data, _ := os.ReadFile(path)
	var pid int
	if _, err := fmt.Sscanf(string(data), "%d", &pid); err != nil {
		return 0
	}
	return pid
}

// crun runs crun-lite as the user, in a login-like environment of the
// test's own; env entries ("NAME=value") are added to it.
func (r *realUser) crun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	path := r.path
	if path == "" {
		// sbin for the network hub's iptables
		path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	}
	vars := append([]string{"HOME=" + r.home, "USER=" + r.name, "LOGNAME=" + r.name, "PATH=" + path,
		"XDG_RUNTIME_DIR=" + r.rundir, "LANG=C.UTF-8"}, env...)
	ctx, cancel := context.WithTimeout(context.Background(), crunTimeout)
	defer cancel()
	var cmd *exec.Cmd
	if r.viaSetpriv {
		argv := append([]string{"--reuid=" + strconv.Itoa(r.uid), "--regid=" + strconv.Itoa(r.gid), "--init-groups", "--", "env", "-i"}, vars...)
		cmd = exec.CommandContext(ctx, "setpriv", append(append(argv, Bin), args...)...)
	} else {
		cmd = exec.CommandContext(ctx, Bin, args...)
		cmd.Env = vars
	}
	cmd.Dir = "/"
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	res := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		res.Code, res.Stderr = -1, res.Stderr+err.Error()
	}
	return res
}

// mustCrun is crun, failing the test unless crun-lite exits 0.
func (r *realUser) mustCrun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	res := r.crun(t, env, args...)
	if res.Code != 0 {
		t.Fatalf("as %s: crun-lite %s: %s", r.name, strings.Join(args, " "), res)
	}
	return res
}

// doctorCheck returns doctor's check id, as the user.
func (r *realUser) doctorCheck(t *testing.T, env []string, id string) (struct{ ID, Status, Message, Fix string }, result) {
	t.Helper()
	res := r.crun(t, env, "doctor", "--format", "json")
	var rep struct {
		Checks []struct{ ID, Status, Message, Fix string }
	}
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatalf("doctor --format json: %v\n%s", err, res)
	}
	for _, c := range rep.Checks {
		if c.ID == id {
			return c, res
		}
	}
	t.Fatalf("doctor has no %s check:\n%s", id, res)
	return struct{ ID, Status, Message, Fix string }{}, res
}

var busyboxArchive = func() string { return "oci-archive:" + filepath.Join(TestData, "images", "busybox.tar") }

// uidMapLines is the number of lines of a container's uid_map.
func uidMapLines(t *testing.T, r *realUser, global ...string) int {
	t.Helper()
	out := r.mustCrun(t, nil, append(global, "run", "--rm", "busybox", "cat", "/proc/self/uid_map")...).Stdout
	return len(strings.Split(strings.TrimSpace(out), "\n"))
}

// A user with no subordinate ids: doctor says single-id mode and the
// admin's usermod line; the first pull makes the single-id store beside
// the full one's place and says so once, with that line; containers map
// the user alone, and the image's files are container root's, modes kept.
func TestSingleIDNoSubuid(t *testing.T) {
	r := asUser(t, singleUserName())
	mode, doc := r.doctorCheck(t, nil, "mode")
	if doc.Code != 0 || mode.Status != "warning" || !strings.Contains(mode.Message, "single-id: no subordinate id range for "+r.name) ||
		!strings.HasPrefix(mode.Fix, "sudo usermod --add-subuids ") || !strings.Contains(mode.Fix, " --add-subgids ") ||
		!strings.HasSuffix(mode.Fix, " "+r.name) {
		t.Fatalf("doctor's mode check: %+v\n%s", mode, doc)
	}
	if sub, _ := r.doctorCheck(t, nil, "subuid"); sub.Status != "warning" || !strings.Contains(sub.Message, "single-id mode") {
		t.Errorf("doctor's subuid check: want a warning naming the single-id mode: %+v", sub)
	}

	first := r.mustCrun(t, nil, "pull", busyboxArchive())
	single := filepath.Join(r.home, ".local", "share", "crun-lite", "storage-single")
	wantLine := "crun-lite: single-id mode (no subordinate id range for " + r.name + " in /etc/subuid): " +
		"container root and every other user of a container are you, and its files are yours; for the full mode an admin runs: " + mode.Fix + "\n"
	if !strings.Contains(first.Stderr, "crun-lite: new store in "+single+": ") || !strings.Contains(first.Stderr, wantLine) {
		t.Errorf("first pull: want the new single-id store and the line\n%s\ngot:\n%s", wantLine, first)
	}
	if again := r.mustCrun(t, nil, "pull", busyboxArchive()); strings.Contains(again.Stderr, "single-id mode") {
		t.Errorf("second pull says the mode again:\n%s", again)
	}
	var info struct {
		Store struct {
			Userns    string `json:"userns"`
			GraphRoot string `json:"graph_root"`
		}
	}
	if err := json.Unmarshal([]byte(r.mustCrun(t, nil, "info", "--format", "json").Stdout), &info); err != nil ||
		info.Store.Userns != "single" || info.Store.GraphRoot != single {
		t.Errorf("info: %v %+v, want userns single in %s", err, info, single)
	}
	if _, err := os.Stat(filepath.Join(r.home, ".local", "share", "crun-lite", "storage")); err == nil {
		t.Errorf("the single-id mode made the full mode's store too")
	}

	out := r.mustCrun(t, nil, "run", "--rm", "busybox", "cat", "/proc/self/uid_map", "/proc/self/gid_map").Stdout
	if f := strings.Fields(out); len(f) != 6 || f[0] != "0" || f[1] != strconv.Itoa(r.uid) || f[2] != "1" ||
		f[3] != "0" || f[4] != strconv.Itoa(r.gid) || f[5] != "1" {
		t.Errorf("uid_map and gid_map: want 0 %d 1 and 0 %d 1, got %q", r.uid, r.gid, out)
	}
	// The default private network: the single-id namespace has a hub of its own.
	if out := r.mustCrun(t, nil, "run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0").Stdout; !strings.Contains(out, "inet 10.") {
		t.Errorf("no private network in the single-id mode: %q", out)
	}
	// owned by 1000 in the image, 0644; /tmp 1777: owners go, modes stay
	out = r.mustCrun(t, nil, "run", "--rm", "busybox", "stat", "-c", "%u:%g %a", "/home/user/owned-by-1000", "/tmp").Stdout
	if out != "0:0 644\n0:0 1777\n" {
		t.Errorf("stat in the single-id store: %q, want 0:0 644 and 0:0 1777", out)
	}
	// apt's file goes only into images that have /etc/apt/apt.conf.d:
	// busybox gets no /etc/apt.
	if res := r.crun(t, nil, "run", "--rm", "busybox", "ls", "/etc/apt"); res.Code == 0 || strings.Contains(res.Stdout, "crun-lite") {
		t.Errorf("the single-id mode made /etc/apt in an image without apt: %s", res)
	}

	// --user: container root, with the user's HOME and USER, said once.
	res := r.mustCrun(t, nil, "run", "--rm", "--user", "1000", "busybox", "sh", "-c", "id -u; echo $HOME $USER")
	if res.Stdout != "0\n/home/user user\n" ||
		res.Stderr != "crun-lite: warning: single-id mode: user 1000 (user) runs as container root, with its HOME and USER: every user of the image is you\n" {
		t.Errorf("run --user 1000 in the single-id mode: %s", res)
	}
	if res := r.crun(t, nil, "run", "--rm", "--userns=keep-id", "busybox", "true"); res.Code != 125 ||
		!strings.Contains(res.Stderr, "--userns=keep-id needs subordinate ids") {
		t.Errorf("keep-id in the single-id mode: want 125 and why: %s", res)
	}
	if h, _ := r.doctorCheck(t, nil, "holder"); h.Status != "ok" || !strings.Contains(h.Message, "single-id user namespace (made for want of the full mode)") {
		t.Errorf("doctor's holder check: %+v", h)
	}
}

// A PATH without newuidmap and newgidmap, for the test user, who has
// subordinate ids: the single-id mode, saying what is missing and how to
// get it. PATH is where crun-lite looks for them, as containers/storage
// does for Podman.
func TestSingleIDNoNewuidmap(t *testing.T) {
	r := asUser(t, testUserName())
	r.path = pathWithout(t, r, "newuidmap", "newgidmap")
	mode, _ := r.doctorCheck(t, nil, "mode")
	if mode.Status != "warning" || !strings.Contains(mode.Message, "single-id: newuidmap not found in PATH") ||
		mode.Fix != "install package uidmap: sudo apt-get install uidmap" {
		t.Fatalf("doctor's mode check without newuidmap: %+v", mode)
	}
	if m, _ := r.doctorCheck(t, nil, "newuidmap"); m.Status != "warning" {
		t.Errorf("doctor's newuidmap check: want a warning, the single-id mode works: %+v", m)
	}
	first := r.mustCrun(t, nil, "pull", busyboxArchive())
	want := "crun-lite: single-id mode (newuidmap not found in PATH: it maps the subordinate ids of the full mode): " +
		"container root and every other user of a container are you, and its files are yours; for the full mode an admin runs: install package uidmap: sudo apt-get install uidmap\n"
	if !strings.Contains(first.Stderr, want) {
		t.Errorf("first pull without newuidmap: want\n%s\ngot:\n%s", want, first)
	}
	if n := uidMapLines(t, r); n != 1 {
		t.Errorf("without newuidmap the container's uid_map has %d lines, want 1", n)
	}
}

// pathWithout makes a directory of links to every program of /usr/bin,
// /bin, /usr/sbin and /sbin but the ones named, for a PATH without them.
func pathWithout(t *testing.T, r *realUser, skip ...string) string {
	t.Helper()
	dir := r.privateDir(t, "crl-path-")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
		entries, _ := os.ReadDir(from)
		for _, e := range entries {
			if slicesContains(skip, e.Name()) {
				continue
			}
			_ = os.Symlink(filepath.Join(from, e.Name()), filepath.Join(dir, e.Name()))
		}
	}
	return dir
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// --userns=single by a user who has the full mode: a namespace and a store
// of its own beside the full ones, never mixed; commands without it keep
// the full mode.
func TestSingleIDChosen(t *testing.T) {
	r := asUser(t, testUserName())
	r.mustCrun(t, nil, "--userns=single", "pull", "-q", busyboxArchive())
	if n := uidMapLines(t, r, "--userns=single"); n != 1 {
		t.Errorf("--userns=single: uid_map has %d lines, want 1", n)
	}
	if out := r.mustCrun(t, nil, "run", "--userns=single", "--rm", "busybox", "cat", "/proc/self/uid_map").Stdout; len(strings.Fields(out)) != 3 {
		t.Errorf("run --userns=single: uid_map %q, want one line", out)
	}
	// Without it: the full mode, whose default store is another one.
	if res := r.crun(t, nil, "images", "-q"); res.Code != 0 || res.Stdout != "" {
		t.Errorf("the full mode's store sees the single-id store's image: %s", res)
	}
	r.mustCrun(t, nil, "pull", "-q", busyboxArchive())
	if n := uidMapLines(t, r); n != 2 {
		t.Errorf("without --userns=single: uid_map has %d lines, want 2 (the full mode)", n)
	}
	if res := r.crun(t, nil, "--userns=keep-id", "images"); res.Code != 125 || !strings.Contains(res.Stderr, "the global option takes single only") {
		t.Errorf("a global --userns=keep-id: %s", res)
	}

	// A store is opened in its own mode only.
	full := r.privateDir(t, "crl-fullstore-")
	fs := []string{"--root", full + "/root", "--runroot", full + "/runroot"}
	r.mustCrun(t, nil, append(fs, "pull", "-q", busyboxArchive())...)
	res := r.crun(t, nil, append(append([]string{"--userns=single"}, fs...), "run", "--rm", "busybox", "true")...)
	if res.Code != 125 || !strings.Contains(res.Stderr, "was made in the full mode") {
		t.Errorf("a full-mode store in the single-id mode: want 125 and a refusal: %s", res)
	}
	single := r.privateDir(t, "crl-singlestore-")
	ss := []string{"--root", single + "/root", "--runroot", single + "/runroot"}
	r.mustCrun(t, nil, append(append([]string{"--userns=single"}, ss...), "pull", "-q", busyboxArchive())...)
	res = r.crun(t, nil, append(ss, "images")...)
	if res.Code != 125 || !strings.Contains(res.Stderr, "was made in the single-id mode") || !strings.Contains(res.Stderr, "hint: use it with crun-lite --userns=single") {
		t.Errorf("a single-id store in the full mode: want 125, a refusal and the hint: %s", res)
	}
	if res := r.mustCrun(t, nil, append(fs, "run", "--rm", "busybox", "stat", "-c", "%u", "/home/user/owned-by-1000")...); res.Stdout != "1000\n" {
		t.Errorf("the full-mode store after the refusals: %s", res)
	}
}

// The debian image as a user with no subordinate ids: a package whose
// postinst makes a system user and chowns to it installs with apt-get from
// a local repository (update, then install) and with dpkg -i; useradd and
// su answer; a FIFO is made and a device node is faked. pip is
// TestSingleIDPip's, in the debian-pip image.
func TestSingleIDDebian(t *testing.T) {
	requireDebian(t)
	t.Run("no subuid line", func(t *testing.T) { debianSingleID(t, asUser(t, singleUserName())) })
	t.Run("newuidmap missing", func(t *testing.T) {
		r := asUser(t, testUserName())
		r.path = pathWithout(t, r, "newuidmap", "newgidmap")
		debianSingleID(t, r)
	})
}

func debianSingleID(t *testing.T, r *realUser) {
	repo := r.privateDir(t, "crl-repo-")
	if err := os.Chmod(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	buildTestDeb(t, repo)
	if r.viaSetpriv {
		filepath.Walk(repo, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, r.uid, r.gid) })
	}
	r.mustCrun(t, nil, "pull", "-q", "oci-archive:"+filepath.Join(TestData, "images", "debian.tar"))
	script := `set -e
echo 'deb [trusted=yes] file:/repo ./' >/etc/apt/sources.list
rm -f /etc/apt/sources.list.d/*
apt-get update >/tmp/log 2>&1 || { cat /tmp/log; exit 1; }
apt-get install -y crltest >/tmp/log 2>&1 || { cat /tmp/log; exit 1; }
echo "installed: $(dpkg-query -W -f='${Status}' crltest)"
echo "user: $(getent passwd crltest | cut -d: -f1,6,7)"
stat -c 'data: %u:%g' /var/lib/crltest/data
dpkg -r crltest >/dev/null && dpkg -i /repo/crltest_1.0_all.deb >/tmp/log 2>&1 || { cat /tmp/log; exit 1; }
echo "dpkg -i: $(dpkg-query -W -f='${Status}' crltest)"
useradd -m u && su u -c 'id -u'
mkfifo /tmp/fifo && stat -c 'fifo: %F' /tmp/fifo
mknod /tmp/null c 1 3 && echo "mknod c: $(test -e /tmp/null && echo made || echo faked)"
`
	res := r.crun(t, nil, "run", "--rm", "-v", repo+":/repo:ro", "debian", "sh", "-c", script)
	want := "installed: install ok installed\nuser: crltest:/var/lib/crltest:/usr/sbin/nologin\ndata: 0:0\n" +
		"dpkg -i: install ok installed\n0\nfifo: fifo\nmknod c: faked\n"
	if res.Code != 0 || res.Stdout != want {
		t.Fatalf("apt, dpkg, useradd in the debian image in the single-id mode: want\n%s%s", want, res)
	}
	// apt stays root by a file crun-lite mounts; the image is unchanged.
	if res := r.mustCrun(t, nil, "run", "--rm", "debian", "apt-config", "dump", "APT::Sandbox::User"); res.Stdout != "APT::Sandbox::User \"root\";\n" {
		t.Errorf("apt-config in the single-id mode: %s", res)
	}
}

// pip install --user of a local wheel in the debian-pip image (bookworm's
// pip 23, python 3.11), as a user with no subordinate ids and without
// newuidmap: as container root, and as the image's user 1000, whose HOME
// the install goes to; the package then imports. --break-system-packages:
// bookworm marks its python as externally managed (PEP 668), which refuses
// even --user installs without it.
func TestSingleIDPip(t *testing.T) {
	requireDebianPip(t)
	t.Run("no subuid line", func(t *testing.T) { pipSingleID(t, asUser(t, singleUserName())) })
	t.Run("newuidmap missing", func(t *testing.T) {
		r := asUser(t, testUserName())
		r.path = pathWithout(t, r, "newuidmap", "newgidmap")
		pipSingleID(t, r)
	})
}

func pipSingleID(t *testing.T, r *realUser) {
	dir := r.privateDir(t, "crl-wheel-")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	wheel := buildTestWheel(t, dir)
	if r.viaSetpriv {
		os.Chown(wheel, r.uid, r.gid)
	}
	r.mustCrun(t, nil, "pull", "-q", "oci-archive:"+filepath.Join(TestData, "images", "debian-pip.tar"))
	if out := r.mustCrun(t, nil, "run", "--rm", "debian-pip", "cat", "/proc/self/uid_map").Stdout; len(strings.Fields(out)) != 3 {
		t.Fatalf("not the single-id mode: uid_map %q", out)
	}
	script := `set -e
pip install --user --no-index --break-system-packages /wheels/` + filepath.Base(wheel) + ` >/tmp/log 2>&1 || { cat /tmp/log; exit 1; }
cd /
python3 -c 'import crltestpkg; print(crltestpkg.greeting(), crltestpkg.__file__)'
python3 -m pip show crltestpkg | grep -E "^(Name|Version|Location):"
stat -c '%u %a' "$(python3 -m site --user-site)/crltestpkg/__init__.py"
`
	for _, c := range []struct {
		name, home string
		args       []string
	}{
		{"root", "/root", nil},
		{"user 1000", "/home/user", []string{"--user", "1000"}},
	} {
		site := c.home + "/.local/lib/python3.11/site-packages"
		args := append(append([]string{"run", "--rm", "-v", dir + ":/wheels:ro"}, c.args...), "debian-pip", "sh", "-c", script)
		res := r.crun(t, nil, args...)
		want := "hello from a wheel " + site + "/crltestpkg/__init__.py\n" +
			"Name: crltestpkg\nVersion: 1.0\nLocation: " + site + "\n0 644\n"
		if res.Code != 0 || res.Stdout != want {
			t.Errorf("pip install --user as %s in the single-id mode: want\n%s%s", c.name, want, res)
		}
	}
}

// buildTestWheel writes crltestpkg-1.0-py3-none-any.whl into dir, a pure
// python wheel (PEP 427) with one module and a RECORD of its files' hashes,
// and returns its path.
func buildTestWheel(t *testing.T, dir string) string {
	t.Helper()
	files := []struct{ name, content string }{
		{"crltestpkg/__init__.py", "def greeting():\n    return \"hello from a wheel\"\n"},
		{"crltestpkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: crltestpkg\nVersion: 1.0\nSummary: crun-lite test wheel\n"},
		{"crltestpkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: crun-lite tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	path := filepath.Join(dir, "crltestpkg-1.0-py3-none-any.whl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	var record strings.Builder
	for _, file := range files {
		w, err := zw.Create(file.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(file.content))
		sum := sha256.Sum256([]byte(file.content))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", file.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(file.content))
	}
	record.WriteString("crltestpkg-1.0.dist-info/RECORD,,\n")
	w, err := zw.Create("crltestpkg-1.0.dist-info/RECORD")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(record.String()))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// buildTestDeb writes crltest_1.0_all.deb (a postinst that runs adduser
// --system and chown -R to the new user) and a Packages index for it into
// repo, a flat apt repository.
func buildTestDeb(t *testing.T, repo string) {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed")
	}
	src := t.TempDir()
	for path, content := range map[string]string{
		"DEBIAN/control": "Package: crltest\nVersion: 1.0\nArchitecture: all\nMaintainer: crun-lite tests <tests@example.invalid>\n" +
			"Depends: adduser\nDescription: makes a system user in its postinst\n",
		"DEBIAN/postinst": "#!/bin/sh\nset -e\nadduser --system --group --home /var/lib/crltest crltest\n" +
			"mkdir -p /var/lib/crltest/data\nchown -R crltest:crltest /var/lib/crltest\n",
		"usr/share/doc/crltest/README": "crun-lite test package\n",
	} {
		p := filepath.Join(src, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(path, "postinst") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(src, "DEBIAN"), 0o755)
	deb := filepath.Join(repo, "crltest_1.0_all.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", src, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v: %s", err, out)
	}
	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	index := fmt.Sprintf("Package: crltest\nVersion: 1.0\nArchitecture: all\nMaintainer: crun-lite tests\nDepends: adduser\n"+
		"Filename: ./crltest_1.0_all.deb\nSize: %d\nSHA256: %s\nDescription: makes a system user in its postinst\n\n", len(data), hex.EncodeToString(sum[:]))
	if err := os.WriteFile(filepath.Join(repo, "Packages"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A user of the single-id mode gets subordinate ids: every command says how
// to move while the old namespace lives, system migrate ends it, the next
// command makes the full mode's namespace and store and says where the old
// images are, and both stores stay apart. Root only: it adds lines to
// /etc/subuid and /etc/subgid (for the single-id user alone, under the
// fault tests' lock), removed again at the end.
func TestSingleIDToFull(t *testing.T) {
	r := asUser(t, singleUserName())
	if !r.viaSetpriv {
		t.Skip("adds a line to /etc/subuid: root pass only")
	}
	r.mustCrun(t, nil, "pull", "-q", busyboxArchive())
	mode, _ := r.doctorCheck(t, nil, "mode")
	fix := strings.TrimPrefix(mode.Fix, "sudo ")
	if !strings.HasPrefix(fix, "usermod --add-subuids ") {
		t.Fatalf("doctor's fix: %+v", mode)
	}
	lockSubIDFiles(t)
	t.Cleanup(func() {
		exec.Command("sed", "-i", "-e", "/^"+r.name+":/d", "-e", "/^"+strconv.Itoa(r.uid)+":/d", "/etc/subuid", "/etc/subgid").Run()
	})
	if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", fix, err, out)
	}

	res := r.mustCrun(t, nil, "images", "-q")
	if !strings.Contains(res.Stderr, r.name+" has subordinate ids and newuidmap now, but this command runs in the single-id namespace made before") ||
		!strings.Contains(res.Stderr, "run crun-lite system migrate") || res.Stdout == "" {
		t.Errorf("the first command after the subuid line: want the way to move, and the single-id store's image: %s", res)
	}
	if m, _ := r.doctorCheck(t, nil, "mode"); m.Status != "warning" || !strings.Contains(m.Message, "the single-id namespace made before") {
		t.Errorf("doctor with the old namespace still in use: %+v", m)
	}
	if res := r.mustCrun(t, nil, "system", "migrate"); !strings.HasPrefix(res.Stdout, "ended the namespace holder ") {
		t.Errorf("system migrate: %s", res)
	}
	res = r.mustCrun(t, nil, "pull", busyboxArchive())
	full := filepath.Join(r.home, ".local", "share", "crun-lite", "storage")
	if !strings.Contains(res.Stderr, "crun-lite: new store in "+full+": ") ||
		!strings.Contains(res.Stderr, "crun-lite: the images of the single-id mode stay in "+full+"-single") || strings.Contains(res.Stderr, "migrate") {
		t.Errorf("the first command of the full mode: %s", res)
	}
	if n := uidMapLines(t, r); n != 2 {
		t.Errorf("after system migrate: uid_map has %d lines, want 2", n)
	}
	if out := r.mustCrun(t, nil, "run", "--rm", "busybox", "stat", "-c", "%u", "/home/user/owned-by-1000").Stdout; out != "1000\n" {
		t.Errorf("the full mode's store: owner %q, want 1000", out)
	}
	if out := r.mustCrun(t, nil, "--userns=single", "run", "--rm", "busybox", "stat", "-c", "%u", "/home/user/owned-by-1000").Stdout; out != "0\n" {
		t.Errorf("the single-id store after the move: owner %q, want 0", out)
	}
}

// lockSubIDFiles holds the lock the fault tests hold while they change
// /etc/subuid, so that the two never edit it at once.
func lockSubIDFiles(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile("/run/crun-lite-faults.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Skip("the fault tests hold /run/crun-lite-faults.lock: not editing /etc/subuid beside them")
		}
	}
}
