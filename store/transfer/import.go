package transfer

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/tarball"

	"github.com/crun-lite/crun-lite/store"
)

// ImportOptions describe the image Import makes.
type ImportOptions struct {
	Changes           []string  // --change: CMD, ENV, WORKDIR, USER... (see ApplyChanges)
	Message           string    // --message: the layer's history comment
	OS, Arch, Variant string    // the platform the image claims; "" is the host's
	Stdin             io.Reader // read when the file is "-"
	Report            io.Writer // progress, as for Pull
}

// Import makes a one-layer image from a tarball of a root filesystem
// (plain or compressed; "-" reads it from o.Stdin) and stores it under name,
// normalized as Podman does (localhost/NAME:latest), or by ID when name is "".
func Import(ctx context.Context, st *store.Store, file, name string, o ImportOptions) (_ *store.Image, err error) {
	var cfg imgspecv1.ImageConfig
	if err := ApplyChanges(&cfg, o.Changes); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	stored := ""
	if name != "" {
		if stored = store.LocalName(name); stored == "" {
			return nil, fmt.Errorf("import: %q is not a valid image name", name)
		}
	}
	ctx, op, err := begin(ctx, st, "import "+file)
	if err != nil {
		return nil, err
	}
	defer func() { err = op.end(err) }()
	if file == "-" {
		if file, err = spool(op.guard.Reader(o.Stdin), op.tmp.Path); err != nil {
			return nil, fmt.Errorf("import: read stdin: %w", store.NoSpaceHint(err))
		}
	}
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	ref, err := tarball.NewReference([]string{file}, nil)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", file, err)
	}
	now := time.Now().UTC()
	comment := o.Message
	if comment == "" {
		comment = "imported from " + filepath.Base(file)
	}
	err = ref.(tarball.ConfigUpdater).ConfigUpdate(imgspecv1.Image{
		Created:  &now,
		Platform: imgspecv1.Platform{OS: o.OS, Architecture: o.Arch, Variant: o.Variant},
		Config:   cfg,
		History:  []imgspecv1.History{{Created: &now, Comment: comment}},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", file, err)
	}
	p, err := newPuller(st, op, PullOptions{Report: o.Report})
	if err != nil {
		return nil, err
	}
	defer p.close()
	img, err := p.copy(ctx, ref, stored)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", file, err)
	}
	return img, nil
}

// spool copies r into a file in dir and returns its path.
func spool(r io.Reader, dir string) (string, error) {
	f, err := os.CreateTemp(dir, "stdin-")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}
