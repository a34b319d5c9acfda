package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// The store of the single-id mode
//
// In the single-id user namespace (package userns) only container root
// exists: a layer's files cannot be given to their owners, so the store is
// opened with containers/storage's ignore_chown_errors (as Podman's
// documentation describes for a user without subordinate ids), every file
// being stored as container root's, modes kept. Such a store must never be
// mixed with a full-mode one: storage shares layers by digest, and a layer
// unpacked without its owners would stand in for the real one. So the
// store records its mode (DriverChoice.Userns), a store is opened in its
// own mode only, and the single-id mode's default store lives beside the
// full mode's: $XDG_DATA_HOME/crun-lite/storage-single, run root
// $XDG_RUNTIME_DIR/crun-lite/storage-single.

const (
	singleMode     = "single"
	singleStoreDir = "storage-single"
)

// ErrModeMismatch marks a store opened in the other mode than it was made in.
var ErrModeMismatch = errors.New("the store belongs to the other user namespace mode")

// Single reports whether the store keeps every file as container root's
// (the single-id mode).
func (d DriverChoice) Single() bool { return d.Userns == singleMode }

// storageOptions are the driver options containers/storage is opened with:
// the remembered ones, and ignore_chown_errors for a single-id store.
func (d DriverChoice) storageOptions() []string {
	if !d.Single() {
		return d.Options
	}
	return append(slices.Clone(d.Options), d.Name+".ignore_chown_errors=true")
}

// modeConflict refuses to open a store in the mode it was not made in.
func modeConflict(opts Options, saved DriverChoice) error {
	switch {
	case saved.Single() == opts.Single:
		return nil
	case saved.Single():
		return hint.Wrap(fmt.Errorf("store %s was made in the single-id mode, every file in it owned by container root, and this command runs in the full mode (%w)", opts.GraphRoot, ErrModeMismatch),
			"use it with crun-lite --userns=single; the full mode keeps its images in a store of its own (the default, or another --root): pull them again there")
	default:
		return hint.Wrap(fmt.Errorf("store %s was made in the full mode, its files owned by your subordinate ids, which the single-id namespace of this command does not map (%w)", opts.GraphRoot, ErrModeMismatch),
			"use the single-id mode's own store (the default without --root, or another --root); crun-lite doctor says what the full mode needs")
	}
}

// SingleStoreBeside returns the graph root of the single-id store beside
// the full mode's default one when it holds a store, else "": a user who
// moved to the full mode is told where the images of before are.
func SingleStoreBeside(o Options) string {
	if o.Single {
		return ""
	}
	dir := filepath.Join(filepath.Dir(o.GraphRoot), singleStoreDir)
	if _, err := os.Stat(filepath.Join(dir, driverFile)); err != nil {
		return ""
	}
	return dir
}
