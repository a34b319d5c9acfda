package userns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
)

func TestFreeRangeFollowsEveryRange(t *testing.T) {
	if got := freeRange(nil, 65536); got != (Range{100000, 65536}) {
		t.Errorf("empty files: got %v, want 100000-165535 as useradd would", got)
	}
	lines := parseOwners([]byte("alice:100000:65536\n# old\nbob:300000:65536\n1003:165536:1000\n"))
	if got := freeRange(lines, 65536); got.String() != "365536-431071" {
		t.Errorf("got %v, want 365536-431071", got)
	}
}

func TestParseOwners(t *testing.T) {
	got := parseOwners([]byte("alice:100000:65536\n#bob:1:2\nbad line\n1003:5:0\n1004:7:3\n"))
	want := []ownedRange{{"alice", Range{100000, 65536}}, {"1004", Range{7, 3}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestRangeOverlapAndCover(t *testing.T) {
	a := Range{100, 10} // 100-109
	for _, c := range []struct {
		b    Range
		want bool
	}{{Range{109, 1}, true}, {Range{110, 5}, false}, {Range{90, 10}, false}, {Range{90, 11}, true}} {
		if got := a.overlaps(c.b); got != c.want {
			t.Errorf("%v overlaps %v: got %v", a, c.b, got)
		}
	}
	inner := parseIDMap([]byte("         0       1000          1\n         1     100000      65536\n"))
	if !covered(Range{1, 65536}, inner) || covered(Range{300000, 65536}, inner) {
		t.Errorf("coverage of %v is wrong", inner)
	}
	if m := parseIDMap([]byte("         0          0 4294967295\n")); m != nil {
		t.Errorf("the host's identity map is no nesting: %v", m)
	}
}

// fakeProcSys lays out a /proc/sys with the given settings.
func fakeProcSys(t *testing.T, settings map[string]string) procSys {
	t.Helper()
	dir := t.TempDir()
	for key, value := range settings {
		path := filepath.Join(dir, key)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(value+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return procSys(dir)
}

// DiagnoseUserns is what both the holder's error and doctor print: for each
// setting that blocks user namespaces, the error names it and the hint is
// its fix; on a healthy host the error stays as it was.
func TestDiagnoseUsernsNamesEachBlocker(t *testing.T) {
	healthy := map[string]string{sysctlUnprivClone: "1", sysctlMaxUserNS: "15000", sysctlAppArmorUserNS: "0"}
	with := func(key, value string) map[string]string {
		m := maps.Clone(healthy)
		m[key] = value
		return m
	}
	cases := []struct {
		name     string
		settings map[string]string
		cause    string
		fix      []string
	}{
		{"unprivileged_userns_clone=0", with(sysctlUnprivClone, "0"), "kernel.unprivileged_userns_clone is 0",
			[]string{"sudo sysctl -w kernel.unprivileged_userns_clone=1 && ", "/etc/sysctl.d/"}},
		{"max_user_namespaces=0", with(sysctlMaxUserNS, "0"), "user.max_user_namespaces is 0",
			[]string{"sudo sysctl -w user.max_user_namespaces=15000 && ", "/etc/sysctl.d/"}},
		{"apparmor_restrict_unprivileged_userns=1", with(sysctlAppArmorUserNS, "1"),
			"AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)",
			[]string{"userns,", "| sudo tee /etc/apparmor.d/crun-lite && sudo apparmor_parser -r /etc/apparmor.d/crun-lite"}},
		{"a kernel without the Debian and Ubuntu sysctls", map[string]string{sysctlMaxUserNS: "0"}, "user.max_user_namespaces is 0",
			[]string{"user.max_user_namespaces=15000"}},
		{"healthy", healthy, "", nil},
		{"no /proc/sys at all", nil, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := fakeProcSys(t, c.settings)
			base := errors.New("create user namespace: operation not permitted")
			err := diagnoseUserns(base, p)
			if !errors.Is(err, base) {
				t.Fatalf("the cause is lost: %v", err)
			}
			cause, fix := p.usernsBlocker()
			if cause != c.cause {
				t.Errorf("cause %q, want %q", cause, c.cause)
			}
			if c.cause == "" {
				if err != base || hint.Of(err) != "" {
					t.Errorf("healthy host: the error became %q, hint %q", err, hint.Of(err))
				}
				return
			}
			if !strings.Contains(err.Error(), c.cause) || hint.Of(err) != fix {
				t.Errorf("error %q, hint %q: want the cause %q and the fix %q", err, hint.Of(err), c.cause, fix)
			}
			for _, w := range c.fix {
				if !strings.Contains(fix, w) {
					t.Errorf("fix %q lacks %q", fix, w)
				}
			}
		})
	}
	if err := diagnoseUserns(syscall.ENOSPC, fakeProcSys(t, healthy)); !strings.Contains(hint.Of(err), "sysctl -w user.max_user_namespaces=15000") {
		t.Errorf("ENOSPC gets no fix: %v, hint %q", err, hint.Of(err))
	}
}

// Applying the fixes of two sysctls, one after the other as printed, must
// keep both at the next boot. They are run with sudo dropped, sysctl a no-op
// and /etc/sysctl.d moved to a temporary directory.
func TestSysctlFixesApplyTogether(t *testing.T) {
	dir := t.TempDir()
	var script []string
	for _, f := range []string{setSysctlFix(sysctlUnprivClone, "1"), setSysctlFix(sysctlMaxUserNS, "15000")} {
		if !strings.Contains(f, "/etc/sysctl.d/") {
			t.Fatalf("%q does not persist the setting in /etc/sysctl.d", f)
		}
		f = strings.ReplaceAll(f, "sudo ", "")
		script = append(script, strings.ReplaceAll(f, "/etc/sysctl.d/", dir+"/"))
	}
	out, err := exec.Command("sh", "-c", "sysctl() { :; }\n"+strings.Join(script, "\n")).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	files, _ := filepath.Glob(dir + "/*.conf")
	var all []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all = append(all, strings.Fields(string(b))...)
	}
	slices.Sort(all)
	if want := []string{"kernel.unprivileged_userns_clone=1", "user.max_user_namespaces=15000"}; !slices.Equal(all, want) {
		t.Errorf("after both fixes /etc/sysctl.d has %q (in %v), want %q", all, files, want)
	}
}

// capXattr builds a VFS_CAP_REVISION_2 security.capability value.
func capXattr(effective bool, permitted uint32) []byte {
	magic := uint32(0x02000000)
	if effective {
		magic |= 1
	}
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint32(b[4:], permitted)
	return b
}

func TestFileCapEffective(t *testing.T) {
	setuid, setgid := uint32(1)<<unix.CAP_SETUID, uint32(1)<<unix.CAP_SETGID
	cases := []struct {
		xattr []byte
		cap   int
		want  bool
	}{
		{capXattr(true, setuid), unix.CAP_SETUID, true},
		{capXattr(true, setuid|setgid), unix.CAP_SETGID, true},
		{capXattr(true, setgid), unix.CAP_SETUID, false},  // the wrong capability
		{capXattr(false, setuid), unix.CAP_SETUID, false}, // permitted, not effective
		{[]byte{1, 2}, unix.CAP_SETUID, false},
	}
	for i, c := range cases {
		if got := fileCapEffective(c.xattr, c.cap); got != c.want {
			t.Errorf("case %d: got %v", i, got)
		}
	}
}

// A refused mount or clone inside the namespace gets the blocker's fix (the
// AppArmor restriction lets creating the namespace succeed); other errors,
// and refusals on a host that restricts nothing, stay as they are.
func TestDiagnoseRefused(t *testing.T) {
	apparmor := fakeProcSys(t, map[string]string{sysctlAppArmorUserNS: "1", sysctlMaxUserNS: "15000"})
	healthy := fakeProcSys(t, map[string]string{sysctlAppArmorUserNS: "0", sysctlMaxUserNS: "15000"})
	cause, fix := apparmor.usernsBlocker()
	for _, errno := range []syscall.Errno{syscall.EPERM, syscall.EACCES} {
		base := fmt.Errorf("mount proc on /run/x/merged/proc: %w", errno)
		err := diagnoseRefused(base, apparmor)
		if !errors.Is(err, base) || !strings.Contains(err.Error(), cause) || hint.Of(err) != fix {
			t.Errorf("%v under AppArmor's restriction: %q, hint %q", errno, err, hint.Of(err))
		}
		if err := diagnoseRefused(base, healthy); err != base {
			t.Errorf("%v on a healthy host: %q", errno, err)
		}
	}
	other := fmt.Errorf("mount tmpfs on /x: %w", syscall.ENOENT)
	if err := diagnoseRefused(other, apparmor); err != other {
		t.Errorf("ENOENT is no refusal: %q", err)
	}
}

// When the map tools fail after the clone succeeded, the holder's error
// names the blocking setting and its fix rather than only the ranges. The
// test binary is the holder here: its constructor (nsjoin.c) serves the
// holder role.
func TestMapFailureNamesTheBlocker(t *testing.T) {
	args := []string{"0", "1000", "1"}
	_, err := startHolder("/bin/false", args, "/bin/false", args, fakeProcSys(t, map[string]string{sysctlMaxUserNS: "15000"}))
	if err == nil {
		t.Fatal("/bin/false wrote the id maps")
	}
	if strings.HasPrefix(err.Error(), "create user namespace") {
		t.Skipf("this host lets no user namespace be created: %v", err)
	}
	if !strings.Contains(err.Error(), " 0 1000 1: ") || !strings.Contains(hint.Of(err), "/etc/subuid") {
		t.Errorf("healthy host: want the map tool's failure and the ranges' hint: %q, hint %q", err, hint.Of(err))
	}
	blocked := fakeProcSys(t, map[string]string{sysctlUnprivClone: "0"})
	cause, fix := blocked.usernsBlocker()
	_, err = startHolder("/bin/false", args, "/bin/false", args, blocked)
	if err == nil || !strings.Contains(err.Error(), " 0 1000 1: ") || !strings.Contains(err.Error(), cause) || hint.Of(err) != fix {
		t.Errorf("with %s: want the map failure, the cause and the fix %q: %q, hint %q", cause, fix, err, hint.Of(err))
	}
}
