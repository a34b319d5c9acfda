package userns

import (
	"errors"
	"reflect"
	"strings"
	"syscall"
	"testing"

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
