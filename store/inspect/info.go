package inspect

import (
	"fmt"

	graphdriver "go.podman.io/storage/drivers"

	"github.com/crun-lite/crun-lite/store"
)

// StoreInfo is what crun-lite info reports about the store.
type StoreInfo struct {
	Driver        string   `json:"driver"`
	MountProgram  string   `json:"mount_program,omitempty"`
	DriverOptions []string `json:"driver_options,omitempty"`
	// DriverReason says why the driver was chosen when the store was made.
	DriverReason string `json:"driver_reason"`
	Volatile     bool   `json:"volatile_mounts"`
	// Userns is the user namespace mode the store was made in: "full", or
	// "single" (every file container root's: docs/single-id.md).
	Userns     string `json:"userns"`
	GraphRoot  string `json:"graph_root"`
	GraphFS    string `json:"graph_root_filesystem"`
	RunRoot    string `json:"run_root"`
	Images     int    `json:"images"`
	Containers int    `json:"containers"` // kept in the store, running or not
	// Running counts the containers running now, --rm ones included; the
	// store does not know them, its caller sets it.
	Running int `json:"running"`
	Layers  int `json:"layers"`
}

// Store describes the store.
func Store(st *store.Store) (*StoreInfo, error) {
	s, err := st.Storage()
	if err != nil {
		return nil, err
	}
	imgs, err := s.Images()
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	cs, err := s.Containers()
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	ls, err := s.Layers()
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	info := &StoreInfo{
		Driver:        st.Driver.Name,
		MountProgram:  st.Driver.MountProgram(),
		DriverOptions: st.Driver.Options,
		DriverReason:  st.Driver.Reason,
		Volatile:      st.Driver.Volatile,
		Userns:        "full",
		GraphRoot:     st.GraphRoot(),
		GraphFS:       "unknown",
		RunRoot:       st.RunRoot(),
		Images:        len(imgs),
		Containers:    len(cs),
		Layers:        len(ls),
	}
	if st.Driver.Single() {
		info.Userns = "single"
	}
	if magic, err := graphdriver.GetFSMagic(st.GraphRoot()); err == nil {
		if name, ok := graphdriver.FsNames[magic]; ok {
			info.GraphFS = name
		}
	}
	return info, nil
}
