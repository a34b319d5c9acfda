package spec

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/run/network"
)

// Net is a container's network, as its options decide it.
type Net struct {
	// Mode: bridge (a namespace of its own on the user's network hub,
	// the default), host (the host's namespace) or none (loopback only).
	Mode string `json:"mode"`
	// Target: the container (container:NAME|ID) or namespace file
	// (ns:PATH) whose network namespace the container joins.
	Target string `json:"target,omitempty"`
	// Network: the user network (network create) a bridge-mode
	// container joins; "" for the default one.
	Network   string         `json:"network,omitempty"`
	Ports     []network.Port `json:"ports,omitempty"`
	DNS       []string       `json:"dns,omitempty"`
	DNSSearch []string       `json:"dns_search,omitempty"`
	DNSOption []string       `json:"dns_option,omitempty"`
	AddHost   []string       `json:"add_host,omitempty"` // NAME IP, as in /etc/hosts
	NoHosts   bool           `json:"no_hosts,omitempty"`

	// What -P publishes (set by New): the image's exposed ports and
	// --expose's, each on a free host port, but those -p publishes.
	publishAll bool
	expose     []network.Port
}

// Private reports whether the container has a network namespace other
// than the host's (every mode but host).
func (n *Net) Private() bool { return n == nil || n.Mode != "host" }

// Own reports whether the container's network namespace is made with it
// (none), not entered (bridge: the hub's, made ahead; container:, ns:)
// nor the host's.
func (n *Net) Own() bool { return n != nil && n.Mode == "none" }

// FreshSysfs: a sysfs can be mounted only by the owner of the network
// namespace: ours, unless ns:PATH names another's.
func (n *Net) FreshSysfs() bool { return n.Private() && (n == nil || n.Mode != "ns") }

var networkName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func parseNetwork(o Options) (*Net, error) {
	n := &Net{Mode: o.Network, DNS: o.DNS, DNSSearch: o.DNSSearch, DNSOption: o.DNSOption, NoHosts: o.NoHosts}
	switch n.Mode {
	case "", "bridge", "private", "default", network.DefaultName:
		n.Mode = "bridge"
	case "host", "none":
	case "pasta", "slirp4netns":
		return nil, hint.Wrap(fmt.Errorf("--network %s: a helper per container is not supported", o.Network),
			"leave out --network: the default network is private and reaches out through the user's network hub, which runs pasta (slirp4netns without it)")
	default:
		if strings.HasPrefix(n.Mode, "pasta:") || strings.HasPrefix(n.Mode, "slirp4netns:") {
			return nil, hint.Wrap(fmt.Errorf("--network %s: a helper per container is not supported", o.Network),
				"leave out --network: the default network is private and reaches out through the user's network hub, which runs pasta (slirp4netns without it)")
		}
		if t, ok := strings.CutPrefix(n.Mode, "container:"); ok && t != "" {
			n.Mode, n.Target = "container", t
			break
		}
		if t, ok := strings.CutPrefix(n.Mode, "ns:"); ok && t != "" {
			if _, err := os.Stat(t); err != nil {
				return nil, BadOption("--network ns:%s: %v", t, err)
			}
			n.Mode, n.Target = "ns", t
			break
		}
		if networkName.MatchString(n.Mode) && !strings.Contains(n.Mode, ":") {
			// A user network's name: run checks it exists.
			n.Mode, n.Network = "bridge", n.Mode
			break
		}
		return nil, hint.Wrap(fmt.Errorf("network %q is not supported", o.Network),
			"use --network bridge (the default: a private network), host, none, container:NAME or ns:PATH")
	}
	n.publishAll = o.PublishAll
	for _, e := range o.Expose {
		ports, err := parseExpose(e)
		if err != nil {
			return nil, err
		}
		n.expose = append(n.expose, ports...)
	}
	for _, p := range o.Publish {
		ports, err := network.ParsePublish(p)
		if err != nil {
			return nil, err
		}
		n.Ports = append(n.Ports, ports...)
	}
	if (len(n.Ports) > 0 || n.publishAll) && n.Mode != "bridge" {
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

// parseExpose reads --expose PORT[-PORT][/PROTO].
func parseExpose(e string) ([]network.Port, error) {
	if strings.Contains(e, ":") {
		return nil, BadOption("--expose %s: a container port (PORT[-PORT][/tcp|udp]), not a mapping: use -p", e)
	}
	ports, err := network.ParsePublish(e)
	if err != nil {
		return nil, BadOption("--expose %s: want PORT[-PORT][/tcp|udp]", e)
	}
	return ports, nil
}

// publishExposed adds to -p's ports, for -P, the image's exposed ports
// ("80/tcp", "53/udp", "8080") and --expose's, each on a free host port.
func (s *Spec) publishExposed(image map[string]struct{}) {
	n := s.Net
	if n == nil || !n.publishAll {
		return
	}
	var keys []string
	for k := range image {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := append([]network.Port{}, n.expose...)
	for _, k := range keys {
		if ports, err := network.ParsePublish(k); err == nil {
			want = append(want, ports...)
		}
	}
	for _, p := range want {
		if !slices.ContainsFunc(n.Ports, func(q network.Port) bool { return q.CtrPort == p.CtrPort && q.Proto == p.Proto }) {
			n.Ports = append(n.Ports, network.Port{CtrPort: p.CtrPort, Proto: p.Proto})
		}
	}
}
