//go:build integration

// Package integration drives the real crun-lite binary as an unprivileged user
// against a real registry on 127.0.0.1, using images built offline by
// hack/test-setup.sh. Run it through `make test`, which prepares the machine
// and runs `go test -tags integration` as the test user.
package integration

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Set by TestMain before any test runs.
var (
	// Registry is the host:port of a plain-HTTP registry that holds
	// test/busybox:latest and, when HaveDebian, test/debian:latest.
	Registry string
	// TestData is the cache dir made by hack/test-setup.sh; its images/
	// holds the OCI layouts and oci-archives the registry was filled from.
	TestData string
	// Bin is the absolute path of the crun-lite binary under test.
	Bin string
	// HaveDebian tells whether the debian image was built (SKIP_DEBIAN=1 skips it).
	HaveDebian bool
	// HaveDebianPip tells whether the debian-pip image (debian and
	// python3-pip) was built; tests take it from its oci-archive.
	HaveDebianPip bool
)

const defaultTestData = "/var/cache/crun-lite-test"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// runMain is separate from TestMain so that its deferred cleanups run before
// os.Exit.
func runMain(m *testing.M) int {
	TestData = os.Getenv("CRUNLITE_TESTDATA")
	if TestData == "" {
		TestData = defaultTestData
	}
	bin := os.Getenv("CRUNLITE_BIN")
	if bin == "" {
		// `go test -tags integration ./...` on a machine that was never set
		// up should not fail: say why nothing ran.
		fmt.Fprintln(os.Stderr, "integration: CRUNLITE_BIN is not set; skipping all integration tests (run `make test`)")
		return 0
	}
	if !fileExists(imagePath("busybox", "index.json")) {
		fmt.Fprintf(os.Stderr, "integration: no test images in %s; skipping all integration tests (run hack/test-setup.sh as root)\n", TestData)
		return 0
	}
	// Root would hide every rootless bug: no user namespace limits, no
	// newuidmap, real mknod. Only allow it on purpose.
	if os.Geteuid() == 0 && os.Getenv("CRUNLITE_ALLOW_ROOT") != "1" {
		fmt.Fprintln(os.Stderr, "integration: refusing to run as root; run as the test user (hack/as-test-user.sh) or set CRUNLITE_ALLOW_ROOT=1")
		return 1
	}
	var err error
	if Bin, err = resolveBin(bin); err != nil {
		fmt.Fprintf(os.Stderr, "integration: CRUNLITE_BIN: %v\n", err)
		return 1
	}
	HaveDebian = fileExists(imagePath("debian", "index.json"))
	HaveDebianPip = fileExists(imagePath("debian-pip", "index.json")) && fileExists(imagePath("debian-pip.tar"))

	tmp, err := os.MkdirTemp("", "crun-lite-integration-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	// The registry is started with Pdeathsig so that it dies with us even when
	// go test kills this binary on -timeout and no defer runs. Pdeathsig
	// fires when the *thread* that started the child exits, so that thread
	// must live as long as the process: pin this goroutine to it.
	runtime.LockOSThread()
	reg, err := startRegistry(tmp)
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: starting registry: %v\n", err)
		return 1
	}
	defer reg.stop()
	Registry = reg.addr

	images := []string{"busybox"}
	if HaveDebian {
		images = append(images, "debian")
	}
	for _, name := range images {
		if err := pushImage(name, Registry); err != nil {
			fmt.Fprintf(os.Stderr, "integration: %v\n", err)
			return 1
		}
	}
	return m.Run()
}

// imagePath returns a path inside the OCI layout of a test image.
func imagePath(name string, elem ...string) string {
	return filepath.Join(append([]string{TestData, "images", name}, elem...)...)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// resolveBin makes Bin absolute: tests may run commands from other working
// directories.
func resolveBin(bin string) (string, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", err
	}
	return filepath.Abs(path)
}

type registry struct {
	cmd     *exec.Cmd
	addr    string
	logPath string
	exited  chan struct{} // closed when the process has been reaped
}

// startRegistry runs the distribution registry as the current user, on
// 127.0.0.1 only, with its storage in dir. The port is picked by the kernel
// and released before the registry binds it, so another process can grab it in
// between; that case is retried.
func startRegistry(dir string) (*registry, error) {
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		reg, err := startRegistryOn(dir, port, attempt)
		if err == nil {
			return reg, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startRegistryOn(dir string, port, attempt int) (*registry, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	storage := filepath.Join(dir, "registry-storage")
	if err := os.MkdirAll(storage, 0o700); err != nil {
		return nil, err
	}
	// No auth and no TLS: the registry is reachable only from this machine,
	// and the tests exercise the plain-HTTP path that local registries use.
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: crun-lite-integration-tests
`, storage, addr)
	configPath := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, fmt.Sprintf("registry-%d.log", attempt))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy

	cmd := exec.Command("/usr/bin/docker-registry", "serve", configPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// REGISTRY_* variables override the config file; keep the developer's
	// environment from changing what the tests talk to.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	reg := &registry{cmd: cmd, addr: addr, logPath: logPath, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(reg.exited)
	}()
	if err := reg.waitReady(10 * time.Second); err != nil {
		reg.stop()
		return nil, fmt.Errorf("%v; registry log %s ends with:\n%s", err, logPath, tail(logPath, 20))
	}
	return reg, nil
}

func (r *registry) waitReady(timeout time.Duration) error {
	// Never go through a proxy from the environment to reach 127.0.0.1.
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	url := "http://" + r.addr + "/v2/"
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-r.exited:
			return fmt.Errorf("registry exited early (%v)", r.cmd.ProcessState)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("GET %s did not answer 200 within %s (last: %s)", url, timeout, last)
}

func (r *registry) stop() {
	select {
	case <-r.exited:
		return
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
}

// pushImage copies the OCI layout of a test image to the registry as
// test/NAME:latest, so that tests can pull over the network code path.
func pushImage(name, registry string) error {
	src := "oci:" + imagePath(name) + ":latest"
	dst := "docker://" + registry + "/test/" + name + ":latest"
	// --insecure-policy: the host's containers policy is not ours to depend
	// on, and these are images we built.
	cmd := exec.Command("skopeo", "copy", "--quiet", "--insecure-policy", "--dest-tls-verify=false", src, dst)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("skopeo copy %s %s: %v\n%s", src, dst, err, out)
	}
	return nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// requireDebian skips tests that need the debian image on machines set up
// with SKIP_DEBIAN=1.
func requireDebian(t *testing.T) {
	t.Helper()
	if !HaveDebian {
		t.Skip("debian test image not built (SKIP_DEBIAN=1)")
	}
}

func requireDebianPip(t *testing.T) {
	t.Helper()
	if !HaveDebianPip {
		t.Skip("debian-pip test image not built (SKIP_DEBIAN=1, or hack/test-setup.sh not run since it was added)")
	}
}
