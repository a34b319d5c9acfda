package state

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/crun-lite/crun-lite/store"
)

// Run is one run dir as a later command sees it.
type Run struct {
	ID     string
	Dir    string
	Record Record
	// Live: a monitor holds its lock (the container runs, or is ending).
	Live bool
	// Exit is what a detached container's monitor recorded (ExitOK).
	Exit   Exit
	ExitOK bool
}

// Runs lists every run dir with its record, live or not yet collected.
func Runs(st *store.Store) []Run {
	var out []Run
	eachRecord(st, func(id, dir string, r Record) {
		run := Run{ID: id, Dir: dir, Record: r, Live: monitorAlive(dir)}
		run.Exit, run.ExitOK = ReadExit(dir)
		out = append(out, run)
	})
	return out
}

// RunOf returns the run dir of container id, if it has one.
func RunOf(st *store.Store, id string) (Run, bool) {
	if id == "" || strings.ContainsAny(id, "/") || strings.HasPrefix(id, ".") {
		return Run{}, false
	}
	dir := filepath.Join(st.RunsDir(), id)
	b, err := os.ReadFile(filepath.Join(dir, "lock"))
	if err != nil {
		return Run{}, false
	}
	run := Run{ID: id, Dir: dir, Live: monitorAlive(dir)}
	if decodeRecord(b, &run.Record) != nil {
		return Run{}, false
	}
	run.Exit, run.ExitOK = ReadExit(dir)
	return run, true
}

// MonitorAlive reports whether a monitor still holds dir's lock.
func MonitorAlive(dir string) bool { return monitorAlive(dir) }
