//go:build integration

package integration

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// completionStore is a store with busybox pulled from the oci-archive, so
// it is stored as localhost/busybox:latest, and a kept container "keeper".
func completionStore(t *testing.T) store {
	t.Helper()
	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "oci-archive:"+imagePath("busybox")+".tar")
	mustCrunIn(t, s, "run", "--name", "keeper", "busybox", "true")
	return s
}

// shellEnv is a minimal environment whose PATH finds the crun-lite under
// test by that name, as the completion scripts call it.
func shellEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(Bin, filepath.Join(dir, "crun-lite")); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + dir + ":/usr/bin:/bin", "HOME=" + os.Getenv("HOME"), "TERM=xterm", "LANG=C.UTF-8"}
	for _, k := range []string{"XDG_RUNTIME_DIR", "USER"} {
		env = append(env, k+"="+os.Getenv(k))
	}
	return env
}

func completionScript(t *testing.T, shell string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), shell)
	if shell == "zsh" {
		path = filepath.Join(filepath.Dir(path), "_crun-lite") // as in $fpath
	}
	r := crun(t, nil, "completion", shell)
	if r.Code != 0 || r.Stderr != "" {
		t.Fatalf("completion %s: %s", shell, r)
	}
	if err := os.WriteFile(path, []byte(r.Stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCompletionBash drives the bash completion function the way bash does
// on TAB (COMP_LINE, COMP_POINT, COMP_WORDS, COMP_CWORD set, COMPREPLY read).
func TestCompletionBash(t *testing.T) {
	s := completionStore(t)
	script := completionScript(t, "bash")
	g := "crun-lite --root " + s.Root + " --runroot " + s.RunRoot
	prog := `source "$1"; shift
complete -p crun-lite
for line in "$@"; do
	COMP_LINE=$line COMP_POINT=${#line}
	read -r -a COMP_WORDS <<<"$line"
	[[ $line == *' ' ]] && COMP_WORDS+=('')
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_crun_lite crun-lite "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	echo "${COMPREPLY[*]}"
done`
	lines := []string{"crun-lite ru", g + " run ", g + " run localhost/busybox:la", g + " rm ", "crun-lite run --network ", "crun-lite --storage-driver v"}
	cmd := exec.Command("bash", append([]string{"--norc", "--noprofile", "-c", prog, "bash", script}, lines...)...)
	cmd.Env = shellEnv(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	want := []string{
		"complete -F _crun_lite crun-lite",
		"run",
		"localhost/busybox:latest busybox:latest",
		"latest", // bash replaces only what follows the ':'
		"keeper",
		"bridge host none container: ns:",
		"vfs",
	}
	if !slices.Equal(got, want) {
		t.Errorf("bash completion:\ngot  %q\nwant %q", got, want)
	}
}

// TestCompletionInteractive presses TAB in real interactive bash and zsh
// under a pseudo-terminal (script(1) provides it), with the scripts
// installed as make install installs them.
func TestCompletionInteractive(t *testing.T) {
	s := completionStore(t)
	g := "crun-lite --root " + s.Root + " --runroot " + s.RunRoot
	shells := map[string]string{
		"bash": `source ` + completionScript(t, "bash") + `; bind 'set show-all-if-ambiguous on'; PS1='$ '`,
		"zsh":  `fpath=(` + filepath.Dir(completionScript(t, "zsh")) + ` $fpath); autoload -U compinit; compinit -u -D; PROMPT='$ '`,
	}
	for _, name := range []string{"bash", "zsh"} {
		t.Run(name, func(t *testing.T) {
			if _, err := exec.LookPath(name); err != nil {
				t.Skipf("%s is not installed", name)
			}
			args := map[string]string{"bash": "bash --norc --noprofile -i", "zsh": "zsh -f -i"}[name]
			sh := startPty(t, shellEnv(t), args)
			sh.send(shells[name] + "\r")
			// Unique completion; Ctrl-A and "echo " turn the completed line
			// into a command whose output shows what TAB made of it.
			sh.send("crun-lite ru\t\x01echo \r")
			sh.expect(t, "\ncrun-lite run")
			sh.send(g + " run localhost/busybox:la\t\x01echo \r")
			sh.expect(t, "\ncrun-lite --root "+s.Root+" --runroot "+s.RunRoot+" run localhost/busybox:latest")
			// Ambiguous: TAB lists the stored images.
			sh.send(g + " run \t")
			sh.expect(t, "localhost/busybox:latest", "\nbusybox:latest")
			sh.send("\x15") // Ctrl-U: empty the line
			sh.send("crun-lite run --network \t")
			sh.expect(t, "none")
			sh.send("\x15exit\r")
		})
	}
}

// TestCompletionFish asks fish for the completions of a command line, as
// it does on TAB.
func TestCompletionFish(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("fish is not installed")
	}
	s := completionStore(t)
	script := completionScript(t, "fish")
	g := "crun-lite --root " + s.Root + " --runroot " + s.RunRoot
	for _, c := range []struct{ line, want string }{
		{"crun-lite ru", "run\trun a command in a new container"},
		{g + " run ", "localhost/busybox:latest\timage "},
		{g + " rm k", "keeper\texited, busybox"},
		{"crun-lite --storage-driver ", "overlay\t"},
	} {
		cmd := exec.Command("fish", "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, c.line)
		cmd.Env = append(shellEnv(t), "XDG_CONFIG_HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), c.want) {
			t.Errorf("fish: complete -C %q: want %q in:\n%s (%v)", c.line, c.want, out, err)
		}
	}
}

// A TAB must never create the namespace holder or a store: with no holder
// (a fresh runtime dir) it offers no image names, quietly.
func TestCompletionCreatesNothing(t *testing.T) {
	skipIfRoot(t, "it checks that TAB creates no namespace holder, which only rootless use has")
	s := completionStore(t)
	rundir := t.TempDir()
	r := crun(t, []string{"XDG_RUNTIME_DIR=" + rundir}, "__complete", "--root", s.Root, "--runroot", s.RunRoot, "run", "")
	if r.Code != 0 || r.Stderr != "" || r.Stdout != ":\n" {
		t.Errorf("without a holder: want no candidates and no noise: %s", r)
	}
	if entries, _ := os.ReadDir(rundir); len(entries) != 0 {
		t.Errorf("completion created %v in the runtime dir", entries)
	}
	empty := filepath.Join(t.TempDir(), "none")
	if r := crun(t, nil, "__complete", "--root", empty, "run", ""); r.Stdout != ":\n" || fileExists(empty) {
		t.Errorf("completion against a missing store: %s (created: %v)", r, fileExists(empty))
	}
}

// ptyShell is an interactive shell under script(1).
type ptyShell struct {
	in   io.WriteCloser
	mu   sync.Mutex
	out  bytes.Buffer
	seen int // expect looks past what earlier expects matched
}

func startPty(t *testing.T, env []string, command string) *ptyShell {
	t.Helper()
	cmd := exec.Command("script", "-q", "-f", "-e", "-c", command, "/dev/null")
	cmd.Env = env
	p := &ptyShell{}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.in = in
	cmd.Stdout = p
	cmd.Stderr = p
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return p
}

func (p *ptyShell) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *ptyShell) send(s string) { _, _ = io.WriteString(p.in, s) }

// ansiEscape matches the terminal control sequences shells write around text.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]`)

// expect waits until every one of wants shows in the output after the
// last match, in any order.
func (p *ptyShell) expect(t *testing.T, wants ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		out := ansiEscape.ReplaceAllString(strings.ReplaceAll(p.out.String(), "\r", ""), "")
		p.mu.Unlock()
		rest, end := out[min(p.seen, len(out)):], 0
		for _, w := range wants {
			i := strings.Index(rest, w)
			if i < 0 {
				end = -1
				break
			}
			end = max(end, i+len(w))
		}
		if end >= 0 {
			p.seen += end
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Fatalf("no %q in the terminal; it shows:\n%q", wants, p.out.String())
}
