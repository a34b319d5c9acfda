//go:build integration

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the source tree whose Makefile installs Bin: the integration
// tests run in test/integration.
const repoRoot = "../.."

// TestMakeInstall runs `make install` into a DESTDIR, reusing the binaries
// under test (-o build: no rebuild), and checks that every file lands where
// the issue says, that man finds the pages there, and that the installed
// crun-lite finds crun-lite-full in libexec.
func TestMakeInstall(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if Bin != filepath.Join(root, "bin", "crun-lite") {
		t.Skipf("CRUNLITE_BIN %s is not this tree's bin/crun-lite: make install would install other binaries", Bin)
	}
	dest := t.TempDir()
	cmd := exec.Command("make", "-C", root, "-o", "build", "install", "DESTDIR="+dest, "PREFIX=/usr/local")
	cmd.Env = withoutEnv("MAKEFLAGS", "MFLAGS", "PREFIX", "DESTDIR", "MANDIR", "BASHCOMPDIR", "ZSHCOMPDIR", "FISHCOMPDIR")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	prefix := filepath.Join(dest, "usr", "local")

	want := map[string]string{ // installed path -> source in the tree
		"bin/crun-lite":                                  root + "/bin/crun-lite",
		"libexec/crun-lite/crun-lite-full":               root + "/bin/crun-lite-full",
		"share/bash-completion/completions/crun-lite":    root + "/completions/crun-lite.bash",
		"share/zsh/site-functions/_crun-lite":            root + "/completions/_crun-lite",
		"share/fish/vendor_completions.d/crun-lite.fish": root + "/completions/crun-lite.fish",
	}
	pages, _ := filepath.Glob(root + "/man/*.1")
	if len(pages) < 10 || !slices.Contains(pages, root+"/man/crun-lite-run.1") {
		t.Fatalf("man pages in the tree: %v", pages)
	}
	for _, p := range pages {
		want["share/man/man1/"+filepath.Base(p)] = p
	}
	got := map[string]os.FileMode{}
	filepath.WalkDir(dest, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(prefix, path)
			info, _ := d.Info()
			got[rel] = info.Mode()
		}
		return nil
	})
	for rel, src := range want {
		mode, ok := got[rel]
		if !ok {
			t.Errorf("make install did not install /usr/local/%s", rel)
			continue
		}
		wantMode := os.FileMode(0o644)
		if strings.HasPrefix(rel, "bin/") || strings.HasPrefix(rel, "libexec/") {
			wantMode = 0o755
		}
		if mode != wantMode {
			t.Errorf("/usr/local/%s: mode %v, want %v", rel, mode, wantMode)
		}
		a, _ := os.ReadFile(filepath.Join(prefix, rel))
		b, _ := os.ReadFile(src)
		if !bytes.Equal(a, b) {
			t.Errorf("/usr/local/%s differs from %s", rel, src)
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("make install installed an unexpected %s", rel)
		}
	}

	// man finds the page through MANPATH and renders it.
	if _, err := exec.LookPath("man"); err != nil {
		t.Fatal("man is not installed (hack/test-setup.sh installs man-db)")
	}
	man := exec.Command("man", "-P", "cat", "crun-lite-run")
	man.Env = append(withoutEnv("MANPATH", "MANPAGER", "PAGER"), "MANPATH="+prefix+"/share/man", "MANWIDTH=80", "LANG=C.UTF-8")
	out, err := man.CombinedOutput()
	page := string(out)
	for _, w := range []string{"CRUN-LITE-RUN(1)", "crun-lite-run - run a command in a new container", "EXAMPLES", "--userns=MODE"} {
		if err != nil || !strings.Contains(page, w) {
			t.Fatalf("MANPATH=%s/share/man man crun-lite-run: %v: no %q in:\n%s", prefix, err, w, page)
		}
	}

	// The installed crun-lite hands --version and images to the installed
	// crun-lite-full: nothing else is beside it or in libexec.
	installed := filepath.Join(prefix, "bin", "crun-lite")
	env := withoutEnv("CRUNLITE_FULL")
	s := testStore(t)
	for _, args := range [][]string{{"--version"}, {"--root", s.Root, "--runroot", s.RunRoot, "images"}} {
		c := exec.Command(installed, args...)
		c.Env = env
		var stderr strings.Builder
		c.Stderr = &stderr // a new store is announced there
		out, err := c.Output()
		if err != nil {
			t.Fatalf("installed crun-lite %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
		}
		if args[0] == "--version" && !strings.HasPrefix(string(out), "crun-lite version ") ||
			args[0] != "--version" && !strings.HasPrefix(string(out), "REPOSITORY ") {
			t.Errorf("installed crun-lite %s printed:\n%s", strings.Join(args, " "), out)
		}
	}
	if err := os.Remove(filepath.Join(prefix, "libexec", "crun-lite", "crun-lite-full")); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(installed, "--version")
	c.Env = env
	out, err = c.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 125 || !strings.Contains(string(out), "crun-lite-full not found") {
		t.Errorf("without libexec/crun-lite/crun-lite-full: want exit 125 and \"crun-lite-full not found\", got %v:\n%s", err, out)
	}
}

// withoutEnv is the test's environment minus the named variables.
func withoutEnv(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(names, k) {
			env = append(env, kv)
		}
	}
	return env
}
