//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// ociLayout writes an OCI image layout by hand: tests need images that the
// fixed test images are not (many layers, a manifest list, a blob that is
// unique so that corrupting it in the registry harms no other image).
type ociLayout struct {
	t   *testing.T
	dir string
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int               `json:"size"`
	Platform    map[string]string `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// testLayer is a gzip'ed layer tar and the digest of the tar inside.
type testLayer struct {
	gz     []byte
	diffID string
}

func newOCILayout(t *testing.T) *ociLayout {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	l := &ociLayout{t: t, dir: dir}
	l.write("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	return l
}

func (l *ociLayout) write(name string, data []byte) {
	if err := os.WriteFile(filepath.Join(l.dir, name), data, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func sha(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// blob stores data and returns its descriptor.
func (l *ociLayout) blob(mediaType string, data []byte) descriptor {
	d := sha(data)
	l.write(filepath.Join("blobs", "sha256", d[len("sha256:"):]), data)
	return descriptor{MediaType: mediaType, Digest: d, Size: len(data)}
}

func (l *ociLayout) jsonBlob(mediaType string, v any) descriptor {
	data, err := json.Marshal(v)
	if err != nil {
		l.t.Fatal(err)
	}
	return l.blob(mediaType, data)
}

// image stores an image of these layers for arch and returns its manifest.
func (l *ociLayout) image(arch string, layers []testLayer) descriptor {
	return l.imageWith(arch, layers, map[string]any{"Cmd": []string{"/bin/sh"}, "Env": []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}})
}

// imageWith is image with the given image config (Cmd, Env, User, ...).
func (l *ociLayout) imageWith(arch string, layers []testLayer, config map[string]any) descriptor {
	diffIDs := []string{}
	var layerDescs []descriptor
	for _, ly := range layers {
		diffIDs = append(diffIDs, ly.diffID)
		layerDescs = append(layerDescs, l.blob("application/vnd.oci.image.layer.v1.tar+gzip", ly.gz))
	}
	cfg := l.jsonBlob("application/vnd.oci.image.config.v1+json", map[string]any{
		"architecture": arch, "os": "linux",
		"config": config,
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	m := l.jsonBlob("application/vnd.oci.image.manifest.v1+json", map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": cfg, "layers": layerDescs,
	})
	m.Platform = map[string]string{"architecture": arch, "os": "linux"}
	return m
}

// list stores an image index of these manifests.
func (l *ociLayout) list(manifests ...descriptor) descriptor {
	return l.jsonBlob("application/vnd.oci.image.index.v1+json", map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests,
	})
}

// tag writes index.json naming top "latest" and returns the oci: reference.
func (l *ociLayout) tag(top descriptor) string {
	top.Platform = nil
	top.Annotations = map[string]string{"org.opencontainers.image.ref.name": "latest"}
	data, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []descriptor{top}})
	l.write("index.json", data)
	return "oci:" + l.dir + ":latest"
}

// push copies an oci: reference to registry/name:latest (all instances of
// a list).
func push(t *testing.T, src, registry, name string) {
	t.Helper()
	dst := "docker://" + registry + "/" + name + ":latest"
	out, err := exec.Command("skopeo", "copy", "--quiet", "--all", "--insecure-policy", "--dest-tls-verify=false", src, dst).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy %s %s: %v\n%s", src, dst, err, out)
	}
}

// layerOf makes a layer holding files (path -> content), owned by root;
// a path ending in / is a directory.
func layerOf(t *testing.T, files map[string][]byte) testLayer {
	t.Helper()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names) // directories before what they hold
	entries := make([]tarEntry, 0, len(names))
	for _, name := range names {
		data := files[name]
		h := tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(name, "/") {
			h = tar.Header{Name: name, Mode: 0o755, Typeflag: tar.TypeDir}
		}
		entries = append(entries, tarEntry{Header: h, Data: data})
	}
	return layerOfEntries(t, entries)
}

// tarEntry is one entry of a layer built by layerOfEntries: any header
// (a FIFO, a device, a symlink, a hard link) and, for a regular file, its
// content (Size is set from it).
type tarEntry struct {
	tar.Header
	Data []byte
}

// fifoEntry is a named pipe at name, for images with hostile files.
func fifoEntry(name string) tarEntry {
	return tarEntry{Header: tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeFifo}}
}

// layerOfEntries makes a layer of these entries, written in this order.
func layerOfEntries(t *testing.T, entries []tarEntry) testLayer {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range entries {
		h := e.Header
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	return testLayer{gz: gz.Bytes(), diffID: sha(raw.Bytes())}
}

// randomLayer makes a layer with one file of n random bytes at name: unique
// in the world, and incompressible, so that it takes time to pull.
func randomLayer(t *testing.T, name string, n int) (testLayer, []byte) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	return layerOf(t, map[string][]byte{name: data}), data
}

// busyboxLayer returns the layer of the busybox test image: a root
// filesystem with a shell, for images that must run.
func busyboxLayer(t *testing.T) testLayer {
	t.Helper()
	return testImageLayer(t, "busybox")
}

// testImageLayer returns the one layer of the test image name (busybox or
// debian, both made by hack/test-setup.sh as a single layer).
func testImageLayer(t *testing.T, name string) testLayer {
	t.Helper()
	blob := func(digest string) string {
		return imagePath(name, "blobs", "sha256", digest[len("sha256:"):])
	}
	var index struct{ Manifests []descriptor }
	readJSON(t, imagePath(name, "index.json"), &index)
	var m struct {
		Config descriptor
		Layers []descriptor
	}
	readJSON(t, blob(index.Manifests[0].Digest), &m)
	if len(m.Layers) != 1 {
		t.Fatalf("test image %s has %d layers, want 1", name, len(m.Layers))
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	readJSON(t, blob(m.Config.Digest), &cfg)
	gz, err := os.ReadFile(blob(m.Layers[0].Digest))
	if err != nil {
		t.Fatal(err)
	}
	return testLayer{gz: gz, diffID: cfg.RootFS.DiffIDs[0]}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// multiLayerImage pushes registry/name: busybox plus n layers of size
// random bytes each (/data/N); it returns the files' contents by path.
func multiLayerImage(t *testing.T, registry, name string, n, size int) map[string][]byte {
	t.Helper()
	l := newOCILayout(t)
	layers := []testLayer{busyboxLayer(t)}
	files := map[string][]byte{}
	for i := range n {
		path := fmt.Sprintf("data/%d", i)
		ly, data := randomLayer(t, path, size)
		layers = append(layers, ly)
		files[path] = data
	}
	push(t, l.tag(l.image(runtime.GOARCH, layers)), registry, name)
	return files
}
