package run

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.podman.io/storage/pkg/directory"
	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/faults"
	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

// Info is a container as ps, stop, logs and wait see it: a kept one from
// the store, a running one from its run dir, or both.
type Info struct {
	ID       string
	Name     string
	ImageRef string
	ImageID  string
	Command  []string
	Created  time.Time
	Started  time.Time
	Finished time.Time
	// Status is "created", "running" or "exited".
	Status   string
	ExitCode int
	Pid      int
	Remove   bool // --rm: gone once it exits
	Kept     bool // in the store
	Detached bool
	LogPath  string
	// IP and Ports: its address on the network hub and what it publishes,
	// while it runs (80/tcp -> 0.0.0.0:8080).
	IP    string
	Ports []string

	StopSignal  unix.Signal
	StopTimeout time.Duration

	run      state.Run
	hasRun   bool
	guessed  bool // exited, its code unrecorded: the store may know it
	pidStart uint64
}

// ErrNoSuchContainer is Podman's "no such container".
var ErrNoSuchContainer = errors.New("no such container")

func noSuch(ref string) error {
	return fmt.Errorf("no container with name or ID %q found: %w", ref, ErrNoSuchContainer)
}

// Containers lists the containers: every kept one in the store and every
// run without a storage container (--rm), newest first. withKept false
// lists runs only (what runs or has just ended), which needs no store.
func Containers(st *store.Store, withKept bool) ([]*Info, error) {
	byID := map[string]*Info{}
	var out []*Info
	for _, r := range state.Runs(st) {
		in := fromRun(r)
		byID[in.ID] = in
		out = append(out, in)
	}
	if withKept {
		cs, err := st.Containers()
		if err != nil {
			return nil, err
		}
		for _, ci := range cs {
			if in, ok := byID[ci.ID]; ok {
				in.addKept(ci)
				continue
			}
			in := &Info{}
			in.addKept(ci)
			out = append(out, in)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

func fromRun(r state.Run) *Info {
	rec := r.Record
	id := r.ID
	if rec.Container != "" {
		id = rec.Container
	}
	in := &Info{
		ID: id, Name: rec.Name, ImageRef: rec.ImageRef, ImageID: rec.Image, Command: rec.Command,
		Created: rec.Created, Started: rec.Started, Remove: rec.Remove, Detached: rec.Detached,
		LogPath: rec.LogPath, Pid: rec.Pid, StopSignal: unix.Signal(rec.StopSignal), StopTimeout: rec.StopTimeout,
		run: r, hasRun: true, pidStart: rec.PidStart, IP: rec.IP, Ports: rec.Ports,
	}
	if in.Name == "" {
		in.Name = shortID(id)
	}
	switch {
	case r.ExitOK: // its monitor may still hold the lock, cleaning up
		in.Status, in.ExitCode, in.Finished = "exited", r.Exit.Code, r.Exit.Finished
	case r.Live && rec.Pid != 0:
		in.Status = "running"
	case r.Live:
		in.Status = "created" // starting
	default:
		// Its monitor was killed, and the container with it
		// (PR_SET_PDEATHSIG); the garbage collector records it.
		in.Status, in.ExitCode, in.guessed = "exited", 128+int(unix.SIGKILL), true
		if rec.ExitCode != nil {
			in.ExitCode = *rec.ExitCode
		}
	}
	return in
}

// addKept completes in from the store's record of the container.
func (in *Info) addKept(ci *store.ContainerInfo) {
	in.Kept = true
	in.ID, in.Name, in.ImageID = ci.ID, ci.Name, ci.ImageID
	if in.ImageRef == "" {
		in.ImageRef = ci.Image
	}
	if len(in.Command) == 0 {
		in.Command = ci.Command
	}
	if in.Created.IsZero() || !ci.Created.IsZero() {
		in.Created = ci.Created
	}
	if in.hasRun && !(in.guessed && ci.Status == "exited") {
		return // the run dir knows better, unless it only guessed
	}
	in.Status, in.ExitCode, in.Started, in.Finished = ci.Status, ci.ExitCode, ci.Started, ci.Finished
	if in.Status == "running" {
		// No run dir: its monitor died and the garbage collector has
		// not recorded the exit yet.
		in.Status, in.ExitCode = "exited", 128+int(unix.SIGKILL)
	}
}

// Lookup finds one container by full ID, name or unique ID prefix. Running
// containers are found from their run dirs; kept ones from the store when
// withKept.
func Lookup(st *store.Store, ref string, withKept bool) (*Info, error) {
	if ref == "" {
		return nil, noSuch(ref)
	}
	cs, err := Containers(st, withKept)
	if err != nil {
		return nil, err
	}
	return matchRef(cs, ref)
}

// matchRef picks the container ref names, as Podman does: a full ID or a
// name first, else the one ID that starts with ref.
func matchRef(cs []*Info, ref string) (*Info, error) {
	var prefix []*Info
	for _, in := range cs {
		if in.ID == ref || in.Name == ref {
			return in, nil
		}
		if strings.HasPrefix(in.ID, ref) {
			prefix = append(prefix, in)
		}
	}
	switch len(prefix) {
	case 1:
		return prefix[0], nil
	case 0:
		return nil, noSuch(ref)
	}
	return nil, fmt.Errorf("more than one result for container %q: give more of its ID or its name", ref)
}

// Running reports whether the container's first process is alive: the pid
// its run recorded, with the same start time.
func (in *Info) Running() bool {
	return in.Status == "running" && in.Pid > 0 && userns.ProcStartTime(in.Pid) == in.pidStart
}

// Signal sends sig to the container's first process, through a pidfd so
// that a recycled pid is never hit.
func (in *Info) Signal(sig unix.Signal) error {
	fd, err := in.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal container %s: %w", in.Name, err)
	}
	return nil
}

// errNotRunning: the container's process is gone.
var errNotRunning = errors.New("not running")

func (in *Info) pidfd() (int, error) {
	if in.Status != "running" || in.Pid <= 0 {
		return -1, errNotRunning
	}
	fd, err := unix.PidfdOpen(in.Pid, 0)
	if err != nil {
		return -1, errNotRunning
	}
	// Checked after opening: the pidfd pins the process.
	if userns.ProcStartTime(in.Pid) != in.pidStart {
		unix.Close(fd)
		return -1, errNotRunning
	}
	return fd, nil
}

// Stop sends the container its stop signal (the image's or --stop-signal,
// else SIGTERM), then SIGKILL when it still runs timeout later, and returns
// once its exit is recorded. A container that does not run is left as it
// is.
func (in *Info) Stop(timeout time.Duration) error {
	fd, err := in.pidfd()
	if errors.Is(err, errNotRunning) {
		return nil
	}
	defer unix.Close(fd)
	sig := in.StopSignal
	if sig == 0 {
		sig = unix.SIGTERM
	}
	if timeout > 0 || sig != unix.SIGKILL {
		_ = unix.PidfdSendSignal(fd, sig, nil, 0)
		in.continueAfter() // paused, it would hold the signal pending
		faults.At("stop:signalled")
		if !waitFD(fd, timeout) {
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		}
	} else {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	}
	if !waitFD(fd, 10*time.Second) {
		return fmt.Errorf("container %s did not die after SIGKILL", in.Name)
	}
	in.waitRecorded(5 * time.Second)
	return nil
}

// Wait waits for the container to exit and returns its exit code.
func (in *Info) Wait(st *store.Store) (int, error) {
	if in.Status != "running" {
		return in.ExitCode, nil
	}
	// The run dir is opened first: a --rm run's goes (into the trash) as
	// soon as its exit is recorded, and the fd still reads it.
	dfd, err := unix.Open(in.run.Dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		defer unix.Close(dfd)
	}
	if fd, err := in.pidfd(); err == nil {
		waitFD(fd, -1)
		unix.Close(fd)
	}
	in.waitRecorded(5 * time.Second)
	if dfd >= 0 {
		if e, ok := state.ReadExit(fmt.Sprintf("/proc/self/fd/%d", dfd)); ok {
			return e.Code, nil
		}
	}
	if in.Kept {
		if ci, err := st.Container(in.ID); err == nil && ci.Status == "exited" {
			return ci.ExitCode, nil
		}
	}
	return 128 + int(unix.SIGKILL), nil
}

// waitRecorded waits until the container's monitor recorded its exit (or
// is gone), so that a command after stop finds it exited.
func (in *Info) waitRecorded(limit time.Duration) {
	if !in.hasRun {
		return
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(in.run.Dir, "exit")); err == nil {
			return
		}
		if !state.MonitorAlive(in.run.Dir) {
			return
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// waitFD waits for fd (a pidfd) to be readable, that is for the process to
// exit: timeout < 0 waits for ever. It reports whether it did.
func waitFD(fd int, timeout time.Duration) bool {
	ms := -1
	if timeout >= 0 {
		ms = int(timeout / time.Millisecond)
	}
	deadline := time.Now().Add(timeout)
	for {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(p, ms)
		if err == nil {
			return n > 0
		}
		if err != unix.EINTR {
			return false
		}
		if timeout >= 0 {
			if ms = int(time.Until(deadline) / time.Millisecond); ms < 0 {
				return false
			}
		}
	}
}

// Cleanup undoes a finished run at once (the monitor's last act, `container
// cleanup ID`): what the garbage collector would do later.
func Cleanup(st *store.Store, id string) error {
	if !state.Cleanup(st, id) {
		return fmt.Errorf("container %s: its run is still in use", shortID(id))
	}
	removeProxySockets(id)
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ErrRunning is Podman's "container state improper": a container is
// running where it must not (rm without force), or is not where it must
// (exec).
var ErrRunning = errors.New("container state improper")

// Remove removes the container: its run (killed first with force, refused
// without while it runs) and, for a kept one, its storage container.
func Remove(st *store.Store, in *Info, force bool) error {
	if in.Running() {
		if !force {
			return hint.Wrap(fmt.Errorf("cannot remove container %s as it is running - running or paused containers cannot be removed without force: %w", in.ID, ErrRunning),
				"stop it first (crun-lite stop "+in.Name+") or remove it with rm -f")
		}
		in.StopSignal = unix.SIGKILL
		if err := in.Stop(0); err != nil {
			return err
		}
	}
	if in.hasRun {
		// Its monitor's cleanup, or ours: whichever takes the lock.
		deadline := time.Now().Add(10 * time.Second)
		for !state.Cleanup(st, in.run.ID) {
			if time.Now().After(deadline) {
				return fmt.Errorf("container %s: its run did not end", in.Name)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if in.Kept {
		if err := st.DeleteContainer(in.ID); err != nil && !errors.Is(err, store.ErrContainerUnknown) {
			return err
		}
	}
	return nil
}

// CheckName refuses a name another container has, naming --replace.
func CheckName(st *store.Store, name string) error {
	if name == "" {
		return nil
	}
	in, err := Lookup(st, name, true)
	if err != nil || in.Name != name {
		return nil
	}
	return hint.Wrap(fmt.Errorf("the container name %q is already in use by %s: %w", name, in.ID, store.ErrNameInUse),
		"remove that container (crun-lite rm -f "+name+"), choose another --name, or pass --replace")
}

// Size is what ps --size shows, as Podman does: the bytes the container
// wrote (its writable layer, a --rm run's upper dir in its run dir) and the
// size of the root filesystem its image gives it.
func (in *Info) Size(st *store.Store) (rw, rootfs int64, err error) {
	if in.Kept {
		return st.ContainerSize(in.ID, in.ImageID)
	}
	if in.hasRun {
		// Counted as storage counts a layer's diff (DiffSize).
		rw, _ = directory.Size(filepath.Join(in.run.Dir, "upper"))
	}
	return rw, st.RootfsSize(in.ImageID), nil
}

// WaitIdle waits up to limit until no run of st is live: the monitors of
// containers just removed, and their cleanups, are done with the store.
func WaitIdle(st *store.Store, limit time.Duration) {
	for deadline := time.Now().Add(limit); state.Running(st) > 0 && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
}
