package network

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// Port is one published port: connections to HostIP:HostPort on the host
// reach the container's CtrPort.
type Port struct {
	HostIP   string `json:"hostIP,omitempty"` // "" for every address of the host
	HostPort int    `json:"hostPort"`         // 0 until the hub picks a free one
	CtrPort  int    `json:"containerPort"`
	Proto    string `json:"protocol"` // tcp or udp
}

// String is Podman's `port` line: 80/tcp -> 0.0.0.0:8080.
func (p Port) String() string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	return fmt.Sprintf("%d/%s -> %s", p.CtrPort, p.Proto, net.JoinHostPort(ip, strconv.Itoa(p.HostPort)))
}

// ParsePublish reads one -p value, [IP:][HOSTPORT:]CTRPORT[/PROTO], where
// either port may be a range (the two of equal length) and a missing or
// empty HOSTPORT asks for a free port.
func ParsePublish(s string) ([]Port, error) {
	bad := func(why string) error {
		return hint.Wrap(fmt.Errorf("-p %s: %s", s, why), "use -p [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], e.g. -p 8080:80 or -p 127.0.0.1:8080:80/tcp")
	}
	rest, proto := s, "tcp"
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		rest, proto = s[:i], s[i+1:]
		if proto != "tcp" && proto != "udp" {
			return nil, bad(fmt.Sprintf("protocol %q is not tcp or udp", proto))
		}
	}
	var ip, host, ctr string
	if strings.HasPrefix(rest, "[") { // [IPv6]:HOST:CTR
		end := strings.Index(rest, "]:")
		if end < 0 {
			return nil, bad("an IPv6 address in brackets must be followed by :")
		}
		ip, rest = rest[1:end], rest[end+2:]
		var ok bool
		if host, ctr, ok = strings.Cut(rest, ":"); !ok {
			return nil, bad("an address needs HOSTPORT:CONTAINERPORT after it")
		}
	} else {
		parts := strings.Split(rest, ":")
		switch len(parts) {
		case 1:
			ctr = parts[0]
		case 2:
			host, ctr = parts[0], parts[1]
		case 3:
			ip, host, ctr = parts[0], parts[1], parts[2]
		default:
			return nil, bad("too many colons")
		}
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return nil, bad(fmt.Sprintf("%q is not an IP address", ip))
	}
	if ip == "0.0.0.0" {
		ip = ""
	}
	clo, chi, err := portRange(ctr)
	if err != nil {
		return nil, bad("container port: " + err.Error())
	}
	hlo, hhi := 0, 0
	if host != "" {
		if hlo, hhi, err = portRange(host); err != nil {
			return nil, bad("host port: " + err.Error())
		}
		if hhi-hlo != chi-clo {
			return nil, bad("the host and container port ranges differ in length")
		}
	}
	var ports []Port
	for i := 0; i <= chi-clo; i++ {
		p := Port{HostIP: ip, CtrPort: clo + i, Proto: proto}
		if hlo != 0 {
			p.HostPort = hlo + i
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// portRange reads N or N-M.
func portRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = portNumber(a); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = portNumber(b); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("range %s ends before it starts", s)
		}
	}
	return lo, hi, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return n, nil
}

// UnprivilegedPortStart is the lowest port a user may bind
// (net.ipv4.ip_unprivileged_port_start), 1024 when unreadable.
func UnprivilegedPortStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 1024
	}
	return n
}

// CheckPorts refuses, before anything starts, the host ports a rootless
// user cannot bind.
func CheckPorts(ports []Port, rootless bool) error {
	if !rootless {
		return nil
	}
	start := UnprivilegedPortStart()
	for _, p := range ports {
		if p.HostPort != 0 && p.HostPort < start {
			return hint.Wrap(fmt.Errorf("host port %d is below net.ipv4.ip_unprivileged_port_start (%d): a user cannot bind it", p.HostPort, start),
				fmt.Sprintf("publish on a port from %d up (-p %d:%d), or let users bind it: sudo sysctl net.ipv4.ip_unprivileged_port_start=%d", start, p.HostPort+8000, p.CtrPort, p.HostPort))
		}
	}
	return nil
}

// AdminTool finds an admin tool (iptables, nft) also where a user's PATH
// does not look; "" when it is not installed.
func AdminTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}
