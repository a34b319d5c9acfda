//go:build integration

package integration

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/docker/go-units"
)

// TestImagePrune: prune removes images without a name that no container
// uses, --all every image no container uses; it asks on a terminal, and
// an answer other than yes changes nothing and is no error, as in Podman.
func TestImagePrune(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	used := strings.TrimSpace(mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image).Stdout)
	named := importLayer(t, s, mustRandomLayer(t, "named"), "named")
	dangling := importLayer(t, s, mustRandomLayer(t, "dangling"), "")
	untagged := importLayer(t, s, mustRandomLayer(t, "untagged"), "untagged")
	mustCrunIn(t, s, "untag", untagged)
	mustCrunIn(t, s, "run", "--name", "kept", image, "true")
	all := sorted(used, named, dangling, untagged)
	if ids := imageIDs(t, s); !slices.Equal(ids, all) {
		t.Fatalf("images: %v, want %v", ids, all)
	}
	layers := len(storeLayers(t, s))

	if r := crunIn(t, s, "image", "prune"); r.Code != 125 || !strings.Contains(r.Stderr, "-f") {
		t.Errorf("prune without -f and without a terminal: want a refusal naming -f: %s", r)
	}
	se := startSession(t, s, 24, 80, "image", "prune")
	se.expect(`without a name.*\[y/N\] `)
	se.send("n\r")
	if code := se.exit(); code != 0 {
		t.Errorf("prune answered n: exit %d, want 0", code)
	}
	if ids := imageIDs(t, s); !slices.Equal(ids, all) {
		t.Errorf("prune answered n removed images: %v left of %v", ids, all)
	}

	se = startSession(t, s, 24, 80, "image", "prune")
	se.expect(`\[y/N\] `)
	se.send("y\r")
	out := se.expect(`Total reclaimed space: \S+`)
	if code := se.exit(); code != 0 {
		t.Errorf("prune answered y: exit %d", code)
	}
	if strings.HasSuffix(out, " 0B") {
		t.Errorf("prune of two images with layers of their own: %q", out)
	}
	if ids := imageIDs(t, s); !slices.Equal(ids, sorted(used, named)) {
		t.Errorf("after prune: %v, want the named images %v", ids, sorted(used, named))
	}
	if n := len(storeLayers(t, s)); n != layers-2 {
		t.Errorf("prune left %d layers, want %d: the two images' own layers go", n, layers-2)
	}

	r := mustCrunIn(t, s, "image", "prune", "--all", "--force")
	if r.Stdout != named+"\n" {
		t.Errorf("prune --all: want only the unused named image %s removed: %s", named, r)
	}
	if ids := imageIDs(t, s); !slices.Equal(ids, []string{used}) {
		t.Errorf("prune --all removed the image of a kept container: %v", ids)
	}

	// An image that only a running --rm container uses stays too.
	mustCrunIn(t, s, "rm", "kept")
	stop := startSleeper(t, s, "--rm", image)
	if r := mustCrunIn(t, s, "image", "prune", "--all", "--force"); r.Stdout != "" {
		t.Errorf("prune --all removed the image of a running container: %s", r)
	}
	stop()
	if r := mustCrunIn(t, s, "image", "prune", "--all", "--force"); r.Stdout != used+"\n" {
		t.Errorf("prune --all once nothing uses the image: %s", r)
	}
	if n := len(storeLayers(t, s)); n != 0 {
		t.Errorf("prune --all of every image left %d layers", n)
	}
}

func mustRandomLayer(t *testing.T, name string) testLayer {
	t.Helper()
	ly, _ := randomLayer(t, name, 1<<20)
	return ly
}

// tarSize is the size of a layer's uncompressed tar, which storage records
// as the layer's size.
func tarSize(t *testing.T, ly testLayer) int64 {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(ly.gz))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type usageRow struct {
	Total, Active     int
	Size, Reclaimable int64
}

type diskUsage struct {
	Images, Containers usageRow
	UnusedLayers       usageRow `json:"unused_layers"`
}

func systemDF(t *testing.T, s store, env []string) diskUsage {
	t.Helper()
	r := crunInEnv(t, s, env, "system", "df", "--format", "json")
	var du diskUsage
	if err := json.Unmarshal([]byte(r.Stdout), &du); r.Code != 0 || err != nil {
		t.Fatalf("system df --format json (%v): %s", err, r)
	}
	return du
}

// TestSystemDF: sizes, what is reclaimable and the counts of images and
// containers, in JSON and in the table.
func TestSystemDF(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	unused := mustRandomLayer(t, "unused")
	importLayer(t, s, unused, "unused")
	const written = 300_000
	mustCrunIn(t, s, "run", "--name", "stopped", image, "sh", "-c", fmt.Sprintf("head -c %d /dev/urandom > /big", written))
	stop := startSleeper(t, s, "--name", "live", image)
	defer stop()

	du := systemDF(t, s, nil)
	base, own := tarSize(t, busyboxLayer(t)), tarSize(t, unused)
	if want := (usageRow{Total: 2, Active: 1, Size: base + own, Reclaimable: own}); du.Images != want {
		t.Errorf("images: %+v, want %+v (busybox %d bytes, in use; the other %d, unused)", du.Images, want, base, own)
	}
	c := du.Containers
	if c.Total != 2 || c.Active != 1 || c.Reclaimable < written || c.Size < c.Reclaimable || c.Size-c.Reclaimable >= written {
		t.Errorf("containers: %+v, want 2, 1 running, and the stopped one's %d bytes reclaimable", c, written)
	}
	if du.UnusedLayers != (usageRow{}) {
		t.Errorf("unused layers: %+v, want none", du.UnusedLayers)
	}

	table := mustCrunIn(t, s, "system", "df").Stdout
	for name, row := range map[string]usageRow{"Images": du.Images, "Containers": du.Containers, "Unused layers": du.UnusedLayers} {
		pct := int64(0)
		if row.Size > 0 {
			pct = 100 * row.Reclaimable / row.Size
		}
		want := fmt.Sprintf(`(?m)^%s\s+%d\s+%d\s+%s\s+%s \(%d%%\)$`, name, row.Total, row.Active,
			regexp.QuoteMeta(units.HumanSizeWithPrecision(float64(row.Size), 3)),
			regexp.QuoteMeta(units.HumanSizeWithPrecision(float64(row.Reclaimable), 3)), pct)
		if !regexp.MustCompile(want).MatchString(table) {
			t.Errorf("system df: no row %q:\n%s", want, table)
		}
	}
	if !strings.HasPrefix(table, "TYPE ") {
		t.Errorf("system df: no header:\n%s", table)
	}
}

type storeInfo struct {
	Images, Containers, Running, Layers int
}

func infoOf(t *testing.T, s store) storeInfo {
	t.Helper()
	var rep struct{ Store storeInfo }
	out := mustCrunIn(t, s, "info", "--format", "json").Stdout
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("info --format json: %v\n%s", err, out)
	}
	return rep.Store
}

// TestInfoCounts: info counts the containers in the store, and the running
// ones, --rm runs included.
func TestInfoCounts(t *testing.T) {
	s := testStore(t)
	image := Registry + "/test/busybox:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	mustCrunIn(t, s, "run", "--name", "stopped", image, "true")
	// Layers: the image's, and one of its own for each kept container.
	if got, want := infoOf(t, s), (storeInfo{Images: 1, Containers: 1, Running: 0, Layers: 2}); got != want {
		t.Errorf("info: %+v, want %+v", got, want)
	}
	stopRm := startSleeper(t, s, "--rm", image)
	stopKept := startSleeper(t, s, "--name", "live", image)
	if got, want := infoOf(t, s), (storeInfo{Images: 1, Containers: 2, Running: 2, Layers: 3}); got != want {
		t.Errorf("info with a --rm and a kept container running: %+v, want %+v", got, want)
	}
	if text := mustCrunIn(t, s, "info").Stdout; !strings.Contains(text, "containers: 2 stored, 2 running\n") {
		t.Errorf("info text does not count the running containers:\n%s", text)
	}
	stopRm()
	stopKept()
	if got := infoOf(t, s); got.Running != 0 {
		t.Errorf("info after both runs ended: %+v, want none running", got)
	}
}
