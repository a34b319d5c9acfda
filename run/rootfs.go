package run

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/run/spawn"
	"github.com/crun-lite/crun-lite/run/spec"
	"github.com/crun-lite/crun-lite/userns"
)

// Slots for mount trees carried across pivot_root (see openTree).
const (
	slotEtc    = 0 // hostname, hosts, resolv.conf, passwd, group
	slotMounts = 8 // bind mounts and volumes
	maxSlots   = spawn.MaxSlots
)

// etcFiles are generated in the run dir and bind-mounted over the image's.
var etcFiles = []string{"hostname", "hosts", "resolv.conf", "passwd", "group"}

// rootfsOps builds the first batch: the root filesystem, the kernel
// filesystems a program expects, the generated /etc files, the user's
// mounts, pivot_root and the hostname. Mounts aimed into the image happen
// either before pivot_root at paths one level below our own mount point
// (checked not to be symlinks by the child), or after it, where the image's
// symlinks resolve inside the container and cannot lead out of it.
func (c *Container) rootfsOps(l *spawn.List) error {
	m := c.rd.Join("merged")
	// Nothing we mount may propagate back to the namespace we came from.
	l.Mount("", "/", "", "", unix.MS_REC|unix.MS_PRIVATE, 0)
	if err := c.rootMount(l, m); err != nil {
		return err
	}
	l.PhaseEnd("layer mount")
	c.systemMounts(l, m)
	l.PhaseEnd("proc, dev, sys")
	etc, err := c.etcMounts()
	if err != nil {
		return err
	}
	for i, name := range etc {
		l.OpenTree(c.rd.Join("etc/"+name), slotEtc+i, false)
	}
	slotEnv := slotEtc + len(etc)
	if uid, gid := c.hostIDs(0, 0); os.Lchown(c.rd.Join("etc/containerenv"), uid, gid) != nil {
		return fmt.Errorf("chown %s", c.rd.Join("etc/containerenv"))
	}
	l.OpenTree(c.rd.Join("etc/containerenv"), slotEnv, false)
	slotApt := -1
	if userns.Single() {
		slotApt = slotEnv + 1
		l.OpenTree(c.rd.Join("etc/"+aptSingleID), slotApt, false)
	}
	binds, err := c.bindSources(l)
	if err != nil {
		return err
	}
	devSlot := slotMounts + len(binds)
	if devSlot+len(c.Spec.Devices) > maxSlots {
		return spec.BadOption("too many bind mounts and devices (at most %d)", maxSlots-slotMounts)
	}
	for i, d := range c.Spec.Devices {
		// A tree of the host's /dev: the node itself, or a directory
		// with all that is in it (later hot-plugged nodes too, as
		// Flatpak's --device=dri).
		l.OpenTree(d.Source, devSlot+i, d.IsDir)
	}
	if vols := c.Spec.VolumeNames(); len(vols) > 0 {
		c.rd.State.Volumes = vols // so that `volume rm` sees them in use
		if err := c.rd.Save(); err != nil {
			return err
		}
	}
	l.Pivot(m)
	l.PhaseEnd("pivot_root")
	for i, name := range etc {
		l.MoveMount(slotEtc+i, "/etc/"+name, spawn.FlagMkfile)
	}
	// Before the user's mounts: creating it in a -v SRC:/run would create
	// it in SRC on the host. A mount on /run (-v, --tmpfs, --read-only's
	// tmpfs) hides it; an image without /run goes without.
	l.MoveMount(slotEnv, "/run/.containerenv", spawn.FlagMkfile|spawn.FlagMissingOK)
	if slotApt >= 0 {
		// Only where the image has apt: without /etc/apt/apt.conf.d it is
		// skipped (FlagNoParents), not made, in images that have no apt.
		l.MoveMount(slotApt, "/etc/apt/apt.conf.d/"+aptSingleIDFile, spawn.FlagMkfile|spawn.FlagNoParents|spawn.FlagMissingOK)
		l.Readonly("/etc/apt/apt.conf.d/"+aptSingleIDFile, spawn.FlagMissingOK)
	}
	c.userMounts(l, binds)
	for i, d := range c.Spec.Devices {
		create := spawn.FlagMkfile
		if d.IsDir {
			create = spawn.FlagMkdir
		}
		l.MoveMount(devSlot+i, d.Target, uint32(create))
	}
	for _, p := range c.Spec.Masked {
		l.Mask(p)
	}
	for _, p := range c.Spec.ReadonlyPaths {
		l.Mount(p, p, "", "", unix.MS_BIND|unix.MS_REC, spawn.FlagMissingOK)
		l.Readonly(p, spawn.FlagMissingOK)
	}
	l.Hostname(c.Spec.Hostname)
	if c.Spec.Net.Own() && c.Spec.Net.Private() {
		l.Loopback()
	}
	if c.Spec.Process.Terminal {
		l.OpenPty()
	}
	if c.Spec.ReadOnlyRoot {
		l.RemountReadonly("/") // last: the mounts above need their mount points made
	}
	l.Sync()
	return nil
}

// rootMount puts the container's root filesystem on m.
func (c *Container) rootMount(l *spawn.List, m string) error {
	rf := c.rootfs
	if rf.Dir != "" { // vfs: storage made a full copy for the container
		if c.keep != nil {
			return spec.BadOption("--userns=keep-id needs a store on overlay, this one uses %s", rf.Driver)
		}
		l.Mount(rf.Dir, m, "", "", unix.MS_BIND|unix.MS_REC, 0)
		l.Mount("", m, "", "", nodevRemountFlags(rf.Dir), 0)
		return nil
	}
	upper, work := rf.Upper, rf.Work
	// volatile (no syncs) only for a throwaway upper: a kept container's
	// must survive a crash, and the kernel refuses to mount an upper dir
	// again once it was mounted volatile. fuse-overlayfs takes the option
	// too (it then skips fsync), as Podman passes it.
	volatile := upper == "" && (rf.Volatile || rf.MountProgram != "")
	if upper == "" { // --rm: a throwaway upper dir in the run dir
		upper, work = c.rd.Join("upper"), c.rd.Join("work")
		if err := mkdirOwned(upper, rf.RootMode, rf.RootUID, rf.RootGID); err != nil {
			return err
		}
		if err := os.Mkdir(work, 0o700); err != nil {
			return fmt.Errorf("create work dir: %w", err)
		}
	}
	empty := c.rd.Join("empty")
	if len(rf.Lowers) == 0 {
		if err := os.Mkdir(empty, 0o755); err != nil {
			return fmt.Errorf("create empty lower dir: %w", err)
		}
	}
	if c.keep != nil {
		return c.mountKeepID(upper, work, empty, volatile)
	}
	mrf := *rf
	mrf.Volatile = volatile
	data, dir := mrf.OverlayData(upper, work, empty)
	if rf.MountProgram != "" {
		return c.mountFuse(rf.MountProgram, data, dir)
	}
	if len(data) >= os.Getpagesize() {
		// The kernel reads one page of mount options and cuts the rest:
		// the mount then failed with a bare "no such file or directory"
		// for a lower dir whose name was cut (about 140 layers).
		return fmt.Errorf("the image has %d layers, more than kernel overlay can mount (its options take %d bytes, the kernel reads %d): "+
			"pull it into a store on fuse-overlayfs (another --root, with --storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs), or squash the image",
			len(rf.Lowers), len(data), os.Getpagesize()-1)
	}
	if dir != "" {
		l.Chdir(dir, 0) // the lowers in data are relative to the overlay home
	}
	l.Mount("overlay", m, "overlay", data, unix.MS_NODEV, 0) // see nodevRemountFlags
	return nil
}

// nodevRemountFlags are the flags that remount the bind of dir nodev,
// keeping the flags of the mount dir is on: a user namespace may not clear
// those the kernel locked (ro, nosuid, noexec, atime), and nothing else
// should change.
//
// The root filesystem is mounted nodev, whatever the store: a device node
// that an image carries (storage makes them when it runs as real root)
// must not open the host device it names. As real root there is neither
// a user namespace, whose mounts the kernel keeps from opening devices,
// nor a device cgroup as Podman's runtimes set up, so container root
// could read and write any node of its image (TestHostileDeviceNodes).
// The container's /dev is a tmpfs of its own, not nodev, with binds of
// the host's harmless nodes; fuse-overlayfs mounts nodev by itself.
func nodevRemountFlags(dir string) uintptr {
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_NODEV)
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return flags
	}
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	if uintptr(st.Flags)&(unix.ST_NOATIME|unix.ST_RELATIME) == 0 {
		flags |= unix.MS_STRICTATIME // else the remount makes it relatime
	}
	return flags
}

// mountKeepID mounts the root filesystem with fuse-overlayfs shifting
// ownership into the keep-id namespace (see keepid.go).
func (c *Container) mountKeepID(upper, work, empty string, volatile bool) error {
	rf := *c.rootfs
	prog, err := fuseProgram(rf.MountProgram)
	if err != nil {
		return err
	}
	rf.UserXattr, rf.Volatile = false, volatile // userxattr is the kernel overlay's only
	data, dir := rf.OverlayData(upper, work, empty)
	data += ",uidmapping=" + userns.FuseMapping(c.keep.UIDs) + ",gidmapping=" + userns.FuseMapping(c.keep.GIDs)
	return c.mountFuse(prog, data, dir)
}

// hostIDs returns the ids that container ids uid and gid have in the
// namespace the mounts are made in.
func (c *Container) hostIDs(uid, gid int) (int, int) {
	if c.keep == nil {
		return uid, gid
	}
	return c.keep.ToOutside(uid, gid)
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
func (c *Container) systemMounts(l *spawn.List, m string) {
	const nosuid, nodev, noexec = unix.MS_NOSUID, unix.MS_NODEV, unix.MS_NOEXEC
	rootUID, rootGID := c.hostIDs(0, 0)
	owner := ""
	if c.keep != nil {
		// Made before entering the keep-id namespace: say who root is there.
		owner = fmt.Sprintf(",uid=%d,gid=%d", rootUID, rootGID)
	}
	// proc must be mounted before pivot_root: the kernel allows a new proc
	// in a user namespace only while a full one is visible in the mount
	// namespace (mount_too_revealing), and pivot_root detaches the host's.
	l.Mount("proc", m+"/proc", "proc", "", nosuid|nodev|noexec, spawn.FlagMkdir)
	l.Mount("tmpfs", m+"/dev", "tmpfs", "mode=755,size=65536k"+owner, nosuid|unix.MS_STRICTATIME, spawn.FlagMkdir)
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		// Device nodes cannot be made in a user namespace: bind the host's.
		l.Mount("/dev/"+d, m+"/dev/"+d, "", "", unix.MS_BIND, spawn.FlagMkfile)
	}
	pts := "newinstance,ptmxmode=0666,mode=0620"
	if _, ttyGID := c.hostIDs(0, 5); idMapped("/proc/self/gid_map", uint64(ttyGID)) {
		pts += ",gid=" + strconv.Itoa(ttyGID) // the tty group, as on a host
	}
	l.Mount("devpts", m+"/dev/pts", "devpts", pts, nosuid|noexec, spawn.FlagMkdir)
	l.Symlink("pts/ptmx", m+"/dev/ptmx")
	l.Mount("shm", m+"/dev/shm", "tmpfs", "mode=1777,size=65536k"+owner, nosuid|nodev|noexec, spawn.FlagMkdir)
	l.Mount("mqueue", m+"/dev/mqueue", "mqueue", "", nosuid|nodev|noexec, spawn.FlagMkdir|spawn.FlagOptional)
	for _, s := range [][2]string{
		{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"}, {"core", "/proc/kcore"},
	} {
		l.Symlink(s[1], m+"/dev/"+s[0])
	}
	// sysfs can only be mounted by the owner of the network namespace:
	// a container with its own gets a fresh one (its /sys/class/net shows
	// its interfaces); on the host's network, the host's is bound,
	// read-only all the way down.
	if c.Spec.Net.FreshSysfs() {
		ro := uintptr(unix.MS_RDONLY)
		if c.Spec.Privileged {
			ro = 0
		}
		l.Mount("sysfs", m+"/sys", "sysfs", "", nosuid|nodev|noexec|ro, spawn.FlagMkdir)
		// The host's cgroup tree, as the bound /sys had it.
		l.Mount("/sys/fs/cgroup", m+"/sys/fs/cgroup", "", "", unix.MS_BIND|unix.MS_REC, spawn.FlagMissingOK)
		if !c.Spec.Privileged {
			l.Readonly(m+"/sys/fs/cgroup", spawn.FlagMissingOK)
		}
		return
	}
	l.Mount("/sys", m+"/sys", "", "", unix.MS_BIND|unix.MS_REC, spawn.FlagMkdir)
	if !c.Spec.Privileged {
		l.Readonly(m+"/sys", 0)
	}
}

// etcMounts lists the generated /etc files to mount: the three every
// container gets, and for keep-id a passwd and group naming the kept user
// when the image lacks them.
func (c *Container) etcMounts() ([]string, error) {
	var files []string
	for _, name := range etcFiles[:3] {
		if name != "hosts" || !c.noHosts() {
			files = append(files, name)
		}
	}
	if c.keep != nil {
		passwd, group := c.keep.passwdEntries(c.rd.Join("merged"))
		for name, extra := range map[string]string{"passwd": passwd, "group": group} {
			if extra == "" {
				continue
			}
			if err := writeWithExtra(c.rd.Join("merged"), "etc/"+name, extra, c.rd.Join("etc/"+name)); err != nil {
				return nil, fmt.Errorf("write %s: %w", name, err)
			}
		}
		files = nil
		for _, name := range etcFiles {
			if _, err := os.Stat(c.rd.Join("etc/" + name)); err == nil {
				files = append(files, name)
			}
		}
	}
	uid, gid := c.hostIDs(0, 0)
	for _, name := range files {
		if err := os.Lchown(c.rd.Join("etc/"+name), uid, gid); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// bindSources opens the source of every bind mount and volume before
// pivot_root hides the host, creating a missing -v directory (Podman does)
// and volumes on first use. It returns, per mount, the slot it is in.
func (c *Container) bindSources(l *spawn.List) (map[int]int, error) {
	slots := map[int]int{}
	next := slotMounts
	for i := range c.Spec.Mounts {
		m := &c.Spec.Mounts[i]
		if m.Kind == "tmpfs" {
			continue
		}
		if m.Generated != "" {
			src, err := c.generatedSource(m)
			if err != nil {
				return nil, err
			}
			m.Source = src
		}
		if m.Kind == "volume" {
			path, err := c.st.VolumePath(m.Source, true)
			if err != nil {
				return nil, err
			}
			m.Source = path
		}
		fi, err := os.Stat(m.Source)
		if errors.Is(err, os.ErrNotExist) && m.Create {
			err = os.MkdirAll(m.Source, 0o755)
			if err == nil {
				fi, err = os.Stat(m.Source)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: mount source: %v", spec.ErrBadOption, err)
		}
		if next >= maxSlots {
			return nil, spec.BadOption("too many bind mounts (at most %d)", maxSlots-slotMounts)
		}
		m.SourceIsDir = fi.IsDir()
		l.OpenTree(m.Source, next, true)
		slots[i] = next
		next++
	}
	return slots, nil
}

// userMounts attaches the binds, volumes and tmpfs after pivot_root.
func (c *Container) userMounts(l *spawn.List, slots map[int]int) {
	for i, m := range c.Spec.Mounts {
		if m.Kind == "tmpfs" {
			data := m.Data
			if m.UserOwned {
				uid, gid := c.shareOwner()
				data = spec.JoinOpts(data, fmt.Sprintf("uid=%d,gid=%d", uid, gid))
			}
			if c.keep != nil && !strings.Contains(data, "uid=") {
				uid, gid := c.hostIDs(0, 0)
				data = spec.JoinOpts(data, fmt.Sprintf("uid=%d,gid=%d", uid, gid))
			}
			l.Mount("tmpfs", m.Target, "tmpfs", data, m.Flags, spawn.FlagMkdir)
			continue
		}
		create := spawn.FlagMkfile
		if m.SourceIsDir {
			create = spawn.FlagMkdir
		}
		l.MoveMount(slots[i], m.Target, uint32(create))
		if m.ReadOnly {
			l.Readonly(m.Target, 0)
		}
	}
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
