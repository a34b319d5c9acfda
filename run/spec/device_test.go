package spec

import "testing"

func TestParseDevice(t *testing.T) {
	for _, c := range []struct {
		in, src, dst, perms string
		bad                 bool
	}{
		{in: "/dev/kvm", src: "/dev/kvm", dst: "/dev/kvm", perms: "rwm"},
		{in: "/dev/kvm:r", src: "/dev/kvm", dst: "/dev/kvm", perms: "r"},
		{in: "/dev/kvm:/dev/vm0", src: "/dev/kvm", dst: "/dev/vm0", perms: "rwm"},
		{in: "/dev/kvm:/dev/vm0:rw", src: "/dev/kvm", dst: "/dev/vm0", perms: "rw"},
		{in: "/dev//dri/", src: "/dev/dri", dst: "/dev/dri", perms: "rwm"},
		{in: "/dev/kvm:/dev/vm0:rwx", bad: true},
		{in: "/dev/kvm:/dev/vm0:rr", bad: true},
		{in: "/dev/kvm:vm0", bad: true},
		{in: "/dev/kvm:/", bad: true},
		{in: "kvm", bad: true},
		{in: "/a:/b:r:x", bad: true},
	} {
		d, err := parseDevice(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("parseDevice(%q) = %+v, want an error", c.in, d)
			}
			continue
		}
		if err != nil || d.Source != c.src || d.Target != c.dst || d.Perms != c.perms {
			t.Errorf("parseDevice(%q) = %+v, %v; want %s -> %s (%s)", c.in, d, err, c.src, c.dst, c.perms)
		}
	}
}
