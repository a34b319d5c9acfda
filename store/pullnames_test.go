//go:build !lean

package store

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestChainID(t *testing.T) {
	a := digest.FromString("a")
	b := digest.FromString("b")
	if got := chainID("", a); got != a.Encoded() {
		t.Errorf("base layer: got %s, want the DiffID", got)
	}
	want := digest.FromString(a.Encoded() + "+" + b.Encoded()).Encoded()
	if got := chainID(a.Encoded(), b); got != want {
		t.Errorf("second layer: got %s, want %s", got, want)
	}
}

func TestRegistryKey(t *testing.T) {
	for in, want := range map[string][2]string{
		"https://registry.example/": {"registry.example", "registry.example"},
		"127.0.0.1:5000":            {"127.0.0.1:5000", "127.0.0.1:5000"},
		"registry.example/team":     {"registry.example/team", "registry.example"},
	} {
		if k, h := registryKey(in); k != want[0] || h != want[1] {
			t.Errorf("registryKey(%q) = %q, %q; want %q", in, k, h, want)
		}
	}
}
