package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crun-lite/crun-lite/internal/hostcheck"
)

func saveDriver(t *testing.T, root, json string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, driverFile), []byte(json), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The storage check follows chooseDriver: what the store remembers, then
// what the flags ask for, and grades whether it can work here.
func TestCheckDriver(t *testing.T) {
	native := &OverlayProbe{Native: ""}
	noFuse := func() (string, error) { return "", errors.New("no fuse") }
	cases := []struct {
		name, saved string
		opts        Options
		probe       *OverlayProbe
		status      hostcheck.Status
		want        string
	}{
		{"new store, native", "", Options{}, native, hostcheck.OK, "native overlay"},
		{"new store, nothing works", "", Options{}, &OverlayProbe{Native: "EPERM"}, hostcheck.Warning, "vfs"},
		{"saved fuse, program gone", `{"driver":"overlay","options":["overlay.mount_program=/nonexistent/fuse-overlayfs"]}`,
			Options{}, native, hostcheck.Problem, "/nonexistent/fuse-overlayfs"},
		{"saved native, overlay broken", `{"driver":"overlay"}`, Options{}, &OverlayProbe{Native: "EINVAL"}, hostcheck.Problem, "EINVAL"},
		{"saved vfs", `{"driver":"vfs"}`, Options{}, native, hostcheck.Warning, "copies"},
		{"flags disagree with the store", `{"driver":"vfs"}`, Options{Driver: "overlay"}, native, hostcheck.Problem, "uses vfs, not overlay"},
		{"explicit fuse, program gone", "", Options{Driver: "overlay", DriverOpts: []string{"overlay.mount_program=/nonexistent/f"}},
			native, hostcheck.Problem, "/nonexistent/f"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.GraphRoot = t.TempDir()
			if c.saved != "" {
				saveDriver(t, c.opts.GraphRoot, c.saved)
			}
			got := checkDriver(c.opts, c.probe, noFuse)
			if got.Status != c.status || !strings.Contains(got.Message, c.want) {
				t.Errorf("got %s %q, want %s mentioning %q", got.Status, got.Message, c.status, c.want)
			}
			if got.Status == hostcheck.Problem && got.Fix == "" {
				t.Errorf("a problem without a fix: %q", got.Message)
			}
		})
	}
}

func TestExistingParent(t *testing.T) {
	d := t.TempDir()
	if got := existingParent(filepath.Join(d, "a", "b")); got != d {
		t.Errorf("got %s, want %s", got, d)
	}
}
