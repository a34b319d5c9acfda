//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ownRegistry starts a registry for one test, so that the test can read its
// request log, configure authentication or corrupt its storage without
// affecting other tests. auth is extra registry configuration ("" for none).
func ownRegistry(t *testing.T, auth string) (addr, storage, logPath string) {
	t.Helper()
	// The registry dies with the thread that started it (Pdeathsig): keep
	// this test's thread until its cleanups have stopped the registry.
	runtime.LockOSThread()
	dir := t.TempDir()
	storage = filepath.Join(dir, "storage")
	logPath = filepath.Join(dir, "registry.log")
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		addr = fmt.Sprintf("127.0.0.1:%d", port)
		config := fmt.Sprintf("version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s\n"+
			"  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: %s\n  secret: crun-lite-test\n%s",
			storage, addr, auth)
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/usr/bin/docker-registry", "serve", cfgPath)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		logFile.Close()
		reg := &registry{cmd: cmd, addr: addr, logPath: logPath, exited: make(chan struct{})}
		go func() {
			cmd.Wait()
			close(reg.exited)
		}()
		t.Cleanup(reg.stop)
		if err := waitListening(reg); err == nil {
			return addr, storage, logPath
		}
		reg.stop()
	}
	t.Fatalf("registry did not start; log:\n%s", tail(logPath, 20))
	return
}

// waitListening waits until the registry answers HTTP at all (with auth it
// answers /v2/ with 401).
func waitListening(r *registry) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.exited:
			return fmt.Errorf("registry exited")
		default:
		}
		out, _ := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://"+r.addr+"/v2/").Output()
		if code := string(out); code == "200" || code == "401" {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("registry not listening")
}

// blobGets counts the registry's GET requests for blobs of repo.
func blobGets(t *testing.T, logPath, repo string) int {
	t.Helper()
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), `"GET /v2/`+repo+`/blobs/`)
}

// registriesConf writes a registries.conf for one test and returns the
// environment that makes crun-lite read it (and nothing of the user's).
func registriesConf(t *testing.T, content string) []string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// HOME too: short-name choices are recorded in ~/.cache/containers.
	return []string{"CONTAINERS_REGISTRIES_CONF=" + path, "HOME=" + dir}
}

// TestPullUpToDate: pulling an image that is present asks the registry for
// its manifest and fetches no blob.
func TestPullUpToDate(t *testing.T) {
	addr, _, logPath := ownRegistry(t, "")
	if err := pushImage("busybox", addr); err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	image := addr + "/test/busybox:latest"
	first := mustCrunIn(t, s, "pull", "--tls-verify=false", image)
	gets := blobGets(t, logPath, "test/busybox")
	if gets < 2 {
		t.Fatalf("the first pull fetched %d blobs, want the layer and the config:\n%s", gets, tail(logPath, 10))
	}
	second := mustCrunIn(t, s, "pull", "--tls-verify=false", image)
	if second.Stdout != first.Stdout {
		t.Errorf("second pull printed %q, want the same ID %q", second.Stdout, first.Stdout)
	}
	if now := blobGets(t, logPath, "test/busybox"); now != gets {
		t.Errorf("the second pull fetched %d blobs, want none:\n%s", now-gets, tail(logPath, 10))
	}
}

// TestPullProgress: a line per layer without a terminal, bars on one.
func TestPullProgress(t *testing.T) {
	addr, _, _ := ownRegistry(t, "")
	multiLayerImage(t, addr, "test/layers", 3, 1<<20)
	image := addr + "/test/layers:latest"
	s := testStore(t)
	r := mustCrunIn(t, s, "pull", "--tls-verify=false", image)
	if n := strings.Count(r.Stderr, "Copying blob"); n != 4 {
		t.Errorf("want 4 'Copying blob' lines for 4 layers, got %d:\n%s", n, r.Stderr)
	}
	// On a terminal (script(1) provides one): bars with sizes and speed.
	s2 := testStore(t)
	cmd := fmt.Sprintf("%s --root %s --runroot %s pull --tls-verify=false %s", Bin, s2.Root, s2.RunRoot, image)
	out, err := exec.Command("script", "-q", "-e", "-c", cmd, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("pull on a terminal: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "MiB") || !strings.Contains(string(out), "/s") || !strings.Contains(string(out), "done") {
		t.Errorf("no progress bars with sizes and speed on a terminal:\n%q", out)
	}
}

// TestShortNames: unqualified-search registries, aliases, and an ambiguous
// short name in a script.
func TestShortNames(t *testing.T) {
	env := registriesConf(t, fmt.Sprintf(`unqualified-search-registries = [%q]
short-name-mode = "enforcing"
[[registry]]
location = %q
insecure = true
[aliases]
"mybox" = "%s/test/busybox"
`, Registry, Registry, Registry))
	s := testStore(t)
	r := crunInEnv(t, s, env, "pull", "test/busybox")
	if r.Code != 0 {
		t.Fatalf("short name through the search registry: %s", r)
	}
	if out := crunInEnv(t, s, env, "run", "--rm", "test/busybox", "echo", "short").Stdout; out != "short\n" {
		t.Errorf("run with the short name: %q", out)
	}
	if out := crunInEnv(t, s, env, "images", "--format", "json").Stdout; !strings.Contains(out, Registry+"/test/busybox:latest") {
		t.Errorf("the image is not stored under its full name:\n%s", out)
	}
	s2 := testStore(t)
	if r := crunInEnv(t, s2, env, "run", "--rm", "mybox", "echo", "alias"); r.Code != 0 || r.Stdout != "alias\n" {
		t.Errorf("run through a short-name alias: %s", r)
	}

	ambiguous := registriesConf(t, fmt.Sprintf(`unqualified-search-registries = [%q, "127.0.0.1:1"]
short-name-mode = "enforcing"
`, Registry))
	r = crunInEnv(t, testStore(t), ambiguous, "pull", "test/busybox")
	if r.Code != 125 || !strings.Contains(r.Stderr, Registry+"/test/busybox") || !strings.Contains(r.Stderr, "127.0.0.1:1/test/busybox") ||
		!strings.Contains(r.Stderr, "hint:") {
		t.Errorf("ambiguous short name without a terminal: want 125 listing both candidates and a hint: %s", r)
	}
}

// TestMirrorAndInsecure: a registry reached through its mirror, and
// insecure registries from registries.conf instead of --tls-verify.
func TestMirrorAndInsecure(t *testing.T) {
	env := registriesConf(t, fmt.Sprintf(`[[registry]]
prefix = "mirrored.invalid/test"
location = "mirrored.invalid/test"
[[registry.mirror]]
location = "%s/test"
insecure = true
[[registry]]
location = %q
insecure = true
`, Registry, Registry))
	s := testStore(t)
	if r := crunInEnv(t, s, env, "pull", "-q", "mirrored.invalid/test/busybox"); r.Code != 0 {
		t.Fatalf("pull through the mirror: %s", r)
	}
	if out := crunInEnv(t, s, env, "run", "--rm", "mirrored.invalid/test/busybox", "echo", "mirror").Stdout; out != "mirror\n" {
		t.Errorf("run the mirrored image: %q", out)
	}
	if r := crunInEnv(t, s, env, "pull", "-q", Registry+"/test/busybox"); r.Code != 0 {
		t.Errorf("pull from a registry marked insecure, without --tls-verify=false: %s", r)
	}
	if r := crun(t, registriesConf(t, ""), "pull", "-q", Registry+"/test/busybox"); r.Code == 0 {
		t.Errorf("a plain-HTTP registry that registries.conf does not mark insecure was accepted: %s", r)
	}
	info := crunInEnv(t, s, env, "info", "--format", "json")
	var rep struct {
		Registries struct{ Insecure, Mirrored []string }
	}
	if err := json.Unmarshal([]byte(info.Stdout), &rep); err != nil || len(rep.Registries.Mirrored) != 1 || len(rep.Registries.Insecure) != 1 {
		t.Errorf("info does not show the mirrored and insecure registries (%v): %s", err, info)
	}
}

// authRegistry starts a registry that lets only alice (password s3cret)
// in, holding private/busybox:latest; it returns its address.
func authRegistry(t *testing.T) string {
	t.Helper()
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	out, err := exec.Command("htpasswd", "-Bbn", "alice", "s3cret").Output()
	if err != nil {
		t.Fatalf("htpasswd (apache2-utils, installed by hack/test-setup.sh): %v", err)
	}
	if err := os.WriteFile(htpasswd, out, 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _, _ := ownRegistry(t, fmt.Sprintf("auth:\n  htpasswd:\n    realm: crun-lite-test\n    path: %s\n", htpasswd))
	src := "oci:" + imagePath("busybox") + ":latest"
	if out, err := exec.Command("skopeo", "copy", "--quiet", "--insecure-policy", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret",
		src, "docker://"+addr+"/private/busybox:latest").CombinedOutput(); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	return addr
}

// TestLogin: a registry with htpasswd authentication.
func TestLogin(t *testing.T) {
	addr := authRegistry(t)
	image := addr + "/private/busybox"
	authFile := filepath.Join(t.TempDir(), "auth.json")
	env := []string{"REGISTRY_AUTH_FILE=" + authFile}
	s := testStore(t)

	if r := crunInEnv(t, s, env, "pull", "--tls-verify=false", image); r.Code != 125 || !strings.Contains(strings.ToLower(r.Stderr), "auth") {
		t.Errorf("pull without credentials: want 125 and an authentication error: %s", r)
	}
	if r := loginStdin(t, s, env, addr, "wrong"); r.Code == 0 {
		t.Errorf("login with a wrong password succeeded: %s", r)
	}
	if r := loginStdin(t, s, env, addr, "s3cret"); r.Code != 0 {
		t.Fatalf("login --password-stdin: %s", r)
	}
	if data, err := os.ReadFile(authFile); err != nil || !strings.Contains(string(data), addr) {
		t.Fatalf("login wrote no credentials for %s to $REGISTRY_AUTH_FILE (%v): %s", addr, err, data)
	}
	if r := crunInEnv(t, s, env, "login", "--get-login", addr); r.Stdout != "alice\n" {
		t.Errorf("login --get-login: %s", r)
	}
	if r := crunInEnv(t, s, env, "run", "--rm", "--tls-verify=false", image, "echo", "authenticated"); r.Stdout != "authenticated\n" {
		t.Errorf("run after login: %s", r)
	}
	mustCrunIn(t, s, "rmi", image)
	if r := crunInEnv(t, s, env, "logout", addr); r.Code != 0 {
		t.Errorf("logout: %s", r)
	}
	if r := crunInEnv(t, s, env, "pull", "--tls-verify=false", image); r.Code == 0 {
		t.Errorf("pull after logout succeeded: %s", r)
	}
	if r := crunInEnv(t, s, env, "pull", "-q", "--tls-verify=false", "--creds", "alice:s3cret", image); r.Code != 0 {
		t.Errorf("pull --creds: %s", r)
	}

	// Credentials in Docker's config.json, found through HOME, work too.
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".docker"), 0o700)
	docker := fmt.Sprintf(`{"auths":{%q:{"auth":"YWxpY2U6czNjcmV0"}}}`, addr) // alice:s3cret
	if err := os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte(docker), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := crunInEnv(t, testStore(t), []string{"HOME=" + home}, "pull", "-q", "--tls-verify=false", image); r.Code != 0 {
		t.Errorf("pull with ~/.docker/config.json credentials: %s", r)
	}
}

func loginStdin(t *testing.T, s store, env []string, addr, password string) result {
	t.Helper()
	cmd := exec.Command(Bin, "--root", s.Root, "--runroot", s.RunRoot, "login", "--tls-verify=false", "-u", "alice", "--password-stdin", addr)
	cmd.Env = withEnv(env)
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	r := result{Stderr: string(out)}
	if err != nil {
		r.Code = cmd.ProcessState.ExitCode()
	}
	return r
}

// TestPullPlatform: --arch and --platform choose from a manifest list.
func TestPullPlatform(t *testing.T) {
	addr, _, _ := ownRegistry(t, "")
	l := newOCILayout(t)
	base := busyboxLayer(t)
	marker, _ := randomLayer(t, "platform-marker", 64)
	host := l.image(runtime.GOARCH, []testLayer{base})
	other := l.image("riscv64", []testLayer{base, marker})
	push(t, l.tag(l.list(host, other)), addr, "test/multi")
	image := addr + "/test/multi"

	s := testStore(t)
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
	if got := inspectField(t, s, image, "{{.Architecture}}"); got != runtime.GOARCH {
		t.Errorf("default pull chose %q, want the host's %q", got, runtime.GOARCH)
	}
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", "--arch", "riscv64", image)
	if got := inspectField(t, s, image, "{{.Architecture}} {{len .RootFS.Layers}}"); got != "riscv64 2" {
		t.Errorf("--arch riscv64 pulled %q, want riscv64 with 2 layers", got)
	}
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", "--platform", "linux/"+runtime.GOARCH, image)
	if got := inspectField(t, s, image, "{{.Architecture}}"); got != runtime.GOARCH {
		t.Errorf("--platform linux/%s pulled %q", runtime.GOARCH, got)
	}
	// The list's digest is recorded: the next pull is only a manifest check.
	if r := mustCrunIn(t, s, "pull", "--tls-verify=false", image); !strings.Contains(r.Stderr, "up to date") {
		t.Errorf("pulling the list again: want it up to date: %s", r)
	}
}

func inspectField(t *testing.T, s store, image, format string) string {
	t.Helper()
	return strings.TrimSpace(mustCrunIn(t, s, "inspect", "--format", format, image).Stdout)
}
