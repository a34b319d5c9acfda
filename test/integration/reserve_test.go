//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sparseLayer makes a layer holding one file of size bytes at name, read
// from a sparse file (a hole, no data on disk) as tar and podman save do
// without --sparse: the tar holds every zero, and gzip shrinks them to
// about a thousandth.
func sparseLayer(t *testing.T, name string, size int64) testLayer {
	t.Helper()
	src, err := os.Create(filepath.Join(t.TempDir(), "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Truncate(size); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	diff := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, diff))
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(tw, src); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return testLayer{gz: gz.Bytes(), diffID: "sha256:" + hex.EncodeToString(diff.Sum(nil))}
}

// ociArchive writes the layout l, tagged top, as an oci-archive file.
func ociArchive(t *testing.T, l *ociLayout, top descriptor) string {
	t.Helper()
	l.tag(top)
	file := filepath.Join(t.TempDir(), "image.tar")
	if out, err := exec.Command("tar", "-C", l.dir, "-cf", file, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	return file
}

// blocksUnder is the space the files under dir take on disk (st_blocks).
func blocksUnder(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // removed while walking
		}
		var st syscall.Stat_t
		if syscall.Lstat(path, &st) == nil {
			n += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// layerDirs lists the layer directories of the store's driver.
func layerDirs(t *testing.T, s store, driver string) []string {
	t.Helper()
	dir := filepath.Join(s.Root, driver)
	if driver == "vfs" {
		dir = filepath.Join(dir, "dir")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// watchFree samples the free space of the file system at dir until the
// returned function is called, which returns the lowest seen.
func watchFree(t *testing.T, dir string) func() uint64 {
	t.Helper()
	stop := make(chan struct{})
	lowest := make(chan uint64)
	go func() {
		low := ^uint64(0)
		for {
			var fs syscall.Statfs_t
			if syscall.Statfs(dir, &fs) == nil {
				low = min(low, fs.Bavail*uint64(fs.Bsize))
			}
			select {
			case <-stop:
				lowest <- low
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(stop)
		return <-lowest
	}
}

// smallMount mounts a tmpfs of size bytes (real root only) and returns it.
func smallMount(t *testing.T, size string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "crl-reserve-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		os.Remove(dir)
		t.Skipf("mount a %s tmpfs: %v: %s", size, err, out)
	}
	t.Cleanup(func() {
		exec.Command("umount", "-l", dir).Run()
		os.Remove(dir)
	})
	return dir
}

// TestReserveStopsLayerBomb: an image whose 300 KiB layer unpacks to a
// 400 MiB file (sparse where it was archived; storage writes it out dense)
// is loaded into a store on a 300 MiB file system. The load stops before the
// file system drops below the reserve, exit 125 with an error that names the
// reserve and how to change it; nothing of it is kept (no image, no layer,
// the store takes the space it took before, no scratch left), and the next
// load of a small image works. With a reserve larger than the free space the
// load is refused at once; with crunlite.reserve=0 the load runs onto the
// full disk, as before there was a reserve. On overlay and on vfs, whose
// layers go different ways into storage. Real root: it mounts the file
// system.
func TestReserveStopsLayerBomb(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a small file system: runs as real root (make test-root)")
	}
	for _, driver := range []string{"overlay", "vfs"} {
		t.Run(driver, func(t *testing.T) { reserveStopsLayerBomb(t, driver) })
	}
}

func reserveStopsLayerBomb(t *testing.T, driver string) {
	base := smallMount(t, "300M")
	s := store{Root: filepath.Join(base, "root"), RunRoot: t.TempDir(), Extra: []string{"--storage-driver", driver}}
	t.Cleanup(func() { crunIn(t, s, "system", "reset", "-f") })

	bomb := newOCILayout(t)
	layer := sparseLayer(t, "big", 400<<20)
	t.Logf("layer: %d bytes of gzip for a %d MiB file", len(layer.gz), 400)
	bombFile := ociArchive(t, bomb, bomb.image(runtime.GOARCH, []testLayer{busyboxLayer(t), layer}))
	small := newOCILayout(t)
	smallFile := ociArchive(t, small, small.image(runtime.GOARCH, []testLayer{layerOf(t, map[string][]byte{"hello": []byte("hi\n")})}))

	mustCrunIn(t, s, "load", "-q", "-i", imagePath("busybox")+".tar")
	before := blocksUnder(t, s.Root)
	layersBefore := layerDirs(t, s, driver)

	var fsBefore syscall.Statfs_t
	if err := syscall.Statfs(base, &fsBefore); err != nil {
		t.Fatal(err)
	}
	lowest := watchFree(t, base)
	r := crunIn(t, s, "load", "-i", bombFile)
	t.Logf("load of the bomb: %s", r)
	const reserve = 15 << 20 // 5 % of 300 MiB
	if low := lowest(); low < reserve/2 {
		t.Errorf("the load left %d KiB free at its lowest, want about the reserve (%d KiB)", low>>10, reserve>>10)
	} else {
		t.Logf("free space at its lowest: %d KiB of %d KiB before the load; the reserve is %d KiB",
			low>>10, fsBefore.Bavail*uint64(fsBefore.Bsize)>>10, reserve>>10)
	}
	if r.Code != 125 || !strings.Contains(r.Stderr, "Error: load "+bombFile+": the store's file system ("+s.Root+") would have less than 15.0 MiB free (the reserve)") ||
		!strings.Contains(r.Stderr, "--storage-opt crunlite.reserve=SIZE") || strings.Contains(r.Stderr, "context canceled") {
		t.Fatalf("load of a layer bigger than the free space: want 125 and the reserve's error naming the option: %s", r)
	}
	// One line of error and a hint after the progress lines; storage logs
	// its own failure (on vfs, "While applying layer: ... unexpected EOF")
	// with logrus, in lines of its own.
	var ours []string
	for _, line := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
		if !strings.HasPrefix(line, "Copying blob ") && !strings.HasPrefix(line, "time=") {
			ours = append(ours, line)
		}
	}
	if len(ours) != 2 || !strings.HasPrefix(ours[0], "Error: ") || !strings.HasPrefix(ours[1], "hint: ") {
		t.Errorf("want the error on one line and a hint: %q", r.Stderr)
	}
	if imgs := listImages(t, s); len(imgs) != 1 || !strings.Contains(strings.Join(imgs[0].Names, " "), "busybox") {
		t.Errorf("want only busybox listed after the stopped load: %+v", imgs)
	}
	if after := layerDirs(t, s, driver); strings.Join(after, " ") != strings.Join(layersBefore, " ") {
		t.Errorf("layers before the load %v, after %v", layersBefore, after)
	}
	if left := scratchLeft(t, s); len(left) != 0 {
		t.Errorf("the stopped load left scratch files: %v", left)
	}
	after := blocksUnder(t, s.Root)
	t.Logf("store: %d KiB before, %d KiB after", before>>10, after>>10)
	if after > before+1<<20 {
		t.Errorf("the stopped load kept %d KiB in the store", (after-before)>>10)
	}
	// import reads the same layer as a root filesystem tarball.
	tarball := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	if err := os.WriteFile(tarball, layer.gz, 0o644); err != nil {
		t.Fatal(err)
	}
	r = crunIn(t, s, "import", "-q", tarball, "bomb")
	if r.Code != 125 || !strings.Contains(r.Stderr, "Error: import "+tarball+": the store's file system ("+s.Root+") would have less than 15.0 MiB free (the reserve)") {
		t.Errorf("import of a tarball bigger than the free space: want 125 and the reserve's error: %s", r)
	}
	if imgs := listImages(t, s); len(imgs) != 1 {
		t.Errorf("want only busybox listed after the stopped import: %+v", imgs)
	}
	if after := blocksUnder(t, s.Root); after > before+1<<20 {
		t.Errorf("the stopped import kept %d KiB in the store", (after-before)>>10)
	}

	mustCrunIn(t, s, "load", "-q", "-i", smallFile)
	if out := mustCrunIn(t, s, "run", "--rm", "busybox", "echo", "still here").Stdout; out != "still here\n" {
		t.Errorf("run after the stopped load: %q", out)
	}

	// Less free space than the reserve: refused before anything is written.
	big := s
	big.Extra = []string{"--storage-opt", "crunlite.reserve=299M"}
	r = crunIn(t, big, "load", "-i", smallFile)
	if r.Code != 125 || !strings.Contains(r.Stderr, "would have less than 299.0 MiB free (the reserve)") {
		t.Errorf("load with a reserve above the free space: want 125 and the reserve's error: %s", r)
	}

	// No reserve: the disk fills, and the error says so.
	none := s
	none.Extra = []string{"--storage-opt", "crunlite.reserve=0"}
	r = crunIn(t, none, "load", "-i", bombFile)
	if r.Code != 125 || !strings.Contains(r.Stderr, "no space left on device") || strings.Contains(r.Stderr, "(the reserve)") {
		t.Errorf("load with crunlite.reserve=0: want 125 and a full disk: %s", r)
	}
	mustCrunIn(t, s, "image", "prune", "-f")
	if out := mustCrunIn(t, s, "run", "--rm", "busybox", "echo", "still here").Stdout; out != "still here\n" {
		t.Errorf("run after the load that filled the disk: %q", out)
	}
}
