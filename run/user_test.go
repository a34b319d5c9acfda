package run

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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

func TestReadInRootStaysInRoot(t *testing.T) {
	outside := writeRoot(t, map[string]string{"secret": "host file\n"})
	root := writeRoot(t, map[string]string{"etc/group": testGroup})
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
	if b := readInRoot(root, "etc/passwd"); b != nil {
		t.Fatalf("an absolute symlink escaped the root: read %q", b)
	}
}
