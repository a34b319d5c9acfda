package spec

import (
	"fmt"
	"net"
	"os"
	"slices"
	"testing"
)

func TestSplitShares(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
		bad  bool
	}{
		{in: []string{"wayland,x11", "pulseaudio"}, want: "[wayland x11 pulseaudio] map[pulseaudio:[] wayland:[] x11:[]]"},
		{in: []string{"session-bus=org.a.B,org.c.*,wayland"}, want: "[session-bus wayland] map[session-bus:[org.a.B org.c.*] wayland:[]]"},
		{in: []string{"session-bus", "session-bus=org.a.B"}, want: "[session-bus] map[session-bus:[org.a.B]]"},
		{in: []string{"home"}, bad: true},
		{in: []string{"x11=foo"}, bad: true},
		{in: []string{"org.a.B"}, bad: true},
	} {
		set, order, err := splitShares(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("splitShares(%q): want an error", c.in)
			}
			continue
		}
		if got := fmt.Sprint(order, " ", set); err != nil || got != c.want {
			t.Errorf("splitShares(%q) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
}

// Two names for one socket share it once; an optional resource the session
// lacks leaves nothing behind, and no stale error for the next one.
func TestParseSharesOnce(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", dir)
	t.Setenv("PULSE_SERVER", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	t.Setenv("DISPLAY", "")
	t.Setenv("LANG", "C.UTF-8")
	if err := os.MkdirAll(dir+"/pulse", 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", dir+"/pulse/native")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sh, err := parseShares([]string{"pulseaudio,pipewire"}, nil, 1000, false)
	if err != nil || len(sh.mounts) != 2 {
		t.Fatalf("pulseaudio,pipewire: %v, mounts %+v", err, sh)
	}
	sh, err = parseShares([]string{"wayland", "locale"}, map[string]bool{"wayland": true}, 1000, false)
	if err != nil || len(sh.mounts) != 1 || !slices.Contains(sh.env, "LANG=C.UTF-8") || slices.Contains(sh.env, "WAYLAND_DISPLAY=wayland-0") {
		t.Errorf("optional wayland missing, then locale: %v, %+v", err, sh)
	}
}
