//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// create prints the new container's ID and nothing else.
func create(t *testing.T, s store, args ...string) string {
	t.Helper()
	r := mustCrunIn(t, s, append([]string{"create"}, args...)...)
	if !hexID.MatchString(r.Stdout) || r.Stderr != "" {
		t.Fatalf("create: want only the container's ID on stdout:\n%s", r)
	}
	return strings.TrimSpace(r.Stdout)
}

// startedAt is the container's StartedAt of ps --format json (Unix seconds).
func startedAt(t *testing.T, s store, name string) int64 {
	t.Helper()
	var cs []struct {
		Names     []string
		StartedAt int64
	}
	out := mustCrunIn(t, s, "ps", "-a", "--format", "json").Stdout
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		t.Fatalf("ps --format json: %v:\n%s", err, out)
	}
	for _, c := range cs {
		if len(c.Names) == 1 && c.Names[0] == name {
			return c.StartedAt
		}
	}
	t.Fatalf("ps --format json has no %s:\n%s", name, out)
	return 0
}

// The life of a created container: create makes it and runs nothing (ps -a
// says Created, no run dir, no monitor); start runs it in the background
// and prints it as given; a second start of the running container changes
// nothing; stop ends it; start again runs the command again on the same
// writable layer (the file the first run wrote is there, seen through the
// log and exec) and the second exit code is the one recorded.
func TestCreateStartRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		script := `code=7; if [ -e /data ]; then code=8; echo again-$(cat /data); else echo first > /data; echo fresh; fi; trap 'exit $code' TERM; while :; do sleep 0.05; done`
		id := create(t, s, "--name", "web", image, "sh", "-c", script)
		if l := psLine(t, s, "web"); !strings.HasPrefix(l, id[:12]) || !strings.Contains(l, "Created") {
			t.Fatalf("ps -a after create: %q, want Created", l)
		}
		if q := mustCrunIn(t, s, "ps", "-q").Stdout; q != "" {
			t.Errorf("ps lists a created container as running: %q", q)
		}
		assertNoRunDirs(t, s)
		if m := monitors(t, s); len(m) != 0 {
			t.Errorf("create started monitors: %v", m)
		}

		if r := mustCrunIn(t, s, "start", "web"); r.Stdout != "web\n" || r.Stderr != "" {
			t.Errorf("start prints the name as given:\n%s", r)
		}
		if l := psLine(t, s, "web"); !strings.Contains(l, "Up ") {
			t.Fatalf("ps -a after start: %q, want Up", l)
		}
		waitFor(t, "the first run's output in the log", func() bool {
			return strings.Contains(mustCrunIn(t, s, "logs", "web").Stdout, "fresh")
		})
		if r := mustCrunIn(t, s, "start", id[:12]); r.Stdout != id[:12]+"\n" {
			t.Errorf("start of a running container prints it as given:\n%s", r)
		}
		if n := len(monitors(t, s)); n != 1 {
			t.Errorf("%d monitors after starting a running container, want 1", n)
		}
		mustCrunIn(t, s, "stop", "web")
		if l := psLine(t, s, "web"); !strings.Contains(l, "Exited (7) ") {
			t.Fatalf("ps -a after stop: %q, want Exited (7)", l)
		}

		if r := mustCrunIn(t, s, "start", id); r.Stdout != id+"\n" {
			t.Errorf("start of an exited container by full ID:\n%s", r)
		}
		waitFor(t, "the second run's output in the log", func() bool {
			return strings.Contains(mustCrunIn(t, s, "logs", "web").Stdout, "again-")
		})
		if r := mustCrunIn(t, s, "logs", "web"); r.Stdout != "fresh\nagain-first\n" {
			t.Errorf("logs of two runs: want both runs' lines, the second seeing the first's file:\n%s", r)
		}
		if r := mustCrunIn(t, s, "exec", "web", "cat", "/data"); r.Stdout != "first\n" {
			t.Errorf("exec into the started container: the first run's file:\n%s", r)
		}
		mustCrunIn(t, s, "stop", "web")
		if l := psLine(t, s, "web"); !strings.Contains(l, "Exited (8) ") {
			t.Errorf("ps -a after the second stop: %q, want Exited (8)", l)
		}
		if r := mustCrunIn(t, s, "wait", "web"); r.Stdout != "8\n" {
			t.Errorf("wait: %q, want the second run's 8", r.Stdout)
		}
		waitFor(t, "the monitor to exit", func() bool { return len(monitors(t, s)) == 0 })
		mustCrunIn(t, s, "rm", "web")
		assertNoRunDirs(t, s)
	})
}

// restart stops a running container (its stop signal, then SIGKILL) and
// starts it again: the command runs again and StartedAt moves on. A
// container run -d made restarts as well as a created one, and restart of
// an exited container starts it.
func TestRestart(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		detach(t, s, "--name", "r", image, "sh", "-c", `echo started; trap 'exit 0' TERM; while :; do sleep 0.05; done`)
		starts := func() int { return strings.Count(mustCrunIn(t, s, "logs", "r").Stdout, "started\n") }
		waitFor(t, "the first start", func() bool { return starts() == 1 })
		first := startedAt(t, s, "r")
		time.Sleep(1100 * time.Millisecond) // StartedAt is in seconds
		if r := mustCrunIn(t, s, "restart", "r"); r.Stdout != "r\n" || r.Stderr != "" {
			t.Errorf("restart prints the name as given:\n%s", r)
		}
		if l := psLine(t, s, "r"); !strings.Contains(l, "Up ") {
			t.Fatalf("ps -a after restart: %q, want Up", l)
		}
		waitFor(t, "the command to run again", func() bool { return starts() == 2 })
		if second := startedAt(t, s, "r"); second <= first {
			t.Errorf("StartedAt after restart %d, before %d: want later", second, first)
		}
		if n := len(monitors(t, s)); n != 1 {
			t.Errorf("%d monitors after restart, want 1", n)
		}
		mustCrunIn(t, s, "stop", "r")
		if r := mustCrunIn(t, s, "restart", "-t", "0", "r"); r.Stdout != "r\n" {
			t.Errorf("restart of an exited container:\n%s", r)
		}
		waitFor(t, "the command to run a third time", func() bool { return starts() == 3 })
		mustCrunIn(t, s, "rm", "-f", "r")
		waitFor(t, "the monitor to exit", func() bool { return len(monitors(t, s)) == 0 })
		assertNoRunDirs(t, s)
	})
}

// start -a starts the container detached and attaches to it from its
// first output on: its stdout and stderr here, crun-lite's exit code its
// own; its monitor logged the same (it is not a foreground run); again on a
// second start. -i passes stdin to a container created with -i. start -a
// of a running container attaches to it.
func TestStartAttach(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	create(t, s, "--name", "job", image, "sh", "-c", "echo out; echo err >&2; exit 3")
	for i := 1; i <= 2; i++ {
		r := crunIn(t, s, "start", "-a", "job")
		if r.Code != 3 || r.Stdout != "out\n" || r.Stderr != "err\n" {
			t.Errorf("start -a, run %d: want the container's output and its 3:\n%s", i, r)
		}
		if l := psLine(t, s, "job"); !strings.Contains(l, "Exited (3) ") {
			t.Errorf("ps -a after start -a: %q, want Exited (3)", l)
		}
		if r := mustCrunIn(t, s, "logs", "job"); r.Stdout != strings.Repeat("out\n", i) || r.Stderr != strings.Repeat("err\n", i) {
			t.Errorf("logs after start -a, run %d: the monitor logs an attached start too:\n%s", i, r)
		}
	}
	create(t, s, "-i", "--name", "cat", image, "cat")
	if r := crunWithStdin(t, s, "through stdin", "start", "-ai", "cat"); r.Code != 0 || r.Stdout != "through stdin" {
		t.Errorf("start -ai: want stdin copied through cat:\n%s", r)
	}
	create(t, s, "--name", "late", image, "sh", "-c", "sleep 0.5; echo late; exit 4")
	mustCrunIn(t, s, "start", "late")
	if r := crunIn(t, s, "start", "-a", "late"); r.Code != 4 || !strings.Contains(r.Stdout, "late\n") {
		t.Errorf("start -a of a running container: want its output and its 4:\n%s", r)
	}
	waitFor(t, "every monitor to exit", func() bool { return len(monitors(t, s)) == 0 })
	mustCrunIn(t, s, "rm", "job", "cat", "late")
	assertNoRunDirs(t, s)
}

// create --rm keeps the container until a start's run of it ends, then it
// goes: detached and attached.
func TestCreateRemove(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		create(t, s, "--rm", "--name", "once", image, "sh", "-c", "echo bye")
		if l := psLine(t, s, "once"); !strings.Contains(l, "Created") {
			t.Fatalf("ps -a after create --rm: %q, want Created", l)
		}
		mustCrunIn(t, s, "start", "once")
		waitFor(t, "the --rm container to go", func() bool { return psLine(t, s, "once") == "" && len(runDirs(t, s)) == 0 })
		create(t, s, "--rm", "--name", "fg", image, "sh", "-c", "echo here")
		if r := crunIn(t, s, "start", "-a", "fg"); r.Code != 0 || r.Stdout != "here\n" {
			t.Errorf("start -a of a create --rm container:\n%s", r)
		}
		if l := psLine(t, s, "fg"); l != "" {
			t.Errorf("a create --rm container is left after start -a: %q", l)
		}
		waitFor(t, "every monitor to exit", func() bool { return len(monitors(t, s)) == 0 })
		assertNoRunDirs(t, s)
	})
}

// Bad input: unknown containers get Podman's line and 125; among several
// the others still start, and the command fails as Podman's does; a
// created container's name is taken for run and create.
func TestStartErrors(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	const nosuch = "Error: no container with name or ID \"nosuch\" found: no such container\n"
	for _, args := range [][]string{{"start", "nosuch"}, {"start", "-a", "nosuch"}, {"restart", "nosuch"}, {"container", "start", "nosuch"}} {
		if r := crunIn(t, s, args...); r.Code != 125 || r.Stdout != "" || r.Stderr != nosuch {
			t.Errorf("%v:\n%s", args, r)
		}
	}
	if r := crunIn(t, s, "start"); r.Code != 125 || !strings.Contains(r.Stderr, "start needs a CONTAINER") {
		t.Errorf("start without a container:\n%s", r)
	}
	create(t, s, "--name", "x", image, "sleep", "100")
	for _, verb := range []string{"run", "create"} {
		r := crunIn(t, s, verb, "--name", "x", image, "true")
		if r.Code != 125 || !strings.Contains(r.Stderr, `the container name "x" is already in use`) {
			t.Errorf("%s --name of a created container's name: want refused:\n%s", verb, r)
		}
	}
	create(t, s, "--name", "y", image, "sleep", "100")
	r := crunIn(t, s, "start", "x", "nosuch", "y")
	if r.Code != 125 || r.Stdout != "x\ny\n" || r.Stderr != nosuch {
		t.Errorf("start x nosuch y: want x and y started, nosuch's error and 125:\n%s", r)
	}
	if r := crunIn(t, s, "start", "x", "nosuch"); r.Code != 125 || r.Stdout != "x\n" || r.Stderr != nosuch {
		t.Errorf("start x nosuch: want x (running: nothing to do), then nosuch's 125:\n%s", r)
	}
	if n := len(strings.Fields(mustCrunIn(t, s, "ps", "-q").Stdout)); n != 2 {
		t.Errorf("%d containers run, want x and y", n)
	}
	if r := crunIn(t, s, "start", "-a", "x", "y"); r.Code != 125 {
		t.Errorf("start -a of two containers: want refused:\n%s", r)
	}
	mustCrunIn(t, s, "rm", "-f", "x", "y")
	waitFor(t, "every monitor to exit", func() bool { return len(monitors(t, s)) == 0 })
	assertNoRunDirs(t, s)
}

// start -ai of a container created with -it attaches through a terminal:
// our window size, what we type, the detach keys leaving it running; a
// start -ai of the running container attaches again and ends with the
// shell's exit code.
func TestStartAttachTerminal(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	create(t, s, "-it", "--name", "sh", image, "sh")
	se := startSession(t, s, 33, 99, "start", "-ai", "sh")
	se.send("stty size\r")
	se.expect(`\b33 99\r\n`)
	se.send("echo mark-$((6*7)) > /mark; cat /mark\r")
	se.expect(`mark-42`)
	se.send("\x10\x11") // Ctrl-P Ctrl-Q
	if code := se.exit(); code != 0 {
		t.Errorf("start -ai after the detach keys: exit %d, want 0", code)
	}
	if l := psLine(t, s, "sh"); !strings.Contains(l, "Up ") {
		t.Fatalf("the container did not stay up after detaching: %q", l)
	}
	se = startSession(t, s, 24, 80, "start", "-ai", "sh")
	se.send("echo again\r")
	se.expect(`again\r\n`)
	se.send("exit 5\r")
	if code := se.exit(); code != 5 {
		t.Errorf("start -ai of the running shell until it exits 5: crun-lite exited %d", code)
	}
	waitFor(t, "Exited (5)", func() bool { return strings.Contains(psLine(t, s, "sh"), "Exited (5)") })
	se = startSession(t, s, 24, 80, "start", "-ai", "sh")
	se.send("cat /mark; exit 0\r")
	se.expect(`mark-42`)
	if code := se.exit(); code != 0 {
		t.Errorf("start -ai of the exited shell: crun-lite exited %d", code)
	}
	waitFor(t, "every monitor to exit", func() bool { return len(monitors(t, s)) == 0 })
	mustCrunIn(t, s, "rm", "sh")
	assertNoRunDirs(t, s)
}

// What a crash leaves does not stop a start: after kill -9 of its monitor
// (the container dies with it) and after the run root is wiped (a reboot:
// the store still says running), start runs the container again.
func TestStartAfterCrash(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	create(t, s, "--name", "k", image, "sh", "-c", "echo run; sleep 1000")
	runs := func() int { return strings.Count(mustCrunIn(t, s, "logs", "k").Stdout, "run\n") }
	mustCrunIn(t, s, "start", "k")
	waitFor(t, "the first run", func() bool { return runs() == 1 })
	killMonitor(t, s)
	if r := mustCrunIn(t, s, "start", "k"); r.Stdout != "k\n" {
		t.Errorf("start after kill -9 of the monitor:\n%s", r)
	}
	waitFor(t, "the second run", func() bool { return runs() == 2 })
	if l := psLine(t, s, "k"); !strings.Contains(l, "Up ") {
		t.Errorf("ps -a after the second start: %q, want Up", l)
	}
	// A reboot: every process and the run dirs gone.
	m := monitors(t, s)
	for _, pid := range m {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range m {
		waitFor(t, "the monitor to die", func() bool { return !processExists(pid) })
	}
	if err := os.RemoveAll(filepath.Join(s.Root, "crun-lite-runs")); err != nil {
		t.Fatal(err)
	}
	if l := psLine(t, s, "k"); !strings.Contains(l, "Exited (137)") {
		t.Errorf("ps -a after the run dirs went: %q, want Exited (137)", l)
	}
	mustCrunIn(t, s, "start", "k")
	waitFor(t, "the third run", func() bool { return runs() == 3 })
	mustCrunIn(t, s, "rm", "-f", "k")
	waitFor(t, "every monitor to exit", func() bool { return len(monitors(t, s)) == 0 })
	assertNoRunDirs(t, s)
}

// Every start begins from what create decided, not from what the last run
// resolved: a named volume is found by its name again (the second run sees
// the first's file in it), and inspect shows a created container's command.
func TestStartVolumeAgain(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	create(t, s, "--name", "v", "-v", "data:/data", image, "sh", "-c", "echo x >> /data/f; wc -l < /data/f")
	if r := mustCrunIn(t, s, "inspect", "--format", "{{.State.Status}} {{.Config.Cmd}}", "v"); !strings.Contains(r.Stdout, "created") || !strings.Contains(r.Stdout, "wc -l") {
		t.Errorf("inspect of a created container:\n%s", r)
	}
	for _, want := range []string{"1\n", "2\n"} {
		if r := crunIn(t, s, "start", "-a", "v"); r.Code != 0 || r.Stdout != want {
			t.Errorf("start -a with a named volume: want %q:\n%s", want, r)
		}
	}
	mustCrunIn(t, s, "rm", "v")
	assertNoRunDirs(t, s)
}
