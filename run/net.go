package run

import (
	"fmt"
	"os"
	"strings"

	"github.com/crun-lite/crun-lite/run/network"
	"github.com/crun-lite/crun-lite/userns"
)

// attachNetwork gives a bridge-mode container its place on the user's
// network hub (package network), once its namespaces exist and before its
// command runs, and writes /etc/hosts and /etc/resolv.conf for it.
func (c *Container) attachNetwork(pid int) error {
	n := c.Spec.Net
	if n == nil || n.Mode != "bridge" {
		return nil
	}
	if err := network.CheckPorts(n.Ports, userns.Rootless()); err != nil {
		return err
	}
	l, err := network.Attach(userns.HostUID(), pid, c.Spec.ID, n.Ports, c.opts.StartNetworkHub)
	if err != nil {
		return err
	}
	c.lease = l
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
	return b.String()
}

// resolvFile is the container's /etc/resolv.conf: --dns, else the
// network's resolver (the hub forwards to the host's), else the host's
// file; with --dns-search and --dns-option over the host's.
func (c *Container) resolvFile() string {
	n := c.Spec.Net
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

// writeNetEtc rewrites the bind-mounted files in place (same inodes).
func (c *Container) writeNetEtc() error {
	for name, content := range map[string]string{"hosts": c.hostsFile(), "resolv.conf": c.resolvFile()} {
		if name == "hosts" && c.Spec.Net != nil && c.Spec.Net.NoHosts {
			continue
		}
		if err := os.WriteFile(c.rd.Join("etc/"+name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
