package transfer

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

// The chain IDs must be those containers/image gives layers, or its copy
// would not find the layers fetchLayers committed.
func TestChainID(t *testing.T) {
	a := digest.FromString("a")
	b := digest.FromString("b")
	if got := chainID("", a); got != a.Encoded() {
		t.Errorf("base layer: got %s, want the DiffID", got)
	}
	want := digest.FromString(a.Encoded() + "+" + b.Encoded()).Encoded()
	if got := chainID(a.Encoded(), b); got != want {
		t.Errorf("second layer: got %s, want %s", got, want)
	}
}
