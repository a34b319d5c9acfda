package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/storage"
)

// ErrImageUnknown means no stored image matches a name.
var ErrImageUnknown = errors.New("image not known")

// Image is a stored image.
type Image struct {
	ID       string
	Names    []string
	Digest   string
	TopLayer string
	Created  time.Time
	Size     int64

	st *Store
}

// Lookup finds a stored image by ID, ID prefix, full name, or a short name as
// Podman resolves it locally (docker.io/library/NAME:latest,
// localhost/NAME:latest).
func (st *Store) Lookup(name string) (*Image, error) {
	for _, cand := range localCandidates(name) {
		img, err := st.s.Image(cand)
		if err == nil {
			return st.wrap(img), nil
		}
		if !errors.Is(err, storage.ErrImageUnknown) {
			return nil, fmt.Errorf("look up image %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrImageUnknown, name)
}

// localCandidates lists the names a reference may be stored under, most
// specific first.
func localCandidates(name string) []string {
	out := []string{name}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return out
	}
	named = reference.TagNameOnly(named)
	if s := named.String(); s != name {
		out = append(out, s)
	}
	// A short name ("busybox") may also have been stored as localhost/busybox.
	if !strings.ContainsAny(strings.SplitN(name, "/", 2)[0], ".:") && name != "localhost" {
		if ln, err := reference.ParseNormalizedNamed("localhost/" + name); err == nil {
			out = append(out, reference.TagNameOnly(ln).String())
		}
	}
	return out
}

func (st *Store) wrap(img *storage.Image) *Image {
	return &Image{
		ID:       img.ID,
		Names:    img.Names,
		Digest:   img.Digest.String(),
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

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
