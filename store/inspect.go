//go:build !lean

package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	istorage "go.podman.io/image/v5/storage"
)

// ImageDetails is what inspect shows about an image.
type ImageDetails struct {
	ID           string                `json:"id"`
	Digest       string                `json:"digest"`
	Tags         []string              `json:"tags"`
	RepoDigests  []string              `json:"repo_digests"`
	Created      *time.Time            `json:"created,omitempty"`
	Size         int64                 `json:"size"`
	Architecture string                `json:"architecture"`
	OS           string                `json:"os"`
	Variant      string                `json:"variant,omitempty"`
	Author       string                `json:"author,omitempty"`
	ManifestType string                `json:"manifest_type"`
	Layers       []digest.Digest       `json:"layers"` // DiffIDs, base layer first
	Config       imgspecv1.ImageConfig `json:"config"`
	History      []imgspecv1.History   `json:"history,omitempty"`
}

// Inspect gathers an image's details from its record, config and manifest.
func (st *Store) Inspect(ctx context.Context, img *Image) (*ImageDetails, error) {
	ref, err := istorage.Transport.NewStoreReference(st.s, nil, img.ID)
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
	_, mt, err := src.Manifest(ctx)
	if err != nil {
		return nil, fmt.Errorf("read manifest of image %s: %w", shortID(img.ID), err)
	}
	d := &ImageDetails{
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
	if size, err := st.s.ImageSize(img.ID); err == nil {
		d.Size = size
	}
	return d, nil
}

// repoDigests names the image by digest in each of its repositories, as
// Podman's RepoDigests do.
func repoDigests(img *Image) []string {
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
