//go:build integration

package integration

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type imageJSON struct {
	ID     string   `json:"id"`
	Names  []string `json:"names"`
	Digest string   `json:"digest"`
	Size   int64    `json:"size"`
}

func listImages(t *testing.T, s store) []imageJSON {
	t.Helper()
	var imgs []imageJSON
	out := mustCrunIn(t, s, "images", "--format", "json").Stdout
	if err := json.Unmarshal([]byte(out), &imgs); err != nil {
		t.Fatalf("images --format json: %v\n%s", err, out)
	}
	return imgs
}

// TestImageCommands: images, inspect, tag, untag, rmi, image exists.
func TestImageCommands(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	id := strings.TrimSpace(mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image).Stdout)

	imgs := listImages(t, s)
	if len(imgs) != 1 || imgs[0].ID != id || imgs[0].Names[0] != image || !strings.HasPrefix(imgs[0].Digest, "sha256:") || imgs[0].Size <= 0 {
		t.Fatalf("images --format json: %+v", imgs)
	}
	if q := mustCrunIn(t, s, "images", "-q").Stdout; q != id[:12]+"\n" {
		t.Errorf("images -q: %q", q)
	}
	// A Go template, as Podman's --format takes, one line per name.
	want := Registry + "/test/busybox:latest " + id[:12] + " " + imgs[0].Digest + "\n"
	if out := mustCrunIn(t, s, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Digest}}").Stdout; out != want {
		t.Errorf("images --format TEMPLATE: %q, want %q", out, want)
	}
	if r := crunIn(t, s, "images", "--format", "{{.NoSuchField}}"); r.Code != 125 || !strings.Contains(r.Stderr, "NoSuchField") {
		t.Errorf("images --format with an unknown field: want 125 naming it: %s", r)
	}

	var details []struct {
		ID       string `json:"Id"`
		Digest   string
		RepoTags []string
		RootFS   struct{ Layers []string }
		Config   struct{ Cmd []string }
	}
	out := mustCrunIn(t, s, "inspect", "busybox").Stdout
	if err := json.Unmarshal([]byte(out), &details); err != nil || len(details) != 1 {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	d := details[0]
	if d.ID != id || d.Digest != imgs[0].Digest || d.RepoTags[0] != image || len(d.RootFS.Layers) != 1 || strings.Join(d.Config.Cmd, " ") != "/bin/sh" {
		t.Errorf("inspect: %+v", d)
	}
	if r := crunIn(t, s, "inspect", "no-such-image"); r.Code == 0 {
		t.Errorf("inspect of a missing image: %s", r)
	}

	mustCrunIn(t, s, "tag", image, "mybox", "mybox:v1")
	if out := mustCrunIn(t, s, "run", "--rm", "localhost/mybox:v1", "echo", "tagged").Stdout; out != "tagged\n" {
		t.Errorf("run by the new tag: %q", out)
	}
	if r := crunIn(t, s, "rmi", id); r.Code != 125 || !strings.Contains(r.Stderr, "several names") {
		t.Errorf("rmi by ID of an image with 3 names: want a refusal: %s", r)
	}
	if r := mustCrunIn(t, s, "rmi", "mybox"); r.Stdout != "Untagged: localhost/mybox:latest\n" {
		t.Errorf("rmi of one name of several: want it untagged only: %s", r)
	}
	if r := mustCrunIn(t, s, "untag", id, "mybox:v1"); r.Stdout != "Untagged: localhost/mybox:v1\n" {
		t.Errorf("untag: %s", r)
	}
	if r := crunIn(t, s, "image", "exists", "localhost/mybox:v1"); r.Code != 1 || r.Stderr != "" {
		t.Errorf("image exists of a removed name: want exit 1, silent: %s", r)
	}
	if r := crunIn(t, s, "image", "exists", "busybox"); r.Code != 0 {
		t.Errorf("image exists busybox: %s", r)
	}
	if r := crunIn(t, s, "rmi", "no-such-image"); r.Code != 1 {
		t.Errorf("rmi of an unknown image: want exit 1: %s", r)
	}
	r := mustCrunIn(t, s, "rmi", "busybox")
	if !strings.Contains(r.Stdout, "Untagged: "+image) || !strings.Contains(r.Stdout, "Deleted: "+id) {
		t.Errorf("rmi of the last name: %s", r)
	}
	if imgs := listImages(t, s); len(imgs) != 0 {
		t.Errorf("images after rmi: %+v", imgs)
	}
	if layers := storeLayers(t, s); len(layers) != 0 {
		t.Errorf("rmi left layers: %v", layers)
	}
}

// storeLayers lists the complete layers in a store's layers.json, as "ID
// DiffID".
func storeLayers(t *testing.T, s store) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.Root, "overlay-layers", "layers.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var layers []struct {
		ID     string         `json:"id"`
		DiffID string         `json:"diff-digest"`
		Flags  map[string]any `json:"flags"`
	}
	if err := json.Unmarshal(data, &layers); err != nil {
		t.Fatalf("layers.json: %v", err)
	}
	var ids []string
	for _, l := range layers {
		if l.Flags["incomplete"] == true {
			continue // being written, or left by a killed process: storage deletes it
		}
		ids = append(ids, l.ID+" "+l.DiffID)
	}
	return ids
}

// TestSaveLoadRoundTrip: save, rmi, load, run, in both archive formats.
func TestSaveLoadRoundTrip(t *testing.T) {
	requireDebian(t)
	for _, format := range []string{"docker-archive", "oci-archive"} {
		t.Run(format, func(t *testing.T) {
			s := testStore(t)
			image := Registry + "/test/debian:latest"
			id := strings.TrimSpace(mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image).Stdout)
			archive := filepath.Join(t.TempDir(), "debian.tar")
			mustCrunIn(t, s, "save", "--format", format, "-o", archive, image)
			mustCrunIn(t, s, "rmi", image)
			if imgs := listImages(t, s); len(imgs) != 0 {
				t.Fatalf("rmi left %+v", imgs)
			}
			r := mustCrunIn(t, s, "load", "-i", archive)
			if r.Stdout != "Loaded image: "+image+"\n" {
				t.Errorf("load: %s", r)
			}
			imgs := listImages(t, s)
			if len(imgs) != 1 || imgs[0].ID != id {
				t.Errorf("the loaded image is not the saved one (ID %s): %+v", id, imgs)
			}
			if out := mustCrunIn(t, s, "run", "--rm", image, "cat", "/etc/debian_version").Stdout; !strings.HasPrefix(out, "12") {
				t.Errorf("run after load: %q", out)
			}
		})
	}
	// An archive from stdin, compressed; and save to stdout.
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", Registry+"/test/busybox")
	gz := filepath.Join(t.TempDir(), "busybox.tar.gz")
	cmd := exec.Command("sh", "-c", `"$0" --root "$1" --runroot "$2" save busybox | gzip > "$3"`, Bin, s.Root, s.RunRoot, gz)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("save to stdout: %v\n%s", err, out)
	}
	s2 := testStore(t)
	cmd = exec.Command("sh", "-c", `"$0" --root "$1" --runroot "$2" load < "$3"`, Bin, s2.Root, s2.RunRoot, gz)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Loaded image: "+Registry+"/test/busybox:latest") {
		t.Errorf("load of a gzip'ed archive from stdin: %v\n%s", err, out)
	}
}

// TestImport: a rootfs tarball becomes a one-layer image with --change.
func TestImport(t *testing.T) {
	s := testStore(t)
	rootfs := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	if err := os.WriteFile(rootfs, busyboxLayer(t).gz, 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustCrunIn(t, s, "import", "-q",
		"-c", `CMD ["sh", "-c", "echo $GREETING from $(pwd) as $(id -u)"]`,
		"-c", "ENV GREETING=hello", "-c", "WORKDIR /tmp", "-c", "USER 1000",
		rootfs, "imported")
	if !hexID.MatchString(r.Stdout) {
		t.Fatalf("import prints no ID: %s", r)
	}
	if out := mustCrunIn(t, s, "run", "--rm", "imported").Stdout; out != "hello from /tmp as 1000\n" {
		t.Errorf("run of the imported image: %q", out)
	}
	if got := inspectField(t, s, "localhost/imported:latest", "{{len .RootFS.Layers}} {{.Config.User}}"); got != "1 1000" {
		t.Errorf("imported image: want 1 layer, user 1000: %q", got)
	}
	if r := crunIn(t, s, "import", "-c", "RUN make", rootfs, "bad"); r.Code != 125 || !strings.Contains(r.Stderr, "RUN") {
		t.Errorf("import with an unsupported instruction: %s", r)
	}

	// A plain, uncompressed tar: the same layer, so the same layer ID.
	zr, err := gzip.NewReader(bytes.NewReader(busyboxLayer(t).gz))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(tarPath, plain, 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustCrunIn(t, s, "import", "-q", "-c", "CMD echo plain tar", tarPath, "plain")
	if !hexID.MatchString(r.Stdout) {
		t.Fatalf("import of a plain tar prints no ID: %s", r)
	}
	if out := mustCrunIn(t, s, "run", "--rm", "plain").Stdout; out != "plain tar\n" {
		t.Errorf("run of the image imported from a plain tar: %q", out)
	}
	if a, b := inspectField(t, s, "plain", "{{.RootFS.Layers}}"), inspectField(t, s, "imported", "{{.RootFS.Layers}}"); a != b {
		t.Errorf("the plain tar made layer %s, the same tar gzip'ed %s", a, b)
	}
}

// TestRmiImageInUse: images of containers are kept unless --force, and
// images of running containers always.
func TestRmiImageInUse(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		mustCrunIn(t, s, "run", "--name", "kept", image, "true")
		r := crunIn(t, s, "rmi", image)
		if r.Code != 2 || !strings.Contains(r.Stderr, "kept") {
			t.Errorf("rmi of a kept container's image: want exit 2 naming it: %s", r)
		}
		marker := "MARKER=" + filepath.Base(filepath.Dir(s.Root))
		cmd, done := startCrun(t, s, "run", "--rm", image, "env", marker, "sleep", "100")
		pid := waitForProcess(t, marker)
		r = crunIn(t, s, "rmi", "--force", image)
		if r.Code != 2 || !strings.Contains(r.Stderr, "running") {
			t.Errorf("rmi --force of a running container's image: want exit 2: %s", r)
		}
		if out := mustCrunIn(t, s, "images", "-q").Stdout; out == "" {
			t.Errorf("the image of a running container was removed")
		}
		var du struct{ Images struct{ Total, Active int } }
		out := mustCrunIn(t, s, "system", "df", "--format", "json").Stdout
		if err := json.Unmarshal([]byte(out), &du); err != nil || du.Images.Total != 1 || du.Images.Active != 1 {
			t.Errorf("system df does not count the image as active (%v):\n%s", err, out)
		}
		cmd.Process.Kill()
		waitExit(t, cmd, done)
		for deadline := time.Now().Add(5 * time.Second); processExists(pid) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		r = mustCrunIn(t, s, "rmi", "--force", image)
		if !strings.Contains(r.Stdout, "Deleted:") {
			t.Errorf("rmi --force: %s", r)
		}
		if ps := mustCrunIn(t, s, "ps", "-a", "-q").Stdout; ps != "" {
			t.Errorf("rmi --force left the container that used the image: %q", ps)
		}
	})
}

// processExists tells whether a process (or its zombie) is still there.
func processExists(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}

// importLayer makes an image of one layer with crun-lite import, named
// name ("" for none), and returns its ID.
func importLayer(t *testing.T, s store, ly testLayer, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "layer.tar.gz")
	if err := os.WriteFile(path, ly.gz, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"import", "-q", path}
	if name != "" {
		args = append(args, name)
	}
	return strings.TrimSpace(mustCrunIn(t, s, args...).Stdout)
}

// imageIDs lists the IDs of the images in the store.
func imageIDs(t *testing.T, s store) []string {
	t.Helper()
	var ids []string
	for _, img := range listImages(t, s) {
		ids = append(ids, img.ID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

// startSleeper starts a container that sleeps until the test kills it,
// and waits until its process runs.
func startSleeper(t *testing.T, s store, args ...string) func() {
	t.Helper()
	marker := fmt.Sprintf("MARKER=%s-%d", filepath.Base(filepath.Dir(s.Root)), time.Now().UnixNano())
	full := append(append([]string{"run"}, args...), "env", marker, "sleep", "1000")
	cmd, done := startCrun(t, s, full...)
	pid := waitForProcess(t, marker)
	return func() {
		t.Helper()
		// The container's command itself: a kept one's foreground run
		// is only attached (killed, it would leave the container
		// running, as Podman's does).
		_ = syscall.Kill(pid, syscall.SIGKILL)
		waitExit(t, cmd, done)
		for deadline := time.Now().Add(10 * time.Second); processExists(pid) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestRmiAll: rmi --all removes every image no container uses, one with
// several names too, and refuses those a kept container uses (exit 2) unless
// --force, which removes the containers with them, as Podman does.
func TestRmiAll(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	used := strings.TrimSpace(mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image).Stdout)
	ly, _ := randomLayer(t, "free", 64<<10)
	free := importLayer(t, s, ly, "free")
	mustCrunIn(t, s, "tag", "free", "free:v2")
	mustCrunIn(t, s, "run", "--name", "kept", image, "true")

	r := crunIn(t, s, "rmi", "--all")
	if r.Code != 2 || !strings.Contains(r.Stderr, "kept") {
		t.Errorf("rmi --all while a kept container uses an image: want exit 2 naming it: %s", r)
	}
	if !strings.Contains(r.Stdout, "Deleted: "+free) {
		t.Errorf("rmi --all did not remove the unused image with two names: %s", r)
	}
	if ids := imageIDs(t, s); !slices.Equal(ids, []string{used}) {
		t.Errorf("after rmi --all: want only the used image %s, have %v", used, ids)
	}
	if ps := mustCrunIn(t, s, "ps", "-a", "--quiet").Stdout; strings.TrimSpace(ps) == "" {
		t.Fatalf("rmi --all without --force removed the kept container")
	}
	if out := mustCrunIn(t, s, "run", "--rm", image, "echo", "intact").Stdout; out != "intact\n" {
		t.Errorf("the kept image after rmi --all: %q", out)
	}

	r = mustCrunIn(t, s, "rmi", "--all", "--force")
	if !strings.Contains(r.Stdout, "Deleted: "+used) {
		t.Errorf("rmi --all --force: %s", r)
	}
	if ids := imageIDs(t, s); len(ids) != 0 {
		t.Errorf("images after rmi --all --force: %v", ids)
	}
	if ps := mustCrunIn(t, s, "ps", "-a", "--quiet").Stdout; ps != "" {
		t.Errorf("rmi --all --force left the container: %q", ps)
	}
	if layers := storeLayers(t, s); len(layers) != 0 {
		t.Errorf("rmi --all --force left layers: %v", layers)
	}
}
