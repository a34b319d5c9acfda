//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// inspected is what the tests read of container inspect's JSON, in
// Podman's keys and types.
type inspected struct {
	ID      string    `json:"Id"`
	Created time.Time `json:"Created"`
	Path    string    `json:"Path"`
	Args    []string  `json:"Args"`
	State   struct {
		Status     string    `json:"Status"`
		Running    bool      `json:"Running"`
		Paused     bool      `json:"Paused"`
		Pid        int       `json:"Pid"`
		ExitCode   int       `json:"ExitCode"`
		StartedAt  time.Time `json:"StartedAt"`
		FinishedAt time.Time `json:"FinishedAt"`
	} `json:"State"`
	Image     string `json:"Image"`
	ImageName string `json:"ImageName"`
	Name      string `json:"Name"`
	Mounts    []struct {
		Type        string `json:"Type"`
		Source      string `json:"Source"`
		Destination string `json:"Destination"`
		RW          bool   `json:"RW"`
	} `json:"Mounts"`
	Config struct {
		Hostname   string   `json:"Hostname"`
		User       string   `json:"User"`
		Env        []string `json:"Env"`
		Cmd        []string `json:"Cmd"`
		Entrypoint string   `json:"Entrypoint"`
		WorkingDir string   `json:"WorkingDir"`
		StopSignal uint     `json:"StopSignal"`
		Tty        bool     `json:"Tty"`
		OpenStdin  bool     `json:"OpenStdin"`
	} `json:"Config"`
	HostConfig struct {
		AutoRemove     bool     `json:"AutoRemove"`
		Privileged     bool     `json:"Privileged"`
		CapAdd         []string `json:"CapAdd"`
		CapDrop        []string `json:"CapDrop"`
		ReadonlyRootfs bool     `json:"ReadonlyRootfs"`
		NetworkMode    string   `json:"NetworkMode"`
	} `json:"HostConfig"`
}

// inspectOne runs inspect args and decodes its one object, checking that
// the arrays Podman never leaves null are arrays.
func inspectOne(t *testing.T, s store, args ...string) inspected {
	t.Helper()
	r := mustCrunIn(t, s, append([]string{"inspect"}, args...)...)
	var out []inspected
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %v: want a JSON array of one container (%v):\n%s", args, err, r)
	}
	// Podman's types: arrays stay arrays when empty, never null.
	var raw []map[string]any
	_ = json.Unmarshal([]byte(r.Stdout), &raw)
	for _, k := range []string{"Args", "Mounts"} {
		if _, ok := raw[0][k].([]any); !ok {
			t.Errorf("inspect %v: %s is %v, want an array", args, k, raw[0][k])
		}
	}
	hc, _ := raw[0]["HostConfig"].(map[string]any)
	for _, k := range []string{"CapAdd", "CapDrop"} {
		if _, ok := hc[k].([]any); !ok {
			t.Errorf("inspect %v: HostConfig.%s is %v, want an array", args, k, hc[k])
		}
	}
	return out[0]
}

// inspect of a running, an exited and a --rm container: the fields say
// what run was asked (--name, -e, --user, -v, the command, the exit
// code), a kept container's spec survives its run, and an image is
// inspected when no container has the name.
func TestInspectContainers(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	data := t.TempDir()
	id := detach(t, s, "--name", "web", "-e", "FOO=bar", "--user", "1000", "-v", data+":/data", image, "sleep", "1000")
	d := inspectOne(t, s, "web")
	if d.ID != id || d.Name != "web" || d.Path != "sleep" || !slices.Equal(d.Args, []string{"1000"}) {
		t.Errorf("inspect: Id %q Name %q Path %q Args %q, want %s web sleep [1000]", d.ID, d.Name, d.Path, d.Args, id)
	}
	if d.State.Status != "running" || !d.State.Running || d.State.Paused || d.State.Pid <= 0 || d.State.ExitCode != 0 {
		t.Errorf("inspect of a running container: State %+v", d.State)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(d.State.Pid)); err != nil {
		t.Errorf("State.Pid %d is no process: %v", d.State.Pid, err)
	}
	if d.State.StartedAt.Before(d.Created) || !d.State.FinishedAt.IsZero() {
		t.Errorf("Created %v, StartedAt %v, FinishedAt %v", d.Created, d.State.StartedAt, d.State.FinishedAt)
	}
	if !hexID.MatchString(d.Image+"\n") || d.ImageName != image {
		t.Errorf("Image %q ImageName %q, want the image's ID and %s", d.Image, d.ImageName, image)
	}
	if !slices.Contains(d.Config.Env, "FOO=bar") || d.Config.User != "1000" || !slices.Equal(d.Config.Cmd, []string{"sleep", "1000"}) ||
		d.Config.Entrypoint != "" || d.Config.WorkingDir != "/" || d.Config.Hostname != id[:12] || d.Config.StopSignal != 15 || d.Config.Tty {
		t.Errorf("Config: %+v", d.Config)
	}
	if len(d.Mounts) != 1 || d.Mounts[0].Type != "bind" || d.Mounts[0].Source != data || d.Mounts[0].Destination != "/data" || !d.Mounts[0].RW {
		t.Errorf("Mounts: %+v", d.Mounts)
	}
	if hc := d.HostConfig; hc.AutoRemove || hc.Privileged || hc.ReadonlyRootfs || hc.NetworkMode != "bridge" || len(hc.CapAdd) != 0 || len(hc.CapDrop) != 0 {
		t.Errorf("HostConfig: %+v", hc)
	}
	if r := mustCrunIn(t, s, "inspect", "--format", "{{.State.Status}}", "web"); r.Stdout != "running\n" {
		t.Errorf("inspect --format '{{.State.Status}}': %q", r.Stdout)
	}
	if r := mustCrunIn(t, s, "container", "inspect", "-f", "{{.Name}} {{.Config.User}} {{.State.Pid}}", id[:12]); r.Stdout != "web 1000 "+strconv.Itoa(d.State.Pid)+"\n" {
		t.Errorf("container inspect -f by ID prefix: %q", r.Stdout)
	}

	// Exited: its run dir is gone, what inspect shows is not.
	mustCrunIn(t, s, "stop", "-t", "0", "web")
	waitFor(t, "the run dir to go", func() bool { return len(monitors(t, s)) == 0 && len(runDirs(t, s)) == 0 })
	d = inspectOne(t, s, "web")
	if d.State.Status != "exited" || d.State.Running || d.State.Pid != 0 || d.State.ExitCode != 137 || d.State.FinishedAt.Before(d.State.StartedAt) {
		t.Errorf("inspect after stop: State %+v", d.State)
	}
	if !slices.Contains(d.Config.Env, "FOO=bar") || d.Config.User != "1000" || len(d.Mounts) != 1 {
		t.Errorf("inspect after stop lost the spec: Config %+v Mounts %+v", d.Config, d.Mounts)
	}

	// A foreground kept run: its exit code, and the options of the spec.
	crunIn(t, s, "run", "--name", "ex", "--cap-drop", "CHOWN", "--cap-add", "NET_ADMIN", "--read-only", "-w", "/tmp", image, "sh", "-c", "exit 3")
	d = inspectOne(t, s, "ex")
	if d.State.Status != "exited" || d.State.ExitCode != 3 || !slices.Equal(d.Config.Cmd, []string{"sh", "-c", "exit 3"}) || d.Config.WorkingDir != "/tmp" {
		t.Errorf("inspect of a run that exited 3: State %+v Config %+v", d.State, d.Config)
	}
	if hc := d.HostConfig; !slices.Equal(hc.CapAdd, []string{"CAP_NET_ADMIN"}) || !slices.Equal(hc.CapDrop, []string{"CAP_CHOWN"}) || !hc.ReadonlyRootfs {
		t.Errorf("HostConfig of --cap-add NET_ADMIN --cap-drop CHOWN --read-only: %+v", hc)
	}

	// --rm, running: only its run dir knows it.
	rid := detach(t, s, "--rm", "--name", "tmp", image, "sleep", "1000")
	d = inspectOne(t, s, "tmp")
	if d.ID != rid || !d.HostConfig.AutoRemove || d.State.Status != "running" || d.Name != "tmp" {
		t.Errorf("inspect of a --rm container: Id %q Name %q AutoRemove %v State %+v", d.ID, d.Name, d.HostConfig.AutoRemove, d.State)
	}
	mustCrunIn(t, s, "rm", "-f", "tmp")

	// No container of that name: the image; neither: Podman's words.
	r := mustCrunIn(t, s, "inspect", "--format", "{{.ID}}", image)
	if !hexID.MatchString(r.Stdout) {
		t.Errorf("inspect IMAGE: %s", r)
	}
	if r := crunIn(t, s, "inspect", "--type", "container", image); r.Code != 125 || !strings.Contains(r.Stderr, "no such container") {
		t.Errorf("inspect --type container IMAGE:\n%s", r)
	}
	if r := crunIn(t, s, "inspect", "nosuch"); r.Code != 125 || r.Stderr != "Error: no such object: \"nosuch\"\n" {
		t.Errorf("inspect nosuch:\n%s", r)
	}
	// One missing among several: the others are printed, as Podman does.
	r = crunIn(t, s, "inspect", "--format", "{{.Name}}", "nosuch", "ex", "web")
	if r.Code != 125 || r.Stdout != "ex\nweb\n" || !strings.Contains(r.Stderr, `no such object: "nosuch"`) {
		t.Errorf("inspect nosuch ex web:\n%s", r)
	}
	if r := crunIn(t, s, "container", "inspect", "web", "nosuch"); r.Code != 125 || !strings.Contains(r.Stdout, `"Name": "web"`) {
		t.Errorf("container inspect web nosuch:\n%s", r)
	}
	mustCrunIn(t, s, "rm", "web", "ex")
}

// top lists the container's processes, and only them: pid 1 as the
// container sees it, a child with its PPID, an exec'd process as its
// user; descriptors pick the columns.
func TestTop(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	detach(t, s, "--name", "tp", image, "sh", "-c", "sleep 1000 & exec sleep 999")
	waitFor(t, "the container's child", func() bool {
		return strings.Contains(crunIn(t, s, "top", "tp").Stdout, "sleep 1000")
	})
	mustCrunIn(t, s, "exec", "-d", "-u", "1000", "tp", "sleep", "998")
	var rows [][]string
	waitFor(t, "the exec'd process", func() bool {
		rows = nil
		for _, l := range strings.Split(strings.TrimSpace(mustCrunIn(t, s, "top", "tp").Stdout), "\n") {
			rows = append(rows, strings.Fields(l))
		}
		return len(rows) == 4
	})
	if h := strings.Join(rows[0], " "); h != "USER PID PPID %CPU ELAPSED TTY TIME COMMAND" {
		t.Errorf("top's header: %q", h)
	}
	want := []string{"root 1 0 sleep 999", "root 2 1 sleep 1000", "user 3 0 sleep 998"}
	for i, w := range want {
		r := rows[i+1]
		if len(r) < 9 {
			t.Fatalf("top row %q", r)
		}
		if got := strings.Join(append(r[:3:3], r[7:]...), " "); got != w {
			t.Errorf("top row %d: %q, want %q (USER PID PPID COMMAND)", i+1, got, w)
		}
		if r[5] != "?" {
			t.Errorf("TTY of a detached process: %q", r[5])
		}
	}
	if r := mustCrunIn(t, s, "top", "tp", "pid,args"); !strings.HasPrefix(r.Stdout, "PID") || !strings.Contains(r.Stdout, "1           sleep 999") {
		t.Errorf("top tp pid,args:\n%s", r)
	}
	if r := crunIn(t, s, "top", "tp", "bogus"); r.Code != 125 || !strings.Contains(r.Stderr, "unknown descriptor: bogus") {
		t.Errorf("top with an unknown descriptor:\n%s", r)
	}
	mustCrunIn(t, s, "stop", "-t", "0", "tp")
	if r := crunIn(t, s, "top", "tp"); r.Code != 125 {
		t.Errorf("top of an exited container: want 125:\n%s", r)
	}
	if r := crunIn(t, s, "top", "nosuch"); r.Code != 125 || r.Stderr != "Error: no container with name or ID \"nosuch\" found: no such container\n" {
		t.Errorf("top nosuch:\n%s", r)
	}
	mustCrunIn(t, s, "rm", "tp")
}

// rename: a running kept container, an exited one and a running --rm one
// are found by their new names only (names that are no hex digits: "a"
// would also be the prefix of a random ID); a name in use is refused in
// Podman's words.
func TestRename(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	id := detach(t, s, "--name", "one", image, "sleep", "1000")
	mustCrunIn(t, s, "run", "--name", "two", image, "true")
	if r := mustCrunIn(t, s, "rename", "one", "one2"); r.Stdout != "" {
		t.Errorf("rename prints nothing:\n%s", r)
	}
	mustCrunIn(t, s, "exec", "one2", "true")
	if d := inspectOne(t, s, "one2"); d.ID != id || d.Name != "one2" {
		t.Errorf("inspect a2 after the rename: Id %q Name %q", d.ID, d.Name)
	}
	if l := psLine(t, s, "one2"); !strings.HasPrefix(l, id[:12]) {
		t.Errorf("ps -a after the rename: %q", l)
	}
	if r := crunIn(t, s, "exec", "one", "true"); r.Code != 125 || !strings.Contains(r.Stderr, `no container with name or ID "one" found`) {
		t.Errorf("the old name still answers:\n%s", r)
	}
	r := crunIn(t, s, "rename", "two", "one2")
	if r.Code != 125 || !strings.Contains(r.Stderr, `the container name "one2" is already in use by `+id) {
		t.Errorf("rename to a name in use:\n%s", r)
	}
	mustCrunIn(t, s, "rename", "two", "two2")
	if psLine(t, s, "two2") == "" || psLine(t, s, "two") != "" {
		t.Errorf("ps -a after renaming the exited b to b2:\n%s", mustCrunIn(t, s, "ps", "-a").Stdout)
	}
	detach(t, s, "--rm", "--name", "r", image, "sleep", "1000")
	mustCrunIn(t, s, "rename", "r", "r2")
	mustCrunIn(t, s, "exec", "r2", "true")
	if psLine(t, s, "r2") == "" {
		t.Errorf("ps -a after renaming the --rm r:\n%s", mustCrunIn(t, s, "ps", "-a").Stdout)
	}
	if r := crunIn(t, s, "rename", "nosuch", "x"); r.Code != 125 || r.Stderr != "Error: no container with name or ID \"nosuch\" found: no such container\n" {
		t.Errorf("rename nosuch:\n%s", r)
	}
	mustCrunIn(t, s, "rm", "-f", "one2", "two2", "r2")
	assertNoRunDirs(t, s)
}

// container prune removes the exited containers, prints their IDs, and
// leaves the running one alone.
func TestPrune(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	var want []string
	for _, n := range []string{"e1", "e2"} {
		crunIn(t, s, "run", "--name", n, image, "sh", "-c", "exit 2")
		want = append(want, inspectOne(t, s, n).ID)
	}
	running := detach(t, s, "--name", "up", image, "sleep", "1000")
	r := mustCrunIn(t, s, "container", "prune", "-f")
	got := strings.Fields(r.Stdout)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("container prune -f printed %q, want the exited ones' IDs %q", got, want)
	}
	if q := mustCrunIn(t, s, "ps", "-aq", "--no-trunc").Stdout; q != running+"\n" {
		t.Errorf("ps -a after prune: %q, want only the running one", q)
	}
	mustCrunIn(t, s, "exec", "up", "true")
	if r := mustCrunIn(t, s, "container", "prune", "-f"); r.Stdout != "" {
		t.Errorf("a second prune removed:\n%s", r)
	}
	mustCrunIn(t, s, "rm", "-f", "up")
}

// cp both ways, running and exited, on every store kind: symlinks in the
// container that point out of it (an absolute host path, ../ escapes)
// name the container's files, so the host's file is never read nor
// written; trees keep their files and symlinks; tar streams go both ways,
// and one with ../ names stays in its directory.
func TestCp(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		host := t.TempDir()
		secret := filepath.Join(host, "secret")
		if err := os.WriteFile(secret, []byte("host-secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		checkSecret := func(when string) {
			t.Helper()
			if b, err := os.ReadFile(secret); err != nil || string(b) != "host-secret\n" {
				t.Fatalf("%s: the host's file changed: %q %v", when, b, err)
			}
		}
		detach(t, s, "--name", "c", image, "sleep", "1000")
		mustCrunIn(t, s, "exec", "c", "sh", "-c", "mkdir -p "+host+" && echo inside > "+secret+
			" && ln -s "+secret+" /etc/abs && ln -s ../../../../../../../.."+secret+" /etc/rel"+
			" && mkdir -p /d/sub && echo a > /d/a && echo b > /d/sub/b && ln -s /etc/passwd /d/lnk")
		out := t.TempDir()

		// Out, through links that point out of the container.
		for _, l := range []string{"abs", "rel"} {
			dst := filepath.Join(out, l)
			mustCrunIn(t, s, "cp", "c:/etc/"+l, dst)
			if b, err := os.ReadFile(dst); err != nil || string(b) != "inside\n" {
				t.Errorf("cp c:/etc/%s: got %q %v, want the container's file", l, b, err)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(dst, &st); err != nil || int(st.Uid) != os.Getuid() {
				t.Errorf("cp c:/etc/%s: the copy belongs to uid %d, want ours, %d", l, st.Uid, os.Getuid())
			}
		}
		// In, through them and through ../.
		src := filepath.Join(out, "new")
		for i, dst := range []string{"c:/etc/abs", "c:/etc/rel", "c:/../../../.." + secret} {
			content := "new" + strconv.Itoa(i) + "\n"
			if err := os.WriteFile(src, []byte(content), 0o640); err != nil {
				t.Fatal(err)
			}
			mustCrunIn(t, s, "cp", src, dst)
			checkSecret("cp to " + dst)
			if r := mustCrunIn(t, s, "exec", "c", "sh", "-c", "cat "+secret+"; stat -c %u:%g:%a "+secret); r.Stdout != content+"0:0:640\n" {
				t.Errorf("cp to %s: the container's file: %q, want %q and 0:0:640", dst, r.Stdout, content)
			}
		}

		// A tree out, into an existing dir, and back in as a new one.
		mustCrunIn(t, s, "cp", "c:/d", out)
		for f, want := range map[string]string{"d/a": "a\n", "d/sub/b": "b\n"} {
			if b, err := os.ReadFile(filepath.Join(out, f)); err != nil || string(b) != want {
				t.Errorf("cp c:/d %s: %s is %q %v", out, f, b, err)
			}
		}
		if l, err := os.Readlink(filepath.Join(out, "d/lnk")); err != nil || l != "/etc/passwd" {
			t.Errorf("cp of a tree: d/lnk is %q %v, want the symlink itself", l, err)
		}
		mustCrunIn(t, s, "cp", filepath.Join(out, "d"), "c:/newd")
		if r := mustCrunIn(t, s, "exec", "c", "sh", "-c", "cat /newd/a /newd/sub/b; readlink /newd/lnk; stat -c %u /newd/sub/b"); r.Stdout != "a\nb\n/etc/passwd\n0\n" {
			t.Errorf("cp of a dir into the container: %q", r.Stdout)
		}

		// Tar streams.
		r := mustCrunIn(t, s, "cp", "c:/d", "-")
		names := tarNames(t, r.Stdout)
		if !slices.Equal(names, []string{"d/", "d/a", "d/lnk", "d/sub/", "d/sub/b"}) {
			t.Errorf("cp c:/d -: entries %q", names)
		}
		mustCrunIn(t, s, "exec", "c", "mkdir", "/tdir")
		evil := makeTar(t, map[string]string{"t/x": "x\n", "../../../../" + host + "/escaped": "evil\n"})
		if r := crunWithStdin(t, s, evil, "cp", "-", "c:/tdir"); r.Code != 0 {
			t.Fatalf("cp - c:/tdir:\n%s", r)
		}
		if _, err := os.Stat(filepath.Join(host, "escaped")); err == nil {
			t.Errorf("a ../ name of a tar stream was written on the host")
		}
		if r := mustCrunIn(t, s, "exec", "c", "cat", "/tdir/t/x", "/tdir"+host+"/escaped"); r.Stdout != "x\nevil\n" {
			t.Errorf("the tar stream inside: %q", r.Stdout)
		}

		// Exited: its storage rootfs, both ways.
		mustCrunIn(t, s, "stop", "-t", "0", "c")
		mustCrunIn(t, s, "cp", "c:/d/sub/b", filepath.Join(out, "b-exited"))
		if b, _ := os.ReadFile(filepath.Join(out, "b-exited")); string(b) != "b\n" {
			t.Errorf("cp out of an exited container: %q", b)
		}
		mustCrunIn(t, s, "cp", src, "c:/etc/abs")
		checkSecret("cp into the exited container")
		mustCrunIn(t, s, "cp", "c:"+secret, filepath.Join(out, "after"))
		if b, _ := os.ReadFile(filepath.Join(out, "after")); string(b) != "new2\n" {
			t.Errorf("cp into the exited container, then out: %q", b)
		}

		if r := crunIn(t, s, "cp", "nosuch:/x", out); r.Code != 125 || r.Stderr != "Error: no container with name or ID \"nosuch\" found: no such container\n" {
			t.Errorf("cp nosuch:/x:\n%s", r)
		}
		if r := crunIn(t, s, "cp", "c:/nonexistent", out); r.Code != 125 {
			t.Errorf("cp of a missing file: want 125:\n%s", r)
		}
		mustCrunIn(t, s, "rm", "c")
		assertNoRunDirs(t, s)
	})
}

// tarNames lists a tar stream's entries, sorted.
func tarNames(t *testing.T, stream string) []string {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(stream))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	return names
}

// makeTar makes a tar stream of files, names as given.
func makeTar(t *testing.T, files map[string]string) string {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for n, c := range files {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(c))
	}
	_ = tw.Close()
	return b.String()
}
