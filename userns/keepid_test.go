package userns

import (
	"errors"
	"slices"
	"testing"
)

func TestKeepIDMap(t *testing.T) {
	m, err := keepIDMap(1000, 65537)
	if err != nil {
		t.Fatal(err)
	}
	if want := []IDMap{{0, 1, 1000}, {1000, 0, 1}, {1001, 1001, 64536}}; !slices.Equal(m, want) {
		t.Errorf("map %v, want %v", m, want)
	}
	if got := mapFile(m); got != "0 1 1000\n1000 0 1\n1001 1001 64536\n" {
		t.Errorf("map file %q", got)
	}
	if got := FuseMapping(m); got != "0:1:1000:1000:0:1:1001:1001:64536" {
		t.Errorf("fuse mapping %q", got)
	}
	k := &KeepID{UIDs: m, GIDs: m}
	for _, c := range [][2]int{{0, 1}, {999, 1000}, {1000, 0}, {1001, 1001}, {70000, 70000}} {
		if u, g := k.ToOutside(c[0], c[0]); u != c[1] || g != c[1] {
			t.Errorf("%d: outside %d,%d, want %d", c[0], u, g, c[1])
		}
	}
	// The last id: no third line.
	if m, _ := keepIDMap(65536, 65537); len(m) != 2 {
		t.Errorf("keep-id of the last id: %v", m)
	}
	for _, u := range []int{0, -1, 65537} {
		if _, err := keepIDMap(u, 65537); !errors.Is(err, ErrKeepID) {
			t.Errorf("keep-id %d: %v", u, err)
		}
	}
}
