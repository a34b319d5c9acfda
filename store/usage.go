package store

import (
	"errors"
	"fmt"

	"go.podman.io/storage"
	"golang.org/x/sys/unix"
)

// usage is a snapshot of which images and layers are in use.
type usage struct {
	images     []storage.Image
	layers     map[string]*storage.Layer
	containers []storage.Container
	activeImg  map[string]bool // used by a kept container or a live run
	imgLayers  map[string]bool // layers of any image
	liveLayers map[string]bool // layers of active images and containers
}

func (st *Store) usage(busy Busy) (*usage, error) {
	u := &usage{layers: map[string]*storage.Layer{}, activeImg: map[string]bool{},
		imgLayers: map[string]bool{}, liveLayers: map[string]bool{}}
	var err error
	if u.images, err = st.s.Images(); err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	if u.containers, err = st.s.Containers(); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	layers, err := st.s.Layers()
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	for i := range layers {
		u.layers[layers[i].ID] = &layers[i]
	}
	for _, c := range u.containers {
		u.activeImg[c.ImageID] = true
		u.mark(c.LayerID, u.liveLayers)
	}
	for _, img := range u.images {
		if busy != nil && len(busy(img.ID)) > 0 {
			u.activeImg[img.ID] = true
		}
		for _, top := range append([]string{img.TopLayer}, img.MappedTopLayers...) {
			u.mark(top, u.imgLayers)
			if u.activeImg[img.ID] {
				u.mark(top, u.liveLayers)
			}
		}
	}
	return u, nil
}

// mark adds a layer and its parents to set.
func (u *usage) mark(id string, set map[string]bool) {
	for id != "" && !set[id] {
		set[id] = true
		l := u.layers[id]
		if l == nil {
			return
		}
		id = l.Parent
	}
}

func (u *usage) size(ids map[string]bool) int64 {
	var n int64
	for id := range ids {
		if l := u.layers[id]; l != nil && l.UncompressedSize > 0 {
			n += l.UncompressedSize
		}
	}
	return n
}

// UsageRow is one line of system df.
type UsageRow struct {
	Total       int   `json:"total"`
	Active      int   `json:"active"`
	Size        int64 `json:"size"`
	Reclaimable int64 `json:"reclaimable"`
}

// DiskUsage is what system df reports. Sizes are those of the unpacked
// layers, each counted once however many images share it.
type DiskUsage struct {
	Images     UsageRow `json:"images"`
	Containers UsageRow `json:"containers"`
	// Layers that no image uses: what interrupted pulls leave (the next
	// pull of the same image reuses them; image prune removes them).
	UnusedLayers UsageRow `json:"unused_layers"`
}

// DiskUsage computes what system df shows.
func (st *Store) DiskUsage(busy Busy) (*DiskUsage, error) {
	u, err := st.usage(busy)
	if err != nil {
		return nil, err
	}
	var du DiskUsage
	du.Images.Total = len(u.images)
	for _, img := range u.images {
		if u.activeImg[img.ID] {
			du.Images.Active++
		}
	}
	du.Images.Size = u.size(u.imgLayers)
	du.Images.Reclaimable = du.Images.Size - u.size(intersect(u.imgLayers, u.liveLayers))
	du.Containers.Total = len(u.containers)
	for _, c := range u.containers {
		running := false
		if info, err := st.Container(c.ID); err == nil && info.Status == "running" {
			running = true
			du.Containers.Active++
		}
		if n, err := st.s.ContainerSize(c.ID); err == nil {
			du.Containers.Size += n
			if !running {
				du.Containers.Reclaimable += n
			}
		}
	}
	unused := map[string]bool{}
	for id := range u.layers {
		if !u.imgLayers[id] && !u.liveLayers[id] {
			unused[id] = true
		}
	}
	du.UnusedLayers = UsageRow{Total: len(unused), Size: u.size(unused), Reclaimable: u.size(unused)}
	return &du, nil
}

func intersect(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		if b[k] {
			out[k] = true
		}
	}
	return out
}

// PruneReport says what Prune removed.
type PruneReport struct {
	Images []string // IDs
	Layers int      // unused layers removed besides those of the images
	Size   int64    // bytes of unpacked layers freed
	// LayersKept is set when a pull, load or import was running: the
	// layers it already committed have no image yet, so none were removed.
	LayersKept bool
}

// Prune removes images no container uses: those without a name, or all
// of them with all; then layers no image or container uses (left by
// interrupted pulls), unless a copy into the store is running.
func (st *Store) Prune(all bool, busy Busy) (*PruneReport, error) {
	before, err := st.usage(busy)
	if err != nil {
		return nil, err
	}
	rep := &PruneReport{}
	for _, img := range before.images {
		if before.activeImg[img.ID] || (len(img.Names) > 0 && !all) {
			continue
		}
		if _, err := st.s.DeleteImage(img.ID, true); err != nil {
			if errors.Is(err, storage.ErrImageUsedByContainer) {
				continue
			}
			return rep, fmt.Errorf("remove image %s: %w", ShortID(img.ID), err)
		}
		rep.Images = append(rep.Images, img.ID)
	}
	rep.LayersKept, rep.Layers, err = st.pruneLayers(busy)
	if err != nil {
		return rep, err
	}
	after, err := st.usage(busy)
	if err == nil {
		rep.Size = before.size(allLayers(before)) - after.size(allLayers(after))
	}
	return rep, err
}

func allLayers(u *usage) map[string]bool {
	all := map[string]bool{}
	for id := range u.layers {
		all[id] = true
	}
	return all
}

// pruneLayers deletes layers no image or container uses, children first.
// It does nothing while a copy holds the store's copy lock.
func (st *Store) pruneLayers(busy Busy) (kept bool, n int, err error) {
	lock, err := st.lockCopies(unix.LOCK_EX | unix.LOCK_NB)
	if err != nil {
		return true, 0, nil
	}
	defer lock.Close()
	for {
		u, err := st.usage(busy)
		if err != nil {
			return false, n, err
		}
		parents := map[string]bool{}
		for _, l := range u.layers {
			parents[l.Parent] = true
		}
		removed := 0
		for id := range u.layers {
			if u.imgLayers[id] || u.liveLayers[id] || parents[id] {
				continue
			}
			if err := st.s.DeleteLayer(id); err != nil {
				return false, n, fmt.Errorf("remove layer %s: %w", ShortID(id), err)
			}
			removed++
		}
		n += removed
		if removed == 0 {
			return false, n, nil
		}
	}
}

// ContainerSize is what ps --size shows of a stored container, as
// Podman counts it: the size of the files of its own writable layer, and of the root
// filesystem its image gives it (RootfsSize). imageID may be "" (its image
// is gone).
func (st *Store) ContainerSize(id, imageID string) (rw, rootfs int64, err error) {
	if err := st.ensure(); err != nil {
		return 0, 0, err
	}
	c, err := st.s.Container(id)
	if err == nil {
		var l *storage.Layer
		if l, err = st.s.Layer(c.LayerID); err == nil {
			rw, err = st.s.DiffSize(l.Parent, l.ID)
		}
	}
	if err != nil {
		return 0, 0, fmt.Errorf("size of container %s: %w", ShortID(id), err)
	}
	return rw, st.RootfsSize(imageID), nil
}

// RootfsSize is the size of the files image id's layers hold, 0 when
// unknown: what its containers start from (Podman's rootFsSize, the
// "virtual" of ps --size). Not the image's size in images, which counts
// its layers' tar streams. Remembered per image for this Store.
func (st *Store) RootfsSize(id string) int64 {
	if id == "" || st.ensure() != nil {
		return 0
	}
	if n, ok := st.rootfsSizes[id]; ok {
		return n
	}
	var n int64
	if img, err := st.s.Image(id); err == nil {
		for layer := img.TopLayer; layer != ""; {
			l, err := st.s.Layer(layer)
			if err != nil {
				break
			}
			if d, err := st.s.DiffSize(l.Parent, l.ID); err == nil {
				n += d
			}
			layer = l.Parent
		}
	}
	if st.rootfsSizes == nil {
		st.rootfsSizes = map[string]int64{}
	}
	st.rootfsSizes[id] = n
	return n
}
