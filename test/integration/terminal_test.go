//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"io"
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

// startSession runs crun-lite with args on a new pseudo-terminal of rows x
// cols, as its controlling terminal.
func startSession(t *testing.T, s store, rows, cols uint16, args ...string) *session {
	t.Helper()
	full := append(append([]string{"--root", s.Root, "--runroot", s.RunRoot}, s.Extra...), args...)
	return startOnPty(t, rows, cols, exec.Command(Bin, full...))
}

// startOnPty starts cmd in a new session on a new pseudo-terminal of rows x
// cols; cmd.Env nil means ours with TERM=xterm-256color.
func startOnPty(t *testing.T, rows, cols uint16, cmd *exec.Cmd) *session {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	// Non-blocking, so that the reader below waits in the poller and
	// Close really closes the master (a test hangs the terminal up so):
	// a read blocked in the kernel would hold it open.
	fd, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		t.Fatal(err)
	}
	master.Close()
	master = os.NewFile(uintptr(fd), "ptmx")
	if err := pty.Setsize(master, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if cmd.Env == nil {
		cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	}
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

// shellImage is an image the terminal tests run on, with its shell.
type shellImage struct {
	name, shell string
	// promptEnd follows the prompt's "$ " or "# ": busybox's line editor
	// asks the terminal for the cursor position (ESC [6n), bash turns
	// bracketed paste on.
	promptEnd  string
	needDebian bool
}

var shellImages = []shellImage{
	{name: "busybox", shell: "sh", promptEnd: `(\x1b\[6n)?$`},
	{name: "debian", shell: "bash", promptEnd: `(\x1b\[\?2004h)?$`, needDebian: true},
}

func (img shellImage) ref() string { return Registry + "/test/" + img.name + ":latest" }

// prompt matches the shell's prompt for root (#) or another user ($).
func (img shellImage) prompt(root bool) string {
	if root {
		return `# ` + img.promptEnd
	}
	return `\$ ` + img.promptEnd
}

// forEachShellImage runs fn on every shell image, pulled into a store of
// its own.
func forEachShellImage(t *testing.T, fn func(t *testing.T, img shellImage, s store)) {
	for _, img := range shellImages {
		t.Run(img.name, func(t *testing.T) {
			if img.needDebian {
				requireDebian(t)
			}
			s := testStore(t)
			mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", img.ref())
			fn(t, img, s)
		})
	}
}

func TestInteractiveShell(t *testing.T) {
	forEachShellImage(t, func(t *testing.T, img shellImage, s store) {
		// With --init the shell is not pid 1 and not the session leader:
		// Ctrl-C must still reach the foreground job alone.
		for _, init := range []bool{false, true} {
			args := []string{"run", "-it", "--rm", "--user", "1000"}
			if init {
				args = append(args, "--init")
			}
			t.Run(fmt.Sprintf("init=%v", init), func(t *testing.T) {
				se := startSession(t, s, 30, 100, append(args, img.ref(), img.shell)...)
				prompt := img.prompt(false)
				se.expect(prompt)
				// The first command sees the size the terminal had
				// before the start, then every resize.
				se.send("stty size\r")
				se.expect(`\b30 100\r\n`)
				se.expect(prompt)
				se.send("id\r")
				id := se.expect(`uid=\d+\(\w+\) gid=\d+\(\w+\)[^\r\n]*`)
				if !strings.HasPrefix(id, "uid=1000(user) gid=1000(user)") {
					t.Errorf("id in the terminal: %q", id)
				}
				se.expect(prompt)
				if err := pty.Setsize(se.master, &pty.Winsize{Rows: 41, Cols: 123}); err != nil {
					t.Fatal(err)
				}
				time.Sleep(200 * time.Millisecond) // SIGWINCH reaches crun-lite asynchronously
				se.send("stty size\r")
				se.expect(`\b41 123\r\n`)
				se.expect(prompt)
				se.send("tty; echo TERM=$TERM\r")
				se.expect(`/dev/pts/0\r\nTERM=xterm-256color\r\n`)
				se.expect(prompt)
				// Ctrl-C kills the foreground sleep, not the shell.
				se.send("sleep 100\r")
				time.Sleep(300 * time.Millisecond)
				se.send("\x03")
				se.expect(prompt)
				se.send("echo still-$((40+2))\r")
				se.expect(`still-42`)
				se.expect(prompt)
				se.send("exit 3\r")
				if code := se.exit(); code != 3 {
					t.Errorf("exit 3 in the shell: crun-lite exited %d", code)
				}
			})
		}
	})
}

// TestWindowSizeBeforeStart: the command itself is stty size, so it runs at
// once: the size must be set before exec, not after.
func TestWindowSizeBeforeStart(t *testing.T) {
	forEachShellImage(t, func(t *testing.T, img shellImage, s store) {
		for _, cmd := range [][]string{{"stty", "size"}, {img.shell, "-c", "stty size"}} {
			se := startSession(t, s, 37, 111, append([]string{"run", "-it", "--rm", img.ref()}, cmd...)...)
			se.expect(`^37 111\r\n`)
			if code := se.exit(); code != 0 {
				t.Errorf("%v: exit %d", cmd, code)
			}
		}
	})
}

// TestTerminalOwner: the container's terminal belongs to the command's
// user, as after a login, also with keep-id, whose user namespace is entered
// after the terminal is made.
func TestTerminalOwner(t *testing.T) {
	forEachShellImage(t, func(t *testing.T, img shellImage, s store) {
		for _, c := range []struct {
			opt, want string
		}{
			{"--user=1000", "1000:1000"},
			{"--userns=keep-id", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())},
		} {
			if c.opt == "--userns=keep-id" && os.Geteuid() == 0 {
				continue // keep-id is for rootless use
			}
			se := startSession(t, s, 24, 80, "run", "-it", "--rm", c.opt, img.ref(), "sh", "-c",
				`echo "owner=$(stat -c %u:%g "$(tty)") user=$(id -u):$(id -g)"`)
			got := se.expect(`owner=\S+ user=\S+\r\n`)
			if want := "owner=" + c.want + " user=" + c.want + "\r\n"; got != want {
				t.Errorf("%s: %q, want %q", c.opt, got, want)
			}
			if code := se.exit(); code != 0 {
				t.Errorf("%s: exit %d", c.opt, code)
			}
		}
	})
}

func TestCtrlDEndsShell(t *testing.T) {
	forEachShellImage(t, func(t *testing.T, img shellImage, s store) {
		se := startSession(t, s, 24, 80, "run", "-it", "--rm", img.ref(), img.shell)
		se.expect(img.prompt(true))
		se.send("\x04")
		if code := se.exit(); code != 0 {
			t.Errorf("Ctrl-D: exit %d, want 0", code)
		}
	})
}

func TestJobControl(t *testing.T) {
	requireDebian(t)
	img := shellImages[1]
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", img.ref())
	for _, user := range []string{"0", "1000"} {
		t.Run("user="+user, func(t *testing.T) {
			se := startSession(t, s, 24, 80, "run", "-it", "--rm", "--user", user, img.ref(), "bash")
			prompt := img.prompt(user == "0")
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
		})
	}
}

func TestPipelines(t *testing.T) {
	forEachShellImage(t, func(t *testing.T, img shellImage, s store) {
		image := img.ref()
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
	})
}

func TestSignals(t *testing.T) {
	forEachShellImage(t, func(t *testing.T, img shellImage, s store) {
		image, sh := img.ref(), img.shell
		loop := `echo ready; while :; do sleep 0.05; done`
		cases := []struct {
			name    string
			args    []string
			sig     syscall.Signal
			want    int
			wantOut string // after ready
		}{
			// A handler in the container, pid 1 here, sees the forwarded signal.
			{"trap USR1", []string{sh, "-c", `trap "exit 42" USR1; ` + loop}, syscall.SIGUSR1, 42, ""},
			{"trap HUP", []string{sh, "-c", `trap "exit 43" HUP; ` + loop}, syscall.SIGHUP, 43, ""},
			{"trap TERM", []string{sh, "-c", `trap "echo got TERM; exit 5" TERM; ` + loop}, syscall.SIGTERM, 5, "got TERM\n"},
			{"trap INT", []string{sh, "-c", `trap "echo got INT; exit 6" INT; ` + loop}, syscall.SIGINT, 6, "got INT\n"},
			// sleep as pid 1 ignores SIGTERM: crun-lite kills it after --stop-timeout.
			{"pid1 TERM", []string{"--stop-timeout", "1", image, "sh", "-c", "echo ready; exec sleep 100"}, syscall.SIGTERM, 137, ""},
			// With --init the command is not pid 1 and dies of the signal.
			{"init TERM", []string{"--init", image, "sh", "-c", "echo ready; exec sleep 100"}, syscall.SIGTERM, 143, ""},
			{"init INT", []string{"--init", image, "sh", "-c", "echo ready; exec sleep 100"}, syscall.SIGINT, 130, ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				args := c.args
				if !slices.Contains(args, image) {
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
				if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "ready\n" {
					t.Fatalf("container did not start: %q %v", buf, err)
				}
				start := time.Now()
				if err := cmd.Process.Signal(c.sig); err != nil {
					t.Fatal(err)
				}
				rest, _ := io.ReadAll(stdout)
				_ = cmd.Wait()
				if code := cmd.ProcessState.ExitCode(); code != c.want {
					t.Errorf("exit %d, want %d", code, c.want)
				}
				if string(rest) != c.wantOut {
					t.Errorf("output after the signal: %q, want %q", rest, c.wantOut)
				}
				if c.want == 137 && time.Since(start) < 900*time.Millisecond {
					t.Errorf("killed after %s, before --stop-timeout", time.Since(start))
				}
			})
		}
	})
}

// TestInitCtrlC: with -it --init, a Ctrl-C reaches the command once. The
// terminal sends SIGINT to its foreground process group; were the init in
// it, the command would get the init's forwarded copy too.
func TestInitCtrlC(t *testing.T) {
	s, image := busyboxStore(t)
	// The command's group is the terminal's foreground, the init's is not
	// (fields 5 and 8 of /proc/PID/stat: pgrp, tpgid).
	out := mustCrunIn(t, s, "run", "--rm", "-t", "--init", image, "cut", "-d", " ", "-f", "5,8", "/proc/1/stat", "/proc/self/stat").Stdout
	lines := strings.Fields(strings.ReplaceAll(out, " ", ","))
	if len(lines) != 2 {
		t.Fatalf("stat of init and command: %q", out)
	}
	initPg, cmdPg := strings.Split(lines[0], ","), strings.Split(lines[1], ",")
	if initPg[0] == initPg[1] || cmdPg[0] != cmdPg[1] {
		t.Errorf("want the command's process group in the foreground, not the init's: init pgrp,tpgid %v, command %v", initPg, cmdPg)
	}

	dir := cProgram(t, "sigcount")
	se := startSession(t, s, 24, 80, "run", "-it", "--rm", "--init", "-v", dir+":/t:ro", image, "/t/sigcount")
	se.expect(`ready\r\n`)
	var got []string
	for range 2 {
		se.send("\x03")
		got = append(got, strings.TrimSpace(se.expect(`INT \d+ from pid \d+\r\n`)))
	}
	// Through crun-lite and the init, after any copy of the INTs: the init
	// and the command each take the lower-numbered pending signal first.
	if err := se.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	got = append(got, strings.TrimSpace(se.expect(`total \d+\r\n`)))
	want := []string{"INT 1 from pid 0", "INT 2 from pid 0", "total 2"}
	if !slices.Equal(got, want) {
		t.Errorf("two Ctrl-C under --init: %q, want %q (pid 1: the init forwarded a copy)", got, want)
	}
	if code := se.exit(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestInitReapsZombies: with --init, orphans are reparented to the init,
// not to the shell (which reaps whatever it can wait for), so zombies left in
// ps would be the init's failure.
func TestInitReapsZombies(t *testing.T) {
	s, image := busyboxStore(t)
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

// userCase is one --user and the id output it must give.
type userCase struct{ user, want string }

// usersOf gives, per image, the --user cases, the --group-add case and the
// options that prepare the image. The busybox image has users user (1000,
// in audio and staff) and app (1001, in staff); the Debian image has user
// (1000) in no group, so its /etc/group is replaced by one that puts user
// in audio and staff (and shows that names resolve from the container's
// files as mounted). GNU id lists the primary group among the groups,
// busybox's does not.
func usersOf(t *testing.T, s store, img shellImage) (cases []userCase, groupAdd userCase, opts []string) {
	if img.name == "busybox" {
		// busybox's id lists getgroups(), which hold the primary gid as
		// in Podman 4.3.1 (crun), whose output these are.
		return []userCase{
			{"1000", "uid=1000(user) gid=1000(user) groups=29(audio),50(staff),1000(user)"},
			{"1000:50", "uid=1000(user) gid=50(staff) groups=50(staff)"},
			{"user", "uid=1000(user) gid=1000(user) groups=29(audio),50(staff),1000(user)"},
			{"app:staff", "uid=1001(app) gid=50(staff) groups=50(staff)"},
			{"1001:staff", "uid=1001(app) gid=50(staff) groups=50(staff)"},
			{"app:29", "uid=1001(app) gid=29(audio) groups=29(audio)"},
			{"4242", "uid=4242 gid=0(root) groups=0(root)"},
		}, userCase{"app", "uid=1001(app) gid=1001(app) groups=29(audio),50(staff),1001(app),4000"}, nil
	}
	group := mustCrunIn(t, s, "run", "--rm", img.ref(), "cat", "/etc/group").Stdout
	group = regexp.MustCompile(`(?m)^(audio:x:29|staff:x:50):$`).ReplaceAllString(group, "$1:user")
	if strings.Count(group, ":user\n") != 2 {
		t.Fatalf("the Debian image's /etc/group lacks an empty audio or staff group:\n%s", group)
	}
	file := filepath.Join(hostDir(t), "group")
	if err := os.WriteFile(file, []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	return []userCase{
		{"1000", "uid=1000(user) gid=1000(user) groups=1000(user),29(audio),50(staff)"},
		{"1000:50", "uid=1000(user) gid=50(staff) groups=50(staff)"},
		{"user", "uid=1000(user) gid=1000(user) groups=1000(user),29(audio),50(staff)"},
		{"user:staff", "uid=1000(user) gid=50(staff) groups=50(staff)"},
		{"1000:staff", "uid=1000(user) gid=50(staff) groups=50(staff)"},
		{"user:29", "uid=1000(user) gid=29(audio) groups=29(audio)"},
		{"4242", "uid=4242 gid=0(root) groups=0(root)"},
	}, userCase{"user", "uid=1000(user) gid=1000(user) groups=1000(user),29(audio),50(staff),4000"}, []string{"-v", file + ":/etc/group:ro"}
}

func TestUsers(t *testing.T) {
	forEachShellImage(t, func(t *testing.T, img shellImage, s store) {
		image := img.ref()
		cases, groupAdd, opts := usersOf(t, s, img)
		run := func(args ...string) result {
			t.Helper()
			return crunIn(t, s, append(append([]string{"run", "--rm"}, opts...), args...)...)
		}
		for _, c := range cases {
			if out := run("--user", c.user, image, "id").Stdout; strings.TrimSpace(out) != c.want {
				t.Errorf("--user %s: id = %q, want %q", c.user, out, c.want)
			}
		}
		out := run("--user", groupAdd.user, "--group-add", "audio", "--group-add", "4000", image, "id").Stdout
		if strings.TrimSpace(out) != groupAdd.want {
			t.Errorf("--group-add: %q, want %q", out, groupAdd.want)
		}
		env := run("--user", "1000", image, "env").Stdout
		for _, want := range []string{"HOME=/home/user\n", "USER=user\n", "LOGNAME=user\n", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"} {
			if !strings.Contains(env, want) {
				t.Errorf("env for user 1000 lacks %q:\n%s", want, env)
			}
		}
		if env := run("--user", "4242", image, "env").Stdout; !strings.Contains(env, "HOME=/\n") {
			t.Errorf("a uid without passwd entry: want HOME=/:\n%s", env)
		}
		caps := run("--user", "1000", image, "grep", "^Cap", "/proc/self/status").Stdout
		for _, set := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
			if !strings.Contains(caps, set+":\t0000000000000000") {
				t.Errorf("user 1000 keeps capabilities in %s:\n%s", set, caps)
			}
		}
		for _, bad := range []string{"nosuch", "user:nosuchgroup", "nosuch:50"} {
			r := run("--user", bad, image, "id")
			if r.Code != 125 || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, "/etc/") {
				t.Errorf("--user %s: want exit 125 and one line naming the file: %s", bad, r)
			}
		}
		if r := run("--group-add", "nosuchgroup", image, "id"); r.Code != 125 || !strings.Contains(r.Stderr, "/etc/group") {
			t.Errorf("--group-add nosuchgroup: %s", r)
		}
	})
}

// TestSetgroupsDenied: run as root of a user namespace made without
// privilege (unshare -r, as a sandbox may start us), crun-lite cannot set
// supplementary groups (/proc/self/setgroups is "deny"): a group the user
// should have and lacks is named on stderr, not silently dropped.
func TestSetgroupsDenied(t *testing.T) {
	s := testStore(t)
	// Only one id exists in such a namespace: the image's other owners
	// cannot be kept.
	s.Extra = []string{"--storage-opt", "overlay.ignore_chown_errors=true"}
	unshare := func(args ...string) result {
		t.Helper()
		full := append(append([]string{"--map-root-user", "--mount", Bin, "--root", s.Root, "--runroot", s.RunRoot}, s.Extra...), args...)
		cmd := exec.Command("unshare", full...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := result{Stdout: out.String(), Stderr: errb.String(), Code: cmd.ProcessState.ExitCode()}
		if err != nil && r.Code < 0 {
			t.Fatalf("unshare: %v", err)
		}
		return r
	}
	if r := unshare("pull", "-q", "oci-archive:"+filepath.Join(TestData, "images", "busybox.tar")); r.Code != 0 {
		t.Fatalf("pull in unshare -r: %s", r)
	}
	image := "localhost/busybox"
	if r := unshare("run", "--rm", image, "cat", "/proc/self/setgroups"); r.Code != 0 || r.Stdout != "deny\n" || r.Stderr != "" {
		t.Errorf("root of unshare -r, whose groups are all it has: want setgroups deny and no warning: %s", r)
	}
	r := unshare("run", "--rm", "--group-add", "10", image, "true")
	if r.Code != 0 || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, "warning") || !strings.Contains(r.Stderr, "groups 10 not set") {
		t.Errorf("--group-add 10 where setgroups is denied: want exit 0 and a one-line warning naming 10: %s", r)
	}
}

// TestEnvDefaults: TERM comes from the host with -t (xterm when the host has
// none) and not without; PATH gets a default when the image sets none.
func TestEnvDefaults(t *testing.T) {
	s, image := busyboxStore(t)
	run := func(term string, args ...string) string {
		t.Helper()
		env := []string{}
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "TERM=") {
				env = append(env, e)
			}
		}
		if term != "" {
			env = append(env, "TERM="+term)
		}
		cmd := exec.Command(Bin, append([]string{"--root", s.Root, "--runroot", s.RunRoot, "run", "--rm"}, args...)...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
		return string(out)
	}
	show := []string{image, "sh", "-c", `echo "TERM=${TERM-unset}"`}
	for _, c := range []struct {
		host string
		tty  bool
		want string
	}{
		{"", true, "TERM=xterm\r\n"},
		{"screen-256color", true, "TERM=screen-256color\r\n"},
		{"screen-256color", false, "TERM=unset\n"},
	} {
		args := show
		if c.tty {
			args = append([]string{"-t"}, show...)
		}
		if got := run(c.host, args...); got != c.want {
			t.Errorf("host TERM %q, -t %v: %q, want %q", c.host, c.tty, got, c.want)
		}
	}

	// An image without Env: the busybox root filesystem, imported bare.
	rootfs := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	if err := os.WriteFile(rootfs, busyboxLayer(t).gz, 0o644); err != nil {
		t.Fatal(err)
	}
	mustCrunIn(t, s, "import", "-q", rootfs, "noenv")
	if env := inspectField(t, s, "localhost/noenv:latest", "{{.Config.Env}}"); strings.Contains(env, "PATH") {
		t.Fatalf("the imported image sets PATH itself: %s", env)
	}
	if out := mustCrunIn(t, s, "run", "--rm", "noenv", "sh", "-c", `echo "$PATH"`).Stdout; out != "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n" {
		t.Errorf("PATH of an image without one: %q", out)
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
	s, image := busyboxStore(t)
	r := mustCrunIn(t, s, "run", "--rm", "-t", image, "sh", "-c", "tty; stty size; echo err >&2")
	// With a terminal stderr goes through it too: one stream.
	if r.Stdout != "/dev/pts/0\r\n24 80\r\nerr\r\n" || r.Stderr != "" {
		t.Errorf("-t without a host terminal: %s", r)
	}
}

// TestTerminalRestoredOnErrors: raw mode is undone on every way out: the
// command cannot start, the user is unknown, crun-lite is told to stop.
func TestTerminalRestoredOnErrors(t *testing.T) {
	forEachShellImage(t, func(t *testing.T, img shellImage, s store) {
		image := img.ref()
		se := startSession(t, s, 24, 80, "run", "-it", "--rm", image, "/nonexistent")
		se.expect(`/nonexistent`)
		if code := se.exit(); code != 127 {
			t.Errorf("missing command in a terminal: exit %d, want 127", code)
		}
		// Found after the rootfs is ready, when our terminal is raw already.
		se = startSession(t, s, 24, 80, "run", "-it", "--rm", "--user", "nosuch", image, img.shell)
		se.expect(`nosuch.*/etc/passwd`)
		if code := se.exit(); code != 125 {
			t.Errorf("unknown user in a terminal: exit %d, want 125", code)
		}
		se = startSession(t, s, 24, 80, "run", "-it", "--rm", "--stop-timeout", "1", image, img.shell)
		se.expect(img.prompt(true))
		if err := se.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := se.exit(); code != 137 && code != 143 {
			t.Errorf("SIGTERM to crun-lite in a session: exit %d", code)
		}
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGHUP} {
			se = startSession(t, s, 24, 80, "run", "-it", "--rm", "--init", image, "sh", "-c", "echo ready; exec sleep 100")
			se.expect(`ready\r\n`)
			if err := se.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := se.exit(); code != 128+int(sig) {
				t.Errorf("%v to crun-lite in a session: exit %d, want %d", sig, code, 128+int(sig))
			}
		}
	})
}

// TestTerminalHangup: when our terminal goes away (its window closed), an
// -it container ends: a shell as pid 1 ignores the SIGHUP, so it is killed
// after --stop-timeout, as after SIGTERM.
func TestTerminalHangup(t *testing.T) {
	forEachShellImage(t, func(t *testing.T, img shellImage, s store) {
		se := startSession(t, s, 24, 80, "run", "-it", "--rm", "--stop-timeout", "1", img.ref(), img.shell)
		se.expect(img.prompt(true))
		se.master.Close()
		select {
		case <-se.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("crun-lite still runs after its terminal hung up; processes:\n%s", describeProcesses())
		}
		// bash exits on SIGHUP, busybox sh is killed.
		if code := se.cmd.ProcessState.ExitCode(); code != 129 && code != 137 {
			t.Errorf("exit %d, want 129 or 137", code)
		}
	})
}

// TestHostTerminalNotPassed: without -t the container never holds our
// terminal (it could inject input with TIOCSTI): a terminal on our stdio
// reaches it as a pipe, and without -i stdin is /dev/null.
func TestHostTerminalNotPassed(t *testing.T) {
	s, image := busyboxStore(t)
	se := startSession(t, s, 24, 80, "run", "-i", "--rm", image, "sh", "-c",
		"tty; for fd in 0 1 2; do readlink /proc/self/fd/$fd; done; read line; echo got:$line")
	se.expect(`not a tty`)
	se.expect(`pipe:\[\d+\]\r\npipe:\[\d+\]\r\npipe:\[\d+\]\r\n`)
	se.send("hello\r")
	se.expect(`got:hello`)
	if code := se.exit(); code != 0 {
		t.Errorf("exit %d", code)
	}
	se = startSession(t, s, 24, 80, "run", "--rm", image, "sh", "-c", "for fd in 0 1 2; do readlink /proc/self/fd/$fd; done")
	se.expect(`/dev/null\r\npipe:\[\d+\]\r\npipe:\[\d+\]\r\n`)
	if code := se.exit(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestTIOCSTI: a container cannot push input into the terminal of the
// shell that started crun-lite. A user's shell runs on a pty and starts a
// program that injects "touch MARKER" with TIOCSTI into every terminal it
// holds: run on the host, the shell then runs the command (proof that the
// attack works here); run in a container, with or without -t and -i, the
// shell never sees it.
func TestTIOCSTI(t *testing.T) {
	if b, err := os.ReadFile("/proc/sys/dev/tty/legacy_tiocsti"); err == nil && strings.TrimSpace(string(b)) == "0" {
		t.Skip("TIOCSTI is disabled on this host (dev.tty.legacy_tiocsti=0): nothing to prove")
	}
	s, image := busyboxStore(t)
	dir := cProgram(t, "tiocsti")
	markers := hostDir(t)
	sh := exec.Command("/bin/sh", "-i")
	sh.Env = append(os.Environ(), "TERM=xterm-256color", "PS1=host$ ", "ENV=")
	se := startOnPty(t, 24, 80, sh)
	prompt := `host\$ $`
	se.expect(prompt)
	// attack runs prog with the injection for marker n, then echo done-N+1.
	attack := func(n int, prog string) string {
		t.Helper()
		marker := filepath.Join(markers, strconv.Itoa(n))
		se.send(fmt.Sprintf("%s 'touch %s'; echo done-$((%d+1))\r", prog, marker, n))
		out := se.expect(fmt.Sprintf(`(?s)fd=.*done-%d\r\n`, n+1))
		se.expect(prompt)
		return out
	}

	out := attack(0, filepath.Join(dir, "tiocsti"))
	se.send("echo end-$((1+1))\r") // the shell reads what was injected first
	se.expect(`end-2\r\n`)
	se.expect(prompt)
	if _, err := os.Stat(filepath.Join(markers, "0")); err != nil {
		t.Fatalf("TIOCSTI on the host terminal had no effect, so the test would prove nothing (%v); the program said:\n%s", err, out)
	}

	crun := fmt.Sprintf("%s --root %s --runroot %s run --rm -v %s:/t:ro", Bin, s.Root, s.RunRoot, dir)
	for i, c := range []struct {
		opts   string
		ownTTY bool // the container has a terminal of its own
	}{
		{"-t", true}, {"-it", true}, {"-i", false}, {"", false},
	} {
		n := i + 1
		out := attack(n, fmt.Sprintf("%s %s %s /t/tiocsti", crun, c.opts, image))
		if strings.Contains(out, "tty=foreign") {
			t.Errorf("run %s: the container holds a terminal that is not its own:\n%s", c.opts, out)
		}
		// Its own terminal takes the injection (so the program works in
		// there); nothing else it has is a terminal.
		if c.ownTTY && !strings.Contains(out, "fd=0 tty=own sti=ok") {
			t.Errorf("run %s: TIOCSTI on the container's own terminal failed:\n%s", c.opts, out)
		}
		if !c.ownTTY && strings.Contains(out, "tty=") {
			t.Errorf("run %s: the container has a terminal:\n%s", c.opts, out)
		}
	}
	se.send("echo end-$((2+2))\r")
	se.expect(`end-4\r\n`)
	se.expect(prompt)
	for n := 1; n <= 4; n++ {
		if _, err := os.Stat(filepath.Join(markers, strconv.Itoa(n))); err == nil {
			t.Errorf("case %d: text injected in the container ran in the host's shell", n)
		}
	}
	se.send("exit\r")
	se.exit()
}

var (
	cProgMu   sync.Mutex
	cProgDir  string
	cProgErrs = map[string]error{}
)

// cProgram returns a directory holding testdata/NAME.c built static, to
// bind-mount into containers of any image.
func cProgram(t *testing.T, name string) string {
	t.Helper()
	cProgMu.Lock()
	defer cProgMu.Unlock()
	if cProgDir == "" {
		dir, err := os.MkdirTemp("", "crl-cprog-")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cProgDir = dir
	}
	err, built := cProgErrs[name]
	if !built {
		out, cerr := exec.Command("gcc", "-static", "-O2", "-Wall", "-o", filepath.Join(cProgDir, name), "testdata/"+name+".c").CombinedOutput()
		if cerr != nil {
			err = fmt.Errorf("gcc %s.c: %v\n%s", name, cerr, out)
		}
		cProgErrs[name] = err
	}
	if err != nil {
		t.Fatal(err)
	}
	return cProgDir
}
