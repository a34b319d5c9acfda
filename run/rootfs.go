package run

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// rootfsOps builds the first batch: the root filesystem, the kernel
// filesystems a program expects, the generated /etc files, pivot_root and
// the hostname. Mounts aimed into the image happen either before pivot_root
// at paths one level below our own mount point (checked not to be symlinks
// by the child), or after it, where the image's symlinks resolve inside the
// container.
func (c *container) rootfsOps(l *opList) error {
	m := c.rd.join("merged")
	// Nothing we mount may propagate back to the namespace we came from.
	l.mount("", "/", "", "", unix.MS_REC|unix.MS_PRIVATE, 0)
	if err := c.rootMount(l, m); err != nil {
		return err
	}
	systemMounts(l, m, idMapped("/proc/self/gid_map", 5))
	etc := []string{"hostname", "hosts", "resolv.conf"}
	for i, name := range etc {
		l.openTree(c.rd.join("etc/"+name), i, false)
	}
	l.pivot(m)
	for i, name := range etc {
		l.moveMount(i, "/etc/"+name, fMkfile)
	}
	l.hostname(c.hostname)
	if c.opts.Network == "none" {
		l.loopback()
	}
	if c.opts.TTY {
		l.openPty()
	}
	l.sync()
	return nil
}

// rootMount puts the container's root filesystem on m.
func (c *container) rootMount(l *opList, m string) error {
	rf := c.rootfs
	if rf.Dir != "" { // vfs: storage made a full copy for the container
		l.mount(rf.Dir, m, "", "", unix.MS_BIND|unix.MS_REC, 0)
		return nil
	}
	upper, work := rf.Upper, rf.Work
	if upper == "" { // --rm: a throwaway upper dir in the run dir
		upper, work = c.rd.join("upper"), c.rd.join("work")
		if err := mkdirOwned(upper, rf.RootMode, rf.RootUID, rf.RootGID); err != nil {
			return err
		}
		if err := os.Mkdir(work, 0o700); err != nil {
			return fmt.Errorf("create work dir: %w", err)
		}
	}
	empty := c.rd.join("empty")
	if len(rf.Lowers) == 0 {
		if err := os.Mkdir(empty, 0o755); err != nil {
			return fmt.Errorf("create empty lower dir: %w", err)
		}
	}
	data, dir := rf.OverlayData(upper, work, empty)
	if rf.MountProgram != "" {
		return c.mountFuse(data, dir)
	}
	if dir != "" {
		l.chdir(dir, 0) // the lowers in data are relative to the overlay home
	}
	l.mount("overlay", m, "overlay", data, 0, 0)
	return nil
}

func mkdirOwned(path string, mode os.FileMode, uid, gid int) error {
	if err := os.Mkdir(path, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := os.Lchown(path, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return nil
}

// systemMounts adds /proc, a minimal /dev and a read-only /sys under m.
func systemMounts(l *opList, m string, gid5 bool) {
	const nosuid, nodev, noexec = unix.MS_NOSUID, unix.MS_NODEV, unix.MS_NOEXEC
	// proc must be mounted before pivot_root: the kernel allows a new proc
	// in a user namespace only while a full one is visible in the mount
	// namespace (mount_too_revealing), and pivot_root detaches the host's.
	l.mount("proc", m+"/proc", "proc", "", nosuid|nodev|noexec, fMkdir)
	l.mount("tmpfs", m+"/dev", "tmpfs", "mode=755,size=65536k", nosuid|unix.MS_STRICTATIME, fMkdir)
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		// Device nodes cannot be made in a user namespace: bind the host's.
		l.mount("/dev/"+d, m+"/dev/"+d, "", "", unix.MS_BIND, fMkfile)
	}
	pts := "newinstance,ptmxmode=0666,mode=0620"
	if gid5 {
		pts += ",gid=5" // the tty group, as on a host
	}
	l.mount("devpts", m+"/dev/pts", "devpts", pts, nosuid|noexec, fMkdir)
	l.symlink("pts/ptmx", m+"/dev/ptmx")
	l.mount("shm", m+"/dev/shm", "tmpfs", "mode=1777,size=65536k", nosuid|nodev|noexec, fMkdir)
	l.mount("mqueue", m+"/dev/mqueue", "mqueue", "", nosuid|nodev|noexec, fMkdir|fOptional)
	for _, s := range [][2]string{
		{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"}, {"core", "/proc/kcore"},
	} {
		l.symlink(s[1], m+"/dev/"+s[0])
	}
	// sysfs can only be mounted by the owner of the network namespace:
	// bind the host's, read-only all the way down.
	l.mount("/sys", m+"/sys", "", "", unix.MS_BIND|unix.MS_REC, fMkdir)
	l.readonly(m + "/sys")
}

// idMapped reports whether id is mapped in an id map file (uid_map, gid_map).
func idMapped(path string, id uint64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 {
			continue
		}
		start, err1 := strconv.ParseUint(fs[0], 10, 64)
		n, err2 := strconv.ParseUint(fs[2], 10, 64)
		if err1 == nil && err2 == nil && id >= start && id < start+n {
			return true
		}
	}
	return false
}
