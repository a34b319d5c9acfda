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
	eachRecord(st, func(id, dir string, r Record) {
		if monitorAlive(dir) {
			runs[id] = r
		}
	})
	return runs
}

// eachRecord calls fn with the saved state of every run dir, live or not.
func eachRecord(st *store.Store, fn func(id, dir string, r Record)) {
	entries, _ := os.ReadDir(st.RunsDir())
	for _, e := range entries {
		// The trash, and run dirs in the making (see Create): the
		// run holds storage's read locks until its dir has its name.
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(st.RunsDir(), e.Name())
		var r Record
		if b, err := os.ReadFile(filepath.Join(dir, "lock")); err == nil && decodeRecord(b, &r) == nil {
			fn(e.Name(), dir, r)
		}
	}
}

func decodeRecord(b []byte, r *Record) error { return json.Unmarshal(b, r) }

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
