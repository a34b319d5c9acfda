package run

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/run/network"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

// takeNetns gives a bridge-mode container a network namespace of the
// user's network hub (package network): made ahead, plugged into its
// network, with its address; the child enters it first thing. /etc/hosts
// and /etc/resolv.conf are written for it, before they are mounted.
func (c *Container) takeNetns() error {
	n := c.Spec.Net
	if err := network.CheckPorts(n.Ports, userns.Rootless()); err != nil {
		return err
	}
	req := network.Request{ID: c.Spec.ID, Ports: n.Ports, Net: c.netCfg}
	if c.netCfg != nil {
		req.Names, req.Hosts = []string{c.Spec.Hostname}, c.rd.Join("etc/hosts")
		if c.Spec.Name != "" && c.Spec.Name != c.Spec.Hostname {
			req.Names = append(req.Names, c.Spec.Name)
		}
	}
	l, fd, err := network.Take(userns.HostUID(), req, c.opts.StartNetworkHub)
	if err != nil {
		return err
	}
	c.lease, c.netnsFD = l, fd
	if c.rd != nil {
		c.rd.State.IP = l.IP
		c.rd.State.Ports = nil
		for _, p := range l.Ports {
			c.rd.State.Ports = append(c.rd.State.Ports, p.String())
		}
	}
	return c.writeNetEtc()
}

// hostsFile is the container's /etc/hosts: localhost, its own names,
// host.containers.internal (the host's loopback, through the hub's
// helper) and --add-host's.
func (c *Container) hostsFile() string {
	if b, ok := c.joinedEtc("hosts"); ok {
		return b // container: shares the other's names, as Podman does
	}
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	names := c.Spec.Hostname
	if c.Spec.Name != "" && c.Spec.Name != c.Spec.Hostname {
		names += " " + c.Spec.Name
	}
	own := "127.0.1.1"
	if c.lease != nil && c.lease.IP != "" {
		own = c.lease.IP
	}
	fmt.Fprintf(&b, "%s\t%s\n", own, names)
	if c.lease != nil && c.lease.Host != "" {
		fmt.Fprintf(&b, "%s\thost.containers.internal host.docker.internal\n", c.lease.Host)
	}
	if n := c.Spec.Net; n != nil {
		for _, h := range n.AddHost {
			b.WriteString(h + "\n")
		}
	}
	if c.netCfg != nil && c.lease != nil {
		// The hub rewrites what follows as containers come and go.
		b.WriteString(network.PeersMarker + c.netCfg.Name + "\n")
		for _, p := range c.lease.Peers {
			b.WriteString(p + "\n")
		}
	}
	return b.String()
}

// resolvFile is the container's /etc/resolv.conf: --dns, else the
// network's resolver (the hub forwards to the host's), else the host's
// file; with --dns-search and --dns-option over the host's.
func (c *Container) resolvFile() string {
	n := c.Spec.Net
	if b, ok := c.joinedEtc("resolv.conf"); ok && (n == nil || len(n.DNS)+len(n.DNSSearch)+len(n.DNSOption) == 0) {
		return b
	}
	host, _ := os.ReadFile("/etc/resolv.conf")
	var servers, search, options []string
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search", "domain":
			search = append(search, f[1:]...)
		case "options":
			options = append(options, f[1:]...)
		}
	}
	if n != nil && n.Mode == "none" {
		servers = nil
	}
	if c.lease != nil && c.lease.DNS != "" {
		servers = []string{c.lease.DNS}
	}
	if n != nil {
		if len(n.DNS) > 0 {
			servers = n.DNS
		}
		if len(n.DNSSearch) > 0 {
			search = n.DNSSearch
			if len(search) == 1 && search[0] == "." {
				search = nil
			}
		}
		if len(n.DNSOption) > 0 {
			options = n.DNSOption
		}
	}
	var b strings.Builder
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return b.String()
}

// noHosts: --no-hosts leaves the image's /etc/hosts in place, unmounted.
func (c *Container) noHosts() bool { return c.Spec.Net != nil && c.Spec.Net.NoHosts }

// writeNetEtc writes /etc/hosts and resolv.conf where the network decides
// them, before they are mounted (and in place, the same inodes, after).
func (c *Container) writeNetEtc() error {
	for name, content := range map[string]string{"hosts": c.hostsFile(), "resolv.conf": c.resolvFile()} {
		if name == "hosts" && c.noHosts() {
			continue
		}
		if err := os.WriteFile(c.rd.Join("etc/"+name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// openJoinedNetns opens the network namespace the child enters: the
// hub's for bridge (takeNetns), --network container:NAME's (a running
// container's) or ns:PATH's.
func (c *Container) openJoinedNetns() error {
	c.netnsFD = -1
	n := c.Spec.Net
	if n != nil && n.Mode == "bridge" {
		return c.takeNetns()
	}
	if n == nil || (n.Mode != "container" && n.Mode != "ns") {
		return nil
	}
	path := n.Target
	if n.Mode == "container" {
		if err := c.resolveJoined(); err != nil {
			return err
		}
		path = fmt.Sprintf("/proc/%d/ns/net", c.joined.Pid)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("--network %s:%s: open %s: %w", n.Mode, n.Target, path, err)
	}
	c.netnsFD = fd
	return nil
}

// resolveJoined finds the running container --network container: names
// (once: Prepare does it before the store's read locks are taken).
func (c *Container) resolveJoined() error {
	n := c.Spec.Net
	if c.joined != nil || n == nil || n.Mode != "container" {
		return nil
	}
	in, err := Lookup(c.st, n.Target, true)
	if err != nil {
		return fmt.Errorf("--network container:%s: %w", n.Target, err)
	}
	if !in.Running() || in.Pid <= 0 {
		return hint.Wrap(fmt.Errorf("--network container:%s: the container is not running", n.Target), "start it first: crun-lite start "+n.Target)
	}
	c.joined = in
	return nil
}

func (c *Container) closeJoinedNetns() {
	if c.netnsFD >= 0 {
		unix.Close(c.netnsFD)
		c.netnsFD = -1
	}
}

// joinedEtc is a generated /etc file of the container container: joins.
func (c *Container) joinedEtc(name string) (string, bool) {
	if c.joined == nil || !c.joined.hasRun {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(c.joined.run.Dir, "etc", name))
	return string(b), err == nil
}

// resolveNetwork reads the user network --network NAME names, before the
// store's read locks are taken.
func (c *Container) resolveNetwork() error {
	n := c.Spec.Net
	if n == nil || n.Network == "" || c.netCfg != nil {
		return nil
	}
	cfg, err := network.Get(network.ConfigDir(c.st.GraphRoot()), n.Network)
	if err != nil {
		return hint.Wrap(fmt.Errorf("--network %s: %w", n.Network, err),
			"create it (crun-lite network create "+n.Network+"), or use a mode: bridge (the default), host, none, container:NAME, ns:PATH")
	}
	c.netCfg = cfg
	return nil
}

// NetworkUsers are the containers of st whose spec joins the user
// network name (kept ones included, running or not).
func NetworkUsers(st *store.Store, name string) ([]*Info, error) {
	all, err := Containers(st, true)
	if err != nil {
		return nil, err
	}
	var out []*Info
	for _, in := range all {
		if s, err := in.Spec(st); err == nil && s != nil && s.Net != nil && s.Net.Network == name {
			out = append(out, in)
		}
	}
	return out, nil
}
