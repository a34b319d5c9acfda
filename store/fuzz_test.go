package store

import (
	"strings"
	"testing"

	"go.podman.io/image/v5/docker/reference"
)

var nameSeeds = []string{
	"busybox", "team/app:1.0", "127.0.0.1:5000/test/bb", "registry.example/x/y:v2", "localhost/already:tagged",
	"docker.io/library/alpine", "alpine@sha256:" + strings.Repeat("ab", 32), "UPPER", "Reg.Example/x", "x::y", "",
	"localhost:5000/a", "a:5000", "LOCALHOST/x", "a/b/c/d:t-1.2_3", "[::1]:5000/x:y",
}

// FuzzNormalizeName: a name tag and import accept is stored in a form that
// is itself a valid, fully qualified, tagged name, which normalising
// again leaves alone.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, err := NormalizeName(name)
		if err != nil {
			if n != "" {
				t.Fatalf("%q: %q with error %v", name, n, err)
			}
			return
		}
		ref, err := reference.ParseNamed(n) // the canonical form only
		if err != nil {
			t.Fatalf("%q: stored as %q, which is not canonical: %v", name, n, err)
		}
		if _, ok := ref.(reference.NamedTagged); !ok || strings.Contains(n, "@") {
			t.Fatalf("%q: stored as %q, not NAME:TAG", name, n)
		}
		if again, err := NormalizeName(n); err != nil || again != n {
			t.Fatalf("%q: %q normalises again to %q, %v", name, n, again, err)
		}
		if l := LocalName(name); l != n {
			t.Fatalf("%q: NormalizeName %q, LocalName %q", name, n, l)
		}
	})
}

// FuzzLocalName: pulls, loads and imports name images with LocalName;
// what it returns is canonical, and a fixed point.
func FuzzLocalName(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n := LocalName(name)
		if n == "" {
			return
		}
		ref, err := reference.ParseNamed(n)
		if err != nil || ref.String() != n {
			t.Fatalf("%q: LocalName %q is not canonical: %v", name, n, err)
		}
		_, tagged := ref.(reference.Tagged)
		_, digested := ref.(reference.Digested)
		if !tagged && !digested {
			t.Fatalf("%q: LocalName %q has neither tag nor digest", name, n)
		}
		if again := LocalName(n); again != n {
			t.Fatalf("%q: LocalName %q, then %q", name, n, again)
		}
	})
}

// FuzzSuffixMatch: a short name finds a stored image through the last
// components of its path, whole components only, with the same tag.
func FuzzSuffixMatch(f *testing.F) {
	f.Add("127.0.0.1:5000/test/busybox:latest", "busybox", "latest")
	f.Add("127.0.0.1:5000/test/busybox:latest", "est/busybox", "latest")
	f.Add("docker.io/library/alpine:3", "library/alpine", "3")
	f.Add("localhost/a/b:t", "a/b", "u")
	f.Add("not a name", "x", "latest")
	f.Fuzz(func(t *testing.T, stored, repo, tag string) {
		if !suffixMatch(stored, repo, tag) {
			return
		}
		n, err := reference.ParseNormalizedNamed(stored)
		if err != nil {
			t.Fatalf("%q matched, yet is no name: %v", stored, err)
		}
		tg, ok := n.(reference.Tagged)
		if !ok || tg.Tag() != tag {
			t.Fatalf("%q matched tag %q", stored, tag)
		}
		path := reference.Path(n)
		if repo == "" || !strings.HasSuffix("/"+path, "/"+repo) {
			t.Fatalf("%q (path %q) matched %q, not a whole-component suffix", stored, path, repo)
		}
	})
}
