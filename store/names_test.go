package store

import (
	"testing"
)

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                  "localhost/busybox:latest",
		"team/app:1.0":             "localhost/team/app:1.0",
		"127.0.0.1:5000/test/bb":   "127.0.0.1:5000/test/bb:latest",
		"registry.example/x/y:v2":  "registry.example/x/y:v2",
		"localhost/already:tagged": "localhost/already:tagged",
	} {
		got, err := NormalizeName(in)
		if err != nil || got != want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "UPPER", "a@sha256:abc", "x::y"} {
		if got, err := NormalizeName(bad); err == nil {
			t.Errorf("NormalizeName(%q) = %q, want an error", bad, got)
		}
	}
}

func TestSuffixMatch(t *testing.T) {
	stored := "127.0.0.1:5000/test/busybox:latest"
	for _, c := range []struct {
		repo, tag string
		want      bool
	}{
		{"busybox", "latest", true},
		{"test/busybox", "latest", true},
		{"busybox", "1.0", false},
		{"box", "latest", false},
		{"est/busybox", "latest", false},
	} {
		if got := suffixMatch(stored, c.repo, c.tag); got != c.want {
			t.Errorf("suffixMatch(%q, %q, %q) = %v", stored, c.repo, c.tag, got)
		}
	}
}
