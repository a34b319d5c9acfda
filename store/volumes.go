package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Volume is a named volume: a directory under the graph root that outlives
// the containers that mount it (-v NAME:/path).
// Its JSON is Podman's volume inspect, with the fields a local volume
// has: no labels or options yet, and never mounted by a driver.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`     // always "local"
	Mountpoint string            `json:"Mountpoint"` // the directory of its data
	Created    time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	Scope      string            `json:"Scope"` // always "local"
	Options    map[string]string `json:"Options"`
	MountCount int               `json:"MountCount"`
}

// ErrVolumeUnknown means no volume has that name.
var ErrVolumeUnknown = errors.New("no such volume")

func (st *Store) volumesDir() string { return filepath.Join(st.opts.GraphRoot, "volumes") }

// VolumePath returns the directory of volume name, creating the volume when
// create is set and it does not exist yet (as -v NAME:/path does).
func (st *Store) VolumePath(name string, create bool) (string, error) {
	data := filepath.Join(st.volumesDir(), name, "_data")
	if _, err := os.Stat(data); err == nil {
		return data, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if !create {
		return "", fmt.Errorf("%w: %s", ErrVolumeUnknown, name)
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return "", fmt.Errorf("create volume %s: %w", name, err)
	}
	return data, nil
}

// Volumes lists the named volumes, by name.
func (st *Store) Volumes() ([]Volume, error) {
	entries, err := os.ReadDir(st.volumesDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []Volume
	for _, e := range entries {
		if v, err := st.Volume(e.Name()); err == nil {
			out = append(out, *v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Volume describes one volume.
func (st *Store) Volume(name string) (*Volume, error) {
	data := filepath.Join(st.volumesDir(), name, "_data")
	fi, err := os.Stat(filepath.Dir(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrVolumeUnknown, name)
	}
	return &Volume{Name: name, Driver: "local", Mountpoint: data, Created: fi.ModTime().UTC(),
		Labels: map[string]string{}, Scope: "local", Options: map[string]string{}}, nil
}

// RemoveVolume deletes a volume and its data. Whether it is in use is the
// caller's question (run.VolumeUsers).
func (st *Store) RemoveVolume(name string) error {
	if _, err := st.Volume(name); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(st.volumesDir(), name))
}
