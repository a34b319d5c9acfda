package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/shortnames"
	"go.podman.io/storage"

	"github.com/crun-lite/crun-lite/internal/faults"
)

// ErrImageInUse means a container uses the image.
var ErrImageInUse = errors.New("image is in use")

// Busy tells, for an image ID, which live runs use it (the runtime knows
// them; the store does not); nil or empty when none does.
type Busy func(imageID string) []string

// RemoveReport says what RemoveImage did, in Podman's words.
type RemoveReport struct {
	Untagged []string // names removed
	Deleted  []string // image IDs deleted
}

// RemoveOptions are the flags of rmi.
type RemoveOptions struct {
	// Force removes an image named by ID with all its names, and the
	// stopped containers made from it (rmi --force).
	Force bool
	// AllNames removes an image named by ID with all its names, but keeps
	// it when containers use it: rmi --all without --force, as Podman's.
	AllNames bool
	// Busy tells which images live runs use: those always stay.
	Busy Busy
}

// RemoveImage removes ref as podman rmi does: a name of an image that has
// other names is only untagged; otherwise the image goes, unless containers
// use it (see RemoveOptions).
func (st *Store) RemoveImage(ref string, o RemoveOptions) (*RemoveReport, error) {
	img, err := st.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if name := NameOf(img, ref); name != "" && len(img.Names) > 1 {
		if err := st.s.RemoveNames(img.ID, []string{name}); err != nil {
			return nil, fmt.Errorf("untag %s: %w", name, err)
		}
		return &RemoveReport{Untagged: []string{name}}, nil
	}
	if len(img.Names) > 1 && !o.Force && !o.AllNames {
		return nil, fmt.Errorf("image %s has several names (%s): remove them one by one, or use --force",
			ShortID(img.ID), strings.Join(img.Names, ", "))
	}
	return st.deleteImage(img, o.Force, o.Busy)
}

// NameOf returns the name of img that ref spells, or "" when ref is an ID.
func NameOf(img *Image, ref string) string {
	for _, cand := range localCandidates(ref) {
		if slices.Contains(img.Names, cand) {
			return cand
		}
	}
	short, err := reference.Parse(ref)
	named, ok := short.(reference.Named)
	if err != nil || !ok || !shortnames.IsShortName(ref) {
		return ""
	}
	tag := "latest"
	if t, ok := short.(reference.Tagged); ok {
		tag = t.Tag()
	}
	for _, n := range img.Names {
		if suffixMatch(n, named.Name(), tag) {
			return n
		}
	}
	return ""
}

// deleteImage deletes img and the layers no other image or container uses.
func (st *Store) deleteImage(img *Image, force bool, busy Busy) (*RemoveReport, error) {
	if err := st.checkUsers(img, force, busy); err != nil {
		return nil, err
	}
	faults.At("rmi:image")
	if _, err := st.s.DeleteImage(img.ID, true); err != nil {
		if errors.Is(err, storage.ErrImageUsedByContainer) {
			return nil, fmt.Errorf("%w: %s: %w", ErrImageInUse, ShortID(img.ID), err)
		}
		return nil, fmt.Errorf("remove image %s: %w", ShortID(img.ID), NoSpaceHint(err))
	}
	return &RemoveReport{Untagged: img.Names, Deleted: []string{img.ID}}, nil
}

// checkUsers refuses to delete an image that live runs use, or that kept
// containers use unless force, which removes those containers.
func (st *Store) checkUsers(img *Image, force bool, busy Busy) error {
	if busy != nil {
		if runs := busy(img.ID); len(runs) > 0 {
			return fmt.Errorf("%w: image %s is used by running container %s: stop it first",
				ErrImageInUse, imageLabel(img), strings.Join(runs, ", "))
		}
	}
	users, err := st.containersOf(img.ID)
	if err != nil || len(users) == 0 {
		return err
	}
	if !force {
		names := make([]string, len(users))
		for i, c := range users {
			names[i] = c.Name
		}
		return fmt.Errorf("%w: image %s is used by container %s: remove it first (crun-lite rm), or use --force",
			ErrImageInUse, imageLabel(img), strings.Join(names, ", "))
	}
	for _, c := range users {
		if err := st.DeleteContainer(c.ID); err != nil {
			return err
		}
	}
	return nil
}

func imageLabel(img *Image) string {
	if len(img.Names) > 0 {
		return img.Names[0]
	}
	return ShortID(img.ID)
}

// containersOf lists the kept containers made from an image.
func (st *Store) containersOf(imageID string) ([]*ContainerInfo, error) {
	cs, err := st.Containers()
	if err != nil {
		return nil, err
	}
	var out []*ContainerInfo
	for _, c := range cs {
		if c.ImageID == imageID {
			out = append(out, c)
		}
	}
	return out, nil
}

// NormalizeName turns a name given to tag or import into the name it is
// stored under: Podman's localhost/NAME for names without a registry, and
// :latest when untagged.
func NormalizeName(name string) (string, error) {
	if _, err := reference.Parse(name); err != nil {
		return "", fmt.Errorf("invalid image name %q: %w", name, err)
	}
	if _, err := reference.ParseNormalizedNamed(name); err != nil {
		return "", fmt.Errorf("invalid image name %q: %w", name, err)
	}
	n := LocalName(name)
	if n == "" || strings.Contains(name, "@") {
		return "", fmt.Errorf("invalid image name %q: need NAME[:TAG]", name)
	}
	return n, nil
}

// Tag adds names to img.
func (st *Store) Tag(img *Image, names ...string) error {
	var add []string
	for _, n := range names {
		norm, err := NormalizeName(n)
		if err != nil {
			return err
		}
		add = append(add, norm)
	}
	if err := st.s.AddNames(img.ID, add); err != nil {
		return fmt.Errorf("tag %s: %w", ShortID(img.ID), err)
	}
	return nil
}

// Untag removes names from img, or all its names when none are given; it
// returns the names removed.
func (st *Store) Untag(img *Image, names ...string) ([]string, error) {
	remove := img.Names
	if len(names) > 0 {
		remove = nil
		for _, n := range names {
			name := NameOf(img, n)
			if norm := LocalName(n); name == "" && slices.Contains(img.Names, norm) {
				name = norm
			}
			if name == "" {
				return nil, fmt.Errorf("%w: image %s has no name %s", ErrImageUnknown, ShortID(img.ID), n)
			}
			remove = append(remove, name)
		}
	}
	if err := st.s.RemoveNames(img.ID, remove); err != nil {
		return nil, fmt.Errorf("untag %s: %w", ShortID(img.ID), err)
	}
	return remove, nil
}

// LocalName turns a name without a registry into Podman's localhost/NAME,
// with :latest when untagged; "" when n is not a valid name. Unlike
// NormalizeName it lowers upper case and keeps a digest: pulls, loads and
// imports name images with it.
func LocalName(n string) string {
	if n == "" {
		return ""
	}
	first := strings.SplitN(n, "/", 2)[0]
	if !strings.Contains(n, "/") || !(strings.ContainsAny(first, ".:") || first == "localhost") {
		n = "localhost/" + n
	}
	named, err := reference.ParseNormalizedNamed(strings.ToLower(n))
	if err != nil {
		return ""
	}
	return reference.TagNameOnly(named).String()
}
