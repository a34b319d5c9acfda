//go:build integration

package integration

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// busyboxStore returns a store with the busybox image pulled.
func busyboxStore(t *testing.T) (store, string) {
	t.Helper()
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	return s, image
}

// hostDir makes a directory the test user owns, outside any store.
func hostDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "crl-host-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeStoreDir(t, d) })
	return d
}

var (
	probeOnce sync.Once
	probePath string
	probeErr  error
)

// probeDir returns a directory holding the static probe program
// (testdata/probe.c), to bind-mount into containers.
func probeDir(t *testing.T) string {
	t.Helper()
	probeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crl-probe-")
		if err != nil {
			probeErr = err
			return
		}
		out, err := exec.Command("gcc", "-static", "-O2", "-Wall", "-Werror", "-o", filepath.Join(dir, "probe"), "testdata/probe.c").CombinedOutput()
		if err != nil {
			probeErr = fmt.Errorf("build the probe: %v\n%s", err, out)
		}
		probePath = dir
	})
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	return probePath
}

// probe runs the probe for calls and returns name -> errno.
func probe(t *testing.T, s store, image string, opts []string, calls ...string) map[string]int {
	t.Helper()
	args := append([]string{"run", "--rm", "-v", probeDir(t) + ":/probe:ro"}, opts...)
	args = append(append(args, image, "/probe/probe"), calls...)
	out := mustCrunIn(t, s, args...).Stdout
	res := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("probe: %q", line)
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("probe: %q", line)
		}
		res[f[0]] = n
	}
	if len(res) != len(calls) {
		t.Fatalf("probe answered %v for %v", res, calls)
	}
	return res
}

func TestEnvOptions(t *testing.T) {
	s, image := busyboxStore(t)
	envFile := filepath.Join(hostDir(t), "env")
	if err := os.WriteFile(envFile, []byte("# comment\nA=from-file\nB=from-file\n\nFROM_HOST\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := crunInEnv(t, s, []string{"FROM_HOST=host-value", "TAKEN=taken"}, "run", "--rm", "--env-file", envFile,
		"-e", "B=from-flag", "-e", "TAKEN", "-e", "NOT_ON_HOST", "-e", "PATH=/usr/bin:/bin", "-e", "COMMA=a,b", image, "env")
	if r.Code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{"A=from-file\n", "B=from-flag\n", "FROM_HOST=host-value\n", "TAKEN=taken\n", "PATH=/usr/bin:/bin\n", "COMMA=a,b\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("env lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "NOT_ON_HOST") {
		t.Errorf("-e NAME of a variable the host lacks must leave it unset:\n%s", r.Stdout)
	}
	if r := crunIn(t, s, "run", "--rm", "--env-file", "/nonexistent/env", image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "env-file") {
		t.Errorf("missing --env-file: %s", r)
	}
}

// TestEnvPrecedence: the image's Env first, then the env files in order,
// then -e, each replacing what came before (Podman's order).
func TestEnvPrecedence(t *testing.T) {
	s := testStore(t)
	l := newOCILayout(t)
	ref := l.tag(l.imageWith(runtime.GOARCH, []testLayer{busyboxLayer(t)}, map[string]any{
		"Cmd": []string{"/bin/sh"},
		"Env": []string{"PATH=/usr/bin:/bin", "IMG=image", "FILE=image", "FILE2=image", "FLAG=image"},
	}))
	id := strings.TrimSpace(mustCrunIn(t, s, "pull", "-q", ref).Stdout)
	dir := hostDir(t)
	one, two := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	os.WriteFile(one, []byte("FILE=file1\nFILE2=file1\nFLAG=file1\n"), 0o644)
	os.WriteFile(two, []byte("FILE2=file2\nFLAG=file2\n"), 0o644)
	out := mustCrunIn(t, s, "run", "--rm", "--env-file", one, "--env-file", two, "-e", "FLAG=flag", id, "env").Stdout
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = append(got[k], v)
	}
	for k, v := range map[string]string{"PATH": "/usr/bin:/bin", "IMG": "image", "FILE": "file1", "FILE2": "file2", "FLAG": "flag"} {
		if !slices.Equal(got[k], []string{v}) {
			t.Errorf("%s=%v, want just %q:\n%s", k, got[k], v, out)
		}
	}
}

func TestWorkdirEntrypointHostname(t *testing.T) {
	s, image := busyboxStore(t)
	if out := mustCrunIn(t, s, "run", "--rm", "-w", "/new/work/dir", image, "pwd").Stdout; out != "/new/work/dir\n" {
		t.Errorf("-w creates and enters the dir: %q", out)
	}
	if out := mustCrunIn(t, s, "run", "--rm", "--entrypoint", `["echo","from","json"]`, image).Stdout; out != "from json\n" {
		t.Errorf("--entrypoint JSON: %q", out)
	}
	if out := mustCrunIn(t, s, "run", "--rm", "--entrypoint", "echo", image, "one", "arg").Stdout; out != "one arg\n" {
		t.Errorf("--entrypoint string + command: %q", out)
	}
	// --entrypoint "" clears it; the image's Cmd goes too, so a command is needed.
	if out := mustCrunIn(t, s, "run", "--rm", "--entrypoint", "", image, "echo", "cleared").Stdout; out != "cleared\n" {
		t.Errorf(`--entrypoint "": %q`, out)
	}
	out := mustCrunIn(t, s, "run", "--rm", "--hostname", "box.example", image, "sh", "-c", "hostname; cat /etc/hostname; echo $HOSTNAME; grep box /etc/hosts").Stdout
	if !regexp.MustCompile(`^box.example\nbox.example\nbox.example\n10\.\d+\.\d+\.\d+\tbox.example\n$`).MatchString(out) {
		t.Errorf("--hostname: %q", out)
	}
}

func TestVolumes(t *testing.T) {
	s, image := busyboxStore(t)
	dir := hostDir(t)
	// rw: what the container writes is on the host, owned by the user
	// (container root is the user).
	mustCrunIn(t, s, "run", "--rm", "-v", dir+":/data", image, "sh", "-c", "echo hello > /data/f")
	checkOwner(t, filepath.Join(dir, "f"), os.Getuid())
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "hello\n" {
		t.Errorf("bind content %q", b)
	}
	// ro: EROFS.
	r := crunIn(t, s, "run", "--rm", "-v", dir+":/data:ro,z", image, "sh", "-c", "echo x > /data/g")
	if r.Code == 0 || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf(":ro bind is writable: %s", r)
	}
	// A missing source is created, like Podman.
	missing := filepath.Join(dir, "made", "by", "run")
	mustCrunIn(t, s, "run", "--rm", "-v", missing+":/m:Z", image, "true")
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Errorf("-v did not create %s: %v", missing, err)
	}
	// A file source binds a file.
	mustCrunIn(t, s, "run", "--rm", "-v", filepath.Join(dir, "f")+":/etc/motd:ro", image, "grep", "hello", "/etc/motd")
	// U gives the source to the container's user: uid 1000 inside is the
	// 1000th subordinate id outside.
	udir := filepath.Join(dir, "u")
	os.Mkdir(udir, 0o755)
	os.WriteFile(filepath.Join(udir, "inner"), nil, 0o644)
	mustCrunIn(t, s, "run", "--rm", "--user", "1000", "-v", udir+":/u:U", image, "sh", "-c", "touch /u/mine")
	outside := 1000 // real root: uid 1000 inside is uid 1000 outside
	if os.Geteuid() != 0 {
		outside = subordinate(t, 1000)
	}
	checkOwner(t, udir, outside)
	checkOwner(t, filepath.Join(udir, "inner"), outside)
	checkOwner(t, filepath.Join(udir, "mine"), outside)
	// rw spelled out: writable.
	mustCrunIn(t, s, "run", "--rm", "-v", dir+":/data:rw", image, "sh", "-c", "echo rw > /data/rw")
	if b, _ := os.ReadFile(filepath.Join(dir, "rw")); string(b) != "rw\n" {
		t.Errorf("-v SRC:DST:rw: the write did not land on the host: %q", b)
	}
	// --mount: the same, and a missing source is an error there.
	r = crunIn(t, s, "run", "--rm", "--mount", "type=bind,source="+dir+",target=/mnt,readonly", image, "sh", "-c", "test -f /mnt/f && touch /mnt/g")
	if r.Code == 0 || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("--mount ...,readonly: want EROFS on a write: %s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "g")); err == nil {
		t.Errorf("--mount ...,readonly: the write landed on the host")
	}
	mustCrunIn(t, s, "run", "--rm", "--mount", "type=bind,src="+dir+",dst=/mnt,ro=false", image, "touch", "/mnt/h")
	checkOwner(t, filepath.Join(dir, "h"), os.Getuid())
	if r := crunIn(t, s, "run", "--rm", "--mount", "type=bind,src=/nonexistent/x,dst=/x", image, "true"); r.Code != 125 {
		t.Errorf("--mount with a missing source: %s", r)
	}
	for _, bad := range []string{"not/a/volume:/x:ro", dir + ":relative", dir + ":/x:bogus", dir} {
		if r := crunIn(t, s, "run", "--rm", "-v", bad, image, "true"); r.Code != 125 || strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("-v %s: want one line and 125: %s", bad, r)
		}
	}
}

func TestTmpfs(t *testing.T) {
	s, image := busyboxStore(t)
	out := mustCrunIn(t, s, "run", "--rm", "--tmpfs", "/scratch:size=1m,mode=700", "--mount", "type=tmpfs,target=/other,tmpfs-size=2m",
		image, "sh", "-c", "grep -E ' /(scratch|other) ' /proc/mounts; stat -c %a /scratch; touch /scratch/x").Stdout
	for _, want := range []string{"tmpfs /scratch tmpfs rw,nosuid,nodev,noexec", "size=1024k", "tmpfs /other tmpfs", "size=2048k", "\n700\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("tmpfs mounts lack %q:\n%s", want, out)
		}
	}
}

func TestNamedVolumes(t *testing.T) {
	s, image := busyboxStore(t)
	mustCrunIn(t, s, "run", "--rm", "-v", "data:/data", image, "sh", "-c", "echo persisted > /data/f")
	if out := mustCrunIn(t, s, "run", "--rm", "-v", "data:/d:ro", image, "cat", "/d/f").Stdout; out != "persisted\n" {
		t.Errorf("a named volume did not keep its data: %q", out)
	}
	if out := mustCrunIn(t, s, "volume", "ls", "-q").Stdout; out != "data\n" {
		t.Errorf("volume ls: %q", out)
	}
	if out := mustCrunIn(t, s, "volume", "inspect", "data").Stdout; !strings.Contains(out, `"Mountpoint"`) {
		t.Errorf("volume inspect: %s", out)
	}
	// A kept container that uses it blocks removal.
	mustCrunIn(t, s, "run", "--name", "user-of-data", "-v", "data:/data", image, "true")
	if r := crunIn(t, s, "volume", "rm", "data"); r.Code != 125 || !strings.Contains(r.Stderr, "user-of-data") {
		t.Errorf("volume rm of a used volume: %s", r)
	}
	mustCrunIn(t, s, "rm", "user-of-data")
	mustCrunIn(t, s, "volume", "rm", "data")
	if out := mustCrunIn(t, s, "volume", "ls", "-q").Stdout; out != "" {
		t.Errorf("volume rm left %q", out)
	}
	// --mount type=volume: the same volumes, made on first use.
	mustCrunIn(t, s, "run", "--rm", "--mount", "type=volume,source=other,target=/o", image, "sh", "-c", "echo via-mount > /o/f")
	if out := mustCrunIn(t, s, "run", "--rm", "-v", "other:/x", image, "cat", "/x/f").Stdout; out != "via-mount\n" {
		t.Errorf("--mount type=volume: -v of the same volume reads %q", out)
	}
	r := crunIn(t, s, "run", "--rm", "--mount", "type=volume,src=other,dst=/o,readonly", image, "sh", "-c", "cat /o/f && touch /o/g")
	if r.Code == 0 || r.Stdout != "via-mount\n" || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("--mount type=volume,readonly: want it read but not written: %s", r)
	}
	if out := mustCrunIn(t, s, "volume", "ls", "-q").Stdout; out != "other\n" {
		t.Errorf("volume ls after --mount type=volume: %q", out)
	}
	if r := crunIn(t, s, "run", "--rm", "--mount", "type=volume,source=../x,target=/o", image, "true"); r.Code != 125 {
		t.Errorf("--mount type=volume with a bad name: %s", r)
	}
}

// TestReadOnly runs on both store kinds: fuse-overlayfs serves the root
// filesystem itself, and must refuse writes as the kernel's overlay does.
func TestReadOnly(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		r := crunIn(t, s, "run", "--rm", "--read-only", image, "sh", "-c", "touch /x")
		if r.Code == 0 || !strings.Contains(r.Stderr, "Read-only file system") {
			t.Errorf("--read-only: / is writable: %s", r)
		}
		mustCrunIn(t, s, "run", "--rm", "--read-only", image, "sh", "-c", "touch /tmp/x /var/tmp/x /run/x /dev/shm/x")
		if r := crunIn(t, s, "run", "--rm", "--read-only", "--read-only-tmpfs=false", image, "touch", "/tmp/x"); r.Code == 0 {
			t.Errorf("--read-only-tmpfs=false: /tmp is writable: %s", r)
		}
		if root := mountinfo(t, s, image, "--read-only")["/"]; !slices.Contains(root.opts, "ro") {
			t.Errorf("--read-only: / is mounted %v", root.opts)
		}
		// Escape: remounting / read-write needs CAP_SYS_ADMIN, which the
		// container does not have.
		for _, cmd := range []string{"mount -o remount,rw /", "mount -o remount,bind,rw /"} {
			if r := crunIn(t, s, "run", "--rm", "--read-only", image, "sh", "-c", cmd+" && touch /x"); r.Code == 0 {
				t.Errorf("%q under --read-only worked: %s", cmd, r)
			}
		}
	})
}

// Podman's default capability set for root, as a mask.
const defaultCapMask = "00000000800405fb"

// capSets reads the five capability sets of the command, by name (CapInh,
// CapPrm, CapEff, CapBnd, CapAmb).
func capSets(t *testing.T, s store, image string, opts ...string) map[string]string {
	t.Helper()
	args := append(append([]string{"run", "--rm"}, opts...), image, "grep", "^Cap", "/proc/self/status")
	sets := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(mustCrunIn(t, s, args...).Stdout), "\n") {
		name, mask, _ := strings.Cut(line, ":")
		sets[name] = strings.TrimSpace(mask)
	}
	if len(sets) != 5 {
		t.Fatalf("capability sets: %v", sets)
	}
	return sets
}

func TestCapabilities(t *testing.T) {
	s, image := busyboxStore(t)
	const none = "0000000000000000"
	// Root: the default set, nothing inheritable (CVE-2022-27649) or
	// ambient; another user: nothing, under the same bounding set.
	for _, c := range []struct {
		opts []string
		want map[string]string
	}{
		{nil, map[string]string{"CapInh": none, "CapPrm": defaultCapMask, "CapEff": defaultCapMask, "CapBnd": defaultCapMask, "CapAmb": none}},
		{[]string{"--user", "1000"}, map[string]string{"CapInh": none, "CapPrm": none, "CapEff": none, "CapBnd": defaultCapMask, "CapAmb": none}},
		{[]string{"--user", "1000", "--cap-add", "NET_ADMIN"}, map[string]string{"CapInh": none, "CapPrm": none, "CapEff": none, "CapBnd": "00000000800415fb", "CapAmb": none}},
	} {
		if got := capSets(t, s, image, c.opts...); !maps.Equal(got, c.want) {
			t.Errorf("%v: capability sets %v, want %v", c.opts, got, c.want)
		}
	}
	capEff := func(opts ...string) string { return capSets(t, s, image, opts...)["CapEff"] }
	if got := capEff("--cap-drop", "ALL"); got != none {
		t.Errorf("--cap-drop ALL: %s", got)
	}
	if got := capEff("--cap-drop", "ALL", "--cap-add", "CAP_CHOWN"); got != "0000000000000001" {
		t.Errorf("--cap-drop ALL --cap-add CAP_CHOWN: %s", got)
	}
	// NET_ADMIN is bit 12, SYS_TIME bit 25.
	if got := capEff("--cap-add", "net_admin"); got != "00000000800415fb" {
		t.Errorf("--cap-add net_admin: %s", got)
	}
	if got := capEff("--cap-add", "NET_ADMIN,sys_time"); got != "00000000820415fb" {
		t.Errorf("--cap-add NET_ADMIN,sys_time (a comma list): %s", got)
	}
	if got := capEff("--cap-drop", "KILL", "--cap-drop", "setuid"); got != "000000008004055b" {
		t.Errorf("--cap-drop KILL --cap-drop setuid: %s", got)
	}
	if got := capEff("--cap-drop", "KILL,CAP_SETUID"); got != "000000008004055b" {
		t.Errorf("--cap-drop KILL,CAP_SETUID (a comma list): %s", got)
	}
	// --privileged: every capability the kernel has and crun-lite holds
	// (in its user namespace that is all of them; as real root, what this
	// root's bounding set keeps).
	last, _ := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	n, _ := strconv.Atoi(strings.TrimSpace(string(last)))
	all := uint64(1)<<(n+1) - 1
	if os.Geteuid() == 0 {
		all &= ownBounding(t)
	}
	if got, want := capEff("--privileged"), fmt.Sprintf("%016x", all); got != want {
		t.Errorf("--privileged: %s, want %s", got, want)
	}
	for _, bad := range []string{"NOT_A_CAP", "CHOWN,NOT_A_CAP"} {
		if r := crunIn(t, s, "run", "--rm", "--cap-add", bad, image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "NOT_A_CAP") {
			t.Errorf("--cap-add %s: %s", bad, r)
		}
	}
}

// The probe's calls the default filter denies. Each is made so that the
// kernel alone answers something other than EPERM, at least on recent
// kernels; kernelMayDeny lists those older kernels (or a rootless caller)
// answer EPERM to as well, where the test cannot tell the filter apart.
var (
	filterDenies  = []string{"keyctl", "request_key", "add_key", "perf_event_open", "bpf", "open_by_handle_at", "kexec_load", "userfaultfd", "unshare-user", "mount"}
	kernelMayDeny = map[string]string{
		"bpf":               "before Linux 6.5 without CAP_BPF while unprivileged BPF is off",
		"open_by_handle_at": "before Linux 6.10 without CAP_DAC_READ_SEARCH",
		"kexec_load":        "without CAP_SYS_BOOT over the host, on kernels with kexec",
	}
)

// TestSeccomp runs the same probe with the default filter and without any:
// a call the filter denies must get EPERM with it and another answer
// without it, or the EPERM could be the kernel's own.
func TestSeccomp(t *testing.T) {
	s, image := busyboxStore(t)
	calls := append(slices.Clone(filterDenies), "getpid")
	filtered := probe(t, s, image, nil, calls...)
	open := probe(t, s, image, []string{"--security-opt", "seccomp=unconfined"}, calls...)
	if filtered["getpid"] != 0 || open["getpid"] != 0 {
		t.Fatalf("getpid fails: %v %v", filtered, open)
	}
	for _, c := range filterDenies {
		t.Run(c, func(t *testing.T) {
			if filtered[c] != int(syscall.EPERM) {
				t.Errorf("%s with the default filter: errno %d, want EPERM", c, filtered[c])
			}
			if open[c] == int(syscall.EPERM) {
				if why, ok := kernelMayDeny[c]; ok {
					t.Skipf("%s: the kernel answers EPERM itself (%s): the filter cannot be told apart here", c, why)
				}
				t.Errorf("%s without a filter: EPERM too, so the EPERM above proves nothing", c)
			}
		})
	}
	status := mustCrunIn(t, s, "run", "--rm", image, "grep", "^Seccomp:", "/proc/self/status").Stdout
	if status != "Seccomp:\t2\n" {
		t.Errorf("no seccomp filter on the process: %q", status)
	}
	if out := mustCrunIn(t, s, "run", "--rm", "--privileged", image, "grep", "^Seccomp:", "/proc/self/status").Stdout; out != "Seccomp:\t0\n" {
		t.Errorf("--privileged still filtered: %q", out)
	}
	// CAP_SYS_ADMIN lifts the mount rule; keyrings stay closed.
	withAdmin := probe(t, s, image, []string{"--cap-add", "SYS_ADMIN"}, "mount-tmpfs", "keyctl")
	if withAdmin["mount-tmpfs"] != 0 || withAdmin["keyctl"] != int(syscall.EPERM) {
		t.Errorf("--cap-add SYS_ADMIN: %v", withAdmin)
	}
	// A profile file in Podman's format.
	profile := filepath.Join(hostDir(t), "profile.json")
	os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}`), 0o644)
	custom := probe(t, s, image, []string{"--security-opt", "seccomp=" + profile}, "mkdir", "keyctl")
	if custom["mkdir"] != int(syscall.EACCES) || custom["keyctl"] != open["keyctl"] {
		t.Errorf("seccomp=FILE: %v, want mkdir EACCES and keyctl as unfiltered (%d)", custom, open["keyctl"])
	}
	os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "sycalls": []}`), 0o644)
	if r := crunIn(t, s, "run", "--rm", "--security-opt", "seccomp="+profile, image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "sycalls") {
		t.Errorf("a profile with a misspelled key: %s", r)
	}
}

// TestSeccompPodmanProfile runs containers under the profile Podman ships:
// its errno names, argument tests and capability rules must all take effect.
func TestSeccompPodmanProfile(t *testing.T) {
	const path = "/usr/share/containers/seccomp.json"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s: %v (package golang-github-containers-common; make test-setup installs it)", path, err)
	}
	s, image := busyboxStore(t)
	opt := []string{"--security-opt", "seccomp=" + path}
	out := mustCrunIn(t, s, append(append([]string{"run", "--rm"}, opt...), image, "sh", "-c", "echo ok > /tmp/f && cat /tmp/f && id -u && ls /etc/passwd")...).Stdout
	if out != "ok\n0\n/etc/passwd\n" {
		t.Errorf("a plain command under Podman's profile: %q", out)
	}
	calls := []string{"userfaultfd", "bpf", "add_key", "socket-audit", "keyctl", "getpid"}
	podman := probe(t, s, image, opt, calls...)
	open := probe(t, s, image, []string{"--security-opt", "seccomp=unconfined"}, calls...)
	for c, want := range map[string]syscall.Errno{
		"userfaultfd":  syscall.EPERM,  // "errno": "EPERM"
		"add_key":      syscall.ENOSYS, // not listed: defaultErrno ENOSYS
		"socket-audit": syscall.EINVAL, // "errno": "EINVAL" on an argument test, without CAP_AUDIT_WRITE
	} {
		if podman[c] != int(want) {
			t.Errorf("%s under Podman's profile: errno %d, want %d (%v)", c, podman[c], want, want)
		}
		if open[c] == int(want) {
			t.Errorf("%s without a filter: errno %d too, the test proves nothing", c, open[c])
		}
	}
	if podman["bpf"] != int(syscall.EPERM) {
		t.Errorf("bpf under Podman's profile (without CAP_SYS_ADMIN): errno %d, want EPERM", podman["bpf"])
	}
	// Podman's profile allows keyctl, which crun-lite's own denies: the
	// file replaced the default filter instead of adding to it.
	if podman["keyctl"] != open["keyctl"] || podman["getpid"] != 0 {
		t.Errorf("keyctl and getpid under Podman's profile: %v, want them as unfiltered: %v", podman, open)
	}
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	root, target, fstype string
	opts                 []string // per-mount options: ro or rw, nosuid, ...
}

// mountinfo returns the container's mounts by mount point (the top one
// where several are stacked), as /proc/self/mountinfo lists them.
func mountinfo(t *testing.T, s store, image string, opts ...string) map[string]mountEntry {
	t.Helper()
	args := append(append([]string{"run", "--rm"}, opts...), image, "cat", "/proc/self/mountinfo")
	out := mustCrunIn(t, s, args...).Stdout
	m := map[string]mountEntry{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		// ID PARENT MAJ:MIN ROOT TARGET OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if len(f) < 7 || sep < 6 || sep+1 >= len(f) {
			t.Fatalf("mountinfo line %q", line)
		}
		m[f[4]] = mountEntry{root: f[3], target: f[4], fstype: f[sep+1], opts: strings.Split(f[5], ",")}
	}
	return m
}

// Paths the defaults must hide or make read-only, as runc and Podman do.
var (
	maskedByDefault = []string{
		"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/proc/scsi", "/proc/interrupts", "/sys/firmware", "/sys/fs/selinux", "/sys/dev/block",
		"/sys/devices/virtual/powercap",
	}
	readonlyByDefault = []string{"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// onHost keeps the paths this kernel has (no /proc/kcore here, say): the
// container's /proc is the same kernel's, its /sys the host's.
func onHost(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	s, image := busyboxStore(t)
	masked, readonly := onHost(maskedByDefault), onHost(readonlyByDefault)
	// Every kernel has these; /proc/sysrq-trigger only with CONFIG_MAGIC_SYSRQ
	// (not this test machine's), and is then checked like the others.
	for _, must := range []string{"/proc/sys", "/proc/irq", "/proc/bus"} {
		if !slices.Contains(readonly, must) {
			t.Fatalf("%s is missing on this host", must)
		}
	}
	if !slices.Contains(readonly, "/proc/sysrq-trigger") {
		t.Logf("this kernel has no /proc/sysrq-trigger: not checked")
	}
	if len(masked) == 0 {
		t.Fatalf("no masked path exists on this host: the test would prove nothing")
	}
	mounts := mountinfo(t, s, image)
	for _, p := range readonly {
		if m, ok := mounts[p]; !ok || !slices.Contains(m.opts, "ro") {
			t.Errorf("%s is not a read-only mount: %+v", p, m)
		}
	}
	// A masked directory has an empty read-only tmpfs on it, a masked file
	// the host's /dev/null.
	script := ""
	for _, p := range masked {
		m, ok := mounts[p]
		fi, _ := os.Stat(p)
		switch {
		case !ok:
			t.Errorf("%s is not masked: no mount on it", p)
		case fi.IsDir() && (m.fstype != "tmpfs" || !slices.Contains(m.opts, "ro")):
			t.Errorf("%s: want a read-only tmpfs on it, got %+v", p, m)
		case !fi.IsDir() && m.root != "/null":
			t.Errorf("%s: want /dev/null bound on it, got %+v", p, m)
		}
		if fi.IsDir() {
			script += "ls -A " + p + " | wc -l; "
		} else {
			script += "wc -c < " + p + "; "
		}
	}
	if out := mustCrunIn(t, s, "run", "--rm", image, "sh", "-c", script).Stdout; out != strings.Repeat("0\n", len(masked)) {
		t.Errorf("masked paths show something (%v):\n%s", masked, out)
	}
	// Writes fail on the read-only ones, even for container root.
	if r := crunIn(t, s, "run", "--rm", image, "sh", "-c", "echo x > /proc/sys/kernel/hostname"); r.Code == 0 || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("/proc/sys is writable: %s", r)
	}
	untouched := func(what string, mounts map[string]mountEntry, paths []string) {
		t.Helper()
		for _, p := range paths {
			if m, ok := mounts[p]; ok {
				t.Errorf("%s: %s still has a mount: %+v", what, p, m)
			}
		}
	}
	all := append(slices.Clone(masked), readonly...)
	untouched("--privileged", mountinfo(t, s, image, "--privileged"), all)
	// unmask=ALL lifts the masks and the read-only paths; mask= still adds.
	un := mountinfo(t, s, image, "--security-opt", "unmask=ALL", "--security-opt", "mask=/proc/cpuinfo")
	untouched("unmask=ALL", un, all)
	if m, ok := un["/proc/cpuinfo"]; !ok || m.root != "/null" {
		t.Errorf("mask=/proc/cpuinfo with unmask=ALL: %+v", m)
	}
	// unmask= of some paths keeps the others.
	one := mountinfo(t, s, image, "--security-opt", "unmask="+masked[0]+":/proc/sys")
	untouched("unmask="+masked[0]+":/proc/sys", one, []string{masked[0], "/proc/sys"})
	if _, ok := one["/proc/irq"]; !ok {
		t.Errorf("unmask=%s:/proc/sys also made /proc/irq writable", masked[0])
	}
	if len(masked) > 1 {
		if _, ok := one[masked[1]]; !ok {
			t.Errorf("unmask=%s also unmasked %s", masked[0], masked[1])
		}
	}
}

func TestNoNewPrivileges(t *testing.T) {
	s, image := busyboxStore(t)
	if out := mustCrunIn(t, s, "run", "--rm", image, "grep", "NoNewPrivs", "/proc/self/status").Stdout; out != "NoNewPrivs:\t0\n" {
		t.Errorf("default (Podman's: off): %q", out)
	}
	if out := mustCrunIn(t, s, "run", "--rm", "--security-opt", "no-new-privileges", image, "grep", "NoNewPrivs", "/proc/self/status").Stdout; out != "NoNewPrivs:\t1\n" {
		t.Errorf("no-new-privileges: %q", out)
	}
}

func TestKeepID(t *testing.T) {
	skipIfRoot(t, "keep-id is for rootless use")
	for _, img := range []struct{ name, ref string }{{"busybox", "/test/busybox:latest"}, {"debian", "/test/debian:latest"}} {
		t.Run(img.name, func(t *testing.T) {
			if img.name == "debian" {
				requireDebian(t)
			}
			s := testStore(t)
			image := Registry + img.ref
			mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
			dir := hostDir(t)
			out := mustCrunIn(t, s, "run", "--rm", "--userns=keep-id:uid=2000,gid=2000", "-v", dir+":/data", image, "sh", "-c",
				`id -u; id -g; stat -c %u:%g /bin /etc/passwd; stat -c %u /data; echo $HOME; grep ':2000:2000:' /etc/passwd | cut -d: -f1; touch /data/from-keep-id`).Stdout
			lines := strings.Split(strings.TrimSpace(out), "\n")
			me := os.Getenv("USER")
			want := []string{"2000", "2000", "0:0", "0:0", "2000", os.Getenv("HOME"), me}
			if len(lines) != len(want) {
				t.Fatalf("keep-id output:\n%s", out)
			}
			for i := range want {
				if lines[i] != want[i] {
					t.Errorf("keep-id line %d: %q, want %q (all: %q)", i, lines[i], want[i], lines)
				}
			}
			// What the kept user writes in a bind mount is the host user's.
			checkOwner(t, filepath.Join(dir, "from-keep-id"), os.Getuid())
			// Without uid=, the host uid itself.
			if out := mustCrunIn(t, s, "run", "--rm", "--userns=keep-id", image, "id", "-u").Stdout; out != strconv.Itoa(os.Getuid())+"\n" {
				t.Errorf("--userns=keep-id: id -u = %q", out)
			}
		})
	}
	s, image := busyboxStore(t)
	for _, bad := range []string{"host", "auto", "keep-id:uid=x", "keep-id:size=3"} {
		if r := crunIn(t, s, "run", "--rm", "--userns="+bad, image, "true"); r.Code != 125 || strings.Count(r.Stderr, "\n") > 2 {
			t.Errorf("--userns=%s: want a clear refusal: %s", bad, r)
		}
	}
}

// TestEscapes tries ways out of the container that must all fail.
func TestEscapes(t *testing.T) {
	s, image := busyboxStore(t)
	dir := hostDir(t)
	secretDir := hostDir(t)
	os.WriteFile(filepath.Join(secretDir, "secret"), []byte("host secret\n"), 0o644)
	// A symlink in a bind source pointing outside resolves inside the container.
	if err := os.Symlink(secretDir, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	r := crunIn(t, s, "run", "--rm", "-v", dir+":/data", image, "sh", "-c", "cat /data/escape/secret; echo x > /data/escape/planted")
	if strings.Contains(r.Stdout, "host secret") {
		t.Errorf("a symlink in a bind source reached the host: %s", r)
	}
	if _, err := os.Stat(filepath.Join(secretDir, "planted")); err == nil {
		t.Errorf("a write through a symlink in a bind source landed on the host")
	}
	// /proc/*/root leads only into the container: no host path is reachable.
	marker := filepath.Join(secretDir, "secret")
	r = crunIn(t, s, "run", "--rm", image, "sh", "-c",
		"for p in /proc/[0-9]*/root /proc/self/root/.. /proc/1/cwd/../..; do cat $p"+marker+" 2>/dev/null; echo x > $p"+secretDir+"/planted2 2>/dev/null; done; true")
	if strings.Contains(r.Stdout, "host secret") {
		t.Errorf("/proc/*/root reached a host file: %s", r)
	}
	if _, err := os.Stat(filepath.Join(secretDir, "planted2")); err == nil {
		t.Errorf("/proc/*/root wrote a host file")
	}
	// Host files readable through a bind are only those the user can read.
	if os.Geteuid() == 0 {
		return // real root reads /etc/shadow anyway
	}
	r = crunIn(t, s, "run", "--rm", "-v", "/etc:/hostetc:ro", image, "cat", "/hostetc/shadow")
	if r.Code == 0 || !strings.Contains(r.Stderr, "Permission denied") {
		t.Errorf("the host's /etc/shadow is readable through a bind: %s", r)
	}
}

func checkOwner(t *testing.T, path string, uid int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	if int(st.Uid) != uid {
		t.Errorf("%s is owned by %d on the host, want %d", path, st.Uid, uid)
	}
}

// subordinate returns the host uid of container uid n (n >= 1): the n-th id
// of the user's first subordinate range.
func subordinate(t *testing.T, n int) int {
	t.Helper()
	data, err := os.ReadFile("/etc/subuid")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 3 && (f[0] == os.Getenv("USER") || f[0] == strconv.Itoa(os.Getuid())) {
			start, _ := strconv.Atoi(f[1])
			return start + n - 1
		}
	}
	t.Fatal("no subordinate range for the test user")
	return 0
}

// ownBounding is the test process's bounding set: what crun-lite can give.
func ownBounding(t *testing.T) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no CapBnd in /proc/self/status")
	return 0
}
