// Package state owns the on-disk state of containers: each run's dir in
// the store's RunsDir, its lock and the Record saved in it (what a crash
// leaves to undo, and what a later command needs to find the container),
// the garbage collector that cleans up after dead runs (gc.go), and the
// questions other commands ask of live runs (inuse.go: which images and
// volumes are in use, how many run).
package state

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/run/spawn"
)

// Dir is the per-run state of one container under store.RunsDir():
//
//	lock        flock'ed by the monitor for the container's whole life; its
//	            content is the JSON Record, for the garbage collector
//	upper/ work/  the writable overlay layer of a --rm run
//	merged/     the mount point of the root filesystem
//	empty/      a lower dir for images without layers
//	etc/        hosts, hostname, resolv.conf bind-mounted into the container
//
// A monitor that dies (SIGKILL, crash) releases its lock with its last fd;
// the next command finds the dir unlocked and removes it (gc.go).
type Dir struct {
	Path  string
	State Record // saved with Save
	lock  *os.File
}

// Record is the container's state on disk: what the garbage collector
// must undo besides removing the dir, and what a later command (exec,
// stop, inspect) needs to find the running container.
type Record struct {
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

	// Pid is the container's first process (host pid namespace) once it
	// runs, and PidStart its start time in clock ticks after boot
	// (/proc/PID/stat field 22): a pid reused by another process has
	// another start time.
	Pid      int    `json:"pid,omitempty"`
	PidStart uint64 `json:"pid_start,omitempty"`
	// MonitorPid is the process that waits for the container and holds
	// the lock.
	MonitorPid int `json:"monitor_pid,omitempty"`
	// ControlSocket is where the monitor takes requests (attach, resize,
	// stop), when it listens on one.
	ControlSocket string `json:"control_socket,omitempty"`
	// ExitCode is the command's exit code, recorded when the monitor
	// could not save it in the store (a full disk): the garbage collector
	// saves it later.
	ExitCode *int `json:"exit_code,omitempty"`
	// SpecPath is the container's resolved spec (run/spec), written at
	// start.
	SpecPath string `json:"spec_path,omitempty"`

	// What ps, inspect and stop show and need of the container, which for
	// a --rm run is in no store: its name, the image as named, its
	// command, when it was created and started, whether --rm.
	Name     string    `json:"name,omitempty"`
	ImageRef string    `json:"image_ref,omitempty"`
	Command  []string  `json:"command,omitempty"`
	Created  time.Time `json:"created,omitempty"`
	Started  time.Time `json:"started,omitempty"`
	Remove   bool      `json:"remove,omitempty"`
	// Detached: a monitor process (run/monitor) runs it, and LogPath is
	// where that writes its output (k8s-file).
	Detached bool   `json:"detached,omitempty"`
	TTY      bool   `json:"tty,omitempty"` // run -t: its output is a terminal's
	LogPath  string `json:"log_path,omitempty"`
	// StopSignal is what stop sends first (0: SIGTERM); StopTimeout how
	// long it then waits before SIGKILL.
	StopSignal  int           `json:"stop_signal,omitempty"`
	StopTimeout time.Duration `json:"stop_timeout,omitempty"`
	// IP is the container's address on the network hub; Ports what it
	// publishes, as `port` prints them (80/tcp -> 0.0.0.0:8080).
	IP    string   `json:"ip,omitempty"`
	Ports []string `json:"ports,omitempty"`

	finished time.Time // from the monitor's exit file, for undo
}

// Exit is what a detached container's monitor recorded when the container
// exited (run/monitor/monitor.c, file "exit" in the run dir).
type Exit struct {
	Code     int
	Finished time.Time
}

// ReadExit reads the exit a monitor recorded in dir; ok is false when there
// is none (still running, or its monitor was killed).
func ReadExit(dir string) (e Exit, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, "exit"))
	if err != nil {
		return Exit{}, false
	}
	var ns int64
	if _, err := fmt.Sscanf(string(b), "%d %d", &e.Code, &ns); err != nil {
		return Exit{}, false
	}
	return Exit{Code: e.Code, Finished: time.Unix(0, ns)}, true
}

// LockFD is the fd of the run dir's lock, for a monitor to inherit.
func (rd *Dir) LockFD() int { return int(rd.lock.Fd()) }

// NewID returns a new container ID: 64 random hex digits.
func NewID() string {
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

// Create makes the run dir of run id, locked, with state saved.
func Create(runsDir, id string, state Record) (*Dir, error) {
	if err := os.MkdirAll(runsDir, 0o700); err != nil {
		return nil, fmt.Errorf("create run dir: %w", err)
	}
	tmp := filepath.Join(runsDir, newRunPrefix+id)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("create run dir: %w", err)
	}
	rd := &Dir{Path: tmp, State: state}
	if err := rd.fill(); err != nil {
		if rd.lock != nil {
			rd.lock.Close()
		}
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	path := filepath.Join(runsDir, id)
	if err := os.Rename(tmp, path); err != nil {
		_ = rd.Remove()
		return nil, fmt.Errorf("create run dir: %w", err)
	}
	rd.Path = path
	return rd, nil
}

// fill creates and locks the lock file, saves the state and makes the
// dirs every run needs.
func (rd *Dir) fill() error {
	lock, err := os.OpenFile(rd.Join("lock"), os.O_CREATE|os.O_EXCL|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	rd.lock = lock
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("lock run dir: %w", err)
	}
	if err := rd.Save(); err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	for _, d := range []string{"merged", "etc"} {
		if err := os.Mkdir(rd.Join(d), 0o755); err != nil {
			return fmt.Errorf("create run dir: %w", err)
		}
	}
	return nil
}

// Join names a file of the run dir.
func (rd *Dir) Join(name string) string { return filepath.Join(rd.Path, name) }

// Save records what the garbage collector must undo if we die.
// The state is kept in the lock file itself: one file fewer to create and
// delete on every run.
func (rd *Dir) Save() error {
	b, _ := json.Marshal(rd.State)
	if err := rd.lock.Truncate(0); err != nil {
		return err
	}
	_, err := rd.lock.WriteAt(b, 0)
	return err
}

// Unlock drops the lock and leaves the dir to the garbage collector.
func (rd *Dir) Unlock() { _ = rd.lock.Close() }

// trashDir is where run dirs wait for their deletion; GC empties it too.
const trashDir = ".trash"

// Remove deletes the run dir and then drops the lock. Files in the upper dir
// may belong to any id of the namespace and overlay leaves a mode-000
// work/work/incompat/volatile: removal works because we are root in the
// namespace with CAP_DAC_OVERRIDE.
//
// Deleting even an empty container's dirs costs about a millisecond on a
// journaled disk (the copied-up /etc files, overlay's volatile markers), all
// of it between the container's exit and ours. So the dir is renamed into
// the trash, which takes it out of every listing at once, and a detached
// rm deletes it while we exit.
func (rd *Dir) Remove() error {
	defer rd.lock.Close()
	trash := filepath.Join(filepath.Dir(rd.Path), trashDir)
	dst := filepath.Join(trash, filepath.Base(rd.Path))
	if err := os.MkdirAll(trash, 0o700); err == nil {
		if err := os.Rename(rd.Path, dst); err == nil {
			if spawn.StartDetached([]string{"rm", "-rf", "--one-file-system", dst}) == nil {
				return nil
			}
			rd.Path = dst
		}
	}
	if err := os.RemoveAll(rd.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove run dir: %w", err)
	}
	return nil
}
