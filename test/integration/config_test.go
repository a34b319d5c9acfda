//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// defaultPlaces returns an environment in which crun-lite finds its
// configuration only where it looks by default: a private HOME, whose
// ~/.config/containers the test fills (see userConfig), and a private
// XDG_RUNTIME_DIR with a holder of its own; the variables that point
// elsewhere are unset. The system's files in /etc/containers stay as the
// machine has them: the tests must pass with and without them.
func defaultPlaces(t *testing.T) (env []string, home, runtimeDir string) {
	t.Helper()
	home = t.TempDir()
	env = privateHolder(t)
	runtimeDir = strings.TrimPrefix(env[0], "XDG_RUNTIME_DIR=")
	env = append(env, "HOME="+home, "XDG_CONFIG_HOME", "CONTAINERS_REGISTRIES_CONF",
		"CONTAINERS_REGISTRIES_CONF_OVERRIDE", "REGISTRY_AUTH_FILE", "CONTAINERS_POLICY_JSON", "DOCKER_CONFIG")
	return env, home, runtimeDir
}

// userConfig writes ~/.config/containers/NAME in home and returns its path.
func userConfig(t *testing.T, home, name, content string) string {
	t.Helper()
	dir := filepath.Join(home, ".config", "containers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPolicyFile: ~/.config/containers/policy.json decides what may be
// pulled; one that cannot be parsed is an error naming it, never a silent
// "accept anything".
func TestPolicyFile(t *testing.T) {
	env, home, _ := defaultPlaces(t)
	image := Registry + "/test/busybox"
	pull := func() result {
		t.Helper()
		return crunInEnv(t, testStore(t), env, "pull", "-q", "--tls-verify=false", image)
	}
	userConfig(t, home, "policy.json", `{"default": [{"type": "reject"}]}`)
	if r := pull(); r.Code != 125 || !strings.Contains(r.Stderr, "rejected") {
		t.Errorf("pull under a policy that rejects everything: want 125 and a refusal: %s", r)
	}
	path := userConfig(t, home, "policy.json", `{"default": [{"type": "reject"}`)
	r := pull()
	if r.Code != 125 || !strings.Contains(r.Stderr, path) || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
		t.Errorf("pull with a truncated policy.json: want 125 and one line naming %s: %s", path, r)
	}
	rootfs := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	if err := os.WriteFile(rootfs, busyboxLayer(t).gz, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := crunInEnv(t, testStore(t), env, "import", "-q", rootfs, "imported"); r.Code != 125 || !strings.Contains(r.Stderr, path) {
		t.Errorf("import with a truncated policy.json: want 125 naming %s: %s", path, r)
	}
	userConfig(t, home, "policy.json", `{"default": [{"type": "insecureAcceptAnything"}]}`)
	if r := pull(); r.Code != 0 {
		t.Errorf("pull under a policy that accepts anything: %s", r)
	}
	// Without a policy of the user's: the system's, or, on a machine without
	// one, images are accepted as on a fresh Podman install.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if r := pull(); r.Code != 0 {
		t.Errorf("pull without a user policy.json: %s", r)
	}
}

// TestDefaultRegistriesConf: ~/.config/containers/registries.conf, found
// through HOME alone, resolves short names and marks registries insecure.
func TestDefaultRegistriesConf(t *testing.T) {
	env, home, _ := defaultPlaces(t)
	s := testStore(t)
	if r := crunInEnv(t, s, env, "pull", "-q", "test/busybox"); r.Code == 0 {
		t.Fatalf("a short name resolved before ~/.config/containers/registries.conf existed: %s", r)
	}
	userConfig(t, home, "registries.conf", fmt.Sprintf(`unqualified-search-registries = [%q]
[[registry]]
location = %q
insecure = true
`, Registry, Registry))
	if r := crunInEnv(t, s, env, "pull", "-q", "test/busybox"); r.Code != 0 {
		t.Fatalf("short name through ~/.config/containers/registries.conf: %s", r)
	}
	imgs := listImages(t, s)
	if len(imgs) != 1 || len(imgs[0].Names) != 1 || imgs[0].Names[0] != Registry+"/test/busybox:latest" {
		t.Errorf("the short name was not stored under the search registry's name: %+v", imgs)
	}
	if r := crunInEnv(t, s, env, "run", "--rm", "test/busybox", "echo", "resolved"); r.Stdout != "resolved\n" {
		t.Errorf("run by the short name: %s", r)
	}
	var rep struct {
		Registries struct{ Search, Insecure []string }
	}
	out := crunInEnv(t, s, env, "info", "--format", "json").Stdout
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !slices.Equal(rep.Registries.Search, []string{Registry}) ||
		!slices.Contains(rep.Registries.Insecure, Registry) {
		t.Errorf("info does not show ~/.config/containers/registries.conf (%v):\n%s", err, out)
	}
}

// TestDefaultAuthFiles: login without --authfile writes
// $XDG_RUNTIME_DIR/containers/auth.json, which pull reads, and
// ~/.config/containers/auth.json is read too.
func TestDefaultAuthFiles(t *testing.T) {
	addr := authRegistry(t)
	image := addr + "/private/busybox"
	env, home, runtimeDir := defaultPlaces(t)
	s := testStore(t)
	if r := loginStdin(t, s, env, addr, "s3cret"); r.Code != 0 {
		t.Fatalf("login: %s", r)
	}
	written := filepath.Join(runtimeDir, "containers", "auth.json")
	if data, err := os.ReadFile(written); err != nil || !strings.Contains(string(data), addr) {
		t.Fatalf("login wrote no credentials for %s to %s (%v): %s", addr, written, err, data)
	}
	if _, err := os.Stat(filepath.Join(home, ".config", "containers", "auth.json")); err == nil {
		t.Errorf("login wrote ~/.config/containers/auth.json too")
	}
	if r := crunInEnv(t, s, env, "run", "--rm", "--tls-verify=false", image, "echo", "logged-in"); r.Stdout != "logged-in\n" {
		t.Errorf("run with the credentials of login: %s", r)
	}
	mustCrunIn(t, s, "rmi", image)
	if r := crunInEnv(t, s, env, "logout", addr); r.Code != 0 {
		t.Fatalf("logout: %s", r)
	}
	if r := crunInEnv(t, s, env, "pull", "-q", "--tls-verify=false", image); r.Code == 0 {
		t.Fatalf("pull after logout succeeded: %s", r)
	}
	userConfig(t, home, "auth.json", fmt.Sprintf(`{"auths":{%q:{"auth":"YWxpY2U6czNjcmV0"}}}`, addr)) // alice:s3cret
	if r := crunInEnv(t, s, env, "pull", "-q", "--tls-verify=false", image); r.Code != 0 {
		t.Errorf("pull with ~/.config/containers/auth.json: %s", r)
	}
	if r := crunInEnv(t, s, env, "login", "--get-login", addr); r.Stdout != "alice\n" {
		t.Errorf("login --get-login from ~/.config/containers/auth.json: %s", r)
	}
}
