package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestUseImageAndUser(t *testing.T) {
	ep := `["/bin/app", "--flag"]`
	s, err := New("0123456789abcdef0123", Options{
		Image: "img", Command: []string{"x"}, Entrypoint: &ep, Env: []string{"A=over", "NEW=1"},
		Volumes: []string{"/src:/data/sub", "/a:/data:ro"}, TTY: true,
	}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TERM", "vt100")
	s.UseImage(imgspecv1.ImageConfig{Entrypoint: []string{"/old"}, Cmd: []string{"dropped"}, Env: []string{"A=image", "PATH=/p"}, WorkingDir: "/w", User: "app"}, "", "")
	p := s.Process
	if want := []string{"/bin/app", "--flag", "x"}; !slices.Equal(p.Args, want) {
		t.Errorf("args %v, want %v", p.Args, want)
	}
	if want := []string{"A=over", "PATH=/p", "NEW=1", "TERM=vt100", "HOSTNAME=0123456789ab", "container=oci"}; !slices.Equal(p.Env, want) {
		t.Errorf("env %v, want %v", p.Env, want)
	}
	if p.Cwd != "/w" || p.UserSpec != "app" || s.Hostname != "0123456789ab" {
		t.Errorf("cwd %q user %q hostname %q", p.Cwd, p.UserSpec, s.Hostname)
	}
	if s.Mounts[0].Target != "/data" || s.Mounts[1].Target != "/data/sub" || !s.Mounts[0].ReadOnly {
		t.Errorf("mounts not sorted parents first: %+v", s.Mounts)
	}
	s.SetUser(&User{UID: 1001, GID: 1001, Home: "/home/app", Name: "app"})
	if !slices.Contains(s.Process.Env, "HOME=/home/app") || !slices.Contains(s.Process.Env, "LOGNAME=app") {
		t.Errorf("env after SetUser: %v", s.Process.Env)
	}

	path := filepath.Join(t.TempDir(), "spec.json")
	if err := s.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	got.command, got.entrypoint, got.settings = s.command, s.entrypoint, s.settings // not written
	if !reflect.DeepEqual(got, s) {
		t.Errorf("read back\n%+v\nwrote\n%+v", got, s)
	}
	if err := os.WriteFile(path, []byte(`{"version": 99}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); !errors.Is(err, ErrVersion) {
		t.Errorf("a spec of another version: %v", err)
	}
}

func TestNewDefaults(t *testing.T) {
	s, err := New("0123456789abcdef", Options{Image: "img", Hostname: "box"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.UseImage(imgspecv1.ImageConfig{Cmd: []string{"sh"}}, "/wd", "")
	if s.Network != "bridge" || s.Hostname != "box" || s.Process.Cwd != "/wd" || s.Process.Seccomp == nil ||
		!slices.Contains(s.Process.Env, "PATH="+DefaultPath) || slices.ContainsFunc(s.Process.Env, func(e string) bool { return e[:5] == "TERM=" }) {
		t.Errorf("defaults: %+v", s)
	}
	for _, bad := range []string{"slirp4netns", "pasta:-T,8080", "ns:/nonexistent", "x:y", "container:"} {
		if _, err := New("0123456789abcdef", Options{Network: bad}, t.TempDir()); err == nil {
			t.Errorf("network %s accepted", bad)
		}
	}
	if s, err := New("0123456789abcdef", Options{Network: "mynet"}, t.TempDir()); err != nil || s.Net.Mode != "bridge" || s.Net.Network != "mynet" {
		t.Errorf("a user network's name: %+v, %v", s, err)
	}
	if _, err := New("0123456789abcdef", Options{Network: "host", Publish: []string{"80"}}, t.TempDir()); err == nil {
		t.Error("-p with --network host accepted")
	}
	if _, err := New("0123456789abcdef", Options{Volumes: []string{"/a:/x", "/b:/x"}}, t.TempDir()); !errors.Is(err, ErrBadOption) {
		t.Errorf("two mounts on one target: %v", err)
	}
}

// TestCheckNUL: a NUL byte anywhere in the command, the environment or the
// working directory from the image is refused, naming which; none passes.
func TestCheckNUL(t *testing.T) {
	for _, c := range []struct {
		p    Process
		want string
	}{
		{Process{Args: []string{"echo", "a\x00b"}, Cwd: "/"}, "argument 1"},
		{Process{Args: []string{"\x00"}, Cwd: "/"}, "argument 0"},
		{Process{Args: []string{"sh"}, Env: []string{"PATH=/bin", "C=a\x00b"}, Cwd: "/"}, `environment entry "C=a\x00b"`},
		{Process{Args: []string{"sh"}, Env: []string{"A\x00B=1"}, Cwd: "/"}, "environment entry"},
		{Process{Args: []string{"pwd"}, Cwd: "/tmp\x00/../.."}, "working directory"},
		{Process{Args: []string{"sh", "-c", "echo é\xff"}, Env: []string{"D=\xff"}, Cwd: "/w d"}, ""},
	} {
		err := c.p.CheckNUL()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "NUL byte")) {
			t.Errorf("%q %q %q: got %v, want an error naming %q", c.p.Args, c.p.Env, c.p.Cwd, err, c.want)
		}
	}
}

// inspect's CapAdd and CapDrop: the difference from Podman's default set,
// with the CAP_ prefix, never nil.
func TestCapDiff(t *testing.T) {
	add, drop := CapDiff(defaultCaps)
	if add == nil || drop == nil || len(add)+len(drop) != 0 {
		t.Errorf("CapDiff of the default set: %q %q, want two empty lists", add, drop)
	}
	caps := append([]string{"NET_ADMIN", "SYS_ADMIN"}, defaultCaps[1:]...) // without CHOWN
	add, drop = CapDiff(caps)
	if strings.Join(add, ",") != "CAP_NET_ADMIN,CAP_SYS_ADMIN" || strings.Join(drop, ",") != "CAP_CHOWN" {
		t.Errorf("CapDiff: add %q drop %q", add, drop)
	}
}

// UseImage keeps Entrypoint and Cmd apart for inspect: a command replaces
// the image's Cmd only.
func TestUseImageKeepsEntrypointAndCmd(t *testing.T) {
	s := &Spec{command: []string{"x", "y"}}
	s.UseImage(imgspecv1.ImageConfig{Entrypoint: []string{"/init"}, Cmd: []string{"default"}}, "", "")
	if strings.Join(s.Entrypoint, " ") != "/init" || strings.Join(s.Cmd, " ") != "x y" || strings.Join(s.Process.Args, " ") != "/init x y" {
		t.Errorf("Entrypoint %q Cmd %q Args %q", s.Entrypoint, s.Cmd, s.Process.Args)
	}
}

// -P publishes the image's EXPOSE and --expose's ports on free host
// ports, but those -p publishes already.
func TestPublishAll(t *testing.T) {
	s, err := New("0123456789abcdef", Options{PublishAll: true, Expose: []string{"9000-9001/udp"}, Publish: []string{"8080:80"}}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.UseImage(imgspecv1.ImageConfig{ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}, "443": {}}, Cmd: []string{"sh"}}, "", "")
	var got []string
	for _, p := range s.Net.Ports {
		got = append(got, fmt.Sprintf("%d:%d/%s", p.HostPort, p.CtrPort, p.Proto))
	}
	want := []string{"8080:80/tcp", "0:9000/udp", "0:9001/udp", "0:443/tcp", "0:53/udp"}
	if !slices.Equal(got, want) {
		t.Errorf("-P: got %v, want %v", got, want)
	}
	if _, err := New("0123456789abcdef", Options{Expose: []string{"80:80"}}, t.TempDir()); err == nil {
		t.Error("--expose 80:80 accepted")
	}
	if _, err := New("0123456789abcdef", Options{PublishAll: true, Network: "none"}, t.TempDir()); err == nil {
		t.Error("-P with --network none accepted")
	}
}
