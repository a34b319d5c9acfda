package spec

import (
	"fmt"
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
