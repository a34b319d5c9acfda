package registry

import "testing"

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
