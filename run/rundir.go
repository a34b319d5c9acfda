package run

import (
	"github.com/crun-lite/crun-lite/run/spawn"

	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// runDir is the per-run state of one container under store.RunsDir():
//
//	lock        flock'ed by the monitor for the container's whole life; its
//	            content is the JSON runState, for the garbage collector
//	upper/ work/  the writable overlay layer of a --rm run
//	merged/     the mount point of the root filesystem
//	empty/      a lower dir for images without layers
//	etc/        hosts, hostname, resolv.conf bind-mounted into the container
//
// A monitor that dies (SIGKILL, crash) releases its lock with its last fd;
// the next command finds the dir unlocked and removes it (gc.go).
type runDir struct {
	path  string
	lock  *os.File
	state runState
}

// runState is what the garbage collector must undo besides removing the dir.
type runState struct {
	// FuseMounted: merged is a fuse-overlayfs mount in the holder's mount
	// namespace (native overlay mounts live and die with the container's).
	FuseMounted bool `json:"fuse_mounted,omitempty"`
	// TempContainer: a storage container made for a --rm run on vfs.
	TempContainer string `json:"temp_container,omitempty"`
	// Container: the kept container (no --rm) this run runs, whose status
	// GC sets to exited when the monitor died before it could.
	Container string `json:"container,omitempty"`
	// Volumes the container mounts, so that `volume rm` can refuse.
	Volumes []string `json:"volumes,omitempty"`
	// Image: the ID of the image the run uses, which rmi must keep.
	Image string `json:"image,omitempty"`
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newRunPrefix names a run dir while it is being made. Garbage collection
// takes an unlocked run dir for a dead one, so a run dir must never be
// visible under its ID before its lock is held: it is made under this name
// (skipped by every listing, like all dot names), locked and filled, and
// only then renamed to its ID. A crash before the rename leaves a dot dir
// that GC removes once it is old.
const newRunPrefix = ".new-"

// createRunDir makes the run dir of run id, locked, with state saved.
func createRunDir(runsDir, id string, state runState) (*runDir, error) {
	if err := os.MkdirAll(runsDir, 0o700); err != nil {
		return nil, fmt.Errorf("create run dir: %w", err)
	}
	tmp := filepath.Join(runsDir, newRunPrefix+id)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("create run dir: %w", err)
	}
	rd := &runDir{path: tmp, state: state}
	if err := rd.fill(); err != nil {
		if rd.lock != nil {
			rd.lock.Close()
		}
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	path := filepath.Join(runsDir, id)
	if err := os.Rename(tmp, path); err != nil {
		_ = rd.remove()
		return nil, fmt.Errorf("create run dir: %w", err)
	}
	rd.path = path
	return rd, nil
}

// fill creates and locks the lock file, saves the state and makes the
// dirs every run needs.
func (rd *runDir) fill() error {
	lock, err := os.OpenFile(rd.join("lock"), os.O_CREATE|os.O_EXCL|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	rd.lock = lock
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("lock run dir: %w", err)
	}
	if err := rd.saveState(); err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	for _, d := range []string{"merged", "etc"} {
		if err := os.Mkdir(rd.join(d), 0o755); err != nil {
			return fmt.Errorf("create run dir: %w", err)
		}
	}
	return nil
}

func (rd *runDir) join(name string) string { return filepath.Join(rd.path, name) }

// saveState records what the garbage collector must undo if we die.
// The state is kept in the lock file itself: one file fewer to create and
// delete on every run.
func (rd *runDir) saveState() error {
	b, _ := json.Marshal(rd.state)
	if err := rd.lock.Truncate(0); err != nil {
		return err
	}
	_, err := rd.lock.WriteAt(b, 0)
	return err
}

// trashDir is where run dirs wait for their deletion; GC empties it too.
const trashDir = ".trash"

// remove deletes the run dir and then drops the lock. Files in the upper dir
// may belong to any id of the namespace and overlay leaves a mode-000
// work/work/incompat/volatile: removal works because we are root in the
// namespace with CAP_DAC_OVERRIDE.
//
// Deleting even an empty container's dirs costs about a millisecond on a
// journaled disk (the copied-up /etc files, overlay's volatile markers), all
// of it between the container's exit and ours. So the dir is renamed into
// the trash, which takes it out of every listing at once, and a detached
// rm deletes it while we exit.
func (rd *runDir) remove() error {
	defer rd.lock.Close()
	trash := filepath.Join(filepath.Dir(rd.path), trashDir)
	dst := filepath.Join(trash, filepath.Base(rd.path))
	if err := os.MkdirAll(trash, 0o700); err == nil {
		if err := os.Rename(rd.path, dst); err == nil {
			if spawn.StartDetached([]string{"rm", "-rf", "--one-file-system", dst}) == nil {
				return nil
			}
			rd.path = dst
		}
	}
	if err := os.RemoveAll(rd.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove run dir: %w", err)
	}
	return nil
}
