//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// kept is a kept container running in the background of a test.
type kept struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan struct{}
	out  string // the file its stdout goes to
}

// startKept runs a kept container named name in the background of the
// test, running the shell script script, and waits until exec can reach it.
func startKept(t *testing.T, s store, name, image, script string, runArgs ...string) *kept {
	t.Helper()
	args := append(append([]string{"run", "--name", name}, runArgs...), image, "sh", "-c", script)
	full := append(append([]string{"--root", s.Root, "--runroot", s.RunRoot}, s.Extra...), args...)
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(Bin, full...)
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k := &kept{t: t, cmd: cmd, done: make(chan struct{}), out: out.Name()}
	go func() { _ = cmd.Wait(); close(k.done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-k.done })
	waitExecable(t, s, name)
	return k
}

// wait waits for the container to exit and returns its exit code and
// output.
func (k *kept) wait() (int, string) {
	k.t.Helper()
	code := waitExit(k.t, k.cmd, k.done)
	b, _ := os.ReadFile(k.out)
	return code, string(b)
}

// stop kills the container's monitor, and with it the container.
func (k *kept) stop() {
	k.t.Helper()
	_ = k.cmd.Process.Kill()
	waitExit(k.t, k.cmd, k.done)
}

// crunWithStdin runs crun-lite with args in s, stdin reading in.
func crunWithStdin(t *testing.T, s store, in string, args ...string) result {
	t.Helper()
	full := append(append(s.globalFlags(), s.Extra...), args...)
	cmd := exec.Command(Bin, full...)
	cmd.Stdin = strings.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return r
}

// waitExecable waits until `exec ref true` works: the container runs and
// its monitor has recorded it.
func waitExecable(t *testing.T, s store, ref string) {
	t.Helper()
	var r result
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if r = crunIn(t, s, "exec", ref, "true"); r.Code == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("exec %s true never worked: %s", ref, r)
}

// execWants runs exec with args and checks its exit code and that its
// stdout matches re.
func execWants(t *testing.T, s store, code int, re string, args ...string) result {
	t.Helper()
	r := crunIn(t, s, append([]string{"exec"}, args...)...)
	if r.Code != code || !regexp.MustCompile(re).MatchString(r.Stdout) {
		t.Errorf("exec %s: want exit %d and stdout matching %q: %s", strings.Join(args, " "), code, re, r)
	}
	return r
}

// TestExecSeesContainer: exec runs in the container's mount, pid and UTS
// namespaces and its root, for a kept container by name, ID and ID prefix
// and a --rm one by its ID prefix: /proc/1 is the container's first
// process, the host name is the container's, and a file the exec'd command
// writes is what the container's own process reads.
func TestExecSeesContainer(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		k := startKept(t, s, "web", image,
			"hostname > /tmp/ctr-hostname; while [ ! -f /tmp/from-exec ]; do sleep 0.05; done; cat /tmp/from-exec")
		execWants(t, s, 0, `while \[ ! -f /tmp/from-exec \]`, "web", "cat", "/proc/1/cmdline")
		r := execWants(t, s, 0, `(?m)^\s*1 .*sh -c`, "web", "ps")
		if n := strings.Count(strings.TrimSpace(r.Stdout), "\n"); n > 4 {
			// PID 1, its sleep, ps, and the header: not the host's.
			t.Errorf("ps in the container lists the host's processes:\n%s", r.Stdout)
		}
		host := strings.TrimSpace(execWants(t, s, 0, `^\w+\n$`, "web", "hostname").Stdout)
		execWants(t, s, 0, "^"+host+"\n$", "web", "cat", "/tmp/ctr-hostname")
		id := strings.TrimSpace(mustCrunIn(t, s, "ps", "-q").Stdout)
		execWants(t, s, 0, "^"+host+"\n$", id, "hostname")
		execWants(t, s, 0, "^"+host+"\n$", id[:5], "hostname")
		execWants(t, s, 0, "", "web", "sh", "-c", "echo written-by-exec > /tmp/from-exec")
		if code, out := k.wait(); code != 0 || out != "written-by-exec\n" {
			t.Errorf("the container read %q from the file exec wrote (exit %d)", out, code)
		}

		// A --rm container: its ID is its run dir's name (its host name's
		// first 12 digits), ps does not list it.
		marker := fmt.Sprintf("MARKER=exec-rm-%d", time.Now().UnixNano())
		cmd, done := startCrun(t, s, append(append([]string{"run", "--rm"}, image), "env", marker, "sleep", "1000")...)
		waitForProcess(t, marker)
		var runID string
		for deadline := time.Now().Add(20 * time.Second); runID == "" && time.Now().Before(deadline); {
			entries, _ := os.ReadDir(filepath.Join(s.Root, "crun-lite-runs"))
			for _, e := range entries {
				if !strings.HasPrefix(e.Name(), ".") {
					runID = e.Name()
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if runID == "" {
			t.Fatal("no run dir for the --rm container")
		}
		waitExecable(t, s, runID[:8])
		execWants(t, s, 0, "^"+runID[:12]+"\n$", runID[:8], "hostname")
		execWants(t, s, 0, `sleep\x001000`, runID, "cat", "/proc/1/cmdline")
		cmd.Process.Kill()
		waitExit(t, cmd, done)
	})
}

// TestExecExitCodes: the command's own exit code, and run's 125/126/127:
// a command not found is 127, one that cannot be executed 126, crun-lite's
// own failures (a user the image does not have, a working directory that
// does not exist) 125.
func TestExecExitCodes(t *testing.T) {
	s, image := busyboxStore(t)
	k := startKept(t, s, "codes", image, "sleep 1000")
	execWants(t, s, 0, "", "codes", "true")
	execWants(t, s, 3, "", "codes", "sh", "-c", "exit 3")
	r := execWants(t, s, 127, "", "codes", "no-such-command")
	if !strings.Contains(r.Stderr, "executable file not found in $PATH") {
		t.Errorf("exec of a missing command: %s", r)
	}
	execWants(t, s, 127, "", "codes", "/no/such/file")
	execWants(t, s, 126, "", "codes", "/etc/passwd")
	r = execWants(t, s, 125, "", "-u", "nosuchuser", "codes", "true")
	if !strings.Contains(r.Stderr, "nosuchuser") {
		t.Errorf("exec -u with an unknown user: %s", r)
	}
	r = execWants(t, s, 125, "", "-w", "/no/such/dir", "codes", "true")
	if !strings.Contains(r.Stderr, "/no/such/dir") {
		t.Errorf("exec -w with a missing directory: %s", r)
	}
	execWants(t, s, 125, "", "codes") // no command
	// The container lives on through all of it.
	execWants(t, s, 0, "", "codes", "true")
	k.stop()
}

// TestExecUserEnvWorkdir: -u takes a name from the container's
// /etc/passwd with the image's supplementary groups and that user's HOME;
// the environment is the container's with -e and --env-file over it; -w
// sets the working directory, which is otherwise the container's.
func TestExecUserEnvWorkdir(t *testing.T) {
	s, image := busyboxStore(t)
	k := startKept(t, s, "who", image, "sleep 1000", "-e", "FROM_RUN=1", "-w", "/etc")
	execWants(t, s, 0, `^uid=0\(root\) gid=0\(root\)`, "who", "id")
	execWants(t, s, 0, `^uid=1000\(user\) gid=1000\(user\) groups=29\(audio\),50\(staff\),1000\(user\)\n$`, "-u", "user", "who", "id")
	execWants(t, s, 0, `^uid=1000\(user\) gid=50\(staff\)`, "-u", "user:staff", "who", "id")
	execWants(t, s, 0, `^uid=1234 gid=1234`, "-u", "1234:1234", "who", "id")
	execWants(t, s, 0, `^/home/user\n$`, "-u", "user", "who", "sh", "-c", "echo $HOME")
	execWants(t, s, 0, `^/x\n$`, "-u", "user", "-e", "HOME=/x", "who", "sh", "-c", "echo $HOME")
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("FROM_FILE=f\nBOTH=file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := execWants(t, s, 0, "", "--env-file", envFile, "-e", "BOTH=flag", "-e", "NEW=n", "who", "env")
	for _, want := range []string{"FROM_RUN=1", "FROM_FILE=f", "BOTH=flag", "NEW=n", "HOME=/root"} {
		if !strings.Contains(r.Stdout, want+"\n") {
			t.Errorf("exec env: no %s in\n%s", want, r.Stdout)
		}
	}
	execWants(t, s, 0, `^/etc\n$`, "who", "pwd")
	execWants(t, s, 0, `^/tmp\n$`, "-w", "/tmp", "who", "pwd")
	k.stop()
}

// TestExecSecurity: the exec'd process has the container's capabilities
// and seccomp filter; --privileged gives every capability and no filter;
// a container with no-new-privileges gives it to exec too.
func TestExecSecurity(t *testing.T) {
	s, image := busyboxStore(t)
	k := startKept(t, s, "sec", image, "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status > /tmp/pid1; sleep 1000",
		"--security-opt", "no-new-privileges")
	pid1 := execWants(t, s, 0, "CapEff", "sec", "cat", "/tmp/pid1").Stdout
	execWants(t, s, 0, "^"+regexp.QuoteMeta(pid1)+"$", "sec", "grep", "-E", "^(CapEff|Seccomp|NoNewPrivs):", "/proc/self/status")
	r := execWants(t, s, 0, `Seccomp:\s+0\n`, "--privileged", "sec", "grep", "-E", "^(CapEff|Seccomp):", "/proc/self/status")
	if strings.Contains(r.Stdout, strings.Split(pid1, "\n")[0]) {
		t.Errorf("exec --privileged has the container's capabilities:\n%s\ncontainer:\n%s", r.Stdout, pid1)
	}
	k.stop()
}

// TestExecTerminal: exec -it gets a terminal of its own through a real
// pty: sized like ours, following a resize, and Ctrl-C kills the command
// it runs but neither the shell nor the container.
func TestExecTerminal(t *testing.T) {
	s, image := busyboxStore(t)
	k := startKept(t, s, "tty", image, "sleep 1000")
	se := startSession(t, s, 30, 100, "exec", "-it", "-u", "user", "tty", "sh")
	prompt := `\$ (\x1b\[6n)?$`
	se.expect(prompt)
	se.send("stty size\r")
	se.expect(`\b30 100\r\n`)
	se.expect(prompt)
	if err := pty.Setsize(se.master, &pty.Winsize{Rows: 41, Cols: 123}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // SIGWINCH reaches crun-lite asynchronously
	se.send("stty size\r")
	se.expect(`\b41 123\r\n`)
	se.expect(prompt)
	se.send("tty; id -u; echo TERM=$TERM\r")
	se.expect(`/dev/pts/\d+\r\n1000\r\nTERM=xterm-256color\r\n`)
	se.expect(prompt)
	se.send("sleep 100\r")
	time.Sleep(300 * time.Millisecond)
	se.send("\x03")
	se.expect(prompt)
	se.send("echo still-$((40+2))\r")
	se.expect(`still-42`)
	se.expect(prompt)
	se.send("exit 4\r")
	if code := se.exit(); code != 4 {
		t.Errorf("exit 4 in the exec'd shell: crun-lite exited %d", code)
	}
	// The container's own terminal-less pid 1 is untouched.
	execWants(t, s, 0, `^sleep\x001000`, "tty", "cat", "/proc/1/cmdline")

	// -t without a terminal of ours: 24x80, as run gives.
	execWants(t, s, 0, `^24 80\r?\n$`, "-t", "tty", "stty", "size")
	// -i passes stdin.
	r := crunWithStdin(t, s, "hello-stdin\n", "exec", "-i", "tty", "cat")
	if r.Code != 0 || r.Stdout != "hello-stdin\n" {
		t.Errorf("exec -i cat: %s", r)
	}
	k.stop()
}

// TestExecDiesWithContainer: when the container's first process exits, the
// kernel ends the processes exec started in its pid namespace: a detached
// one (-d) and one crun-lite waits for, whose exec then exits 137 (SIGKILL).
func TestExecDiesWithContainer(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		k := startKept(t, s, "dies", image, "while [ ! -f /tmp/stop ]; do sleep 0.05; done")
		marker := fmt.Sprintf("MARKER=exec-d-%d", time.Now().UnixNano())
		r := crunIn(t, s, "exec", "-d", "-e", marker, "dies", "sleep", "1000")
		if r.Code != 0 || r.Stdout != "" {
			t.Fatalf("exec -d: %s", r)
		}
		detached := waitForProcess(t, marker)
		fg, fgDone := startCrun(t, s, "exec", "dies", "sleep", "1000")
		time.Sleep(200 * time.Millisecond)
		execWants(t, s, 0, "", "dies", "touch", "/tmp/stop")
		if code, _ := k.wait(); code != 0 {
			t.Errorf("the container exited %d", code)
		}
		if code := waitExit(t, fg, fgDone); code != 137 {
			t.Errorf("exec of a command killed with its container: exit %d, want 137", code)
		}
		for deadline := time.Now().Add(10 * time.Second); processExists(detached) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if processExists(detached) {
			t.Errorf("the process exec -d started outlived its container (pid %d)", detached)
		}
	})
}

// TestExecNoContainer: an unknown name is one line of Podman's words and
// exit 125; a kept container that exited gets Podman's "only running
// containers" words, also 125.
func TestExecNoContainer(t *testing.T) {
	s, image := busyboxStore(t)
	r := crunIn(t, s, "exec", "nosuch", "true")
	if r.Code != 125 || r.Stdout != "" || r.Stderr != "Error: no container with name or ID \"nosuch\" found: no such container\n" {
		t.Errorf("exec into an unknown container: %s", r)
	}
	mustCrunIn(t, s, "run", "--name", "over", image, "true")
	r = crunIn(t, s, "exec", "over", "true")
	if r.Code != 125 || r.Stderr != "Error: can only create exec sessions on running containers: container state improper\n" {
		t.Errorf("exec into an exited container: %s", r)
	}
}

// TestExecInit: with --init the container's pid 1 is crun-lite's init, whose
// /proc entries are closed to its user (it is not dumpable: its memory is a
// copy of the monitor's); exec enters the container through the command,
// its child, all the same.
func TestExecInit(t *testing.T) {
	s, image := busyboxStore(t)
	k := startKept(t, s, "withinit", image, "sleep 1000", "--init")
	execWants(t, s, 0, `^init\x00`, "withinit", "cat", "/proc/1/cmdline")
	execWants(t, s, 0, `(?m)^\s*2 .*sleep 1000`, "withinit", "ps")
	execWants(t, s, 0, `^uid=1000\(user\) gid=1000\(user\) groups=29\(audio\),50\(staff\),1000\(user\)\n$`, "-u", "user", "withinit", "id")
	k.stop()
}

// TestExecKeepID: a --userns=keep-id container runs in a user namespace of
// its own; exec enters it after the mount namespace, as run does, so the
// command is the host user inside, and its terminal belongs to it.
func TestExecKeepID(t *testing.T) {
	skipIfRoot(t, "keep-id maps the rootless user")
	s, image := busyboxStore(t)
	k := startKept(t, s, "keep", image, "sleep 1000", "--userns=keep-id")
	uid := os.Getuid()
	execWants(t, s, 0, fmt.Sprintf(`^uid=%d\(`, uid), "keep", "id")
	execWants(t, s, 0, `^uid=0\(root\)`, "-u", "0", "keep", "id")
	execWants(t, s, 0, fmt.Sprintf(`^%d %d\r?\n$`, uid, uid), "-t", "keep", "stat", "-L", "-c", "%u %g", "/proc/self/fd/0")
	k.stop()
}

// exec -it on a terminal runs under a monitor of its own: the detach keys
// leave the command running (until the container ends, which ends it and
// its monitor); without them its exit code is exec's.
func TestExecDetachKeys(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	detach(t, s, "--name", "box", image, "sleep", "1000")
	se := startSession(t, s, 24, 80, "exec", "-it", "box", "sh")
	se.send("echo in-$((1+2))\r")
	se.expect(`in-3\r\n`)
	if m := monitors(t, s); len(m) != 2 {
		t.Errorf("monitors while exec -it runs: %v, want the container's and the exec's", m)
	}
	se.send("\x10\x11") // Ctrl-P Ctrl-Q
	if code := se.exit(); code != 0 {
		t.Errorf("exec -it after the detach keys: exit %d, want 0", code)
	}
	time.Sleep(200 * time.Millisecond)
	if m := monitors(t, s); len(m) != 2 {
		t.Errorf("the exec'd shell did not stay after detaching: monitors %v", m) // its monitor ends with it
	}
	if r := mustCrunIn(t, s, "top", "box", "args"); strings.Count(r.Stdout, "\nsh") != 1 {
		t.Errorf("the exec'd shell is not among the container's processes:\n%s", r.Stdout)
	}
	se = startSession(t, s, 24, 80, "exec", "-it", "box", "sh", "-c", "stty size; exit 7")
	se.expect(`24 80\r\n`)
	if code := se.exit(); code != 7 {
		t.Errorf("exec -it of exit 7: exit %d", code)
	}
	mustCrunIn(t, s, "stop", "-t", "0", "box")
	waitFor(t, "the detached exec to end with its container", func() bool { return len(monitors(t, s)) == 0 })
	mustCrunIn(t, s, "rm", "box")
	assertNoRunDirs(t, s)
}
