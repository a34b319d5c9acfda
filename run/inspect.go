package run

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/run/spec"
	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store"
)

// containerName is what Podman accepts as a container's name.
var containerName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// What inspect, rename and container prune ask of a container found by
// Lookup.

// Spec returns the container's resolved spec, as its monitor wrote it once
// the container ran: read from the path its run recorded while it has a
// run dir, else (a kept container that exited) from the dir storage keeps
// for it, or for a container created but never started, as create
// decided it. nil and no error when there is none: one from a crun-lite
// that did not keep it.
func (in *Info) Spec(st *store.Store) (*spec.Spec, error) {
	path := ""
	if in.hasRun {
		path = in.run.Record.SpecPath
	}
	if path == "" && in.Kept {
		p, err := st.ContainerFile(in.ID, "spec.json")
		if err != nil {
			return nil, err
		}
		path = p
	}
	if path == "" {
		return nil, nil
	}
	s, err := spec.Read(path)
	if errors.Is(err, fs.ErrNotExist) && in.Kept {
		// Created and never started: what create decided.
		if p, perr := st.ContainerFile(in.ID, CreateSpecFile); perr == nil {
			s, err = spec.Read(p)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", shortID(in.ID), err)
	}
	return s, nil
}

// Rename gives the container the name name, refused when another
// container has it (Podman's words): in the store for a kept container,
// and in its run's record while it runs (a --rm run has only that).
func Rename(st *store.Store, in *Info, name string) error {
	if name == "" {
		return spec.BadOption("rename needs a NEWNAME that is not empty")
	}
	if !containerName.MatchString(name) {
		return spec.BadOption("rename %q: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*", name)
	}
	if other, err := Lookup(st, name, true); err == nil && other.Name == name {
		if other.ID == in.ID {
			return nil
		}
		return hint.Wrap(fmt.Errorf("the container name %q is already in use by %s. You have to remove that container to be able to reuse that name: %w", name, other.ID, store.ErrNameInUse),
			"remove that container (crun-lite rm -f "+name+") or choose another name")
	}
	if in.Kept {
		if err := st.RenameContainer(in.ID, name); err != nil {
			return err
		}
	}
	if in.hasRun {
		if err := state.SetName(in.run, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	in.Name = name
	return nil
}

// Prune removes every container that does not run (exited, or created and
// never started) and returns their IDs, as Podman's container prune; one
// being started (created, its run dir made) is left alone. A failure to
// remove one does not stop the others, and the last is returned.
func Prune(st *store.Store) ([]string, error) {
	cs, err := Containers(st, true)
	if err != nil {
		return nil, err
	}
	var ids []string
	var last error
	for _, in := range cs {
		if in.Status == "running" || in.Status == "created" && in.hasRun {
			continue
		}
		if err := Remove(st, in, false); err != nil {
			last = err
			continue
		}
		ids = append(ids, in.ID)
	}
	return ids, last
}
