//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The --share tests run real servers, headless, as the test process's
// user (hack/test-setup.sh installs them), and their clients in the
// desktop image (hack/build-test-images.sh: busybox plus the host's
// wayland-info, xdpyinfo, xeyes, dbus-send and paplay).

// loadDesktop loads the desktop image into s, or skips.
func loadDesktop(t *testing.T, s store) string {
	t.Helper()
	tar := filepath.Join(TestData, "images", "desktop.tar")
	if _, err := os.Stat(tar); err != nil {
		t.Skip("no desktop image: run hack/test-setup.sh")
	}
	mustCrunIn(t, s, "load", "-q", "-i", tar)
	return "localhost/desktop:latest"
}

// needTools skips unless the host has every program named.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: run hack/test-setup.sh", tool)
		}
	}
}

// eachStoreWith runs fn in a fresh store of each kind with the desktop
// image loaded: --share runs as the user (keep-id), on both.
func eachStoreWith(t *testing.T, fn func(t *testing.T, s store, image string)) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			s := testStore(t)
			s.Extra = k.extra
			fn(t, s, loadDesktop(t, s))
		})
	}
}

// shareDir is a directory for a test's server sockets, short enough for
// sun_path and reachable by the test user.
func shareDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "crl-sh-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startServer starts a server for the test, logging into dir, and stops
// it at the end.
func startServer(t *testing.T, dir string, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, filepath.Base(name)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = withEnv(env)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s log:\n%s", name, b)
		}
	})
	return cmd
}

func waitForSocket(t *testing.T, path string) {
	t.Helper()
	waitFor(t, "socket "+path, func() bool {
		fi, err := os.Stat(path)
		return err == nil && fi.Mode()&os.ModeSocket != 0
	})
}

// --share wayland: wayland-info inside lists the globals of a headless
// weston on the host; nothing else of the host's runtime dir is there,
// and without --share no compositor is reachable.
func TestShareWayland(t *testing.T) {
	needTools(t, "weston")
	dir := shareDir(t)
	runtime := os.Getenv("XDG_RUNTIME_DIR")
	if runtime == "" { // root
		runtime = dir
	}
	name := fmt.Sprintf("crl-wl-%d", os.Getpid())
	socket := filepath.Join(runtime, name)
	startServer(t, dir, []string{"XDG_RUNTIME_DIR=" + runtime}, "weston", "--backend=headless-backend.so", "--socket="+name, "--idle-time=0", "--no-config")
	waitForSocket(t, socket)
	env := []string{"WAYLAND_DISPLAY=" + socket}
	eachStoreWith(t, func(t *testing.T, s store, image string) {
		r := crunInEnv(t, s, env, "run", "--rm", "--share", "wayland", image, "sh", "-c", "wayland-info && echo run-dir: $(ls -A $XDG_RUNTIME_DIR) && echo $WAYLAND_DISPLAY $(id -u)")
		if r.Code != 0 || !strings.Contains(r.Stdout, "'wl_compositor'") || !strings.Contains(r.Stdout, "weston") {
			t.Fatalf("wayland-info with --share wayland: want weston's globals, got %s", r)
		}
		uid := strconv.Itoa(os.Getuid())
		if !strings.Contains(r.Stdout, "run-dir: wayland-0\nwayland-0 "+uid+"\n") {
			t.Errorf("want only wayland-0 in the container's runtime dir, and uid %s (keep-id), got:\n%s", uid, r.Stdout)
		}
		r = crunInEnv(t, s, env, "run", "--rm", image, "wayland-info")
		if r.Code == 0 {
			t.Errorf("wayland-info without --share reached a compositor:\n%s", r)
		}
		// --desktop with Wayland there: no X11 (fallback-x11), and what
		// the session lacks (sound, bus, GPU here) is left out.
		r = mustCrunInEnv(t, s, append(env, "DISPLAY=:0", "PULSE_SERVER", "DBUS_SESSION_BUS_ADDRESS"), "run", "--rm", "--desktop", image, "sh", "-c", "echo $WAYLAND_DISPLAY ${DISPLAY:-no-x11}")
		if r.Stdout != "wayland-0 no-x11\n" {
			t.Errorf("--desktop on a Wayland session: got %q, want wayland-0 and no DISPLAY", r.Stdout)
		}
	})
}

// --share x11: the cookie of an Xauthority entry bound to the host's
// name (as xauth writes it) works inside whatever the container's host
// name, rewritten to FamilyWild; without --share x11 the same socket
// refuses the client, which has no cookie.
func TestShareX11(t *testing.T) {
	needTools(t, "Xvfb", "xauth")
	dir := shareDir(t)
	n := 0
	for n = 70 + os.Getpid()%100; n < 300; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); os.IsNotExist(err) {
			break
		}
	}
	display := fmt.Sprintf(":%d", n)
	xauth := filepath.Join(dir, "Xauthority")
	host, _ := os.Hostname()
	if out, err := exec.Command("xauth", "-f", xauth, "add", host+"/unix"+display, "MIT-MAGIC-COOKIE-1", "0123456789abcdef0123456789abcdef").CombinedOutput(); err != nil {
		t.Fatalf("xauth add: %v\n%s", err, out)
	}
	startServer(t, dir, nil, "Xvfb", display, "-auth", xauth, "-nolisten", "tcp", "-screen", "0", "640x480x24")
	waitForSocket(t, fmt.Sprintf("/tmp/.X11-unix/X%d", n))
	env := []string{"DISPLAY=" + display, "XAUTHORITY=" + xauth}
	eachStoreWith(t, func(t *testing.T, s store, image string) {
		r := crunInEnv(t, s, env, "run", "--rm", "--share", "x11", "--hostname", "not-the-host", image, "xdpyinfo")
		if r.Code != 0 || !strings.Contains(r.Stdout, "name of display:    "+display) {
			t.Fatalf("xdpyinfo with --share x11: %s", r)
		}
		r = crunInEnv(t, s, env, "run", "--rm", "-v", "/tmp/.X11-unix:/tmp/.X11-unix", "-e", "DISPLAY="+display, image, "xdpyinfo")
		if r.Code == 0 || !strings.Contains(r.Stderr, "unable to open display") {
			t.Errorf("xdpyinfo with the socket but no --share x11 (no cookie): want a refusal, got %s", r)
		}
		// Not shared: with the host's network the server's abstract
		// socket is still reached (and the client refused for want of a
		// cookie); in the container's own network, or none, nothing of it.
		r = crunInEnv(t, s, env, "run", "--rm", "--network", "host", "-e", "DISPLAY="+display, image, "xdpyinfo")
		if r.Code == 0 || !strings.Contains(r.Stderr, "Authorization required") {
			t.Errorf("xdpyinfo, nothing shared, host network: want the server's refusal, got %s", r)
		}
		for _, netOpt := range [][]string{nil, {"--network", "none"}} {
			args := append(append([]string{"run", "--rm"}, netOpt...), "-e", "DISPLAY="+display, image, "xdpyinfo")
			r = crunInEnv(t, s, env, args...)
			if r.Code == 0 || strings.Contains(r.Stderr, "Authorization required") {
				t.Errorf("xdpyinfo, nothing shared, network %v: want no server reached, got %s", netOpt, r)
			}
		}
	})
}

// --share pulseaudio: paplay of a tone inside reaches the null sink of a
// PulseAudio server on the host, recorded there from the sink's monitor
// and checked not to be silence.
func TestSharePulseAudio(t *testing.T) {
	needTools(t, "pulseaudio", "parec", "sox")
	dir := shareDir(t)
	socket := filepath.Join(dir, "native")
	sink := fmt.Sprintf("crl%d", os.Getpid())
	startServer(t, dir, []string{"HOME=" + dir}, "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
		"-L", "module-native-protocol-unix socket="+socket, "-L", "module-null-sink sink_name="+sink)
	waitForSocket(t, socket)
	tone := filepath.Join(dir, "tone.wav")
	if out, err := exec.Command("sox", "-n", "-r", "44100", "-c", "2", "-b", "16", tone, "synth", "1", "sine", "440", "gain", "-3").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	if err := os.Chmod(tone, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PULSE_SERVER=unix:" + socket}
	eachStoreWith(t, func(t *testing.T, s store, image string) {
		raw := filepath.Join(dir, "rec-"+filepath.Base(s.Root)+".raw")
		rec := startServer(t, dir, env, "parec", "-d", sink+".monitor", "--format=s16le", "--rate=44100", "--channels=2", "--latency-msec=20", "--file-format=wav", raw)
		time.Sleep(300 * time.Millisecond) // parec connects
		r := crunInEnv(t, s, env, "run", "--rm", "--share", "pulseaudio", "-v", tone+":/tone.wav:ro", image, "paplay", "/tone.wav")
		time.Sleep(500 * time.Millisecond) // the last of it reaches parec
		_ = rec.Process.Signal(syscall.SIGINT)
		_ = rec.Wait()
		if r.Code != 0 {
			t.Fatalf("paplay with --share pulseaudio: %s", r)
		}
		out, err := exec.Command("sox", raw, "-n", "stat").CombinedOutput()
		m := regexp.MustCompile(`RMS\s+amplitude:\s+([0-9.]+)`).FindSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("sox stat of the recording: %v\n%s", err, out)
		}
		if rms, _ := strconv.ParseFloat(string(m[1]), 64); rms < 0.05 {
			t.Errorf("the host's null sink recorded RMS %v: silence, the tone did not arrive\n%s", rms, out)
		}
	})
}

// --share session-bus: through xdg-dbus-proxy, a call to an allowed name
// (notifications by default, or those named) is answered, one to any other
// name of the same bus is refused; the proxy goes when the run ends.
func TestShareSessionBus(t *testing.T) {
	needTools(t, "dbus-daemon", "xdg-dbus-proxy", "dbus-test-tool")
	dir := shareDir(t)
	bus := filepath.Join(dir, "bus")
	startServer(t, dir, nil, "dbus-daemon", "--session", "--nofork", "--address=unix:path="+bus)
	waitForSocket(t, bus)
	env := []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=" + bus}
	for _, name := range []string{"org.freedesktop.Notifications", "org.example.Secret"} {
		startServer(t, dir, env, "dbus-test-tool", "echo", "--name="+name)
	}
	time.Sleep(300 * time.Millisecond) // the names are taken
	call := func(dest string) string {
		return fmt.Sprintf("dbus-send --session --print-reply --dest=%s /x org.example.Ping >/dev/null 2>&1 && echo %s:answered || echo %s:refused; ", dest, dest, dest)
	}
	script := call("org.freedesktop.Notifications") + call("org.example.Secret")
	eachStoreWith(t, func(t *testing.T, s store, image string) {
		r := mustCrunInEnv(t, s, env, "run", "--rm", "--share", "session-bus", image, "sh", "-c", script)
		if r.Stdout != "org.freedesktop.Notifications:answered\norg.example.Secret:refused\n" {
			t.Errorf("--share session-bus (default names): got\n%s", r.Stdout)
		}
		r = mustCrunInEnv(t, s, env, "run", "--rm", "--share", "session-bus=org.example.Secret", image, "sh", "-c", script)
		if r.Stdout != "org.freedesktop.Notifications:refused\norg.example.Secret:answered\n" {
			t.Errorf("--share session-bus=org.example.Secret: got\n%s", r.Stdout)
		}
		// The same bus as a system bus, filtered to the names given.
		sys := []string{"DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + bus}
		r = mustCrunInEnv(t, s, sys, "run", "--rm", "--share", "system-bus=org.example.Secret", image, "sh", "-c", strings.ReplaceAll(script, "--session", "--system"))
		if r.Stdout != "org.freedesktop.Notifications:refused\norg.example.Secret:answered\n" {
			t.Errorf("--share system-bus=org.example.Secret: got\n%s", r.Stdout)
		}
		r = mustCrunInEnv(t, s, env, "run", "--rm", image, "sh", "-c", "echo ${DBUS_SESSION_BUS_ADDRESS:-none}")
		if r.Stdout != "none\n" {
			t.Errorf("without --share the container has a bus address: %q", r.Stdout)
		}
	})
	out, _ := exec.Command("pgrep", "-f", "xdg-dbus-proxy unix:path="+bus).Output()
	if len(out) > 0 {
		t.Errorf("xdg-dbus-proxy still runs after the containers exited: pids %s", out)
	}
}

// What cannot be shared fails before anything starts, on one line naming
// it: an unknown resource, a socket the session lacks, a GPU the host
// lacks (this one when /dev/dri is missing).
func TestShareErrors(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--share", "home"}, `unknown resource "home"`},
		{[]string{"WAYLAND_DISPLAY=/nonexistent/wayland-9"}, []string{"--share", "wayland"}, "--share wayland: stat /nonexistent/wayland-9"},
		{[]string{"DISPLAY=localhost:10"}, []string{"--share", "x11"}, "not a local display"},
		{[]string{"DBUS_SESSION_BUS_ADDRESS"}, []string{"--share", "session-bus"}, "no session bus"},
		{nil, []string{"--share", "session-bus=not a name"}, "is not a D-Bus name"},
	}
	if _, err := os.Stat("/dev/dri"); err != nil {
		cases = append(cases, struct {
			env  []string
			args []string
			want string
		}{nil, []string{"--share", "gpu"}, "no /dev/dri"})
	}
	for _, c := range cases {
		args := append(append([]string{"run", "--rm"}, c.args...), image, "true")
		r := crunInEnv(t, s, c.env, args...)
		first, _, _ := strings.Cut(r.Stderr, "\n")
		if r.Code != 125 || !strings.HasPrefix(first, "Error: ") || !strings.Contains(first, c.want) {
			t.Errorf("run %v: want 125 and Error: ...%s, got %s", c.args, c.want, r)
		}
	}
}

// --share fonts,themes,locale,timezone: the host's fonts and themes
// read-only where fontconfig and XDG_DATA_DIRS look besides the image's,
// its locale variables, and its zone file as /etc/localtime.
func TestShareFontsLocaleTimezone(t *testing.T) {
	if _, err := os.Stat("/usr/share/fonts"); err != nil {
		t.Skip("no /usr/share/fonts on this host")
	}
	want, err := os.ReadFile("/etc/localtime")
	if err != nil {
		t.Skip("no /etc/localtime on this host")
	}
	hostFonts, _ := os.ReadDir("/usr/share/fonts")
	eachStoreWith(t, func(t *testing.T, s store, image string) {
		env := []string{"LANG=C.UTF-8", "LC_TIME=C.UTF-8", "LC_ALL"}
		r := mustCrunInEnv(t, s, env, "run", "--rm", "--share", "fonts,themes,locale,timezone", image, "sh", "-c",
			`echo $LANG $LC_TIME; ls /usr/local/share/fonts; touch /usr/local/share/fonts/x 2>/dev/null && echo writable; cat /etc/localtime`)
		lines := strings.SplitN(r.Stdout, "\n", 3)
		if len(lines) < 3 || lines[0] != "C.UTF-8 C.UTF-8" || lines[1] != hostFonts[0].Name() {
			t.Fatalf("want the host's locale and fonts (%s), got:\n%s", hostFonts[0].Name(), r.Stdout)
		}
		if !strings.HasSuffix(r.Stdout, string(want)) || strings.Contains(r.Stdout, "writable") {
			t.Errorf("want the host's zone file as /etc/localtime and read-only fonts, got:\n%s", r.Stdout)
		}
	})
}
