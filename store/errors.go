package store

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// isNoSpace tells whether err is a full disk (or quota). Errors of storage's
// unpacker come from a child process as text, hence the text match.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		strings.Contains(err.Error(), "no space left on device") ||
		strings.Contains(err.Error(), "disk quota exceeded")
}

// noSpaceHint says what a full disk means for the store: nothing half-made
// was kept, and how to make room.
func noSpaceHint(err error) error {
	if err == nil || !isNoSpace(err) {
		return err
	}
	return hint.Wrap(fmt.Errorf("%w (the store is unchanged: partial layers were removed)", err),
		"free space on the store's filesystem, or remove images: crun-lite image prune, crun-lite rmi IMAGE; crun-lite system df shows what uses space")
}
