//go:build !lean

package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite man/ and completions/ from the CLI definitions (make docs)")

// repoRoot is where man/ and completions/ are, seen from this package.
const repoRoot = "../.."

// TestGeneratedDocs fails when the checked-in man pages or completion
// scripts differ from what the code generates; `make docs` fixes that.
func TestGeneratedDocs(t *testing.T) {
	want := generatedDocs(newApp())
	if *update {
		writeDocs(t, want)
		return
	}
	var stale []string
	for path, content := range want {
		got, err := os.ReadFile(filepath.Join(repoRoot, path))
		if err != nil || !bytes.Equal(got, content) {
			stale = append(stale, path)
		}
	}
	for _, path := range checkedInDocs(t) {
		if _, ok := want[path]; !ok {
			stale = append(stale, path+" (no such command any more)")
		}
	}
	if len(stale) > 0 {
		slices.Sort(stale)
		t.Fatalf("generated docs are stale: %s\nrun `make docs` and commit man/ and completions/", strings.Join(stale, ", "))
	}
}

func checkedInDocs(t *testing.T) []string {
	var out []string
	for _, dir := range []string{"man", "completions"} {
		entries, err := os.ReadDir(filepath.Join(repoRoot, dir))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range entries {
			out = append(out, dir+"/"+e.Name())
		}
	}
	return out
}

func writeDocs(t *testing.T, docs map[string][]byte) {
	for _, path := range checkedInDocs(t) {
		if _, ok := docs[path]; !ok {
			if err := os.Remove(filepath.Join(repoRoot, path)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for path, content := range docs {
		full := filepath.Join(repoRoot, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
