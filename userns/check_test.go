package userns

import (
	"encoding/binary"
	"errors"
	"reflect"
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

// DiagnoseUserns is what both the holder's error and doctor print.
func TestDiagnoseUsernsKeepsTheError(t *testing.T) {
	base := errors.New("create user namespace: boom")
	err := DiagnoseUserns(base)
	if !errors.Is(err, base) {
		t.Fatalf("the cause is lost: %v", err)
	}
	if cause, fix := UsernsBlocker(); cause != "" && (!strings.Contains(err.Error(), cause) || hint.Of(err) != fix) {
		t.Errorf("host blocks user namespaces (%s), but the error says %q, hint %q", cause, err, hint.Of(err))
	}
	if err := DiagnoseUserns(syscall.ENOSPC); hint.Of(err) == "" {
		t.Errorf("ENOSPC gets no hint: %v", err)
	}
}

func TestSysctlFixPersists(t *testing.T) {
	fix := setSysctlFix(SysctlMaxUserNS, "15000")
	for _, want := range []string{"sudo sysctl -w user.max_user_namespaces=15000", "/etc/sysctl.d/"} {
		if !strings.Contains(fix, want) {
			t.Errorf("%q lacks %q", fix, want)
		}
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
