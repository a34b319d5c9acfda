package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/shortnames"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
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

// Lookup finds a stored image by ID, ID prefix, full name, or a short name as
// Podman resolves it locally: its alias in registries.conf, localhost/NAME,
// NAME under each unqualified-search registry, docker.io/library/NAME, and
// last any one image whose repository ends in /NAME.
func (st *Store) Lookup(name string) (*Image, error) {
	img, err := st.s.Image(name) // the common case: an ID or a full name
	if err == nil {
		return st.wrap(img), nil
	}
	for _, cand := range localCandidates(name) {
		img, err := st.s.Image(cand)
		if err == nil {
			return st.wrap(img), nil
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
		return st.wrap(found[0]), nil
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

func (st *Store) wrap(img *storage.Image) *Image {
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
	imgs, err := st.s.Images()
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]*Image, 0, len(imgs))
	for i := range imgs {
		im := st.wrap(&imgs[i])
		if size, err := st.s.ImageSize(im.ID); err == nil {
			im.Size = size
		}
		out = append(out, im)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Config returns the image's configuration in OCI form (Docker schema 2
// configs are converted by containers/image).
func (img *Image) Config(ctx context.Context) (*imgspecv1.Image, error) {
	ref, err := istorage.Transport.NewStoreReference(img.st.s, nil, img.ID)
	if err != nil {
		return nil, err
	}
	src, err := ref.NewImage(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("open image %s: %w", shortID(img.ID), err)
	}
	defer src.Close()
	cfg, err := src.OCIConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("read config of image %s: %w", shortID(img.ID), err)
	}
	return cfg, nil
}

// platformMatches tells whether the stored image id is for the platform sys
// asks for, the host's by default: a manifest list's digest names images
// for every platform.
func (st *Store) platformMatches(ctx context.Context, id string, sys *types.SystemContext) bool {
	cfg, err := (&Image{ID: id, st: st}).Config(ctx)
	if err != nil {
		return false
	}
	want := func(choice, host string) string {
		if choice != "" {
			return choice
		}
		return host
	}
	return cfg.OS == want(sys.OSChoice, runtime.GOOS) &&
		cfg.Architecture == want(sys.ArchitectureChoice, runtime.GOARCH) &&
		(sys.VariantChoice == "" || sys.VariantChoice == cfg.Variant)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
