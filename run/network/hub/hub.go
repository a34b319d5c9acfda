// Package hub is the user's network hub: one long-lived process per user
// (crun-lite-full network-hub, started by the first container that needs
// it) that gives every container of the default network, and of each user
// network, a network namespace of its own joined to one shared namespace
// that has the way out.
//
// # Design
//
//	host netns                 hub netns (made by the hub)          container netns (one each)
//	  hub: listens for -p  ---- splice, TCP (UDP: rootlesskit) ---> dials the container's IP
//	  hub: dials 127.0.0.1 <--- splice <- REDIRECT of TCP for the gateway (host.containers.internal)
//	  pasta (or slirp4netns) -> eth0 (tap), default route, DNS, UDP to the gateway
//	                            crl0 bridge 10.88.0.1/16, NAT  <---> veth: eth0 10.88.0.N/16
//	                            crlXXXXXXXX per user network   <---> veth: eth0 10.89.N.M/24
//
// The hub makes each network's namespaces ahead (poolSize of them: a
// namespace, a veth pair on the bridge, the address, the route, loopback
// up) and hands one to each start over its socket; the container's first
// process enters it (setns) before it mounts anything. A start therefore
// pays one round trip to the hub and a setns, no process started and no
// rtnl lock: veth creation, and the kernel's teardown of the last
// container's namespace (which holds rtnl for milliseconds), happen off
// the start path. The helper that carries packets to the host (pasta,
// else slirp4netns; containers.conf's default_rootless_network_cmd picks)
// is started once, with the hub.
//
// The candidates, measured on the test machines (2 cores, as the test
// user; `run --rm busybox true`, hyperfine -N, medians):
//
//	pasta attached to each container's namespace   +17-20 ms per start (pasta --config-net PID)
//	`pasta --config-net -- true`, for scale         ~80 ms
//	`unshare -Urn true`, for scale                  ~2 ms
//	veth made per start by the hub                  +1.5 ms in --timing's "network" when runs
//	                                                are spaced; 19.2 vs 12.8 ms (--network none)
//	                                                back to back, the kernel's teardown of the
//	                                                last namespace holding rtnl
//	namespaces made ahead (this design)             15.2 vs 12.8 ms back to back on a loaded
//	                                                machine; "network" 0.7-1.9 ms
//
// Why the hub runs pasta itself and not through rootlesskit's network
// drivers: those join the target's user namespace, which fails with EINVAL
// from inside that same namespace (the hub runs in the user's, to own the
// namespaces it configures); pasta is given the namespace as an inherited
// fd (--netns /proc/self/fd/3) instead. UDP ports use rootlesskit's
// builtin port driver, parent and child both in the hub: the child dials
// into the hub's namespace by path. TCP ports, and TCP to the host's
// loopback, the hub forwards itself (portfwd.go, hostfwd.go: measured
// there).
//
// Names on a user network go through /etc/hosts, not a DNS server: the hub
// rewrites the part of each member's file after network.PeersMarker as
// members come and go. No daemon per network and nothing on the start
// path; nslookup and dig do not see these names (getent, ping, wget and
// curl do).
//
// When the hub dies, its namespace and helper die with it (parent-death
// signal), and containers on it lose their way out; the next start starts
// a new hub.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rootless-containers/rootlesskit/v3/pkg/port"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin/child"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin/parent"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/run/network"
	"github.com/crun-lite/crun-lite/userns"
)

const (
	bridgeName = "crl0"
	mtu        = 65520
	// dnsForward is the address pasta answers DNS on, forwarding to the
	// host's resolver: containers get it as their nameserver, so a
	// resolver on the host's loopback (systemd-resolved, dnsmasq) works.
	dnsForward = "169.254.1.1"
)

// Hub is the running hub.
type Hub struct {
	uid  int
	log  *log.Logger
	nsfd int // the hub's network namespace
	h    *netlink.Handle
	def  *bridgeNet            // the default network
	nets map[string]*bridgeNet // user networks, by ID
	masq func(subnet, bridge string) error
	// redirect sends TCP for dst to the hub's own port in its namespace.
	sockets  socketMaker // makes sockets in the hub's namespace
	redirect func(dst string, port int) error
	host     string // reaches the host's loopback; "" without a helper
	dns      string
	ports    port.ParentDriver
	helper   *exec.Cmd

	userns uint64 // inode of the user namespace the hub serves
	lfd    int    // the listening socket

	mu sync.Mutex // over the networks' addresses and members
}

// bridgeNet is one network: a bridge in the hub's namespace, its subnet,
// the addresses given out and, on a user network, who has which.
type bridgeNet struct {
	name    string
	link    netlink.Link
	subnet  *net.IPNet
	gw      net.IP
	inUse   map[string]string  // IP -> container ID ("" while pooled)
	members map[string]*member // by container ID (user networks)
	pool    []*pooled          // namespaces made ahead, plugged in
	filling bool               // a refill runs
}

// pooled is a network namespace made ahead of the start that takes it:
// its eth0 plugged into the bridge with an address, loopback up.
type pooled struct {
	nsfd int
	ip   net.IP
	veth netlink.Link
}

// poolSize is how many namespaces each network keeps made ahead: a start
// then pays no namespace, veth or rtnl lock (which the kernel's teardown
// of the last container's namespace holds for milliseconds).
const poolSize = 2

// member is a container of a user network, for the others' /etc/hosts.
type member struct {
	ip    string
	names []string
	hosts string // its /etc/hosts on the host
}

// waitLock takes the hub's lock, waiting a little for a hub that is
// exiting (a stale one) to release it.
func waitLock(f *os.File) error {
	var err error
	for i := 0; i < 300; i++ {
		if err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil || !errors.Is(err, unix.EWOULDBLOCK) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// watchHolder ends the hub with the user namespace holder it serves:
// once a new holder is made, nothing can join this namespace again.
func (hub *Hub) watchHolder() {
	if !userns.Rootless() {
		return
	}
	pid := userns.CurrentHolderPid()
	if pid <= 0 {
		return
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	go func() {
		waitExit(pidfd)
		hub.log.Printf("the user namespace holder %d exited: the hub exits", pid)
		hub.exit()
	}()
}

// watchSocket ends the hub when its socket is gone or another's: its
// runtime dir was removed (a test's, a logout's), so no start finds it.
func (hub *Hub) watchSocket() {
	var mine unix.Stat_t
	if unix.Stat(network.SocketPath(hub.uid), &mine) != nil {
		return
	}
	go func() {
		for range time.Tick(2 * time.Second) {
			var st unix.Stat_t
			if err := unix.Stat(network.SocketPath(hub.uid), &st); err != nil || st.Ino != mine.Ino {
				hub.log.Printf("the hub's socket is gone: the hub exits")
				os.Exit(0)
			}
		}
	}()
}

// waitExit blocks until the process of pidfd has exited.
func waitExit(pidfd int) {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err == nil || !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// exit stops listening first, so that the next start starts a new hub.
func (hub *Hub) exit() {
	_ = os.Remove(network.SocketPath(hub.uid))
	unix.Close(hub.lfd)
	os.Exit(0)
}

// Serve runs the hub until it is killed. ready gets "ok\n" once the hub
// listens, or the error, and is closed; a hub already running for the
// user makes Serve return nil at once.
func Serve(hostUID int, ready io.WriteCloser) error {
	err := serve(hostUID, ready)
	if err != nil && ready != nil {
		fmt.Fprintln(ready, err)
		ready.Close()
	}
	return err
}

func serve(hostUID int, ready io.WriteCloser) error {
	if err := network.MkDir(hostUID); err != nil {
		return fmt.Errorf("make %s: %w", network.Dir(hostUID), err)
	}
	lock, err := os.OpenFile(filepath.Join(network.Dir(hostUID), "hub.lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	if err := waitLock(lock); err != nil {
		// Another hub runs or is starting: the caller dials it.
		if ready != nil {
			fmt.Fprintln(ready, "ok")
			ready.Close()
		}
		return nil
	}
	lf, err := os.OpenFile(network.HubLog(hostUID), os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	hub := &Hub{uid: hostUID, log: log.New(lf, "", log.LstdFlags), nets: map[string]*bridgeNet{}, userns: network.UserNSInode(), lfd: -1}
	if err := hub.setUp(); err != nil {
		hub.log.Print(err)
		return err
	}
	sock := network.SocketPath(hostUID)
	_ = os.Remove(sock)
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: sock}); err != nil {
		return fmt.Errorf("bind %s: %w", sock, err)
	}
	if err := unix.Listen(lfd, 64); err != nil {
		return err
	}
	hub.lfd = lfd
	go hub.refill(hub.def)
	hub.watchHolder()
	hub.watchSocket()
	hub.log.Printf("hub %d: subnet %s, host %q, dns %q", os.Getpid(), hub.def.subnet, hub.host, hub.dns)
	if ready != nil {
		fmt.Fprintln(ready, "ok")
		ready.Close()
	}
	for {
		fd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNABORTED) {
				continue
			}
			return err
		}
		go hub.serveConn(fd)
	}
}

// setUp makes the hub's namespace, its bridge and NAT, the helper that
// carries its traffic to the host, and the port driver.
func (hub *Hub) setUp() error {
	nsfd, err := newNetns()
	if err != nil {
		return fmt.Errorf("make the hub's network namespace: %w", err)
	}
	hub.nsfd = nsfd
	if hub.h, err = handleIn(nsfd); err != nil {
		return fmt.Errorf("netlink in the hub's namespace: %w", err)
	}
	lo, err := hub.h.LinkByName("lo")
	if err == nil {
		err = hub.h.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("loopback of the hub: %w", err)
	}
	if hub.def, err = hub.makeBridge(bridgeName, "", pickSubnet()); err != nil {
		return err
	}
	if err := hub.inNetns(hub.nat); err != nil {
		// Containers still reach each other and the host through -p.
		hub.log.Printf("no NAT: %v", err)
	} else if err := hub.masq(hub.def.subnet.String(), bridgeName); err != nil {
		hub.log.Printf("no NAT: %v", err)
	}
	if err := hub.startHelper(); err != nil {
		// Containers still reach each other and published ports work.
		hub.log.Printf("no way out of the hub's namespace: %v", err)
	} else if mapsHostLoopback(readHelperConf()) {
		if err := hub.hostForward(); err != nil {
			// The helper still maps its gateway to the host, slower.
			hub.log.Printf("host loopback through %s: %v", filepath.Base(hub.helper.Path), err)
		}
	}
	if err := hub.startSocketMaker(); err != nil {
		return err
	}
	return hub.startPorts()
}

// newNetns makes a network namespace on a thread of its own and returns
// an fd of it; the thread goes back to ours.
func newNetns() (int, error) {
	type result struct {
		fd  int
		err error
	}
	c := make(chan result)
	go func() {
		runtime.LockOSThread()
		// Unshare on a thread that then ends with the goroutine: never
		// unlocked, Go does not reuse it.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			c <- result{-1, err}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		c <- result{fd, err}
	}()
	r := <-c
	return r.fd, r.err
}

// inNetns runs f on a thread in the hub's namespace (processes f starts
// are born there).
func (hub *Hub) inNetns(f func() error) error {
	return inNetns(hub.nsfd, f)
}

func inNetns(nsfd int, f func() error) error {
	c := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with us
		if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
			c <- err
			return
		}
		c <- f()
	}()
	return <-c
}

// handleIn makes a netlink handle whose sockets live in the network
// namespace nsfd. Not netlink.NewHandleAt: it enters the namespace on a
// thread it then returns to Go, and a process in the user's namespace
// cannot enter the host's again (EPERM, ignored there), so that thread
// would stay in the container's namespace for whatever Go runs on it next
// (a port's listener, a helper's fork). inNetns's thread ends instead.
func handleIn(nsfd int) (*netlink.Handle, error) {
	var h *netlink.Handle
	err := inNetns(nsfd, func() error {
		var err error
		h, err = netlink.NewHandle()
		return err
	})
	return h, err
}

// makeBridge makes a network's bridge, with the first address of subnet.
func (hub *Hub) makeBridge(link, name string, subnet *net.IPNet) (*bridgeNet, error) {
	bn := &bridgeNet{name: name, subnet: subnet, gw: nthIP(subnet, 1), inUse: map[string]string{}, members: map[string]*member{}}
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU = link, mtu
	br := &netlink.Bridge{LinkAttrs: la}
	if err := hub.h.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("make bridge %s: %w", link, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: bn.gw, Mask: subnet.Mask}}
	if err := hub.h.AddrAdd(br, addr); err != nil {
		return nil, fmt.Errorf("address of %s: %w", link, err)
	}
	if err := hub.h.LinkSetUp(br); err != nil {
		return nil, err
	}
	bn.link = br
	return bn, nil
}

// userNet is the bridge of the user network c, made on its first use.
func (hub *Hub) userNet(c *network.Config) (*bridgeNet, error) {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if bn := hub.nets[c.ID]; bn != nil {
		return bn, nil
	}
	_, subnet, err := net.ParseCIDR(c.Subnet)
	if err != nil {
		return nil, fmt.Errorf("network %s: subnet %q: %w", c.Name, c.Subnet, err)
	}
	for _, other := range append([]*bridgeNet{hub.def}, mapValues(hub.nets)...) {
		if other.subnet.Contains(subnet.IP) || subnet.Contains(other.subnet.IP) {
			return nil, fmt.Errorf("network %s: subnet %s overlaps %s of network %q", c.Name, subnet, other.subnet, other.name)
		}
	}
	link := "crl" + c.ID[:8]
	bn, err := hub.makeBridge(link, c.Name, subnet)
	if err != nil {
		return nil, err
	}
	if hub.masq != nil {
		if err := hub.masq(subnet.String(), link); err != nil {
			hub.log.Printf("network %s: no NAT: %v", c.Name, err)
		}
	}
	hub.nets[c.ID] = bn
	return bn, nil
}

func mapValues(m map[string]*bridgeNet) []*bridgeNet {
	var out []*bridgeNet
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// nat lets containers out through the hub's own address: the helper
// (pasta, slirp4netns) knows only that one. Runs in the hub's namespace,
// with iptables, else nft (either talks nf_tables to the kernel).
func (hub *Hub) nat() error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0); err != nil {
		return fmt.Errorf("enable forwarding in the hub: %w", err)
	}
	// pasta sends segments without ACK (window updates) that conntrack
	// finds invalid: NAT then leaves them to this namespace's own stack,
	// whose RST would end the container's connection. Both drop them.
	var base [][]string
	var masq func(subnet, bridge string) [][]string
	var redirect func(dst string, port int) [][]string
	if ipt := network.AdminTool("iptables"); ipt != "" {
		base = [][]string{{ipt, "-w", "-A", "INPUT", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"}}
		masq = func(subnet, bridge string) [][]string {
			return [][]string{{ipt, "-w", "-t", "nat", "-A", "POSTROUTING", "-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"}}
		}
		redirect = func(dst string, port int) [][]string {
			return [][]string{{ipt, "-w", "-t", "nat", "-A", "PREROUTING", "-d", dst, "-p", "tcp", "-j", "REDIRECT", "--to-ports", fmt.Sprint(port)}}
		}
	} else if nft := network.AdminTool("nft"); nft != "" {
		base = [][]string{
			{nft, "add table ip crunlite"},
			{nft, "add chain ip crunlite post { type nat hook postrouting priority 100 ; }"},
			{nft, "add chain ip crunlite pre { type nat hook prerouting priority -100 ; }"},
			{nft, "add chain ip crunlite input { type filter hook input priority 0 ; }"},
			{nft, "add rule ip crunlite input ct state invalid drop"},
		}
		masq = func(subnet, bridge string) [][]string {
			return [][]string{{nft, "add rule ip crunlite post ip saddr " + subnet + " oifname != " + bridge + " masquerade"}}
		}
		redirect = func(dst string, port int) [][]string {
			return [][]string{{nft, fmt.Sprintf("add rule ip crunlite pre ip daddr %s meta l4proto tcp redirect to :%d", dst, port)}}
		}
	} else {
		return errors.New("neither iptables nor nft is installed: containers cannot reach out (apt-get install iptables)")
	}
	run := func(rules [][]string) error {
		for _, r := range rules {
			if out, err := exec.Command(r[0], r[1:]...).CombinedOutput(); err != nil {
				return fmt.Errorf("%s in the hub's namespace: %v: %s", strings.Join(r, " "), err, strings.TrimSpace(string(out)))
			}
		}
		return nil
	}
	if err := run(base); err != nil {
		return err
	}
	hub.masq = func(subnet, bridge string) error {
		return hub.inNetns(func() error { return run(masq(subnet, bridge)) })
	}
	hub.redirect = func(dst string, port int) error {
		return hub.inNetns(func() error { return run(redirect(dst, port)) })
	}
	return nil
}

// startHelper starts pasta (else slirp4netns) on the hub's namespace and
// waits until its interface has an address.
func (hub *Hub) startHelper() error {
	self := os.NewFile(uintptr(hub.nsfd), "netns")
	cmd, err := helperCommand(readHelperConf())
	if err != nil {
		return err
	}
	cmd.ExtraFiles = []*os.File{self}
	cmd.Stdout, cmd.Stderr = hub.log.Writer(), hub.log.Writer()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// The parent-death signal follows the thread that forked, and Go ends
	// the threads of goroutines that exit locked (inNetns's): fork from a
	// thread kept for the helper's whole life.
	started, exited := make(chan error, 1), make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return err
	}
	hub.helper = cmd
	ready := false
	defer func() {
		if ready {
			// A hub without its helper has no way out: end it, so that the
			// next start starts a whole one.
			go func() {
				err := <-exited
				hub.log.Printf("%s exited (%v): the hub exits", cmd.Path, err)
				hub.exit()
			}()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l, err := hub.h.LinkByName("eth0"); err == nil {
			if as, _ := hub.h.AddrList(l, netlink.FAMILY_V4); len(as) > 0 {
				ready = true
				return hub.afterHelper(l, filepath.Base(cmd.Path))
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("%s exited: %v", cmd.Path, err)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not configure the hub's namespace in 5 s", cmd.Path)
		}
	}
}

// helperCommand is pasta (else slirp4netns) on the namespace the hub
// passes as fd 3, or the one containers.conf names, with its options.
func helperCommand(hc helperConf) (*exec.Cmd, error) {
	pasta, perr := exec.LookPath("pasta")
	slirp, serr := exec.LookPath("slirp4netns")
	use := "pasta"
	if hc.Cmd == "slirp4netns" || (hc.Cmd == "" && perr != nil) {
		use = "slirp4netns"
	}
	switch {
	case use == "pasta" && perr == nil:
		args := []string{"-f", "-q", "--config-net", "--ipv4-only", "-t", "none", "-u", "none", "-T", "none", "-U", "none",
			"--ns-ifname", "eth0", "--mtu", fmt.Sprint(mtu), "--dns-forward", dnsForward, "--no-netns-quit", "--netns", "/proc/self/fd/3"}
		if os.Getuid() == 0 {
			// root in the user's namespace is the user: stay it (pasta
			// would switch to nobody, which cannot open our fd).
			args = append([]string{"--runas", "0:0"}, args...)
		}
		return exec.Command(pasta, append(args, hc.Options...)...), nil
	case use == "slirp4netns" && serr == nil:
		args := []string{"--configure", "--mtu", fmt.Sprint(mtu)}
		for _, o := range hc.Options {
			// Podman's keys for slirp4netns's network_cmd_options.
			switch o {
			case "allow_host_loopback=false":
				args = append(args, "--disable-host-loopback")
			case "enable_ipv6=true":
				args = append(args, "--enable-ipv6")
			default:
				if v, ok := strings.CutPrefix(o, "mtu="); ok {
					args[2] = v
				}
			}
		}
		return exec.Command(slirp, append(args, "--netns-type=path", "/proc/self/fd/3", "eth0")...), nil
	case hc.Cmd != "":
		return nil, fmt.Errorf("containers.conf's default_rootless_network_cmd %q is not installed (or not pasta nor slirp4netns)", hc.Cmd)
	}
	return nil, errors.New("neither pasta (package passt) nor slirp4netns is installed")
}

// afterHelper reads where the helper put the host: its gateway reaches
// the host's loopback (pasta maps it there, slirp4netns's 10.0.2.2 too).
func (hub *Hub) afterHelper(eth netlink.Link, helper string) error {
	if helper == "slirp4netns" {
		hub.host, hub.dns = "10.0.2.2", "10.0.2.3"
		return nil
	}
	var gw net.IP
	for deadline := time.Now().Add(time.Second); gw == nil && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		routes, _ := hub.h.RouteList(eth, netlink.FAMILY_V4)
		for _, r := range routes {
			if isDefault(r.Dst) && r.Gw != nil {
				gw = r.Gw
			}
		}
	}
	if gw == nil {
		return errors.New("pasta set no default route")
	}
	hub.host = gw.String()
	// The DNS address is pasta's: route it to its tap.
	dst := &net.IPNet{IP: net.ParseIP(dnsForward).To4(), Mask: net.CIDRMask(32, 32)}
	if err := hub.h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Dst: dst, Scope: netlink.SCOPE_LINK}); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("route to pasta's DNS: %w", err)
	}
	hub.dns = dnsForward
	return nil
}

// isDefault: netlink reports a default route's destination as nil or
// as 0.0.0.0/0, by version.
func isDefault(dst *net.IPNet) bool {
	if dst == nil {
		return true
	}
	ones, _ := dst.Mask.Size()
	return ones == 0
}

func (hub *Hub) startPorts() error {
	// A hub killed before left its socket: the child's bind would fail.
	_ = os.Remove(filepath.Join(network.Dir(hub.uid), ".bp.sock"))
	d, err := parent.NewDriver(hub.log.Writer(), network.Dir(hub.uid), false, "")
	if err != nil {
		return fmt.Errorf("port driver: %w", err)
	}
	quit := make(chan struct{}) // never closed: ports live with the hub
	cd := child.NewDriver(hub.log.Writer())
	go func() {
		if err := cd.RunChildDriver(d.OpaqueForChild(), quit, fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), hub.nsfd)); err != nil {
			hub.log.Printf("port driver child: %v", err)
		}
	}()
	initDone := make(chan struct{})
	errc := make(chan error, 1)
	go func() { errc <- d.RunParentDriver(initDone, quit, nil) }()
	select {
	case <-initDone:
	case err := <-errc:
		return fmt.Errorf("port driver: %w", err)
	case <-time.After(5 * time.Second):
		return errors.New("port driver did not start in 5 s")
	}
	hub.ports = d
	return nil
}

// pickSubnet is 10.88.0.0/16, Podman's default, unless the host routes
// to it already; then the next free 10.N.0.0/16.
func pickSubnet() *net.IPNet {
	routes, _ := netlink.RouteList(nil, netlink.FAMILY_V4)
	for n := 88; n < 100; n++ {
		_, s, _ := net.ParseCIDR(fmt.Sprintf("10.%d.0.0/16", n))
		free := true
		for _, r := range routes {
			if !isDefault(r.Dst) && (r.Dst.Contains(s.IP) || s.Contains(r.Dst.IP)) {
				free = false
			}
		}
		if free {
			return s
		}
	}
	_, s, _ := net.ParseCIDR("10.88.0.0/16")
	return s
}

func nthIP(s *net.IPNet, n uint32) net.IP {
	ip := s.IP.To4()
	v := uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3]) + n
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).To4()
}

// serveConn answers one request.
func (hub *Hub) serveConn(fd int) {
	defer unix.Close(fd)
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if got, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	var req network.Request
	reply, replyFD := &network.Lease{}, -1
	if err := json.Unmarshal(buf[:n], &req); err != nil {
		reply.Error = "bad request: " + err.Error()
	} else {
		if req.UserNS != 0 && req.UserNS != hub.userns || req.Version != network.ProtocolVersion() {
			// Every request says both, so that any later protocol finds
			// this hub stale whatever it asks.
			hub.log.Printf("asked from another user namespace (%d, not %d) or protocol (%d, not %d): the hub exits",
				req.UserNS, hub.userns, req.Version, network.ProtocolVersion())
			_ = os.Remove(network.SocketPath(hub.uid))
			unix.Close(hub.lfd)
			b, _ := json.Marshal(network.Lease{Error: "stale hub"})
			_ = unix.Sendmsg(fd, b, nil, nil, 0)
			os.Exit(0)
		}
		switch req.Op {
		case "lease":
			if len(fds) != 1 {
				reply.Error = "lease needs the pidfd of the process that starts the container"
			} else {
				reply, replyFD = hub.lease(req, fds[0])
				fds = nil // lease owns it
			}
		case "stop-if-idle":
			hub.mu.Lock()
			idle := true
			for _, bn := range append([]*bridgeNet{hub.def}, mapValues(hub.nets)...) {
				for _, id := range bn.inUse {
					idle = idle && id == "" // "": pooled
				}
			}
			hub.mu.Unlock()
			if idle {
				hub.log.Printf("asked to stop with no container attached: the hub exits")
				b, _ := json.Marshal(network.Lease{Pid: os.Getpid()})
				_ = os.Remove(network.SocketPath(hub.uid))
				_ = unix.Sendmsg(fd, b, nil, nil, 0)
				os.Exit(0)
			}
			reply.Error = "containers are attached"
		case "status":
			reply = &network.Lease{Gateway: hub.def.gw.String(), Prefix: prefix(hub.def.subnet), Host: hub.host, DNS: hub.dns, Pid: os.Getpid()}
		default:
			reply.Error = "unknown request " + req.Op
		}
	}
	for _, f := range fds {
		unix.Close(f)
	}
	b, _ := json.Marshal(reply)
	var rights []byte
	if replyFD >= 0 {
		rights = unix.UnixRights(replyFD)
		defer unix.Close(replyFD)
	}
	_ = unix.Sendmsg(fd, b, rights, nil, 0)
}

func prefix(s *net.IPNet) int { p, _ := s.Mask.Size(); return p }

// lease gives a start a network namespace of its network, made ahead
// (plugged into the bridge, with its address), and publishes its ports;
// when the process that starts the container (later its monitor, the
// same pid) ends, its ports close and its address is free again.
func (hub *Hub) lease(req network.Request, pidfd int) (*network.Lease, int) {
	fail := func(err error, fix string) (*network.Lease, int) {
		unix.Close(pidfd)
		return &network.Lease{Error: err.Error(), Hint: fix}, -1
	}
	bn := hub.def
	if req.Net != nil {
		var err error
		if bn, err = hub.userNet(req.Net); err != nil {
			return fail(err, "see "+network.HubLog(hub.uid))
		}
	}
	p, err := hub.take(bn, req.ID)
	if err != nil {
		return fail(err, "see "+network.HubLog(hub.uid))
	}
	go hub.refill(bn)
	var closers []func()
	var published []network.Port
	undo := func() {
		for _, c := range closers {
			c()
		}
		hub.free(bn, req.ID, p.ip)
	}
	for _, port := range req.Ports {
		closer, got, err := hub.publish(port, p.ip)
		if err != nil {
			undo()
			unix.Close(p.nsfd)
			unix.Close(pidfd)
			return &network.Lease{Error: err.Error(), Hint: "publish on another host port (-p HOSTPORT:" + fmt.Sprint(port.CtrPort) + "), or stop what holds it"}, -1
		}
		closers = append(closers, closer)
		published = append(published, got)
	}
	peers := hub.join(bn, req, p.ip)
	hub.log.Printf("lease %.12s: %s on %q, ports %v", req.ID, p.ip, bn.name, published)
	go func() {
		waitExit(pidfd)
		unix.Close(pidfd)
		hub.log.Printf("end %.12s", req.ID)
		// The namespace and its veth go with the container's last process.
		undo()
	}()
	return &network.Lease{IP: p.ip.String(), Prefix: prefix(bn.subnet), Gateway: bn.gw.String(), Host: hub.host, DNS: hub.dns, Ports: published, Peers: peers}, p.nsfd
}

// take is a namespace of bn's pool for container id, or one made now
// when the pool is empty (a burst of starts).
func (hub *Hub) take(bn *bridgeNet, id string) (*pooled, error) {
	hub.mu.Lock()
	var p *pooled
	if n := len(bn.pool); n > 0 {
		p, bn.pool = bn.pool[n-1], bn.pool[:n-1]
	}
	hub.mu.Unlock()
	if p == nil {
		var err error
		if p, err = hub.makePooled(bn); err != nil {
			return nil, err
		}
	}
	hub.mu.Lock()
	bn.inUse[p.ip.String()] = id
	hub.mu.Unlock()
	return p, nil
}

// refill makes bn's pool full again, one namespace at a time.
func (hub *Hub) refill(bn *bridgeNet) {
	hub.mu.Lock()
	if bn.filling {
		hub.mu.Unlock()
		return
	}
	bn.filling = true
	hub.mu.Unlock()
	defer func() {
		hub.mu.Lock()
		bn.filling = false
		hub.mu.Unlock()
	}()
	for {
		hub.mu.Lock()
		full := len(bn.pool) >= poolSize
		hub.mu.Unlock()
		if full {
			return
		}
		p, err := hub.makePooled(bn)
		if err != nil {
			hub.log.Printf("network %q: make a namespace ahead: %v", bn.name, err)
			return
		}
		hub.mu.Lock()
		bn.pool = append(bn.pool, p)
		hub.mu.Unlock()
	}
}

var vethSeq atomic.Uint64

// makePooled makes a network namespace plugged into bn.
func (hub *Hub) makePooled(bn *bridgeNet) (*pooled, error) {
	nsfd, err := newNetns()
	if err != nil {
		return nil, fmt.Errorf("make a network namespace: %w", err)
	}
	ip, err := hub.allocate(bn, "")
	if err != nil {
		unix.Close(nsfd)
		return nil, err
	}
	veth, err := hub.plug(nsfd, fmt.Sprintf("crlv%d", vethSeq.Add(1)), ip, bn)
	if err != nil {
		hub.free(bn, "", ip)
		unix.Close(nsfd)
		return nil, err
	}
	return &pooled{nsfd: nsfd, ip: ip, veth: veth}, nil
}

// join records a user network's new member and adds it to the others'
// /etc/hosts; it returns the others, for the new one's.
func (hub *Hub) join(bn *bridgeNet, req network.Request, ip net.IP) []string {
	if bn == hub.def || len(req.Names) == 0 {
		return nil
	}
	hub.mu.Lock()
	defer hub.mu.Unlock()
	bn.members[req.ID] = &member{ip: ip.String(), names: req.Names, hosts: req.Hosts}
	hub.rewriteHosts(bn, req.ID)
	return peerLines(bn, req.ID)
}

// peerLines are the /etc/hosts lines of bn's members but except.
func peerLines(bn *bridgeNet, except string) []string {
	var out []string
	for id, m := range bn.members {
		if id != except {
			out = append(out, m.ip+"\t"+strings.Join(m.names, " "))
		}
	}
	sort.Strings(out)
	return out
}

// rewriteHosts rewrites the peers part of every member's /etc/hosts but
// skip's (in place: the file is bind-mounted). Called with hub.mu held.
func (hub *Hub) rewriteHosts(bn *bridgeNet, skip string) {
	for id, m := range bn.members {
		if id == skip || m.hosts == "" {
			continue
		}
		b, err := os.ReadFile(m.hosts)
		if err != nil {
			continue
		}
		content := string(b)
		if i := strings.Index(content, network.PeersMarker); i >= 0 {
			content = content[:i]
		}
		content += network.PeersMarker + bn.name + "\n"
		for _, l := range peerLines(bn, id) {
			content += l + "\n"
		}
		if err := os.WriteFile(m.hosts, []byte(content), 0o644); err != nil {
			hub.log.Printf("network %s: update %s: %v", bn.name, m.hosts, err)
		}
	}
}

func (hub *Hub) allocate(bn *bridgeNet, id string) (net.IP, error) {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	ones, bits := bn.subnet.Mask.Size()
	size := uint32(1) << uint(bits-ones)
	for n := uint32(2); n < size-1; n++ {
		ip := nthIP(bn.subnet, n)
		if _, used := bn.inUse[ip.String()]; !used {
			bn.inUse[ip.String()] = id
			return ip, nil
		}
	}
	return nil, fmt.Errorf("no free address left in %s", bn.subnet)
}

// free gives the address back and takes the container off its network.
func (hub *Hub) free(bn *bridgeNet, id string, ip net.IP) {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	delete(bn.inUse, ip.String())
	if _, ok := bn.members[id]; ok {
		delete(bn.members, id)
		hub.rewriteHosts(bn, "")
	}
}

// plug makes the veth pair, one end on the bridge, the other the
// container's eth0 with its address and default route.
func (hub *Hub) plug(ctrNS int, name string, ip net.IP, bn *bridgeNet) (netlink.Link, error) {
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU, la.MasterIndex = name, mtu, bn.link.Attrs().Index
	veth := &netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(ctrNS), PeerMTU: mtu}
	if err := hub.h.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("make veth %s: %w", name, err)
	}
	if err := hub.h.LinkSetUp(veth); err != nil {
		_ = hub.h.LinkDel(veth)
		return nil, err
	}
	ch, err := handleIn(ctrNS)
	if err == nil {
		defer ch.Close()
		err = configureInside(ch, ip, bn.subnet, bn.gw)
	}
	if err != nil {
		_ = hub.h.LinkDel(veth)
		return nil, fmt.Errorf("configure the container's eth0: %w", err)
	}
	return veth, nil
}

func configureInside(ch *netlink.Handle, ip net.IP, subnet *net.IPNet, gw net.IP) error {
	eth, err := ch.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := ch.AddrAdd(eth, &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: subnet.Mask}}); err != nil {
		return err
	}
	if err := ch.LinkSetMTU(eth, mtu); err != nil {
		return err
	}
	if err := ch.LinkSetUp(eth); err != nil {
		return err
	}
	if lo, err := ch.LinkByName("lo"); err == nil {
		_ = ch.LinkSetUp(lo)
	}
	return ch.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gw})
}

// publish starts forwarding one port, TCP by the hub itself (portfwd.go),
// UDP by rootlesskit's driver; a HostPort of 0 gets a free one. The
// function returned stops it.
func (hub *Hub) publish(p network.Port, ip net.IP) (func(), network.Port, error) {
	var stop func()
	var err error
	if p.Proto == "tcp" {
		p, stop, err = hub.publishTCP(p, ip)
	} else {
		stop, err = hub.publishUDP(&p, ip)
	}
	if err != nil {
		where := p.HostIP
		if where == "" {
			where = "0.0.0.0"
		}
		if errors.Is(err, unix.EADDRINUSE) || strings.Contains(err.Error(), "address already in use") {
			return nil, p, fmt.Errorf("port %d/%s is already in use on %s", p.HostPort, p.Proto, where)
		}
		return nil, p, fmt.Errorf("publish %s: %w", p, err)
	}
	return stop, p, nil
}

func (hub *Hub) publishUDP(p *network.Port, ip net.IP) (func(), error) {
	if p.HostPort == 0 {
		free, err := freePort(*p)
		if err != nil {
			return nil, err
		}
		p.HostPort = free
	}
	st, err := hub.ports.AddPort(context.Background(), port.Spec{
		Proto: p.Proto + "4", ParentIP: p.HostIP, ParentPort: p.HostPort, ChildIP: ip.String(), ChildPort: p.CtrPort,
	})
	if err != nil {
		return nil, err
	}
	return func() { _ = hub.ports.RemovePort(context.Background(), st.ID) }, nil
}

func freePort(p network.Port) (int, error) {
	addr := net.JoinHostPort(p.HostIP, "0")
	if p.Proto == "udp" {
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
