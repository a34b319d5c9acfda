package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// The reserve
//
// A layer's size on disk is not bounded by its download: a megabyte of
// gzip can hold gigabytes of zeros, and a sparse file in a layer is written
// out dense (storage's unpacker writes every zero; a tar --sparse archive,
// which could say where the holes are, is refused as "unhandled tar header
// type 83"). So a copy into the store (pull, load, import) keeps a reserve
// free on the store's file system: it refuses to start below it, and stops,
// removing what it wrote, as soon as free space drops under it. The user's
// home usually shares that file system, and a full one breaks their
// desktop, not only crun-lite.
//
// The default is 5 % of the file system's size but at most 1 GiB: 5 % keeps
// a small disk usable, 1 GiB is plenty on a large one, where 5 % would
// refuse pulls with tens of gigabytes free. --storage-opt
// crunlite.reserve=SIZE changes it: a size (512M, 2G), a share (5%), 0 for
// none. crun-lite reads no storage.conf (see store.go), so the option is
// the only place to set it.

// ReserveOpt is the --storage-opt key of the reserve; it is crun-lite's
// own, never passed to the graph driver.
const ReserveOpt = "crunlite.reserve"

const (
	defaultReservePercent = 5
	defaultReserveCap     = 1 << 30
)

// Reserve is how much free space copies into the store leave on its file
// system. The zero value is the default.
type Reserve struct {
	Set     bool    // given with crunlite.reserve; otherwise the default
	Bytes   uint64  // a fixed size, when Percent is 0
	Percent float64 // a share of the file system's size, 0 < Percent <= 100
}

// ParseReserve reads the value of crunlite.reserve: "0" (no reserve), a
// size with an optional binary unit (512M, 2G, 1GiB, 10000000), or a share
// of the file system ("5%").
func ParseReserve(s string) (Reserve, error) {
	v := strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 || f > 100 {
			return Reserve{}, fmt.Errorf("%s=%s: want a size (512M, 2G), a share of the file system (5%%) or 0", ReserveOpt, s)
		}
		return Reserve{Set: true, Percent: f}, nil
	}
	n, err := units.RAMInBytes(v) // binary units: 1G is 1 GiB, as in df -h
	if err != nil || n < 0 {
		return Reserve{}, fmt.Errorf("%s=%s: want a size (512M, 2G), a share of the file system (5%%) or 0", ReserveOpt, s)
	}
	return Reserve{Set: true, Bytes: uint64(n)}, nil
}

// For returns the reserve on a file system of total bytes.
func (r Reserve) For(total uint64) uint64 {
	switch {
	case !r.Set:
		return min(uint64(float64(total)*defaultReservePercent/100), defaultReserveCap)
	case r.Percent > 0:
		return uint64(float64(total) * r.Percent / 100)
	}
	return r.Bytes
}

// SplitStorageOpts takes crun-lite's own options out of --storage-opt:
// the rest are the graph driver's.
func SplitStorageOpts(opts []string) (driver []string, reserve Reserve, err error) {
	for _, o := range opts {
		v, ok := strings.CutPrefix(o, ReserveOpt+"=")
		if !ok {
			if strings.HasPrefix(o, "crunlite.") {
				return nil, Reserve{}, fmt.Errorf("--storage-opt %s: unknown crun-lite option (there is %s=SIZE)", o, ReserveOpt)
			}
			driver = append(driver, o)
			continue
		}
		if reserve, err = ParseReserve(v); err != nil {
			return nil, Reserve{}, fmt.Errorf("--storage-opt %w", err)
		}
	}
	return driver, reserve, nil
}

// ReserveError stops a copy that would leave less than the reserve free.
type ReserveError struct {
	Path    string // the graph root
	Reserve uint64
	Free    uint64 // when the copy was stopped or refused
}

func (e *ReserveError) Error() string {
	return fmt.Sprintf("the store's file system (%s) would have less than %s free (the reserve): free space, or lower it with --storage-opt %s=SIZE (0 turns it off); nothing of this copy was kept",
		e.Path, humanBytes(e.Reserve), ReserveOpt)
}

func humanBytes(n uint64) string {
	return units.CustomSize("%.1f %s", float64(n), 1024, []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"})
}

// reserveHint is what to do once the reserve stopped a copy.
const reserveHint = "crun-lite system df shows what uses the store; crun-lite image prune and crun-lite rmi IMAGE free space"

// IsReserve tells whether err is a copy stopped by the reserve.
func IsReserve(err error) bool {
	var re *ReserveError
	return errors.As(err, &re)
}

// ReserveGuard watches the store's free space while a copy runs, and
// cancels the copy's context, with a *ReserveError as its cause, when free
// space drops below the reserve. Readers of uncompressed layer data go
// through Reader, which checks the space itself every few megabytes: the
// poll alone could let a fast unpacker run far past the reserve, or onto a
// full disk, between two looks.
type ReserveGuard struct {
	path    string
	reserve uint64 // 0: no reserve, nothing watched
	cancel  context.CancelCauseFunc
	stop    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	tripped *ReserveError
}

// reservePoll is how often the guard looks at the free space.
const reservePoll = 50 * time.Millisecond

// reserveCheckEvery is how many bytes a guarded Reader passes between
// looks at the free space (a statfs is about a microsecond).
const reserveCheckEvery = 4 << 20

// GuardReserve starts watching the store's free space for a copy under
// ctx, and returns the context the copy must use; Stop ends the watch. It
// refuses a copy that would start with less than the reserve free.
func (st *Store) GuardReserve(ctx context.Context) (context.Context, *ReserveGuard, error) {
	g := &ReserveGuard{path: st.opts.GraphRoot, stop: make(chan struct{})}
	var fs unix.Statfs_t
	if err := unix.Statfs(g.path, &fs); err != nil {
		return nil, nil, fmt.Errorf("statfs %s: %w", g.path, err)
	}
	g.reserve = st.opts.Reserve.For(fs.Blocks * uint64(fs.Bsize))
	ctx, g.cancel = context.WithCancelCause(ctx)
	if g.reserve == 0 {
		return ctx, g, nil
	}
	if err := g.check(); err != nil {
		return nil, nil, hint.Wrap(err, reserveHint)
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		t := time.NewTicker(reservePoll)
		defer t.Stop()
		for {
			select {
			case <-g.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				_ = g.check()
			}
		}
	}()
	return ctx, g, nil
}

// check looks at the free space and trips the guard when it is below the
// reserve; it returns the guard's error once tripped.
func (g *ReserveGuard) check() error {
	if g == nil || g.reserve == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.tripped != nil {
		return g.tripped
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(g.path, &fs); err != nil {
		return nil // cannot tell: the copy's own errors will say
	}
	if free := fs.Bavail * uint64(fs.Bsize); free < g.reserve {
		g.tripped = &ReserveError{Path: g.path, Reserve: g.reserve, Free: free}
		g.cancel(g.tripped)
	}
	if g.tripped != nil {
		return g.tripped
	}
	return nil
}

// Stop ends the watch.
func (g *ReserveGuard) Stop() {
	if g == nil {
		return
	}
	close(g.stop)
	g.wg.Wait()
	g.cancel(context.Canceled)
}

// Explain returns the reserve's error, with its hint, in place of err when
// the guard stopped the copy (which then failed with "context canceled",
// a broken pipe, an unpacker's "unexpected EOF"...), or when the copy ran
// onto a full disk despite the reserve; err otherwise.
func (g *ReserveGuard) Explain(err error) error {
	if g == nil || err == nil || g.reserve == 0 {
		return err
	}
	g.mu.Lock()
	tripped := g.tripped
	g.mu.Unlock()
	if tripped == nil && IsNoSpace(err) {
		tripped = &ReserveError{Path: g.path, Reserve: g.reserve}
	}
	if tripped == nil {
		return err
	}
	return hint.Wrap(tripped, reserveHint)
}

// Tripped tells whether the reserve stopped the copy.
func (g *ReserveGuard) Tripped() bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tripped != nil
}

// Reader returns r, checking the free space every few megabytes it
// delivers and failing with the reserve's error once below it.
func (g *ReserveGuard) Reader(r io.Reader) io.Reader {
	if g == nil || g.reserve == 0 {
		return r
	}
	return &guardedReader{r: r, g: g}
}

type guardedReader struct {
	r    io.Reader
	g    *ReserveGuard
	left int
}

func (gr *guardedReader) Read(p []byte) (int, error) {
	if gr.left <= 0 {
		if err := gr.g.check(); err != nil {
			return 0, err
		}
		gr.left = reserveCheckEvery
	}
	if len(p) > gr.left {
		p = p[:gr.left]
	}
	n, err := gr.r.Read(p)
	gr.left -= n
	return n, err
}
