// Package transfer copies images between crun-lite's store and
// containers/image's transports, for crun-lite-full: pull from a registry or
// any transport (docker://, oci:, oci-archive:, docker-archive:, dir:), load
// and save archives, import a root filesystem tarball. Layers of a pull are
// fetched and unpacked here, in parallel and straight into the store (see
// layers.go); containers/image writes the image records.
package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/shortnames"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/configfile"

	"github.com/crun-lite/crun-lite/internal/faults"
	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/store/registry"
)

// PullOptions tune a pull.
type PullOptions struct {
	registry.Options           // how to reach the registry, and which platform to pick
	Report           io.Writer // progress: bars on a terminal, a line per layer otherwise; nil for none
}

// newPuller sets up copying images into the store: the system context and
// the signature policy (close releases it).
func newPuller(st *store.Store, op *copyOp, o PullOptions) (*puller, error) {
	sys := systemContext(o, op.tmp)
	policy, err := policyContext(sys)
	if err != nil {
		return nil, err
	}
	return &puller{st: st, s: op.s, op: op, sys: sys, policy: policy, report: o.Report, tmp: op.tmp}, nil
}

func (p *puller) close() { _ = p.policy.Destroy() }

// systemContext is o's context with the store's scratch dir for big files.
func systemContext(o PullOptions, tmp *store.ScratchDir) *types.SystemContext {
	sys := o.SystemContext()
	if tmp != nil {
		sys.BigFilesTemporaryDir = tmp.Path
	}
	return sys
}

// copyOp is one copy into the store (a pull, load or import): the
// storage, a scratch dir, the reserve's guard, and the layers the copy
// committed, which it removes again when the reserve stops it.
type copyOp struct {
	s     storage.Store
	tmp   *store.ScratchDir
	guard *store.ReserveGuard
	what  string // "pull REF", "load FILE", "import FILE": what the reserve's error names

	mu        sync.Mutex
	committed []string // layer IDs, in the order they were committed
}

// begin opens what every copy into the store needs: the storage, a scratch
// dir (left over ones of dead commands cleaned first), and a watch on the
// store's free space (store.GuardReserve), whose context the copy runs
// under. It refuses a copy when the store has less than the reserve free.
// The caller ends the copy with end.
func begin(ctx context.Context, st *store.Store, what string) (context.Context, *copyOp, error) {
	s, err := st.Storage()
	if err != nil {
		return nil, nil, err
	}
	tmp, err := st.NewScratchDir()
	if err != nil {
		return nil, nil, err
	}
	ctx, guard, err := st.GuardReserve(ctx)
	if err != nil {
		tmp.Remove()
		if store.IsReserve(err) {
			err = hint.Wrap(fmt.Errorf("%s: %w", what, err), hint.Of(err))
		}
		return nil, nil, err
	}
	return ctx, &copyOp{s: s, tmp: tmp, guard: guard, what: what}, nil
}

// committedLayer records a layer the copy made.
func (op *copyOp) committedLayer(id string) {
	op.mu.Lock()
	op.committed = append(op.committed, id)
	op.mu.Unlock()
}

// end stops the watch and removes the scratch dir. When the reserve stopped
// the copy (or the disk filled despite it), err becomes the reserve's
// error, and the layers this copy committed are removed, newest first:
// the copy must not keep the space it was stopped for. Storage refuses to
// remove a layer that an image, a container or another layer uses (one
// that a load's earlier image holds, or another pull's).
func (op *copyOp) end(err error) error {
	op.guard.Stop()
	defer op.tmp.Remove()
	if err == nil {
		return nil
	}
	rerr := op.guard.Explain(err)
	if !store.IsReserve(rerr) {
		return err
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	for i := len(op.committed) - 1; i >= 0; i-- {
		_ = op.s.DeleteLayer(op.committed[i])
	}
	op.committed = nil
	return hint.Wrap(fmt.Errorf("%s: %w", op.what, rerr), hint.Of(rerr))
}

// Pull copies an image into the store and returns it. ref is a registry
// reference (host/name:tag, a short name resolved through registries.conf)
// or any containers/image transport: docker://, oci:, oci-archive:,
// docker-archive:, dir:.
func Pull(ctx context.Context, st *store.Store, ref string, o PullOptions) (_ *store.Image, err error) {
	ctx, op, err := begin(ctx, st, "pull "+ref)
	if err != nil {
		return nil, err
	}
	defer func() { err = op.end(err) }()
	p, err := newPuller(st, op, o)
	if err != nil {
		return nil, err
	}
	defer p.close()

	if transportOf(ref) != "" {
		src, err := alltransports.ParseImageName(ref)
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		return p.pull(ctx, src, ref)
	}
	resolved, err := shortnames.Resolve(p.sys, ref)
	if err != nil {
		return nil, shortNameError(p.sys, ref, err)
	}
	var errs []error
	for _, cand := range resolved.PullCandidates {
		src, err := docker.NewReference(reference.TagNameOnly(cand.Value))
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		img, err := p.pull(ctx, src, ref)
		if err == nil {
			_ = cand.Record()
			return img, nil
		}
		if errors.Is(err, context.Canceled) || !retryable(err) {
			return nil, err
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, fmt.Errorf("pull %s: %w", ref, resolved.FormatPullErrors(errs))
}

// retryable tells whether the next search registry may succeed where this
// one failed: not after a corrupt blob, a full disk or the store's reserve,
// which are ours.
func retryable(err error) bool {
	var de *DigestError
	return !errors.As(err, &de) && !store.IsNoSpace(err) && !store.IsReserve(err)
}

// shortNameError explains containers/image's refusal to prompt for an
// ambiguous short name: scripts get the candidates and the two fixes.
// containers/image has no sentinel for this case, hence the text match.
func shortNameError(sys *types.SystemContext, name string, err error) error {
	if strings.Contains(err.Error(), "did not resolve to an alias") {
		// Not in the store, and no registry to look in.
		return hint.Wrap(fmt.Errorf("pull %s: %w", name, err),
			fmt.Sprintf("give the full name (e.g. docker.io/library/%s), or list unqualified-search-registries in ~/.config/containers/registries.conf", name))
	}
	if !strings.Contains(err.Error(), "cannot prompt without a TTY") {
		return fmt.Errorf("pull %s: %w", name, err)
	}
	regs, _ := sysregistriesv2.UnqualifiedSearchRegistries(sys)
	cands := make([]string, 0, len(regs))
	for _, r := range regs {
		cands = append(cands, r+"/"+name)
	}
	if len(cands) == 0 {
		return fmt.Errorf("pull %s: %w", name, err)
	}
	return hint.Wrap(fmt.Errorf("pull %s: short name is ambiguous and there is no terminal to ask on: it may be %s",
		name, strings.Join(cands, " or ")),
		fmt.Sprintf("give the full name (e.g. %s), or add an alias to registries.conf: [aliases] %q = %q", cands[0], name, cands[0]))
}

// transportOf returns the containers/image transport named at the start of
// ref, or "" for a plain registry reference (whose "host:port" must not be
// read as a transport).
func transportOf(ref string) string {
	name, _, ok := strings.Cut(ref, ":")
	if !ok || transports.Get(name) == nil {
		return ""
	}
	return name
}

// puller copies images into one store with one context.
type puller struct {
	st     *store.Store
	s      storage.Store // st's
	op     *copyOp
	sys    *types.SystemContext
	policy *signature.PolicyContext
	report io.Writer
	tmp    *store.ScratchDir // where NoteCommit notes the image being written
}

// pull copies src into the store under the name Podman would give it.
func (p *puller) pull(ctx context.Context, src types.ImageReference, userRef string) (*store.Image, error) {
	src, name, done, err := openArchive(p.sys, p.op.guard, src)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", userRef, err)
	}
	defer done()
	if img := p.upToDate(ctx, src, name); img != nil {
		return img, nil
	}
	img, err := p.copy(ctx, src, name)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", userRef, err)
	}
	return img, nil
}

// copy copies src into the store as name ("": by ID): the layers through
// fetchLayers (in parallel, straight into the store), then the image itself
// with containers/image, which finds every layer present and writes config,
// manifest and name.
func (p *puller) copy(ctx context.Context, srcRef types.ImageReference, name string) (*store.Image, error) {
	opened, err := srcRef.NewImageSource(ctx, p.sys)
	if err != nil {
		return nil, err
	}
	defer opened.Close()
	raw := &configCache{ImageSource: opened, blobs: map[digest.Digest][]byte{}}
	dest, err := destRef(ctx, p.s, p.sys, raw, name)
	if err != nil {
		return nil, err
	}
	report := p.report
	fetched, err := p.fetchLayers(ctx, raw)
	if err != nil {
		return nil, store.NoSpaceHint(err)
	}
	if fetched {
		report = nil // our progress said it all; copy would only say "skipped"
	}
	if err := p.st.NoteCommit(p.tmp, intendedID(ctx, p.sys, raw), storedName(name)); err != nil {
		return nil, err
	}
	_, err = copy.Image(ctx, p.policy, dest, openedRef{srcRef, raw}, &copy.Options{
		ReportWriter:   report,
		SourceCtx:      p.sys,
		DestinationCtx: p.sys,
	})
	if err == nil {
		faults.At("pull:image-written")
	}
	p.tmp.CommitDone()
	if err != nil {
		return nil, store.NoSpaceHint(err)
	}
	_, img, err := istorage.ResolveReference(dest)
	if err != nil {
		return nil, fmt.Errorf("find the stored image: %w", err)
	}
	return p.st.ImageOf(img), nil
}

// storedName is the name destRef has containers/image give the image.
func storedName(name string) string {
	if name == "" {
		return ""
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return ""
	}
	return named.String()
}

// intendedID is the ID containers/image gives the image raw points at in
// the store (its config's digest; the host's or sys's platform of a
// manifest list), or "" when it cannot tell (schema 1: another scheme).
func intendedID(ctx context.Context, sys *types.SystemContext, raw types.ImageSource) string {
	blob, mime, err := raw.GetManifest(ctx, nil)
	if err != nil {
		return ""
	}
	var instance *digest.Digest
	if manifest.MIMETypeIsMultiImage(mime) {
		list, err := manifest.ListFromBlob(blob, mime)
		if err != nil {
			return ""
		}
		d, err := list.ChooseInstance(sys)
		if err != nil {
			return ""
		}
		instance = &d
	}
	unparsed := image.UnparsedInstance(raw, instance)
	if _, mt, err := unparsed.Manifest(ctx); err != nil || !singleImageV2(mt) {
		return ""
	}
	img, err := image.FromUnparsedImage(ctx, sys, unparsed)
	if err != nil {
		return ""
	}
	return img.ConfigInfo().Digest.Encoded()
}

// upToDate returns the stored image called name when the registry still
// serves the same manifest for it: one HEAD request, no blob. Anything else
// (another transport, no such local image, an error) means copying.
func (p *puller) upToDate(ctx context.Context, src types.ImageReference, name string) *store.Image {
	if src.Transport().Name() != "docker" || name == "" {
		return nil
	}
	rec, err := p.s.Image(name)
	if err != nil {
		return nil
	}
	local := p.st.ImageOf(rec)
	if !platformMatches(local, p.sys) {
		return nil
	}
	d, err := docker.GetDigest(ctx, p.sys, src)
	if err != nil {
		return nil
	}
	if !slices.Contains(rec.Digests, d) {
		return nil
	}
	if p.report != nil {
		fmt.Fprintf(p.report, "Image is up to date: %s\n", name)
	}
	return local
}

// openedRef hands copy.Image the image source fetchLayers already opened,
// so that an archive is unpacked and a registry token fetched only once.
type openedRef struct {
	types.ImageReference
	src types.ImageSource
}

func (r openedRef) NewImageSource(context.Context, *types.SystemContext) (types.ImageSource, error) {
	return unclosed{r.src}, nil
}

// configCache keeps the config blobs a source serves: fetchLayers and
// copy.Image both read the config, the registry serves it once. Readers
// verify the digest, as they do for any blob.
type configCache struct {
	types.ImageSource
	mu    sync.Mutex
	blobs map[digest.Digest][]byte
}

func (c *configCache) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	if !strings.Contains(info.MediaType, "config") && !strings.Contains(info.MediaType, "container.image") {
		return c.ImageSource.GetBlob(ctx, info, cache)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.blobs[info.Digest]; ok {
		return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
	}
	rc, _, err := c.ImageSource.GetBlob(ctx, info, cache)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, 0, err
	}
	c.blobs[info.Digest] = b
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// unclosed leaves closing the source to whoever opened it.
type unclosed struct{ types.ImageSource }

func (unclosed) Close() error { return nil }

// destRef is the storage reference an image from raw is stored under:
// name, or the image's ID when it has none.
func destRef(ctx context.Context, s storage.Store, sys *types.SystemContext, raw types.ImageSource, name string) (types.ImageReference, error) {
	if name != "" {
		named, err := reference.ParseNormalizedNamed(name)
		if err == nil {
			return istorage.Transport.NewStoreReference(s, named, "")
		}
	}
	img, err := image.FromSource(ctx, sys, unclosed{raw})
	if err != nil {
		return nil, err
	}
	defer img.Close()
	return istorage.Transport.NewStoreReference(s, nil, img.ConfigInfo().Digest.Encoded())
}

// policyContext applies the user's or the system's policy.json; when there
// is none at all, images are accepted as they are, as a fresh Podman install
// does. A policy file that exists but cannot be read or parsed is an error:
// falling back would turn a broken "reject" policy into "accept anything".
func policyContext(sys *types.SystemContext) (*signature.PolicyContext, error) {
	p, err := signature.DefaultPolicy(sys)
	if errors.Is(err, configfile.ErrConfigFileNotFound) {
		p, err = &signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signature policy: %w", err)
	}
	pc, err := signature.NewPolicyContext(p)
	if err != nil {
		return nil, fmt.Errorf("signature policy: %w", err)
	}
	return pc, nil
}

// platformMatches tells whether the stored image is for the platform sys
// asks for, the host's by default: a manifest list's digest names images
// for every platform.
func platformMatches(img *store.Image, sys *types.SystemContext) bool {
	cfg, err := img.Config()
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
