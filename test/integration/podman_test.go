//go:build integration

package integration

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// podman is Podman 4.3.1 (installed by the test setup) with a store and
// runtime dir of its own, the test busybox loaded: what crun-lite's
// output is compared with.
type podman struct{ root, run, xdg string }

// newPodman skips the test when Podman is not installed.
func newPodman(t *testing.T) podman {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("no podman to compare with (make test-setup installs it)")
	}
	dir := t.TempDir()
	p := podman{root: dir + "/root", run: dir + "/run", xdg: dir}
	t.Cleanup(func() { _ = p.command("system", "reset", "-f").Run() })
	p.must(t, "load", "-q", "-i", filepath.Join(TestData, "images", "busybox.tar"))
	return p
}

func (p podman) command(args ...string) *exec.Cmd {
	cmd := exec.Command("podman", append([]string{"--root", p.root, "--runroot", p.run, "--storage-driver", "vfs"}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+p.xdg)
	return cmd
}

func (p podman) do(t *testing.T, args ...string) result {
	t.Helper()
	cmd := p.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("podman %v: %v", args, err)
	}
	return r
}

func (p podman) must(t *testing.T, args ...string) result {
	t.Helper()
	r := p.do(t, args...)
	if r.Code != 0 {
		t.Fatalf("podman %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// The same command lines, given to crun-lite and to Podman 4.3.1 with the
// same image loaded, print the same and exit the same. Where a line's
// output holds something of the store (a path, a time), the case
// compares what a script would read of it. The differences we keep on
// purpose are in docs/podman.md, not here.
func TestPodmanSameOutput(t *testing.T) {
	pm := newPodman(t)
	s := testStore(t)
	t.Setenv("CRL_PODMAN_A", "from-the-host") // for --env-host
	t.Setenv("CRL_PODMAN_B", "overridden")
	mustCrunIn(t, s, "load", "-q", "-i", filepath.Join(TestData, "images", "busybox.tar"))
	for _, name := range []string{"v1", "v2"} {
		mustCrunIn(t, s, "volume", "create", name)
		pm.must(t, "volume", "create", name)
	}
	// As root on these machines, Podman's crun fails every run
	// ("setrlimit RLIMIT_NOFILE: Operation not permitted": the sandbox
	// caps the hard limit below Podman's default): its run cases are then
	// skipped, saying so; the test user's pass compares them.
	podmanCannotRun := ""
	if r := pm.do(t, "run", "--rm", "--network", "none", "busybox", "true"); r.Code != 0 {
		podmanCannotRun = strings.TrimSpace(r.Stderr)
	}
	inspect := "{{.Id}} {{.ID}} {{.Digest}} {{.RepoTags}} {{.RepoDigests}} {{.Os}} {{.Architecture}} {{.Size}} {{.VirtualSize}} " +
		"{{.RootFS.Type}} {{.RootFS.Layers}} {{.Config.Cmd}} {{json .Config.Env}} {{.Config.WorkingDir}} {{.ManifestType}} " +
		"{{.User}} {{.Labels}} {{.Annotations}} {{.Parent}}|{{.Comment}}|{{.Author}}|{{len .History}} {{.NamesHistory}} {{.Created}}"
	for _, c := range []struct {
		name string
		args []string
		// stdout false: compare exit codes and stderr's first word only
		// (the messages are ours, with a hint).
		stdout bool
	}{
		{"image inspect template", []string{"image", "inspect", "--format", inspect, "busybox"}, true},
		{"image inspect, template after the name", []string{"image", "inspect", "busybox", "--format", "{{.RepoTags}}"}, true},
		{"inspect of an image", []string{"inspect", "--format", "{{.Id}} {{.Os}}", "busybox"}, true},
		{"template functions", []string{"image", "inspect", "--format",
			`{{json .RepoTags}} {{upper .Os}} {{lower "AB"}} {{title "ab cd"}} {{join .RepoTags ","}} {{truncate .ID 5}} {{split "a:b" ":"}}`, "busybox"}, true},
		{"images template", []string{"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Digest}} {{.Size}} {{.Id}}"}, true},
		{"images name and template", []string{"images", "busybox", "--format", "{{.Repository}}"}, true},
		{"images table template", []string{"images", "--format", "table {{.ID}} {{.Repository}}\t{{.Tag}}"}, true},
		{"images -q", []string{"images", "-q"}, true},
		{"images --noheading", []string{"images", "--noheading", "--format", "table {{.Repository}}"}, true},
		{"volume ls", []string{"volume", "ls"}, true},
		{"volume ls -q", []string{"volume", "ls", "-q"}, true},
		{"volume ls template", []string{"volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}} {{.Options}}"}, true},
		{"volume ls table", []string{"volume", "ls", "--format", "table {{.Name}} {{.Driver}}"}, true},
		{"volume inspect template", []string{"volume", "inspect", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.MountCount}} {{.Labels}}", "v1", "v2"}, true},
		{"run echo", []string{"run", "--rm", "--network", "none", "busybox", "echo", "hi there"}, true},
		{"run exit code", []string{"run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; exit 3"}, true},
		{"run env and workdir", []string{"run", "--rm", "--network", "none", "-e", "A=b", "-w", "/tmp", "busybox", "sh", "-c", "echo $A $(pwd) $HOME"}, true},
		{"run as a user", []string{"run", "--rm", "--network", "none", "--user", "1000:1000", "busybox", "id"}, true},
		{"run --unsetenv of defaults", []string{"run", "--rm", "--network", "none", "--unsetenv", "PATH", "--unsetenv", "container", "--unsetenv", "HOSTNAME", "busybox",
			"/bin/env"}, true},
		{"run --unsetenv-all", []string{"run", "--rm", "--network", "none", "--unsetenv-all", "-e", "A=1", "busybox", "/bin/env"}, true},
		{"run --env-host", []string{"run", "--rm", "--network", "none", "--env-host", "-e", "CRL_PODMAN_B=set", "busybox", "sh", "-c", "echo $CRL_PODMAN_A $CRL_PODMAN_B"}, true},
		{"run command not found", []string{"run", "--rm", "--network", "none", "busybox", "no-such-command"}, false},
		{"run not executable", []string{"run", "--rm", "--network", "none", "busybox", "/etc"}, false},
		{"run unknown flag", []string{"run", "--bogus", "busybox"}, false},
		{"run unknown image, --pull never", []string{"run", "--rm", "--pull", "never", "localhost/no-such-image"}, false},
		{"run --pull never of a stored image", []string{"run", "--rm", "--pull", "never", "--network", "none", "busybox", "echo", "stored"}, true},
		{"run --pull with a bad policy", []string{"run", "--rm", "--pull", "sometimes", "busybox", "true"}, false},
		{"rm a missing container", []string{"rm", "no-such-container"}, false},
		{"rm --ignore a missing container", []string{"rm", "--ignore", "no-such-container"}, true},
		{"the cleanup line of scripts", []string{"rm", "-t", "0", "--all", "--force", "--ignore"}, true},
		{"rmi a missing image", []string{"rmi", "no-such-image"}, false},
		{"rmi --ignore a missing image", []string{"rmi", "--ignore", "no-such-image"}, true},
		{"volume rm a missing volume", []string{"volume", "rm", "no-such-volume"}, false},
		{"image exists", []string{"image", "exists", "busybox"}, true},
		{"image exists, missing", []string{"image", "exists", "no-such-image"}, true},
		{"container exists, missing", []string{"container", "exists", "no-such-container"}, true},
		{"version template", []string{"version", "--format", "{{.Client.Os}} {{.Client.OsArch}}"}, true},
		{"unshare: the user namespace's map", []string{"unshare", "cat", "/proc/self/uid_map"}, true},
		{"unshare: the command's exit code", []string{"unshare", "sh", "-c", "exit 4"}, true},
		{"no command", nil, false},
		{"unknown command", []string{"no-such-command"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if len(c.args) > 0 && c.args[0] == "run" && !c.stdout && c.args[1] == "--bogus" {
				// A parse error: Podman need not run anything.
			} else if len(c.args) > 0 && c.args[0] == "run" && podmanCannotRun != "" {
				t.Skipf("Podman cannot run a container here: %s", podmanCannotRun)
			}
			got := crunIn(t, s, c.args...)
			want := pm.do(t, c.args...)
			if got.Code != want.Code {
				t.Errorf("exit code %d, Podman's %d\ncrun-lite: %s\nPodman: %s", got.Code, want.Code, got, want)
			}
			if c.stdout && got.Stdout != want.Stdout {
				t.Errorf("stdout differs from Podman's\ncrun-lite:\n%s\nPodman:\n%s", got.Stdout, want.Stdout)
			}
			if !c.stdout && want.Code != 0 && !strings.HasPrefix(got.Stderr, "Error: ") {
				t.Errorf("stderr does not start as Podman's (Error: ...): %s", got)
			}
		})
	}
}
