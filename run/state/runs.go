package state

import (
	"encoding/json"
	"fmt"
	"io"
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

// SetName renames a run in its Record (rename of a running container).
// The record lives in the lock file its monitor holds, which saves it
// again only while the container starts and when the store refuses its
// exit: a rename is kept, as the next Save of the monitor would rewrite it
// with its own copy only then.
func SetName(run Run, name string) error {
	f, err := os.OpenFile(filepath.Join(run.Dir, "lock"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("rename container: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("rename container: %w", err)
	}
	var r Record
	if err := decodeRecord(b, &r); err != nil {
		return fmt.Errorf("rename container: its record: %w", err)
	}
	r.Name = name
	nb, _ := json.Marshal(r)
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("rename container: %w", err)
	}
	if _, err := f.WriteAt(nb, 0); err != nil {
		return fmt.Errorf("rename container: %w", err)
	}
	return nil
}
