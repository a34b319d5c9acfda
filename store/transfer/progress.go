package transfer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/go-units"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"go.podman.io/image/v5/types"
	"golang.org/x/term"

	"github.com/crun-lite/crun-lite/store"
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
		p.bars = mpb.NewWithContext(ctx, mpb.WithConsoleWriter(&termWriter{Buffer: &bytes.Buffer{}, f: f}), mpb.WithWidth(40))
	}
	return p
}

// layerProgress is the display of one layer.
type layerProgress struct {
	p     *progress
	info  types.BlobInfo
	bar   *mpb.Bar
	start atomic.Int64 // unix nanoseconds when the download began
	speed string       // the final speed; used by the drawing goroutine only
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
			mpb.PrependDecorators(decor.Name("Copying blob "+store.ShortID(info.Digest.Encoded()))),
			mpb.AppendDecorators(
				decor.CountersKibiByte("% .1f / % .1f"),
				decor.Name(" | "),
				decor.Any(lp.speedDecor),
				decor.OnComplete(decor.Name(""), " done"),
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
		lp.start.Store(time.Now().UnixNano())
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

// speedDecor shows the layer's average speed since its download began,
// and keeps the last value once the bar is complete.
func (lp *layerProgress) speedDecor(s decor.Statistics) string {
	start := lp.start.Load()
	if start == 0 || (s.Completed && lp.speed != "") {
		return lp.speed
	}
	if secs := time.Since(time.Unix(0, start)).Seconds(); secs > 0 {
		lp.speed = units.CustomSize("%.1f %s", float64(s.Current)/secs, 1024, binaryUnits) + "/s"
	}
	return lp.speed
}

var binaryUnits = []string{"B", "KiB", "MiB", "GiB", "TiB"}

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

// termWriter is mpb's console writer for a terminal that may report no size
// (script(1), serial consoles, some CI terminals): mpb would draw nothing
// there, so it assumes 80x24.
type termWriter struct {
	*bytes.Buffer
	f *os.File
}

func (w *termWriter) IsTerminal() bool { return true }

func (w *termWriter) GetTermSize() (width, height int, err error) {
	width, height, err = term.GetSize(int(w.f.Fd()))
	if err != nil || width <= 0 || height <= 0 {
		return 80, 24, nil
	}
	return width, height, nil
}

// Flush writes the frame, then queues the escape that moves the cursor back
// over its lines, so that the next frame overwrites it.
func (w *termWriter) Flush(lines int) error {
	if _, err := w.WriteTo(w.f); err != nil {
		return err
	}
	if lines > 0 {
		fmt.Fprintf(w.Buffer, "\x1b[%dA\x1b[J", lines)
	}
	return nil
}
