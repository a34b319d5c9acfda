package state

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/store"
)

// LiveImages reports, for rmi and prune, the images that running
// containers use: --rm runs mount image layers without a storage container,
// so only their run dirs (locked by a live monitor, the image ID in their
// state) tell the store that a layer is in use.
func LiveImages(st *store.Store) store.Busy {
	live := map[string][]string{}
	for id, state := range liveRuns(st) {
		if state.Image != "" {
			live[state.Image] = append(live[state.Image], shortRunID(id))
		}
	}
	return func(imageID string) []string { return live[imageID] }
}

// Running counts the containers running now: every run whose monitor is
// alive, kept or --rm (which the store never records).
func Running(st *store.Store) int { return len(liveRuns(st)) }

// liveRuns returns the state of every run whose monitor is alive, by run ID.
func liveRuns(st *store.Store) map[string]Record {
	runs := map[string]Record{}
	entries, _ := os.ReadDir(st.RunsDir())
	for _, e := range entries {
		// The trash, and run dirs in the making (see Create): the
		// run holds storage's read locks until its dir has its name.
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(st.RunsDir(), e.Name())
		var state Record
		b, err := os.ReadFile(filepath.Join(dir, "lock"))
		if err != nil || json.Unmarshal(b, &state) != nil || !monitorAlive(dir) {
			continue
		}
		runs[e.Name()] = state
	}
	return runs
}

// monitorAlive tells whether a monitor holds the run dir's lock.
func monitorAlive(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "lock"))
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) != nil
}

// shortRunID is a run's ID as the container sees it: its hostname.
func shortRunID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
