//go:build !lean

package main

import (
	"slices"
	"testing"

	"github.com/crun-lite/crun-lite/run/cdi"
)

// The lean build names the CDI spec dirs without linking the library.
func TestDefaultCDIDirs(t *testing.T) {
	if !slices.Equal(defaultCDIDirs, cdi.DefaultSpecDirs) {
		t.Errorf("defaultCDIDirs %v, the CDI library's %v", defaultCDIDirs, cdi.DefaultSpecDirs)
	}
}
