//go:build integration

package integration

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Load: many commands at once on one store. Each either succeeds or fails
// with one clear line, and the store is whole afterwards
// (checkStoreAfterCrash: images runnable, no run dir, mount or process
// left).

// clearFailure reports whether r failed as a user may be told: crun-lite's
// exit code for its own errors and an "Error: " line.
func clearFailure(r result) bool {
	return r.Code == 125 && strings.HasPrefix(r.Stderr, "Error: ")
}

func parallel(n int, fn func(i int) result) []result {
	out := make([]result, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = fn(i)
		}()
	}
	wg.Wait()
	return out
}

// 100 concurrent run --rm, on the default network (the hub's pool of
// namespaces runs dry and is refilled) and on none.
func TestLoadConcurrentRuns(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	rs := parallel(100, func(i int) result {
		args := []string{"run", "--rm", image, "sh", "-c", fmt.Sprintf("echo run-%d", i)}
		if i%2 == 1 {
			args = append([]string{"run", "--rm", "--network", "none"}, args[2:]...)
		}
		return crunIn(t, s, args...)
	})
	for i, r := range rs {
		if r.Code != 0 || r.Stdout != fmt.Sprintf("run-%d\n", i) {
			t.Errorf("run %d of 100 at once:\n%s", i, r)
		}
	}
	checkStoreAfterCrash(t, s, image)
}

// 10 concurrent pulls: five of one image, five of another, into one store.
func TestLoadConcurrentPulls(t *testing.T) {
	addr, _, _ := ownRegistry(t, "")
	files := multiLayerImage(t, addr, "test/load", 4, 1<<20)
	images := []string{Registry + "/test/busybox:latest", addr + "/test/load:latest"}
	s := testStore(t)
	rs := parallel(10, func(i int) result {
		return crunIn(t, s, "pull", "-q", "--tls-verify=false", images[i%2])
	})
	for i, r := range rs {
		if r.Code != 0 || r.Stdout != rs[i%2].Stdout {
			t.Errorf("pull %d (%s) of 10 at once: want success and the ID of the others:\n%s", i, images[i%2], r)
		}
	}
	if imgs := listImages(t, s); len(imgs) != 2 {
		t.Errorf("want two images: %+v", imgs)
	}
	checkLayersImage(t, s, images[1], files)
	checkStoreAfterCrash(t, s, images[0])
}

// Runs of an image while rmi -f removes it: every run either runs the
// image or fails clearly, and the image is gone afterwards or whole. rmi
// -f never kills a running container (unlike Podman's): while a run uses
// the image it refuses, exit 2, naming it.
func TestLoadRunWhileRmi(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	mustCrunIn(t, s, "run", "--name", "user", image, "true") // rmi -f removes it too
	rs := parallel(11, func(i int) result {
		if i == 5 {
			return crunIn(t, s, "rmi", "-f", image)
		}
		return crunIn(t, s, "run", "--rm", "--network", "none", image, "echo", "ran")
	})
	for i, r := range rs {
		switch {
		case i == 5 && r.Code != 0 && !(r.Code == 2 && strings.Contains(r.Stderr, "stop it first")):
			t.Errorf("rmi -f while runs use the image:\n%s", r)
		case i != 5 && !(r.Code == 0 && r.Stdout == "ran\n") && !clearFailure(r):
			t.Errorf("run %d while rmi -f removes its image: neither ran nor failed clearly:\n%s", i, r)
		}
	}
	if r := crunIn(t, s, "ps", "-a", "--format", "{{.Names}}"); r.Code != 0 || (rs[5].Code == 0 && strings.Contains(r.Stdout, "user")) {
		t.Errorf("rmi -f left the container of the image:\n%s", r)
	}
	if rs[5].Code == 0 {
		image = loadBusybox(t, s) // gone: the check runs it
	}
	checkStoreAfterCrash(t, s, image)
	if rs[5].Code != 0 {
		// Once the runs are done, it goes.
		mustCrunIn(t, s, "rmi", "-f", image)
	}
}

// system reset while detached containers run: they are stopped and
// removed with everything else, and the store is usable again.
func TestLoadResetWhileRunning(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	for i := 0; i < 5; i++ {
		detach(t, s, "--name", fmt.Sprintf("busy%d", i), image, "sleep", "1000")
	}
	detach(t, s, "--rm", image, "sleep", "1000")
	rs := parallel(3, func(i int) result {
		switch i {
		case 0:
			return crunIn(t, s, "system", "reset", "-f")
		case 1:
			return crunIn(t, s, "ps", "-a")
		}
		return crunIn(t, s, "run", "--rm", "--network", "none", image, "true")
	})
	if rs[0].Code != 0 {
		t.Errorf("system reset while containers run:\n%s", rs[0])
	}
	for _, r := range rs[1:] {
		if r.Code != 0 && !clearFailure(r) {
			t.Errorf("a command during system reset: neither worked nor failed clearly:\n%s", r)
		}
	}
	if m := monitors(t, s); len(m) != 0 {
		t.Errorf("monitors left after system reset: %v", m)
	}
	if out := mustCrunIn(t, s, "ps", "-a", "-q").Stdout; out != "" {
		t.Errorf("containers left after system reset:\n%s", out)
	}
	if out := mustCrunIn(t, s, "images", "-q").Stdout; out != "" {
		t.Errorf("images left after system reset:\n%s", out)
	}
	checkStoreAfterCrash(t, s, loadBusybox(t, s))
}
