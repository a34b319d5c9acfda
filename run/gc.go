package run

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/store"
)

// CollectGarbage removes what crashed runs left behind: run dirs whose lock
// no monitor holds, the fuse-overlayfs mounts recorded in them, and the
// temporary storage containers of --rm runs on vfs. It returns how many run
// dirs it removed. It is cheap when nothing is left (one readdir) and runs
// at the start of every command that touches the store.
func CollectGarbage(st *store.Store) int {
	entries, err := os.ReadDir(st.RunsDir())
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if e.Name() == trashDir {
			emptyTrash(filepath.Join(st.RunsDir(), trashDir))
			continue
		}
		if collectRun(st, filepath.Join(st.RunsDir(), e.Name())) {
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

func collectRun(st *store.Store, path string) bool {
	lock, err := os.OpenFile(filepath.Join(path, "lock"), os.O_RDWR|unix.O_CLOEXEC, 0)
	if err == nil {
		defer lock.Close()
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			return false // a live monitor owns it
		}
	} else if !os.IsNotExist(err) || recent(path) {
		return false // or a monitor is between mkdir and flock
	}
	var state runState
	if b, err := os.ReadFile(filepath.Join(path, "lock")); err == nil {
		_ = json.Unmarshal(b, &state)
	}
	if state.FuseMounted {
		_ = unix.Unmount(filepath.Join(path, "merged"), unix.MNT_DETACH)
	}
	if state.TempContainer != "" {
		st.UnmountContainer(state.TempContainer)
		_ = st.DeleteContainer(state.TempContainer)
	}
	return os.RemoveAll(path) == nil
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
