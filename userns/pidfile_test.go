package userns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crun-lite/crun-lite/internal/paths"
)

// The pid file's path is built in C only; the runtime dir it lies in must
// still be the one internal/paths gives the store's run root.
func TestPidFileInRuntimeDir(t *testing.T) {
	owned := t.TempDir()
	file := filepath.Join(owned, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, x := range []string{"", owned, owned + "/", filepath.Join(owned, "missing"), file, "relative"} {
		t.Setenv("XDG_RUNTIME_DIR", x)
		want := filepath.Join(paths.RuntimeDir(HostUID()), "userns.pid")
		if got := PidFile(); got != want {
			t.Errorf("XDG_RUNTIME_DIR=%q: pid file %q, want %q", x, got, want)
		}
	}
	// Longer than Go's first buffer for the C function's answer.
	long := filepath.Join(owned, strings.Repeat("a", 200), strings.Repeat("b", 200))
	if err := os.MkdirAll(long, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", long)
	if got, want := PidFile(), filepath.Join(long, "crun-lite", "userns.pid"); got != want {
		t.Errorf("long XDG_RUNTIME_DIR: pid file %q, want %q", got, want)
	}
}
