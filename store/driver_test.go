package store

import (
	"os"
	"sync"
	"testing"
)

// TestRememberDriverAtomic: a command reading the driver record while
// another writes it (the first commands on a new store) finds a whole
// record, never a truncated one.
func TestRememberDriverAtomic(t *testing.T) {
	root := t.TempDir()
	choices := []DriverChoice{
		{Name: "overlay", Reason: "native overlay: kernel test mounts overlay in user namespaces", Volatile: true},
		{Name: "overlay", Options: []string{"overlay.mount_program=/usr/bin/fuse-overlayfs"}, Reason: "fuse-overlayfs: native overlay refused"},
	}
	if err := rememberDriver(root, choices[0]); err != nil {
		t.Fatal(err)
	}
	const writes = 300
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range writes {
			if err := rememberDriver(root, choices[i%2]); err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
		}
	}()
	reads, bad := 0, 0
	for running := true; running; reads++ {
		select {
		case <-done:
			running = false
		default:
		}
		d, err := savedDriver(root)
		if err != nil || d.Name != "overlay" {
			bad++
			if bad == 1 {
				t.Errorf("read %d during writes: %+v, %v", reads, d, err)
			}
		}
	}
	wg.Wait()
	if bad > 0 {
		t.Errorf("%d of %d reads found a partial record", bad, reads)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != driverFile {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("want only %s in the graph root, found %v", driverFile, names)
	}
}
