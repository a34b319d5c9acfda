package paths

import (
	"os"
	"strings"
	"testing"
)

func TestRuntimeDirIssue(t *testing.T) {
	const uid = 999999 // no /run/user/999999: no login session to split from
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	if cause, _, _ := RuntimeDirIssue(uid); cause != "" {
		t.Errorf("own XDG_RUNTIME_DIR: %s", cause)
	}
	os.Unsetenv("XDG_RUNTIME_DIR")
	cause, fix, split := RuntimeDirIssue(uid)
	if !strings.Contains(cause, "not set") || !strings.Contains(cause, "/tmp/crun-lite-999999") || split || fix == "" {
		t.Errorf("unset: %q, %q, split %v", cause, fix, split)
	}
	if os.Getuid() != 0 {
		t.Setenv("XDG_RUNTIME_DIR", "/")
		if cause, fix, _ := RuntimeDirIssue(uid); !strings.Contains(cause, "not a directory you own") || !strings.Contains(fix, "unset") {
			t.Errorf("someone else's: %q, %q", cause, fix)
		}
	}
	if c := CheckRuntimeDir(uid); c.Status != "warning" || c.Fix == "" {
		t.Errorf("check: %+v", c)
	}
}
