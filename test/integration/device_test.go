//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// kvmAccess returns how the test process may open /dev/kvm: "any" (root,
// or a mode open to all), "group" (only through a supplementary group, as
// hack/test-setup.sh arranges, like a desktop's udev rule), or it skips.
func kvmAccess(t *testing.T) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/dev/kvm", &st); err != nil {
		t.Skip("no /dev/kvm on this host")
	}
	if unix.Access("/dev/kvm", unix.R_OK|unix.W_OK) != nil {
		t.Skip("the test user cannot open /dev/kvm: run hack/test-setup.sh (group kvm)")
	}
	if os.Geteuid() == 0 || st.Mode&0o006 == 0o006 {
		return "any"
	}
	return "group"
}

// --device /dev/kvm: the host's node is bind-mounted and answers
// KVM_GET_API_VERSION inside (12, stable since Linux 2.6.22). Where the
// user reaches it through group kvm only, it needs --group-add keep-groups,
// and without it crun-lite says so before starting anything.
func TestDeviceKVM(t *testing.T) {
	access := kvmAccess(t)
	prog := cProgram(t, "kvmapi")
	forEachStore(t, func(t *testing.T, s store, image string) {
		run := func(extra ...string) result {
			args := append([]string{"run", "--rm", "-v", prog + ":/t:ro"}, extra...)
			return crunIn(t, s, append(args, image, "/t/kvmapi", "/dev/kvm")...)
		}
		r := run("--device", "/dev/kvm")
		if access == "group" {
			if r.Code != 125 || !strings.Contains(r.Stderr, "/dev/kvm") || !strings.Contains(r.Stderr, "keep-groups") {
				t.Errorf("--device /dev/kvm open only through a group, without keep-groups: want 125 and a hint for keep-groups, got %s", r)
			}
			if n := strings.Count(r.Stderr, "Error:"); n != 1 {
				t.Errorf("want one Error: line, got %d:\n%s", n, r.Stderr)
			}
		} else if r.Code != 0 || r.Stdout != "api 12\n" {
			t.Errorf("--device /dev/kvm: want api 12, got %s", r)
		}
		r = run("--device", "/dev/kvm", "--group-add", "keep-groups")
		if r.Code != 0 || r.Stdout != "api 12\n" {
			t.Errorf("--device /dev/kvm --group-add keep-groups: want api 12, got %s", r)
		}
		// Another path inside, and Podman's PERMS part.
		args := []string{"run", "--rm", "-v", prog + ":/t:ro", "--group-add", "keep-groups", "--device", "/dev/kvm:/dev/vm0:rw", image, "/t/kvmapi", "/dev/vm0"}
		if r := crunIn(t, s, args...); r.Code != 0 || r.Stdout != "api 12\n" {
			t.Errorf("--device /dev/kvm:/dev/vm0:rw: want api 12, got %s", r)
		}
	})
}

// A directory of devices is bound whole; the other nodes of the host stay
// out of the container's /dev.
func TestDeviceDirectory(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("no /dev/net/tun")
	}
	s := testStore(t)
	image := loadBusybox(t, s)
	r := mustCrunIn(t, s, "run", "--rm", "--device", "/dev/net", image, "sh", "-c", "test -c /dev/net/tun && echo tun; ls /dev")
	if !strings.HasPrefix(r.Stdout, "tun\n") {
		t.Errorf("--device /dev/net: /dev/net/tun is no device inside:\n%s", r)
	}
	for _, name := range strings.Fields(r.Stdout)[1:] {
		if name == "kvm" || name == "fuse" || strings.HasPrefix(name, "sd") || strings.HasPrefix(name, "vd") {
			t.Errorf("/dev/%s is in the container's /dev though not asked for:\n%s", name, r.Stdout)
		}
	}
	// inspect shows it as Podman does.
	mustCrunIn(t, s, "create", "--name", "devs", "--device", "/dev/net:/dev/nets:rw", image, "true")
	out := mustCrunIn(t, s, "inspect", "devs").Stdout
	if !strings.Contains(out, `"Devices": [`) || !strings.Contains(out, `"PathOnHost": "/dev/net"`) || !strings.Contains(out, `"PathInContainer": "/dev/nets"`) {
		t.Errorf("inspect: want HostConfig.Devices with /dev/net -> /dev/nets, got:\n%s", out)
	}
}

// A device that is missing, or that is no device, fails before anything
// starts, on one line naming it, with a hint.
func TestDeviceErrors(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	for _, c := range []struct{ dev, want, hint string }{
		{"/dev/crunlite-no-such", "/dev/crunlite-no-such does not exist", "modprobe"},
		{"/etc/passwd", "not a character or block device", ""},
		{"/dev/null:/dev/x:rwx", "permissions", ""},
		{"dev/null", "absolute path", ""},
	} {
		r := crunIn(t, s, "run", "--rm", "--device", c.dev, image, "true")
		lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
		if r.Code != 125 || !strings.HasPrefix(lines[0], "Error: ") || !strings.Contains(lines[0], c.want) {
			t.Errorf("--device %s: want 125 and Error: ...%s..., got %s", c.dev, c.want, r)
			continue
		}
		if c.hint != "" && (len(lines) != 2 || !strings.HasPrefix(lines[1], "hint: ") || !strings.Contains(lines[1], c.hint)) {
			t.Errorf("--device %s: want a hint naming %q, got:\n%s", c.dev, c.hint, r.Stderr)
		}
	}
}

// --group-add keep-groups: the process keeps the caller's supplementary
// groups, so `id -G` inside shows the test process's groups as the user
// namespace maps them: the user's own gid as 0, the host's other groups,
// which are not mapped, as nogroup (65534). Without it the process has
// the image's groups only.
func TestGroupAddKeepGroups(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	host, err := unix.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"0": true} // the container's gid
	for _, g := range append(host, os.Getgid()) {
		switch {
		case os.Geteuid() == 0:
			want[strconv.Itoa(g)] = true
		case g == os.Getgid():
			want["0"] = true
		default:
			want["65534"] = true
		}
	}
	r := mustCrunIn(t, s, "run", "--rm", "--group-add", "keep-groups", image, "id", "-G")
	got := map[string]bool{}
	for _, g := range strings.Fields(r.Stdout) {
		got[g] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("id -G with keep-groups: got %q, want the set %v (host groups %v)", r.Stdout, want, host)
	}
	// exec'd processes of such a container keep them too.
	mustCrunIn(t, s, "run", "-d", "--name", "keeper", "--group-add", "keep-groups", image, "sleep", "60")
	got = map[string]bool{}
	for _, g := range strings.Fields(mustCrunIn(t, s, "exec", "keeper", "id", "-G").Stdout) {
		got[g] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("exec id -G in a keep-groups container: got %v, want %v", got, want)
	}
	mustCrunIn(t, s, "rm", "-f", "keeper")
	plain := strings.Fields(mustCrunIn(t, s, "run", "--rm", image, "id", "-G").Stdout)
	if os.Geteuid() != 0 && slices.Contains(plain, "65534") {
		t.Errorf("without keep-groups the process still has an unmapped host group: id -G = %v", plain)
	}
	if r := crunIn(t, s, "run", "--rm", "--group-add", "keep-groups", "--group-add", "10", image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "keep-groups") {
		t.Errorf("keep-groups with another group: want 125, got %s", r)
	}
}

// A CDI spec written by the test (--cdi-spec-dir) adds its device nodes
// (one under another name inside), its env (the spec's own and the
// device's), and its read-only bind mount; its hook is skipped with a
// warning. An unknown name fails on one line listing the known ones.
func TestCDIDevice(t *testing.T) {
	dir, err := os.MkdirTemp("", "crl-cdi-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	share := filepath.Join(dir, "share")
	if err := os.Mkdir(share, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(share, "hello"), []byte("from the CDI mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	specs := filepath.Join(dir, "specs")
	if err := os.Mkdir(specs, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`cdiVersion: "0.6.0"
kind: crun-lite.test/gadget
containerEdits:
  env: [GADGET_VENDOR=crun-lite]
devices:
- name: one
  containerEdits:
    env: [GADGET=one]
    deviceNodes:
    - path: /dev/null
    - path: /dev/gadget0
      hostPath: /dev/zero
    mounts:
    - hostPath: %s
      containerPath: /opt/gadget
      options: [ro, rbind]
    hooks:
    - hookName: createContainer
      path: /bin/true
- name: two
  containerEdits:
    env: [GADGET=two]
`, share)
	if err := os.WriteFile(filepath.Join(specs, "gadget.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	forEachStore(t, func(t *testing.T, s store, image string) {
		script := `echo $GADGET_VENDOR $GADGET; test -c /dev/gadget0 && head -c 3 /dev/gadget0 | od -An -tx1; cat /opt/gadget/hello; touch /opt/gadget/x 2>/dev/null && echo writable; true`
		r := crunIn(t, s, "run", "--rm", "--cdi-spec-dir", specs, "--device", "crun-lite.test/gadget=one", image, "sh", "-c", script)
		want := "crun-lite one\n 00 00 00\nfrom the CDI mount\n"
		if r.Code != 0 || r.Stdout != want {
			t.Errorf("CDI device: want %q, got %s", want, r)
		}
		if !strings.Contains(r.Stderr, "warning: CDI crun-lite.test/gadget=one: createContainer hook /bin/true not run") {
			t.Errorf("CDI hook: want a warning that it was skipped, got:\n%s", r.Stderr)
		}
		// -e wins over the spec's env.
		r = mustCrunIn(t, s, "run", "--rm", "--cdi-spec-dir", specs, "--device", "crun-lite.test/gadget=two", "-e", "GADGET=mine", image, "sh", "-c", "echo $GADGET_VENDOR $GADGET")
		if r.Stdout != "crun-lite mine\n" {
			t.Errorf("CDI env under -e: got %q", r.Stdout)
		}
	})
	s := testStore(t)
	image := loadBusybox(t, s)
	r := crunIn(t, s, "run", "--rm", "--cdi-spec-dir", specs, "--device", "crun-lite.test/gadget=three", image, "true")
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	if r.Code != 125 || !strings.HasPrefix(lines[0], "Error: unknown CDI device crun-lite.test/gadget=three") ||
		!strings.Contains(lines[0], "known: crun-lite.test/gadget=one, crun-lite.test/gadget=two") {
		t.Errorf("unknown CDI name: want 125 and one line listing the known names, got %s", r)
	}
	if l := mustCrunIn(t, s, "cdi", "list", "--cdi-spec-dir", specs).Stdout; l != "crun-lite.test/gadget=one\ncrun-lite.test/gadget=two\n" {
		t.Errorf("cdi list: got %q", l)
	}
}

// --share gpu takes the GPUs CDI specs define (a vendor's class gpu: its
// "all" device), besides /dev/dri where there is one, with keep-groups.
func TestShareGPUFromCDI(t *testing.T) {
	specs, err := os.MkdirTemp("", "crl-cdigpu-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(specs)
	yaml := `cdiVersion: "0.6.0"
kind: crun-lite.test/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes: [{path: /dev/fakegpu0, hostPath: /dev/zero}]
- name: all
  containerEdits:
    env: [FAKE_GPU=all]
    deviceNodes: [{path: /dev/fakegpu0, hostPath: /dev/zero}]
`
	if err := os.WriteFile(filepath.Join(specs, "gpu.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(specs, 0o755); err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	image := loadBusybox(t, s)
	r := mustCrunIn(t, s, "run", "--rm", "--cdi-spec-dir", specs, "--share", "gpu", image, "sh", "-c", "test -c /dev/fakegpu0 && echo $FAKE_GPU")
	if r.Stdout != "all\n" {
		t.Errorf("--share gpu with a CDI GPU spec: want its all device and env, got %s", r)
	}
}
