package transfer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/copy"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/oci/layout"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"github.com/crun-lite/crun-lite/store"
)

// openArchive prepares src for copying and returns the name Podman would
// store it under ("" for none). An oci-archive is unpacked once into the
// scratch dir and read as an OCI layout: containers/image would unpack it
// again for every look at it (name, config, layers).
func openArchive(sys *types.SystemContext, guard *store.ReserveGuard, src types.ImageReference) (types.ImageReference, string, func(), error) {
	nop := func() {}
	switch src.Transport().Name() {
	case "oci-archive":
		file, image, _ := strings.Cut(src.StringWithinTransport(), ":")
		dir, err := unpackOCIArchive(sys, guard, file)
		if err != nil {
			return nil, "", nop, err
		}
		done := func() { _ = os.RemoveAll(dir) }
		ref, name, err := pickOCIImage(dir, image)
		if err != nil {
			done()
			return nil, "", nop, err
		}
		return ref, name, done, nil
	case "oci", "dir":
		path, tag, _ := strings.Cut(src.StringWithinTransport(), ":")
		if tag == "" {
			tag = "latest"
		}
		return src, store.LocalName(strings.TrimPrefix(path, "/") + ":" + tag), nop, nil
	case "docker-archive":
		return src, dockerArchiveName(sys, src), nop, nil
	}
	if dr := src.DockerReference(); dr != nil {
		return src, reference.TagNameOnly(dr).String(), nop, nil
	}
	return src, "", nop, nil
}

// unpackOCIArchive unpacks an oci-archive (compressed or not) into a new
// directory of sys's scratch space, within the reserve guard keeps.
func unpackOCIArchive(sys *types.SystemContext, guard *store.ReserveGuard, file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	dir, err := os.MkdirTemp(sys.BigFilesTemporaryDir, "oci-")
	if err != nil {
		return "", err
	}
	if err := archive.NewDefaultArchiver().Untar(guard.Reader(f), dir, &archive.TarOptions{NoLchown: true}); err != nil {
		_ = os.RemoveAll(dir)
		return "", store.NoSpaceHint(fmt.Errorf("unpack %s: %w", file, err))
	}
	return dir, nil
}

// pickOCIImage returns the image of an OCI layout that ref names in its
// index (by its org.opencontainers.image.ref.name annotation), or its only
// image when ref is "", and the name Podman gives it.
func pickOCIImage(dir, ref string) (types.ImageReference, string, error) {
	list, err := layout.List(dir)
	if err != nil {
		return nil, "", fmt.Errorf("read OCI index: %w", err)
	}
	var found []layout.ListResult
	for _, l := range list {
		if ref == "" || l.ManifestDescriptor.Annotations[imgspecv1.AnnotationRefName] == ref {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		if ref == "" {
			return nil, "", fmt.Errorf("archive holds %d images: name one as FILE:NAME", len(list))
		}
		return nil, "", fmt.Errorf("archive holds no image named %q", ref)
	}
	return found[0].Reference, store.LocalName(found[0].ManifestDescriptor.Annotations[imgspecv1.AnnotationRefName]), nil
}

// dockerArchiveName is the tag a docker-archive image was saved with.
func dockerArchiveName(sys *types.SystemContext, src types.ImageReference) string {
	if dr := src.DockerReference(); dr != nil {
		return reference.TagNameOnly(dr).String()
	}
	r, ref, err := dockerarchive.NewReaderForReference(sys, src)
	if err != nil {
		return ""
	}
	defer r.Close()
	tags, err := r.ManifestTagsForReference(ref)
	if err != nil || len(tags) == 0 {
		return ""
	}
	return store.LocalName(tags[0])
}

// Load copies every image of an oci-archive or docker-archive (detected
// from its content; compressed or not) into the store, as podman load does.
// With file "", the archive is read from stdin.
func Load(ctx context.Context, st *store.Store, file string, stdin io.Reader, o PullOptions) (_ []*store.Image, err error) {
	what := "load " + file
	if file == "" {
		what = "load"
	}
	ctx, op, err := begin(ctx, st, what)
	if err != nil {
		return nil, err
	}
	defer func() { err = op.end(err) }()
	if file == "" { // archive readers need to seek
		if file, err = spool(op.guard.Reader(stdin), op.tmp.Path); err != nil {
			return nil, fmt.Errorf("load: read stdin: %w", store.NoSpaceHint(err))
		}
	}
	format, err := archiveFormat(file)
	if err != nil {
		return nil, err
	}
	p, err := newPuller(st, op, o)
	if err != nil {
		return nil, err
	}
	defer p.close()
	if format == "oci-archive" {
		return p.loadOCI(ctx, file)
	}
	return p.loadDocker(ctx, file)
}

// errNoImages is a load of an archive whose index or manifest lists no
// image: it would load nothing, print nothing and exit 0, which a user
// (or a script) takes for success; Podman fails such a load too.
var errNoImages = errors.New("the archive holds no image")

func (p *puller) loadOCI(ctx context.Context, file string) ([]*store.Image, error) {
	dir, err := unpackOCIArchive(p.sys, p.op.guard, file)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	defer os.RemoveAll(dir)
	list, err := layout.List(dir)
	if err != nil {
		return nil, fmt.Errorf("load %s: read OCI index: %w", file, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("load %s: %w", file, errNoImages)
	}
	var out []*store.Image
	for _, l := range list {
		img, err := p.copy(ctx, l.Reference, store.LocalName(l.ManifestDescriptor.Annotations[imgspecv1.AnnotationRefName]))
		if err != nil {
			return out, fmt.Errorf("load %s: %w", file, err)
		}
		out = append(out, img)
	}
	return out, nil
}

func (p *puller) loadDocker(ctx context.Context, file string) ([]*store.Image, error) {
	r, err := dockerarchive.NewReader(p.sys, file)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, store.NoSpaceHint(err))
	}
	defer r.Close()
	groups, err := r.List()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("load %s: %w", file, errNoImages)
	}
	var out []*store.Image
	for _, refs := range groups {
		var names []string
		for _, ref := range refs {
			if dr := ref.DockerReference(); dr != nil {
				names = append(names, reference.TagNameOnly(dr).String())
			}
		}
		name := ""
		if len(names) > 0 {
			name = names[0]
		}
		img, err := p.copy(ctx, refs[0], name)
		if err == nil && len(names) > 1 {
			err = p.s.AddNames(img.ID, names[1:])
			img.Names = append(img.Names, names[1:]...)
		}
		if err != nil {
			return out, fmt.Errorf("load %s: %w", file, err)
		}
		out = append(out, img)
	}
	return out, nil
}

// archiveFormat tells an oci-archive from a docker-archive by their
// members: manifest.json for Docker (newer Docker writes an OCI index too,
// but its manifest.json carries the tags), index.json for OCI.
func archiveFormat(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("load: %w", err)
	}
	defer f.Close()
	r, err := archive.DecompressStream(f)
	if err != nil {
		return "", fmt.Errorf("load %s: %w", file, err)
	}
	defer r.Close()
	tr := tar.NewReader(r)
	oci := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("load %s: not an image archive: %w", file, err)
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "manifest.json":
			return "docker-archive", nil
		case "index.json", "oci-layout":
			oci = true
		}
	}
	if oci {
		return "oci-archive", nil
	}
	return "", fmt.Errorf("load %s: neither an oci-archive nor a docker-archive (no index.json or manifest.json)", file)
}

// SaveFormats are the formats Save writes.
var SaveFormats = []string{"docker-archive", "oci-archive", "oci-dir"}

// Save writes stored images to file in format (docker-archive, the default
// as in Podman; oci-archive; oci-dir), or to stdout when file is "". Only a
// docker-archive holds several images. The archive is written next to file
// and renamed over it when complete, so an interrupted save leaves no
// partial archive.
func Save(ctx context.Context, st *store.Store, names []string, file, format string, stdout io.Writer) error {
	if format == "" {
		format = "docker-archive"
	}
	if len(names) == 0 {
		return errors.New("save needs an IMAGE")
	}
	if len(names) > 1 && format != "docker-archive" {
		return fmt.Errorf("save: only a docker-archive holds several images, not %s", format)
	}
	s, err := st.Storage()
	if err != nil {
		return err
	}
	refs, err := saveSources(st, s, names)
	if err != nil {
		return err
	}
	tmp, err := st.NewScratchDir()
	if err != nil {
		return err
	}
	defer tmp.Remove()
	sys := systemContext(PullOptions{}, tmp)
	if file == "" {
		if format == "oci-dir" {
			return errors.New("save --format oci-dir needs an output directory")
		}
		return saveToWriter(ctx, sys, refs, filepath.Join(tmp.Path, "archive"), format, stdout)
	}
	part := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".part")
	_ = os.RemoveAll(part)
	defer os.RemoveAll(part)
	if err := saveTo(ctx, sys, refs, part, format); err != nil {
		return store.NoSpaceHint(fmt.Errorf("save %s: %w", file, err))
	}
	if format == "oci-dir" {
		_ = os.RemoveAll(file)
	}
	if err := os.Rename(part, file); err != nil {
		return fmt.Errorf("save %s: %w", file, err)
	}
	return nil
}

// saveToWriter writes the archive in the scratch dir, then copies it to w.
func saveToWriter(ctx context.Context, sys *types.SystemContext, refs []savedRef, tmpFile, format string, w io.Writer) error {
	if err := saveTo(ctx, sys, refs, tmpFile, format); err != nil {
		return store.NoSpaceHint(fmt.Errorf("save: %w", err))
	}
	f, err := os.Open(tmpFile)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("save: write stdout: %w", err)
	}
	return nil
}

// savedRef is a stored image to save and the name to save it under ("" for
// an image named by ID).
type savedRef struct {
	src  types.ImageReference
	name reference.NamedTagged
}

func saveSources(st *store.Store, s storage.Store, names []string) ([]savedRef, error) {
	var out []savedRef
	for _, n := range names {
		img, err := st.Lookup(n)
		if err != nil {
			return nil, err
		}
		var tagged reference.NamedTagged // by ID: saved without a name
		if name := store.NameOf(img, n); name != "" {
			tagged = firstTagged([]string{name})
		}
		ref, err := istorage.Transport.NewStoreReference(s, nil, img.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, savedRef{src: ref, name: tagged})
	}
	return out, nil
}

func firstTagged(names []string) reference.NamedTagged {
	for _, n := range names {
		named, err := reference.ParseNormalizedNamed(n)
		if t, ok := named.(reference.NamedTagged); err == nil && ok {
			return t
		}
	}
	return nil
}

func saveTo(ctx context.Context, sys *types.SystemContext, refs []savedRef, path, format string) error {
	policy, err := policyContext(sys)
	if err != nil {
		return err
	}
	defer func() { _ = policy.Destroy() }()
	cp := func(dest types.ImageReference, src types.ImageReference) error {
		_, err := copy.Image(ctx, policy, dest, src, &copy.Options{SourceCtx: sys, DestinationCtx: sys})
		return err
	}
	switch format {
	case "oci-archive", "oci-dir":
		name := ""
		if refs[0].name != nil {
			name = refs[0].name.String()
		}
		var dest types.ImageReference
		if format == "oci-dir" {
			dest, err = layout.NewReference(path, name)
		} else {
			dest, err = ociarchive.NewReference(path, name)
		}
		if err != nil {
			return err
		}
		return cp(dest, refs[0].src)
	case "docker-archive":
		w, err := dockerarchive.NewWriter(sys, path)
		if err != nil {
			return err
		}
		for _, r := range refs {
			dest, err := w.NewReference(r.name)
			if err == nil {
				err = cp(dest, r.src)
			}
			if err != nil {
				w.Close()
				return err
			}
		}
		return w.Close()
	}
	return fmt.Errorf("unknown format %q: use %s", format, strings.Join(SaveFormats, ", "))
}
