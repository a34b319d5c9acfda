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

// What the overlay probe found, graded: only a graph root whose file system
// refuses upper dirs has a fix of its own (move the store).
func TestCheckOverlay(t *testing.T) {
	cases := []struct {
		name   string
		probe  *OverlayProbe
		status hostcheck.Status
		want   string
		fix    string
	}{
		{"native", &OverlayProbe{FSType: "ext4", Where: "in user namespaces"}, hostcheck.OK, "mounts overlay in user namespaces on ext4", ""},
		{"upper dir refused", &OverlayProbe{Dir: "/srv/x", FSType: "overlay", Where: "in user namespaces", Native: "invalid argument"},
			hostcheck.Warning, "/srv/x on overlay cannot hold overlay upper dirs in user namespaces (invalid argument): fuse-overlayfs or vfs is used instead",
			"keep the store on a local ext4, xfs or btrfs file system: --root DIR"},
		{"kernel refuses", &OverlayProbe{FSType: "ext4", Where: "in user namespaces", Native: "operation not permitted", Kernel: "operation not permitted"},
			hostcheck.Warning, "refuses overlay in user namespaces (operation not permitted; Linux 5.11", ""},
		{"nothing mounts", &OverlayProbe{Where: "in user namespaces", Native: "x", Kernel: "x", Mount: "operation not permitted"},
			hostcheck.Warning, "nothing mounts in user namespaces (operation not permitted): see user namespaces", ""},
	}
	for _, c := range cases {
		got := checkOverlay(c.probe, nil)
		if got.Status != c.status || !strings.Contains(got.Message, c.want) || got.Fix != c.fix {
			t.Errorf("%s: got %s %q fix %q, want %s %q fix %q", c.name, got.Status, got.Message, got.Fix, c.status, c.want, c.fix)
		}
	}
	if got := checkOverlay(nil, errors.New("probe timed out")); got.Status != hostcheck.Info || got.Message != "not checked: probe timed out" {
		t.Errorf("no probe: %+v", got)
	}
}
