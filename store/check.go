package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"go.podman.io/storage/pkg/reexec"
	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/internal/hostcheck"
)

// overlayProbeRole is the re-exec role that probes overlay for doctor. It
// must run as root in a user namespace of its own (see userns.PrivateNamespace):
// doctor itself stays on the host.
const overlayProbeRole = "crun-lite-probe-overlay"

func init() { reexec.Register(overlayProbeRole, overlayProbeMain) }

// OverlayProbe is what the probe found; an empty error string means success.
type OverlayProbe struct {
	Dir    string `json:"dir"`    // where the graph root is, or the nearest existing parent
	FSType string `json:"fstype"` // the file system of Dir
	Mount  string `json:"mount"`  // mounting a tmpfs: can anything be mounted at all?
	// MountErrno keeps the errno of Mount, for diagnosing it like the
	// errors of creating the namespace.
	MountErrno syscall.Errno `json:"mount_errno"`
	Kernel     string        `json:"kernel"`   // overlay on that tmpfs: does the kernel allow overlay here?
	Native     string        `json:"native"`   // overlay with its upper dir in Dir
	Volatile   bool          `json:"volatile"` // overlay in Dir accepts "volatile"
	Where      string        `json:"where"`    // "in user namespaces" or "as root"
}

// OverlayProbeCommand returns the command that probes overlay for the store
// at graphRoot; the caller puts it in a namespace and runs it.
func OverlayProbeCommand(ctx context.Context, graphRoot string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, reexec.Self())
	cmd.Args = []string{overlayProbeRole, existingParent(graphRoot)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// ParseOverlayProbe reads the probe's output.
func ParseOverlayProbe(out []byte) (*OverlayProbe, error) {
	var p OverlayProbe
	if err := json.Unmarshal(out, &p); err != nil {
		return nil, fmt.Errorf("read overlay probe: %w", err)
	}
	return &p, nil
}

func overlayProbeMain() {
	dir := os.Args[1]
	p := OverlayProbe{Dir: dir, FSType: FSType(dir), Where: where()}
	errString := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	if tmp, err := os.MkdirTemp("", "crun-lite-probe-"); err != nil {
		p.Mount = err.Error()
	} else {
		if err := unix.Mount("tmpfs", tmp, "tmpfs", 0, "mode=0700"); err != nil {
			p.Mount = err.Error()
			errors.As(err, &p.MountErrno)
		} else {
			p.Kernel = errString(mountOverlayProbe(tmp, false))
			_ = unix.Unmount(tmp, unix.MNT_DETACH)
		}
		_ = os.Remove(tmp)
	}
	p.Native = errString(mountOverlayProbe(dir, false))
	p.Volatile = p.Native == "" && mountOverlayProbe(dir, true) == nil
	_ = json.NewEncoder(os.Stdout).Encode(p)
}

// existingParent returns dir or its nearest ancestor that exists: doctor
// probes where a new store would be created without creating it.
func existingParent(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || dir == "/" || dir == "." {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

// FSType names the file system dir is on, as statfs(2) reports it.
func FSType(dir string) string {
	var s unix.Statfs_t
	if err := unix.Statfs(dir, &s); err != nil {
		return "unknown"
	}
	if n, ok := fsNames[int64(s.Type)]; ok {
		return n
	}
	return fmt.Sprintf("0x%x", s.Type)
}

var fsNames = map[int64]string{
	unix.EXT4_SUPER_MAGIC: "ext4", unix.XFS_SUPER_MAGIC: "xfs", unix.BTRFS_SUPER_MAGIC: "btrfs",
	unix.TMPFS_MAGIC: "tmpfs", unix.NFS_SUPER_MAGIC: "nfs", unix.OVERLAYFS_SUPER_MAGIC: "overlay",
	unix.FUSE_SUPER_MAGIC: "fuse", unix.ECRYPTFS_SUPER_MAGIC: "ecryptfs", unix.F2FS_SUPER_MAGIC: "f2fs",
	0x2fc12fc1: "zfs", unix.SMB_SUPER_MAGIC: "smb", 0xfe534d42: "smb2", unix.CIFS_SUPER_MAGIC: "cifs",
	unix.V9FS_MAGIC: "9p", 0x6a656a63: "virtiofs",
}

// CheckStorage grades where images are stored and how: the graph root, native
// overlay in a user namespace, fuse-overlayfs, and the driver this store
// uses or would choose. probe is nil when it could not run (probeErr says why).
func CheckStorage(opts Options, probe *OverlayProbe, probeErr error) []hostcheck.Check {
	return []hostcheck.Check{
		checkGraphRoot(opts.GraphRoot),
		checkOverlay(probe, probeErr),
		checkFuse(fuseProgram, probe != nil && probe.Native == ""),
		checkDriver(opts, probe, fuseProgram),
	}
}

// CheckNoGraphRoot stands for CheckStorage when there is no graph root to
// check (err says why): that is a problem, and only what does not depend on
// the graph root's file system is graded. probe ran elsewhere, in a
// temporary directory.
func CheckNoGraphRoot(err error, probe *OverlayProbe, probeErr error) []hostcheck.Check {
	overlay := hostcheck.Check{ID: "overlay", Title: "native overlay", Status: hostcheck.Info}
	switch {
	case probe == nil:
		overlay.Message = "not checked: " + probeErr.Error()
	case probe.Mount != "" || probe.Kernel != "":
		overlay = checkOverlay(probe, nil) // refused on any file system
	default:
		overlay.Message = fmt.Sprintf("the kernel (%s) mounts overlay %s; not checked on the graph root, which is not known", kernelRelease(), probe.Where)
	}
	return []hostcheck.Check{
		hostcheck.FromError("graphroot", "graph root", "", err),
		overlay,
		checkFuse(fuseProgram, false),
		{ID: "storage", Title: "storage driver", Status: hostcheck.Info, Message: "not checked: no graph root"},
	}
}

func fuseProgram() (string, error) {
	p, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return "", hint.Wrap(errors.New("fuse-overlayfs is not installed"), "sudo apt-get install fuse-overlayfs")
	}
	return p, fuseUsable(p)
}

func checkGraphRoot(graphRoot string) hostcheck.Check {
	c := hostcheck.Check{ID: "graphroot", Title: "graph root", Status: hostcheck.OK}
	dir := existingParent(graphRoot)
	where := graphRoot
	if dir != graphRoot {
		where += " (created on first use)"
	}
	c.Message = fmt.Sprintf("%s on %s", where, FSType(dir))
	if unix.Access(dir, unix.W_OK|unix.X_OK) != nil {
		c.Status = hostcheck.Problem
		c.Message = fmt.Sprintf("%s: %s is not writable", where, dir)
		c.Fix = "pass --root DIR with a directory you own (default $XDG_DATA_HOME/crun-lite/storage)"
	}
	return c
}

func checkOverlay(p *OverlayProbe, probeErr error) hostcheck.Check {
	c := hostcheck.Check{ID: "overlay", Title: "native overlay"}
	switch {
	case p == nil:
		c.Status, c.Message = hostcheck.Info, "not checked: "+probeErr.Error()
	case p.Native == "":
		c.Status = hostcheck.OK
		c.Message = fmt.Sprintf("the kernel (%s) mounts overlay %s on %s", kernelRelease(), p.Where, p.FSType)
		if p.Volatile {
			c.Message += ", with the volatile option"
		}
	case p.Mount != "":
		c.Status = hostcheck.Warning
		c.Message = "nothing mounts " + p.Where + " (" + p.Mount + "): see user namespaces"
	case p.Kernel != "":
		c.Status = hostcheck.Warning
		c.Message = fmt.Sprintf("the kernel (%s) refuses overlay %s (%s; Linux 5.11 or later allows it): fuse-overlayfs or vfs is used instead", kernelRelease(), p.Where, p.Kernel)
	default:
		c.Status = hostcheck.Warning
		c.Message = fmt.Sprintf("%s on %s cannot hold overlay upper dirs %s (%s): fuse-overlayfs or vfs is used instead", p.Dir, p.FSType, p.Where, p.Native)
		c.Fix = "keep the store on a local ext4, xfs or btrfs file system: --root DIR"
	}
	return c
}

// checkFuse grades fuse-overlayfs: only a fallback when native overlay works.
func checkFuse(prog func() (string, error), nativeWorks bool) hostcheck.Check {
	c := hostcheck.Check{ID: "fuse-overlayfs", Title: "fuse-overlayfs"}
	path, err := prog()
	switch {
	case err == nil:
		c.Status, c.Message = hostcheck.OK, path+" is installed and /dev/fuse is usable"
	case nativeWorks:
		c.Status, c.Message, c.Fix = hostcheck.Info, err.Error()+" (not needed: native overlay works)", hint.Of(err)
	default:
		c.Status, c.Message, c.Fix = hostcheck.Warning, err.Error()+": new stores fall back to vfs", hint.Of(err)
	}
	return c
}

// checkDriver follows chooseDriver: the store's remembered driver, else the
// one the options ask for, else what probing would pick; then whether it can
// work here.
func checkDriver(opts Options, p *OverlayProbe, fuse func() (string, error)) hostcheck.Check {
	c := hostcheck.Check{ID: "storage", Title: "storage driver", Status: hostcheck.OK}
	saved, err := savedDriver(opts.GraphRoot)
	if err == nil && saved.Name != "" {
		err = driverConflict(opts, saved)
	}
	if err != nil {
		c.Status, c.Message, c.Fix = hostcheck.Problem, err.Error(), hint.Of(err)
		return c
	}
	d, why := saved, "the store uses"
	switch {
	case saved.Name != "":
	case opts.Driver != "" || len(opts.DriverOpts) > 0:
		d, why = explicitDriver(opts), "--storage-driver/--storage-opt ask for"
	default:
		return autoDriver(c, p, fuse)
	}
	c.Message = why + " " + d.String()
	if d.Name != "overlay" {
		c.Status, c.Message = hostcheck.Warning, c.Message+": every container copies its whole image"
		return c
	}
	if err := usable(d); err != nil {
		c.Status, c.Message, c.Fix = hostcheck.Problem, c.Message+", which cannot work here: "+err.Error(), hint.Of(err)
	} else if d.MountProgram() == "" && p != nil && p.Native != "" {
		c.Status, c.Message = hostcheck.Problem, c.Message+", which cannot work here: native overlay does not mount: "+p.Native
		c.Fix = "use another --root, or crun-lite system reset and let the next command choose again"
	}
	return c
}

func autoDriver(c hostcheck.Check, p *OverlayProbe, fuse func() (string, error)) hostcheck.Check {
	if p != nil && p.Native == "" {
		c.Message = "new stores use native overlay"
		return c
	}
	path, err := fuse()
	if err == nil {
		c.Message = "new stores use overlay through " + path
		return c
	}
	c.Status = hostcheck.Warning
	c.Message = "new stores fall back to vfs, which copies the whole image for every container: " + err.Error()
	c.Fix = hint.Of(err)
	return c
}
