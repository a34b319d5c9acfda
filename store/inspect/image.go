// Package inspect describes what crun-lite-full shows about the store: an
// image's details as inspect prints them (read through containers/image's
// storage transport, for the manifest type), and the store's summary for
// info.
package inspect

import (
	"context"
	"fmt"
	"slices"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
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
	raw, mt, err := src.Manifest(ctx)
	if err != nil {
		return nil, fmt.Errorf("read manifest of image %s: %w", store.ShortID(img.ID), err)
	}
	mt = manifest.NormalizedMIMEType(mt)
	d := &store.ImageDetails{
		ID:           img.ID,
		Digest:       img.Digest,
		RepoTags:     nonNil(img.Names),
		RepoDigests:  repoDigests(img),
		Created:      cfg.Created,
		Config:       &cfg.Config,
		Author:       cfg.Author,
		Architecture: cfg.Architecture,
		Os:           cfg.OS,
		Variant:      cfg.Variant,
		RootFS:       store.RootFS{Type: cfg.RootFS.Type, Layers: nonNil(cfg.RootFS.DiffIDs)},
		Labels:       cfg.Config.Labels,
		Annotations:  map[string]string{},
		ManifestType: mt,
		User:         cfg.Config.User,
		History:      nonNil(cfg.History),
		NamesHistory: []string{},
	}
	if mt == imgspecv1.MediaTypeImageManifest {
		if m, err := manifest.OCI1FromManifest(raw); err == nil && m.Annotations != nil {
			d.Annotations = m.Annotations
		}
	}
	if size, err := s.ImageSize(img.ID); err == nil {
		d.Size, d.VirtualSize = size, size
	}
	d.GraphDriver.Name = s.GraphDriverName()
	if rec, err := s.Image(img.ID); err == nil {
		d.NamesHistory = nonNil(rec.NamesHistory)
		if drv, err := s.GraphDriver(); err == nil && rec.TopLayer != "" {
			if data, err := drv.Metadata(rec.TopLayer); err == nil {
				d.GraphDriver.Data = data
			}
		}
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
