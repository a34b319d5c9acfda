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
	passwd := readInRoot(root, "etc/passwd")
	group := readInRoot(root, "etc/group")
	eu, err := user.GetExecUser(spec, &user.ExecUser{Home: "/"}, reader(passwd), reader(group))
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v (looked in %s of the image)", ErrBadUser, spec, err, lookedIn(err))
	}
	u := &execUser{UID: uint32(eu.Uid), GID: uint32(eu.Gid), Home: eu.Home}
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

// readInRoot reads a file of the container, resolving symlinks as the
// container would (RESOLVE_IN_ROOT): an image whose /etc/passwd links to an
// absolute path must not make us read the monitor's own files. A missing or
// unreadable file is nil.
func readInRoot(root, name string) []byte {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil
	}
	return b
}

// procRoot is the container's root directory as the monitor sees it.
func procRoot(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/root" }

// setgroups adds the setting of u's supplementary groups. A user namespace
// whose gid map was written without privilege forbids setgroups ("deny"):
// ours never are (newgidmap writes the holder's, the holder's root the
// keep-id one), but crun-lite itself may run as root of one, say under
// `unshare -r`. The command then keeps our own groups, and a warning names
// those of u it lacks rather than dropping them in silence.
func (c *Container) setgroups(l *spawn.List, groups []uint32) {
	if setgroupsAllowed() {
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
