package state

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/crun-lite/crun-lite/store"
)

// vfsStore opens a store that needs nothing from the host: the garbage
// collector only reads and removes run dirs in it.
func vfsStore(t *testing.T) *store.Store {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenLazy(store.Options{GraphRoot: dir + "/root", RunRoot: dir + "/runroot", Driver: "vfs"})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A run dir must be whole and locked by its creator from the moment the
// garbage collector of another command can see it: one collected between
// its creation and its lock loses its merged/ and etc/ under a live run.
func TestRunDirCreationRacesGC(t *testing.T) {
	st := vfsStore(t)
	stop := make(chan struct{})
	var gc sync.WaitGroup
	for range 2 {
		gc.Add(1)
		go func() {
			defer gc.Done()
			for {
				select {
				case <-stop:
					return
				default:
					CollectGarbage(st)
				}
			}
		}()
	}
	var runs sync.WaitGroup
	errs := make(chan string, 4)
	for range 4 {
		runs.Add(1)
		go func() {
			defer runs.Done()
			for range 100 {
				rd, err := Create(st.RunsDir(), NewID(), Record{Image: "img"})
				if err != nil {
					errs <- err.Error()
					return
				}
				_, statErr := os.Stat(rd.Join("etc"))
				owned := isFile(rd.Join("lock"), rd.lock)
				_ = os.RemoveAll(rd.Path) // under the lock, as remove does
				rd.lock.Close()
				if statErr != nil || !owned {
					errs <- "run dir collected under its creator: " + filepath.Base(rd.Path)
					return
				}
			}
		}()
	}
	runs.Wait()
	close(stop)
	gc.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// A run dir left half made by a crash (before it got its name) is
// collected once it is old, and never while it may still be in the making.
func TestGCRemovesOldUnfinishedRunDirs(t *testing.T) {
	st := vfsStore(t)
	if err := os.MkdirAll(st.RunsDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(st.RunsDir(), newRunPrefix+"fresh")
	old := filepath.Join(st.RunsDir(), newRunPrefix+"old")
	for _, d := range []string{fresh, old} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	CollectGarbage(st)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("an old unfinished run dir was kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a run dir in the making was removed: %v", err)
	}
}

// The record in the lock file is what later commands read to find a
// running container: it must round-trip with every field.
func TestRecordSaved(t *testing.T) {
	want := Record{Image: "img", MonitorPid: os.Getpid(), Pid: 42, PidStart: 7, ControlSocket: "/c.sock", SpecPath: "/spec.json", Volumes: []string{"v"}}
	rd, err := Create(t.TempDir(), NewID(), Record{Image: "img"})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Remove()
	rd.State = want
	if err := rd.Save(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(rd.Join("lock"))
	if err != nil {
		t.Fatal(err)
	}
	var got Record
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("saved %+v, read back %+v", want, got)
	}
}
