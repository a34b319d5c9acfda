package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"

	"github.com/crun-lite/crun-lite/internal/faults"
	"github.com/crun-lite/crun-lite/store"
)

// Layers are fetched here rather than by containers/image's copy, which
// downloads every layer to a temporary file (decompressing it once to
// compute its digest), then decompresses and unpacks the layers one after
// the other. Here each layer streams from the source through one
// decompression into a staging directory of the store, several layers at
// once, and is committed in order as soon as its parent is: half the
// decompression work, spread over every core. copy.Image then finds every
// layer present and only writes the image record.
//
// On vfs, which has no staged layers, the layers are put one after the
// other (putInOrder), each streamed through one decompression into
// storage's PutLayer.
//
// A layer becomes visible only when committed whole (storage's staged
// layers, or PutLayer's incomplete flag), so an interrupted pull leaves
// finished layers, which the next pull reuses, and staging directories,
// which storage prunes.

// layerJob is one layer of the image being pulled.
type layerJob struct {
	info    types.BlobInfo
	diffID  digest.Digest
	id      string // storage layer ID: the chain ID containers/image uses
	parent  string
	present bool
	prog    *layerProgress
	staged  *graphdriver.DriverWithDifferOutput
	err     error
	done    chan struct{}
}

// DigestError means a blob's content does not match the digest that names
// it: a corrupt or tampered download.
type DigestError struct {
	What      string // "layer sha256:..." or "uncompressed layer sha256:..."
	Want, Got digest.Digest
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s: digest mismatch: content has digest %s", e.What, e.Got)
}

// fetchLayers puts the layers of the image raw points at into the store,
// showing progress on p.report. It returns false when it leaves the work to
// containers/image: on drivers other than overlay and vfs, for schema 1
// manifests, encrypted or foreign layers.
func (p *puller) fetchLayers(ctx context.Context, raw types.ImageSource) (bool, error) {
	driver := p.st.Driver.Name
	if driver != "overlay" && driver != "vfs" {
		return false, nil
	}
	jobs, err := planLayers(ctx, p.sys, p.policy, raw)
	if err != nil || jobs == nil {
		return false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prog := newProgress(ctx, p.report)
	defer prog.wait()
	if driver == "vfs" {
		return true, p.putInOrder(ctx, raw, jobs, prog)
	}
	todo := make(chan *layerJob, len(jobs))
	for _, j := range jobs {
		j.done = make(chan struct{})
		_, err := p.s.Layer(j.id)
		j.present = err == nil
		j.prog = prog.layer(j.info, j.present)
		if j.present {
			close(j.done)
		} else {
			todo <- j
		}
	}
	close(todo)
	for range min(parallelism(), len(jobs)) {
		go func() {
			for j := range todo {
				j.err = p.stage(ctx, raw, j)
				close(j.done)
			}
		}()
	}
	return true, p.commitInOrder(jobs, cancel)
}

// parallelism is how many layers are fetched at once: one per core, as the
// work is decompression and file creation; at least two so that the
// network of a slow registry overlaps with unpacking.
func parallelism() int { return max(2, min(runtime.NumCPU(), 6)) }

// commitInOrder commits each staged layer once its parent is in, and after
// the first error only cleans up.
func (p *puller) commitInOrder(jobs []*layerJob, cancel func()) error {
	var first error
	for _, j := range jobs {
		<-j.done
		if j.err == nil && first == nil && j.staged != nil {
			j.err = p.commit(j)
			faults.At("pull:layer-committed")
		}
		j.prog.finish(j.err)
		if j.err != nil && first == nil {
			first = j.err
			cancel()
		}
		if first != nil && j.staged != nil {
			_ = p.s.CleanupStagedLayer(j.staged)
		}
	}
	return first
}

// commit makes a staged layer a layer of the store. Another process that
// pulls the same image may have committed it first: that is success.
func (p *puller) commit(j *layerJob) error {
	if _, err := p.s.Layer(j.id); err == nil {
		err = p.s.CleanupStagedLayer(j.staged)
		j.staged = nil
		return err
	}
	_, err := p.s.ApplyStagedLayer(storage.ApplyStagedLayerOptions{
		ID:          j.id,
		ParentLayer: j.parent,
		DiffOutput:  j.staged,
		DiffOptions: &graphdriver.ApplyDiffWithDifferOpts{},
	})
	if err == nil {
		p.op.committedLayer(j.id)
	}
	if errors.Is(err, storage.ErrDuplicateID) {
		err = p.s.CleanupStagedLayer(j.staged)
	} else if err != nil {
		err = fmt.Errorf("commit layer %s: %w", j.info.Digest, err)
		_ = p.s.CleanupStagedLayer(j.staged)
	}
	j.staged = nil
	return err
}

// stage downloads one layer and unpacks it into a staging directory.
func (p *puller) stage(ctx context.Context, raw types.ImageSource, j *layerJob) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rc, _, err := raw.GetBlob(ctx, j.info, none.NoCache)
	if err != nil {
		return fmt.Errorf("fetch layer %s: %w", j.info.Digest, err)
	}
	defer rc.Close()
	d := &layerDiffer{blob: j.prog.reader(rc), job: j, guard: p.op.guard}
	out, err := p.s.PrepareStagedLayer(nil, d)
	if err != nil {
		if out != nil && out.Target != "" {
			_ = p.s.CleanupStagedLayer(out)
		}
		var de *DigestError
		switch {
		case ctx.Err() != nil:
			return context.Cause(ctx) // the reserve's error, when its guard stopped the pull
		case errors.As(err, &de):
			return err // names the layer already
		}
		return fmt.Errorf("unpack layer %s: %w", j.info.Digest, err)
	}
	j.staged = out
	return nil
}

// putInOrder puts the layers into a vfs store one after the other: vfs has
// no staged layers, and makes a layer by copying its parent. containers/image
// would do the same, but from a temporary file of each compressed blob, with
// nothing to stop its unpack midway: here the uncompressed stream passes the
// reserve's guard on its way into storage.
func (p *puller) putInOrder(ctx context.Context, raw types.ImageSource, jobs []*layerJob, prog *progress) error {
	for _, j := range jobs {
		_, err := p.s.Layer(j.id)
		j.present = err == nil
		j.prog = prog.layer(j.info, j.present)
	}
	for _, j := range jobs {
		if j.present {
			continue
		}
		err := p.put(ctx, raw, j)
		j.prog.finish(err)
		if err != nil {
			return err
		}
	}
	return nil
}

// put downloads one layer and unpacks it into a new layer of the store.
// Storage is handed the uncompressed stream and trusts the compressed
// digest given, and the stream ends in a DigestError instead of EOF when
// either digest is wrong: storage then removes the layer before it is ever
// committed.
func (p *puller) put(ctx context.Context, raw types.ImageSource, j *layerJob) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	rc, _, err := raw.GetBlob(ctx, j.info, none.NoCache)
	if err != nil {
		return fmt.Errorf("fetch layer %s: %w", j.info.Digest, err)
	}
	defer rc.Close()
	v := &verifiedLayer{job: j, compressed: j.info.Digest.Algorithm().Digester(), uncompressed: j.diffID.Algorithm().Digester()}
	v.blob = io.TeeReader(j.prog.reader(rc), v.compressed.Hash())
	decompressed, err := archive.DecompressStream(v.blob)
	if err == nil {
		v.r = p.op.guard.Reader(decompressed)
		size := j.info.Size
		opts := &storage.LayerOptions{OriginalDigest: j.info.Digest, UncompressedDigest: j.diffID}
		if size > 0 {
			opts.OriginalSize = &size
		}
		_, _, err = p.s.PutLayer(j.id, j.parent, nil, "", false, opts, v)
		decompressed.Close()
	}
	var de *DigestError
	switch {
	case err == nil:
		p.op.committedLayer(j.id)
		faults.At("pull:layer-committed")
		return nil
	case errors.Is(err, storage.ErrDuplicateID):
		return nil // another pull made it first
	case errors.As(err, &de):
		return err
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case store.IsNoSpace(err) || store.IsReserve(err):
		return err
	}
	// A corrupt download is reported as such, not as a gzip error.
	if _, cerr := io.Copy(io.Discard, v.blob); cerr == nil && v.compressed.Digest() != j.info.Digest {
		return &DigestError{What: "layer " + j.info.Digest.String(), Want: j.info.Digest, Got: v.compressed.Digest()}
	}
	return fmt.Errorf("unpack layer %s: %w", j.info.Digest, err)
}

// verifiedLayer is a layer's uncompressed stream that checks, at its end,
// both the blob's digest and the uncompressed digest, and ends in a
// DigestError instead of io.EOF when one is wrong.
type verifiedLayer struct {
	job                      *layerJob
	r                        io.Reader // uncompressed
	blob                     io.Reader // compressed, hashed into compressed
	compressed, uncompressed digest.Digester
	err                      error
}

func (v *verifiedLayer) Read(b []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(b)
	v.uncompressed.Hash().Write(b[:n])
	if errors.Is(err, io.EOF) {
		j := v.job
		// Hash what follows the compressed stream.
		if _, cerr := io.Copy(io.Discard, v.blob); cerr != nil {
			err = cerr
		} else if got := v.compressed.Digest(); got != j.info.Digest {
			err = &DigestError{What: "layer " + j.info.Digest.String(), Want: j.info.Digest, Got: got}
		} else if got := v.uncompressed.Digest(); got != j.diffID {
			err = &DigestError{What: "uncompressed layer " + j.diffID.String(), Want: j.diffID, Got: got}
		}
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

// planLayers lists the layers of the image raw points at (the host's
// platform or sys's choice from a manifest list) with their storage IDs,
// after the signature policy accepted the image; nil when fetchLayers
// should leave the image to containers/image.
func planLayers(ctx context.Context, sys *types.SystemContext, policy *signature.PolicyContext, raw types.ImageSource) ([]*layerJob, error) {
	blob, mime, err := raw.GetManifest(ctx, nil)
	if err != nil {
		return nil, err
	}
	var instance *digest.Digest
	if manifest.MIMETypeIsMultiImage(mime) {
		list, err := manifest.ListFromBlob(blob, mime)
		if err != nil {
			return nil, err
		}
		d, err := list.ChooseInstance(sys)
		if err != nil {
			return nil, err
		}
		instance = &d
	}
	unparsed := image.UnparsedInstance(raw, instance)
	if _, err := policy.IsRunningImageAllowed(ctx, unparsed); err != nil {
		return nil, err
	}
	if infos, err := raw.LayerInfosForCopy(ctx, instance); err != nil || infos != nil {
		return nil, err // a source that rewrites layers: containers/image knows how
	}
	img, err := image.FromUnparsedImage(ctx, sys, unparsed)
	if err != nil {
		return nil, err
	}
	if _, mt, err := unparsed.Manifest(ctx); err != nil || !singleImageV2(mt) {
		return nil, err // schema 1: layers and history interleave
	}
	cfg, err := img.OCIConfig(ctx)
	if err != nil {
		return nil, err
	}
	return layerJobs(img.LayerInfos(), cfg.RootFS.DiffIDs), nil
}

// singleImageV2 tells whether a manifest type lists layers and a config.
func singleImageV2(mt string) bool {
	mt = manifest.NormalizedMIMEType(mt)
	return mt == manifest.DockerV2Schema2MediaType || mt == imgspecv1.MediaTypeImageManifest
}

// layerJobs pairs layers with their DiffIDs and storage IDs, or returns nil
// for layers this package does not fetch.
func layerJobs(infos []types.BlobInfo, diffIDs []digest.Digest) []*layerJob {
	if len(infos) != len(diffIDs) || len(infos) == 0 {
		return nil
	}
	jobs := make([]*layerJob, len(infos))
	parent := ""
	for i, info := range infos {
		if len(info.URLs) > 0 || strings.Contains(info.MediaType, "encrypted") || diffIDs[i].Validate() != nil {
			return nil
		}
		id := chainID(parent, diffIDs[i])
		jobs[i] = &layerJob{info: info, diffID: diffIDs[i], id: id, parent: parent}
		parent = id
	}
	return jobs
}

// chainID is the storage ID containers/image gives the layer with diffID
// on top of parent, so that its copy finds the layers fetched here. If the
// two ever disagreed, copy would still produce a correct image, only slower.
func chainID(parent string, diffID digest.Digest) string {
	if parent == "" {
		return diffID.Encoded()
	}
	return digest.Canonical.FromString(parent + "+" + diffID.Encoded()).Encoded()
}
