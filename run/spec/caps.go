package spec

import (
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
)

// defaultCaps is Podman's default set for a container's root.
var defaultCaps = []string{
	"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
	"SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

// capNames maps "SYS_ADMIN" to its number, for the capabilities this
// kernel has and we hold in our bounding set: no container can get more than
// its monitor has (a root without CAP_SYS_RESOURCE, say, or a nested setup).
func capNames() map[string]capability.Cap {
	caps, err := capability.ListSupported()
	if err != nil {
		caps = capability.ListKnown()
	}
	held := ownBounding()
	m := make(map[string]capability.Cap, len(caps))
	for _, c := range caps {
		if held&(1<<uint(c)) != 0 {
			m[strings.ToUpper(c.String())] = c
		}
	}
	return m
}

// ownBounding returns this process's bounding set (all bits if unknown).
func ownBounding() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ^uint64(0)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil {
				return n
			}
		}
	}
	return ^uint64(0)
}

// capSetFor computes the capabilities of a container: Podman's default set
// (every capability with --privileged), then --cap-drop (ALL empties it),
// then --cap-add (ALL fills it). Names may carry the CAP_ prefix.
func capSetFor(privileged bool, add, drop []string) (names []string, err error) {
	known := capNames()
	all := make([]string, 0, len(known))
	for n := range known {
		all = append(all, n)
	}
	set := defaultCaps
	if privileged {
		set = all
	}
	set = slices.Clone(set)
	norm := func(flag, n string) (string, error) {
		n = strings.TrimPrefix(strings.ToUpper(n), "CAP_")
		if _, ok := known[n]; !ok && n != "ALL" {
			return "", BadOption("%s %s: no such capability on this kernel", flag, n)
		}
		return n, nil
	}
	for _, d := range drop {
		n, err := norm("--cap-drop", d)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			set = nil
		}
		set = slices.DeleteFunc(set, func(s string) bool { return s == n })
	}
	for _, a := range add {
		n, err := norm("--cap-add", a)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			set = slices.Clone(all)
		} else if !slices.Contains(set, n) {
			set = append(set, n)
		}
	}
	slices.Sort(set)
	return set, nil
}

// CapMask turns names into the kernel's bit mask.
func CapMask(names []string) uint64 {
	known := capNames()
	var m uint64
	for _, n := range names {
		if c, ok := known[n]; ok {
			m |= 1 << uint(c)
		}
	}
	return m
}

// capPrefixed lists names as seccomp profiles spell them (CAP_SYS_ADMIN).
func capPrefixed(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "CAP_" + n
	}
	return out
}

// CapDiff names how caps (a container's, without CAP_) differ from
// Podman's default set, as inspect's HostConfig shows it: what was added,
// what was dropped, each with the CAP_ prefix and sorted.
func CapDiff(caps []string) (add, drop []string) {
	add, drop = []string{}, []string{}
	for _, c := range caps {
		if !slices.Contains(defaultCaps, c) {
			add = append(add, "CAP_"+c)
		}
	}
	for _, c := range defaultCaps {
		if !slices.Contains(caps, c) {
			drop = append(drop, "CAP_"+c)
		}
	}
	slices.Sort(add)
	slices.Sort(drop)
	return add, drop
}
