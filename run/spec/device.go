package spec

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// KeepGroups is the --group-add value that keeps the caller's
// supplementary groups of the host (crun's run.oci.keep_original_groups).
const KeepGroups = "keep-groups"

// Device is one --device: a host device node, or a directory of them,
// bind-mounted into the container's /dev. A user namespace cannot mknod
// a device (and real root would not be confined by one either), so the
// container reaches the host's node itself: access is what the node's
// mode, group and ACLs give the container's process, as with rootless
// Podman; there is no device cgroup to narrow it (Perms is recorded, and
// checked against what the caller may open, not enforced).
type Device struct {
	Source string `json:"source"`          // host path, absolute and clean
	Target string `json:"target"`          // in the container
	Perms  string `json:"perms,omitempty"` // r, w, m: Podman's rwm, default all
	IsDir  bool   `json:"is_dir,omitempty"`
}

// parseDevice reads --device HOST[:CONTAINER][:PERMS], Podman's syntax:
// with two parts, the second is PERMS when it reads like one.
func parseDevice(s string) (Device, error) {
	parts := strings.Split(s, ":")
	d := Device{Source: parts[0], Perms: "rwm"}
	switch {
	case len(parts) == 2 && validPerms(parts[1]):
		d.Perms = parts[1]
	case len(parts) == 2:
		d.Target = parts[1]
	case len(parts) == 3:
		d.Target, d.Perms = parts[1], parts[2]
	case len(parts) > 3:
		return d, BadOption("--device %q: want HOST[:CONTAINER][:PERMS]", s)
	}
	if !validPerms(d.Perms) {
		return d, BadOption("--device %q: permissions %q are not a combination of r, w and m", s, d.Perms)
	}
	if !filepath.IsAbs(d.Source) {
		return d, BadOption("--device %q: the host device must be an absolute path", s)
	}
	d.Source = filepath.Clean(d.Source)
	if d.Target == "" {
		d.Target = d.Source
	}
	if !filepath.IsAbs(d.Target) || filepath.Clean(d.Target) == "/" {
		return d, BadOption("--device %q: the container path must be an absolute path below /", s)
	}
	d.Target = filepath.Clean(d.Target)
	return d, nil
}

func validPerms(p string) bool {
	if p == "" || len(p) > 3 {
		return false
	}
	for _, c := range p {
		if !strings.ContainsRune("rwm", c) || strings.Count(p, string(c)) > 1 {
			return false
		}
	}
	return true
}

// accessMode is what Perms asks of open(2): R_OK and W_OK (m, mknod, asks
// nothing of an existing node).
func (d Device) accessMode() uint32 {
	var m uint32
	if strings.Contains(d.Perms, "r") {
		m |= unix.R_OK
	}
	if strings.Contains(d.Perms, "w") {
		m |= unix.W_OK
	}
	return m
}

// check stats the device and, for a caller other than real root, checks
// that the container's process will be able to open it as Perms asks:
// by the node's "other" bits, by its owner or ACL (the caller is the
// container's root), or by a group of the caller's that it keeps only
// with --group-add keep-groups.
func (d *Device) check(keepGroups, realRoot bool) error {
	fi, err := os.Stat(d.Source)
	if os.IsNotExist(err) {
		return hint.Wrap(BadOption("device %s does not exist on this host", d.Source),
			"load its driver (modprobe), or check the name: ls -l "+filepath.Dir(d.Source))
	}
	if err != nil {
		return BadOption("device %s: %v", d.Source, err)
	}
	if fi.IsDir() {
		d.IsDir = true
		return d.checkDir(keepGroups, realRoot)
	}
	if fi.Mode()&os.ModeDevice == 0 {
		return BadOption("--device %s: not a character or block device, nor a directory of them (use -v for files)", d.Source)
	}
	if realRoot {
		return nil
	}
	return checkNode(d.Source, d.accessMode(), keepGroups)
}

// checkDir accepts a directory when the caller can open at least one
// device node directly in it: /dev/input holds nodes of other seats.
func (d *Device) checkDir(keepGroups, realRoot bool) error {
	entries, err := os.ReadDir(d.Source)
	if err != nil {
		return BadOption("device directory %s: %v", d.Source, err)
	}
	var first error
	nodes := 0
	for _, e := range entries {
		if e.Type()&os.ModeDevice == 0 {
			continue
		}
		nodes++
		if realRoot {
			return nil
		}
		err := checkNode(filepath.Join(d.Source, e.Name()), d.accessMode(), keepGroups)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	if nodes == 0 {
		return BadOption("--device %s: the directory holds no device node", d.Source)
	}
	return first
}

// checkNode says why the container's process could not open the node at
// path with mode (R_OK|W_OK), naming the group or udev rule that gives
// access, or nil.
//
// crun-lite runs in the user's namespace, where the host's groups (kvm,
// render, audio) are not mapped: the node's group and the caller's
// supplementary groups read as the overflow gid (nogroup), the same
// number, so "open to one of my groups" still holds; only the group's name
// is lost, and the hint names the group desktops use for that device.
func checkNode(path string, mode uint32, keepGroups bool) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return BadOption("device %s: %v", path, err)
	}
	perm := st.Mode & 0o777
	otherDenies := (mode&unix.R_OK != 0 && perm&0o004 == 0) || (mode&unix.W_OK != 0 && perm&0o002 == 0)
	groupDenies := (mode&unix.R_OK != 0 && perm&0o040 == 0) || (mode&unix.W_OK != 0 && perm&0o020 == 0)
	gname, shown := groupName(st.Gid, path)
	desc := fmt.Sprintf("%s (mode %04o, group %s)", path, perm, shown)
	if unix.Access(path, mode) != nil {
		if st.Gid != 0 && !groupDenies {
			return hint.Wrap(BadOption("you cannot open device %s", desc),
				fmt.Sprintf("join its group: sudo usermod -aG %s $USER, then log in again (and run with --group-add keep-groups)", gname))
		}
		return hint.Wrap(BadOption("you cannot open device %s", desc),
			fmt.Sprintf("give it to a group as desktops' udev rules do, KERNEL==\"%s\", GROUP=\"%s\", MODE=\"0660\" in /etc/udev/rules.d/, then join that group and run with --group-add keep-groups",
				filepath.Base(path), conventionalGroup(path)))
	}
	if !otherDenies || int(st.Uid) == os.Getuid() || keepGroups || groupDenies {
		return nil // by "other", by owner or ACL (the container's root is the caller), or a kept group
	}
	gids, _ := unix.Getgroups()
	if int(st.Gid) != os.Getgid() && slices.Contains(gids, int(st.Gid)) {
		return hint.Wrap(BadOption("device %s is open to you only through group %s, which the container's process does not keep", desc, gname),
			"add --group-add keep-groups")
	}
	return nil
}

// groupName names the node's group, and how to show it: from /etc/group
// when mapped here, else (the overflow gid) the group desktops give that
// device.
func groupName(gid uint32, path string) (name, shown string) {
	if b, err := os.ReadFile("/proc/sys/kernel/overflowgid"); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(int(gid)) {
		g := conventionalGroup(path)
		return g, "of the host, not mapped here; " + g + " on Debian"
	}
	if g, err := user.LookupGroupId(strconv.Itoa(int(gid))); err == nil {
		return g.Name, g.Name
	}
	return strconv.Itoa(int(gid)), strconv.Itoa(int(gid))
}

// conventionalGroup is the group Debian's and systemd's udev rules give a
// device, or "GROUP".
func conventionalGroup(path string) string {
	for _, pg := range [][2]string{
		{"/dev/kvm", "kvm"}, {"/dev/dri/", "render"}, {"/dev/snd/", "audio"}, {"/dev/video", "video"},
		{"/dev/input/", "input"}, {"/dev/ttyUSB", "dialout"}, {"/dev/ttyACM", "dialout"},
	} {
		if strings.HasPrefix(path, pg[0]) {
			return pg[1]
		}
	}
	return "GROUP"
}
