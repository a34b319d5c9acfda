package run

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/run/spec"
	"github.com/crun-lite/crun-lite/userns"
)

// --userns=keep-id
//
// The namespace C in which the host user has the kept ids, and its maps,
// are package userns's (userns/keepid.go). What is ours is the container's
// files: the image's layers on disk are in H's terms (a root-owned file
// belongs to H id 0, the host user), so seen from C they would belong to
// U. Podman fixes that by copying every layer with shifted ownership on
// first use, which takes minutes for a big image. Here no layer is copied
// or chowned, on the first start or any other: the root filesystem is
// mounted with fuse-overlayfs, which shifts ownership as it serves files
// (its uidmapping/gidmapping options, with C's map), so the cost of keep-id
// is the fuse-overlayfs start and one user namespace, whatever the image's
// size. What is chowned per start is only what crun-lite makes itself (a
// --rm container's empty upper directory, the generated /etc files) and the
// sources of U volumes. Native overlay cannot do it: idmapped mounts of
// the layers' filesystem need CAP_SYS_ADMIN over the host, and overlayfs
// does not accept an idmapping itself (EINVAL here, kernel 6.18).
//
// The mounts made before entering C (proc, /dev, the generated /etc files)
// are made in H, so their owners are given in H's terms: hostIDs(0, 0), not 0.

// keepIDState is a prepared keep-id namespace.
type keepIDState struct {
	*userns.KeepID
	uid, gid int // the host user's ids inside
}

func (k *keepIDState) close() {
	if k != nil {
		k.Close()
	}
}

// prepareKeepID makes the user namespace C.
func prepareKeepID(k *spec.KeepID) (*keepIDState, error) {
	ns, err := userns.NewKeepID(k.UID, k.GID)
	if errors.Is(err, userns.ErrKeepID) {
		err = fmt.Errorf("%w: %w", spec.ErrBadOption, err)
	}
	if err != nil {
		return nil, err
	}
	return &keepIDState{KeepID: ns, uid: k.UID, gid: k.GID}, nil
}

// fuseProgram finds fuse-overlayfs for keep-id, with a fix when it is missing.
func fuseProgram(configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	p, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return "", hint.Wrap(spec.BadOption("--userns=keep-id needs fuse-overlayfs to shift file ownership without copying the image"),
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
	// A file readInRoot refuses counts as lacking the entry: writeWithExtra
	// then reads it again and reports the error.
	if b, err := readInRoot(root, "etc/passwd"); err != nil || !hasID(b, k.uid) {
		passwd = fmt.Sprintf("%s:*:%d:%d:%s:%s:/bin/sh\n", name, k.uid, k.gid, name, home)
	}
	if b, err := readInRoot(root, "etc/group"); err != nil || !hasID(b, k.gid) {
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
	data, err := readInRoot(root, name)
	if err != nil {
		return err
	}
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
