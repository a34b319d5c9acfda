package state

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/store"
)

// CollectGarbage removes what crashed runs left behind: run dirs whose lock
// no monitor holds, the fuse-overlayfs mounts recorded in them, and the
// temporary storage containers of --rm runs on vfs; a kept container whose
// monitor was killed is marked exited. It returns how many run dirs it
// removed. It is cheap when nothing is left (one readdir) and runs at the
// start of every command that touches the store.
func CollectGarbage(st *store.Store) int {
	entries, err := os.ReadDir(st.RunsDir())
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		path := filepath.Join(st.RunsDir(), e.Name())
		switch {
		case e.Name() == trashDir:
			emptyTrash(path)
		case strings.HasPrefix(e.Name(), newRunPrefix):
			// Renamed to its ID within microseconds unless its maker died.
			if !recent(path) && os.RemoveAll(path) == nil {
				n++
			}
		case strings.HasPrefix(e.Name(), "."):
			// not a run dir
		case collectRun(st, path):
			n++
		}
	}
	return n
}

// emptyTrash deletes what a detached rm left (it was killed, or the machine
// went down): anything older than a minute, so as not to race a live one.
func emptyTrash(trash string) {
	entries, _ := os.ReadDir(trash)
	for _, e := range entries {
		if p := filepath.Join(trash, e.Name()); !recent(p) {
			_ = os.RemoveAll(p)
		}
	}
}

// collectRun removes the run dir at path unless a live monitor holds its
// lock, after undoing what its state records: a run dir appears under its
// ID locked (see Create), so an unlocked one belongs to a dead run.
func collectRun(st *store.Store, path string) bool {
	lock, err := os.OpenFile(filepath.Join(path, "lock"), os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		// No lock file: not made by Create (an older crun-lite, or
		// a stray dir); leave it a minute in case its maker is alive.
		return os.IsNotExist(err) && !recent(path) && os.RemoveAll(path) == nil
	}
	defer lock.Close()
	if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false // a live monitor owns it
	}
	if !isFile(filepath.Join(path, "lock"), lock) {
		return false // its monitor finished and moved it to the trash
	}
	var state Record
	if b, err := io.ReadAll(lock); err == nil {
		_ = json.Unmarshal(b, &state)
	}
	if e, ok := ReadExit(path); ok {
		state.ExitCode, state.finished = &e.Code, e.Finished
	}
	if !undo(st, path, state) {
		return false // a status it could not record yet: next time
	}
	// Out of every listing at once: a reader must never see the dir half
	// deleted (its exit file gone, its lock not yet).
	trash := filepath.Join(st.RunsDir(), trashDir)
	if os.MkdirAll(trash, 0o700) == nil {
		dst := filepath.Join(trash, filepath.Base(path))
		if os.Rename(path, dst) == nil {
			path = dst
		}
	}
	return os.RemoveAll(path) == nil
}

// undo reverts what a dead run's state says it left: its fuse mount, the
// temporary storage container of a --rm run on vfs, and the status and
// mount of a kept container, which its monitor did not live to record.
// It reports false when the kept container's status could not be saved
// (a full disk): the dir stays, so that a later collection records it.
func undo(st *store.Store, path string, state Record) bool {
	if state.FuseMounted {
		_ = unix.Unmount(filepath.Join(path, "merged"), unix.MNT_DETACH)
	}
	if state.TempContainer != "" {
		st.UnmountContainer(state.TempContainer)
		_ = st.DeleteContainer(state.TempContainer)
	}
	if state.Container != "" {
		st.UnmountContainer(state.Container)
		return markExited(st, state.Container, state.ExitCode, state.finished)
	}
	return true
}

// Cleanup collects the run id at once, as the garbage collector would once
// its monitor is gone: the detached monitor's last act (`container
// cleanup`). It reports whether the run dir is gone.
func Cleanup(st *store.Store, id string) bool {
	if id == "" || strings.ContainsAny(id, "/.") {
		return false
	}
	path := filepath.Join(st.RunsDir(), id)
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return true
	}
	return collectRun(st, path)
}

// markExited records a kept container whose monitor is gone as exited:
// with the code the monitor saw when it recorded one (it exited but could
// not save the status), else with 128+SIGKILL: the kernel kills the
// container's first process when its monitor dies (PR_SET_PDEATHSIG in
// run/spawn/spawn.c), so that is how it ended. It reports false when the
// status could not be saved.
func markExited(st *store.Store, id string, code *int, finished time.Time) bool {
	ci, err := st.Container(id)
	if errors.Is(err, store.ErrContainerUnknown) || (err == nil && ci.Status != "running") {
		return true // removed already, or it never started
	}
	if err != nil {
		return false // a store that cannot be read now (a full disk): later
	}
	ci.Status, ci.ExitCode = "exited", 128+int(unix.SIGKILL)
	if code != nil {
		ci.ExitCode = *code
	}
	ci.Finished = finished
	if ci.Finished.IsZero() {
		ci.Finished = time.Now()
	}
	return st.SaveContainer(ci) == nil
}

// LiveContainers reports which kept containers run now: those of a live
// monitor's run dir. The store's status says "running" from the start to
// the end of a run and may outlive it (a monitor killed, a disk too full to
// record the exit): this is the truth ps and rm go by.
func LiveContainers(st *store.Store) map[string]bool {
	live := map[string]bool{}
	for _, r := range liveRuns(st) {
		if r.Container != "" {
			live[r.Container] = true
		}
	}
	return live
}

// PendingExits are the exit codes of kept containers that a finished
// monitor could not save in the store (a full disk), by container ID, from
// the run dirs it left for the garbage collector: in the record (the
// foreground run's) or the exit file (a monitor's, run/monitor).
func PendingExits(st *store.Store) map[string]int {
	codes := map[string]int{}
	eachRecord(st, func(_, dir string, r Record) {
		if r.Container == "" {
			return
		}
		if e, ok := ReadExit(dir); ok {
			codes[r.Container] = e.Code
		} else if r.ExitCode != nil {
			codes[r.Container] = *r.ExitCode
		}
	})
	return codes
}

// isFile reports whether path names the file open as f.
func isFile(path string, f *os.File) bool {
	var a, b unix.Stat_t
	return unix.Stat(path, &a) == nil && unix.Fstat(int(f.Fd()), &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino
}

func recent(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && time.Since(fi.ModTime()) < time.Minute
}

// VolumeUsers names the containers that use volume name: running ones
// (their run dirs are locked by a live monitor) and kept ones.
func VolumeUsers(st *store.Store, name string) ([]string, error) {
	var users []string
	for id, state := range liveRuns(st) {
		if slices.Contains(state.Volumes, name) {
			users = append(users, shortRunID(id))
		}
	}
	cs, err := st.Containers()
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if slices.Contains(c.Volumes, name) && !slices.Contains(users, c.ID[:12]) {
			users = append(users, c.Name)
		}
	}
	return users, nil
}
