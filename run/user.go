package run

import (
	"github.com/crun-lite/crun-lite/run/spawn"

	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// execUser is who the command runs as.
type execUser struct {
	UID, GID uint32
	Groups   []uint32
	Home     string
	Name     string // "" when the uid has no passwd entry
}

// ErrBadUser marks a --user (or image User) that the image cannot satisfy.
var ErrBadUser = errors.New("bad user")

// resolveUser resolves spec (uid, uid:gid, name, name:group, uid:group,
// name:gid) against the image's /etc/passwd and /etc/group, read from root,
// the container's root directory. Names resolve like Docker and Podman do:
// a numeric uid needs no passwd entry (HOME is then /), a name does; with a
// name and no explicit group, the user's groups in /etc/group are added.
func resolveUser(root, spec string, extraGroups []string) (*execUser, error) {
	passwd, err := readInRoot(root, "etc/passwd")
	if err != nil {
		return nil, err
	}
	group, err := readInRoot(root, "etc/group")
	if err != nil {
		return nil, err
	}
	eu, err := user.GetExecUser(spec, &user.ExecUser{Home: "/"}, reader(passwd), reader(group))
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v (looked in %s of the image)", ErrBadUser, spec, err, lookedIn(err))
	}
	u := &execUser{UID: uint32(eu.Uid), GID: uint32(eu.Gid), Home: eu.Home}
	if u.Home == "" {
		// An entry with an empty home field: HOME= would make programs
		// write dotfiles in their working directory. / as for no entry.
		u.Home = "/"
	}
	for _, g := range eu.Sgids {
		u.Groups = append(u.Groups, uint32(g))
	}
	if len(extraGroups) > 0 {
		gids, err := user.GetAdditionalGroups(extraGroups, reader(group))
		if err != nil {
			return nil, fmt.Errorf("%w: --group-add: %v (looked in /etc/group of the image)", ErrBadUser, err)
		}
		slices.Sort(gids) // it returns them in map order
		for _, g := range gids {
			if !slices.Contains(u.Groups, uint32(g)) {
				u.Groups = append(u.Groups, uint32(g))
			}
		}
	}
	if users, err := user.ParsePasswdFilter(reader(passwd), func(p user.User) bool { return p.Uid == eu.Uid }); err == nil && len(users) > 0 {
		u.Name = users[0].Name
	}
	return u, nil
}

// lookedIn names the file a failed lookup of GetExecUser searched: the
// user's name is looked up in passwd, the group's in group.
func lookedIn(err error) string {
	switch {
	case errors.Is(err, user.ErrNoPasswdEntries):
		return "/etc/passwd"
	case errors.Is(err, user.ErrNoGroupEntries):
		return "/etc/group"
	}
	return "/etc/passwd and /etc/group"
}

func reader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

// maxImageFile caps what readInRoot reads. The largest /etc/passwd or
// /etc/group of a real system holds a few thousand entries, well under
// 1 MiB; 4 MiB leaves room for those while an image cannot make the monitor
// hold a huge file (or a sparse one) in memory.
const maxImageFile = 4 << 20

// ErrImageFile marks a file crun-lite reads from the image (/etc/passwd,
// /etc/group) that is not a readable regular file of sane size.
var ErrImageFile = errors.New("unusable file in the image")

// imageFileError says what is wrong with a file of the image, naming it as
// the container sees it: "/etc/passwd of the image is a FIFO, not a
// regular file".
type imageFileError struct {
	path, problem string
}

func (e *imageFileError) Error() string        { return e.path + " of the image " + e.problem }
func (e *imageFileError) Is(target error) bool { return target == ErrImageFile }

// readInRoot reads the regular file name (relative, e.g. "etc/passwd") of
// the container whose root directory is root, typically /proc/PID/root.
//
// The image is not trusted, so:
//   - symlinks resolve as the container would (RESOLVE_IN_ROOT): an image
//     whose /etc/passwd links to an absolute path must not make us read the
//     monitor's own files; magic links (/proc/self/...) are refused;
//   - the file is first opened O_PATH, which has no side effect even on a
//     device or FIFO, and must be a regular file (fstat) of at most
//     maxImageFile bytes; only then is that same inode opened for reading,
//     through /proc/self/fd, O_NONBLOCK and O_NOCTTY, so nothing can block
//     or become our terminal;
//   - the read stops after maxImageFile bytes, should the file grow.
//
// A missing file (or a missing directory on the way) is nil and no error:
// images without /etc/passwd are common. Anything else is an error wrapping
// ErrImageFile that names the file.
func readInRoot(root, name string) ([]byte, error) {
	shown := "/" + name
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the container's root directory %s: %w", root, err)
	}
	defer unix.Close(dir)
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	var fd int
	for range 16 {
		// EAGAIN: a rename in the tree raced the lookup, and the kernel
		// leaves the retry to us.
		if fd, err = unix.Openat2(dir, name, how); err != unix.EAGAIN && err != unix.EINTR {
			break
		}
	}
	switch {
	case err == unix.ENOENT || err == unix.ENOTDIR:
		return nil, nil
	case err == unix.ELOOP:
		return nil, &imageFileError{shown, "cannot be opened: it is a symlink loop or a link into /proc"}
	case err != nil:
		return nil, &imageFileError{shown, "cannot be opened: " + err.Error()}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &imageFileError{shown, "cannot be examined: " + err.Error()}
	}
	if kind := fileKind(st.Mode); kind != "" {
		return nil, &imageFileError{shown, "is " + kind + ", not a regular file"}
	}
	if st.Size > maxImageFile {
		return nil, &imageFileError{shown, fmt.Sprintf("is too large: %d bytes, more than the %d MiB crun-lite reads", st.Size, maxImageFile>>20)}
	}
	rfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &imageFileError{shown, "cannot be read: " + err.Error()}
	}
	f := os.NewFile(uintptr(rfd), shown)
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxImageFile+1))
	if err != nil {
		return nil, &imageFileError{shown, "cannot be read: " + err.Error()}
	}
	if len(b) > maxImageFile {
		return nil, &imageFileError{shown, fmt.Sprintf("is too large: more than the %d MiB crun-lite reads", maxImageFile>>20)}
	}
	return b, nil
}

// fileKind names a file type other than regular, as an error says it; ""
// for a regular file.
func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return ""
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFLNK:
		return "a symlink"
	}
	return fmt.Sprintf("of type %#o", mode&unix.S_IFMT)
}

// procRoot is the container's root directory as the monitor sees it.
func procRoot(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/root" }

// setgroups adds the setting of u's supplementary groups. A user namespace
// whose gid map was written without privilege forbids setgroups ("deny"):
// ours never are (newgidmap writes the holder's, the holder's root the
// keep-id one), but crun-lite itself may run as root of one, say under
// `unshare -r`. The command then keeps our own groups, and a warning names
// those of u it lacks rather than dropping them in silence. The primary
// gid is one of the supplementary groups too, as Podman (crun), runc and
// Docker make it: `id` lists it under groups=.
func (c *Container) setgroups(l *spawn.List, groups []uint32, gid uint32) {
	if setgroupsAllowed() {
		if !slices.Contains(groups, gid) {
			groups = append(slices.Clone(groups), gid)
		}
		l.Setgroups(groups)
		return
	}
	have, _ := unix.Getgroups()
	var missing []string
	for _, g := range groups {
		if !slices.Contains(have, int(g)) {
			missing = append(missing, strconv.Itoa(int(g)))
		}
	}
	if len(missing) > 0 {
		c.stdio.warnf("supplementary groups %s not set: setgroups is denied in this user namespace (/proc/self/setgroups)", strings.Join(missing, ","))
	}
}
