package store

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// IsNoSpace tells whether err is a full disk (or quota). Errors of storage's
// unpacker come from a child process as text, hence the text match.
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		strings.Contains(err.Error(), "no space left on device") ||
		strings.Contains(err.Error(), "disk quota exceeded")
}

// NoSpaceHint says what a full disk means for the store: no image or layer
// was half-made, but the layers a pull finished before the disk filled are
// committed (store/transfer's layers.go), for the next pull to reuse; and how
// to make room. Other errors are returned as they are.
func NoSpaceHint(err error) error {
	if err == nil || !IsNoSpace(err) {
		return err
	}
	return hint.Wrap(fmt.Errorf("%w (images in the store are intact and unfinished layers were removed; "+
		"finished layers are kept for the next pull, and crun-lite image prune removes them)", err),
		"free space on the store's filesystem, or remove images: crun-lite image prune, crun-lite rmi IMAGE; crun-lite system df shows what uses space")
}
