package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/shortnames"
	"go.podman.io/storage"
)

// ErrImageUnknown means no stored image matches a name.
var ErrImageUnknown = errors.New("image not known")

// Image is a stored image.
type Image struct {
	ID       string
	Names    []string
	Digest   string
	Digests  []string
	TopLayer string
	Created  time.Time
	Size     int64

	st *Store
}

// ImageDetails is what inspect shows about an image, with the keys and
// Go field names of Podman's image inspect (scripts read both); package
// inspect fills it in. It is declared here, with no code, because inspect
// --format templates name its type in their errors ("can't evaluate field
// X in type *store.ImageDetails").
type ImageDetails struct {
	ID           string                 `json:"Id"`
	Digest       string                 `json:"Digest"`
	RepoTags     []string               `json:"RepoTags"`
	RepoDigests  []string               `json:"RepoDigests"`
	Parent       string                 `json:"Parent"`
	Comment      string                 `json:"Comment"`
	Created      *time.Time             `json:"Created"`
	Config       *imgspecv1.ImageConfig `json:"Config"`
	Version      string                 `json:"Version"`
	Author       string                 `json:"Author"`
	Architecture string                 `json:"Architecture"`
	Os           string                 `json:"Os"`
	Variant      string                 `json:"Variant,omitempty"`
	Size         int64                  `json:"Size"`
	VirtualSize  int64                  `json:"VirtualSize"`
	GraphDriver  DriverData             `json:"GraphDriver"`
	RootFS       RootFS                 `json:"RootFS"`
	Labels       map[string]string      `json:"Labels"`
	Annotations  map[string]string      `json:"Annotations"`
	ManifestType string                 `json:"ManifestType"`
	User         string                 `json:"User"`
	History      []imgspecv1.History    `json:"History"`
	NamesHistory []string               `json:"NamesHistory"`
}

// DriverData names the graph driver and its data for the image's top
// layer (overlay: LowerDir, UpperDir, WorkDir).
type DriverData struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

// RootFS lists the image's layers by DiffID, base first.
type RootFS struct {
	Type   string          `json:"Type"`
	Layers []digest.Digest `json:"Layers"`
}

// Lookup finds a stored image by ID, ID prefix, full name, or a short name as
// Podman resolves it locally: its alias in registries.conf, localhost/NAME,
// NAME under each unqualified-search registry, docker.io/library/NAME, and
// last any one image whose repository ends in /NAME.
func (st *Store) Lookup(name string) (*Image, error) {
	if err := st.ensure(); err != nil {
		return nil, err
	}
	img, err := st.s.Image(name) // the common case: an ID or a full name
	if err == nil {
		return st.ImageOf(img), nil
	}
	for _, cand := range localCandidates(name) {
		img, err := st.s.Image(cand)
		if err == nil {
			return st.ImageOf(img), nil
		}
		if !errors.Is(err, storage.ErrImageUnknown) {
			return nil, fmt.Errorf("look up image %s: %w", name, err)
		}
	}
	return st.lookupBySuffix(name)
}

// localCandidates lists the names a reference may be stored under, most
// specific first.
func localCandidates(name string) []string {
	out := []string{name}
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if refs, err := shortnames.ResolveLocally(nil, name); err == nil {
		for _, r := range refs {
			add(r.String())
		}
	}
	if named, err := reference.ParseNormalizedNamed(name); err == nil {
		add(reference.TagNameOnly(named).String())
	}
	return out
}

// lookupBySuffix finds the one image with a name whose repository path ends
// in a short name: "busybox" finds 127.0.0.1:5000/test/busybox:latest.
func (st *Store) lookupBySuffix(name string) (*Image, error) {
	short, err := reference.Parse(name)
	named, ok := short.(reference.Named)
	if err != nil || !ok || !shortnames.IsShortName(name) {
		return nil, fmt.Errorf("%w: %s", ErrImageUnknown, name)
	}
	tag := "latest"
	if t, ok := short.(reference.Tagged); ok {
		tag = t.Tag()
	}
	imgs, err := st.s.Images()
	if err != nil {
		return nil, fmt.Errorf("look up image %s: %w", name, err)
	}
	var found []*storage.Image
	var foundNames []string
	for i := range imgs {
		for _, n := range imgs[i].Names {
			if suffixMatch(n, named.Name(), tag) {
				found = append(found, &imgs[i])
				foundNames = append(foundNames, n)
				break
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrImageUnknown, name)
	case 1:
		return st.ImageOf(found[0]), nil
	}
	return nil, fmt.Errorf("short name %s matches several images (%s): give the full name", name, strings.Join(foundNames, ", "))
}

func suffixMatch(stored, repo, tag string) bool {
	n, err := reference.ParseNormalizedNamed(stored)
	if err != nil {
		return false
	}
	t, ok := n.(reference.Tagged)
	if !ok || t.Tag() != tag {
		return false
	}
	path := reference.Path(n)
	return path == repo || strings.HasSuffix(path, "/"+repo)
}

// ImageOf wraps a containers/storage image record of this store, as
// containers/image's storage transport returns them after a copy.
func (st *Store) ImageOf(img *storage.Image) *Image {
	digests := make([]string, 0, len(img.Digests))
	for _, d := range img.Digests {
		digests = append(digests, d.String())
	}
	return &Image{
		ID:       img.ID,
		Names:    img.Names,
		Digest:   img.Digest.String(),
		Digests:  digests,
		TopLayer: img.TopLayer,
		Created:  img.Created,
		st:       st,
	}
}

// Images lists stored images, newest first.
func (st *Store) Images() ([]*Image, error) {
	if err := st.ensure(); err != nil {
		return nil, err
	}
	imgs, err := st.s.Images()
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]*Image, 0, len(imgs))
	for i := range imgs {
		im := st.ImageOf(&imgs[i])
		if size, err := st.s.ImageSize(im.ID); err == nil {
			im.Size = size
		}
		out = append(out, im)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Config returns the image's configuration. containers/image keeps the
// config blob in the image's big data under its digest (next to "manifest"
// and "signature-..." items), and an OCI config and a Docker schema 2 one
// share the fields read here, so no transport is needed: this is on the
// start path of every run.
func (img *Image) Config() (*imgspecv1.Image, error) {
	keys, err := img.st.s.ListImageBigData(img.ID)
	if err != nil {
		return nil, fmt.Errorf("read config of image %s: %w", ShortID(img.ID), err)
	}
	for _, k := range keys {
		if _, err := digest.Parse(k); err != nil {
			continue
		}
		data, err := img.st.s.ImageBigData(img.ID, k)
		if err != nil {
			return nil, fmt.Errorf("read config of image %s: %w", ShortID(img.ID), err)
		}
		var cfg imgspecv1.Image
		if err := json.Unmarshal(data, &cfg); err != nil {
			return nil, fmt.Errorf("config of image %s: %w", ShortID(img.ID), err)
		}
		return &cfg, nil
	}
	return nil, fmt.Errorf("image %s has no config: pull it again", ShortID(img.ID))
}

// ShortID abbreviates an ID (or a digest's hex) to its first 12
// characters, as messages and listings show it.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
