package transfer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/archive/tar"
	tsasm "github.com/vbatts/tar-split/tar/asm"
	tsstorage "github.com/vbatts/tar-split/tar/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
	"go.podman.io/storage/pkg/tarlog"
	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/store"
)

// layerDiffer unpacks one layer blob for storage's PrepareStagedLayer: it
// decompresses the stream once, and while the files are written it hashes
// both forms (checked against the manifest and the config), counts the size,
// notes the owners, and records tar-split metadata, from which storage can
// later rebuild the exact layer tar (save, push, inspect by digest).
type layerDiffer struct {
	blob  io.Reader
	job   *layerJob
	guard *store.ReserveGuard // checks the store's free space as the layer unpacks
}

// ApplyDiff unpacks the layer into dest, a directory in a staging area that
// storage renames into place when the layer is committed.
func (d *layerDiffer) ApplyDiff(dest string, opts *archive.TarOptions, dopts *graphdriver.DifferOptions) (graphdriver.DriverWithDifferOutput, error) {
	var out graphdriver.DriverWithDifferOutput
	// The tar-split file has no name: a killed pull leaves nothing behind.
	ts, err := os.OpenFile(dopts.StagingDirectory, unix.O_TMPFILE|os.O_RDWR, 0o600)
	if err != nil {
		return out, fmt.Errorf("create tar-split file: %w", err)
	}
	res, err := unpackLayer(d.blob, dest, opts, ts, d.job, d.guard)
	if err != nil {
		ts.Close()
		return out, err
	}
	out.CompressedDigest = res.compressed
	out.UncompressedDigest = res.uncompressed
	out.Size = res.size
	out.UIDs, out.GIDs = res.uids, res.gids
	out.TarSplit = ts
	return out, nil
}

// Close releases nothing: the blob belongs to the caller.
func (d *layerDiffer) Close() error { return nil }

type unpacked struct {
	compressed, uncompressed digest.Digest
	size                     int64
	uids, gids               []uint32
}

// unpackLayer streams blob into dest and verifies it against the job's
// digests. A blob that fails to decompress is checked against its digest
// too: a corrupt download is reported as such, not as a gzip error.
func unpackLayer(blob io.Reader, dest string, opts *archive.TarOptions, tsFile *os.File, j *layerJob, guard *store.ReserveGuard) (*unpacked, error) {
	compressed := j.info.Digest.Algorithm().Digester()
	raw := io.TeeReader(blob, compressed.Hash())
	res, err := decompressInto(raw, dest, opts, tsFile, j.diffID, guard)
	if err != nil && (store.IsNoSpace(err) || errors.Is(err, context.Canceled) || store.IsReserve(err) || guard.Tripped()) {
		return nil, err // not worth reading the rest of the blob
	}
	// Hash what follows the compressed stream (or what it failed on).
	if _, cerr := io.Copy(io.Discard, raw); err == nil {
		err = cerr
	}
	if got := compressed.Digest(); got != j.info.Digest {
		return nil, &DigestError{What: "layer " + j.info.Digest.String(), Want: j.info.Digest, Got: got}
	}
	if err != nil {
		return nil, err
	}
	if res.uncompressed != j.diffID {
		return nil, &DigestError{What: "uncompressed layer " + j.diffID.String(), Want: j.diffID, Got: res.uncompressed}
	}
	res.compressed = j.info.Digest
	return res, nil
}

// decompressInto unpacks the compressed tar raw into dest through storage's
// chroot'ed unpacker, which resolves every path inside dest whatever
// symlinks the layer holds, and records the layer's tar-split in tsFile.
// The decompressor is closed when it returns, so raw is free to read.
// guard sees the uncompressed stream, whose size is what the layer takes
// on disk: a small blob may unpack to gigabytes.
func decompressInto(raw io.Reader, dest string, opts *archive.TarOptions, tsFile *os.File, diffID digest.Digest, guard *store.ReserveGuard) (*unpacked, error) {
	decompressed, err := archive.DecompressStream(raw)
	if err != nil {
		return nil, err
	}
	defer decompressed.Close()
	uncompressed := diffID.Algorithm().Digester()
	size := &counter{}
	ids := newIDLog()
	idLogger, err := tarlog.NewLogger(ids.add)
	if err != nil {
		return nil, err
	}
	tsBuf := bufio.NewWriterSize(tsFile, 64<<10)
	stream := io.TeeReader(guard.Reader(decompressed), io.MultiWriter(uncompressed.Hash(), size, idLogger))
	payload, done, err := tsasm.NewInputTarStreamWithDone(stream, tsstorage.NewJSONPacker(tsBuf), tsstorage.NewDiscardFilePutter())
	if err != nil {
		idLogger.Close()
		return nil, err
	}
	err = chrootarchive.UntarUncompressed(payload, dest, opts)
	if err == nil {
		// The tar's end padding must pass through tar-split too.
		_, err = io.Copy(io.Discard, payload)
	}
	payload.Close()
	if doneErr := <-done; err == nil {
		err = doneErr
	}
	if cerr := idLogger.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = tsBuf.Flush()
	}
	if err != nil {
		return nil, ids.explain(err)
	}
	res := &unpacked{uncompressed: uncompressed.Digest(), size: size.n}
	res.uids, res.gids = ids.lists()
	return res, nil
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// idLog collects the owners of a layer's files, which storage records so
// that it knows which ids a layer needs mapped.
type idLog struct {
	uids, gids map[uint32]struct{}
	// names holds every path of the layer so far, and danglingLink the
	// first hard link whose target was not among them: storage unpacks
	// into an empty dir, chroot'ed there, so such a link (to a host file,
	// /etc/passwd, a file of a lower layer) cannot be made, and its error
	// says only "no such file or directory".
	names        map[string]struct{}
	danglingLink *tar.Header
}

func newIDLog() *idLog {
	return &idLog{uids: map[uint32]struct{}{}, gids: map[uint32]struct{}{}, names: map[string]struct{}{}}
}

func (l *idLog) add(h *tar.Header) {
	if h.Typeflag == tar.TypeLink && l.danglingLink == nil {
		if _, ok := l.names[path.Clean("/"+h.Linkname)]; !ok {
			l.danglingLink = h
		}
	}
	l.names[path.Clean("/"+h.Name)] = struct{}{}
	if strings.HasPrefix(path.Base(h.Name), archive.WhiteoutPrefix) {
		return
	}
	l.uids[uint32(h.Uid)] = struct{}{}
	l.gids[uint32(h.Gid)] = struct{}{}
}

// explain names the hard link that made the unpack fail, when the layer
// has one that cannot be made and the error is the one it gives.
func (l *idLog) explain(err error) error {
	if l.danglingLink == nil || !strings.Contains(err.Error(), "no such file or directory") {
		return err
	}
	return fmt.Errorf("hard link %q to %q: no earlier file of the layer has that name (hard links stay inside their layer): %w",
		l.danglingLink.Name, l.danglingLink.Linkname, err)
}

func (l *idLog) lists() (uids, gids []uint32) {
	for id := range l.uids {
		uids = append(uids, id)
	}
	for id := range l.gids {
		gids = append(gids, id)
	}
	return uids, gids
}
