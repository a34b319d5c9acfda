package run

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func xauthEntry(family uint16, fields ...string) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, family)
	for _, f := range fields {
		_ = binary.Write(&b, binary.BigEndian, uint16(len(f)))
		b.WriteString(f)
	}
	return b.Bytes()
}

// The cookie of display 1, bound to the host's name (FamilyLocal, 256),
// comes out FamilyWild; display 2's stays out.
func TestWildXauth(t *testing.T) {
	in := append(xauthEntry(256, "myhost", "1", "MIT-MAGIC-COOKIE-1", "secret1"), xauthEntry(256, "myhost", "2", "MIT-MAGIC-COOKIE-1", "secret2")...)
	out, err := wildXauth(in, "1")
	if err != nil {
		t.Fatal(err)
	}
	if want := xauthEntry(0xffff, "myhost", "1", "MIT-MAGIC-COOKIE-1", "secret1"); !bytes.Equal(out, want) {
		t.Errorf("wildXauth = %q, want %q", out, want)
	}
	if _, err := wildXauth(in, "3"); err == nil {
		t.Error("no entry for display 3: want an error")
	}
	if _, err := wildXauth(in[:len(in)-3], "1"); err == nil {
		t.Error("truncated file: want an error")
	}
}
