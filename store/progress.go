package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/docker/go-units"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"go.podman.io/image/v5/types"
	"golang.org/x/term"
)

// progress shows how the layers of a pull advance: a bar per layer (size,
// speed) on a terminal, one line per layer otherwise, nothing without a
// writer. Lines keep containers/image's wording, which scripts may grep.
type progress struct {
	w    io.Writer
	bars *mpb.Progress // nil unless w is a terminal
	mu   sync.Mutex    // one line at a time
}

func newProgress(ctx context.Context, w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bars = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40))
	}
	return p
}

// layerProgress is the display of one layer.
type layerProgress struct {
	p    *progress
	info types.BlobInfo
	bar  *mpb.Bar
}

// layer adds a layer to the display. Called in layer order, so that bars
// are in the order of the manifest.
func (p *progress) layer(info types.BlobInfo, present bool) *layerProgress {
	lp := &layerProgress{p: p, info: info}
	switch {
	case p.w == nil:
	case present:
		p.printf("Copying blob %s skipped: already exists\n", info.Digest)
	case p.bars != nil:
		lp.bar = p.bars.AddBar(max(info.Size, 0),
			mpb.PrependDecorators(decor.Name("Copying blob "+shortID(info.Digest.Encoded()))),
			mpb.AppendDecorators(
				decor.OnComplete(decor.CountersKibiByte("%.1f / %.1f"), "done"),
				decor.Name(" | "),
				decor.AverageSpeed(decor.SizeB1024(0), "% .1f"),
			),
		)
	}
	return lp
}

// reader counts what r delivers into the bar, and prints the layer's line
// when there is no bar.
func (lp *layerProgress) reader(r io.Reader) io.Reader {
	switch {
	case lp.bar != nil:
		return lp.bar.ProxyReader(r)
	case lp.p.w != nil:
		size := ""
		if lp.info.Size > 0 {
			size = " (" + units.HumanSizeWithPrecision(float64(lp.info.Size), 3) + ")"
		}
		lp.p.printf("Copying blob %s%s\n", lp.info.Digest, size)
	}
	return r
}

// finish completes or aborts the bar, so that wait returns.
func (lp *layerProgress) finish(err error) {
	if lp.bar == nil {
		return
	}
	if err != nil {
		lp.bar.Abort(false)
		return
	}
	lp.bar.SetTotal(-1, true)
}

// wait lets the bars draw their final state.
func (p *progress) wait() {
	if p.bars != nil {
		p.bars.Wait()
	}
}

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bars != nil {
		fmt.Fprintf(p.bars, format, args...)
		return
	}
	fmt.Fprintf(p.w, format, args...)
}
