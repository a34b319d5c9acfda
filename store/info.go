//go:build !lean

package store

import (
	"fmt"

	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
	graphdriver "go.podman.io/storage/drivers"
)

// StoreInfo is what crun-lite info reports about the store.
type StoreInfo struct {
	Driver        string   `json:"driver"`
	MountProgram  string   `json:"mount_program,omitempty"`
	DriverOptions []string `json:"driver_options,omitempty"`
	// DriverReason says why the driver was chosen when the store was made.
	DriverReason string `json:"driver_reason"`
	Volatile     bool   `json:"volatile_mounts"`
	GraphRoot    string `json:"graph_root"`
	GraphFS      string `json:"graph_root_filesystem"`
	RunRoot      string `json:"run_root"`
	Images       int    `json:"images"`
	Containers   int    `json:"containers"` // kept in the store, running or not
	// Running counts the containers running now, --rm ones included; the
	// store does not know them, its caller sets it.
	Running int `json:"running"`
	Layers  int `json:"layers"`
}

// RegistryInfo is what crun-lite info reports about registries.conf.
type RegistryInfo struct {
	Search   []string `json:"search"`
	Insecure []string `json:"insecure,omitempty"`
	Blocked  []string `json:"blocked,omitempty"`
	Mirrors  []string `json:"mirrored,omitempty"` // prefixes that have mirrors
}

// Info describes the store.
func (st *Store) Info() (*StoreInfo, error) {
	imgs, err := st.s.Images()
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	cs, err := st.s.Containers()
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	ls, err := st.s.Layers()
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	info := &StoreInfo{
		Driver:        st.Driver.Name,
		MountProgram:  st.Driver.MountProgram(),
		DriverOptions: st.Driver.Options,
		DriverReason:  st.Driver.Reason,
		Volatile:      st.Driver.Volatile,
		GraphRoot:     st.opts.GraphRoot,
		GraphFS:       "unknown",
		RunRoot:       st.opts.RunRoot,
		Images:        len(imgs),
		Containers:    len(cs),
		Layers:        len(ls),
	}
	if magic, err := graphdriver.GetFSMagic(st.opts.GraphRoot); err == nil {
		if name, ok := graphdriver.FsNames[magic]; ok {
			info.GraphFS = name
		}
	}
	return info, nil
}

// Registries summarizes the registries.conf files that pulls read (those
// CONTAINERS_REGISTRIES_CONF names, or the system's and the user's).
func Registries() (*RegistryInfo, error) {
	sys := &types.SystemContext{}
	search, err := sysregistriesv2.UnqualifiedSearchRegistries(sys)
	if err != nil {
		return nil, fmt.Errorf("read registries.conf: %w", err)
	}
	regs, err := sysregistriesv2.GetRegistries(sys)
	if err != nil {
		return nil, fmt.Errorf("read registries.conf: %w", err)
	}
	ri := &RegistryInfo{Search: nonNil(search)}
	for _, r := range regs {
		if r.Insecure {
			ri.Insecure = append(ri.Insecure, r.Prefix)
		}
		if r.Blocked {
			ri.Blocked = append(ri.Blocked, r.Prefix)
		}
		if len(r.Mirrors) > 0 {
			ri.Mirrors = append(ri.Mirrors, r.Prefix)
		}
	}
	return ri, nil
}
