//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// detach runs `run -d args` and returns the container's ID.
func detach(t *testing.T, s store, args ...string) string {
	t.Helper()
	r := mustCrunIn(t, s, append([]string{"run", "-d"}, args...)...)
	if !hexID.MatchString(r.Stdout) || r.Stderr != "" {
		t.Fatalf("run -d: want only the container's ID on stdout:\n%s", r)
	}
	return strings.TrimSpace(r.Stdout)
}

// psLine is the line of `ps -a` for the container named name ("" if none).
func psLine(t *testing.T, s store, name string) string {
	t.Helper()
	for _, l := range strings.Split(mustCrunIn(t, s, "ps", "-a").Stdout, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[len(f)-1] == name {
			return l
		}
	}
	return ""
}

// monitors lists the pids of the monitors running for store s.
func monitors(t *testing.T, s store) []int {
	t.Helper()
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && args[0] == "crun-lite-monitor" && strings.HasPrefix(args[1], "rundir="+s.Root+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killMonitor SIGKILLs the one monitor running for s and waits until it
// is gone.
func killMonitor(t *testing.T, s store) {
	t.Helper()
	m := monitors(t, s)
	if len(m) != 1 {
		t.Fatalf("monitors: %v", m)
	}
	if err := syscall.Kill(m[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the monitor to die", func() bool { return !processExists(m[0]) })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// The whole round trip of a kept detached container: run -d returns while
// it runs, ps says Up, logs has stdout and stderr apart, stop ends it with
// its own exit code, ps -a says Exited (N), rm removes it, and nothing is
// left: no run dir, no monitor.
func TestDetachRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		id := detach(t, s, "--name", "web", image, "sh", "-c",
			`trap 'echo stopping; exit 7' TERM; echo out-line; echo err-line >&2; while :; do sleep 0.05; done`)
		if l := psLine(t, s, "web"); !strings.HasPrefix(l, id[:12]) || !strings.Contains(l, "Up ") {
			t.Fatalf("ps -a while it runs: %q", l)
		}
		if q := mustCrunIn(t, s, "ps", "-q", "--no-trunc").Stdout; q != id+"\n" {
			t.Errorf("ps -q --no-trunc: got %q, want the ID", q)
		}
		if n := len(monitors(t, s)); n != 1 {
			t.Errorf("%d monitors run, want 1", n)
		}
		waitFor(t, "the container's output in its log", func() bool {
			return strings.Contains(crunIn(t, s, "logs", "web").Stderr, "err-line")
		})
		logs := mustCrunIn(t, s, "logs", "web")
		if logs.Stdout != "out-line\n" || logs.Stderr != "err-line\n" {
			t.Errorf("logs: want out-line on stdout and err-line on stderr:\n%s", logs)
		}
		if r := mustCrunIn(t, s, "exec", "web", "sh", "-c", "echo in-$(hostname)"); r.Stdout != "in-"+id[:12]+"\n" {
			t.Errorf("exec into the detached container:\n%s", r)
		}
		if r := mustCrunIn(t, s, "stop", "web"); r.Stdout != "web\n" {
			t.Errorf("stop prints the name as given:\n%s", r)
		}
		if l := psLine(t, s, "web"); !strings.Contains(l, "Exited (7) ") {
			t.Errorf("ps -a after stop: %q, want Exited (7)", l)
		}
		if r := mustCrunIn(t, s, "wait", id[:12]); r.Stdout != "7\n" {
			t.Errorf("wait of the exited container: %q, want 7", r.Stdout)
		}
		if !strings.Contains(mustCrunIn(t, s, "logs", "web").Stdout, "stopping") {
			t.Errorf("the log lost the trap's line")
		}
		waitFor(t, "the monitor to exit", func() bool { return len(monitors(t, s)) == 0 })
		if r := mustCrunIn(t, s, "rm", "web"); r.Stdout != id+"\n" {
			t.Errorf("rm prints the ID:\n%s", r)
		}
		if l := psLine(t, s, "web"); l != "" {
			t.Errorf("ps -a after rm: %q", l)
		}
		assertNoRunDirs(t, s)
	})
}

// run -d --rm leaves nothing: not in ps -a once it exited, no run dir, no
// monitor, no storage container.
func TestDetachRemoveLeavesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		id := detach(t, s, "--rm", image, "sh", "-c", "echo bye")
		waitFor(t, "the --rm container to go", func() bool {
			return !strings.Contains(mustCrunIn(t, s, "ps", "-a", "--no-trunc").Stdout, id) && len(runDirs(t, s)) == 0
		})
		if m := monitors(t, s); len(m) != 0 {
			t.Errorf("monitors left: %v", m)
		}
		if r := crunIn(t, s, "logs", id); r.Code != 125 {
			t.Errorf("logs of a removed --rm container: want 125:\n%s", r)
		}
	})
}

// A pid 1 without a TERM handler ignores SIGTERM: stop -t 1 ends it with
// SIGKILL, 137, and a second stop of it is no error.
func TestStopTimesOutToKill(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	detach(t, s, "--name", "stubborn", image, "sleep", "1000")
	mustCrunIn(t, s, "stop", "-t", "1", "stubborn")
	if l := psLine(t, s, "stubborn"); !strings.Contains(l, "Exited (137)") {
		t.Errorf("ps -a: %q, want Exited (137)", l)
	}
	if r := crunIn(t, s, "stop", "stubborn"); r.Code != 0 || r.Stdout != "stubborn\n" {
		t.Errorf("second stop:\n%s", r)
	}
	// --stop-signal is what stop sends first.
	detach(t, s, "--name", "hup", "--stop-signal", "HUP", image, "sh", "-c", `trap 'exit 3' HUP; while :; do sleep 0.05; done`)
	mustCrunIn(t, s, "stop", "-t", "30", "hup")
	if l := psLine(t, s, "hup"); !strings.Contains(l, "Exited (3)") {
		t.Errorf("stop with --stop-signal HUP: %q, want Exited (3)", l)
	}
}

// kill -9 of a monitor: the container dies with it (its parent-death
// signal), ps says Exited (137), logs still reads, rm removes it, nothing
// is left.
func TestMonitorKilled(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		detach(t, s, "--name", "orphan", image, "sh", "-c", "echo before; sleep 1000")
		waitFor(t, "the log", func() bool { return mustCrunIn(t, s, "logs", "orphan").Stdout == "before\n" })
		killMonitor(t, s)
		waitFor(t, "ps to show it exited", func() bool { return strings.Contains(psLine(t, s, "orphan"), "Exited (137)") })
		if r := mustCrunIn(t, s, "logs", "orphan"); r.Stdout != "before\n" {
			t.Errorf("logs after the monitor died:\n%s", r)
		}
		mustCrunIn(t, s, "stop", "orphan")
		mustCrunIn(t, s, "rm", "orphan")
		assertNoRunDirs(t, s)
	})
}

// A name in use is refused with the fix named; --replace replaces it.
func TestDetachNameInUse(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	first := detach(t, s, "--name", "db", image, "sleep", "1000")
	r := crunIn(t, s, "run", "-d", "--name", "db", image, "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, `"db" is already in use`) || !strings.Contains(r.Stderr, "--replace") || r.Stdout != "" {
		t.Errorf("run -d with a name in use: want 125 and a hint naming --replace:\n%s", r)
	}
	second := detach(t, s, "--replace", "--name", "db", image, "sleep", "1000")
	out := mustCrunIn(t, s, "ps", "-a", "--no-trunc").Stdout
	if strings.Contains(out, first) || !strings.Contains(out, second) {
		t.Errorf("--replace: ps -a shows\n%s", out)
	}
	// rm of a running container needs -f.
	if r := crunIn(t, s, "rm", "db"); r.Code != 2 && r.Code != 125 || !strings.Contains(r.Stderr, "rm -f") {
		t.Errorf("rm of a running container: want a refusal naming rm -f:\n%s", r)
	}
	mustCrunIn(t, s, "rm", "-f", "db")
	assertNoRunDirs(t, s)
}

// logs -f prints lines as they come and returns when the container exits.
func TestLogsFollow(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	detach(t, s, "--name", "ticker", image, "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.3; done")
	r := mustCrunIn(t, s, "logs", "-f", "ticker")
	if r.Stdout != "tick 1\ntick 2\ntick 3\n" {
		t.Errorf("logs -f:\n%s", r)
	}
	// --tail and -t.
	tail := mustCrunIn(t, s, "logs", "--tail", "1", "-t", "ticker").Stdout
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) tick 3\n$`).MatchString(tail) {
		t.Errorf("logs --tail 1 -t: %q", tail)
	}
}

// The log is in Podman's k8s-file format, and --log-opt max-size rotates it.
func TestLogFormatAndRotation(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	id := detach(t, s, "--name", "chatty", "--log-opt", "max-size=4k", image, "sh", "-c",
		"i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done; printf partial")
	mustCrunIn(t, s, "wait", "chatty")
	var log string
	filepath.Walk(s.Root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Name() == "ctr.log" && strings.Contains(p, id) {
			log = p
		}
		return nil
	})
	if log == "" {
		t.Fatal("no ctr.log in the container's storage dir")
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d (stdout|stderr) (F|P) `)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Fatalf("not a k8s-file line: %q", l)
		}
	}
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, " stdout P partial") {
		t.Errorf("the last, unterminated, output: %q, want a P line", last)
	}
	if fi, err := os.Stat(log + ".1"); err != nil || fi.Size() > 4096+512 {
		t.Errorf("rotated log %s.1: %v, size over the cap", log, err)
	}
	if len(b) > 4096+512 {
		t.Errorf("log of %d bytes, cap 4k", len(b))
	}
	if out := mustCrunIn(t, s, "logs", "--tail", "2", "chatty").Stdout; out != "line-399\npartial" {
		t.Errorf("logs --tail 2 across the rotation: %q", out)
	}
}

// 50 detached containers (30 running) are listed.
func TestManyDetached(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	var wg sync.WaitGroup
	ids := make([]string, 50)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := "sleep 1000"
			if i >= 30 {
				cmd = "true"
			}
			r := crunIn(t, s, "run", "-d", "--name", fmt.Sprintf("c%02d", i), image, "sh", "-c", cmd)
			if r.Code != 0 {
				t.Errorf("run -d c%02d:\n%s", i, r)
			}
			ids[i] = strings.TrimSpace(r.Stdout)
		}()
	}
	wg.Wait()
	waitFor(t, "20 to exit", func() bool {
		return strings.Count(mustCrunIn(t, s, "ps", "-a", "--filter", "status=exited").Stdout, "Exited (0)") == 20
	})
	if n := len(strings.Fields(mustCrunIn(t, s, "ps", "-q").Stdout)); n != 30 {
		t.Errorf("ps -q: %d running, want 30", n)
	}
	if n := len(strings.Fields(mustCrunIn(t, s, "ps", "-aq").Stdout)); n != 50 {
		t.Errorf("ps -aq: %d, want 50", n)
	}
	r := mustCrunIn(t, s, "ps", "--format", "json")
	if strings.Count(r.Stdout, `"State": "running"`) != 30 {
		t.Errorf("ps --format json: want 30 running:\n%.2000s", r.Stdout)
	}
	mustCrunIn(t, s, "stop", "-t", "0", "--all")
	if n := len(strings.Fields(mustCrunIn(t, s, "ps", "-q").Stdout)); n != 0 {
		t.Errorf("after stop --all, %d still run", n)
	}
	waitFor(t, "every monitor to exit", func() bool { return len(monitors(t, s)) == 0 })
	mustCrunIn(t, s, "rm", "--all")
	assertNoRunDirs(t, s)
}

// Unknown containers get Podman's line and 125.
func TestUnknownContainer(t *testing.T) {
	s := testStore(t)
	loadBusybox(t, s)
	for _, args := range [][]string{{"stop", "nosuch"}, {"kill", "nosuch"}, {"wait", "nosuch"}, {"logs", "nosuch"}, {"rm", "nosuch"}} {
		r := crunIn(t, s, args...)
		want := 125
		if args[0] == "rm" {
			want = 1 // Podman's
		}
		if r.Code != want || r.Stderr != "Error: no container with name or ID \"nosuch\" found: no such container\n" {
			t.Errorf("%v:\n%s", args, r)
		}
	}
	if r := crunIn(t, s, "rm", "-f", "nosuch"); r.Code != 0 {
		t.Errorf("rm -f of a missing container is no error:\n%s", r)
	}
	// The cleanup line of countless scripts.
	detach(t, s, "--name", "left", "localhost/busybox:latest", "sleep", "1000")
	if r := crunIn(t, s, "rm", "-t", "0", "--all", "--force", "--ignore"); r.Code != 0 || !strings.Contains(r.Stdout, "\n") {
		t.Errorf("rm -t 0 --all --force --ignore:\n%s", r)
	}
	if l := psLine(t, s, "left"); l != "" {
		t.Errorf("still listed after rm --all --force: %q", l)
	}
}

// run -dit gives the container a terminal held by its monitor: a shell
// waits on it instead of exiting, and its output is logged.
func TestDetachTerminal(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	detach(t, s, "-it", "--name", "shell", image, "sh", "-c", "tty; exec sh")
	waitFor(t, "the tty line", func() bool { return strings.Contains(mustCrunIn(t, s, "logs", "shell").Stdout, "/dev/pts/") })
	time.Sleep(200 * time.Millisecond)
	if l := psLine(t, s, "shell"); !strings.Contains(l, "Up ") {
		t.Errorf("an interactive shell on the monitor's terminal exited: %q", l)
	}
	mustCrunIn(t, s, "stop", "-t", "0", "shell")
	// The Ctrl-C of the shell that runs run -d reaches crun-lite, not a
	// container in its own session: nothing to check beyond -i keeping
	// stdin open.
	detach(t, s, "-i", "--name", "reader", image, "cat")
	time.Sleep(200 * time.Millisecond)
	if l := psLine(t, s, "reader"); !strings.Contains(l, "Up ") {
		t.Errorf("-i: cat read end of file: %q", l)
	}
	mustCrunIn(t, s, "rm", "-f", "reader", "shell")
	assertNoRunDirs(t, s)
}

// A failing start of run -d exits like run, prints no ID and leaves nothing.
func TestDetachFailure(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	for _, tc := range []struct {
		code int
		args []string
	}{{127, []string{image, "/nonexistent"}}, {125, []string{"--rm", "--tls-verify=false", Registry + "/test/nosuch:latest"}}, {126, []string{image, "/etc"}}} {
		r := crunIn(t, s, append([]string{"run", "-d"}, tc.args...)...)
		if r.Code != tc.code || r.Stdout != "" {
			t.Errorf("run -d %v: want %d and no ID:\n%s", tc.args, tc.code, r)
		}
	}
	if m := monitors(t, s); len(m) != 0 {
		t.Errorf("monitors left: %v", m)
	}
	assertNoRunDirs(t, s)
}

// loadBusybox puts the test busybox into s from its archive (no registry
// round trip) and returns its name.
func loadBusybox(t *testing.T, s store) string {
	t.Helper()
	mustCrunIn(t, s, "load", "-q", "-i", filepath.Join(TestData, "images", "busybox.tar"))
	return "localhost/busybox:latest"
}

// Detach and re-attach through a real pty: attach shows the shell of a
// run -dit container, follows our window size, passes keys, detaches with
// Ctrl-P Ctrl-Q leaving it running, and a second attach ends with the
// shell's exit code.
func TestAttachRoundTrip(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	detach(t, s, "-it", "--name", "sh", image, "sh")
	se := startSession(t, s, 33, 99, "attach", "sh")
	se.send("stty size\r")
	se.expect(`\b33 99\r\n`)
	if err := pty.Setsize(se.master, &pty.Winsize{Rows: 44, Cols: 111}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // SIGWINCH reaches crun-lite asynchronously
	se.send("stty size\r")
	se.expect(`\b44 111\r\n`)
	se.send("echo mark-$((6*7))\r")
	se.expect(`mark-42`)
	se.send("\x10\x11") // Ctrl-P Ctrl-Q
	if code := se.exit(); code != 0 {
		t.Errorf("attach after the detach keys: exit %d, want 0", code)
	}
	if l := psLine(t, s, "sh"); !strings.Contains(l, "Up ") {
		t.Fatalf("the container did not stay up after detaching: %q", l)
	}
	// A Ctrl-P followed by another key is no detach: both reach the shell.
	se = startSession(t, s, 24, 80, "attach", "--detach-keys", "ctrl-x", "sh")
	se.send("echo again\r")
	se.expect(`again\r\n`)
	se.send("exit 5\r")
	if code := se.exit(); code != 5 {
		t.Errorf("attach until the shell exits 5: crun-lite exited %d", code)
	}
	waitFor(t, "Exited (5)", func() bool { return strings.Contains(psLine(t, s, "sh"), "Exited (5)") })
}

// Attach to a container without a terminal streams its stdout and stderr
// apart and, with -i, passes our stdin; its end of file ends the
// container's stdin.
func TestAttachWithoutTerminal(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	detach(t, s, "-i", "--name", "cat", image, "sh", "-c", "echo ready >&2; cat; echo done")
	waitFor(t, "ready", func() bool { return strings.Contains(crunIn(t, s, "logs", "cat").Stderr, "ready") })
	r := crunWithStdin(t, s, "from-stdin\n", "attach", "cat")
	if r.Code != 0 || r.Stdout != "from-stdin\ndone\n" {
		t.Errorf("attach -i with stdin then EOF:\n%s", r)
	}
	if r := crunIn(t, s, "attach", "cat"); r.Code != 125 || !strings.Contains(r.Stderr, "only attach to running containers") {
		t.Errorf("attach to an exited container:\n%s", r)
	}
}

// Two stops at once, and an exec racing them, all end: the stops exit 0,
// the exec with the command's or the kill's code, nothing hangs, and the
// container is recorded exited once.
func TestStopRaces(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	detach(t, s, "--name", "race", image, "sleep", "1000")
	var wg sync.WaitGroup
	results := make([]result, 3)
	for i, args := range [][]string{{"stop", "-t", "0", "race"}, {"stop", "-t", "0", "race"}, {"exec", "race", "sleep", "5"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = crunIn(t, s, args...)
		}()
	}
	wg.Wait()
	for i := 0; i < 2; i++ {
		if results[i].Code != 0 || results[i].Stdout != "race\n" {
			t.Errorf("stop %d:\n%s", i, results[i])
		}
	}
	if c := results[2].Code; c != 137 && c != 125 && c != 0 {
		t.Errorf("exec racing stop: exit %d, want 137 (killed with the container) or 125 (too late):\n%s", c, results[2])
	}
	if l := psLine(t, s, "race"); !strings.Contains(l, "Exited (137)") {
		t.Errorf("ps -a: %q", l)
	}
	waitFor(t, "the monitor to exit", func() bool { return len(monitors(t, s)) == 0 })
	mustCrunIn(t, s, "rm", "race")
	assertNoRunDirs(t, s)
}

// A reboot wipes the run root (tmpfs) and ends every process: kept
// containers then show Exited and can be removed; nothing blocks on a
// stale lock.
func TestRunRootWiped(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	detach(t, s, "--name", "boot", image, "sleep", "1000")
	// The machine goes down: the monitor and its container die, the
	// run root goes.
	killMonitor(t, s)
	entries, _ := os.ReadDir(s.RunRoot)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(s.RunRoot, e.Name()))
	}
	waitFor(t, "Exited (137)", func() bool { return strings.Contains(psLine(t, s, "boot"), "Exited (137)") })
	mustCrunIn(t, s, "rm", "boot")
	detach(t, s, "--name", "boot", "--rm", image, "true")
	waitFor(t, "the --rm run to go", func() bool { return len(runDirs(t, s)) == 0 })
}

// /run/.containerenv has Podman's keys and container= is set, as Podman
// does (toolbx and scripts look for them); a -v over /run gets none, and
// nothing is created in its host dir.
func TestContainerEnvFile(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	r := mustCrunIn(t, s, "run", "--rm", "--name", "envf", image, "sh", "-c", "cat /run/.containerenv; echo container=$container")
	for _, want := range []string{`engine="crun-lite-`, `name="envf"`, `image="` + image + `"`, "\nimageid=\"", "\nid=\"", "\nrootless=", "\ncontainer=oci\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("no %q in:\n%s", want, r.Stdout)
		}
	}
	dir := t.TempDir()
	if r := crunIn(t, s, "run", "--rm", "-v", dir+":/run", image, "test", "-e", "/run/.containerenv"); r.Code != 1 {
		t.Errorf("with -v over /run: want no .containerenv:\n%s", r)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files made in the host dir of -v: %v", entries)
	}
}

// run -it on a terminal detaches with the detach keys, as Podman's does:
// the container runs on (its monitor was there from the start), attach
// gets it back, and its --rm still removes it once it exits.
func TestRunDetachKeys(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	se := startSession(t, s, 30, 90, "run", "-it", "--rm", "--name", "keys", image, "sh")
	se.send("stty size; echo x-$((40+2))\r")
	se.expect(`\b30 90\r\nx-42\r\n`)
	se.send("\x10\x11") // Ctrl-P Ctrl-Q
	if code := se.exit(); code != 0 {
		t.Errorf("run -it after the detach keys: exit %d, want 0", code)
	}
	if l := psLine(t, s, "keys"); !strings.Contains(l, "Up ") {
		t.Fatalf("the container did not stay up after detaching: %q", l)
	}
	if r := mustCrunIn(t, s, "logs", "keys"); !strings.Contains(r.Stdout, "x-42") {
		t.Errorf("logs of run -it: no x-42 in\n%s", r)
	}
	se = startSession(t, s, 24, 80, "attach", "keys")
	se.send("echo back\r")
	se.expect(`back\r\n`)
	se.send("exit 4\r")
	if code := se.exit(); code != 4 {
		t.Errorf("attach until the shell exits 4: exit %d", code)
	}
	waitFor(t, "the --rm container gone", func() bool { return psLine(t, s, "keys") == "" })
	if m := monitors(t, s); len(m) != 0 {
		t.Errorf("monitors left: %v", m)
	}
	assertNoRunDirs(t, s)

	// Other keys, and none: Ctrl-P Ctrl-Q are then the shell's.
	se = startSession(t, s, 24, 80, "run", "-it", "--rm", "--detach-keys", "ctrl-a,x", image, "sh")
	se.send("\x10\x11echo typed\r")
	se.expect(`typed\r\n`)
	se.send("\x01x")
	if code := se.exit(); code != 0 {
		t.Errorf("run -it after --detach-keys ctrl-a,x: exit %d, want 0", code)
	}
	se = startSession(t, s, 24, 80, "run", "-it", "--rm", "--detach-keys", "", image, "sh")
	se.send("\x10\x11echo kept\r")
	se.expect(`kept\r\n`)
	se.send("exit 6\r")
	if code := se.exit(); code != 6 {
		t.Errorf("run -it --detach-keys '': exit %d, want 6", code)
	}
	mustCrunIn(t, s, "rm", "-f", "--all")
	if r := crunIn(t, s, "run", "-it", "--detach-keys", "ctrl-1", image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "ctrl-1") {
		t.Errorf("a bad --detach-keys:\n%s", r)
	}
}

// A kept container run in the foreground is logged as a detached one is:
// its output reaches us as it always did (stdout and stderr apart, our
// stdin with -i, its exit code ours), and logs shows it afterwards.
func TestForegroundLogs(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		r := crunIn(t, s, "run", "--name", "fg", image, "sh", "-c", "echo out; echo err >&2; exit 3")
		if r.Code != 3 || r.Stdout != "out\n" || r.Stderr != "err\n" {
			t.Errorf("foreground run of a kept container:\n%s", r)
		}
		l := mustCrunIn(t, s, "logs", "fg")
		if l.Stdout != "out\n" || l.Stderr != "err\n" {
			t.Errorf("logs of a foreground run:\n%s", l)
		}
		if l := psLine(t, s, "fg"); !strings.Contains(l, "Exited (3)") {
			t.Errorf("ps -a: %q", l)
		}
		r = crunWithStdin(t, s, "line one\nline two\n", "run", "-i", "--name", "cat", image, "cat")
		if r.Code != 0 || r.Stdout != "line one\nline two\n" {
			t.Errorf("run -i of a kept container with stdin:\n%s", r)
		}
		if l := mustCrunIn(t, s, "logs", "--tail", "1", "cat"); l.Stdout != "line two\n" {
			t.Errorf("logs --tail 1:\n%s", l)
		}
		// Exit codes as run's: a missing command, a signal.
		if r := crunIn(t, s, "run", image, "/nonexistent"); r.Code != 127 {
			t.Errorf("kept run of a missing command:\n%s", r)
		}
		if r := crunIn(t, s, "run", "--init", image, "sh", "-c", "kill -9 $$"); r.Code != 137 {
			t.Errorf("kept run killed by SIGKILL:\n%s", r)
		}
		mustCrunIn(t, s, "rm", "--all")
		if m := monitors(t, s); len(m) != 0 {
			t.Errorf("monitors left: %v", m)
		}
		assertNoRunDirs(t, s)
	})
}

// pause stops every process of a container (SIGSTOP: no cgroup freezer for
// a rootless user here, where Podman refuses), ps and inspect say so, exec
// is refused, unpause lets it go on, and a stop of a paused container is
// taken by its handler.
func TestPause(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	out := t.TempDir()
	if err := os.Chmod(out, 0o777); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		b, _ := os.ReadFile(filepath.Join(out, "n"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	detach(t, s, "--name", "ticker", "-v", out+":/out", image, "sh", "-c",
		`trap "exit 7" TERM; i=0; while true; do i=$((i+1)); echo $i > /out/n.tmp; mv /out/n.tmp /out/n; usleep 20000; done`)
	waitFor(t, "the ticker to tick", func() bool { return count() > 2 })
	if r := mustCrunIn(t, s, "pause", "ticker"); r.Stdout != "ticker\n" {
		t.Errorf("pause prints the container as given:\n%s", r)
	}
	before := count()
	time.Sleep(300 * time.Millisecond)
	if after := count(); after != before {
		t.Errorf("a paused container went on: %d then %d", before, after)
	}
	if l := psLine(t, s, "ticker"); !strings.Contains(l, "Paused") {
		t.Errorf("ps -a of a paused container: %q", l)
	}
	if r := mustCrunIn(t, s, "ps", "--filter", "status=paused", "--format", "{{.Names}}"); r.Stdout != "ticker\n" {
		t.Errorf("ps --filter status=paused:\n%s", r)
	}
	if r := mustCrunIn(t, s, "inspect", "--format", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", "ticker"); r.Stdout != "paused true false\n" {
		t.Errorf("inspect of a paused container:\n%s", r)
	}
	if r := crunIn(t, s, "exec", "ticker", "true"); r.Code != 125 || !strings.Contains(r.Stderr, "unpause") {
		t.Errorf("exec into a paused container:\n%s", r)
	}
	if r := crunIn(t, s, "pause", "ticker"); r.Code != 125 || !strings.Contains(r.Stderr, "already paused") {
		t.Errorf("pause of a paused container:\n%s", r)
	}
	mustCrunIn(t, s, "unpause", "ticker")
	waitFor(t, "the ticker to go on", func() bool { return count() > before+2 })
	if r := crunIn(t, s, "unpause", "ticker"); r.Code != 125 || !strings.Contains(r.Stderr, "not paused") {
		t.Errorf("unpause of a running container:\n%s", r)
	}
	mustCrunIn(t, s, "pause", "--all")
	mustCrunIn(t, s, "stop", "-t", "10", "ticker")
	if l := psLine(t, s, "ticker"); !strings.Contains(l, "Exited (7)") {
		t.Errorf("stop of a paused container: its TERM handler did not run: %q", l)
	}
	if r := crunIn(t, s, "pause", "ticker"); r.Code != 125 || !strings.Contains(r.Stderr, "not running") {
		t.Errorf("pause of an exited container:\n%s", r)
	}
	if r := crunIn(t, s, "pause", "nosuch"); r.Code != 125 || !strings.Contains(r.Stderr, `no container with name or ID "nosuch"`) {
		t.Errorf("pause of an unknown container:\n%s", r)
	}
}

// ps --size: what each container wrote (a kept one's layer, a --rm run's
// upper dir) and its root filesystem with the image's, as Podman shows.
func TestPSSize(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	mustCrunIn(t, s, "run", "--name", "wrote", image, "sh", "-c", "head -c 100000 /dev/zero > /f")
	detach(t, s, "--rm", "--name", "live", image, "sh", "-c", "head -c 5000 /dev/zero > /g; sleep 100")
	var cs []struct {
		Names []string
		Size  *struct {
			RootFsSize int64 `json:"rootFsSize"`
			RwSize     int64 `json:"rwSize"`
		}
	}
	waitFor(t, "the --rm run's file", func() bool {
		cs = nil
		if err := json.Unmarshal([]byte(mustCrunIn(t, s, "ps", "-a", "--size", "--format", "json").Stdout), &cs); err != nil {
			t.Fatal(err)
		}
		return len(cs) == 2 && cs[0].Size != nil && cs[0].Size.RwSize >= 5000
	})
	// The image's size as Podman counts it (its files, not its tars).
	rootfs := podmanRootFsSize(t)
	want := map[string][2]int64{"wrote": {100000, 100100}, "live": {5000, 5100}}
	for _, c := range cs {
		w := want[c.Names[0]]
		if c.Size == nil || c.Size.RwSize < w[0] || c.Size.RwSize > w[1] || c.Size.RootFsSize != rootfs {
			t.Errorf("ps --size of %s: %+v, want rwSize in %v and rootFsSize %d, Podman's", c.Names[0], c.Size, w, rootfs)
		}
	}
	table := mustCrunIn(t, s, "ps", "-a", "--size").Stdout
	if !strings.Contains(table, "SIZE\n") || !regexp.MustCompile(`\b100kB \(virtual 1\.99MB\)`).MatchString(table) {
		t.Errorf("ps -a --size table (Podman's: 100kB (virtual 1.99MB)):\n%s", table)
	}
	if r := mustCrunIn(t, s, "ps", "--format", "json").Stdout; !strings.Contains(r, `"Size": null`) {
		t.Errorf("ps --format json without --size: no \"Size\": null in\n%s", r)
	}
	mustCrunIn(t, s, "rm", "-f", "--all")
}

// podmanRootFsSize is the rootFsSize Podman's ps --size gives a container
// of the test busybox, in a store of its own.
func podmanRootFsSize(t *testing.T) int64 {
	t.Helper()
	podman := newPodman(t)
	podman.must(t, "create", "--network", "none", "--name", "sized", "localhost/busybox:latest", "true")
	var cs []struct {
		Size struct {
			RootFsSize int64 `json:"rootFsSize"`
		}
	}
	if out := podman.must(t, "ps", "-a", "--size", "--format", "json").Stdout; json.Unmarshal([]byte(out), &cs) != nil || len(cs) != 1 {
		t.Fatalf("podman ps --size --format json: %+v\n%s", cs, out)
	}
	return cs[0].Size.RootFsSize
}
