package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/storage"
)

// RunImage is what running an image with a throwaway upper dir needs.
type RunImage struct {
	ID     string
	Config imgspecv1.ImageConfig
	Rootfs *Rootfs
}

// The run cache
//
// Opening containers/storage (reading every layer, image and container
// record, initialising the graph driver), resolving the name and reading
// the config cost about 2 ms of a run that takes 12. What a run needs from
// all that is small and changes only when layers or images change, which
// containers/storage itself signals: every change rewrites a random token in
// its layers.lock and images.lock. So the first run of an image stores its
// answer, with both tokens, in crun-lite-runcache.json; later runs take the
// same read locks storage takes, compare the tokens and, when nothing
// changed, never open the store. Short names also depend on registries.conf,
// whose files' sizes and times are part of those entries.

const runCacheFile = "crun-lite-runcache.json"

type runCacheEntry struct {
	Image     RunImage `json:"image"`
	LayersTok string   `json:"layers_token"`
	ImagesTok string   `json:"images_token"`
	ConfStamp string   `json:"conf_stamp,omitempty"` // for short names only
	Lowers    []string `json:"lowers"`
	RootMode  uint32   `json:"root_mode"`
	RootUID   int      `json:"root_uid"`
	RootGID   int      `json:"root_gid"`
}

// ForRun returns what running ref needs, with storage's read locks held
// until release is called (after mounting). ErrImageUnknown means ref must
// be pulled first.
func (st *Store) ForRun(ref string) (*RunImage, func(), error) {
	if st.Driver.Name != "overlay" {
		return nil, nil, fmt.Errorf("direct mounts need the overlay driver, the store uses %s", st.Driver.Name)
	}
	// Before the cache, which would otherwise skip the check Rootfs makes:
	// a fuse store with no usable /dev/fuse must fail the same way, with
	// the same hint, whether the image is cached or not.
	if err := usable(st.Driver); err != nil {
		return nil, nil, err
	}
	if ri, release, ok := st.fromRunCache(ref); ok {
		return ri, release, nil
	}
	before := st.tokens()
	if err := st.ensure(); err != nil {
		return nil, nil, err
	}
	img, short, err := st.lookup(ref)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := img.Config()
	if err != nil {
		return nil, nil, err
	}
	rf, release, err := st.Rootfs(img)
	if err != nil {
		return nil, nil, err
	}
	ri := &RunImage{ID: img.ID, Config: cfg.Config, Rootfs: rf}
	// Under the read locks: the tokens are those the answer was made from
	// when nothing changed since we started.
	if after := st.tokens(); after == before && after[0] != "" {
		st.saveRunCache(ref, ri, after, short)
	}
	return ri, release, nil
}

func (st *Store) fromRunCache(ref string) (*RunImage, func(), bool) {
	data, err := os.ReadFile(filepath.Join(st.opts.GraphRoot, runCacheFile))
	if err != nil {
		return nil, nil, false
	}
	var entries map[string]runCacheEntry
	if json.Unmarshal(data, &entries) != nil {
		return nil, nil, false
	}
	e, ok := entries[ref]
	if !ok || (e.ConfStamp != "" && e.ConfStamp != confStamp()) {
		return nil, nil, false
	}
	release, err := st.readLock()
	if err != nil {
		return nil, nil, false
	}
	if tok := st.tokens(); tok[0] != e.LayersTok || tok[1] != e.ImagesTok {
		release()
		return nil, nil, false
	}
	ri := e.Image
	ri.Rootfs = st.newRootfs()
	ri.Rootfs.Lowers = e.Lowers
	ri.Rootfs.RootMode, ri.Rootfs.RootUID, ri.Rootfs.RootGID = os.FileMode(e.RootMode), e.RootUID, e.RootGID
	return &ri, release, true
}

// saveRunCache records an answer. Entries of other names stay; a stale one
// is simply never used. Writes go through a rename, so concurrent runs
// never read half a file (the last writer wins).
func (st *Store) saveRunCache(ref string, ri *RunImage, tok [2]string, short bool) {
	path := filepath.Join(st.opts.GraphRoot, runCacheFile)
	entries := map[string]runCacheEntry{}
	if data, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(data, &entries)
	}
	for k, e := range entries { // drop what the store has moved past
		if e.LayersTok != tok[0] || e.ImagesTok != tok[1] {
			delete(entries, k)
		}
	}
	e := runCacheEntry{
		Image: RunImage{ID: ri.ID, Config: ri.Config}, LayersTok: tok[0], ImagesTok: tok[1],
		Lowers: ri.Rootfs.Lowers, RootMode: uint32(ri.Rootfs.RootMode), RootUID: ri.Rootfs.RootUID, RootGID: ri.Rootfs.RootGID,
	}
	if short {
		e.ConfStamp = confStamp()
	}
	entries[ref] = e
	data, err := json.Marshal(entries)
	if err != nil {
		return
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if os.WriteFile(tmp, data, 0o600) == nil && os.Rename(tmp, path) != nil {
		_ = os.Remove(tmp)
	}
}

// tokens returns the last-write tokens of the layer and image stores: the
// raw content of their lock files, which containers/storage rewrites on
// every change.
func (st *Store) tokens() [2]string {
	var out [2]string
	for i, p := range st.lockPaths() {
		if b, err := os.ReadFile(p); err == nil {
			sum := sha256.Sum256(b)
			out[i] = hex.EncodeToString(sum[:])
		}
	}
	return out
}

// confStamp summarises the registries.conf files that decide what a short
// name means: their paths, sizes and modification times.
func confStamp() string {
	var files []string
	add := func(p string) {
		if entries, err := os.ReadDir(p); err == nil {
			for _, e := range entries {
				files = append(files, filepath.Join(p, e.Name()))
			}
			return
		}
		files = append(files, p)
	}
	add(os.Getenv("CONTAINERS_REGISTRIES_CONF"))
	for _, p := range []string{"/etc/containers/registries.conf", "/etc/containers/registries.conf.d"} {
		add(p)
	}
	if cfg, err := os.UserConfigDir(); err == nil {
		add(filepath.Join(cfg, "containers", "registries.conf"))
		add(filepath.Join(cfg, "containers", "registries.conf.d"))
	}
	h := sha256.New()
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", f, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// lookup is Lookup that also says whether the name had to be resolved
// (short-name rules, which registries.conf can change) rather than found as
// an ID or a stored name.
func (st *Store) lookup(ref string) (*Image, bool, error) {
	if img, err := st.s.Image(ref); err == nil {
		return st.ImageOf(img), false, nil
	} else if !errors.Is(err, storage.ErrImageUnknown) {
		return nil, false, fmt.Errorf("look up image %s: %w", ref, err)
	}
	img, err := st.Lookup(ref)
	return img, true, err
}
