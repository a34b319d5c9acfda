//go:build integration && faults

// Package faults breaks the host the way desktops break, one fault at a
// time, and checks that `crun-lite doctor` and `crun-lite run` name the
// cause and print the fix, then restores the host.
//
// It runs as root, because the faults are host settings, but runs crun-lite
// as the fault user made by hack/test-setup.sh (not the test user, whose
// namespace holder other test runs rely on). A fault only shows when a new
// namespace is created, so each case kills the fault user's holder first.
//
// Some faults are machine-wide (newuidmap's setuid bit,
// user.max_user_namespaces, /dev/fuse's mode) and other engineers test on
// the same machine: each is held only while doctor and run execute, is
// undone by a test cleanup even when the test fails, and by a watchdog
// process if this test binary dies (a -timeout, a kill); a journal lets the
// next run undo what a crashed machine left. Run it with `make test-faults`.
package faults

import (
	"bytes"
	"context"
	"encoding/binary"
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

var (
	bin      string     // crun-lite under test
	testData string     // hack/test-setup.sh's cache: images/busybox.tar
	fault    *user.User // the fault user
	uid, gid int
	rundir   string // the fault user's XDG_RUNTIME_DIR
)

// journal holds the restore commands of faults in force; a run that finds it
// was preceded by one that died mid-fault.
const (
	journal  = "/run/crun-lite-faults.restore"
	lockFile = "/run/crun-lite-faults.lock"
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "faults: not root: skipping (the faults are host settings; run `make test-faults` as root)")
		return 0
	}
	bin, testData = os.Getenv("CRUNLITE_BIN"), os.Getenv("CRUNLITE_TESTDATA")
	name := os.Getenv("CRUNLITE_FAULT_USER")
	if name == "" {
		name = "crunlite-fault"
	}
	var err error
	if fault, err = user.Lookup(name); bin == "" || testData == "" || err != nil {
		fmt.Fprintf(os.Stderr, "faults: need CRUNLITE_BIN, CRUNLITE_TESTDATA and user %s (run hack/test-setup.sh): skipping\n", name)
		return 0
	}
	uid, _ = strconv.Atoi(fault.Uid)
	gid, _ = strconv.Atoi(fault.Gid)
	rundir = "/run/user/" + fault.Uid
	// One fault run at a time on this machine.
	lock, err := os.OpenFile(lockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	if data, err := os.ReadFile(journal); err == nil {
		fmt.Fprintf(os.Stderr, "faults: undoing what an earlier run left:\n%s", data)
		if out, err := exec.Command("sh", "-c", string(data)).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "faults: %v: %s\n", err, out)
			return 1
		}
		os.Remove(journal)
	}
	return m.Run()
}

// inject applies a fault and arranges for restore, a shell script that must
// be idempotent, to undo it: at the end of the test, from a watchdog if this
// process dies first, from the journal if the machine does.
func inject(t *testing.T, apply func() error, restore string) {
	t.Helper()
	f, err := os.OpenFile(journal, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, restore)
	f.Close()
	wd, err := startWatchdog(restore, watchdogLimit(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("sh", "-c", restore).CombinedOutput(); err != nil {
			t.Errorf("RESTORE FAILED (%v): %s\n%s", err, restore, out)
			return // the watchdog will try again
		}
		wd.stop()
		os.Remove(journal)
	})
	if err := apply(); err != nil {
		t.Fatalf("inject: %v", err)
	}
}

// watchdog runs restore when this test process dies, however it dies (a
// -timeout, a kill, a crash): it reads a pipe whose only write end is
// ours, which the kernel closes with our last fd. A fixed delay instead
// would restore in the middle of a test that takes longer.
type watchdog struct {
	cmd  *exec.Cmd
	pipe *os.File // the write end: open while the test runs
}

// startWatchdog starts the watchdog of restore; after limit it restores
// even while this process lives (stopped, say), so a fault never outlasts
// the test run by much.
func startWatchdog(restore string, limit time.Duration) (*watchdog, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	secs := strconv.Itoa(max(1, int(limit.Seconds())))
	// timeout --foreground stays in the watchdog's process group, which
	// stop kills as a whole.
	cmd := exec.Command("sh", "-c", "timeout --foreground "+secs+" cat >/dev/null; "+restore)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives us
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, err
	}
	return &watchdog{cmd: cmd, pipe: w}, nil
}

// stop ends the watchdog without restoring: the fault is undone already.
func (wd *watchdog) stop() {
	_ = syscall.Kill(-wd.cmd.Process.Pid, syscall.SIGKILL) // sh, timeout and cat
	_ = wd.cmd.Wait()
	wd.pipe.Close()
}

// watchdogLimit is how long the watchdog waits for a live test: until a
// minute after go test's -timeout would have ended it.
func watchdogLimit(t *testing.T) time.Duration {
	if d, ok := t.Deadline(); ok {
		return time.Until(d) + time.Minute
	}
	return 30 * time.Minute
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// crun runs crun-lite as the fault user with a login-like environment;
// env entries override it, and "NAME=" with no value removes NAME.
func crun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	return runCmd(t, cmd, env)
}

// crunNoUserns runs crun-lite as the fault user inside a user namespace
// that maps every id onto itself (so the host looks the same from inside)
// and whose user.max_user_namespaces is 0. The kernel checks that limit in
// every namespace up the chain, so crun-lite meets exactly what it meets
// when the host's is 0, without taking user namespaces from anyone else on
// the machine (and without CAP_SYS_RESOURCE, which this rig's root lacks).
func crunNoUserns(t *testing.T, env []string, args ...string) result {
	t.Helper()
	script := fmt.Sprintf(`echo 0 >/proc/sys/user/max_user_namespaces && exec setpriv --reuid=%d --regid=%d --clear-groups -- "$@"`, uid, gid)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", script, "sh", bin}, args...)...)
	all := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1<<32 - 1}}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, UidMappings: all, GidMappings: all, GidMappingsEnableSetgroups: true}
	return runCmd(t, cmd, env)
}

func runCmd(t *testing.T, cmd *exec.Cmd, env []string) result {
	t.Helper()
	cmd.Dir = "/"
	cmd.Env = environ(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout.String(), stderr.String(), 0}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return r
}

func environ(overrides []string) []string {
	vars := map[string]string{
		"HOME": fault.HomeDir, "USER": fault.Username, "LOGNAME": fault.Username,
		"PATH": "/usr/local/bin:/usr/bin:/bin", "XDG_RUNTIME_DIR": rundir, "LANG": "C.UTF-8",
	}
	for _, kv := range overrides {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	var env []string
	for k, v := range vars {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// newStore returns global options for a fresh store of the fault user.
func newStore(t *testing.T, extra ...string) []string {
	t.Helper()
	dir, err := os.MkdirTemp("", "crl-fault-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		killHolder(t)
		os.RemoveAll(dir)
	})
	return append([]string{"--root", dir + "/root", "--runroot", dir + "/runroot"}, extra...)
}

// killHolder stops the fault user's namespace holders, wherever their pid
// files are, so that the next command has to create a namespace.
func killHolder(t *testing.T) {
	t.Helper()
	for _, dir := range []string{rundir + "/crun-lite", "/tmp/crun-lite-" + fault.Uid} {
		// The full mode's holder and the single-id one (userns/single.go).
		for _, name := range []string{"userns.pid", "userns.single.pid"} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			f := strings.Fields(string(data))
			pid := 0
			if len(f) > 0 {
				pid, _ = strconv.Atoi(f[0])
			}
			if pid > 0 && ownedBy(pid, uid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				for i := 0; i < 500 && syscall.Kill(pid, 0) == nil; i++ {
					time.Sleep(10 * time.Millisecond)
				}
			}
			os.Remove(filepath.Join(dir, name))
		}
	}
}

// ownedBy reports whether pid runs as uid (the pid file could be stale and
// the pid reused by anything).
func ownedBy(pid, uid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			return f[1] == strconv.Itoa(uid)
		}
	}
	return false
}

type doctorCheck struct{ ID, Status, Message, Fix string }

// doctor runs crun-lite doctor in both formats and returns the check id.
func doctor(t *testing.T, env []string, global []string, id string) (doctorCheck, result) {
	t.Helper()
	r := crun(t, env, append(global, "doctor", "--format", "json")...)
	var rep struct {
		OK     bool
		Checks []doctorCheck
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("doctor --format json: %v\n%s", err, r)
	}
	if rep.OK != (r.code == 0) {
		t.Errorf("doctor: ok %v but exit %d", rep.OK, r.code)
	}
	text := crun(t, env, append(global, "doctor")...)
	for _, c := range rep.Checks {
		if c.ID != id {
			continue
		}
		if c.Fix != "" && !strings.Contains(text.stdout, "fix: "+c.Fix+"\n") {
			t.Errorf("doctor's text output lacks the fix %q:\n%s", c.Fix, text.stdout)
		}
		return c, r
	}
	t.Fatalf("doctor has no %s check:\n%s", id, r)
	return doctorCheck{}, r
}

// runBusybox runs a container as the fault user in a fresh store.
func runBusybox(t *testing.T, env []string, global []string) result {
	t.Helper()
	return crun(t, env, append(global, "run", "--rm", "oci-archive:"+testData+"/images/busybox.tar", "true")...)
}

// wantFailure checks that run failed with the cause on the first line and
// the fix on the second, and that the fix is doctor's.
func wantFailure(t *testing.T, r result, cause, fix string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if r.code != 125 || len(lines) != 2 || !strings.HasPrefix(lines[0], "Error: ") ||
		!strings.Contains(lines[0], cause) || lines[1] != "hint: "+fix {
		t.Errorf("run: want exit 125, the cause %q, then \"hint: %s\":\n%s", cause, fix, r)
	}
}

// wantSingle checks that run worked in the single-id mode, having said so
// once with the cause of it and the fix that gives the full mode, doctor's.
func wantSingle(t *testing.T, r result, cause, fix string) {
	t.Helper()
	if r.code != 0 || !strings.Contains(r.stderr, "crun-lite: single-id mode ("+cause) ||
		!strings.Contains(r.stderr, "; for the full mode an admin runs: "+fix+"\n") {
		t.Errorf("run: want exit 0 in the single-id mode, saying %q and the fix %q:\n%s", cause, fix, r)
	}
}

// subuidLines returns the fault user's lines of /etc/subuid, the command
// that deletes them, and the one that puts them back as they were.
func subuidLines(t *testing.T) (mine []string, del, restore string) {
	t.Helper()
	orig, err := os.ReadFile("/etc/subuid")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(orig), "\n") {
		if o, _, _ := strings.Cut(l, ":"); o == fault.Username || o == fault.Uid {
			mine = append(mine, l)
		}
	}
	if len(mine) == 0 {
		t.Fatalf("%s has no line in /etc/subuid (run hack/test-setup.sh)", fault.Username)
	}
	del = fmt.Sprintf(`sed -i -e '/^%s:/d' -e '/^%s:/d' /etc/subuid`, fault.Username, fault.Uid)
	return mine, del, del + " && printf '%s\\n' " + strings.Join(mine, " ") + " >>/etc/subuid"
}

func TestNoSubuidRange(t *testing.T) {
	killHolder(t)
	_, del, restore := subuidLines(t)
	inject(t, func() error { return exec.Command("sh", "-c", del).Run() }, restore)

	// Without it containers run in the single-id mode: a warning, and
	// the mode check names the same fix.
	c, r := doctor(t, nil, nil, "subuid")
	if r.code != 0 || c.Status != "warning" || !strings.Contains(c.Message, "no subordinate id range for "+fault.Username) ||
		!strings.Contains(c.Message, "(containers run in the single-id mode)") ||
		!strings.HasPrefix(c.Fix, "sudo usermod --add-subuids ") || strings.Contains(c.Fix, "subgids") ||
		!strings.HasSuffix(c.Fix, " "+fault.Username) {
		t.Fatalf("doctor: %+v\n%s", c, r)
	}
	m, _ := doctor(t, nil, nil, "mode")
	if m.Status != "warning" || !strings.HasPrefix(m.Message, "single-id: no subordinate id range for "+fault.Username) || m.Fix != c.Fix {
		t.Errorf("doctor's mode check: %+v", m)
	}
	run := runBusybox(t, nil, newStore(t))
	wantSingle(t, run, "no subordinate id range for "+fault.Username, c.Fix)
	t.Logf("doctor: %s\n  fix: %s\nrun:\n%s", c.Message, c.Fix, run.stderr)

	// The fix, as printed, gives the full mode to the next namespace.
	if out, err := exec.Command("sh", "-c", strings.TrimPrefix(c.Fix, "sudo ")).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", c.Fix, err, out)
	}
	killHolder(t)
	if r := runBusybox(t, nil, newStore(t)); r.code != 0 || strings.Contains(r.stderr, "single-id") {
		t.Errorf("after %s, run is not in the full mode:\n%s", c.Fix, r)
	}
}

// A range smaller than the 65536 ids images expect works for some images
// only: a warning, whose fix adds a full range of the short kind.
func TestSmallSubuidRange(t *testing.T) {
	killHolder(t)
	mine, del, restore := subuidLines(t)
	f := strings.Split(mine[0], ":")
	small := fault.Username + ":" + f[1] + ":1000"
	inject(t, func() error { return exec.Command("sh", "-c", del+" && echo "+small+" >>/etc/subuid").Run() }, restore)

	c, r := doctor(t, nil, nil, "subuid")
	if r.code != 0 || c.Status != "warning" || !strings.Contains(c.Message, fault.Username+" has 1000 uids") ||
		!strings.Contains(c.Message, "ids at or above 1001 cannot be used") ||
		!strings.HasPrefix(c.Fix, "sudo usermod --add-subuids ") || strings.Contains(c.Fix, "subgids") ||
		!strings.HasSuffix(c.Fix, " "+fault.Username) {
		t.Fatalf("doctor: %+v\n%s", c, r)
	}
	if g, _ := doctor(t, nil, nil, "subgid"); g.Status != "ok" {
		t.Errorf("subgid check with a full gid range: %+v", g)
	}
	t.Logf("doctor: %s\n  fix: %s", c.Message, c.Fix)
	// The fix, as printed, mends it.
	if out, err := exec.Command("sh", "-c", strings.TrimPrefix(c.Fix, "sudo ")).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", c.Fix, err, out)
	}
	if c, r := doctor(t, nil, nil, "subuid"); c.Status != "ok" || !strings.Contains(c.Message, "has 66536 uids") {
		t.Errorf("after %s: %+v\n%s", c.Fix, c, r)
	}
}

// A graph root on a file system that cannot hold overlay upper dirs (here
// an overlay mount, as in a container whose root is overlay): doctor warns
// with the fix, nothing blocks, and new stores use fuse-overlayfs. The
// mount is in a directory of the test's own, so nobody else meets it.
func TestGraphRootWithoutOverlayUpper(t *testing.T) {
	killHolder(t)
	global := newStore(t)
	dir := filepath.Dir(global[1]) // newStore's directory, the fault user's
	m := dir + "/m"
	for _, d := range []string{"l", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	inject(t, func() error {
		opts := fmt.Sprintf("lowerdir=%s/l,upperdir=%s/u,workdir=%s/w", dir, dir, dir)
		if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", opts, m).CombinedOutput(); err != nil {
			return fmt.Errorf("mount overlay: %v: %s", err, out)
		}
		return os.Chown(m, uid, gid)
	}, fmt.Sprintf("! mountpoint -q %s || umount -l %s", m, m))
	global[1] = m + "/store"

	c, r := doctor(t, nil, global, "overlay")
	wantFix := "keep the store on a local ext4, xfs or btrfs file system: --root DIR"
	if r.code != 0 || c.Status != "warning" || !strings.Contains(c.Message, m+" on overlay cannot hold overlay upper dirs in user namespaces") ||
		c.Fix != wantFix {
		t.Errorf("doctor: %+v, want a warning with the fix %q\n%s", c, wantFix, r)
	}
	if s, _ := doctor(t, nil, global, "storage"); s.Status != "ok" || s.Message != "new stores use overlay through /usr/bin/fuse-overlayfs" {
		t.Errorf("doctor's storage check: %+v", s)
	}
	t.Logf("doctor: %s\n  fix: %s", c.Message, c.Fix)
	if run := runBusybox(t, nil, global); run.code != 0 {
		t.Fatalf("run on a graph root without overlay upper dirs:\n%s", run)
	}
	info := crun(t, nil, append(global, "info", "--format", "json")...)
	var rep struct {
		Store struct {
			Driver       string `json:"driver"`
			MountProgram string `json:"mount_program"`
		} `json:"store"`
	}
	if err := json.Unmarshal([]byte(info.stdout), &rep); err != nil || rep.Store.Driver != "overlay" || rep.Store.MountProgram != "/usr/bin/fuse-overlayfs" {
		t.Errorf("info: %v: the store does not use fuse-overlayfs as doctor said:\n%s", err, info)
	}
}

// Another user's range overlapping the fault user's is a warning, not a
// blocker; doctor only (a holder must never map another user's ids).
func TestOverlappingSubuids(t *testing.T) {
	data, _ := os.ReadFile("/etc/subuid")
	var other string
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Split(l, ":"); len(f) == 3 && f[0] != fault.Username && f[0] != fault.Uid {
			other = l
			break
		}
	}
	if other == "" {
		t.Skip("no other user in /etc/subuid to overlap")
	}
	f := strings.Split(other, ":")
	line := fault.Username + ":" + f[1] + ":" + f[2]
	inject(t, func() error {
		return exec.Command("sh", "-c", "echo "+line+" >>/etc/subuid").Run()
	}, fmt.Sprintf(`sed -i '/^%s$/d' /etc/subuid`, line))
	c, r := doctor(t, nil, nil, "subuid")
	if r.code != 0 || c.Status != "warning" || !strings.Contains(c.Message, "overlap "+f[0]+"'s") ||
		!strings.Contains(c.Fix, "--del-subuids "+f[1]) {
		t.Errorf("doctor: %+v\n%s", c, r)
	}
}

// copyNewuidmap installs a copy of newuidmap without the setuid bit, with
// the given security.capability xattr (none when nil), in a directory of
// its own, and returns that directory.
func copyNewuidmap(t *testing.T, fileCaps []byte) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "crl-fault-path-") // t.TempDir's parent is closed to the fault user
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "newuidmap")
	if out, err := exec.Command("install", "-m", "0755", "/usr/bin/newuidmap", path).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if fileCaps != nil {
		if err := syscall.Setxattr(path, "security.capability", fileCaps, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// capXattr is a VFS_CAP_REVISION_2 security.capability value granting
// one capability, permitted and effective.
func capXattr(capability uint) []byte {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000000|1)
	binary.LittleEndian.PutUint32(b[4:], 1<<capability)
	return b
}

// newuidmap without its setuid bit: copies early in the fault user's PATH
// (nobody else sees them), with no file capabilities and with the wrong
// one, then the real one on the machine for a moment. A copy with the
// right file capability must work.
func TestNewuidmapNotSetuid(t *testing.T) {
	const capSetuid, capSetgid = 7, 6
	cases := []struct {
		name, why string
		caps      []byte
		global    bool
	}{
		{"copy without file capabilities", "is neither setuid root nor given file capabilities", nil, false},
		{"copy with cap_setgid instead", "is not setuid root, and its file capabilities lack cap_setuid+ep", capXattr(capSetgid), false},
		{"the real one", "is neither setuid root nor given file capabilities", nil, true},
	}
	for _, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			killHolder(t)
			store := newStore(t)
			path, env := "/usr/bin/newuidmap", []string(nil)
			if k.global {
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				mode := st.Mode().Perm()
				if st.Mode()&os.ModeSetuid != 0 {
					mode |= 0o4000 // os.Chmod would take os.ModeSetuid, chmod(1) takes octal
				}
				inject(t, func() error { return os.Chmod(path, st.Mode().Perm()) }, fmt.Sprintf("chmod %o %s", mode, path))
			} else {
				dir := copyNewuidmap(t, k.caps)
				path, env = dir+"/newuidmap", []string{"PATH=" + dir + ":/usr/local/bin:/usr/bin:/bin"}
			}
			c, r := doctor(t, env, nil, "newuidmap")
			run := runBusybox(t, env, store)
			wantFix := "sudo chmod u+s " + path + " (or: sudo setcap cap_setuid+ep " + path + ")"
			// The single-id mode needs no newuidmap: a warning.
			if r.code != 0 || c.Status != "warning" || c.Message != path+" "+k.why+" (containers run in the single-id mode)" || c.Fix != wantFix {
				t.Errorf("doctor: %+v, want %q and the fix %q\n%s", c, path+" "+k.why, wantFix, r)
			}
			wantSingle(t, run, path+" "+k.why, wantFix)
			t.Logf("doctor: %s\n  fix: %s\nrun:\n%s", c.Message, c.Fix, run.stderr)
		})
	}
	t.Run("copy with cap_setuid+ep", func(t *testing.T) {
		killHolder(t)
		dir := copyNewuidmap(t, capXattr(capSetuid))
		env := []string{"PATH=" + dir + ":/usr/local/bin:/usr/bin:/bin"}
		c, _ := doctor(t, env, nil, "newuidmap")
		if c.Status != "ok" || c.Message != dir+"/newuidmap has cap_setuid+ep as a file capability" {
			t.Errorf("doctor: %+v", c)
		}
		if r := runBusybox(t, env, newStore(t)); r.code != 0 {
			t.Errorf("run with newuidmap through file capabilities:\n%s", r)
		}
	})
}

func TestMaxUserNamespacesZero(t *testing.T) {
	killHolder(t)
	store := newStore(t)
	r := crunNoUserns(t, nil, "doctor", "--format", "json")
	var rep struct{ Checks []doctorCheck }
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("doctor: %v\n%s", err, r)
	}
	var c doctorCheck
	for _, c = range rep.Checks {
		if c.ID == "userns" {
			break
		}
	}
	run := crunNoUserns(t, nil, append(store, "run", "--rm", "oci-archive:"+testData+"/images/busybox.tar", "true")...)
	wantFix := "sudo sysctl -w user.max_user_namespaces=15000 && echo user.max_user_namespaces=15000 | sudo tee /etc/sysctl.d/50-crun-lite-user.max_user_namespaces.conf"
	if r.code != 1 || c.Status != "problem" || !strings.Contains(c.Message, "user.max_user_namespaces is 0") || c.Fix != wantFix {
		t.Errorf("doctor: %+v\n%s", c, r)
	}
	wantFailure(t, run, "user.max_user_namespaces is 0", wantFix)
	t.Logf("doctor: %s\n  fix: %s\nrun:\n%s", c.Message, c.Fix, run.stderr)
	if text := crunNoUserns(t, nil, "doctor"); !strings.Contains(text.stdout, "fix: "+wantFix+"\n") {
		t.Errorf("doctor's text output lacks the fix:\n%s", text.stdout)
	}
}

// /dev/fuse 0600 breaks a store that uses fuse-overlayfs (chosen here
// explicitly, as on a host without native overlay in user namespaces).
func TestDevFuseUnusable(t *testing.T) {
	killHolder(t)
	store := newStore(t, "--storage-driver", "overlay", "--storage-opt", "overlay.mount_program=/usr/bin/fuse-overlayfs")
	st, err := os.Stat("/dev/fuse")
	if err != nil {
		t.Fatal(err)
	}
	inject(t, func() error { return os.Chmod("/dev/fuse", 0o600) }, fmt.Sprintf("chmod %o /dev/fuse", st.Mode().Perm()))
	c, r := doctor(t, nil, store, "storage")
	run := runBusybox(t, nil, store)
	wantFix := "sudo chmod 0666 /dev/fuse (desktops' udev rules do this)"
	if r.code != 1 || c.Status != "problem" || !strings.Contains(c.Message, "/dev/fuse: permission denied") || c.Fix != wantFix {
		t.Errorf("doctor: %+v\n%s", c, r)
	}
	wantFailure(t, run, "open /dev/fuse: permission denied", wantFix)
	t.Logf("doctor: %s\n  fix: %s\nrun:\n%s", c.Message, c.Fix, run.stderr)
}

// Without XDG_RUNTIME_DIR (su, some ssh sessions) crun-lite still works,
// from /tmp, but apart from the login sessions' state: doctor warns, every
// command warns, and the printed export line ends the warning.
func TestNoXDGRuntimeDir(t *testing.T) {
	killHolder(t)
	t.Cleanup(func() {
		killHolder(t)
		os.RemoveAll("/tmp/crun-lite-" + fault.Uid)
	})
	unset := []string{"XDG_RUNTIME_DIR="}
	c, r := doctor(t, unset, nil, "runtime-dir")
	wantFix := "export XDG_RUNTIME_DIR=" + rundir
	if r.code != 0 || c.Status != "warning" || !strings.Contains(c.Message, "XDG_RUNTIME_DIR is not set") || c.Fix != wantFix {
		t.Errorf("doctor: %+v\n%s", c, r)
	}
	run := runBusybox(t, unset, newStore(t))
	want := "crun-lite: warning: XDG_RUNTIME_DIR is not set (su and some ssh sessions lack it): runtime state goes to /tmp/crun-lite-" +
		fault.Uid + ", apart from your login sessions' in " + rundir + "\nhint: " + wantFix + "\n"
	if run.code != 0 || !strings.HasPrefix(run.stderr, want) {
		t.Errorf("run: want exit 0 and the warning\n%s\ngot:\n%s", want, run)
	}
	t.Logf("doctor: %s\n  fix: %s\nrun:\n%s", c.Message, c.Fix, run.stderr)
	if r := runBusybox(t, []string{"XDG_RUNTIME_DIR=" + rundir}, newStore(t)); strings.Contains(r.stderr, "warning") || r.code != 0 {
		t.Errorf("with the fix applied:\n%s", r)
	}
}

// The watchdog restores as soon as the test process is gone (its end of the
// pipe closed, as the kernel closes it when the process dies), and, should
// the process live on, once its limit has passed; stopped, it restores
// nothing.
func TestWatchdog(t *testing.T) {
	dir := t.TempDir()
	restored := func(name string) bool {
		for i := 0; i < 200; i++ { // up to 20 s: a bound, not a timing assertion
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return true
			}
			time.Sleep(100 * time.Millisecond)
		}
		return false
	}
	gone, err := startWatchdog("touch "+dir+"/gone", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gone.stop)
	gone.pipe.Close()
	if !restored("gone") {
		t.Error("the watchdog did not restore when the test process's end of the pipe closed")
	}

	limited, err := startWatchdog("touch "+dir+"/limit", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(limited.stop)
	if !restored("limit") {
		t.Error("the watchdog did not restore after its limit")
	}

	stopped, err := startWatchdog("touch "+dir+"/stopped", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stopped.stop() // returns once the watchdog's shell has ended
	if _, err := os.Stat(dir + "/stopped"); err == nil {
		t.Error("a stopped watchdog restored")
	}
	if limit := watchdogLimit(t); limit < time.Minute {
		t.Errorf("watchdog limit %v: shorter than the minute after go test's deadline", limit)
	}
}
