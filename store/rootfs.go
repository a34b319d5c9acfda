package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"go.podman.io/storage/pkg/lockfile"
)

// Rootfs says how to build an image's root filesystem.
type Rootfs struct {
	// Driver is "overlay" or "vfs".
	Driver string
	// MountProgram is fuse-overlayfs when overlay cannot be mounted natively.
	MountProgram string
	// Lowers are the layer directories, top layer first (overlay).
	Lowers []string
	// Home is the overlay driver's directory: lower paths relative to it
	// are shorter when the mount data would not fit in a page.
	Home string
	// UserXattr is set in a user namespace: overlay keeps its metadata in
	// user.* xattrs there.
	UserXattr bool
	// Volatile is set when overlay accepts "volatile" (no syncs: right for
	// an upper dir that is thrown away).
	Volatile bool
	// RootMode, RootUID and RootGID describe the image's "/", which an
	// upper dir must copy since overlay shows the upper dir's attributes.
	RootMode os.FileMode
	RootUID  int
	RootGID  int
	// Upper and Work are set for a stored container: its own layer.
	Upper, Work string
	// Dir is the root directory itself when the driver is vfs.
	Dir string
}

// Rootfs returns the overlay layout of img and holds storage's read locks on
// layers and images until release is called: the caller mounts, then
// releases. A layer directory that vanished in between (a concurrent rmi)
// is reported as an error.
func (st *Store) Rootfs(img *Image) (rf *Rootfs, release func(), err error) {
	if st.Driver.Name != "overlay" {
		return nil, nil, fmt.Errorf("direct mounts need the overlay driver, the store uses %s", st.Driver.Name)
	}
	if err := usable(st.Driver); err != nil {
		return nil, nil, err
	}
	if err := st.ensure(); err != nil {
		return nil, nil, err
	}
	rf = st.newRootfs()
	if img.TopLayer != "" {
		md, err := st.layerMetadata(img.TopLayer)
		if err != nil {
			return nil, nil, fmt.Errorf("layers of image %s: %w", ShortID(img.ID), err)
		}
		rf.Lowers = append([]string{md["UpperDir"]}, splitLowers(md["LowerDir"])...)
	}

	release, err = st.readLock()
	if err != nil {
		return nil, nil, err
	}
	for i, l := range rf.Lowers {
		var s syscall.Stat_t
		if err := syscall.Stat(l, &s); err != nil {
			release()
			return nil, nil, fmt.Errorf("layer %s of image %s: %w", l, ShortID(img.ID), err)
		}
		if i == 0 {
			rf.RootMode = os.FileMode(s.Mode & 0o7777)
			rf.RootUID, rf.RootGID = int(s.Uid), int(s.Gid)
		}
	}
	return rf, release, nil
}

// newRootfs describes an overlay root filesystem of this store, layers aside.
func (st *Store) newRootfs() *Rootfs {
	return &Rootfs{
		Driver:       "overlay",
		MountProgram: st.Driver.MountProgram(),
		Home:         filepath.Join(st.opts.GraphRoot, "overlay"),
		UserXattr:    st.Driver.MountProgram() == "" && isRootlessNS(),
		Volatile:     st.Driver.Volatile,
		RootMode:     0o755,
	}
}

// isRootlessNS reports whether this process is root in a rootless user
// namespace, where overlay needs userxattr.
func isRootlessNS() bool { return os.Getenv("_CONTAINERS_USERNS_CONFIGURED") != "" }

func splitLowers(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ":")
}

// readLock takes storage's own read locks, layers before images as storage
// does, so writers (pull, rmi) wait until the caller has mounted.
func (st *Store) readLock() (func(), error) {
	paths := st.lockPaths()
	layers, err := lockfile.GetLockFile(paths[0])
	if err != nil {
		return nil, fmt.Errorf("lock layers: %w", err)
	}
	images, err := lockfile.GetLockFile(paths[1])
	if err != nil {
		return nil, fmt.Errorf("lock images: %w", err)
	}
	layers.RLock()
	images.RLock()
	return func() {
		images.Unlock()
		layers.Unlock()
	}, nil
}

// lockPaths are containers/storage's lock files of layers and images.
func (st *Store) lockPaths() [2]string {
	prefix := filepath.Join(st.opts.GraphRoot, st.Driver.Name)
	return [2]string{prefix + "-layers/layers.lock", prefix + "-images/images.lock"}
}

// OverlayData returns the overlay mount options for these lowers and the
// given upper and work dirs, and the directory the mount must be made from:
// "" when the options use absolute paths, Home when lowers had to be made
// relative to fit the kernel's one-page limit on mount data.
func (rf *Rootfs) OverlayData(upper, work, emptyLower string) (data, chdir string) {
	lowers := rf.Lowers
	if len(lowers) == 0 {
		lowers = []string{emptyLower}
	}
	opts := ""
	if rf.UserXattr {
		opts += ",userxattr"
	}
	if rf.Volatile && upper != "" {
		opts += ",volatile"
	}
	build := func(ls []string) string {
		if upper == "" {
			return "lowerdir=" + strings.Join(ls, ":") + opts
		}
		return "lowerdir=" + strings.Join(ls, ":") + ",upperdir=" + upper + ",workdir=" + work + opts
	}
	data = build(lowers)
	if len(data) < os.Getpagesize() {
		return data, ""
	}
	rel := make([]string, len(lowers))
	for i, l := range lowers {
		rel[i] = shortLower(rf.Home, l)
	}
	return build(rel), rf.Home
}

// shortLower names a layer dir through the driver's l/ symlinks (26 bytes
// each), which is how storage itself fits 128 layers into one page.
func shortLower(home, lower string) string {
	r, err := filepath.Rel(home, lower)
	if err != nil || strings.HasPrefix(r, "..") {
		return lower
	}
	if link, err := os.ReadFile(filepath.Join(home, filepath.Dir(r), "link")); err == nil {
		return "l/" + strings.TrimSpace(string(link))
	}
	return r
}

// layerMetadata returns the overlay driver's view of a layer: UpperDir (its
// own diff), LowerDir (the layers below, colon-separated), WorkDir.
func (st *Store) layerMetadata(layer string) (map[string]string, error) {
	d, err := st.s.GraphDriver()
	if err != nil {
		return nil, err
	}
	return d.Metadata(layer)
}
