package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

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
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil && st.dropHalfImage(path) {
			_ = os.RemoveAll(path)
		}
		f.Close()
	}
}

// The half-written image of a killed copy
//
// containers/image's storage destination makes an image in several writes
// of images.json: the record (no names, no digest), then its manifest and
// config, then its name. A copy killed in between leaves a nameless image
// that images lists and nothing finds by name: run then tried to pull it
// again. So a copy notes in its scratch dir which image it is about to
// make (NoteCommit) and drops the note once copy.Image returned
// (CommitDone); whoever later finds the scratch dir of a dead copy with the
// note still there deletes that image if it is still unfinished.

const commitNoteName = "committing.json"

type commitNote struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"` // the name the copy was giving it; "" for none
}

// NoteCommit records that the copy owning t is about to make image id,
// named name ("" for none). An image that exists already is never noted: a
// copy that reuses it does not own it.
func (st *Store) NoteCommit(t *ScratchDir, id, name string) error {
	if t == nil || id == "" || st.s == nil {
		return nil
	}
	if _, err := st.s.Image(id); err == nil {
		return nil
	}
	b, err := json.Marshal(commitNote{ID: id, Name: name})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(t.Path, commitNoteName), b, 0o600); err != nil {
		return fmt.Errorf("note the image being written: %w", NoSpaceHint(err))
	}
	return nil
}

// CommitDone drops the note of NoteCommit: the image is whole, or
// containers/image removed it itself after an error.
func (t *ScratchDir) CommitDone() {
	if t != nil {
		_ = os.Remove(filepath.Join(t.Path, commitNoteName))
	}
}

// dropHalfImage deletes the unfinished image a dead copy's scratch dir
// notes, and tells whether the dir may go: not while its note cannot be
// acted on (storage not open here).
func (st *Store) dropHalfImage(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, commitNoteName))
	if err != nil {
		return true
	}
	var n commitNote
	if json.Unmarshal(b, &n) != nil || n.ID == "" {
		return true
	}
	if st.s == nil {
		return false
	}
	img, err := st.s.Image(n.ID)
	if err != nil {
		return true // never made, or removed since
	}
	unfinished := img.Digest == "" || (n.Name != "" && !slices.Contains(img.Names, n.Name))
	if unfinished {
		if _, err := st.s.DeleteImage(img.ID, true); err != nil {
			return false
		}
	}
	return true
}
