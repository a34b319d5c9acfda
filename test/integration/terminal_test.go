//go:build integration

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// session is crun-lite running on a real pseudo-terminal, as in a user's
// terminal emulator: the test plays the user at the master side.
type session struct {
	t      *testing.T
	cmd    *exec.Cmd
	master *os.File
	slave  *os.File // our "host terminal", kept to compare its settings
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{}
	before *unix.Termios
}

func startSession(t *testing.T, s store, rows, cols uint16, args ...string) *session {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(master, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	full := append(append([]string{"--root", s.Root, "--runroot", s.RunRoot}, s.Extra...), args...)
	cmd := exec.Command(Bin, full...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	se := &session{t: t, cmd: cmd, master: master, slave: slave, done: make(chan struct{}), before: before}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			se.mu.Lock()
			se.out.Write(buf[:n])
			se.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(se.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-se.done
		master.Close()
		slave.Close()
	})
	return se
}

func (se *session) send(keys string) {
	se.t.Helper()
	if _, err := se.master.Write([]byte(keys)); err != nil {
		se.t.Fatal(err)
	}
}

// expect waits until the output since the last expect matches re.
func (se *session) expect(re string) string {
	se.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		se.mu.Lock()
		out := se.out.String()
		if loc := rx.FindStringIndex(out); loc != nil {
			se.out.Next(loc[1])
			se.mu.Unlock()
			return out[loc[0]:loc[1]]
		}
		se.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	se.mu.Lock()
	defer se.mu.Unlock()
	se.t.Fatalf("no %q in the terminal; it shows:\n%q\nprocesses:\n%s", re, se.out.String(), describeProcesses())
	return ""
}

// exit waits for crun-lite to end and checks our terminal is as it was.
func (se *session) exit() int {
	se.t.Helper()
	select {
	case <-se.done:
	case <-time.After(20 * time.Second):
		se.t.Fatal("crun-lite did not exit")
	}
	after, err := unix.IoctlGetTermios(int(se.slave.Fd()), unix.TCGETS)
	if err != nil {
		se.t.Fatal(err)
	}
	if *after != *se.before {
		se.t.Errorf("the host terminal was left changed:\nbefore %+v\nafter  %+v", *se.before, *after)
	}
	return se.cmd.ProcessState.ExitCode()
}

// shellImages are the images the terminal tests run on, with their shell
// and prompt regexps for user 1000.
type shellImage struct {
	name, shell, prompt string
	ref                 func() string
	needDebian          bool
}

var shellImages = []shellImage{
	// busybox's line editor asks the terminal for the cursor position
	// (ESC [6n) after its prompt; bash turns bracketed paste on and off.
	{name: "busybox", shell: "sh", prompt: `\$ (\x1b\[6n)?$`, ref: func() string { return Registry + "/test/busybox:latest" }},
	{name: "debian", shell: "bash", prompt: `\$ (\x1b\[\?2004h)?$`, ref: func() string { return Registry + "/test/debian:latest" }, needDebian: true},
}

func TestInteractiveShell(t *testing.T) {
	for _, img := range shellImages {
		t.Run(img.name, func(t *testing.T) {
			if img.needDebian {
				requireDebian(t)
			}
			s := testStore(t)
			mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", img.ref())
			se := startSession(t, s, 30, 100, "run", "-it", "--rm", "--user", "1000", img.ref(), img.shell)
			se.expect(img.prompt)
			se.send("id\r")
			id := se.expect(`uid=\d+\(\w+\) gid=\d+\(\w+\)[^\r\n]*`)
			if !strings.HasPrefix(id, "uid=1000(user) gid=1000(user)") {
				t.Errorf("id in the terminal: %q", id)
			}
			se.expect(img.prompt)
			// The size is right before the first command, then follows resizes.
			se.send("stty size\r")
			se.expect(`\b30 100\r\n`)
			se.expect(img.prompt)
			if err := pty.Setsize(se.master, &pty.Winsize{Rows: 41, Cols: 123}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // SIGWINCH reaches crun-lite asynchronously
			se.send("stty size\r")
			se.expect(`\b41 123\r\n`)
			se.expect(img.prompt)
			se.send("tty; echo TERM=$TERM\r")
			se.expect(`/dev/pts/0\r\nTERM=xterm-256color\r\n`)
			se.expect(img.prompt)
			// Ctrl-C kills the foreground sleep, not the shell.
			se.send("sleep 100\r")
			time.Sleep(300 * time.Millisecond)
			se.send("\x03")
			se.expect(img.prompt)
			se.send("echo still-$((40+2))\r")
			se.expect(`still-42`)
			se.expect(img.prompt)
			se.send("exit 3\r")
			if code := se.exit(); code != 3 {
				t.Errorf("exit 3 in the shell: crun-lite exited %d", code)
			}
		})
	}
}

func TestCtrlDEndsShell(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	se := startSession(t, s, 24, 80, "run", "-it", "--rm", image, "sh")
	se.expect(`# (\x1b\[6n)?$`)
	se.send("\x04")
	if code := se.exit(); code != 0 {
		t.Errorf("Ctrl-D: exit %d, want 0", code)
	}
}

func TestJobControl(t *testing.T) {
	requireDebian(t)
	s := testStore(t)
	image := Registry + "/test/debian:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	se := startSession(t, s, 24, 80, "run", "-it", "--rm", image, "bash")
	prompt := `# (\x1b\[\?2004h)?$`
	se.expect(prompt)
	se.send("sleep 100\r")
	time.Sleep(300 * time.Millisecond)
	se.send("\x1a") // Ctrl-Z
	se.expect(`Stopped\s+sleep 100`)
	se.expect(prompt)
	se.send("jobs\r")
	se.expect(`\[1\]\+\s+Stopped`)
	se.expect(prompt)
	se.send("fg\r")
	se.expect(`sleep 100`)
	time.Sleep(300 * time.Millisecond)
	se.send("\x03")
	se.expect(prompt)
	se.send("exit\r")
	if code := se.exit(); code != 130 && code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestPipelines(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	for _, c := range []struct {
		args []string
		in   string
		want string
	}{
		{[]string{"run", "-i", "--rm", image, "cat"}, "hi\n", "hi\n"},
		{[]string{"run", "--rm", image, "cat"}, "hi\n", ""}, // without -i stdin is /dev/null
		{[]string{"run", "-i", "--rm", image, "wc", "-l"}, "a\nb\nc\n", "3\n"},
	} {
		full := append([]string{"--root", s.Root, "--runroot", s.RunRoot}, c.args...)
		cmd := exec.Command(Bin, full...)
		cmd.Stdin = strings.NewReader(c.in)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil || out.String() != c.want {
			t.Errorf("%v <<< %q: got %q (err %v, stderr %q), want %q", c.args, c.in, out.String(), err, errb.String(), c.want)
		}
	}
}

func TestSignals(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	cases := []struct {
		name string
		args []string
		sig  syscall.Signal
		want int
	}{
		// A handler in the container sees the forwarded signal.
		{"trap USR1", []string{"sh", "-c", `trap "exit 42" USR1; echo ready; while :; do sleep 0.05; done`}, syscall.SIGUSR1, 42},
		{"trap HUP", []string{"sh", "-c", `trap "exit 43" HUP; echo ready; while :; do sleep 0.05; done`}, syscall.SIGHUP, 43},
		// sleep as pid 1 ignores SIGTERM: crun-lite kills it after --stop-timeout.
		{"pid1 TERM", []string{"--stop-timeout", "1", image, "sh", "-c", "echo ready; exec sleep 100"}, syscall.SIGTERM, 137},
		// With --init the command is not pid 1 and dies of the signal.
		{"init TERM", []string{"--init", image, "sh", "-c", "echo ready; exec sleep 100"}, syscall.SIGTERM, 143},
		{"init INT", []string{"--init", image, "sh", "-c", "echo ready; exec sleep 100"}, syscall.SIGINT, 130},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if !strings.Contains(strings.Join(args, " "), image) {
				args = append([]string{image}, args...)
			}
			full := append([]string{"--root", s.Root, "--runroot", s.RunRoot, "run", "--rm"}, args...)
			cmd := exec.Command(Bin, full...)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			buf := make([]byte, 6)
			if _, err := stdout.Read(buf); err != nil || string(buf) != "ready\n" {
				t.Fatalf("container did not start: %q %v", buf, err)
			}
			start := time.Now()
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != c.want {
				t.Errorf("exit %d, want %d", code, c.want)
			}
			if c.want == 137 && time.Since(start) < 900*time.Millisecond {
				t.Errorf("killed after %s, before --stop-timeout", time.Since(start))
			}
		})
	}
}

// TestInitReapsZombies: with --init, orphans are reparented to the init,
// not to the shell (which reaps whatever it can wait for), so zombies left in
// ps would be the init's failure.
func TestInitReapsZombies(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	script := "(sleep 0.1 &); (sleep 0.1 &); sleep 0.6; ps -o stat,ppid,comm"
	with := mustCrunIn(t, s, "run", "--rm", "--init", image, "sh", "-c", script).Stdout
	for _, line := range strings.Split(strings.TrimSpace(with), "\n")[1:] {
		if f := strings.Fields(line); strings.HasPrefix(f[0], "Z") || f[len(f)-1] == "sleep" {
			t.Errorf("an orphan was not reaped with --init:\n%s", with)
		}
	}
	if ps := mustCrunIn(t, s, "run", "--rm", "--init", image, "ps", "-o", "pid,args").Stdout; !regexp.MustCompile(`\n\s+1 init\s*\n`).MatchString(ps) {
		t.Errorf("pid 1 is not the init:\n%s", ps)
	}
}

func TestUsers(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	for _, c := range []struct{ user, want string }{
		{"1000", "uid=1000(user) gid=1000(user) groups=29(audio),50(staff)"},
		{"1000:50", "uid=1000(user) gid=50(staff)"},
		{"user", "uid=1000(user) gid=1000(user) groups=29(audio),50(staff)"},
		{"app:staff", "uid=1001(app) gid=50(staff)"},
		{"1001:staff", "uid=1001(app) gid=50(staff)"},
		{"app:29", "uid=1001(app) gid=29(audio)"},
		{"4242", "uid=4242 gid=0(root)"},
	} {
		if out := mustCrunIn(t, s, "run", "--rm", "--user", c.user, image, "id").Stdout; strings.TrimSpace(out) != c.want {
			t.Errorf("--user %s: id = %q, want %q", c.user, out, c.want)
		}
	}
	out := mustCrunIn(t, s, "run", "--rm", "--user", "app", "--group-add", "audio", "--group-add", "4000", image, "id").Stdout
	if strings.TrimSpace(out) != "uid=1001(app) gid=1001(app) groups=29(audio),50(staff),4000" {
		t.Errorf("--group-add: %q", out)
	}
	env := mustCrunIn(t, s, "run", "--rm", "--user", "1000", image, "env").Stdout
	for _, want := range []string{"HOME=/home/user\n", "USER=user\n", "LOGNAME=user\n", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("env for user 1000 lacks %q:\n%s", want, env)
		}
	}
	if env := mustCrunIn(t, s, "run", "--rm", "--user", "4242", image, "env").Stdout; !strings.Contains(env, "HOME=/\n") {
		t.Errorf("a uid without passwd entry: want HOME=/:\n%s", env)
	}
	caps := mustCrunIn(t, s, "run", "--rm", "--user", "1000", image, "grep", "^Cap", "/proc/self/status").Stdout
	for _, set := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
		if !strings.Contains(caps, set+":\t0000000000000000") {
			t.Errorf("user 1000 keeps capabilities in %s:\n%s", set, caps)
		}
	}
	for _, bad := range []string{"nosuch", "user:nosuchgroup", "nosuch:50"} {
		r := crunIn(t, s, "run", "--rm", "--user", bad, image, "id")
		if r.Code != 125 || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, "/etc/") {
			t.Errorf("--user %s: want exit 125 and one line naming the file: %s", bad, r)
		}
	}
	if r := crunIn(t, s, "run", "--rm", "--group-add", "nosuchgroup", image, "id"); r.Code != 125 || !strings.Contains(r.Stderr, "/etc/group") {
		t.Errorf("--group-add nosuchgroup: %s", r)
	}
}

// TestImageUserIsDefault: the image config's User applies unless --user is
// given. The image is the busybox layout with User set by umoci.
func TestImageUserIsDefault(t *testing.T) {
	// Image names are lower case: the path becomes part of the name.
	base, err := os.MkdirTemp("", "crl-img-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	dir := filepath.Join(base, "img")
	if out, err := exec.Command("cp", "-r", imagePath("busybox"), dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if out, err := exec.Command("umoci", "config", "--image", dir+":latest", "--config.user", "app").CombinedOutput(); err != nil {
		t.Fatalf("umoci config: %v %s", err, out)
	}
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "oci:"+dir+":latest")
	name := "localhost" + dir + ":latest"
	if out := mustCrunIn(t, s, "run", "--rm", name, "id", "-un").Stdout; out != "app\n" {
		t.Errorf("image User app: id -un = %q", out)
	}
	if out := mustCrunIn(t, s, "run", "--rm", "--user", "root", name, "id", "-un").Stdout; out != "root\n" {
		t.Errorf("--user root over image User: id -un = %q", out)
	}
}

func TestTTYWithoutHostTerminal(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	r := mustCrunIn(t, s, "run", "--rm", "-t", image, "sh", "-c", "tty; stty size; echo err >&2")
	// With a terminal stderr goes through it too: one stream.
	if r.Stdout != "/dev/pts/0\r\n24 80\r\nerr\r\n" || r.Stderr != "" {
		t.Errorf("-t without a host terminal: %s", r)
	}
}

// TestTerminalRestoredOnErrors: raw mode is undone when the command cannot
// start and when crun-lite is told to stop.
func TestTerminalRestoredOnErrors(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	se := startSession(t, s, 24, 80, "run", "-it", "--rm", image, "/nonexistent")
	se.expect(`/nonexistent`)
	if code := se.exit(); code != 127 {
		t.Errorf("missing command in a terminal: exit %d, want 127", code)
	}
	se = startSession(t, s, 24, 80, "run", "-it", "--rm", "--stop-timeout", "1", image, "sh")
	se.expect(`# (\x1b\[6n)?$`)
	if err := se.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := se.exit(); code != 137 && code != 143 {
		t.Errorf("SIGTERM to crun-lite in a session: exit %d", code)
	}
}

// TestHostTerminalNotPassed: without -t the container never holds our
// terminal (it could inject input with TIOCSTI): a terminal on our stdio
// reaches it as a pipe.
func TestHostTerminalNotPassed(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	se := startSession(t, s, 24, 80, "run", "-i", "--rm", image, "sh", "-c",
		"tty; for fd in 0 1 2; do readlink /proc/self/fd/$fd; done; read line; echo got:$line")
	se.expect(`not a tty`)
	se.expect(`pipe:\[\d+\]\r\npipe:\[\d+\]\r\npipe:\[\d+\]\r\n`)
	se.send("hello\r")
	se.expect(`got:hello`)
	if code := se.exit(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
