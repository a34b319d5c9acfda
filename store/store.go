// Package store keeps crun-lite's images and containers on disk: it opens
// containers/storage with explicit paths and a probed graph driver, and
// hands the runtime what it needs to mount an image's layers itself.
//
// What only crun-lite-full needs lives in packages below this one, so that
// the lean crun-lite, which runs containers, does not link containers/image's
// transports: store/transfer copies images in and out (pull, load, save,
// import), store/inspect describes images and the store (inspect, info), and
// store/registry holds credentials and registries.conf (login, logout).
//
// # Design
//
// Paths are always set here, never read from storage.conf: Debian's
// /usr/share/containers/storage.conf would otherwise send a rootless user to
// /var/lib/containers. The graph root is $XDG_DATA_HOME/crun-lite/storage,
// the run root $XDG_RUNTIME_DIR/crun-lite (or /tmp/crun-lite-UID).
//
// The graph driver is chosen once per store and remembered in
// crun-lite-driver.json in the graph root (see driver.go): native overlay when
// the kernel mounts it in the user namespace, overlay through fuse-overlayfs
// when it does not, vfs as the last resort.
//
// containers/storage is used for everything that changes the store (pull,
// image and container records). Running a container does not create a
// storage container per --rm run (2 ms to create and mount, 2 ms to unmount and
// delete, measured): the runtime mounts overlay itself from the layer
// directories that Rootfs returns, holding storage's read locks on layers and
// images until the mount exists, so a concurrent pull or rmi cannot pull a
// layer out from under it.
//
// Everything here expects to run as root in the user namespace (see package
// userns) or as real root.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"go.podman.io/storage"
	"go.podman.io/storage/types"
	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/paths"
)

// Options locate a store and choose its driver.
type Options struct {
	GraphRoot  string   // --root
	RunRoot    string   // --runroot
	Driver     string   // --storage-driver; "" picks and remembers one
	DriverOpts []string // --storage-opt, e.g. overlay.mount_program=/usr/bin/fuse-overlayfs
	Reserve    Reserve  // --storage-opt crunlite.reserve: free space copies leave (reserve.go)
	// Single: the command runs in the single-id user namespace (package
	// userns), which maps one id: the store keeps every file as container
	// root's (single.go).
	Single bool
}

// Store is an open image and container store.
type Store struct {
	s      storage.Store
	opts   Options
	Driver DriverChoice
	// Created is set when this Open made the store: it chose the driver,
	// which the caller tells the user about once (Driver.Reason).
	Created bool

	rootfsSizes map[string]int64 // RootfsSize's, by image ID
}

// DefaultOptions returns the per-user default paths for a host uid: those
// of the full mode, or of the single-id mode (single), whose store lives
// beside the other (single.go).
func DefaultOptions(hostUID int, single bool) (Options, error) {
	data, err := paths.DataDir(hostUID)
	if err != nil {
		return Options{}, err
	}
	o := Options{
		GraphRoot: filepath.Join(data, "storage"),
		RunRoot:   paths.RuntimeDir(hostUID),
		Single:    single,
	}
	if single {
		o.GraphRoot = filepath.Join(data, singleStoreDir)
		o.RunRoot = filepath.Join(o.RunRoot, singleStoreDir)
	}
	return o, nil
}

// Open opens (creating if needed) the store described by opts.
func Open(opts Options) (*Store, error) {
	st, err := OpenLazy(opts)
	if err != nil {
		return nil, err
	}
	return st, st.ensure()
}

// OpenLazy prepares the store but opens containers/storage only when a
// method needs it: a run whose answer is in the run cache never does.
func OpenLazy(opts Options) (*Store, error) {
	if opts.GraphRoot == "" || opts.RunRoot == "" {
		return nil, errors.New("open store: graph root and run root must be set")
	}
	for _, d := range []string{opts.GraphRoot, opts.RunRoot} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	choice, made, err := chooseDriver(opts)
	if err != nil {
		return nil, err
	}
	return &Store{opts: opts, Driver: choice, Created: made}, nil
}

// ensure opens containers/storage if it is not open yet.
func (st *Store) ensure() error {
	if st.s != nil {
		return nil
	}
	s, err := storage.GetStore(types.StoreOptions{
		GraphRoot:          st.opts.GraphRoot,
		RunRoot:            st.opts.RunRoot,
		GraphDriverName:    st.Driver.Name,
		GraphDriverOptions: st.Driver.storageOptions(),
	})
	if err != nil {
		// storage's overlay refuses a missing mount program with its own
		// words; ours name the fix.
		if uerr := usable(st.Driver); uerr != nil {
			return uerr
		}
		return fmt.Errorf("open store %s with driver %s: %w", st.opts.GraphRoot, st.Driver, err)
	}
	st.s = s
	// A copy killed while containers/image wrote its image leaves it
	// nameless: remove it before anyone lists or looks up images.
	st.cleanTemp()
	return nil
}

// Storage returns the open containers/storage store, opening it if
// needed, for the packages below store that copy and describe images with
// containers/image (whose storage transport takes a storage.Store). They
// must keep to the store's rules: scratch space from NewScratchDir, full
// disks explained with NoSpaceHint.
func (st *Store) Storage() (storage.Store, error) {
	if err := st.ensure(); err != nil {
		return nil, err
	}
	return st.s, nil
}

// Close releases the store.
func (st *Store) Close() {
	if st.s != nil {
		_, _ = st.s.Shutdown(false)
	}
}

// GraphRoot returns where images and containers live.
func (st *Store) GraphRoot() string { return st.opts.GraphRoot }

// RunRoot returns where per-boot state lives.
func (st *Store) RunRoot() string { return st.opts.RunRoot }

// RunsDir returns the directory for the per-run state of running
// containers (upper and work dirs, generated /etc files, lock): on the same
// filesystem as the layers, which overlay needs for its upper dir.
func (st *Store) RunsDir() string { return filepath.Join(st.opts.GraphRoot, "crun-lite-runs") }

// Reset deletes every image and container and the store's own files, as
// `podman system reset` does. The user-namespace holder's files, which may
// share the run root, are left alone. The store is closed afterwards.
func (st *Store) Reset() error {
	if err := st.ensure(); err != nil {
		return err
	}
	if _, err := st.s.Shutdown(true); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	// Close must not shut storage down again: that would load it anew and
	// make its directories and lock files again in the emptied roots.
	st.s = nil
	for _, dir := range []string{st.opts.GraphRoot, st.opts.RunRoot} {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("reset: %w", err)
		}
		// The records first: a reset that fails midway (a command
		// using the store meanwhile) leaves an empty store, never
		// images whose layers are gone.
		sort.SliceStable(entries, func(i, j int) bool { return isRecordDir(entries[i].Name()) && !isRecordDir(entries[j].Name()) })
		for _, e := range entries {
			if dir == st.opts.RunRoot && (strings.HasPrefix(e.Name(), "userns.") || e.Name() == singleStoreDir ||
				e.Name() == "net" || strings.HasPrefix(e.Name(), "net-")) {
				continue // the holders', the single-id store's run root, the network hubs' (every store's)
			}
			if err := removeAllUnmounting(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("reset: %w", err)
			}
		}
	}
	return nil
}

// isRecordDir: storage's lists of images, layers and containers.
func isRecordDir(name string) bool {
	return strings.HasSuffix(name, "-images") || strings.HasSuffix(name, "-layers") || strings.HasSuffix(name, "-containers")
}

// removeAllUnmounting removes path after detaching what is mounted on or
// below it: storage's overlay driver mounts its home on itself, and a
// command opening the store meanwhile mounts it again. It tries a few
// times, as such a command may also write below path meanwhile.
func removeAllUnmounting(path string) error {
	var err error
	for try := 0; try < 5; try++ {
		for _, m := range mountsUnder(path) {
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
		if err = os.RemoveAll(path); err == nil {
			return nil
		}
		time.Sleep(time.Duration(try+1) * 10 * time.Millisecond)
	}
	return err
}

// mountsUnder lists the mount points at or below path, deepest first.
func mountsUnder(path string) []string {
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(path))
	if err != nil {
		return nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Mountpoint
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
