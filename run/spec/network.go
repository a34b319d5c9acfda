package spec

import (
	"fmt"
	"net"
	"strings"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/run/network"
)

// Net is a container's network, as its options decide it.
type Net struct {
	// Mode: bridge (a namespace of its own on the user's network hub,
	// the default), host (the host's namespace) or none (loopback only).
	Mode      string         `json:"mode"`
	Ports     []network.Port `json:"ports,omitempty"`
	DNS       []string       `json:"dns,omitempty"`
	DNSSearch []string       `json:"dns_search,omitempty"`
	DNSOption []string       `json:"dns_option,omitempty"`
	AddHost   []string       `json:"add_host,omitempty"` // NAME IP, as in /etc/hosts
	NoHosts   bool           `json:"no_hosts,omitempty"`
}

// Private reports whether the container has a network namespace of its
// own (every mode but host).
func (n *Net) Private() bool { return n == nil || n.Mode != "host" }

func parseNetwork(o Options) (*Net, error) {
	n := &Net{Mode: o.Network, DNS: o.DNS, DNSSearch: o.DNSSearch, DNSOption: o.DNSOption, NoHosts: o.NoHosts}
	switch n.Mode {
	case "", "bridge", "private", "default":
		n.Mode = "bridge"
	case "host", "none":
	default:
		return nil, hint.Wrap(fmt.Errorf("network %q is not supported", o.Network),
			"use --network bridge (the default: a private network), host or none")
	}
	for _, p := range o.Publish {
		ports, err := network.ParsePublish(p)
		if err != nil {
			return nil, err
		}
		n.Ports = append(n.Ports, ports...)
	}
	if len(n.Ports) > 0 && n.Mode != "bridge" {
		return nil, hint.Wrap(fmt.Errorf("-p needs a private network, not --network %s", n.Mode),
			"leave out --network (or use --network bridge) to publish ports")
	}
	for _, d := range n.DNS {
		if net.ParseIP(d) == nil {
			return nil, BadOption("--dns %s: not an IP address", d)
		}
	}
	for _, h := range o.AddHost {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" || net.ParseIP(ip) == nil {
			return nil, BadOption("--add-host %s: want NAME:IP", h)
		}
		n.AddHost = append(n.AddHost, ip+"\t"+name)
	}
	if n.NoHosts && len(n.AddHost) > 0 {
		return nil, BadOption("--no-hosts and --add-host conflict: --add-host writes to the /etc/hosts --no-hosts leaves alone")
	}
	return n, nil
}
