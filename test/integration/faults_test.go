//go:build integration

package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
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
	var want bytes.Buffer
	var paths []string
	for p, data := range files {
		paths = append(paths, "/"+p)
		fmt.Fprintf(&want, "%x  /%s\n", sha256.Sum256(data), p)
	}
	args := append([]string{"run", "--rm", image, "sha256sum"}, paths...)
	out := mustCrunIn(t, s, args...).Stdout
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

// TestPullInterrupted: pulls killed at random moments (SIGKILL, SIGTERM,
// SIGINT) leave a store on which images works, the next pull of the same
// image succeeds, and the image runs with its files intact.
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
	for i := range 9 {
		sig := signals[i%len(signals)]
		after := time.Duration(rand.Int64N(int64(full)))
		cmd, done := startCrun(t, s, "pull", "-q", "--tls-verify=false", image)
		time.Sleep(after)
		_ = cmd.Process.Signal(sig)
		code := waitExit(t, cmd, done)
		t.Logf("%v after %v: exit %d", sig, after.Round(time.Millisecond), code)
		imgs := listImages(t, s) // a consistent store answers
		if len(imgs) > 1 {
			t.Fatalf("more than one image: %+v", imgs)
		}
		if len(imgs) == 1 {
			// The pull finished before the signal: the image must be whole.
			checkLayersImage(t, s, image, files)
			mustCrunIn(t, s, "rmi", image)
		}
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
	small := filepath.Join(TestData, "smallfs")
	if fi, err := os.Stat(small); err != nil || !fi.IsDir() || syscall.Access(small, 2) != nil {
		t.Skipf("no writable %s: run hack/test-setup.sh (it mounts a small tmpfs there)", small)
	}
	env := privateHolder(t)
	base, err := os.MkdirTemp(small, "store-")
	if err != nil {
		t.Fatal(err)
	}
	s := store{Root: base + "/root", RunRoot: t.TempDir()}
	t.Cleanup(func() {
		crunInEnv(t, s, env, "system", "reset", "-f")
		removeStoreDir(t, base)
	})
	run := func(args ...string) result {
		t.Helper()
		r := crunInEnv(t, s, env, args...)
		if r.Code != 0 {
			t.Fatalf("crun-lite %s: %s", strings.Join(args, " "), r)
		}
		return r
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

// privateHolder gives the crun-lite commands run with the returned
// environment a user-namespace holder of their own (through their own
// XDG_RUNTIME_DIR), made now: the test user's shared holder may predate
// mounts that hack/test-setup.sh made since, which its mount namespace does
// not see. The holder is killed when the test ends.
func privateHolder(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		data, _ := os.ReadFile(filepath.Join(dir, "crun-lite", "userns.pid"))
		var pid int
		if _, err := fmt.Sscanf(string(data), "%d", &pid); err == nil && pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
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

// TestSystemReset: reset asks unless -f and empties the store.
func TestSystemReset(t *testing.T) {
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	if r := crunIn(t, s, "system", "reset"); r.Code != 125 || !strings.Contains(r.Stderr, "-f") {
		t.Errorf("reset without -f and without a terminal: want a refusal naming -f: %s", r)
	}
	if imgs := listImages(t, s); len(imgs) != 1 {
		t.Errorf("a refused reset removed images")
	}
	mustCrunIn(t, s, "system", "reset", "-f")
	for _, dir := range []string{s.Root, s.RunRoot} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), "userns.") { // the holder's, and storage's lock of that name
				t.Errorf("reset left %s in %s", e.Name(), dir)
			}
		}
	}
	if imgs := listImages(t, s); len(imgs) != 0 {
		t.Errorf("images after reset: %+v", imgs)
	}
}
