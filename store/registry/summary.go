package registry

import (
	"fmt"

	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
)

// Summary is what crun-lite info reports about registries.conf.
type Summary struct {
	Search   []string `json:"search"`
	Insecure []string `json:"insecure,omitempty"`
	Blocked  []string `json:"blocked,omitempty"`
	Mirrors  []string `json:"mirrored,omitempty"` // prefixes that have mirrors
}

// Summarize summarizes the registries.conf files that pulls read (those
// CONTAINERS_REGISTRIES_CONF names, or the system's and the user's).
func Summarize() (*Summary, error) {
	sys := &types.SystemContext{}
	search, err := sysregistriesv2.UnqualifiedSearchRegistries(sys)
	if err != nil {
		return nil, fmt.Errorf("read registries.conf: %w", err)
	}
	regs, err := sysregistriesv2.GetRegistries(sys)
	if err != nil {
		return nil, fmt.Errorf("read registries.conf: %w", err)
	}
	if search == nil {
		search = []string{} // JSON: [], not null
	}
	ri := &Summary{Search: search}
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
