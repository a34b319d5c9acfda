package userns

/*
#include <stdlib.h>
int crunlite_new_userns(const char *uid_map, const char *gid_map, const char **what);
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"unsafe"
)

// --userns=keep-id
//
// The holder's namespace H maps container 0 to the host user. keep-id wants
// the host user to be uid U inside instead, so the container gets a user
// namespace C of its own, a child of H:
//
//	C id:  0 .. U-1    U     U+1 .. N-1
//	H id:  1 .. U      0     U+1 .. N-1
//
// Only H's root may make C: it writes C's maps itself (no newuidmap needed,
// the ids are its own). How the container's files get C's ownership is
// package run's (run/keepid.go).

// IDMap is one line of a uid_map or gid_map: Inside is the id in C,
// Outside the id in H.
type IDMap struct{ Inside, Outside, Count int }

// KeepID is a prepared keep-id namespace: its maps and an fd for it, open
// until Close.
type KeepID struct {
	UIDs, GIDs []IDMap
	FD         int
}

// ErrKeepID marks a keep-id that cannot be honoured here.
var ErrKeepID = errors.New("--userns=keep-id")

// NewKeepID makes the namespace C in which the host user is uid:gid.
func NewKeepID(uid, gid int) (*KeepID, error) {
	if !Inside() {
		return nil, fmt.Errorf("%w is for rootless use: as root there is no user namespace to keep an id in", ErrKeepID)
	}
	uids, err := keepIDMap(uid, nsSize("/proc/self/uid_map"))
	if err != nil {
		return nil, err
	}
	gids, err := keepIDMap(gid, nsSize("/proc/self/gid_map"))
	if err != nil {
		return nil, err
	}
	fd, err := newUserNamespace(mapFile(uids), mapFile(gids))
	if err != nil {
		return nil, fmt.Errorf("create the keep-id user namespace: %w", err)
	}
	return &KeepID{UIDs: uids, GIDs: gids, FD: fd}, nil
}

// Close closes the namespace's fd; a nil KeepID is fine.
func (k *KeepID) Close() {
	if k != nil && k.FD >= 0 {
		syscall.Close(k.FD)
		k.FD = -1
	}
}

// ToOutside translates a container uid and gid to H's terms.
func (k *KeepID) ToOutside(uid, gid int) (int, int) {
	return toOutside(k.UIDs, uid), toOutside(k.GIDs, gid)
}

// keepIDMap builds C's map for one kind of id, given U (the host user's id
// inside) and the number of ids H has.
func keepIDMap(u, size int) ([]IDMap, error) {
	if u <= 0 || u >= size {
		return nil, fmt.Errorf("%w: id %d must be between 1 and %d (the ids your namespace maps)", ErrKeepID, u, size-1)
	}
	m := []IDMap{{0, 1, u}, {u, 0, 1}}
	if size-u-1 > 0 {
		m = append(m, IDMap{u + 1, u + 1, size - u - 1})
	}
	return m, nil
}

func toOutside(m []IDMap, id int) int {
	for _, l := range m {
		if id >= l.Inside && id < l.Inside+l.Count {
			return l.Outside + id - l.Inside
		}
	}
	return id
}

func mapFile(m []IDMap) string {
	var b strings.Builder
	for _, l := range m {
		fmt.Fprintf(&b, "%d %d %d\n", l.Inside, l.Outside, l.Count)
	}
	return b.String()
}

// FuseMapping is a map in fuse-overlayfs's CONTAINER:HOST:SIZE form.
func FuseMapping(m []IDMap) string {
	parts := make([]string, 0, len(m))
	for _, l := range m {
		parts = append(parts, fmt.Sprintf("%d:%d:%d", l.Inside, l.Outside, l.Count))
	}
	return strings.Join(parts, ":")
}

// nsSize returns how many ids a uid_map or gid_map maps (parseIDMap:
// keep-id runs only inside the holder's namespace, never an identity map).
func nsSize(path string) int {
	n := 0
	for _, r := range parseIDMap(readFile(path)) {
		n += r.Count
	}
	return n
}

// newUserNamespace creates a user namespace with the given maps and
// returns an fd for it (newns.c).
func newUserNamespace(uidMap, gidMap string) (int, error) {
	cu, cg := C.CString(uidMap), C.CString(gidMap)
	defer C.free(unsafe.Pointer(cu))
	defer C.free(unsafe.Pointer(cg))
	var what *C.char
	fd := int(C.crunlite_new_userns(cu, cg, &what))
	if fd < 0 {
		return -1, fmt.Errorf("%s: %w", C.GoString(what), syscall.Errno(-fd))
	}
	return fd, nil
}
