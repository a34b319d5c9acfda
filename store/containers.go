package store

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"go.podman.io/storage"

	"github.com/crun-lite/crun-lite/internal/faults"
)

// ContainerInfo is what crun-lite records about a stored container.
type ContainerInfo struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Image    string    `json:"image"`
	ImageID  string    `json:"image_id"`
	Command  []string  `json:"command"`
	Created  time.Time `json:"created"`
	Status   string    `json:"status"` // created, running, exited
	ExitCode int       `json:"exit_code"`
	Started  time.Time `json:"started,omitempty"`
	Finished time.Time `json:"finished,omitempty"`
	Volumes  []string  `json:"volumes,omitempty"` // named volumes it mounts
}

// ErrContainerUnknown means no stored container has that name or ID.
var ErrContainerUnknown = storage.ErrContainerUnknown

// ErrNameInUse means a container of that name exists.
var ErrNameInUse = errors.New("container name in use")

// CreateContainer records a container with its own writable layer on top of
// img, under info.ID (empty: a new one). An empty name gets a generated one.
func (st *Store) CreateContainer(img *Image, info ContainerInfo) (*ContainerInfo, error) {
	if err := st.ensure(); err != nil {
		return nil, err
	}
	info.ImageID = img.ID
	info.Created = time.Now().UTC()
	info.Status = "created"
	var names []string
	if info.Name != "" {
		names = []string{info.Name}
	}
	meta, _ := json.Marshal(info)
	c, err := st.s.CreateContainer(info.ID, names, img.ID, "", string(meta), nil)
	if errors.Is(err, storage.ErrDuplicateName) {
		return nil, fmt.Errorf("%w: %s", ErrNameInUse, info.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	info.ID = c.ID
	if info.Name == "" {
		info.Name = c.ID[:12]
	}
	return &info, st.SaveContainer(&info)
}

// SaveContainer stores info as the container's metadata.
func (st *Store) SaveContainer(info *ContainerInfo) error {
	if err := st.ensure(); err != nil {
		return err
	}
	meta, _ := json.Marshal(info)
	if err := st.s.SetMetadata(info.ID, string(meta)); err != nil {
		return fmt.Errorf("update container %s: %w", info.Name, err)
	}
	return nil
}

// Containers lists stored containers, newest first.
func (st *Store) Containers() ([]*ContainerInfo, error) {
	if err := st.ensure(); err != nil {
		return nil, err
	}
	cs, err := st.s.Containers()
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]*ContainerInfo, 0, len(cs))
	for i := range cs {
		out = append(out, containerInfo(&cs[i]))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

func containerInfo(c *storage.Container) *ContainerInfo {
	var info ContainerInfo
	_ = json.Unmarshal([]byte(c.Metadata), &info)
	info.ID = c.ID
	if len(c.Names) > 0 {
		info.Name = c.Names[0]
	}
	info.ImageID = c.ImageID
	return &info
}

// Container finds a stored container by name, ID or ID prefix.
func (st *Store) Container(ref string) (*ContainerInfo, error) {
	if err := st.ensure(); err != nil {
		return nil, err
	}
	c, err := st.s.Container(ref)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", ref, err)
	}
	return containerInfo(c), nil
}

// DeleteContainer removes a container and its layer.
func (st *Store) DeleteContainer(id string) error {
	if err := st.ensure(); err != nil {
		return err
	}
	faults.At("rm:container")
	err := st.s.DeleteContainer(id)
	if errors.Is(err, syscall.ENOSPC) {
		// Storage writes its metadata before it frees the layer: on a
		// disk the container itself filled, empty its writable layer
		// first (it goes anyway), then try again.
		if rf, rerr := st.ContainerRootfs(id); rerr == nil {
			if dir := cmp.Or(rf.Upper, rf.Dir); dir != "" {
				emptyDir(dir)
				err = st.s.DeleteContainer(id)
			}
		}
	}
	if err != nil {
		return NoSpaceHint(fmt.Errorf("remove container %s: %w", ShortID(id), err))
	}
	return nil
}

// ContainerRootfs returns the layout of a stored container's root
// filesystem: its own layer as upper dir over the image's layers (overlay),
// or the container's directory (vfs).
func (st *Store) ContainerRootfs(id string) (*Rootfs, error) {
	if err := st.ensure(); err != nil {
		return nil, err
	}
	if err := usable(st.Driver); err != nil {
		return nil, err
	}
	c, err := st.s.Container(id)
	if err != nil {
		return nil, err
	}
	if st.Driver.Name != "overlay" {
		dir, err := st.s.Mount(c.ID, "")
		if err != nil {
			return nil, fmt.Errorf("mount container %s: %w", ShortID(id), err)
		}
		return &Rootfs{Driver: st.Driver.Name, Dir: dir}, nil
	}
	md, err := st.layerMetadata(c.LayerID)
	if err != nil {
		return nil, fmt.Errorf("layers of container %s: %w", ShortID(id), err)
	}
	return &Rootfs{
		Driver:       "overlay",
		MountProgram: st.Driver.MountProgram(),
		Home:         st.s.GraphRoot() + "/overlay",
		UserXattr:    st.Driver.MountProgram() == "" && isRootlessNS(),
		Lowers:       splitLowers(md["LowerDir"]),
		Upper:        md["UpperDir"],
		Work:         md["WorkDir"],
	}, nil
}

// UnmountContainer undoes ContainerRootfs for drivers that storage mounts.
func (st *Store) UnmountContainer(id string) {
	if st.ensure() != nil {
		return
	}
	if st.Driver.Name != "overlay" {
		_, _ = st.s.Unmount(id, false)
	}
}

// emptyDir removes what dir holds, best effort, and keeps dir.
func emptyDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// ContainerLogPath is where a kept container's log lives: in the dir
// containers/storage keeps for it, so that it goes with the container.
func (st *Store) ContainerLogPath(id string) (string, error) {
	if err := st.ensure(); err != nil {
		return "", err
	}
	dir, err := st.s.ContainerDirectory(id)
	if err != nil {
		return "", fmt.Errorf("container %s: %w", id, err)
	}
	return filepath.Join(dir, "ctr.log"), nil
}

// ContainerFile names a file of the dir containers/storage keeps for a
// container (where ContainerLogPath's log is too): what outlives its run,
// such as the spec inspect reads once it exited, goes with the container.
func (st *Store) ContainerFile(id, name string) (string, error) {
	if err := st.ensure(); err != nil {
		return "", err
	}
	dir, err := st.s.ContainerDirectory(id)
	if err != nil {
		return "", fmt.Errorf("container %s: %w", id, err)
	}
	return filepath.Join(dir, name), nil
}

// RenameContainer gives a stored container the name name, and records it
// in the container's metadata too. Storage's SetNames takes a name from
// the container that has it: the caller checks that none does.
func (st *Store) RenameContainer(id, name string) error {
	if err := st.ensure(); err != nil {
		return err
	}
	if err := st.s.SetNames(id, []string{name}); err != nil {
		return fmt.Errorf("rename container %s: %w", ShortID(id), err)
	}
	c, err := st.s.Container(id)
	if err != nil {
		return fmt.Errorf("rename container %s: %w", ShortID(id), err)
	}
	info := containerInfo(c)
	info.Name = name
	return st.SaveContainer(info)
}
