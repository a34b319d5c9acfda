//go:build integration

package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// checkLayersImage checks that image runs and holds files (path ->
// content) intact.
func checkLayersImage(t *testing.T, s store, image string, files map[string][]byte) {
	t.Helper()
	checkLayersImageEnv(t, s, nil, image, files)
}

// checkLayersImageEnv is checkLayersImage with env added to crun-lite's
// environment.
func checkLayersImageEnv(t *testing.T, s store, env []string, image string, files map[string][]byte) {
	t.Helper()
	var want bytes.Buffer
	var paths []string
	for p, data := range files {
		paths = append(paths, "/"+p)
		fmt.Fprintf(&want, "%x  /%s\n", sha256.Sum256(data), p)
	}
	args := append([]string{"run", "--rm", image, "sha256sum"}, paths...)
	r := crunInEnv(t, s, env, args...)
	if r.Code != 0 {
		t.Fatalf("crun-lite %s: %s", strings.Join(args, " "), r)
	}
	out := r.Stdout
	for _, line := range strings.Split(strings.TrimSpace(want.String()), "\n") {
		if !strings.Contains(out, line) {
			t.Errorf("file content differs: want %q in\n%s", line, out)
		}
	}
}

// scratchLeft lists what is left in the store's scratch and staging areas.
func scratchLeft(t *testing.T, s store) []string {
	t.Helper()
	var left []string
	for _, dir := range []string{"crun-lite-tmp", "overlay/staging", "overlay/tempdirs"} {
		entries, _ := os.ReadDir(filepath.Join(s.Root, dir))
		for _, e := range entries {
			left = append(left, dir+"/"+e.Name())
		}
	}
	return left
}

// TestPullInterrupted: pulls killed at moments spread over a whole pull
// (SIGKILL, SIGTERM, SIGINT), and once more for each signal just as the
// image record appears in the store (containers/image writes it before its
// name), leave a store on which images works and lists no half-written
// image; after each, the next pull of the same image succeeds, cleans up
// what the killed one left, and the image runs with its files intact.
func TestPullInterrupted(t *testing.T) {
	addr, _, _ := ownRegistry(t, "")
	files := multiLayerImage(t, addr, "test/interrupted", 6, 4<<20)
	image := addr + "/test/interrupted:latest"
	s := testStore(t)
	// How long a whole pull takes here, to spread the kills over it.
	start := time.Now()
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	full := time.Since(start)
	mustCrunIn(t, s, "rmi", image)

	signals := []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT}
	const spread = 9
	for i := range spread + len(signals) {
		sig := signals[i%len(signals)]
		cmd, done := startCrun(t, s, "pull", "-q", "--tls-verify=false", image)
		when := ""
		if i < spread {
			// From the start to just past the end of a pull.
			after := full * time.Duration(i) / (spread - 2)
			time.Sleep(after)
			when = fmt.Sprintf("after %v", after.Round(time.Millisecond))
		} else {
			when = "as the image record appeared"
			if !waitImageRecord(s, done) {
				when = "after the pull ended"
			}
		}
		_ = cmd.Process.Signal(sig)
		code := waitExit(t, cmd, done)
		t.Logf("%v %s: exit %d", sig, when, code)
		imgs := listImages(t, s) // a consistent store answers
		if len(imgs) > 1 {
			t.Fatalf("more than one image: %+v", imgs)
		}
		if len(imgs) == 1 {
			// The pull finished before the signal: the image must be whole,
			// named, and run by that name.
			if len(imgs[0].Names) == 0 || imgs[0].Digest == "" {
				t.Fatalf("%v %s (exit %d) left a half-written image: %+v", sig, when, code, imgs[0])
			}
			checkLayersImage(t, s, image, files)
		}
		// The next pull succeeds and leaves neither the killed pull's
		// scratch dir nor storage's staging dirs, and the image runs whole.
		if r := crunIn(t, s, "pull", "-q", "--tls-verify=false", image); r.Code != 0 {
			t.Fatalf("pull after %v: %s", sig, r)
		}
		if left := scratchLeft(t, s); len(left) != 0 {
			t.Errorf("after %v, the next pull left scratch files: %v", sig, left)
		}
		checkLayersImage(t, s, image, files)
		mustCrunIn(t, s, "rmi", image)
	}
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	checkLayersImage(t, s, image, files)
	mustCrunIn(t, s, "image", "prune", "-f") // takes the layers of killed pulls
	if left := scratchLeft(t, s); len(left) != 0 {
		t.Errorf("scratch files of killed pulls remain: %v", left)
	}
	if layers := storeLayers(t, s); len(layers) != 7 {
		t.Errorf("want the image's 7 layers in the store, found %d:\n%s", len(layers), strings.Join(layers, "\n"))
	}
}

// waitImageRecord waits until the store's images.json holds an image (the
// first of containers/image's writes of it, before its name), polling
// faster than those writes follow each other; false when the pull ended
// first.
func waitImageRecord(s store, done chan struct{}) bool {
	path := filepath.Join(s.Root, "overlay-images", "images.json")
	for {
		select {
		case <-done:
			return false
		default:
		}
		var imgs []json.RawMessage
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &imgs) == nil && len(imgs) > 0 {
			return true
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestLayerWhiteouts: files a layer deletes (whiteouts, opaque
// directories) are gone from the container, on every store kind.
func TestLayerWhiteouts(t *testing.T) {
	addr, _, _ := ownRegistry(t, "")
	l := newOCILayout(t)
	lower := layerOf(t, map[string][]byte{"etc/gone": []byte("x"), "etc/kept": []byte("k"),
		"opaque/": nil, "opaque/old": []byte("o")})
	upper := layerOf(t, map[string][]byte{"etc/.wh.gone": nil, "opaque/": nil,
		"opaque/.wh..wh..opq": nil, "opaque/new": []byte("n")})
	push(t, l.tag(l.image(runtime.GOARCH, []testLayer{busyboxLayer(t), lower, upper})), addr, "test/whiteouts")
	image := addr + "/test/whiteouts"
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			s := testStore(t)
			s.Extra = k.extra
			mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
			out := mustCrunIn(t, s, "run", "--rm", image, "sh", "-c", "ls /etc/gone /etc/kept /opaque 2>&1; true").Stdout
			if strings.Contains(out, "/etc/gone\n") || !strings.Contains(out, "/etc/kept") ||
				strings.Contains(out, "old") || !strings.Contains(out, "new") {
				t.Errorf("want /etc/gone and /opaque/old deleted, /etc/kept and /opaque/new present:\n%s", out)
			}
		})
	}
}

// TestPullResumes: after a pull was killed once some layers were in the
// store, the next pull takes those from the store and fetches the rest.
func TestPullResumes(t *testing.T) {
	addr, _, logPath := ownRegistry(t, "")
	files := multiLayerImage(t, addr, "test/resume", 6, 4<<20)
	image := addr + "/test/resume:latest"
	s := testStore(t)
	cmd, done := startCrun(t, s, "pull", "--tls-verify=false", image)
	deadline := time.Now().Add(time.Minute)
	for len(storeLayers(t, s)) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	waitExit(t, cmd, done)
	committed := len(storeLayers(t, s))
	if committed < 2 {
		t.Fatalf("no layer was committed before the kill")
	}
	if committed == 7 {
		t.Skip("the pull finished before the kill: nothing to resume")
	}
	// The registry logs a request when it ends: let those of the killed
	// pull end before counting.
	before := blobGets(t, logPath, "test/resume")
	for settle := time.Now().Add(5 * time.Second); time.Now().Before(settle); {
		time.Sleep(300 * time.Millisecond)
		n := blobGets(t, logPath, "test/resume")
		if n == before {
			break
		}
		before = n
	}
	r := mustCrunIn(t, s, "pull", "--tls-verify=false", image)
	if n := strings.Count(r.Stderr, "skipped: already exists"); n < committed {
		t.Errorf("%d layers were in the store, the next pull reused %d:\n%s", committed, n, r.Stderr)
	}
	// 7 layers and a config: the committed layers are not fetched again.
	if fetched := blobGets(t, logPath, "test/resume") - before; fetched > 8-committed {
		t.Errorf("the second pull fetched %d blobs, want at most %d", fetched, 8-committed)
	}
	checkLayersImage(t, s, image, files)
}

// TestConcurrentPulls: pulls of the same image at the same time all
// succeed and make one image.
func TestConcurrentPulls(t *testing.T) {
	addr, _, _ := ownRegistry(t, "")
	files := multiLayerImage(t, addr, "test/concurrent", 4, 2<<20)
	image := addr + "/test/concurrent:latest"
	s := testStore(t)
	var wg sync.WaitGroup
	results := make([]result, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = crunIn(t, s, "pull", "-q", "--tls-verify=false", image)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 || r.Stdout != results[0].Stdout {
			t.Errorf("pull %d: want success and the same ID as the first: %s", i, r)
		}
	}
	if imgs := listImages(t, s); len(imgs) != 1 {
		t.Errorf("want one image: %+v", imgs)
	}
	if layers := storeLayers(t, s); len(layers) != 5 {
		t.Errorf("want 5 layers, found:\n%s", strings.Join(layers, "\n"))
	}
	checkLayersImage(t, s, image, files)
}

// TestCorruptBlob: a layer whose content does not match its digest fails
// the pull with a digest error and leaves no image and no layer of it.
func TestCorruptBlob(t *testing.T) {
	addr, storage, _ := ownRegistry(t, "")
	l := newOCILayout(t)
	good, _ := randomLayer(t, "good", 1<<20)
	bad, _ := randomLayer(t, "bad", 1<<20)
	push(t, l.tag(l.image(runtime.GOARCH, []testLayer{good, bad})), addr, "test/corrupt")
	// Flip bytes in the middle of the stored blob: same size, other digest.
	badDigest := sha(bad.gz)[len("sha256:"):]
	path := filepath.Join(storage, "docker/registry/v2/blobs/sha256", badDigest[:2], badDigest, "data")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(data) / 2; i < len(data)/2+16; i++ {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	r := crunIn(t, s, "pull", "--tls-verify=false", addr+"/test/corrupt")
	if r.Code != 125 || !strings.Contains(r.Stderr, "digest mismatch") || !strings.Contains(r.Stderr, badDigest) {
		t.Errorf("want exit 125 with a digest error naming the blob: %s", r)
	}
	if imgs := listImages(t, s); len(imgs) != 0 {
		t.Errorf("a failed pull left an image: %+v", imgs)
	}
	for _, l := range storeLayers(t, s) {
		if strings.Contains(l, bad.diffID) {
			t.Errorf("the corrupt layer is in the store: %s", l)
		}
	}
	if left := scratchLeft(t, s); len(left) != 0 {
		t.Errorf("the failed pull left scratch files: %v", left)
	}
}

// TestFullDisk: a store on a small filesystem that fills up during a pull
// gives a clear error, and keeps what it had.
func TestFullDisk(t *testing.T) {
	requireDebian(t)
	s, env, _ := smallStore(t)
	s.Extra = noReserve // the full disk itself is tested here; TestReserveStopsLayerBomb tests the reserve
	run := func(args ...string) result {
		t.Helper()
		return mustCrunInEnv(t, s, env, args...)
	}
	run("pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	r := crunInEnv(t, s, env, "pull", "--tls-verify=false", Registry+"/test/debian")
	if r.Code != 125 || !strings.Contains(r.Stderr, "no space left on device") || !strings.Contains(r.Stderr, "hint:") {
		t.Fatalf("pull onto a full disk: want 125, 'no space left on device' and a hint: %s", r)
	}
	var imgs []imageJSON
	if err := json.Unmarshal([]byte(run("images", "--format", "json").Stdout), &imgs); err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Names[0] != Registry+"/test/busybox:latest" {
		t.Errorf("want only busybox left: %+v", imgs)
	}
	if left := scratchLeft(t, s); len(left) != 0 {
		t.Errorf("the failed pull left scratch files: %v", left)
	}
	if out := run("run", "--rm", "busybox", "echo", "still here").Stdout; out != "still here\n" {
		t.Errorf("run after the failed pull: %q", out)
	}
	run("rmi", "busybox")
	run("pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
}

// noReserve lets a copy fill the store's file system (see store/reserve.go).
var noReserve = []string{"--storage-opt", "crunlite.reserve=0"}

// smallStore makes a store on the small tmpfs that hack/test-setup.sh
// mounts, and returns it with the environment its commands need and the
// directory that holds it (for other files on the same filesystem).
func smallStore(t *testing.T) (s store, env []string, base string) {
	t.Helper()
	small := filepath.Join(TestData, "smallfs")
	if fi, err := os.Stat(small); err != nil || !fi.IsDir() || syscall.Access(small, 2) != nil {
		t.Skipf("no writable %s: run hack/test-setup.sh (it mounts a small tmpfs there)", small)
	}
	env = privateHolder(t)
	base, err := os.MkdirTemp(small, "store-")
	if err != nil {
		t.Fatal(err)
	}
	s = store{Root: base + "/root", RunRoot: t.TempDir()}
	t.Cleanup(func() {
		crunInEnv(t, s, env, "system", "reset", "-f")
		removeStoreDir(t, base)
	})
	return s, env, base
}

// fillDisk writes a file of n bytes at path: tmpfs keeps written zeros.
func fillDisk(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for n > 0 {
		w := min(n, int64(len(chunk)))
		if _, err := f.Write(chunk[:w]); err != nil {
			t.Fatalf("fill %s: %v", path, err)
		}
		n -= w
	}
}

// TestFullDiskKeepsFinishedLayers: a pull of a multi-layer image that fills
// the disk says what it kept, and it is so: the layers it finished stay,
// system df counts them unused, image prune removes them, and once there is
// room the next pull reuses them.
func TestFullDiskKeepsFinishedLayers(t *testing.T) {
	s, env, base := smallStore(t)
	s.Extra = noReserve
	addr, _, _ := ownRegistry(t, "")
	const layers, size = 10, 3 << 20
	files := multiLayerImage(t, addr, "test/big", layers, size)
	image := addr + "/test/big:latest"
	run := func(args ...string) result {
		t.Helper()
		return mustCrunInEnv(t, s, env, args...)
	}
	run("pull", "-q", "--tls-verify=false", Registry+"/test/busybox") // the big image's first layer
	filler := filepath.Join(base, "filler")
	// fill leaves room for about n layers.
	fill := func(n int64) {
		t.Helper()
		var fs syscall.Statfs_t
		if err := syscall.Statfs(base, &fs); err != nil {
			t.Fatal(err)
		}
		free := int64(fs.Bavail) * fs.Bsize
		if free < layers*size+8<<20 {
			t.Skipf("%d MiB free on %s: too little to pull the %d MiB image once the disk has room", free>>20, base, layers*size>>20)
		}
		fillDisk(t, filler, free-n*size)
	}
	failedPull := func() []string {
		t.Helper()
		r := crunInEnv(t, s, env, "pull", "--tls-verify=false", image)
		if r.Code != 125 || !strings.Contains(r.Stderr, "no space left on device") ||
			!strings.Contains(r.Stderr, "finished layers are kept for the next pull") ||
			!strings.Contains(r.Stderr, "image prune") || !strings.Contains(r.Stderr, "hint:") {
			t.Fatalf("pull onto a full disk: want 125, 'no space left on device' and what was kept: %s", r)
		}
		if ids := strings.Fields(run("images", "-q").Stdout); len(ids) != 1 {
			t.Errorf("want only busybox after the failed pull: %v", ids)
		}
		if left := scratchLeft(t, s); len(left) != 0 {
			t.Errorf("the failed pull left scratch files: %v", left)
		}
		kept := storeLayers(t, s)
		t.Logf("the pull that filled the disk kept %d layers, busybox's included", len(kept))
		return kept
	}
	// Layers download in parallel and share the room: when all of them
	// filled it before the first was whole, none is kept; try again with
	// more room, always less than the image needs.
	var kept []string
	for room := int64(layers / 2); ; room += 2 {
		fill(room)
		if kept = failedPull(); len(kept) >= 2 {
			break
		}
		if room+2 >= layers {
			t.Fatalf("no layer was finished before the disk filled, even with room for %d of %d: %v", room, layers, kept)
		}
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	}
	du := systemDF(t, s, env)
	if du.UnusedLayers.Total != len(kept)-1 || du.UnusedLayers.Reclaimable < int64(len(kept)-1)*size {
		t.Errorf("system df: want the %d finished layers as unused and reclaimable: %+v", len(kept)-1, du.UnusedLayers)
	}
	run("image", "prune", "-f")
	if left := storeLayers(t, s); len(left) != 1 {
		t.Errorf("image prune left %d layers, want busybox's only: %v", len(left), left)
	}
	if du := systemDF(t, s, env); du.UnusedLayers != (usageRow{}) {
		t.Errorf("system df after image prune: %+v", du.UnusedLayers)
	}

	kept = failedPull()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r := run("pull", "--tls-verify=false", image)
	if n := strings.Count(r.Stderr, "skipped: already exists"); n < len(kept) {
		t.Errorf("%d layers were kept, the pull with room reused %d:\n%s", len(kept), n, r.Stderr)
	}
	checkLayersImageEnv(t, s, env, image, files)
}

// privateHolder gives the crun-lite commands run with the returned
// environment a user-namespace holder of their own (through their own
// XDG_RUNTIME_DIR), made now: the test user's shared holder may predate
// mounts that hack/test-setup.sh made since, which its mount namespace does
// not see. The holder is killed when the test ends.
func privateHolder(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		for _, f := range []string{"userns.pid", "userns.single.pid"} {
			data, _ := os.ReadFile(filepath.Join(dir, "crun-lite", f))
			var pid int
			if _, err := fmt.Sscanf(string(data), "%d", &pid); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return []string{"XDG_RUNTIME_DIR=" + dir}
}

// TestDriverSwitch: asking for another driver on an existing store is
// refused with a clear message, and the store still works.
func TestDriverSwitch(t *testing.T) {
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	var info struct {
		Store struct {
			Driver       string `json:"driver"`
			DriverReason string `json:"driver_reason"`
			GraphRoot    string `json:"graph_root"`
			Images       int    `json:"images"`
			Layers       int    `json:"layers"`
		}
	}
	out := mustCrunIn(t, s, "info", "--format", "json").Stdout
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if info.Store.DriverReason == "" || info.Store.GraphRoot != s.Root || info.Store.Images != 1 || info.Store.Layers != 1 {
		t.Errorf("info: %+v\n%s", info.Store, out)
	}
	if text := mustCrunIn(t, s, "info").Stdout; !strings.Contains(text, "why: native overlay") {
		t.Errorf("info does not say why the driver was chosen:\n%s", text)
	}
	other := s
	other.Extra = []string{"--storage-driver", "vfs"}
	r := crunIn(t, other, "images")
	if r.Code != 125 || !strings.Contains(r.Stderr, "not vfs") || !strings.Contains(r.Stderr, "hint:") {
		t.Errorf("switching to vfs: want a refusal with a hint: %s", r)
	}
	if out := mustCrunIn(t, s, "run", "--rm", "busybox", "echo", "intact").Stdout; out != "intact\n" {
		t.Errorf("the store after the refused switch: %q", out)
	}

	// A store whose record of its driver is gone (or made by another tool)
	// keeps the driver its layers were made with.
	vfs := testStore(t)
	vfs.Extra = []string{"--storage-driver", "vfs"}
	mustCrunIn(t, vfs, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	if err := os.Remove(filepath.Join(vfs.Root, "crun-lite-driver.json")); err != nil {
		t.Fatal(err)
	}
	vfs.Extra = nil
	if imgs := listImages(t, vfs); len(imgs) != 1 {
		t.Errorf("the vfs store without its driver record lost its image: %+v", imgs)
	}
}

// TestSystemReset: reset asks on a terminal unless -f: an answer other than
// yes keeps the store (and is no error, as in Podman), yes empties it.
func TestSystemReset(t *testing.T) {
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	mustCrunIn(t, s, "run", "--name", "kept", "busybox", "true")
	if r := crunIn(t, s, "system", "reset"); r.Code != 125 || !strings.Contains(r.Stderr, "-f") {
		t.Errorf("reset without -f and without a terminal: want a refusal naming -f: %s", r)
	}
	if imgs := listImages(t, s); len(imgs) != 1 {
		t.Errorf("a refused reset removed images")
	}
	se := startSession(t, s, 24, 80, "system", "reset")
	se.expect(`deletes every image and container in ` + regexp.QuoteMeta(s.Root) + `.*\[y/N\] `)
	se.send("n\r")
	if code := se.exit(); code != 0 {
		t.Errorf("reset answered n: exit %d, want 0", code)
	}
	if imgs := listImages(t, s); len(imgs) != 1 {
		t.Errorf("reset answered n removed images: %+v", imgs)
	}
	if out := mustCrunIn(t, s, "run", "--rm", "busybox", "echo", "kept").Stdout; out != "kept\n" {
		t.Errorf("run after reset answered n: %q", out)
	}

	se = startSession(t, s, 24, 80, "system", "reset")
	se.expect(`\[y/N\] `)
	se.send("y\r")
	if code := se.exit(); code != 0 {
		t.Errorf("reset answered y: exit %d", code)
	}
	if left, err := os.ReadDir(s.Root); err != nil || len(left) != 0 {
		t.Errorf("reset answered y left the graph root with %v (%v)", left, err)
	}
	// The run root keeps only the namespace holder's files (userns.*).
	entries, _ := os.ReadDir(s.RunRoot)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "userns.") {
			t.Errorf("reset left %s in %s", e.Name(), s.RunRoot)
		}
	}
	if imgs := listImages(t, s); len(imgs) != 0 {
		t.Errorf("images after reset: %+v", imgs)
	}
	if ps := mustCrunIn(t, s, "ps", "-a", "-q").Stdout; ps != "" {
		t.Errorf("containers after reset: %q", ps)
	}
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	mustCrunIn(t, s, "system", "reset", "-f")
	if imgs := listImages(t, s); len(imgs) != 0 {
		t.Errorf("images after reset -f: %+v", imgs)
	}
}

// TestFullDiskInContainer: a container that fills the store's file system
// (its writable layer is there) or a tmpfs of its own gets ENOSPC like any
// program; crun-lite reports the command's exit code, cleans up after it,
// keeps what a kept container wrote before, and the store works again once
// the container is removed.
func TestFullDiskInContainer(t *testing.T) {
	s, env, _ := smallStore(t)
	run := func(args ...string) result {
		t.Helper()
		return crunInEnv(t, s, env, args...)
	}
	if r := run("pull", "-q", "--tls-verify=false", Registry+"/test/busybox"); r.Code != 0 {
		t.Fatal(r)
	}
	fill := "echo kept > /kept; dd if=/dev/zero of=/big bs=1M; echo dd=$?; test -s /kept"
	for _, rm := range []bool{true, false} {
		args := []string{"run", "--name", "filler"}
		if rm {
			args = []string{"run", "--rm"}
		}
		r := run(append(args, "busybox", "sh", "-c", fill)...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "dd=1") || !strings.Contains(r.Stderr, "No space left on device") {
			t.Errorf("rm=%v: a container filling the disk: want dd to fail with ENOSPC and the command's own exit 0: %s", rm, r)
		}
		if rm {
			// A kept container's run dir may stay: it holds the exit
			// status the full store could not take yet.
			assertNoRunDirs(t, s)
		}
	}
	if ps := run("ps", "-a").Stdout; !strings.Contains(ps, "filler") || !strings.Contains(ps, "Exited (0)") {
		t.Errorf("the kept container after filling the disk:\n%s", ps)
	}
	if r := run("rm", "filler"); r.Code != 0 {
		t.Errorf("rm of the container that filled the disk: %s", r)
	}
	if r := run("run", "--rm", "busybox", "echo", "room again"); r.Stdout != "room again\n" {
		t.Errorf("run once the space is back: %s", r)
	}
	assertNoRunDirs(t, s)
	r := run("run", "--rm", "--tmpfs", "/t:size=1m", "busybox", "sh", "-c", "dd if=/dev/zero of=/t/f bs=64k; echo dd=$?")
	if r.Code != 0 || !strings.Contains(r.Stdout, "dd=1") {
		t.Errorf("a full tmpfs in the container: %s", r)
	}
}
