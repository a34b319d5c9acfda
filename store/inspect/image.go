// Package inspect describes what crun-lite-full shows about the store: an
// image's details as inspect prints them (read through containers/image's
// storage transport, for the manifest type), and the store's summary for
// info.
package inspect

import (
	"context"
	"fmt"
	"slices"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	istorage "go.podman.io/image/v5/storage"

	"github.com/crun-lite/crun-lite/store"
)

// Image gathers an image's details from its record, config and manifest.
func Image(ctx context.Context, st *store.Store, img *store.Image) (*store.ImageDetails, error) {
	s, err := st.Storage()
	if err != nil {
		return nil, err
	}
	ref, err := istorage.Transport.NewStoreReference(s, nil, img.ID)
	if err != nil {
		return nil, err
	}
	src, err := ref.NewImage(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("open image %s: %w", store.ShortID(img.ID), err)
	}
	defer src.Close()
	cfg, err := src.OCIConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("read config of image %s: %w", store.ShortID(img.ID), err)
	}
	_, mt, err := src.Manifest(ctx)
	if err != nil {
		return nil, fmt.Errorf("read manifest of image %s: %w", store.ShortID(img.ID), err)
	}
	d := &store.ImageDetails{
		ID:           img.ID,
		Digest:       img.Digest,
		Tags:         nonNil(img.Names),
		RepoDigests:  repoDigests(img),
		Created:      cfg.Created,
		Architecture: cfg.Architecture,
		OS:           cfg.OS,
		Variant:      cfg.Variant,
		Author:       cfg.Author,
		ManifestType: manifest.NormalizedMIMEType(mt),
		Layers:       nonNil(cfg.RootFS.DiffIDs),
		Config:       cfg.Config,
		History:      cfg.History,
	}
	if size, err := s.ImageSize(img.ID); err == nil {
		d.Size = size
	}
	return d, nil
}

// repoDigests names the image by digest in each of its repositories, as
// Podman's RepoDigests do.
func repoDigests(img *store.Image) []string {
	out := []string{}
	for _, n := range img.Names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		for _, d := range img.Digests {
			rd := named.Name() + "@" + d
			if !slices.Contains(out, rd) {
				out = append(out, rd)
			}
		}
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
