package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// Config is a user network (network create): containers on it reach each
// other by name, each in its own namespace, through a bridge of its own
// in the hub's namespace. Configs live in the store, one file each.
type Config struct {
	Name    string    `json:"name"`
	ID      string    `json:"id"`
	Driver  string    `json:"driver"` // bridge
	Subnet  string    `json:"subnet"` // CIDR
	Gateway string    `json:"gateway"`
	Created time.Time `json:"created"`
}

// DefaultName is what Podman calls its default network; --network
// podman is the default network here too.
const DefaultName = "podman"

// ErrNoSuchNetwork is Podman's "network not found".
var ErrNoSuchNetwork = errors.New("network not found")

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ConfigDir is where a store keeps its networks.
func ConfigDir(graphRoot string) string { return filepath.Join(graphRoot, "networks") }

// Create makes the network name with subnet (a free 10.89.N.0/24 when
// empty).
func Create(dir, name, subnet string) (*Config, error) {
	if !validName.MatchString(name) || name == DefaultName || name == "bridge" || name == "host" || name == "none" {
		return nil, hint.Wrap(fmt.Errorf("network name %q is not allowed", name), "use letters, digits, _ . and -, and none of podman, bridge, host, none")
	}
	if _, err := Get(dir, name); err == nil {
		return nil, fmt.Errorf("network name %s already used: network already exists", name)
	}
	all, err := List(dir)
	if err != nil {
		return nil, err
	}
	var ipnet *net.IPNet
	if subnet != "" {
		if _, ipnet, err = net.ParseCIDR(subnet); err != nil || ipnet.IP.To4() == nil {
			return nil, hint.Wrap(fmt.Errorf("--subnet %s: not an IPv4 CIDR", subnet), "e.g. --subnet 10.89.5.0/24")
		}
		if ones, _ := ipnet.Mask.Size(); ones > 30 {
			return nil, fmt.Errorf("--subnet %s: too small for containers", subnet)
		}
		for _, c := range all {
			if overlaps(c.Subnet, ipnet) {
				return nil, fmt.Errorf("--subnet %s overlaps network %s (%s)", subnet, c.Name, c.Subnet)
			}
		}
	} else {
		for n := 0; n < 256 && ipnet == nil; n++ {
			_, cand, _ := net.ParseCIDR(fmt.Sprintf("10.89.%d.0/24", n))
			free := true
			for _, c := range all {
				free = free && !overlaps(c.Subnet, cand)
			}
			if free {
				ipnet = cand
			}
		}
		if ipnet == nil {
			return nil, errors.New("no free subnet left in 10.89.0.0/16: pass --subnet")
		}
	}
	idb := make([]byte, 32)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		return nil, err
	}
	_, err = f.Read(idb)
	f.Close()
	if err != nil {
		return nil, err
	}
	gw := ipnet.IP.To4()
	c := &Config{Name: name, ID: fmt.Sprintf("%x", idb), Driver: "bridge", Subnet: ipnet.String(),
		Gateway: net.IPv4(gw[0], gw[1], gw[2], gw[3]+1).String(), Created: time.Now()}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, err
	}
	return c, os.Rename(tmp, filepath.Join(dir, name+".json"))
}

func overlaps(cidr string, b *net.IPNet) bool {
	_, a, err := net.ParseCIDR(cidr)
	return err == nil && (a.Contains(b.IP) || b.Contains(a.IP))
}

// Get reads the network name (or an ID prefix of one).
func Get(dir, name string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err == nil && validName.MatchString(name) {
		var c Config
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("network %s: %w", name, err)
		}
		return &c, nil
	}
	all, lerr := List(dir)
	if lerr != nil {
		return nil, lerr
	}
	var found *Config
	for _, c := range all {
		if len(name) >= 3 && len(name) <= len(c.ID) && c.ID[:len(name)] == name {
			if found != nil {
				return nil, fmt.Errorf("network %s: more than one network has that ID prefix", name)
			}
			found = c
		}
	}
	if found == nil {
		return nil, fmt.Errorf("unable to find network with name or ID %s: %w", name, ErrNoSuchNetwork)
	}
	return found, nil
}

// List reads every network of the store, by name.
func List(dir string) ([]*Config, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Config
	for _, e := range ents {
		n := e.Name()
		if filepath.Ext(n) != ".json" || n[0] == '.' {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		var c Config
		if json.Unmarshal(b, &c) == nil {
			out = append(out, &c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes the network's config.
func Remove(dir string, c *Config) error {
	return os.Remove(filepath.Join(dir, c.Name+".json"))
}
