//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strings"
	"testing"
)

type doctorReport struct {
	OK     bool `json:"ok"`
	Checks []struct {
		ID, Title, Status, Message, Fix string
	} `json:"checks"`
}

func doctorJSON(t *testing.T, s store, env []string) (doctorReport, result) {
	t.Helper()
	r := crunInEnv(t, s, env, "doctor", "--format", "json")
	var rep doctorReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("doctor --format json: %v: %s", err, r)
	}
	return rep, r
}

func (d doctorReport) check(id string) (status, message, fix string) {
	for _, c := range d.Checks {
		if c.ID == id {
			return c.Status, c.Message, c.Fix
		}
	}
	return "", "", ""
}

// On the test rig (a healthy host) nothing blocks, for either kind of store,
// and every check the issue lists is there.
func TestDoctorHealthyHost(t *testing.T) {
	skipIfRoot(t, "the rootless checks (subordinate ids, newuidmap, holder) do not apply to root")
	forEachStore(t, func(t *testing.T, s store, image string) {
		rep, r := doctorJSON(t, s, nil)
		if r.Code != 0 || !rep.OK {
			t.Fatalf("doctor finds a problem on the test rig: %s", r)
		}
		var ids []string
		for _, c := range rep.Checks {
			ids = append(ids, c.ID)
			if !slices.Contains([]string{"ok", "info", "warning"}, c.Status) || c.Message == "" {
				t.Errorf("check %s: status %q, message %q", c.ID, c.Status, c.Message)
			}
		}
		for _, want := range []string{"subuid", "subgid", "newuidmap", "newgidmap", "userns", "nested", "holder",
			"graphroot", "overlay", "fuse-overlayfs", "storage", "runtime-dir", "cgroup", "network"} {
			if !slices.Contains(ids, want) {
				t.Errorf("no %s check in %v", want, ids)
			}
		}
		if st, msg, _ := rep.check("storage"); st != "ok" || !strings.Contains(msg, "the store uses overlay") {
			t.Errorf("storage: %s %q", st, msg)
		}
		if _, msg, _ := rep.check("storage"); (s.Extra != nil) != strings.Contains(msg, "fuse-overlayfs") {
			t.Errorf("storage check does not name the store's driver: %q", msg)
		}
		text := crunIn(t, s, "doctor")
		if text.Code != 0 || !strings.HasSuffix(text.Stdout, "Nothing blocks rootless containers.\n") ||
			!strings.Contains(text.Stdout, "ok       subordinate uids") {
			t.Errorf("doctor text output: %s", text)
		}
	})
}

// doctor looks at the host as a new namespace would: it never creates the
// holder, nor a store.
func TestDoctorChangesNothing(t *testing.T) {
	skipIfRoot(t, "it checks that doctor creates no namespace holder, which only rootless use has")
	s := testStore(t)
	s.Root += "/not-yet"
	rundir := t.TempDir()
	rep, r := doctorJSON(t, s, []string{"XDG_RUNTIME_DIR=" + rundir})
	if r.Code != 0 {
		t.Fatalf("doctor: %s", r)
	}
	if entries, _ := os.ReadDir(rundir); len(entries) != 0 {
		t.Errorf("doctor created %v in the runtime dir", entries)
	}
	if fileExists(s.Root) {
		t.Errorf("doctor created the graph root %s", s.Root)
	}
	if st, msg, _ := rep.check("holder"); st != "info" || !strings.Contains(msg, "not running") {
		t.Errorf("holder with a fresh runtime dir: %s %q", st, msg)
	}
	if _, msg, _ := rep.check("graphroot"); !strings.Contains(msg, "created on first use") {
		t.Errorf("graphroot: %q", msg)
	}
}

// A store made with one driver cannot be used with another: doctor says so
// with the same fix as the failing command, and exits 1.
func TestDoctorDriverConflict(t *testing.T) {
	s := testStore(t)
	mustCrunIn(t, s, "images") // makes the store, with native overlay
	s.Extra = storeKinds[1].extra
	rep, r := doctorJSON(t, s, nil)
	st, msg, fix := rep.check("storage")
	if r.Code != 1 || rep.OK || st != "problem" || !strings.Contains(msg, "not overlay (fuse-overlayfs)") {
		t.Fatalf("doctor with a driver that differs from the store's: %s", r)
	}
	run := crunIn(t, s, "images")
	if run.Code != 125 || !strings.Contains(run.Stderr, msg) || !strings.Contains(run.Stderr, "hint: "+fix) {
		t.Errorf("images and doctor disagree:\ndoctor: %s\nfix: %s\nimages: %s", msg, fix, run)
	}
	text := crunIn(t, s, "doctor")
	if !strings.Contains(text.Stdout, "problem  storage driver") || !strings.Contains(text.Stdout, "fix: "+fix) ||
		!strings.Contains(text.Stdout, "1 problem blocks rootless containers") {
		t.Errorf("doctor text output: %s", text)
	}
}

// crunWithout runs crun-lite with args in the test's environment minus the
// variables named in unset, and no --root: what env -u HOME crun-lite does.
func crunWithout(t *testing.T, unset []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), crunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Bin, args...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(unset, k) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("crun-lite %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// Without HOME, XDG_DATA_HOME and --root there is no default store: doctor
// reports that as the graph root's problem, with the fix, and exits 1 (not
// 125), and a store command prints the same fix as its hint.
func TestDoctorWithoutHome(t *testing.T) {
	home := os.Getenv("HOME")
	if u, err := user.Current(); err == nil {
		home = u.HomeDir // what /etc/passwd says, which the fix names
	}
	unset := []string{"HOME", "XDG_DATA_HOME"}
	r := crunWithout(t, unset, "doctor", "--format", "json")
	var rep doctorReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("doctor --format json: %v: %s", err, r)
	}
	st, msg, fix := rep.check("graphroot")
	wantFix := "export HOME=" + home + " (or pass --root DIR)"
	if r.Code != 1 || rep.OK || st != "problem" || !strings.Contains(msg, "neither XDG_DATA_HOME nor HOME is set") || fix != wantFix {
		t.Fatalf("doctor without HOME: graphroot %s %q, fix %q (want %q):\n%s", st, msg, fix, wantFix, r)
	}
	for _, id := range []string{"overlay", "fuse-overlayfs", "storage", "runtime-dir", "network"} {
		if st, _, _ := rep.check(id); st == "" {
			t.Errorf("doctor without HOME skips the %s check", id)
		}
	}
	text := crunWithout(t, unset, "doctor")
	if text.Code != 1 || !strings.Contains(text.Stdout, "problem  graph root") || !strings.Contains(text.Stdout, "fix: "+wantFix+"\n") {
		t.Errorf("doctor text output without HOME:\n%s", text)
	}
	images := crunWithout(t, unset, "images")
	if images.Code != 125 || !strings.Contains(images.Stderr, msg) || !strings.Contains(images.Stderr, "\nhint: "+wantFix+"\n") {
		t.Errorf("images without HOME: want exit 125, %q and the hint %q:\n%s", msg, wantFix, images)
	}
}

// The network check names slirp4netns's version and the options it
// supports (found through rootlesskit), as slirp4netns itself tells them.
func TestDoctorNetworkHelpers(t *testing.T) {
	path, err := exec.LookPath("slirp4netns")
	if err != nil {
		t.Fatal("slirp4netns is not installed (hack/test-setup.sh installs it)")
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	version := strings.TrimSpace(strings.TrimPrefix(first, "slirp4netns version"))
	help, _ := exec.Command(path, "--help").CombinedOutput()
	rep, r := doctorJSON(t, testStore(t), nil)
	st, msg, _ := rep.check("network")
	if st != "ok" || !strings.Contains(msg, path+" ("+version+"; supports ") {
		t.Fatalf("network check: %s %q, want %s with version %s\n%s", st, msg, path, version, r)
	}
	for _, opt := range []string{"--enable-ipv6", "--cidr", "--disable-host-loopback", "--api-socket", "--enable-sandbox"} {
		if strings.Contains(string(help), opt) != strings.Contains(msg, " "+opt) {
			t.Errorf("network check %q and slirp4netns --help disagree on %s", msg, opt)
		}
	}
}
