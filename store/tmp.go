package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// tmpDirName holds the scratch space of pulls, loads and saves: blobs that
// containers/image keeps until it commits them, unpacked archives. It lives
// in the graph root, not /var/tmp: on the store's filesystem a full disk
// fails the operation that fills it, and one place is easy to clean.
const tmpDirName = "crun-lite-tmp"

// ScratchDir is one operation's scratch directory, flock'ed for as long as
// the operation runs so that cleanTemp can tell leftovers of killed processes
// from the work of live ones. The operation also holds a shared lock on the
// store's copy lock, which layer garbage collection takes exclusively: a
// pull's committed layers have no image until the pull ends.
type ScratchDir struct {
	// Path is the directory, empty and private to the operation.
	Path string
	lock *os.File
	copy *os.File
}

const copyLockName = "crun-lite-copy.lock"

// lockCopies flocks the store's copy lock; how is LOCK_SH or LOCK_EX, with
// LOCK_NB or not.
func (st *Store) lockCopies(how int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(st.opts.GraphRoot, copyLockName), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// NewScratchDir first removes the scratch directories of dead processes,
// then makes a locked one under the graph root for a pull, load, import or
// save; the caller removes it (Remove) when done.
func (st *Store) NewScratchDir() (*ScratchDir, error) {
	st.cleanTemp()
	return st.newTempDir()
}

// newTempDir makes a locked scratch directory under the graph root.
func (st *Store) newTempDir() (*ScratchDir, error) {
	base := filepath.Join(st.opts.GraphRoot, tmpDirName)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("create scratch dir: %w", NoSpaceHint(err))
	}
	for {
		dir, f, err := lockedDir(base)
		if err != nil {
			return nil, fmt.Errorf("create scratch dir: %w", NoSpaceHint(err))
		}
		if f == nil {
			continue // cleanTemp took it between mkdir and flock
		}
		cl, err := st.lockCopies(unix.LOCK_SH)
		if err != nil {
			f.Close()
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("lock store: %w", err)
		}
		return &ScratchDir{Path: dir, lock: f, copy: cl}, nil
	}
}

// lockedDir makes a directory in base and flocks it. A cleanTemp running
// between the mkdir and the flock may remove it: then f is nil, and the
// caller tries again.
func lockedDir(base string) (string, *os.File, error) {
	dir, err := os.MkdirTemp(base, "op-")
	if err != nil {
		return "", nil, err
	}
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return "", nil, err
	}
	var byPath, byFd unix.Stat_t
	if unix.Stat(dir, &byPath) != nil || unix.Fstat(int(f.Fd()), &byFd) != nil || byPath.Ino != byFd.Ino {
		f.Close()
		return "", nil, nil
	}
	return dir, f, nil
}

// Remove deletes the scratch directory, then drops its lock.
func (t *ScratchDir) Remove() {
	_ = os.RemoveAll(t.Path)
	t.lock.Close()
	t.copy.Close()
}

// cleanTemp removes scratch directories whose process died (SIGKILL, power
// loss): nobody holds their lock.
func (st *Store) cleanTemp() {
	base := filepath.Join(st.opts.GraphRoot, tmpDirName)
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(base, e.Name())
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			_ = os.RemoveAll(path)
		}
		f.Close()
	}
}
