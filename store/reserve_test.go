package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestParseReserve(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Reserve
	}{
		{"0", Reserve{Set: true}},
		{"512M", Reserve{Set: true, Bytes: 512 << 20}},
		{"2G", Reserve{Set: true, Bytes: 2 << 30}},
		{"2GiB", Reserve{Set: true, Bytes: 2 << 30}},
		{"1g", Reserve{Set: true, Bytes: 1 << 30}},
		{"10000", Reserve{Set: true, Bytes: 10000}},
		{"5%", Reserve{Set: true, Percent: 5}},
		{"0.5%", Reserve{Set: true, Percent: 0.5}},
		{"0%", Reserve{Set: true}},
	} {
		got, err := ParseReserve(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseReserve(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "lots", "-1", "-1G", "101%", "x%", "5%%"} {
		if r, err := ParseReserve(bad); err == nil || !strings.Contains(err.Error(), ReserveOpt) {
			t.Errorf("ParseReserve(%q) = %+v, %v: want an error naming %s", bad, r, err, ReserveOpt)
		}
	}
}

func TestReserveFor(t *testing.T) {
	const mib, gib = 1 << 20, 1 << 30
	for _, c := range []struct {
		r           Reserve
		total, want uint64
	}{
		{Reserve{}, 300 * mib, 15 * mib},                      // 5 % of a small file system
		{Reserve{}, 20 * gib, 1 * gib},                        // 5 % is exactly the cap
		{Reserve{}, 500 * gib, 1 * gib},                       // capped
		{Reserve{Set: true}, 500 * gib, 0},                    // "0": none
		{Reserve{Set: true, Percent: 5}, 500 * gib, 25 * gib}, // an explicit share is not capped
		{Reserve{Set: true, Bytes: 2 * gib}, 300 * mib, 2 * gib},
	} {
		if got := c.r.For(c.total); got != c.want {
			t.Errorf("%+v.For(%d) = %d, want %d", c.r, c.total, got, c.want)
		}
	}
}

func TestSplitStorageOpts(t *testing.T) {
	driver, r, err := SplitStorageOpts([]string{"overlay.mount_program=/usr/bin/fuse-overlayfs", "crunlite.reserve=2G"})
	if err != nil || !slices.Equal(driver, []string{"overlay.mount_program=/usr/bin/fuse-overlayfs"}) || r != (Reserve{Set: true, Bytes: 2 << 30}) {
		t.Errorf("got %q %+v %v", driver, r, err)
	}
	// Only the reserve: no driver option is left, so no driver is asked for.
	if driver, r, err := SplitStorageOpts([]string{"crunlite.reserve=0"}); err != nil || len(driver) != 0 || !r.Set || r.For(1<<40) != 0 {
		t.Errorf("got %q %+v %v", driver, r, err)
	}
	if _, r, err := SplitStorageOpts(nil); err != nil || r.Set {
		t.Errorf("no options: got %+v %v", r, err)
	}
	for _, bad := range [][]string{{"crunlite.reserve=much"}, {"crunlite.reserv=1G"}} {
		if _, _, err := SplitStorageOpts(bad); err == nil || !strings.Contains(err.Error(), "--storage-opt") {
			t.Errorf("SplitStorageOpts(%q): %v, want an error naming --storage-opt", bad, err)
		}
	}
}

// TestGuardReserve: a copy is refused when the file system already has
// less than the reserve free; a guarded reader fails with the reserve's
// error, and the guard cancels the copy's context with it as the cause.
func TestGuardReserve(t *testing.T) {
	dir := t.TempDir()
	full := &Store{opts: Options{GraphRoot: dir, Reserve: Reserve{Set: true, Percent: 100}}}
	_, _, err := full.GuardReserve(context.Background())
	if !IsReserve(err) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "crunlite.reserve=") {
		t.Fatalf("reserve of the whole file system: want a reserve error naming %s and the option: %v", dir, err)
	}

	none := &Store{opts: Options{GraphRoot: dir, Reserve: Reserve{Set: true}}}
	ctx, g, err := none.GuardReserve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{1}, 10<<20)
	if n, err := io.Copy(io.Discard, g.Reader(bytes.NewReader(data))); err != nil || n != int64(len(data)) {
		t.Errorf("no reserve: read %d, %v", n, err)
	}
	if g.Explain(errors.New("x")).Error() != "x" {
		t.Error("no reserve: an error was explained away")
	}
	g.Stop()
	if ctx.Err() == nil {
		t.Error("Stop left the copy's context running")
	}

	// A guard whose reserve became larger than the free space, as when a
	// copy fills the disk.
	st := &Store{opts: Options{GraphRoot: dir, Reserve: Reserve{Set: true, Bytes: 1}}}
	ctx, g, err = st.GuardReserve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	g.reserve = 1 << 62
	_, err = io.Copy(io.Discard, g.Reader(bytes.NewReader(data)))
	if !IsReserve(err) {
		t.Fatalf("guarded read below the reserve: %v", err)
	}
	if !IsReserve(context.Cause(ctx)) {
		t.Errorf("the copy's context was not cancelled with the reserve's error: %v", context.Cause(ctx))
	}
	if err := g.Explain(context.Canceled); !IsReserve(err) {
		t.Errorf("Explain(context.Canceled) after the reserve stopped the copy: %v", err)
	}
}
