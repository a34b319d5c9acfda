package run

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/crun-lite/crun-lite/run/spawn"
)

// What the user-namespace diagnosis is added to: cloning the container and
// its mounts, not every step that may fail with EPERM.
func TestRefusedInNamespace(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("%w: %w", spawn.ErrClone, syscall.EPERM), true},
		{&spawn.StartError{Op: "mount proc on /r/merged/proc", Err: syscall.EPERM}, true},
		{fmt.Errorf("start: %w", &spawn.StartError{Op: "bind mount on /data", Err: syscall.EACCES}), true},
		{&spawn.StartError{Op: "pivot_root to /r/merged", Err: syscall.EPERM}, true},
		{&spawn.StartError{Op: "exec /bin/sh", Err: syscall.EACCES}, false},
		{&spawn.StartError{Op: "create directory /data", Err: syscall.EPERM}, false},
		{errors.New("mount: not a StartError"), false},
	}
	for _, c := range cases {
		if got := refusedInNamespace(c.err); got != c.want {
			t.Errorf("%v: got %v, want %v", c.err, got, c.want)
		}
	}
}
