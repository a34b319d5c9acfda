package run

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func writeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const testPasswd = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\napp:x:1001:1001::/home/app:/bin/sh\n"
const testGroup = "root:x:0:\nstaff:x:50:user,app\naudio:x:29:user\nuser:x:1000:\napp:x:1001:\n"

func TestResolveUser(t *testing.T) {
	root := writeRoot(t, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup})
	cases := []struct {
		spec string
		want execUser
	}{
		{"", execUser{UID: 0, GID: 0, Home: "/root", Name: "root"}},
		{"1000", execUser{UID: 1000, GID: 1000, Groups: []uint32{50, 29}, Home: "/home/user", Name: "user"}},
		{"user", execUser{UID: 1000, GID: 1000, Groups: []uint32{50, 29}, Home: "/home/user", Name: "user"}},
		{"app:staff", execUser{UID: 1001, GID: 50, Home: "/home/app", Name: "app"}},
		{"1000:29", execUser{UID: 1000, GID: 29, Home: "/home/user", Name: "user"}},
		{"user:7", execUser{UID: 1000, GID: 7, Home: "/home/user", Name: "user"}},
		{"4242", execUser{UID: 4242, GID: 0, Home: "/"}},
		{"4242:4243", execUser{UID: 4242, GID: 4243, Home: "/"}},
	}
	for _, c := range cases {
		got, err := resolveUser(root, c.spec, nil)
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%q: got %+v, want %+v", c.spec, *got, c.want)
		}
	}
}

func TestResolveUserErrors(t *testing.T) {
	root := writeRoot(t, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup})
	// The error names the file the missing name was looked for in.
	for spec, file := range map[string]string{"nobody-here": "/etc/passwd", "user:nogroup-here": "/etc/group", "1000:nogroup-here": "/etc/group"} {
		_, err := resolveUser(root, spec, nil)
		if !errors.Is(err, ErrBadUser) {
			t.Errorf("%q: want ErrBadUser, got %v", spec, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "looked in "+file+" of the image") || strings.Count(msg, "/etc/") != 1 {
			t.Errorf("%q: want the error to name %s only: %v", spec, file, err)
		}
	}
	empty := t.TempDir()
	if _, err := resolveUser(empty, "user", nil); !errors.Is(err, ErrBadUser) {
		t.Errorf("no passwd: want ErrBadUser, got %v", err)
	}
	if u, err := resolveUser(empty, "1000", nil); err != nil || u.UID != 1000 || u.Home != "/" {
		t.Errorf("numeric uid without passwd: %+v %v", u, err)
	}
}

// TestResolveUserEmptyHome: an entry without a home directory gets /, as
// a uid without an entry does (found by FuzzResolveUser).
func TestResolveUserEmptyHome(t *testing.T) {
	root := writeRoot(t, map[string]string{"etc/passwd": "nohome:x:7:7:::\n"})
	u, err := resolveUser(root, "nohome", nil)
	if err != nil || u.Home != "/" || u.UID != 7 || u.Name != "nohome" {
		t.Fatalf("got %+v, %v; want uid 7 named nohome with HOME /", u, err)
	}
}

func TestResolveUserGroupAdd(t *testing.T) {
	root := writeRoot(t, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup})
	u, err := resolveUser(root, "app", []string{"audio", "4000"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint32{50, 29, 4000}; !reflect.DeepEqual(u.Groups, want) {
		t.Fatalf("groups %v, want %v", u.Groups, want)
	}
}

// TestReadInRootStaysInRoot: an absolute symlink resolves inside the root,
// as the container would see it, never to the host file of that name.
func TestReadInRootStaysInRoot(t *testing.T) {
	outside := writeRoot(t, map[string]string{"secret": "host file\n"})
	root := writeRoot(t, map[string]string{"etc/group": testGroup})
	inside := filepath.Join(root, outside, "secret")
	if err := os.MkdirAll(filepath.Dir(inside), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inside, []byte("image file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
	b, err := readInRoot(root, "etc/passwd")
	if err != nil || string(b) != "image file\n" {
		t.Fatalf("absolute symlink: read %q, %v; want the file inside the root", b, err)
	}
	// A relative one climbing above the root stops at it too.
	if err := os.Symlink("../../../../../../../.."+outside+"/secret", filepath.Join(root, "etc", "shadow")); err != nil {
		t.Fatal(err)
	}
	if b, err := readInRoot(root, "etc/shadow"); err != nil || string(b) != "image file\n" {
		t.Fatalf("relative symlink out: read %q, %v; want the file inside the root", b, err)
	}
	// Dangling inside the root: missing, as the container would see it.
	if err := os.Symlink("/nowhere", filepath.Join(root, "etc", "hosts")); err != nil {
		t.Fatal(err)
	}
	if b, err := readInRoot(root, "etc/hosts"); err != nil || b != nil {
		t.Fatalf("dangling symlink: read %q, %v; want nil, nil", b, err)
	}
}

func TestReadInRootMissing(t *testing.T) {
	root := writeRoot(t, map[string]string{"etc": "a file where a directory should be"})
	for _, name := range []string{"etc/passwd", "nodir/passwd"} {
		if b, err := readInRoot(root, name); b != nil || err != nil {
			t.Errorf("%s: got %q, %v; want nil, nil (missing is empty)", name, b, err)
		}
	}
}

// TestReadInRootRefuses: whatever is not a regular file of sane size is an
// error naming the file and what it is, at once: a FIFO must not block.
func TestReadInRootRefuses(t *testing.T) {
	root := writeRoot(t, map[string]string{"etc/group": testGroup})
	etc := filepath.Join(root, "etc")
	mk := map[string]func(p string) error{
		"a FIFO":      func(p string) error { return unix.Mkfifo(p, 0o644) },
		"a directory": func(p string) error { return os.Mkdir(p, 0o755) },
		"too large": func(p string) error {
			f, err := os.Create(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(maxImageFile + 1) // sparse: costs no disk
		},
		"a symlink loop": func(p string) error { return os.Symlink(filepath.Base(p), p) },
		"a socket": func(p string) error {
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Bind(fd, &unix.SockaddrUnix{Name: p})
		},
		"a character device": func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))) },
		"a block device":     func(p string) error { return unix.Mknod(p, unix.S_IFBLK|0o644, int(unix.Mkdev(7, 0))) },
	}
	want := map[string]string{
		"a FIFO":             "/etc/passwd of the image is a FIFO, not a regular file",
		"a directory":        "/etc/passwd of the image is a directory, not a regular file",
		"too large":          "/etc/passwd of the image is too large",
		"a symlink loop":     "/etc/passwd of the image cannot be opened",
		"a socket":           "/etc/passwd of the image is a socket, not a regular file",
		"a character device": "/etc/passwd of the image is a character device, not a regular file",
		"a block device":     "/etc/passwd of the image is a block device, not a regular file",
	}
	for what, create := range mk {
		t.Run(strings.ReplaceAll(what, " ", "_"), func(t *testing.T) {
			p := filepath.Join(etc, "passwd")
			os.RemoveAll(p)
			if err := create(p); err != nil {
				if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
					t.Skipf("cannot make %s here: %v", what, err)
				}
				t.Fatal(err)
			}
			done := make(chan struct{})
			var b []byte
			var err error
			go func() {
				defer close(done)
				b, err = readInRoot(root, "etc/passwd")
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: readInRoot hangs", what)
			}
			if !errors.Is(err, ErrImageFile) || !strings.Contains(err.Error(), want[what]) || b != nil {
				t.Fatalf("%s: got %q, %v; want an ErrImageFile saying %q", what, b, err, want[what])
			}
			// resolveUser passes it on, whatever the user spec.
			if _, err := resolveUser(root, "0", nil); !errors.Is(err, ErrImageFile) {
				t.Fatalf("%s: resolveUser: want ErrImageFile, got %v", what, err)
			}
		})
	}
}

// TestReadInRootNoMagicLinks: /proc/PID/root and the like are not followed
// (RESOLVE_NO_MAGICLINKS), here with the host's own /proc as the image's.
func TestReadInRootNoMagicLinks(t *testing.T) {
	if _, err := os.Stat("/proc/self/root"); err != nil {
		t.Skip("no /proc")
	}
	_, err := readInRoot("/", "proc/self/root/etc/passwd")
	if !errors.Is(err, ErrImageFile) || !strings.Contains(err.Error(), "/proc/self/root/etc/passwd of the image cannot be opened") {
		t.Fatalf("through a magic link: want ErrImageFile, got %v", err)
	}
}

func TestReadInRootAtCap(t *testing.T) {
	root := writeRoot(t, map[string]string{"etc/passwd": strings.Repeat("x", maxImageFile)})
	if b, err := readInRoot(root, "etc/passwd"); err != nil || len(b) != maxImageFile {
		t.Fatalf("a file of exactly the cap: %d bytes, %v", len(b), err)
	}
}
