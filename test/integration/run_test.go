//go:build integration

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// storeKind is a way of keeping layers: every run test runs on each, since
// many desktops' kernels or home filesystems still need fuse-overlayfs.
type storeKind struct {
	name  string
	extra []string
}

var storeKinds = []storeKind{
	{"native", nil},
	{"fuse", []string{"--storage-driver", "overlay", "--storage-opt", "overlay.mount_program=/usr/bin/fuse-overlayfs"}},
}

// forEachStore runs fn in a fresh store of every kind, with busybox pulled.
func forEachStore(t *testing.T, fn func(t *testing.T, s store, image string)) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			s := testStore(t)
			s.Extra = k.extra
			image := Registry + "/test/busybox:latest"
			mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
			fn(t, s, image)
		})
	}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

func TestPullPrintsID(t *testing.T) {
	s := testStore(t)
	r := mustCrunIn(t, s, "pull", "--tls-verify=false", Registry+"/test/busybox")
	if !hexID.MatchString(r.Stdout) {
		t.Fatalf("pull stdout is not an image ID:\n%s", r)
	}
	if !strings.Contains(r.Stderr, "Copying blob") {
		t.Errorf("pull without -q shows no progress on stderr:\n%s", r)
	}
	q := mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	if q.Stdout != r.Stdout || q.Stderr != "" {
		t.Errorf("pull -q: want only the same ID, got:\n%s", q)
	}
	img := mustCrunIn(t, s, "images")
	if !strings.Contains(img.Stdout, Registry+"/test/busybox") || !strings.Contains(img.Stdout, r.Stdout[:12]) {
		t.Errorf("images does not list the pulled image:\n%s", img)
	}
}

// TestNewStoreSaysDriver: the command that makes a store says once, on
// stderr, which driver it chose and why; info keeps saying it.
func TestNewStoreSaysDriver(t *testing.T) {
	wants := map[string]string{"native": "native overlay: kernel ", "fuse": "overlay (fuse-overlayfs): chosen with --storage-driver"}
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			s := testStore(t)
			s.Extra = k.extra
			// run (the lean binary) makes the store, then hands the pull to
			// crun-lite-full, which must not say it again.
			r := mustCrunIn(t, s, "run", "--rm", "oci-archive:"+imagePath("busybox")+".tar", "true")
			prefix := "crun-lite: new store in " + s.Root + ": "
			if n := strings.Count(r.Stderr, "new store"); n != 1 || !strings.HasPrefix(r.Stderr, prefix+wants[k.name]) {
				t.Fatalf("want one line %q... first: %s", prefix+wants[k.name], r)
			}
			reason, _, _ := strings.Cut(strings.TrimPrefix(r.Stderr, prefix), "\n")
			for _, args := range [][]string{{"images", "-q"}, {"run", "--rm", "busybox", "true"}} {
				if r := mustCrunIn(t, s, args...); r.Stderr != "" {
					t.Errorf("%v on the store made already: want nothing on stderr: %s", args, r)
				}
			}
			if info := mustCrunIn(t, s, "info").Stdout; !strings.Contains(info, "  why: "+reason+"\n") {
				t.Errorf("info does not give the reason %q:\n%s", reason, info)
			}
		})
	}
}

func TestRunBasics(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		checkBasics(t, s, image)
		assertNoRunDirs(t, s)
	})
}

// checkBasics runs the checks of the "Done when" in image: root in
// the container is the user, with the whole subordinate range mapped; image
// files keep their owners; exit codes pass through; the container sees
// only its own processes and its own hostname.
func checkBasics(t *testing.T, s store, image string) {
	t.Helper()
	if out := mustCrunIn(t, s, "run", "--rm", image, "id", "-u").Stdout; out != "0\n" {
		t.Errorf("id -u = %q, want 0", out)
	}
	// Container root is the user; 1..N are the subordinate range.
	for _, f := range []string{"uid_map", "gid_map"} {
		idMap := mustCrunIn(t, s, "run", "--rm", image, "cat", "/proc/self/"+f).Stdout
		if n := mappedIDs(t, idMap); n < 65537 {
			t.Errorf("%s maps %d ids, want at least 65537:\n%s", f, n, idMap)
		}
	}
	if out := mustCrunIn(t, s, "run", "--rm", image, "stat", "-c", "%u:%g", "/home/user/owned-by-1000").Stdout; out != "1000:1000\n" {
		t.Errorf("file owned by 1000 in the image shows as %q", out)
	}
	if r := crunIn(t, s, "run", "--rm", image, "sh", "-c", "exit 7"); r.Code != 7 {
		t.Errorf("sh -c 'exit 7': %s", r)
	}
	if r := crunIn(t, s, "run", "--rm", image, "/nonexistent"); r.Code != 127 {
		t.Errorf("/nonexistent: want 127: %s", r)
	}
	// Only the container's processes: ps itself is PID 1.
	ps := mustCrunIn(t, s, "run", "--rm", image, "ps", "-o", "pid,comm").Stdout
	if lines := strings.Split(strings.TrimSpace(ps), "\n"); len(lines) != 2 || strings.Fields(lines[1])[0] != "1" {
		t.Errorf("ps inside lists more than the container:\n%s", ps)
	}
	host, _ := os.Hostname()
	hn := mustCrunIn(t, s, "run", "--rm", image, "hostname").Stdout
	if strings.TrimSpace(hn) == host || !regexp.MustCompile(`^[0-9a-f]{12}\n$`).MatchString(hn) {
		t.Errorf("hostname inside = %q, want the container's 12-hex id (host is %q)", hn, host)
	}
}

func TestRunExitCodes(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		if r := crunIn(t, s, "run", "--rm", image, "sh", "-c", "exit 7"); r.Code != 7 || r.Stderr != "" {
			t.Errorf("exit 7: %s", r)
		}
		r := crunIn(t, s, "run", "--rm", image, "/nonexistent")
		if r.Code != 127 || !strings.Contains(r.Stderr, "/nonexistent") || strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("missing command: want 127 and one line naming it: %s", r)
		}
		r = crunIn(t, s, "run", "--rm", image, "no-such-command")
		if r.Code != 127 || !strings.Contains(r.Stderr, "no-such-command") {
			t.Errorf("command not in PATH: want 127: %s", r)
		}
		r = crunIn(t, s, "run", "--rm", image, "/etc/passwd")
		if r.Code != 126 || !strings.Contains(r.Stderr, "permission denied") {
			t.Errorf("non-executable file: want 126, permission denied: %s", r)
		}
		// stdout and stderr stay separate streams.
		r = crunIn(t, s, "run", "--rm", image, "sh", "-c", "echo out; echo err >&2")
		if r.Code != 0 || r.Stdout != "out\n" || r.Stderr != "err\n" {
			t.Errorf("stdout/stderr mixed up: %s", r)
		}
		assertNoRunDirs(t, s)
	})
}

func TestRunIsolation(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		// Only the container's processes: ps itself is PID 1.
		ps := mustCrunIn(t, s, "run", "--rm", image, "ps", "-o", "pid,comm").Stdout
		lines := strings.Split(strings.TrimSpace(ps), "\n")
		if len(lines) != 2 || strings.Fields(lines[1])[0] != "1" {
			t.Errorf("ps inside lists more than the container:\n%s", ps)
		}
		// The root filesystem is writable but the write stays in the container.
		mustCrunIn(t, s, "run", "--rm", image, "sh", "-c", "echo x > /new-file && cat /new-file")
		if r := crunIn(t, s, "run", "--rm", image, "cat", "/new-file"); r.Code == 0 {
			t.Errorf("a file written in one --rm container shows up in the next: %s", r)
		}
		// /sys is read-only. Creating a file in sysfs fails even when it is
		// writable, so what tells is the error: EROFS from a read-only
		// mount, EACCES from a writable one (as --privileged leaves it).
		ro := crunIn(t, s, "run", "--rm", image, "touch", "/sys/kernel/x")
		if ro.Code == 0 || !strings.Contains(ro.Stderr, "Read-only file system") {
			t.Errorf("/sys is not read-only: %s", ro)
		}
		if rw := crunIn(t, s, "run", "--rm", "--privileged", image, "touch", "/sys/kernel/x"); strings.Contains(rw.Stderr, "Read-only file system") {
			t.Errorf("--privileged: /sys is read-only, so the check above proves nothing: %s", rw)
		}
		// /proc is a fresh proc of the container.
		mounts := mustCrunIn(t, s, "run", "--rm", image, "cat", "/proc/mounts").Stdout
		for _, want := range []string{
			" /proc proc ", " /dev tmpfs ", " /dev/pts devpts ", " /dev/shm tmpfs ", " /dev/mqueue mqueue ", " /sys sysfs ro,",
			" /etc/hostname ", " /etc/hosts ", " /etc/resolv.conf ",
		} {
			if !strings.Contains(mounts, want) {
				t.Errorf("no %q in the container's mounts:\n%s", want, mounts)
			}
		}
		devs := mustCrunIn(t, s, "run", "--rm", image, "sh", "-c", "echo hi > /dev/null && head -c 4 /dev/zero | wc -c && ls /dev/pts/ptmx /dev/ptmx /dev/tty /dev/urandom /dev/full").Stdout
		if !strings.HasPrefix(devs, "4\n") {
			t.Errorf("/dev does not work:\n%s", devs)
		}
		// --network none leaves only loopback, up.
		ifs := mustCrunIn(t, s, "run", "--rm", "--network", "none", image, "cat", "/proc/net/dev").Stdout
		if strings.Count(ifs, ":") != 1 || !strings.Contains(ifs, "lo:") {
			t.Errorf("--network none: want only lo:\n%s", ifs)
		}
		if r := crunIn(t, s, "run", "--rm", "--network", "slirp5netns", image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "network not found") || !strings.Contains(r.Stderr, "bridge (the default)") {
			t.Errorf("--network slirp5netns: want a clear refusal naming the modes: %s", r)
		}
	})
}

func TestRunImageConfig(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		env := mustCrunIn(t, s, "run", "--rm", image, "env").Stdout
		for _, want := range []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "HOSTNAME="} {
			if !strings.Contains(env, want) {
				t.Errorf("env lacks %q:\n%s", want, env)
			}
		}
		// The image's Cmd is /bin/sh: with no command, it reads stdin (here /dev/null) and exits 0.
		if r := crunIn(t, s, "run", "--rm", image); r.Code != 0 {
			t.Errorf("image Cmd: %s", r)
		}
		if out := mustCrunIn(t, s, "run", "--rm", image, "pwd").Stdout; out != "/\n" {
			t.Errorf("workdir %q, want /", out)
		}
		id := mustCrunIn(t, s, "run", "--rm", "--user", "1000", image, "id").Stdout
		if !strings.HasPrefix(id, "uid=1000(user) gid=1000(user)") {
			t.Errorf("--user 1000: %q", id)
		}
		r := crunIn(t, s, "run", "--rm", "--user", "nosuchuser", image, "id")
		if r.Code != 125 || !strings.Contains(r.Stderr, "/etc/passwd") || strings.Contains(r.Stderr, "/etc/group") {
			t.Errorf("--user nosuchuser: want 125 naming /etc/passwd only: %s", r)
		}
		r = crunIn(t, s, "run", "--rm", "--user", "1000:nosuchgroup", image, "id")
		if r.Code != 125 || !strings.Contains(r.Stderr, "/etc/group") || strings.Contains(r.Stderr, "/etc/passwd") {
			t.Errorf("--user 1000:nosuchgroup: want 125 naming /etc/group only: %s", r)
		}
	})
}

// TestRunKeptContainer: without --rm the container stays in the store.
func TestRunKeptContainer(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		if r := crunIn(t, s, "run", "--name", "keep", image, "sh", "-c", "echo kept > /kept; exit 3"); r.Code != 3 {
			t.Fatalf("want exit 3: %s", r)
		}
		ps := mustCrunIn(t, s, "ps", "-a").Stdout
		if !strings.Contains(ps, "keep") || !strings.Contains(ps, "Exited (3)") {
			t.Errorf("ps -a does not show the exited container:\n%s", ps)
		}
		if r := crunIn(t, s, "run", "--name", "keep", image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "keep") {
			t.Errorf("a second container named keep: want 125: %s", r)
		}
		mustCrunIn(t, s, "rm", "keep")
		if ps := mustCrunIn(t, s, "ps", "-a").Stdout; strings.Contains(ps, "keep") {
			t.Errorf("rm left the container:\n%s", ps)
		}
		assertNoRunDirs(t, s)
	})
}

// TestSignalDeath: a container killed by a signal makes crun-lite exit 128+n.
func TestSignalDeath(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		marker := "MARKER=" + filepath.Base(filepath.Dir(s.Root))
		cmd, done := startCrun(t, s, "run", "--rm", image, "env", marker, "sleep", "100")
		pid := waitForProcess(t, marker)
		// SIGKILL from outside the container's pid namespace reaches its init.
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if code := waitExit(t, cmd, done); code != 128+9 {
			t.Errorf("exit code %d, want 137", code)
		}
		assertNoRunDirs(t, s)
	})
}

// TestCrashCleanup: a monitor killed with SIGKILL takes its container with it
// and the next command removes what it left.
func TestCrashCleanup(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		marker := "MARKER=" + filepath.Base(filepath.Dir(s.Root))
		cmd, done := startCrun(t, s, "run", "--rm", image, "env", marker, "sleep", "100")
		pid := waitForProcess(t, marker)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		waitExit(t, cmd, done)
		if !waitGone(pid) {
			t.Fatalf("the container (pid %d) outlived its killed monitor", pid)
		}
		if entries := runDirs(t, s); len(entries) != 1 {
			t.Fatalf("want the crashed run's dir left behind, found %v", entries)
		}
		// The next command collects it and is not blocked by it.
		mustCrunIn(t, s, "images")
		assertNoRunDirs(t, s)
		mustCrunIn(t, s, "run", "--rm", image, "true")
	})
}

// waitGone waits up to 5 s for process pid to be gone and tells whether it is.
func waitGone(pid int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return true
		}
	}
	return syscall.Kill(pid, 0) != nil
}

// TestCrashCleanupKept: a kept container whose monitor is killed is not
// left "running": the next command marks it exited (its first process died
// with the monitor), rm removes it and later runs work. Its foreground run,
// attached to the monitor, ends too.
func TestCrashCleanupKept(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		marker := "MARKER=" + filepath.Base(filepath.Dir(s.Root))
		start := time.Now()
		cmd, done := startCrun(t, s, "run", "--name", "victim", image, "env", marker, "sleep", "100")
		pid := waitForProcess(t, marker)
		// The monitor records "running" right after the exec we saw.
		for ps := ""; !strings.Contains(ps, "victim"); ps = mustCrunIn(t, s, "ps").Stdout {
			if time.Since(start) > 20*time.Second {
				t.Fatalf("ps does not list the running container:\n%s", ps)
			}
		}
		if s.Extra != nil && len(holderMountsUnder(t, s.Root)) == 0 {
			t.Error("no fuse-overlayfs mount seen while the container runs")
		}
		killMonitor(t, s)
		waitExit(t, cmd, done)
		waitGone(pid)
		ps := mustCrunIn(t, s, "ps", "-a").Stdout
		if !strings.Contains(ps, "victim") || !strings.Contains(ps, "Exited (137)") {
			t.Errorf("ps -a does not show the killed container exited:\n%s", ps)
		}
		if ps := mustCrunIn(t, s, "ps").Stdout; strings.Contains(ps, "victim") {
			t.Errorf("ps lists the killed container as running:\n%s", ps)
		}
		assertNoRunDirs(t, s)
		if m := holderMountsUnder(t, s.Root); len(m) != 0 {
			t.Errorf("the killed run's mounts are left: %v", m)
		}
		mustCrunIn(t, s, "rm", "victim")
		if out := mustCrunIn(t, s, "run", "--name", "victim", image, "echo", "again").Stdout; out != "again\n" {
			t.Errorf("a new container of the same name: %q", out)
		}
		mustCrunIn(t, s, "rm", "victim")
		mustCrunIn(t, s, "run", "--rm", image, "true")
		assertNoRunDirs(t, s)
	})
}

// holderMountsUnder lists the mount points under dir in the mount namespace
// where crun-lite mounts fuse-overlayfs: the user-namespace holder's (ours
// as real root, which has none).
func holderMountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	proc := "self"
	if data, err := os.ReadFile(filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "crun-lite", "userns.pid")); err == nil && os.Geteuid() != 0 {
		proc = strings.Fields(string(data))[0]
	}
	data, err := os.ReadFile("/proc/" + proc + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var under []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			under = append(under, f[4])
		}
	}
	return under
}

// TestConcurrentRunsAndGC: every command collects the run dirs of dead runs
// (run too, once its container started); none may take the dir of a run
// that is still starting.
func TestConcurrentRunsAndGC(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		stop := make(chan struct{})
		collections := make(chan int)
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					collections <- n
					return
				default:
				}
				crunIn(t, s, "images", "-q")
				n++
			}
		}()
		var runs sync.WaitGroup
		failed := make(chan string, 100)
		for range 4 {
			runs.Add(1)
			go func() {
				defer runs.Done()
				for range 15 {
					if r := crunIn(t, s, "run", "--rm", image, "echo", "ok"); r.Code != 0 || r.Stdout != "ok\n" {
						failed <- r.String()
					}
				}
			}()
		}
		runs.Wait()
		close(stop)
		if n := <-collections; n == 0 {
			t.Error("no other command ran alongside the runs")
		}
		close(failed)
		for f := range failed {
			t.Errorf("a run failed beside the garbage collection of others: %s", f)
		}
		assertNoRunDirs(t, s)
	})
}

// TestPullTransports: the checks of TestRunBasics pass after a pull through
// each of containers/image's local transports, into each kind of store.
// The docker-archive and dir copies are made here with skopeo.
func TestPullTransports(t *testing.T) {
	layout := imagePath("busybox")
	tmp := t.TempDir()
	skopeo := func(dst string) {
		t.Helper()
		cmd := exec.Command("skopeo", "--insecure-policy", "copy", "-q", "oci:"+layout+":latest", dst)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy to %s: %v\n%s", dst, err, out)
		}
	}
	skopeo("docker-archive:" + tmp + "/busybox-docker.tar:localhost/docker-archived:v1")
	skopeo("dir:" + tmp + "/busybox-dir")
	transports := []struct {
		name, ref string
		as        string // a name the pulled image must answer to, besides its ID
	}{
		{"oci-archive", "oci-archive:" + layout + ".tar", "busybox"}, // the archive's index names it
		{"oci", "oci:" + layout + ":latest", "localhost" + layout + ":latest"},
		{"docker-archive", "docker-archive:" + tmp + "/busybox-docker.tar", "localhost/docker-archived:v1"},
		{"dir", "dir:" + tmp + "/busybox-dir", ""},
	}
	for _, k := range storeKinds {
		for _, tr := range transports {
			t.Run(k.name+"/"+tr.name, func(t *testing.T) {
				s := testStore(t)
				s.Extra = k.extra
				r := mustCrunIn(t, s, "pull", "-q", tr.ref)
				if !hexID.MatchString(r.Stdout) {
					t.Fatalf("pull %s: want the image ID: %s", tr.ref, r)
				}
				checkBasics(t, s, strings.TrimSpace(r.Stdout))
				if tr.as != "" {
					if out := mustCrunIn(t, s, "run", "--rm", tr.as, "echo", "named").Stdout; out != "named\n" {
						t.Errorf("run %s after pull %s: %q", tr.as, tr.ref, out)
					}
				}
				assertNoRunDirs(t, s)
			})
		}
	}
}

func TestBadInput(t *testing.T) {
	s := testStore(t)
	mustCrunIn(t, s, "images") // the store is made: its one line is not the error's
	cases := []struct{ ref, want string }{
		{Registry + "/test/no-such-image:latest", "no-such-image"},
		{"Not A Valid Reference!", "Not A Valid Reference!"},
		{"127.0.0.1:1/unreachable/image", "127.0.0.1:1/unreachable/image"},
		{"oci-archive:/nonexistent.tar", "/nonexistent.tar"},
	}
	for _, c := range cases {
		for _, args := range [][]string{{"pull", "--tls-verify=false", c.ref}, {"run", "--rm", "--tls-verify=false", c.ref, "true"}} {
			r := crunIn(t, s, args...)
			if r.Code != 125 || !strings.Contains(r.Stderr, c.want) || strings.Count(r.Stderr, "\n") != 1 {
				t.Errorf("%v: want exit 125 and one line naming %q: %s", args, c.want, r)
			}
		}
	}
	if out := mustCrunIn(t, s, "images", "-q").Stdout; out != "" {
		t.Errorf("failed pulls left images behind:\n%s", out)
	}
}

func mappedIDs(t *testing.T, idMap string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(idMap), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("bad id map line %q", line)
		}
		c, _ := strconv.Atoi(f[2])
		n += c
	}
	return n
}

func runDirs(t *testing.T, s store) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Root, "crun-lite-runs"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != ".trash" { // deleted in the background, out of every listing
			names = append(names, e.Name())
		}
	}
	return names
}

func assertNoRunDirs(t *testing.T, s store) {
	t.Helper()
	if d := runDirs(t, s); len(d) != 0 {
		t.Errorf("run dirs left behind: %v", d)
	}
}

// startCrun starts crun-lite in the background; done is closed when it exits.
func startCrun(t *testing.T, s store, args ...string) (*exec.Cmd, chan struct{}) {
	t.Helper()
	full := append(append([]string{"--root", s.Root, "--runroot", s.RunRoot}, s.Extra...), args...)
	cmd := exec.Command(Bin, full...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd, done
}

func waitExit(t *testing.T, cmd *exec.Cmd, done chan struct{}) int {
	t.Helper()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatal("crun-lite did not exit")
		return -1
	}
}

// waitForProcess finds the host pid of a process with the environment
// entry marker (unique to the test's store), as the container's sleep is.
func waitForProcess(t *testing.T, marker string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		matches, _ := filepath.Glob("/proc/[0-9]*/environ")
		for _, m := range matches {
			b, err := os.ReadFile(m)
			if err != nil {
				continue
			}
			if slices.Contains(strings.Split(string(b), "\x00"), marker) {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(m)))
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no process %s appeared", marker)
	return 0
}

// TestRunCacheFollowsStore: a --rm run remembers what it resolved (the run
// cache), and anything the store changes since makes it look again.
func TestRunCacheFollowsStore(t *testing.T) {
	s := testStore(t)
	rootfs := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	if err := os.WriteFile(rootfs, busyboxLayer(t).gz, 0o644); err != nil {
		t.Fatal(err)
	}
	mustCrunIn(t, s, "import", "-q", "-c", "ENV MARK=one", rootfs, "cached")
	for i := 0; i < 2; i++ { // the second run answers from the cache
		if out := mustCrunIn(t, s, "run", "--rm", "cached", "sh", "-c", "echo $MARK").Stdout; out != "one\n" {
			t.Fatalf("run %d: %q", i, out)
		}
	}
	data, err := os.ReadFile(filepath.Join(s.Root, "crun-lite-runcache.json"))
	if err != nil || !strings.Contains(string(data), `"cached"`) {
		t.Fatalf("no run cache entry for the image: %v %s", err, data)
	}
	// The same name on another image: the cache must not answer.
	mustCrunIn(t, s, "import", "-q", "-c", "ENV MARK=two", rootfs, "cached")
	if out := mustCrunIn(t, s, "run", "--rm", "cached", "sh", "-c", "echo $MARK").Stdout; out != "two\n" {
		t.Errorf("after a new image took the name: %q", out)
	}
	mustCrunIn(t, s, "rmi", "cached")
	if r := crunIn(t, s, "run", "--rm", "cached", "sh", "-c", "echo $MARK"); r.Code == 0 || r.Stdout != "" {
		t.Errorf("the image is gone but run used it: %s", r)
	}
}

// TestFuseMountProgramGone: a fuse store whose host broke since (here its
// mount program is gone; a /dev/fuse without the udev rule is the same
// check) fails with the same one-line error and hint whether the run cache
// answers for the image, the store must be opened, or the run is kept.
func TestFuseMountProgramGone(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "fuse-overlayfs")
	data, err := os.ReadFile("/usr/bin/fuse-overlayfs")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, data, 0o755); err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	s.Extra = []string{"--storage-driver", "overlay", "--storage-opt", "overlay.mount_program=" + prog}
	image := Registry + "/test/busybox:latest"
	id := strings.TrimSpace(mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image).Stdout)
	mustCrunIn(t, s, "run", "--rm", image, "true")
	if cache, _ := os.ReadFile(filepath.Join(s.Root, "crun-lite-runcache.json")); !strings.Contains(string(cache), image) {
		t.Fatalf("the run cache does not know %s: %s", image, cache)
	}
	if err := os.Remove(prog); err != nil {
		t.Fatal(err)
	}
	cached := crunIn(t, s, "run", "--rm", image, "true")
	uncached := crunIn(t, s, "run", "--rm", id, "true") // not in the cache under its ID
	kept := crunIn(t, s, "run", image, "true")
	for _, r := range []result{cached, uncached, kept} {
		lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
		if r.Code != 125 || len(lines) != 2 || !strings.Contains(lines[0], prog) || !strings.HasPrefix(lines[1], "hint: ") {
			t.Errorf("want 125, one line naming %s and a hint: %s", prog, r)
		}
	}
	if cached.Stderr != uncached.Stderr || kept.Stderr != cached.Stderr {
		t.Errorf("the cached, the uncached and the kept run fail differently:\n%s\n%s\n%s", cached.Stderr, uncached.Stderr, kept.Stderr)
	}
}

// TestRunPullsTransportReference: run of an image that is not stored yet,
// given as a transport reference, pulls it and runs it (the name the image
// gets is not the reference).
func TestRunPullsTransportReference(t *testing.T) {
	for _, rm := range [][]string{{"--rm"}, {}} {
		s := testStore(t)
		args := append(append([]string{"run"}, rm...), "oci-archive:"+imagePath("busybox")+".tar", "echo", "ran")
		if r := crunIn(t, s, args...); r.Code != 0 || r.Stdout != "ran\n" {
			t.Errorf("%v: %s", args, r)
		}
	}
}

// TestVolatileOnlyForThrowawayUppers: a --rm container's upper dir is
// mounted volatile (no syncs: it is deleted at exit), on the kernel's
// overlay and on fuse-overlayfs alike, as Podman does; a kept container's
// is not, since its files must survive a crash and the kernel refuses to
// mount an upper dir again once it was mounted volatile.
func TestVolatileOnlyForThrowawayUppers(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		fuse := len(s.Extra) > 0
		for _, c := range []struct {
			args []string
			want bool
		}{
			{[]string{"run", "--rm"}, true},
			{[]string{"run", "--name", "kept"}, false},
		} {
			var got bool
			if fuse {
				got = fuseVolatileWhileRunning(t, s, append(c.args, image, "sleep", "2"))
			} else {
				out := mustCrunIn(t, s, append(c.args, image, "grep", " / / ", "/proc/self/mountinfo")...).Stdout
				if !strings.Contains(out, " overlay ") {
					t.Fatalf("%v: no overlay root in mountinfo: %q", c.args, out)
				}
				// Older kernels show ",volatile", newer ones ",fsync=volatile".
				got = strings.Contains(out, ",volatile") || strings.Contains(out, ",fsync=volatile")
			}
			if got != c.want {
				t.Errorf("%v: upper mounted volatile = %v, want %v", c.args, got, c.want)
			}
		}
	})
}

// fuseVolatileWhileRunning runs a sleeping container in s and reports
// whether the fuse-overlayfs serving its root was given "volatile".
func fuseVolatileWhileRunning(t *testing.T, s store, args []string) bool {
	t.Helper()
	cmd := exec.Command(Bin, append(append(s.globalFlags(), s.Extra...), args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			b, err := os.ReadFile(p)
			line := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
			if err == nil && strings.Contains(line, "fuse-overlayfs") && strings.Contains(line, s.Root+"/") {
				return strings.Contains(line, ",volatile")
			}
		}
	}
	t.Fatalf("%v: no fuse-overlayfs for the store while it ran", args)
	return false
}
