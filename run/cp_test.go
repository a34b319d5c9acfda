package run

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/run/spec"
)

// fakeRoot makes a container root beside a "host" dir: the root's links
// point at the host's file in every way a hostile image could.
func fakeRoot(t *testing.T) (root, hostFile string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	hostFile = filepath.Join(base, "host", "secret")
	for _, d := range []string{root + "/etc", root + hostFile[:len(hostFile)-len("/secret")], filepath.Dir(hostFile), root + "/d/sub"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(hostFile, "host\n")
	write(root+hostFile, "inside\n")
	write(root+"/d/sub/f", "f\n")
	for name, target := range map[string]string{
		"abs":    hostFile,                             // absolute: the host's path
		"rel":    "../../../../../../../.." + hostFile, // ../ far above the root
		"dotdot": "../..",                              // the root's parent
		"chain":  "/etc/abs",                           // a link to a link
		"loop":   "/etc/loop",
	} {
		if err := os.Symlink(target, root+"/etc/"+name); err != nil {
			t.Fatal(err)
		}
	}
	return root, hostFile
}

func openDir(t *testing.T, p string) int {
	t.Helper()
	fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func sameInode(t *testing.T, fd int, p string) bool {
	t.Helper()
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(p, &b); err != nil {
		t.Fatal(err)
	}
	return a.Ino == b.Ino && a.Dev == b.Dev
}

// Both ways of resolving in a root, the kernel's and the walk that
// replaces it on EAGAIN, name the container's file for every hostile link,
// stop ".." at the root and refuse loops.
func TestResolveInRoot(t *testing.T) {
	root, hostFile := fakeRoot(t)
	rfd := openDir(t, root)
	for name, open := range map[string]func(string, bool) (int, error){
		"openat2": func(p string, dir bool) (int, error) { return openInRoot(rfd, p, dir) },
		"walk":    func(p string, dir bool) (int, error) { return walkInRoot(rfd, p, dir) },
	} {
		for _, p := range []string{"/etc/abs", "/etc/rel", "/etc/chain", "etc/abs", "/../../.." + hostFile, "/etc/dotdot" + hostFile} {
			fd, err := open(p, false)
			if err != nil {
				t.Errorf("%s %s: %v", name, p, err)
				continue
			}
			if !sameInode(t, fd, root+hostFile) {
				t.Errorf("%s %s: not the container's file", name, p)
			}
			unix.Close(fd)
		}
		for _, p := range []string{"/", "/..", "/etc/dotdot", "/etc/../../.."} {
			fd, err := open(p, true)
			if err != nil || !sameInode(t, fd, root) {
				t.Errorf("%s %s: want the root itself (%v)", name, p, err)
			}
			if err == nil {
				unix.Close(fd)
			}
		}
		if _, err := open("/etc/loop", false); !errors.Is(err, unix.ELOOP) {
			t.Errorf("%s of a symlink loop: %v, want ELOOP", name, err)
		}
		if _, err := open("/d/sub/f/x", false); !errors.Is(err, unix.ENOTDIR) {
			t.Errorf("%s through a file: %v, want ENOTDIR", name, err)
		}
		if _, err := open("/d/sub/f", true); !errors.Is(err, unix.ENOTDIR) {
			t.Errorf("%s of a file as a dir: %v, want ENOTDIR", name, err)
		}
	}
}

// resolveLeaf follows a last component that is a symlink (in the root)
// and gives its parent and name there, existing or not.
func TestResolveLeaf(t *testing.T) {
	root, hostFile := fakeRoot(t)
	rfd := openDir(t, root)
	for _, p := range []string{"/etc/abs", "/etc/rel", "/etc/chain"} {
		parent, name, st, err := resolveLeaf(rfd, p)
		if err != nil || st == nil || name != "secret" || !sameInode(t, parent, root+filepath.Dir(hostFile)) {
			t.Errorf("resolveLeaf %s: %q %v %v", p, name, st, err)
		}
		if err == nil {
			unix.Close(parent)
		}
	}
	parent, name, st, err := resolveLeaf(rfd, "/d/new")
	if err != nil || st != nil || name != "new" || !sameInode(t, parent, root+"/d") {
		t.Errorf("resolveLeaf of a missing file: %q %v %v", name, st, err)
	}
	if err == nil {
		unix.Close(parent)
	}
}

// Copying into a fake container through its hostile links writes its own
// file, and a tar stream naming ../ or going through a symlink stays in
// its directory or is refused.
func TestCopyStaysInRoot(t *testing.T) {
	root, hostFile := fakeRoot(t)
	src := filepath.Join(t.TempDir(), "new")
	if err := os.WriteFile(src, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hfd := openDir(t, "/")
	rfd := openDir(t, root)
	for _, dst := range []string{"/etc/abs", "/etc/rel", "/etc/dotdot" + hostFile} {
		s, err := openSource(hfd, CopyEnd{Path: src})
		if err != nil {
			t.Fatal(err)
		}
		sink, err := destination(rfd, CopyEnd{Container: &Info{}, Path: dst}, s)
		if err != nil {
			t.Fatalf("destination %s: %v", dst, err)
		}
		if err := (&walker{}).walk(s.fd, sink.top, sink); err != nil {
			t.Errorf("copy to %s: %v", dst, err)
		}
		unix.Close(s.fd)
		unix.Close(sink.dir)
		if b, _ := os.ReadFile(hostFile); string(b) != "host\n" {
			t.Fatalf("copy to %s changed the host's file", dst)
		}
		if b, _ := os.ReadFile(root + hostFile); string(b) != "new\n" {
			t.Errorf("copy to %s: the container's file has %q", dst, b)
		}
		_ = os.WriteFile(root+hostFile, []byte("inside\n"), 0o644)
	}

	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range []*tar.Header{
		{Name: "../../../escaped", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2},
		{Name: "/abs/x", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2},
	} {
		_ = tw.WriteHeader(h)
		_, _ = tw.Write([]byte("x\n"))
	}
	_ = tw.Close()
	dfd := openDir(t, root+"/d")
	if err := extractTar(tar.NewReader(&b), dfd); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{root + "/d/escaped", root + "/d/abs/x"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("tar entry not inside its directory: %v", err)
		}
	}
	b.Reset()
	tw = tar.NewWriter(&b)
	_ = tw.WriteHeader(&tar.Header{Name: "out", Typeflag: tar.TypeSymlink, Linkname: filepath.Dir(hostFile)})
	_ = tw.WriteHeader(&tar.Header{Name: "out/secret", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
	_, _ = tw.Write([]byte("x\n"))
	_ = tw.Close()
	if err := extractTar(tar.NewReader(&b), dfd); err == nil {
		t.Errorf("a tar entry through a symlink of the stream was written")
	}
	if b, _ := os.ReadFile(hostFile); string(b) != "host\n" {
		t.Fatalf("a tar stream changed the host's file")
	}
}

func TestCopyNeedsOneContainer(t *testing.T) {
	for _, c := range [][2]CopyEnd{
		{{Path: "/a"}, {Path: "/b"}},
		{{Container: &Info{}, Path: "/a"}, {Container: &Info{}, Path: "/b"}},
		{{Container: &Info{}, Path: "-"}, {Path: "/b"}},
	} {
		if err := copyFiles(nil, c[0], c[1], nil, nil, nil); !errors.Is(err, spec.ErrBadOption) {
			t.Errorf("copy %+v: %v, want a bad option", c, err)
		}
	}
}

func TestTopHelpers(t *testing.T) {
	if cols, err := topColumns([]string{"pid,args", "%U"}); err != nil || len(cols) != 3 || cols[2] != "user" {
		t.Errorf("topColumns: %v %v", cols, err)
	}
	if _, err := topColumns([]string{"bogus"}); !errors.Is(err, ErrBadTop) {
		t.Errorf("topColumns of an unknown descriptor: %v", err)
	}
	for nr, want := range map[uint64]string{0: "?", 136<<8 | 3: "pts/3", 4<<8 | 1: "tty1", 5<<8 | 1: "console"} {
		if got := ttyName(nr); got != want {
			t.Errorf("ttyName(%#x) = %q, want %q", nr, got, want)
		}
	}
	m := []byte("         0       1001          1\n      1000          0          1\n")
	for id, want := range map[int]int{1001: 0, 0: 1000, 5: 65534} {
		if got := mapInside(m, id); got != want {
			t.Errorf("mapInside(%d) = %d, want %d", id, got, want)
		}
	}
}
