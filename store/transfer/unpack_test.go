package transfer

import (
	"errors"
	"strings"
	"testing"

	"github.com/vbatts/tar-split/archive/tar"
)

// TestIDLogNamesDanglingHardLink: a hard link whose target is no earlier
// file of the layer is named when the unpack fails with ENOENT; links to
// files of the layer, and other errors, are left alone.
func TestIDLogNamesDanglingHardLink(t *testing.T) {
	enoent := errors.New("unpacking failed (error: exit status 1; output: no such file or directory)")
	for _, c := range []struct {
		name    string
		headers []tar.Header
		err     error
		want    string // in the error; "" when it must stay as it was
	}{
		{"to a host file", []tar.Header{{Name: "a", Typeflag: tar.TypeReg}, {Name: "hl", Linkname: "/etc/passwd", Typeflag: tar.TypeLink}}, enoent, `hard link "hl" to "/etc/passwd"`},
		{"up and out", []tar.Header{{Name: "hl", Linkname: "../../etc/passwd", Typeflag: tar.TypeLink}}, enoent, `hard link "hl" to "../../etc/passwd"`},
		{"first of two", []tar.Header{{Name: "x", Linkname: "nowhere", Typeflag: tar.TypeLink}, {Name: "y", Linkname: "/etc/shadow", Typeflag: tar.TypeLink}}, enoent, `hard link "x" to "nowhere"`},
		{"inside the layer", []tar.Header{{Name: "./usr/bin/a", Typeflag: tar.TypeReg}, {Name: "usr/bin/b", Linkname: "/usr/bin/a", Typeflag: tar.TypeLink}}, enoent, ""},
		{"another error", []tar.Header{{Name: "hl", Linkname: "/etc/passwd", Typeflag: tar.TypeLink}}, errors.New("no space left on device"), ""},
	} {
		l := newIDLog()
		for i := range c.headers {
			l.add(&c.headers[i])
		}
		got := l.explain(c.err)
		if !errors.Is(got, c.err) {
			t.Errorf("%s: the error %q no longer wraps %q", c.name, got, c.err)
		}
		if c.want == "" && got != c.err || c.want != "" && !strings.Contains(got.Error(), c.want) {
			t.Errorf("%s: got %q, want it to name %q", c.name, got, c.want)
		}
	}
}
