// Package cdi resolves Container Device Interface names (--device
// VENDOR/CLASS=NAME, as NVIDIA's toolkit and others describe GPUs) into
// what crun-lite applies itself: device nodes, bind mounts and environment,
// written in crun-lite's own option syntax (--device, --mount, -e) so that
// package spec checks them like any other. Specs are read, validated and
// looked up by the CDI project's library (tags.cncf.io/container-device-interface).
//
// The library is linked only into crun-lite-full: the lean crun-lite,
// which runs containers, hands a run with a CDI device to `crun-lite-full
// cdi edits`, which prints Edits as JSON (cmd/crun-lite). A run without
// one never reads a spec dir.
//
// What crun-lite does not apply: CDI hooks (crun-lite runs no OCI hooks;
// each one skipped is a warning), additional gids (host groups, not mapped
// in a rootless user namespace: --group-add keep-groups keeps the user's),
// network devices and Intel RDT (refused).
package cdi

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"tags.cncf.io/container-device-interface/pkg/cdi"
	"tags.cncf.io/container-device-interface/pkg/parser"
	specs "tags.cncf.io/container-device-interface/specs-go"
)

// DefaultSpecDirs are where CDI specs live: /etc/cdi, then /var/run/cdi.
var DefaultSpecDirs = cdi.DefaultSpecDirs

// IsName reports whether a --device value is a CDI name (VENDOR/CLASS=NAME).
func IsName(device string) bool { return parser.IsQualifiedName(device) }

// Edits is what some CDI devices add to a container, as crun-lite options.
type Edits struct {
	Devices  []string `json:"devices,omitempty"`  // --device HOST:CONTAINER:PERMS
	Mounts   []string `json:"mounts,omitempty"`   // --mount type=bind,...
	Env      []string `json:"env,omitempty"`      // NAME=VALUE
	Warnings []string `json:"warnings,omitempty"` // what was not applied
}

// ErrUnknown marks a CDI name no spec defines.
var ErrUnknown = errors.New("unknown CDI device")

// Resolve reads the specs in dirs (later dirs take priority, as the
// library orders them) and returns the edits of names: each device's, and
// once each spec's own.
func Resolve(dirs []string, names []string) (*Edits, error) {
	cache, broken := open(dirs)
	var unknown []string
	var e Edits
	seen := map[*cdi.Spec]bool{}
	for _, n := range names {
		d := cache.GetDevice(n)
		if d == nil {
			unknown = append(unknown, n)
			continue
		}
		if s := d.GetSpec(); !seen[s] {
			seen[s] = true
			if err := e.add(s.GetVendor()+"/"+s.GetClass()+" (spec "+s.GetPath()+")", &s.ContainerEdits); err != nil {
				return nil, err
			}
		}
		if err := e.add(n, &d.ContainerEdits); err != nil {
			return nil, err
		}
	}
	if len(unknown) > 0 {
		known := cache.ListDevices()
		list := "none"
		if len(known) > 0 {
			list = strings.Join(known, ", ")
		}
		err := fmt.Errorf("%w %s (in %s); known: %s", ErrUnknown, strings.Join(unknown, ", "), strings.Join(dirs, ", "), list)
		if broken != nil {
			err = fmt.Errorf("%w; unreadable: %v", err, strings.ReplaceAll(broken.Error(), "\n", "; "))
		}
		return nil, err
	}
	return &e, nil
}

// List returns the names of the devices the specs in dirs define, sorted.
// The error, if any, names the spec files that could not be read, whose
// devices are missing from the list.
func List(dirs []string) ([]string, error) {
	cache, broken := open(dirs)
	names := cache.ListDevices()
	sort.Strings(names)
	return names, broken
}

// GPUs names the GPUs the specs in dirs define, for --share gpu: of
// each vendor's class "gpu" the device "all" where there is one, else
// every device of that class.
func GPUs(dirs []string) []string {
	cache, _ := open(dirs) // the devices of the specs that parse
	byVendor := map[string][]string{}
	for _, n := range cache.ListDevices() {
		vendor, class, name, err := parser.ParseQualifiedName(n)
		if err != nil || class != "gpu" {
			continue
		}
		if name == "all" {
			byVendor[vendor] = []string{n}
			continue
		}
		if l := byVendor[vendor]; len(l) != 1 || !strings.HasSuffix(l[0], "=all") {
			byVendor[vendor] = append(l, n)
		}
	}
	var out []string
	for _, l := range byVendor {
		out = append(out, l...)
	}
	sort.Strings(out)
	return out
}

// open reads dirs, without the library's fsnotify watcher (one lookup per
// run). The error names the spec files that do not parse or validate: the
// others are still usable, as in Podman, so it matters only when a name is
// not found.
func open(dirs []string) (*cdi.Cache, error) {
	cache, _ := cdi.NewCache(cdi.WithSpecDirs(dirs...), cdi.WithAutoRefresh(false)) // its error is always nil
	return cache, cache.Refresh()
}

// add appends one set of container edits, from what (a device or a spec).
func (e *Edits) add(what string, ce *specs.ContainerEdits) error {
	if len(ce.NetDevices) > 0 || ce.IntelRdt != nil {
		return fmt.Errorf("CDI %s asks for network devices or Intel RDT, which crun-lite cannot give", what)
	}
	e.Env = append(e.Env, ce.Env...)
	for _, d := range ce.DeviceNodes {
		host := d.HostPath
		if host == "" {
			host = d.Path
		}
		perms := d.Permissions
		if perms == "" {
			perms = "rwm"
		}
		e.Devices = append(e.Devices, host+":"+d.Path+":"+perms)
	}
	for _, m := range ce.Mounts {
		s, err := mountOption(m)
		if err != nil {
			return fmt.Errorf("CDI %s: %w", what, err)
		}
		e.Mounts = append(e.Mounts, s)
	}
	for _, h := range ce.Hooks {
		e.Warnings = append(e.Warnings, fmt.Sprintf("CDI %s: %s hook %s not run (crun-lite runs no OCI hooks)", what, h.HookName, h.Path))
	}
	if len(ce.AdditionalGIDs) > 0 {
		e.Warnings = append(e.Warnings, fmt.Sprintf("CDI %s: additional gids %v not set (host groups; --group-add keep-groups keeps yours)", what, ce.AdditionalGIDs))
	}
	return nil
}

// mountOption writes a CDI mount as --mount type=bind,...: CDI mounts are
// binds (type "bind" or none), read-only when their options say ro.
func mountOption(m *specs.Mount) (string, error) {
	if m.Type != "" && m.Type != "bind" {
		return "", fmt.Errorf("mount of type %q on %s: only bind mounts are supported", m.Type, m.ContainerPath)
	}
	if strings.ContainsAny(m.HostPath+m.ContainerPath, ",=") {
		return "", fmt.Errorf("mount %s on %s: a path with , or =", m.HostPath, m.ContainerPath)
	}
	s := "type=bind,source=" + m.HostPath + ",target=" + m.ContainerPath
	if slices.Contains(m.Options, "ro") || slices.Contains(m.Options, "readonly") {
		s += ",ro"
	}
	return s, nil
}
