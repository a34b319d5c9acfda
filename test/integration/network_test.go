//go:build integration

package integration

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostServer serves body on 127.0.0.1 of the host and returns its port.
func hostServer(t *testing.T, body string) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// freeHostPort is a port nothing listens on now.
func freeHostPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// get fetches url from the host, retrying while the container's server
// starts.
func get(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 3 * time.Second}
	var last error
	for i := 0; i < 50; i++ {
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

// portFree reports whether 127.0.0.1:port can be bound again.
func portFree(port int) bool {
	ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

var ctrIP = regexp.MustCompile(`inet (10\.\d+\.\d+\.\d+)/16`)

// The default network is private: the container's own eth0 on the hub's
// subnet, its own sysfs, its own loopback; the host's loopback services
// and abstract sockets are out of reach but through
// host.containers.internal; --network host still shares them.
func TestNetworkDefaultIsPrivate(t *testing.T) {
	abstract := fmt.Sprintf("@crunlite-test-%d", os.Getpid())
	ln, err := net.Listen("unix", abstract)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := hostServer(t, "host-secret")
	forEachStore(t, func(t *testing.T, s store, image string) {
		r := mustCrunIn(t, s, "run", "--rm", image, "sh", "-c",
			"ls /sys/class/net | tr '\\n' ' '; echo; ip -o -4 addr show eth0; cat /etc/hosts; "+
				fmt.Sprintf("timeout 3 wget -q -O- http://127.0.0.1:%d/ || echo loopback-refused; ", port)+
				fmt.Sprintf("timeout 3 wget -q -O- http://host.containers.internal:%d/; echo; ", port)+
				"grep -c "+abstract[1:]+" /proc/net/unix || true")
		lines := strings.Split(r.Stdout, "\n")
		if lines[0] != "eth0 lo " {
			t.Errorf("/sys/class/net: want the container's eth0 and lo, got %q", lines[0])
		}
		if !ctrIP.MatchString(r.Stdout) {
			t.Errorf("no address of the hub's subnet on eth0:\n%s", r)
		}
		if !strings.Contains(r.Stdout, "host.containers.internal host.docker.internal") {
			t.Errorf("/etc/hosts lacks host.containers.internal:\n%s", r)
		}
		if !strings.Contains(r.Stdout, "loopback-refused") || strings.Count(r.Stdout, "host-secret") != 1 {
			t.Errorf("want the host's 127.0.0.1 refused and host.containers.internal served once:\n%s", r)
		}
		if !strings.HasSuffix(strings.TrimSpace(r.Stdout), "\n0") {
			t.Errorf("the host's abstract socket %s is visible in the container:\n%s", abstract, r)
		}
		// The control: the host's network shares both.
		h := mustCrunIn(t, s, "run", "--rm", "--network", "host", image, "sh", "-c",
			fmt.Sprintf("timeout 3 wget -q -O- http://127.0.0.1:%d/; echo; grep -c %s /proc/net/unix", port, abstract[1:]))
		if !strings.HasPrefix(h.Stdout, "host-secret\n") || strings.HasSuffix(strings.TrimSpace(h.Stdout), "\n0") {
			t.Errorf("--network host: want the host's loopback and its abstract socket:\n%s", h)
		}
		assertNoRunDirs(t, s)
	})
}

// TCP to host.containers.internal is carried by the hub (a REDIRECT to
// its listener, spliced to the host's 127.0.0.1): 4 MiB arrive intact
// both ways, the server sees the request's end, and a host port nobody
// listens on fails in the container instead of hanging.
func TestNetworkHostGatewayForward(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<18) // 4 MiB
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "got %d bytes, %x", len(b), sha256.Sum256(b))
			return
		}
		io.WriteString(w, big)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	closed := freeHostPort(t)
	want := fmt.Sprintf("%x", sha256.Sum256([]byte(big)))
	forEachStore(t, func(t *testing.T, s store, image string) {
		r := mustCrunIn(t, s, "run", "--rm", image, "sh", "-c",
			fmt.Sprintf("timeout 20 wget -q -O- http://host.containers.internal:%d/ | sha256sum; ", port)+
				fmt.Sprintf("timeout 20 wget -q -O /tmp/big http://host.containers.internal:%d/ && timeout 20 wget -q -O- --post-file /tmp/big http://host.containers.internal:%d/; echo; ", port, port)+
				fmt.Sprintf("timeout 5 wget -q -O- http://host.containers.internal:%d/ && echo closed-served || echo closed-failed", closed))
		if !strings.HasPrefix(r.Stdout, want) {
			t.Errorf("GET: want sha256 %s:\n%s", want, r)
		}
		if !strings.Contains(r.Stdout, fmt.Sprintf("got %d bytes, %s", len(big), want)) {
			t.Errorf("POST: want the server to get all %d bytes:\n%s", len(big), r)
		}
		if !strings.Contains(r.Stdout, "closed-failed") {
			t.Errorf("a closed host port: want the wget to fail:\n%s", r)
		}
	})
}

// --network none: loopback only, in ip link and in /sys/class/net.
func TestNetworkNone(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	r := mustCrunIn(t, s, "run", "--rm", "--network", "none", image, "sh", "-c", "ls /sys/class/net; ip -o link | cut -d: -f2")
	if r.Stdout != "lo\n lo\n" {
		t.Errorf("--network none: want only lo in /sys/class/net and ip link, got %q", r.Stdout)
	}
}

// -p: a server in the container reached from the host, on a port given,
// on a random one read from `port`, two containers at once; the ports
// are free again after the containers end.
func TestPublish(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store, image string) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "index.html"), []byte("from-the-container\n"), 0o644)
		os.Chmod(dir, 0o755)
		fixed := freeHostPort(t)
		a := detach(t, s, "--name", "web-a", "-p", fmt.Sprintf("127.0.0.1:%d:80", fixed), "-v", dir+":/www:ro", image, "httpd", "-f", "-p", "80", "-h", "/www")
		b := detach(t, s, "--name", "web-b", "-p", "127.0.0.1::8080", "-v", dir+":/www:ro", image, "httpd", "-f", "-p", "8080", "-h", "/www")
		if got := get(t, fmt.Sprintf("http://127.0.0.1:%d/", fixed)); got != "from-the-container\n" {
			t.Errorf("-p 127.0.0.1:%d:80: got %q", fixed, got)
		}
		if l := mustCrunIn(t, s, "port", "web-a").Stdout; l != fmt.Sprintf("80/tcp -> 127.0.0.1:%d\n", fixed) {
			t.Errorf("port web-a: %q", l)
		}
		hostSide := strings.TrimSpace(mustCrunIn(t, s, "port", "web-b", "8080").Stdout)
		if !strings.HasPrefix(hostSide, "127.0.0.1:") {
			t.Fatalf("port web-b 8080: %q", hostSide)
		}
		if got := get(t, "http://"+hostSide+"/"); got != "from-the-container\n" {
			t.Errorf("random port %s: got %q", hostSide, got)
		}
		if ps := psLine(t, s, "web-a"); !strings.Contains(ps, fmt.Sprintf("127.0.0.1:%d->80/tcp", fixed)) {
			t.Errorf("ps PORTS: %q", ps)
		}
		if r := crunIn(t, s, "port", "web-a", "81"); r.Code != 125 {
			t.Errorf("port of a port not published: %s", r)
		}
		mustCrunIn(t, s, "rm", "-f", "-t", "0", a, b)
		randomPort := 0
		fmt.Sscanf(hostSide, "127.0.0.1:%d", &randomPort)
		waitFor(t, "the published ports to be free", func() bool { return portFree(fixed) && portFree(randomPort) })
	})
}

// UDP is published too: an echo server in the container (perl, of the
// Debian test image) answers a datagram sent to the host port.
func TestPublishUDP(t *testing.T) {
	if !HaveDebian {
		t.Skip("no Debian test image (hack/build-test-images.sh builds it)")
	}
	s := testStore(t)
	debian := Registry + "/test/debian:latest"
	mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", debian)
	port := freeHostPort(t)
	detach(t, s, "--name", "echo", "-p", fmt.Sprintf("127.0.0.1:%d:7000/udp", port), debian, "perl", "-MIO::Socket::INET", "-e",
		`$s=IO::Socket::INET->new(LocalPort=>7000,Proto=>"udp") or die; while($s->recv($m,1024)){$s->send("echo:$m")}`)
	c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	var got string
	for i := 0; i < 30 && got == ""; i++ {
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := c.Read(buf); err == nil {
			got = string(buf[:n])
		}
	}
	if got != "echo:ping" {
		t.Errorf("UDP through -p %d/udp: got %q", port, got)
	}
}

// Refusals: a port in use, a privileged port for a user, -p without a
// private network; each one line naming the fix, exit 125, nothing left.
func TestPublishErrors(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bp := busy.Addr().(*net.TCPAddr).Port
	r := crunIn(t, s, "run", "--rm", "-p", fmt.Sprintf("127.0.0.1:%d:80", bp), image, "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, fmt.Sprintf("port %d/tcp is already in use on 127.0.0.1", bp)) || !strings.Contains(r.Stderr, "hint:") {
		t.Errorf("port in use: %s", r)
	}
	if os.Geteuid() != 0 {
		r = crunIn(t, s, "run", "--rm", "-p", "80:80", image, "true")
		if r.Code != 125 || !strings.Contains(r.Stderr, "net.ipv4.ip_unprivileged_port_start") || !strings.Contains(r.Stderr, "sysctl") {
			t.Errorf("privileged port: %s", r)
		}
	}
	r = crunIn(t, s, "run", "--rm", "--network", "host", "-p", "8080:80", image, "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "-p needs a private network") {
		t.Errorf("-p with --network host: %s", r)
	}
	r = crunIn(t, s, "run", "--rm", "-p", "8080:80/sctp", image, "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "sctp") {
		t.Errorf("-p 8080:80/sctp: %s", r)
	}
	assertNoRunDirs(t, s)
}

// A kill -9 of a foreground crun-lite with -p: the container dies with it
// and the hub frees the port (it holds the container's pidfd).
func TestPublishFreedAfterKill(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	port := freeHostPort(t)
	cmd := exec.Command(Bin, append(s.globalFlags(), "run", "--rm", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), image, "httpd", "-f", "-p", "80", "-h", "/etc")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the port to be published", func() bool { return !portFree(port) })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	waitFor(t, "the port to be free after kill -9", func() bool { return portFree(port) })
}

// Names: --add-host, --dns, --dns-search, --dns-option, --no-hosts, and
// the container's own name and hostname in /etc/hosts.
func TestNetworkNames(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	r := mustCrunIn(t, s, "run", "--rm", "--name", "namer", "--hostname", "box", "--add-host", "db.test:10.1.2.3",
		"--dns", "10.9.9.9", "--dns-search", "example.test", "--dns-option", "ndots:2", image, "sh", "-c", "cat /etc/hosts /etc/resolv.conf")
	for _, want := range []string{"\tbox namer\n", "10.1.2.3\tdb.test\n", "search example.test\n", "nameserver 10.9.9.9\n", "options ndots:2\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("want %q in:\n%s", want, r.Stdout)
		}
	}
	if strings.Count(r.Stdout, "nameserver") != 1 {
		t.Errorf("--dns must replace the network's resolvers:\n%s", r.Stdout)
	}
	// --no-hosts leaves the image's /etc/hosts (busybox has none): nothing
	// generated is mounted there.
	r = mustCrunIn(t, s, "run", "--rm", "--no-hosts", image, "sh", "-c", "cat /etc/hosts 2>&1; grep -c ' /etc/hosts ' /proc/mounts || true")
	if strings.Contains(r.Stdout, "host.containers.internal") || !strings.HasSuffix(r.Stdout, "\n0\n") {
		t.Errorf("--no-hosts mounted a generated /etc/hosts:\n%s", r.Stdout)
	}
	if r := crunIn(t, s, "run", "--rm", "--add-host", "nocolon", image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "NAME:IP") {
		t.Errorf("--add-host nocolon: %s", r)
	}
}

// exec joins the container's network namespace: the same address.
func TestExecSharesNetwork(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	detach(t, s, "--name", "netx", image, "sleep", "60")
	a := mustCrunIn(t, s, "exec", "netx", "ip", "-o", "-4", "addr", "show", "eth0").Stdout
	if m := ctrIP.FindStringSubmatch(a); m == nil {
		t.Fatalf("exec: no hub address on eth0: %q", a)
	} else if in := mustCrunIn(t, s, "inspect", "--format", "{{.NetworkSettings.IPAddress}}", "netx").Stdout; in != m[1]+"\n" {
		t.Errorf("inspect IPAddress %q, exec sees %s", in, m[1])
	}
	mustCrunIn(t, s, "rm", "-f", "-t", "0", "netx")
}

// Name resolution inside goes through a resolver on the host's loopback:
// dnsmasq, started here on 127.0.0.1:53 (a port only root may bind),
// serving a test zone, reached through host.containers.internal.
func TestNetworkDNSOnHostLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: dnsmasq must listen on port 53 of the host's loopback")
	}
	dnsmasq, err := exec.LookPath("dnsmasq")
	if err != nil {
		t.Skip("dnsmasq is not installed (hack/test-setup.sh installs it)")
	}
	if !udpPortFree(53) {
		t.Skip("something else listens on 127.0.0.1:53")
	}
	d := exec.Command(dnsmasq, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces",
		"--port=53", "--host-record=web.crun-lite.test,10.77.0.7", "--local=/crun-lite.test/", "--user=root", "--pid-file=")
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { d.Process.Kill(); d.Wait() }()
	waitFor(t, "dnsmasq to listen", func() bool { return !udpPortFree(53) })
	s := testStore(t)
	image := loadBusybox(t, s)
	gw := mustCrunIn(t, s, "run", "--rm", image, "sh", "-c", "grep host.containers.internal /etc/hosts | cut -f1").Stdout
	r := mustCrunIn(t, s, "run", "--rm", "--dns", strings.TrimSpace(gw), image, "nslookup", "web.crun-lite.test")
	if !strings.Contains(r.Stdout, "10.77.0.7") {
		t.Errorf("nslookup through dnsmasq on the host's loopback:\n%s", r)
	}
}

func udpPortFree(port int) bool {
	c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// --network container:NAME shares a running container's namespace (its
// loopback services, its address and names); ns:PATH joins a namespace
// by its file; a container that is not running is refused.
func TestNetworkJoin(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	id := detach(t, s, "--name", "joinme", image, "httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/etc")
	want := mustCrunIn(t, s, "inspect", "--format", "{{.NetworkSettings.IPAddress}}", "joinme").Stdout
	r := mustCrunIn(t, s, "run", "--rm", "--network", "container:joinme", image, "sh", "-c",
		"ip -o -4 addr show eth0; timeout 3 wget -q -O- http://127.0.0.1:8080/hostname")
	if !strings.Contains(r.Stdout, "inet "+strings.TrimSpace(want)+"/") || !strings.HasSuffix(r.Stdout, "\n"+id[:12]+"\n") {
		t.Errorf("container:joinme: want its address %s and its loopback server:\n%s", want, r)
	}
	pid := strings.TrimSpace(mustCrunIn(t, s, "inspect", "--format", "{{.State.Pid}}", "joinme").Stdout)
	r = mustCrunIn(t, s, "run", "--rm", "--network", "ns:/proc/"+pid+"/ns/net", image, "ip", "-o", "-4", "addr", "show", "eth0")
	if !strings.Contains(r.Stdout, "inet "+strings.TrimSpace(want)+"/") {
		t.Errorf("ns:/proc/%s/ns/net: want address %s:\n%s", pid, want, r)
	}
	if r := crunIn(t, s, "run", "--rm", "--network", "container:nosuchctr", image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "nosuchctr") {
		t.Errorf("container:nosuchctr: %s", r)
	}
	mustCrunIn(t, s, "create", "--name", "stopped", image, "true")
	if r := crunIn(t, s, "run", "--rm", "--network", "container:stopped", image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "not running") {
		t.Errorf("container:stopped: %s", r)
	}
	mustCrunIn(t, s, "rm", "-f", "-t", "0", "joinme", "stopped")
}

// create -p, then start: the ports are published by each start.
func TestPublishCreateStart(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	port := freeHostPort(t)
	mustCrunIn(t, s, "create", "--name", "later", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), image, "httpd", "-f", "-p", "80", "-h", "/etc")
	mustCrunIn(t, s, "start", "later")
	if got := get(t, fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); got == "" {
		t.Errorf("nothing served through the created container's port")
	}
	mustCrunIn(t, s, "rm", "-f", "-t", "0", "later")
	waitFor(t, "the port to be free", func() bool { return portFree(port) })
}

// network create, ls, inspect, rm, and two containers of one user network
// reaching each other by name (each still in its own namespace); a third
// that joins later is listed in the first two's /etc/hosts, and leaves it
// when it ends.
func TestUserNetwork(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	if out := mustCrunIn(t, s, "network", "create", "devnet").Stdout; out != "devnet\n" {
		t.Errorf("network create: %q", out)
	}
	if r := crunIn(t, s, "network", "create", "devnet"); r.Code != 125 || !strings.Contains(r.Stderr, "already exists") {
		t.Errorf("second network create: %s", r)
	}
	if ls := mustCrunIn(t, s, "network", "ls", "-q").Stdout; ls != "devnet\npodman\n" {
		t.Errorf("network ls -q: %q", ls)
	}
	if in := mustCrunIn(t, s, "network", "inspect", "devnet").Stdout; !strings.Contains(in, `"subnet": "10.89.`) || !strings.Contains(in, `"name": "devnet"`) {
		t.Errorf("network inspect: %s", in)
	}
	detach(t, s, "--name", "websrv", "--network", "devnet", image, "httpd", "-f", "-p", "80", "-h", "/etc")
	r := mustCrunIn(t, s, "run", "--rm", "--name", "client", "--network", "devnet", image, "sh", "-c",
		"timeout 3 wget -q -O- http://websrv/hostname; ip -o -4 addr show eth0")
	if !strings.Contains(r.Stdout, "inet 10.89.") || strings.HasPrefix(r.Stdout, "wget") || len(strings.TrimSpace(r.Stdout)) < 12 {
		t.Errorf("a container of devnet reaching websrv by name:\n%s", r)
	}
	detach(t, s, "--name", "later", "--network", "devnet", image, "sleep", "60")
	if h := mustCrunIn(t, s, "exec", "websrv", "cat", "/etc/hosts").Stdout; !strings.Contains(h, " later\n") || strings.Contains(h, " client\n") {
		t.Errorf("websrv's /etc/hosts: want later (running), not client (gone):\n%s", h)
	}
	mustCrunIn(t, s, "rm", "-f", "-t", "0", "later")
	waitFor(t, "later to leave websrv's /etc/hosts", func() bool {
		return !strings.Contains(mustCrunIn(t, s, "exec", "websrv", "cat", "/etc/hosts").Stdout, " later\n")
	})
	if r := crunIn(t, s, "network", "rm", "devnet"); r.Code != 125 || !strings.Contains(r.Stderr, "used by") {
		t.Errorf("network rm of a network in use: %s", r)
	}
	if out := mustCrunIn(t, s, "network", "rm", "-f", "devnet").Stdout; out != "devnet\n" {
		t.Errorf("network rm -f: %q", out)
	}
	if r := crunIn(t, s, "network", "rm", "devnet"); r.Code != 1 || !strings.Contains(r.Stderr, "network not found") {
		t.Errorf("network rm of a missing network: %s", r)
	}
	if r := crunIn(t, s, "run", "--rm", "--network", "devnet", image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "network create devnet") {
		t.Errorf("run on a removed network: %s", r)
	}
}

// containers.conf's default_rootless_network_cmd picks the hub's helper,
// as it picks Podman's: slirp4netns here (its 10.0.2.2 reaches the host's
// loopback, 10.0.2.3 resolves), in a hub of a runtime dir of its own.
func TestNetworkContainersConf(t *testing.T) {
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		t.Skip("slirp4netns is not installed")
	}
	env := privateHolder(t)
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".config", "containers"), 0o700)
	os.WriteFile(filepath.Join(home, ".config", "containers", "containers.conf"),
		[]byte("[network]\ndefault_rootless_network_cmd = \"slirp4netns\"\n"), 0o600)
	env = append(env, "HOME="+home, "XDG_CONFIG_HOME", "CONTAINERS_CONF")
	port := hostServer(t, "via-slirp4netns")
	s := testStore(t)
	mustCrunInEnv(t, s, env, "load", "-q", "-i", filepath.Join(TestData, "images", "busybox.tar"))
	r := mustCrunInEnv(t, s, env, "run", "--rm", "localhost/busybox:latest", "sh", "-c",
		fmt.Sprintf("grep host.containers /etc/hosts; cat /etc/resolv.conf; timeout 3 wget -q -O- http://host.containers.internal:%d/", port))
	if !strings.Contains(r.Stdout, "10.0.2.2\thost.containers.internal") || !strings.Contains(r.Stdout, "nameserver 10.0.2.3") ||
		!strings.HasSuffix(r.Stdout, "via-slirp4netns") {
		t.Errorf("default_rootless_network_cmd = slirp4netns: want slirp4netns's addresses and the host's loopback:\n%s", r)
	}
}

// A kill -9 of the network hub: its helper dies with it (no pasta left
// behind), the ports it published are free, and the next start starts a
// new hub that works.
func TestNetworkHubKilled(t *testing.T) {
	env := privateHolder(t)
	s := testStore(t)
	mustCrunInEnv(t, s, env, "load", "-q", "-i", filepath.Join(TestData, "images", "busybox.tar"))
	port := freeHostPort(t)
	mustCrunInEnv(t, s, env, "run", "-d", "--name", "before", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "localhost/busybox:latest", "httpd", "-f", "-p", "80", "-h", "/etc")
	rundir := strings.TrimPrefix(env[0], "XDG_RUNTIME_DIR=")
	m := regexp.MustCompile(`hub (\d+): subnet`).FindStringSubmatch(readFile(t, filepath.Join(rundir, "crun-lite", "net", "hub.log")))
	if m == nil {
		t.Fatalf("no hub pid in hub.log")
	}
	var hub int
	fmt.Sscanf(m[1], "%d", &hub)
	helpers := childPids(hub)
	if len(helpers) == 0 {
		t.Fatalf("the hub %d has no helper process", hub)
	}
	syscall.Kill(hub, syscall.SIGKILL)
	waitFor(t, "the hub's helper to die with it", func() bool {
		for _, p := range helpers {
			if processExists(p) && !isZombie(p) {
				return false
			}
		}
		return true
	})
	waitFor(t, "the port the hub published to be free", func() bool { return portFree(port) })
	port2 := hostServer(t, "after-a-new-hub")
	r := mustCrunInEnv(t, s, env, "run", "--rm", "localhost/busybox:latest", "timeout", "3", "wget", "-q", "-O-", fmt.Sprintf("http://host.containers.internal:%d/", port2))
	if r.Stdout != "after-a-new-hub" {
		t.Errorf("a start after the hub was killed: %s", r)
	}
	mustCrunInEnv(t, s, env, "rm", "-f", "-t", "0", "before")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// childPids are the processes whose parent is pid.
func childPids(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var p int
		if _, err := fmt.Sscanf(e.Name(), "%d", &p); err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		var pp int
		if len(f) > 1 {
			fmt.Sscanf(f[1], "%d", &pp)
		}
		if pp == pid {
			out = append(out, p)
		}
	}
	return out
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

// -P with --expose: the exposed port on a free host port, read from port.
func TestPublishAll(t *testing.T) {
	s := testStore(t)
	image := loadBusybox(t, s)
	detach(t, s, "--name", "allports", "-P", "--expose", "80", image, "httpd", "-f", "-p", "80", "-h", "/etc")
	host := strings.TrimSpace(mustCrunIn(t, s, "port", "allports", "80").Stdout)
	if !strings.HasPrefix(host, "0.0.0.0:") {
		t.Fatalf("port allports 80: %q", host)
	}
	if got := get(t, "http://127.0.0.1:"+strings.TrimPrefix(host, "0.0.0.0:")+"/hostname"); got == "" {
		t.Errorf("nothing served on the port -P chose")
	}
	mustCrunIn(t, s, "rm", "-f", "-t", "0", "allports")
}
