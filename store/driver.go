package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// DriverChoice is the graph driver of a store, and why it was chosen.
type DriverChoice struct {
	Name     string   `json:"driver"`
	Options  []string `json:"options,omitempty"`
	Reason   string   `json:"reason"`
	Volatile bool     `json:"volatile"` // overlay accepts the volatile option
	// Userns is "single" for a store of the single-id mode (single.go),
	// "" for the full mode's.
	Userns string `json:"userns,omitempty"`
}

// MountProgram returns the overlay mount program (fuse-overlayfs), or "".
func (d DriverChoice) MountProgram() string {
	for _, o := range d.Options {
		if v, ok := strings.CutPrefix(o, "overlay.mount_program="); ok {
			return v
		}
		if v, ok := strings.CutPrefix(o, ".mount_program="); ok {
			return v
		}
	}
	return ""
}

func (d DriverChoice) String() string {
	if p := d.MountProgram(); p != "" {
		return d.Name + " (" + filepath.Base(p) + ")"
	}
	return d.Name
}

// same reports whether two choices store layers the same way on disk.
func (d DriverChoice) same(o DriverChoice) bool {
	return d.Name == o.Name && d.MountProgram() == o.MountProgram()
}

const driverFile = "crun-lite-driver.json"

// chooseDriver returns the store's remembered driver, checks that an
// explicit choice agrees with it, or probes the host for a new store, and
// then reports made.
func chooseDriver(opts Options) (choice DriverChoice, made bool, err error) {
	saved, err := savedDriver(opts.GraphRoot)
	if err != nil {
		return saved, false, err
	}
	explicit := opts.Driver != "" || len(opts.DriverOpts) > 0
	if saved.Name != "" {
		if err := modeConflict(opts, saved); err != nil {
			return saved, false, err
		}
		return saved, false, driverConflict(opts, saved)
	}
	var want DriverChoice
	if explicit {
		want = explicitDriver(opts)
		if err := probeExplicit(&want, opts.GraphRoot); err != nil {
			return want, false, err
		}
	} else {
		want = probeDriver(opts.GraphRoot)
	}
	if err := adoptExisting(&want, opts); err != nil {
		return want, false, err
	}
	if opts.Single {
		want.Userns = singleMode
	}
	if err := rememberDriver(opts.GraphRoot, want); err != nil {
		return want, false, fmt.Errorf("remember storage driver: %w", err)
	}
	return want, true, nil
}

// rememberDriver writes the driver record of a new store. The first
// commands on a new store may run at once: each writes a temporary file and
// renames it over the record, so that a reader finds either no record or a
// whole one, never a half-written file.
func rememberDriver(graphRoot string, d DriverChoice) error {
	b, _ := json.MarshalIndent(d, "", "  ")
	f, err := os.CreateTemp(graphRoot, "."+driverFile+".tmp-")
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync() // the rename must not outlive the content in a crash
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(graphRoot, driverFile))
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// savedDriver reads the driver remembered in a store's graph root; its Name
// is "" when the store is new.
func savedDriver(graphRoot string) (DriverChoice, error) {
	var saved DriverChoice
	path := filepath.Join(graphRoot, driverFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return saved, nil
	}
	if err != nil {
		return saved, err
	}
	if err := json.Unmarshal(data, &saved); err != nil {
		return saved, fmt.Errorf("read %s: %w", path, err)
	}
	return saved, nil
}

// driverConflict refuses --storage-driver/--storage-opt that differ from
// what an existing store was made with: its layers are stored that way.
func driverConflict(opts Options, saved DriverChoice) error {
	if opts.Driver == "" && len(opts.DriverOpts) == 0 {
		return nil
	}
	if want := explicitDriver(opts); !want.same(saved) {
		return hint.Wrap(fmt.Errorf("store %s uses %s, not %s", opts.GraphRoot, saved, want),
			"use another --root for a store with that driver, or crun-lite system reset to empty this one")
	}
	return nil
}

// usable checks what a chosen driver needs from the host beyond the kernel:
// for a fuse store, whose /dev/fuse may have broken since it was made (a
// reboot without the udev rule), it is checked again before each mount.
func usable(d DriverChoice) error {
	if prog := d.MountProgram(); prog != "" {
		return fuseUsable(prog)
	}
	return nil
}

// adoptExisting checks a new choice against layers already in the graph
// root (a store made by Podman or Buildah, or whose crun-lite-driver.json
// was removed): storage would silently start an empty store beside them.
// vfs layers are kept on vfs; overlay layers need an overlay that mounts.
func adoptExisting(want *DriverChoice, opts Options) error {
	found := ""
	for _, name := range []string{"overlay", "vfs"} {
		if _, err := os.Stat(filepath.Join(opts.GraphRoot, name+"-layers", "layers.json")); err == nil {
			found = name
			break
		}
	}
	explicit := opts.Driver != "" || len(opts.DriverOpts) > 0
	if found != "" && opts.Single {
		// Layers without a record of the mode they were stored in: most
		// likely a full-mode store (Podman's, Buildah's), whose owners the
		// single-id namespace does not map.
		return hint.Wrap(fmt.Errorf("store %s holds %s layers of unknown mode, and this command runs in the single-id mode (%w)", opts.GraphRoot, found, ErrModeMismatch),
			"use another --root for the single-id mode: its files would be owned by ids this namespace lacks")
	}
	switch {
	case found == "" || found == want.Name:
		return nil
	case explicit || found == "overlay":
		return hint.Wrap(fmt.Errorf("store %s holds %s layers, and %s was chosen (%s)", opts.GraphRoot, found, want, want.Reason),
			"use another --root, or empty this store with crun-lite system reset")
	}
	*want = DriverChoice{Name: "vfs", Reason: "vfs: the store already held vfs layers"}
	return nil
}

func explicitDriver(opts Options) DriverChoice {
	name := opts.Driver
	if name == "" {
		name = "overlay"
	}
	d := DriverChoice{Name: name, Options: slices.Clone(opts.DriverOpts)}
	d.Reason = d.String() + ": chosen with --storage-driver/--storage-opt"
	return d
}

// probeExplicit checks that an explicitly chosen driver can work here, and
// whether overlay takes the volatile option.
func probeExplicit(d *DriverChoice, graphRoot string) error {
	if d.Name != "overlay" {
		return nil
	}
	if d.MountProgram() != "" {
		return usable(*d)
	}
	if err := mountOverlayProbe(graphRoot, false); err != nil {
		return fmt.Errorf("native overlay does not mount here: %w", err)
	}
	d.Volatile = mountOverlayProbe(graphRoot, true) == nil
	return nil
}

// probeDriver picks the best driver the host allows.
func probeDriver(graphRoot string) DriverChoice {
	native := mountOverlayProbe(graphRoot, false)
	if native == nil {
		return DriverChoice{
			Name:     "overlay",
			Reason:   fmt.Sprintf("native overlay: kernel %s mounts overlay %s", kernelRelease(), where()),
			Volatile: mountOverlayProbe(graphRoot, true) == nil,
		}
	}
	prog, lookErr := exec.LookPath("fuse-overlayfs")
	if lookErr == nil {
		fuseErr := fuseUsable(prog)
		if fuseErr == nil {
			return DriverChoice{
				Name:    "overlay",
				Options: []string{"overlay.mount_program=" + prog},
				Reason:  fmt.Sprintf("fuse-overlayfs: native overlay refused %s (%v)", where(), native),
			}
		}
		return DriverChoice{Name: "vfs", Reason: fmt.Sprintf("vfs: native overlay refused (%v) and %v", native, fuseErr)}
	}
	return DriverChoice{Name: "vfs", Reason: fmt.Sprintf("vfs: native overlay refused (%v) and fuse-overlayfs is not installed", native)}
}

func where() string {
	if isRootlessNS() {
		return "in user namespaces"
	}
	return "as root"
}

// fuseUsable checks what fuse-overlayfs needs from the host.
func fuseUsable(prog string) error {
	if _, err := os.Stat(prog); err != nil {
		return hint.Wrap(fmt.Errorf("mount program %s: %w", prog, err), "sudo apt-get install fuse-overlayfs")
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return hint.Wrap(fmt.Errorf("fuse-overlayfs needs /dev/fuse: %w", err),
			"sudo chmod 0666 /dev/fuse (desktops' udev rules do this)")
	}
	return f.Close()
}

// mountOverlayProbe mounts a throwaway overlay in graphRoot, as the runtime
// will: in the user namespace it needs userxattr, since trusted.* xattrs
// belong to the initial namespace.
func mountOverlayProbe(graphRoot string, volatile bool) error {
	if err := os.MkdirAll(graphRoot, 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(graphRoot, "probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"l1", "l2", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	data := fmt.Sprintf("lowerdir=%s/l1:%s/l2,upperdir=%s/u,workdir=%s/w", dir, dir, dir, dir)
	if isRootlessNS() {
		data += ",userxattr"
	}
	if volatile {
		data += ",volatile"
	}
	m := filepath.Join(dir, "m")
	if err := unix.Mount("overlay", m, "overlay", 0, data); err != nil {
		return err
	}
	return unix.Unmount(m, unix.MNT_DETACH)
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}
