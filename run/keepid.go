package run

import (
	"github.com/crun-lite/crun-lite/run/spawn"

	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/userns"
)

// --userns=keep-id
//
// The holder's namespace H maps container 0 to the host user. keep-id wants
// the host user to be uid U inside instead, so the container gets a user
// namespace C of its own, a child of H:
//
//	C id:  0 .. U-1    U     U+1 .. N-1
//	H id:  1 .. U      0     U+1 .. N-1
//
// The image's layers on disk are in H's terms (a root-owned file belongs
// to H id 0, the host user), so seen from C they would belong to U. Podman
// fixes that by copying every layer with shifted ownership on first use,
// which takes minutes for a big image. Here no layer is copied or chowned,
// on the first start or any other: the root filesystem is mounted with
// fuse-overlayfs, which shifts ownership as it serves files (its
// uidmapping/gidmapping options, with C's map), so the cost of keep-id is
// the fuse-overlayfs start and one user namespace, whatever the image's
// size. What is chowned per start is only what crun-lite makes itself (a
// --rm container's empty upper directory, the generated /etc files) and the
// sources of U volumes. Native overlay cannot do it: idmapped mounts of
// the layers' filesystem need CAP_SYS_ADMIN over the host, and overlayfs
// does not accept an idmapping itself (EINVAL here, kernel 6.18).
//
// The mounts made before entering C (proc, /dev, the generated /etc files)
// are made in H, so their owners are given in H's terms: toH(0), not 0.

// idMap is one line of a uid_map or gid_map: inside is the id in C,
// outside the id in H.
type idMap struct{ inside, outside, count int }

// keepIDMap builds C's map for one kind of id, given U (the host user's id
// inside) and the number of ids H has.
func keepIDMap(u, size int) ([]idMap, error) {
	if u <= 0 || u >= size {
		return nil, badOption("--userns=keep-id: id %d must be between 1 and %d (the ids your namespace maps)", u, size-1)
	}
	m := []idMap{{0, 1, u}, {u, 0, 1}}
	if size-u-1 > 0 {
		m = append(m, idMap{u + 1, u + 1, size - u - 1})
	}
	return m, nil
}

// toH translates a container id to H's terms.
func toH(m []idMap, id int) int {
	for _, l := range m {
		if id >= l.inside && id < l.inside+l.count {
			return l.outside + id - l.inside
		}
	}
	return id
}

func mapFile(m []idMap) string {
	var b strings.Builder
	for _, l := range m {
		fmt.Fprintf(&b, "%d %d %d\n", l.inside, l.outside, l.count)
	}
	return b.String()
}

// fuseMapping is the map in fuse-overlayfs's CONTAINER:HOST:SIZE form.
func fuseMapping(m []idMap) string {
	parts := make([]string, 0, len(m))
	for _, l := range m {
		parts = append(parts, fmt.Sprintf("%d:%d:%d", l.inside, l.outside, l.count))
	}
	return strings.Join(parts, ":")
}

// nsSize returns how many ids the current user namespace maps.
func nsSize(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 {
			c, _ := strconv.Atoi(f[2])
			n += c
		}
	}
	return n
}

// keepIDState is a prepared keep-id namespace.
type keepIDState struct {
	uids, gids []idMap
	nsFD       int // the user namespace C, open in the monitor
	uid, gid   int // the host user's ids inside
}

func (k *keepIDState) close() {
	if k != nil && k.nsFD >= 0 {
		unix.Close(k.nsFD)
	}
}

// prepareKeepID makes the user namespace C. Only the holder's root may do
// it: it writes C's maps itself (no newuidmap needed, the ids are its own).
func prepareKeepID(k *keepID) (*keepIDState, error) {
	if os.Getenv("_CONTAINERS_USERNS_CONFIGURED") == "" {
		return nil, badOption("--userns=keep-id is for rootless use: as root there is no user namespace to keep an id in")
	}
	uids, err := keepIDMap(k.uid, nsSize("/proc/self/uid_map"))
	if err != nil {
		return nil, err
	}
	gids, err := keepIDMap(k.gid, nsSize("/proc/self/gid_map"))
	if err != nil {
		return nil, err
	}
	fd, err := newUserNamespace(mapFile(uids), mapFile(gids))
	if err != nil {
		return nil, fmt.Errorf("create the keep-id user namespace: %w", err)
	}
	return &keepIDState{uids: uids, gids: gids, nsFD: fd, uid: k.uid, gid: k.gid}, nil
}

// newUserNamespace creates a user namespace with the given maps and returns
// an fd for it: a child is cloned into a new namespace, waits while we write
// its maps, and is killed once the namespace is open.
func newUserNamespace(uidMap, gidMap string) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var l spawn.List
	l.Sync()
	ch, err := spawn.Start(&l, unix.CLONE_NEWUSER, false)
	if err != nil {
		return -1, err
	}
	defer ch.Kill()
	if err := ch.Next(); err != nil {
		return -1, err
	}
	proc := "/proc/" + strconv.Itoa(ch.Pid)
	if err := os.WriteFile(proc+"/uid_map", []byte(uidMap), 0); err != nil {
		return -1, err
	}
	if err := os.WriteFile(proc+"/gid_map", []byte(gidMap), 0); err != nil {
		return -1, err
	}
	return unix.Open(proc+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

// fuseProgram finds fuse-overlayfs for keep-id, with a fix when it is missing.
func fuseProgram(configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	p, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return "", hint.Wrap(badOption("--userns=keep-id needs fuse-overlayfs to shift file ownership without copying the image"),
			"sudo apt-get install fuse-overlayfs")
	}
	return p, nil
}

// passwdEntries returns the lines to add to the image's /etc/passwd and
// /etc/group so that the kept uid and gid have names, as Podman does, or ""
// when the image already has them.
func (k *keepIDState) passwdEntries(root string) (passwd, group string) {
	name, home := "user", "/"
	if hu, err := user.LookupId(strconv.Itoa(userns.HostUID())); err == nil {
		name, home = hu.Username, hu.HomeDir
	}
	if !hasID(readInRoot(root, "etc/passwd"), k.uid) {
		passwd = fmt.Sprintf("%s:*:%d:%d:%s:%s:/bin/sh\n", name, k.uid, k.gid, name, home)
	}
	if !hasID(readInRoot(root, "etc/group"), k.gid) {
		gname := name
		if g, err := user.LookupGroupId(strconv.Itoa(userns.HostGID())); err == nil {
			gname = g.Name
		}
		group = fmt.Sprintf("%s:x:%d:\n", gname, k.gid)
	}
	return passwd, group
}

// hasID reports whether a passwd or group file has an entry with id in its
// third field.
func hasID(file []byte, id int) bool {
	want := strconv.Itoa(id)
	for _, line := range strings.Split(string(file), "\n") {
		if f := strings.Split(line, ":"); len(f) > 2 && f[2] == want {
			return true
		}
	}
	return false
}

// writeWithExtra writes the image's file plus extra lines to dst.
func writeWithExtra(root, name, extra, dst string) error {
	data := readInRoot(root, name)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	return os.WriteFile(dst, append(data, extra...), 0o644)
}

// chownTree gives a volume's source to the container's user (the U
// option), in H's terms.
func chownTree(root string, uid, gid int) error {
	return filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}
