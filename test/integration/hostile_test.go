//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ownCopy copies the binaries under test (crun-lite and crun-lite-full
// beside it) into a directory of the user running the tests, as
// `make install PREFIX=~/.local` or a build tree leaves them: files the
// user, and so container root, owns.
func ownCopy(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{filepath.Base(Bin), "crun-lite-full"} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(Bin), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, filepath.Base(Bin))
}

// TestHostileImageCannotChangeBinary is the regression test of
// CVE-2019-5736 in crun-lite: an image whose command is /proc/self/exe
// runs crun-lite's own binary inside the container, with the image's
// loader and LD_PRELOAD, and tries to make it setuid, set an xattr on it
// and write it. Every attempt must fail and the file stay as it was,
// with and without --init, and the same through a "#!/proc/self/exe"
// script.
func TestHostileImageCannotChangeBinary(t *testing.T) {
	requireDebian(t)
	dir := t.TempDir()
	so := filepath.Join(dir, "evil.so")
	if out, err := exec.Command("cc", "-shared", "-fPIC", "-o", so, "testdata/evil-exe.c").CombinedOutput(); err != nil {
		t.Fatalf("cc evil-exe.c: %v\n%s", err, out)
	}
	evil, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	// The command is /proc/self/exe itself, or a script of the image whose
	// interpreter it is: the kernel then runs the binary of the process
	// that execs the script.
	script := tarEntry{Header: tar.Header{Name: "evil.sh", Mode: 0o755, Typeflag: tar.TypeReg}, Data: []byte("#!/proc/self/exe\n")}
	for name, ep := range map[string]string{"test/evil-exe": "/proc/self/exe", "test/evil-shebang": "/evil.sh"} {
		l := newOCILayout(t)
		push(t, l.tag(l.imageWith(runtime.GOARCH, []testLayer{testImageLayer(t, "debian"), layerOf(t, map[string][]byte{"evil.so": evil}), layerOfEntries(t, []tarEntry{script})},
			map[string]any{"Entrypoint": []string{ep}, "Env": []string{"PATH=/usr/bin:/bin", "LD_PRELOAD=/evil.so"}})),
			Registry, name)
	}
	image, shebang := Registry+"/test/evil-exe", Registry+"/test/evil-shebang"

	bin := ownCopy(t)
	before, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	s.Bin = bin
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", shebang)
	for _, args := range [][]string{{"run", "--rm", image}, {"run", "--rm", "--init", image}, {"run", "--rm", shebang}, {"run", "--rm", "--init", shebang}} {
		r := crunIn(t, s, args...)
		name := strings.Join(args[:len(args)-1], " ") + " " + args[len(args)-1][len(Registry)+1:]
		// The attack ran (its lines are there) and each step failed.
		if !strings.Contains(r.Stdout, "chmod: ") || !strings.Contains(r.Stdout, "setxattr: ") {
			t.Fatalf("%s: the hostile library did not run: %s", name, r)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			if strings.HasSuffix(line, ": ok") {
				t.Errorf("%s: the container changed the binary: %q\n%s", name, line, r)
			}
		}
		var st unix.Stat_t
		if err := unix.Stat(bin, &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&0o7777 != 0o755 {
			t.Errorf("%s: binary mode is now %04o, want 0755", name, st.Mode&0o7777)
		}
		if n, err := unix.Getxattr(bin, "user.evil", make([]byte, 8)); err == nil {
			t.Errorf("%s: binary has the container's xattr user.evil (%d bytes)", name, n)
		}
		if after, err := os.ReadFile(bin); err != nil || !bytes.Equal(before, after) {
			t.Errorf("%s: binary content changed (%v)", name, err)
		}
	}
}

// TestRefusesSetID: crun-lite installed set-user-id for another user
// would run what any caller names as that user: it refuses to start.
func TestRefusesSetID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a binary set-user-id for another user needs root (make test-root)")
	}
	bin := ownCopy(t)
	if err := os.Chown(bin, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(bin, 0o4755); err != nil { // os.Chmod wants os.ModeSetuid
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--version"}, {"run", "--rm", Registry + "/test/busybox", "true"}} {
		r := crunIn(t, store{Bin: bin}, args...)
		if r.Code != 125 || !strings.Contains(r.Stderr, "refusing to run set-user-id") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("set-user-id crun-lite %s: want exit 125 and one line refusing: %s", strings.Join(args, " "), r)
		}
	}
}

// TestHostilePasswdFIFO: an image whose /etc/passwd is a FIFO made run
// hang forever in open(2), waiting for a writer that never comes. It must
// fail at once with 125 and say which file is wrong, whoever the user is,
// and leave no container behind.
func TestHostilePasswdFIFO(t *testing.T) {
	l := newOCILayout(t)
	push(t, l.tag(l.image(runtime.GOARCH, []testLayer{busyboxLayer(t), layerOfEntries(t, []tarEntry{fifoEntry("etc/passwd")})})),
		Registry, "test/passwd-fifo")
	image := Registry + "/test/passwd-fifo"
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	runs := [][]string{
		{"run", "--rm", image, "true"},
		{"run", "--rm", "--user", "1000:1000", image, "true"},
		{"run", "--rm", "-t", image, "true"},
	}
	if _, err := exec.LookPath("fuse-overlayfs"); err == nil && os.Geteuid() != 0 {
		// keep-id reads /etc/passwd itself, to add the kept user to it.
		runs = append(runs, []string{"run", "--rm", "--userns=keep-id", image, "true"})
	}
	const msg = "/etc/passwd of the image is a FIFO, not a regular file"
	for _, args := range runs {
		start := time.Now()
		r := crunIn(t, s, args...)
		took := time.Since(start)
		name := strings.Join(args[:len(args)-2], " ")
		t.Logf("%s: exit %d after %v: %s", name, r.Code, took.Round(time.Millisecond), strings.TrimSpace(r.Stderr))
		if r.Code != 125 || !strings.Contains(r.Stderr, msg) {
			t.Errorf("%s: want exit 125 and %q: %s", name, msg, r)
		}
		if took > 20*time.Second {
			t.Errorf("%s: took %v to fail", name, took)
		}
	}
	if ps := mustCrunIn(t, s, "ps", "-a", "-q").Stdout; ps != "" {
		t.Errorf("containers left behind: %q", ps)
	}
}

// victim is a directory of the host, outside every store, that hostile
// images aim at: a file in it, and /etc/passwd, must stay as they are, and
// nothing may appear beside them. It is world-writable so that a write
// that escaped the store would succeed whatever id it ran as.
type victim struct {
	dir, file string
	data      []byte
	st        unix.Stat_t
	passwd    []byte
	passwdSt  unix.Stat_t
}

func newVictim(t *testing.T) *victim {
	t.Helper()
	dir, err := os.MkdirTemp("", "crl-victim-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeStoreDir(t, dir) })
	v := &victim{dir: dir, file: filepath.Join(dir, "victim"), data: []byte("precious\n")}
	if err := os.WriteFile(v.file, v.data, 0o666); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]uint32{dir: 0o777, v.file: 0o666} {
		if err := unix.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Stat(v.file, &v.st); err != nil {
		t.Fatal(err)
	}
	if v.passwd, err = os.ReadFile("/etc/passwd"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat("/etc/passwd", &v.passwdSt); err != nil {
		t.Fatal(err)
	}
	return v
}

// check fails the test unless the victim files are as they were (content,
// mode, link count, times) and nothing else appeared in the victim dir.
func (v *victim) check(t *testing.T, what string) {
	t.Helper()
	entries, err := os.ReadDir(v.dir)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for _, e := range entries {
		if e.Name() != "victim" {
			t.Errorf("%s: %s appeared in the victim dir on the host", what, filepath.Join(v.dir, e.Name()))
		}
	}
	for _, f := range []struct {
		path string
		data []byte
		st   unix.Stat_t
	}{{v.file, v.data, v.st}, {"/etc/passwd", v.passwd, v.passwdSt}} {
		var st unix.Stat_t
		if err := unix.Stat(f.path, &st); err != nil {
			t.Errorf("%s: host file %s: %v", what, f.path, err)
			continue
		}
		data, err := os.ReadFile(f.path)
		if err != nil || !bytes.Equal(data, f.data) {
			t.Errorf("%s: host file %s changed: %q (%v)", what, f.path, data, err)
		}
		if st.Mode != f.st.Mode || st.Nlink != f.st.Nlink || st.Uid != f.st.Uid || st.Mtim != f.st.Mtim || st.Ctim != f.st.Ctim {
			t.Errorf("%s: host file %s changed: mode %o links %d uid %d ctime %v, was mode %o links %d uid %d ctime %v",
				what, f.path, st.Mode, st.Nlink, st.Uid, st.Ctim, f.st.Mode, f.st.Nlink, f.st.Uid, f.st.Ctim)
		}
	}
}

// hostileImage writes an OCI layout of busybox and these layers with the
// given config (busybox's sh as the command when nil), and returns its
// oci: reference. A layer is a list of tar entries, written in order.
func hostileImage(t *testing.T, layers [][]tarEntry, config map[string]any) string {
	t.Helper()
	ls := []testLayer{busyboxLayer(t)}
	for _, entries := range layers {
		ls = append(ls, layerOfEntries(t, entries))
	}
	if config == nil {
		config = map[string]any{"Cmd": []string{"/bin/sh"}, "Env": []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}
	}
	l := newOCILayout(t)
	return l.tag(l.imageWith(runtime.GOARCH, ls, config))
}

// pullHostile pulls ref into s. A refusal must be exit 125 with a one-line
// reason; it returns the image ID, or "" when the pull was refused.
func pullHostile(t *testing.T, s store, ref string) string {
	t.Helper()
	id, _ := pullHostileResult(t, s, ref)
	return id
}

// pullHostileResult is pullHostile that also returns what the pull said.
func pullHostileResult(t *testing.T, s store, ref string) (string, result) {
	t.Helper()
	r := crunIn(t, s, "pull", "-q", ref)
	if r.Code == 0 {
		id := strings.TrimSpace(r.Stdout)
		if !hexID.MatchString(r.Stdout) {
			t.Fatalf("pull %s: want the image ID: %s", ref, r)
		}
		return id, r
	}
	msg := strings.TrimSpace(r.Stderr)
	if r.Code != 125 || msg == "" || strings.Contains(msg, "goroutine ") || strings.Count(msg, "\n") > 1 {
		t.Errorf("pull of a hostile image: want it stored or refused with exit 125 and a short reason: %s", r)
	}
	t.Logf("pull refused: %s", msg)
	return "", r
}

// checkStoreWhole is what every hostile image must leave: the store
// answers, lists id (when the pull took it) and no nameless image, no run
// dir or mount is left, and busybox still runs. (Not every listed image
// runs: some of them are made to fail.)
func checkStoreWhole(t *testing.T, s store, id string) {
	t.Helper()
	imgs := listImages(t, s)
	if id != "" && !slices.ContainsFunc(imgs, func(img imageJSON) bool { return img.ID == id }) {
		t.Errorf("images does not list the pulled image %s", id)
	}
	for _, img := range imgs {
		if len(img.Names) == 0 {
			t.Errorf("a nameless image is left: %s", img.ID)
		}
	}
	if ps := mustCrunIn(t, s, "ps", "-a", "-q").Stdout; ps != "" {
		t.Errorf("containers left behind: %q", ps)
	}
	assertNoRunDirs(t, s)
	if m := holderMountsUnder(t, s.Root); len(m) != 0 {
		t.Errorf("mounts left under the store: %v", m)
	}
	if out := mustCrunIn(t, s, "run", "--rm", "--tls-verify=false", Registry+"/test/busybox", "echo", "alive").Stdout; out != "alive\n" {
		t.Errorf("busybox after the hostile image: %q", out)
	}
}

// escapeCase is a layer stack whose entries aim outside the layer, and
// where its files must be when the image is stored: inside the container
// (path -> content), as the container sees it.
type escapeCase struct {
	layers [][]tarEntry
	inside map[string]string
	// refusal, when set, is what a refusal must say.
	refusal string
}

// escapeCases aim at the victim dir by absolute and relative names,
// through symlinks (one or a chain, absolute or relative, in the same layer
// or an earlier one), and with hard links to host files.
func escapeCases(v *victim) map[string]escapeCase {
	up := strings.Repeat("../", 12)
	rel := up + strings.TrimPrefix(v.dir, "/")
	reg := func(name, data string) tarEntry {
		return tarEntry{Header: tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg}, Data: []byte(data)}
	}
	dir := func(name string) tarEntry {
		return tarEntry{Header: tar.Header{Name: name, Mode: 0o755, Typeflag: tar.TypeDir}}
	}
	sym := func(name, target string) tarEntry {
		return tarEntry{Header: tar.Header{Name: name, Linkname: target, Mode: 0o777, Typeflag: tar.TypeSymlink}}
	}
	hard := func(name, target string) tarEntry {
		return tarEntry{Header: tar.Header{Name: name, Linkname: target, Mode: 0o644, Typeflag: tar.TypeLink}}
	}
	one := func(entries ...tarEntry) [][]tarEntry { return [][]tarEntry{entries} }
	in := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	// A hard link to a host file, if it were made, would hold the file's
	// content: stored, /hl must hold anything else.
	notHost := in("/hl", "")
	return map[string]escapeCase{
		"absolute-name":              {one(reg(v.dir+"/abs", "abs\n")), in(v.dir+"/abs", "abs\n"), ""},
		"dotdot-name":                {one(reg(rel+"/dotdot", "dotdot\n")), in(v.dir+"/dotdot", "dotdot\n"), ""},
		"dotdot-inside-name":         {one(dir("a/"), reg("a/"+rel+"/mid", "mid\n")), in(v.dir+"/mid", "mid\n"), ""},
		"overwrite-victim-name":      {one(reg(v.file, "overwritten\n")), in(v.file, "overwritten\n"), ""},
		"symlink-abs-then-write":     {one(sym("evil", v.dir), reg("evil/through", "through\n")), in(v.dir+"/through", "through\n"), ""},
		"symlink-rel-then-write":     {one(sym("evil", rel), reg("evil/through", "through\n")), in(v.dir+"/through", "through\n"), ""},
		"symlink-to-file-then-write": {one(sym("evil", v.file), reg("evil", "overwritten\n")), in("/evil", "overwritten\n"), ""},
		"symlink-to-file-next-layer": {[][]tarEntry{{sym("evil", v.file)}, {reg("evil", "overwritten\n")}}, in("/evil", "overwritten\n"), ""},
		"symlink-earlier-layer":      {[][]tarEntry{{sym("evil", v.dir)}, {reg("evil/through", "through\n")}}, in("/evil/through", "through\n"), ""},
		"symlink-chain":              {one(sym("c", v.dir), sym("b", "c"), sym("a", "/b"), reg("a/through", "through\n")), in("/a/through", "through\n", v.dir+"/through", "through\n"), ""},
		"symlink-chain-layers":       {[][]tarEntry{{sym("c", rel)}, {sym("b", "c")}, {sym("a", "b"), reg("a/through", "through\n")}}, in("/a/through", "through\n"), ""},
		"symlink-loop":               {one(sym("loop1", "loop2"), sym("loop2", "loop1"), reg("loop1/x", "x\n")), nil, ""},
		"symlink-parent-dir":         {one(sym("evil", v.dir), dir("evil/sub/"), reg("evil/sub/x", "x\n")), in(v.dir+"/sub/x", "x\n"), ""},
		"hardlink-abs":               {one(hard("hl", v.file)), notHost, `hard link "hl"`},
		"hardlink-rel":               {one(hard("hl", rel+"/victim")), notHost, `hard link "hl"`},
		"hardlink-passwd":            {one(hard("hl", "/etc/passwd")), notHost, `hard link "hl"`},
		"hardlink-dotdot-passwd":     {one(hard("hl", up+"etc/passwd")), notHost, `hard link "hl"`},
		"hardlink-through-symlink":   {one(sym("evil", v.dir), hard("hl", "evil/victim")), notHost, `hard link "hl"`},
		"hardlink-then-write":        {one(hard("hl", v.file), reg("hl", "overwritten\n")), notHost, `hard link "hl"`},
	}
}

// TestHostileLayerEscapes: no layer entry reaches the host, whichever way
// it names a path outside the layer. Each image is either refused (exit
// 125, one line) or stored with its files inside the image, where the
// container finds them; either way the victim files are unchanged and the
// store stays whole. Writes through the image's links at run time stay
// inside too.
func TestHostileLayerEscapes(t *testing.T) {
	v := newVictim(t)
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	cases := escapeCases(v)
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			id, r := pullHostileResult(t, s, hostileImage(t, c.layers, nil))
			v.check(t, "after pull")
			if id == "" && c.refusal != "" && !strings.Contains(r.Stderr, c.refusal) {
				t.Errorf("the refusal does not say what is wrong (%q): %s", c.refusal, r)
			}
			if id == "" {
				checkStoreWhole(t, s, id)
				return
			}
			for path, want := range c.inside {
				got := crunIn(t, s, "run", "--rm", id, "cat", path)
				switch {
				case want == "" && (got.Stdout == string(v.data) || got.Stdout == string(v.passwd)):
					t.Errorf("%s in the container holds a host file: %s", path, got)
				case want != "" && (got.Code != 0 || got.Stdout != want):
					t.Errorf("%s in the container: want %q inside the image: %s", path, want, got)
				}
			}
			r = crunIn(t, s, "run", "--rm", id, "sh", "-c",
				"for p in /evil /a /hl /loop1 "+v.dir+" "+v.file+"; do echo x > $p/w; echo x >> $p; done; true")
			if r.Code != 0 || strings.Contains(r.Stderr, "crun-lite:") {
				t.Errorf("writes through the image's links at run time: %s", r)
			}
			v.check(t, "after run")
			checkStoreWhole(t, s, id)
		})
	}
}

// busyboxBinary returns the static busybox of the test image: an ELF file
// to make set-user-id in an image.
func busyboxBinary(t *testing.T) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(busyboxLayer(t).gz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("bin/busybox in the busybox layer: %v", err)
		}
		if h.Name == "bin/busybox" {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
}

// TestHostileDeviceNodes: device nodes in a layer must not open host
// devices: rootless they cannot be made, and as root (no user namespace, no
// device cgroup) they must be unusable in the container. The layer holds
// /dev/zero's numbers (at / and in /etc) and those of the block device
// under the stores' file system; the container only tries to read one byte
// of each. Before the root filesystem was mounted nodev, container root
// read /dev/zero through the image's node (native overlay and vfs).
func TestHostileDeviceNodes(t *testing.T) {
	var st unix.Stat_t
	if err := unix.Stat(os.TempDir(), &st); err != nil {
		t.Fatal(err)
	}
	dev := func(name string, flag byte, major, minor uint32) tarEntry {
		return tarEntry{Header: tar.Header{Name: name, Mode: 0o666, Typeflag: flag, Devmajor: int64(major), Devminor: int64(minor)}}
	}
	entries := []tarEntry{dev("devzero", tar.TypeChar, 1, 5), dev("etc/devzero", tar.TypeChar, 1, 5)}
	probe := "for d in /devzero /etc/devzero"
	if major := unix.Major(st.Dev); major != 0 { // not a tmpfs: a real block device holds it
		entries = append(entries, dev("hostdisk", tar.TypeBlock, major, unix.Minor(st.Dev)))
		probe += " /hostdisk"
	}
	// Each node: "opened", or why not (absent rootless, refused as root).
	probe += `; do head -c 1 $d 2>&1 >/dev/null && echo "$d: opened"; done; true`
	ref := hostileImage(t, [][]tarEntry{entries}, nil)
	// vfs too: its root is a bind of a storage container's copy.
	for _, k := range append(storeKinds, storeKind{"vfs", []string{"--storage-driver", "vfs"}}) {
		t.Run(k.name, func(t *testing.T) {
			s := testStore(t)
			s.Extra = k.extra
			mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
			id := pullHostile(t, s, ref)
			if id == "" {
				checkStoreWhole(t, s, id)
				return
			}
			for _, args := range [][]string{{"run", "--rm"}, {"run", "--name", "kept"}} {
				r := crunIn(t, s, append(args, id, "sh", "-c", probe)...)
				t.Logf("%s: %s", strings.Join(args, " "), strings.TrimSpace(r.Stdout))
				if r.Code != 0 || strings.Contains(r.Stdout, "opened") {
					t.Errorf("%s: a device node of the image opened a host device: %s", strings.Join(args, " "), r)
				}
			}
			mustCrunIn(t, s, "rm", "kept")
			checkStoreWhole(t, s, id)
		})
	}
}

// TestHostileSetuidFiles: set-user-id and set-group-id files of an image
// keep their bits inside the container, and give nobody on the host
// anything: rootless they belong to the user (container root) and not to
// host root; whoever owns them, another host user cannot reach them in the
// store.
func TestHostileSetuidFiles(t *testing.T) {
	box := busyboxBinary(t)
	entries := []tarEntry{
		{Header: tar.Header{Name: "bin/suidbox", Mode: 0o4755, Typeflag: tar.TypeReg}, Data: box},
		{Header: tar.Header{Name: "bin/sgidbox", Mode: 0o2755, Gid: 0, Typeflag: tar.TypeReg}, Data: box},
		{Header: tar.Header{Name: "bin/suid1000", Mode: 0o4755, Uid: 1000, Typeflag: tar.TypeReg}, Data: box},
	}
	ref := hostileImage(t, [][]tarEntry{entries}, nil)
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			s := testStore(t)
			s.Extra = k.extra
			mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
			id := pullHostile(t, s, ref)
			if id == "" {
				t.Fatal("an image with set-user-id files must be stored")
			}
			want := "4755 0\n2755 0\n4755 1000\n"
			r := crunIn(t, s, "run", "--rm", "--user", "1000", id, "stat", "-c", "%a %u", "/bin/suidbox", "/bin/sgidbox", "/bin/suid1000")
			if r.Code != 0 || r.Stdout != want {
				t.Errorf("set-id bits in the container: want %q: %s", want, r)
			}
			// On the host: every such file of the store is the user's (or a
			// subordinate id's) when rootless, and sits below a directory
			// other users cannot search.
			found := 0
			filepath.WalkDir(s.Root, func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(path, "/bin/suidbox") && !strings.HasSuffix(path, "/bin/sgidbox") && !strings.HasSuffix(path, "/bin/suid1000") {
					return nil
				}
				var st unix.Stat_t
				if unix.Lstat(path, &st) != nil || st.Mode&(unix.S_ISUID|unix.S_ISGID) == 0 {
					return nil
				}
				found++
				if os.Geteuid() != 0 && (st.Uid == 0 || st.Gid == 0) {
					t.Errorf("%s on the host is set-id and owned by host root: uid %d gid %d mode %o", path, st.Uid, st.Gid, st.Mode)
				}
				if os.Geteuid() != 0 && st.Mode&unix.S_ISUID != 0 && strings.HasSuffix(path, "/bin/suidbox") && int(st.Uid) != os.Getuid() {
					t.Errorf("%s on the host: container root's file is uid %d, want the user's %d", path, st.Uid, os.Getuid())
				}
				closed := false
				for dir := filepath.Dir(path); dir != s.Root && strings.HasPrefix(dir, s.Root); dir = filepath.Dir(dir) {
					var ds unix.Stat_t
					if unix.Stat(dir, &ds) == nil && ds.Mode&0o001 == 0 {
						closed = true
						break
					}
				}
				if !closed {
					t.Errorf("%s (mode %o) is reachable by any host user: no directory of the store above it is closed to others", path, st.Mode)
				}
				return nil
			})
			if found == 0 {
				t.Errorf("no set-id file of the image found in the store under %s", s.Root)
			}
			checkStoreWhole(t, s, id)
		})
	}
}

// TestHostileDirReplacedByLink: a later layer swaps a directory of an
// earlier one for a symlink to the host, and a third writes under it; the
// image is stored with the link inside, and neither the unpack nor writes
// through the link at run time (both store kinds, --rm and kept) touch
// the host.
func TestHostileDirReplacedByLink(t *testing.T) {
	v := newVictim(t)
	layers := [][]tarEntry{
		{{Header: tar.Header{Name: "data/", Mode: 0o755, Typeflag: tar.TypeDir}}, {Header: tar.Header{Name: "data/keep", Mode: 0o644, Typeflag: tar.TypeReg}, Data: []byte("keep\n")}},
		{{Header: tar.Header{Name: "data", Linkname: v.dir, Mode: 0o777, Typeflag: tar.TypeSymlink}}},
	}
	linked := hostileImage(t, layers, nil)
	writtenUnder := hostileImage(t, append(layers, []tarEntry{{Header: tar.Header{Name: "data/pwned", Mode: 0o644, Typeflag: tar.TypeReg}, Data: []byte("pwned\n")}}), nil)
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			s := testStore(t)
			s.Extra = k.extra
			mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
			id := pullHostile(t, s, linked)
			v.check(t, "after pull")
			if id == "" {
				t.Fatal("a layer that swaps a directory for a link is valid: want it stored")
			}
			if out := mustCrunIn(t, s, "run", "--rm", id, "readlink", "/data").Stdout; out != v.dir+"\n" {
				t.Errorf("/data in the container: want the link to %s, got %q", v.dir, out)
			}
			script := "cat /data/keep 2>/dev/null && echo lower-dir-visible; echo x > /data/w1 2>/dev/null; mkdir -p " + v.dir + " && echo x > /data/w2 && cat " + v.dir + "/w2"
			for _, args := range [][]string{{"run", "--rm"}, {"run", "--name", "kept"}} {
				r := crunIn(t, s, append(args, id, "sh", "-c", script)...)
				if r.Code != 0 || r.Stdout != "x\n" {
					t.Errorf("%s: writes through /data: want them inside the container only (x): %s", strings.Join(args, " "), r)
				}
				v.check(t, "after "+strings.Join(args, " "))
			}
			mustCrunIn(t, s, "rm", "kept")
			id2 := pullHostile(t, s, writtenUnder)
			v.check(t, "after the pull of a layer writing under the link")
			if id2 != "" {
				r := crunIn(t, s, "run", "--rm", id2, "cat", "/data/pwned")
				if r.Code != 0 || r.Stdout != "pwned\n" {
					t.Errorf("/data/pwned of the third layer: want it inside the image: %s", r)
				}
			}
			checkStoreWhole(t, s, id2)
		})
	}
}

// TestHostileNames: file names with newlines, invalid UTF-8, escape
// sequences and tabs are stored and reach the container byte for byte
// (also as arguments of the command), and survive save and load.
func TestHostileNames(t *testing.T) {
	names := []string{"new\nline", "\xff\xfe-not-utf8", "lat1-\xe9t\xe9", "\x1b[31mred\x1b[0m", "tab\there", "back\\slash", " lead-space", "dir\nnl/inner\nfile"}
	var entries []tarEntry
	entries = append(entries, tarEntry{Header: tar.Header{Name: "names/", Mode: 0o755, Typeflag: tar.TypeDir}})
	entries = append(entries, tarEntry{Header: tar.Header{Name: "names/dir\nnl/", Mode: 0o755, Typeflag: tar.TypeDir}})
	for _, n := range names {
		entries = append(entries, tarEntry{Header: tar.Header{Name: "names/" + n, Mode: 0o644, Typeflag: tar.TypeReg}, Data: []byte(n)})
	}
	ref := hostileImage(t, [][]tarEntry{entries}, nil)
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	id := pullHostile(t, s, ref)
	if id == "" {
		t.Fatal("odd but valid file names: want the image stored")
	}
	check := func(s store, id string) {
		t.Helper()
		for _, n := range names {
			r := crunIn(t, s, "run", "--rm", id, "cat", "/names/"+n)
			if r.Code != 0 || r.Stdout != n {
				t.Errorf("/names/%q in the container: %s", n, r)
			}
		}
		count := `n=0; for f in /names/* /names/*/*; do [ -f "$f" ] && n=$((n+1)); done; echo $n`
		if out := mustCrunIn(t, s, "run", "--rm", id, "sh", "-c", count).Stdout; out != strconv.Itoa(len(names))+"\n" {
			t.Errorf("files under /names: %q, want %d", out, len(names))
		}
	}
	check(s, id)
	archive := filepath.Join(t.TempDir(), "names.tar")
	mustCrunIn(t, s, "tag", id, "localhost/names:latest")
	mustCrunIn(t, s, "save", "-o", archive, "localhost/names:latest")
	s2 := testStore(t)
	r := mustCrunIn(t, s2, "load", "-q", "-i", archive)
	t.Logf("load: %s", strings.TrimSpace(r.Stdout))
	check(s2, id)
	checkStoreWhole(t, s, id)
	checkStoreWhole(t, s2, id)
}

// TestHostileManyFiles: a layer of 10^5 empty files (51 MB of tar in a
// small gzip) pulls, runs, lists and is removed in bounded time.
func TestHostileManyFiles(t *testing.T) {
	const dirs, perDir = 100, 1000
	entries := make([]tarEntry, 0, dirs*(perDir+1))
	for d := range dirs {
		dir := fmt.Sprintf("many/d%03d/", d)
		entries = append(entries, tarEntry{Header: tar.Header{Name: dir, Mode: 0o755, Typeflag: tar.TypeDir}})
		for f := range perDir {
			entries = append(entries, tarEntry{Header: tar.Header{Name: fmt.Sprintf("%sf%04d", dir, f), Mode: 0o644, Typeflag: tar.TypeReg}})
		}
	}
	ref := hostileImage(t, [][]tarEntry{entries}, nil)
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	timed := func(bound time.Duration, args ...string) result {
		t.Helper()
		start := time.Now()
		r := crunIn(t, s, args...)
		took := time.Since(start)
		t.Logf("%s: %v", args[0], took.Round(time.Millisecond))
		if took > bound {
			t.Errorf("%s of 10^5 files took %v, more than %v", args[0], took, bound)
		}
		return r
	}
	// 7 to 31 s on the two shared cores of the test machine, by its load:
	// the bound catches work growing faster than the files, not a slow day.
	r := timed(180*time.Second, "pull", "-q", ref)
	if r.Code != 0 {
		t.Fatalf("pull of 10^5 files: %s", r)
	}
	id := strings.TrimSpace(r.Stdout)
	if r := timed(30*time.Second, "run", "--rm", id, "sh", "-c", "find /many -type f | wc -l"); r.Code != 0 || strings.TrimSpace(r.Stdout) != strconv.Itoa(dirs*perDir) {
		t.Errorf("files in the container: want %d: %s", dirs*perDir, r)
	}
	if r := timed(30*time.Second, "images"); r.Code != 0 || !strings.Contains(r.Stdout, id[:12]) {
		t.Errorf("images: %s", r)
	}
	checkStoreWhole(t, s, id)
	if r := timed(60*time.Second, "rmi", id); r.Code != 0 {
		t.Errorf("rmi: %s", r)
	}
	checkStoreWhole(t, s, "")
}

// oneLineError fails the test unless r is a failure with code in codes
// and a short stderr naming want, in bounded time (no hang, no panic).
func oneLineError(t *testing.T, what string, r result, want string, codes ...int) {
	t.Helper()
	msg := strings.TrimSpace(r.Stderr)
	if !slices.Contains(codes, r.Code) || !strings.Contains(msg, want) || strings.Count(msg, "\n") > 1 || strings.Contains(msg, "goroutine ") {
		t.Errorf("%s: want exit %v and one line naming %q: %s", what, codes, want, r)
	}
}

// TestHostileEnv: an image's Env of thousands of variables works; one
// over the kernel's limit for a string, or all of them over its limit for
// exec, is a clear error from exec (126, as Podman), not a hang or crash;
// a config too big to be an image config is refused at pull.
func TestHostileEnv(t *testing.T) {
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	env := func(n, size int) []string {
		e := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		for i := range n {
			e = append(e, fmt.Sprintf("V%d=%s", i, strings.Repeat("x", size)))
		}
		return e
	}
	image := func(e []string) string {
		return hostileImage(t, nil, map[string]any{"Cmd": []string{"sh", "-c", "env | grep -c ^V"}, "Env": e})
	}
	id := pullHostile(t, s, image(env(5000, 100)))
	if id == "" {
		t.Fatal("an Env of 5000 variables (0.5 MB): want the image stored")
	}
	if r := crunIn(t, s, "run", "--rm", id); r.Code != 0 || r.Stdout != "5000\n" {
		t.Errorf("5000 variables: want all of them in the container: %s", r)
	}
	for _, c := range []struct {
		name string
		env  []string
	}{
		{"one-over-128KiB", env(1, 200<<10)}, // MAX_ARG_STRLEN
		{"total-3MiB", env(30, 100<<10)},     // a quarter of the 8 MiB stack
	} {
		id := pullHostile(t, s, image(c.env))
		if id == "" {
			t.Errorf("%s: the config is valid JSON under 4 MiB: want it stored", c.name)
			continue
		}
		start := time.Now()
		r := crunIn(t, s, "run", "--rm", id)
		oneLineError(t, c.name, r, "argument list too long", 126)
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("%s: took %v", c.name, took)
		}
		checkStoreWhole(t, s, id)
	}
	// containers/image reads at most 4 MiB of config.
	if id := pullHostile(t, s, image(env(50, 100<<10))); id != "" {
		t.Errorf("a 5 MiB image config was stored: %s", id)
	}
	checkStoreWhole(t, s, "")
}

// TestHostileWorkingDir: a WorkingDir through links of the image that
// point out of its root (absolute, relative, missing below the link)
// resolves inside the root: the command starts there, or crun-lite
// refuses with 125, and the host dir the links name is never reached, not
// even by the mkdir of a missing WorkingDir.
func TestHostileWorkingDir(t *testing.T) {
	v := newVictim(t)
	rel := strings.Repeat("../", 12) + strings.TrimPrefix(v.dir, "/")
	layer := []tarEntry{
		{Header: tar.Header{Name: "wd", Linkname: v.dir, Mode: 0o777, Typeflag: tar.TypeSymlink}},
		{Header: tar.Header{Name: "wdrel", Linkname: rel, Mode: 0o777, Typeflag: tar.TypeSymlink}},
		{Header: tar.Header{Name: "wdproc", Linkname: "/proc/1/cwd", Mode: 0o777, Typeflag: tar.TypeSymlink}},
	}
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	for _, wd := range []string{"/wd", "/wd/new/sub", "/wdrel", "/wdrel/new", "/wdproc", "/wdproc/new", "/proc/self/root" + v.dir} {
		t.Run(strings.ReplaceAll(wd, "/", "_"), func(t *testing.T) {
			id := pullHostile(t, s, hostileImage(t, [][]tarEntry{layer}, map[string]any{
				"Cmd": []string{"sh", "-c", "pwd; echo owned > pwned && echo wrote"}, "WorkingDir": wd,
				"Env": []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
			}))
			if id == "" {
				t.Fatal("want the image stored")
			}
			for _, args := range [][]string{{"run", "--rm", id}, {"run", "--rm", "-w", wd, id}} {
				r := crunIn(t, s, args...)
				t.Logf("%s: exit %d: %s %s", strings.Join(args[:len(args)-1], " "), r.Code, strings.TrimSpace(r.Stdout), strings.TrimSpace(r.Stderr))
				if r.Code != 0 && r.Code != 125 || r.Code == 125 && strings.Count(strings.TrimSpace(r.Stderr), "\n") > 0 {
					t.Errorf("want the command to start inside the root, or exit 125 with a reason: %s", r)
				}
				v.check(t, strings.Join(args[:len(args)-1], " "))
			}
			checkStoreWhole(t, s, id)
		})
	}
}

// TestHostileUser: an image whose User names no user or group of its
// /etc/passwd and /etc/group fails at once with a clear one-line error,
// exit 125 or 126 as Podman, and leaves nothing behind; numeric ids need
// no entry.
func TestHostileUser(t *testing.T) {
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	for _, c := range []struct{ user, want string }{
		{"nosuchuser", "nosuchuser"},
		{"nosuchuser:nosuchgroup", "nosuchuser"},
		{"0:nosuchgroup", "nosuchgroup"},
		{"root:nosuchgroup", "nosuchgroup"},
		{"nosuch\nuser", "user"},
		{"12345:54321", ""},
	} {
		t.Run(strings.ReplaceAll(c.user, ":", "_"), func(t *testing.T) {
			id := pullHostile(t, s, hostileImage(t, nil, map[string]any{"Cmd": []string{"id"}, "User": c.user, "Env": []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}))
			if id == "" {
				t.Fatal("want the image stored")
			}
			start := time.Now()
			r := crunIn(t, s, "run", "--rm", id)
			if c.want == "" {
				if r.Code != 0 || !strings.HasPrefix(r.Stdout, "uid=12345 gid=54321") {
					t.Errorf("numeric user: want it used as is: %s", r)
				}
			} else {
				oneLineError(t, "User "+c.user, r, c.want, 125, 126)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v", took)
			}
			checkStoreWhole(t, s, id)
		})
	}
}

// TestHostileProcEntrypoint: entrypoints under /proc of a static image
// (busybox has no loader for crun-lite's own binary): /proc/self/exe, a
// "#!/proc/self/exe" script, /proc/1/exe, /proc/self/root/... The binary
// run, a copy the user owns, is unchanged, and each run either works
// inside the container or fails with a one-line error.
func TestHostileProcEntrypoint(t *testing.T) {
	bin := ownCopy(t)
	before, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	s.Bin = bin
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	script := []tarEntry{{Header: tar.Header{Name: "evil.sh", Mode: 0o755, Typeflag: tar.TypeReg}, Data: []byte("#!/proc/self/exe\n")}}
	// Subtest names stay valid in an image reference: the oci: layout's
	// path, under the test's temp dir, names the pulled image.
	for i, ep := range [][]string{
		{"/proc/self/exe"}, {"/proc/self/exe", "--version"}, {"/evil.sh"}, {"/proc/1/exe", "-c", "echo inside"},
		{"/proc/self/root/bin/sh", "-c", "echo inside"}, {"/proc/self/cwd/../../../bin/sh", "-c", "echo inside"},
	} {
		t.Run(fmt.Sprintf("%d%s", i, strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, ep[0])), func(t *testing.T) {
			id := pullHostile(t, s, hostileImage(t, [][]tarEntry{script}, map[string]any{"Entrypoint": ep, "Env": []string{"PATH=/bin"}}))
			if id == "" {
				t.Fatal("want the image stored")
			}
			for _, args := range [][]string{{"run", "--rm", id}, {"run", "--rm", "--init", id}} {
				r := crunIn(t, s, args...)
				t.Logf("%v %v: exit %d: %s %s", args[:len(args)-1], ep, r.Code, strings.TrimSpace(r.Stdout), strings.TrimSpace(r.Stderr))
				if strings.Contains(r.Stdout, "crun-lite version") {
					t.Errorf("crun-lite's binary ran inside the container: %s", r)
				}
				if r.Code != 0 && strings.Count(strings.TrimSpace(r.Stderr), "\n") > 0 {
					t.Errorf("want success or a one-line error: %s", r)
				}
			}
			var st unix.Stat_t
			if err := unix.Stat(bin, &st); err != nil || st.Mode&0o7777 != 0o755 {
				t.Errorf("binary mode %o (%v)", st.Mode&0o7777, err)
			}
			if after, err := os.ReadFile(bin); err != nil || !bytes.Equal(before, after) {
				t.Errorf("binary content changed (%v)", err)
			}
			checkStoreWhole(t, s, id)
		})
	}
}

// TestHostileMountTargets: the image makes the places crun-lite mounts on
// (/proc, /dev, /sys, /etc and its generated files, a volume's and a
// tmpfs's target) symlinks to the host's victim dir or file, existing or
// not. crun-lite creates mount points and mounts before pivot_root: it must
// neither follow such a link on the host (no dir, file or mount appears
// there) nor write the victim; each run starts inside the root or fails
// with a one-line error, on both store kinds.
func TestHostileMountTargets(t *testing.T) {
	v := newVictim(t)
	sym := func(name, target string) tarEntry {
		return tarEntry{Header: tar.Header{Name: name, Linkname: target, Mode: 0o777, Typeflag: tar.TypeSymlink}}
	}
	rel := strings.Repeat("../", 12) + strings.TrimPrefix(v.dir, "/")
	cases := []struct {
		name    string
		entries []tarEntry
		args    []string
	}{
		{"proc", []tarEntry{sym("proc", v.dir+"/made")}, nil},
		{"proc-existing", []tarEntry{sym("proc", v.dir)}, nil},
		{"dev", []tarEntry{sym("dev", rel+"/made")}, nil},
		{"sys", []tarEntry{sym("sys", v.dir+"/made")}, nil},
		{"etc", []tarEntry{sym("etc", v.dir)}, nil},
		{"etc-hosts", []tarEntry{sym("etc/hosts", v.file), sym("etc/resolv.conf", rel+"/victim"), sym("etc/hostname", v.dir+"/made")}, nil},
		{"volume", []tarEntry{sym("data", v.dir+"/made")}, []string{"-v", t.TempDir() + ":/data"}},
		{"tmpfs", []tarEntry{sym("scratch", v.dir)}, []string{"--tmpfs", "/scratch"}},
	}
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			s := testStore(t)
			s.Extra = k.extra
			mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
			for _, c := range cases {
				ref := hostileImage(t, [][]tarEntry{c.entries}, nil)
				id := pullHostile(t, s, ref)
				if id == "" {
					t.Fatalf("%s: want the image stored", c.name)
				}
				args := append(append([]string{"run", "--rm"}, c.args...), id, "sh", "-c", "echo x > /data/w; echo x > /scratch/w; echo x > /etc/hosts; echo ran")
				r := crunIn(t, s, args...)
				t.Logf("%s: exit %d: %s %s", c.name, r.Code, strings.TrimSpace(r.Stdout), strings.TrimSpace(r.Stderr))
				if r.Code != 0 && (r.Code != 125 || strings.Count(strings.TrimSpace(r.Stderr), "\n") > 0) {
					t.Errorf("%s: want a run inside the root or one line and 125: %s", c.name, r)
				}
				v.check(t, c.name)
				checkStoreWhole(t, s, id)
			}
		})
	}
}

// TestHostileNULBytes: JSON lets an image config put NUL bytes in the
// command, the environment and the working directory, where exec and
// chdir would end the string: the run is refused with 125 and one line
// naming the field, and runs nothing (before: "echo a\x00b" printed "a",
// "C=a\x00b" arrived as "C=a", WorkingDir "/tmp\x00/../.." was /tmp).
func TestHostileNULBytes(t *testing.T) {
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	path := "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
	for _, c := range []struct {
		name string
		cfg  map[string]any
		want string
	}{
		{"cmd", map[string]any{"Cmd": []string{"echo", "a\x00b"}, "Env": []string{path}}, "argument 1 of the command"},
		{"entrypoint", map[string]any{"Entrypoint": []string{"/bin/echo\x00/../sh"}, "Env": []string{path}}, "argument 0 of the command"},
		{"env-value", map[string]any{"Cmd": []string{"echo", "ran"}, "Env": []string{path, "C=a\x00b"}}, "environment entry"},
		{"env-name", map[string]any{"Cmd": []string{"echo", "ran"}, "Env": []string{path, "A\x00B=1"}}, "environment entry"},
		{"workingdir", map[string]any{"Cmd": []string{"echo", "ran"}, "Env": []string{path}, "WorkingDir": "/tmp\x00/../.."}, "working directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := pullHostile(t, s, hostileImage(t, nil, c.cfg))
			if id == "" {
				t.Fatal("want the image stored")
			}
			for _, args := range [][]string{{"run", "--rm", id}, {"run", "--name", "kept", id}} {
				r := crunIn(t, s, args...)
				oneLineError(t, strings.Join(args[:len(args)-1], " "), r, c.want, 125)
				if r.Stdout != "" {
					t.Errorf("the command ran: %s", r)
				}
			}
			crunIn(t, s, "rm", "kept")
			checkStoreWhole(t, s, id)
		})
	}
}

// TestHostileArchive: an oci-archive is unpacked by crun-lite itself into
// its scratch dir (storage's unpacker, not chroot'ed), before the layout
// in it is read. Archives whose members aim at the host (a symlink then a
// file through it, a member replacing the victim through a symlinked dir,
// a hard link through one, ../ and absolute names) are refused or
// contained by load and by pull oci-archive:, and the victim is untouched.
// None of them holds an image: load fails on that too (before: exit 0,
// nothing loaded, nothing said).
func TestHostileArchive(t *testing.T) {
	v := newVictim(t)
	rel := strings.Repeat("../", 12) + strings.TrimPrefix(v.dir, "/")
	reg := func(name, data string) tarEntry {
		return tarEntry{Header: tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg}, Data: []byte(data)}
	}
	sym := func(name, target string) tarEntry {
		return tarEntry{Header: tar.Header{Name: name, Linkname: target, Mode: 0o777, Typeflag: tar.TypeSymlink}}
	}
	// index.json first, so that load takes it for an oci-archive and
	// unpacks it.
	index := reg("index.json", `{"schemaVersion":2,"manifests":[]}`)
	cases := map[string][]tarEntry{
		"symlink-then-write":     {index, sym("evil", v.dir), reg("evil/pwned", "pwned\n")},
		"symlink-rel-then-write": {index, sym("evil", rel), reg("evil/pwned", "pwned\n")},
		"replace-through-link":   {index, sym("evil", v.dir), reg("evil/victim", "overwritten\n")},
		"hardlink-through-link":  {index, sym("evil", v.dir), {Header: tar.Header{Name: "hl", Linkname: "evil/victim", Typeflag: tar.TypeLink}}, reg("hl", "overwritten\n")},
		"hardlink-absolute":      {index, {Header: tar.Header{Name: "hl", Linkname: v.file, Typeflag: tar.TypeLink}}},
		"dotdot-name":            {index, reg(rel+"/pwned", "pwned\n")},
		"absolute-name":          {index, reg(v.dir+"/pwned", "pwned\n")},
		"blob-dir-as-link":       {index, reg("oci-layout", `{"imageLayoutVersion":"1.0.0"}`), sym("blobs", v.dir)},
		// No image at all: load must not exit 0 having loaded nothing.
		"docker-no-image": {reg("manifest.json", "[]")},
	}
	s := testStore(t)
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		t.Run(name, func(t *testing.T) {
			var raw bytes.Buffer
			tw := tar.NewWriter(&raw)
			for _, e := range cases[name] {
				h := e.Header
				if h.Typeflag == tar.TypeReg {
					h.Size = int64(len(e.Data))
				}
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
				tw.Write(e.Data)
			}
			tw.Close()
			file := filepath.Join(t.TempDir(), "evil.tar")
			if err := os.WriteFile(file, raw.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"load", "-q", "-i", file}, {"pull", "-q", "oci-archive:" + file}} {
				r := crunIn(t, s, args...)
				t.Logf("%s: exit %d: %s", args[0], r.Code, strings.TrimSpace(r.Stderr))
				msg := strings.TrimSpace(r.Stderr)
				if r.Code != 125 || msg == "" || strings.Count(msg, "\n") > 1 {
					t.Errorf("%s of a hostile archive: want exit 125 and a short reason: %s", args[0], r)
				}
				v.check(t, args[0])
			}
			checkStoreWhole(t, s, "")
		})
	}
}

// TestHostileManyLayers: an image of 200 layers (Docker stops building at
// 127) pulls; on kernel overlay its mount options do not fit in the page
// the kernel reads, and run says so and what to do (before: the cut
// options failed as "mount overlay on ...: no such file or directory");
// fuse-overlayfs, which that message names, runs it, --rm and kept.
func TestHostileManyLayers(t *testing.T) {
	const n = 200
	var layers [][]tarEntry
	for i := range n {
		layers = append(layers, []tarEntry{{Header: tar.Header{Name: fmt.Sprintf("l%04d", i), Mode: 0o644, Typeflag: tar.TypeReg}, Data: []byte("x")}})
	}
	ref := hostileImage(t, layers, nil)
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			s := testStore(t)
			s.Extra = k.extra
			mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
			id := pullHostile(t, s, ref)
			if id == "" {
				t.Fatal("want the image stored")
			}
			for _, args := range [][]string{{"run", "--rm", id, "sh", "-c", "ls / | grep -c ^l0"}, {"run", "--name", "kept", id, "sh", "-c", "ls / | grep -c ^l0"}} {
				r := crunIn(t, s, args...)
				if k.name == "native" {
					oneLineError(t, args[1], r, "a store on fuse-overlayfs", 125)
				} else if r.Code != 0 || r.Stdout != strconv.Itoa(n)+"\n" {
					t.Errorf("%s: want the %d files of the %d layers: %s", args[1], n, n, r)
				}
			}
			crunIn(t, s, "rm", "kept")
			checkStoreWhole(t, s, id)
		})
	}
}
