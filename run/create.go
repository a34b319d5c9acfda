package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crun-lite/crun-lite/run/spec"
	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store"
)

// Create makes a kept container as run would (its storage container, and
// everything the options and the image decide, saved as its spec beside
// it), starts nothing, and returns its ID: Podman's create. Start runs it
// later, from that spec.
func Create(ctx context.Context, st *store.Store, o Options) (string, error) {
	o.Create, o.Detach = true, false
	c, err := Prepare(ctx, st, o)
	if err != nil {
		return "", err
	}
	id := c.Spec.ID
	c.Close()
	return id, nil
}

// CreateSpecFile is the kept container's spec as create (or run) decided
// it, before any start resolved it, in the dir storage keeps for the
// container (store.ContainerFile): every start begins from it.
const CreateSpecFile = "create-spec.json"

// StartOptions say how a kept container starts again.
type StartOptions struct {
	// Detach: Detach, not Run, starts it (start without --attach).
	Detach bool
	// StartNetworkHub is Options.StartNetworkHub.
	StartNetworkHub func() error
}

// PrepareStart prepares the kept container in (created, or exited) to run
// again from the spec create or its first run saved, on its own writable
// layer: what Prepare does from options. Start it as Prepare's.
func PrepareStart(st *store.Store, in *Info, o StartOptions) (*Container, error) {
	c, err := prepareStart(st, in, o)
	if err != nil {
		return nil, coded(err)
	}
	return c, nil
}

func prepareStart(st *store.Store, in *Info, o StartOptions) (*Container, error) {
	if !in.Kept {
		return nil, fmt.Errorf("container %s is removed when it exits (--rm): it cannot be started again: %w", in.Name, ErrRunning)
	}
	if in.hasRun {
		// Its last run's monitor may still be cleaning up: the run dir
		// is the container's ID, ours next.
		deadline := time.Now().Add(10 * time.Second)
		for !state.Cleanup(st, in.run.ID) {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("container %s: its last run did not end: %w", in.Name, ErrRunning)
			}
			time.Sleep(time.Millisecond)
		}
	}
	ci, err := st.Container(in.ID)
	if errors.Is(err, store.ErrContainerUnknown) {
		return nil, noSuch(in.Name)
	}
	if err != nil {
		return nil, err
	}
	path, err := st.ContainerFile(ci.ID, CreateSpecFile)
	if err != nil {
		return nil, err
	}
	s, err := spec.Read(path)
	if err != nil {
		return nil, fmt.Errorf("container %s cannot start again: its spec: %w (containers made by an older crun-lite: run a new one)", ci.Name, err)
	}
	c := &Container{Spec: s, st: st, opts: Options{Detach: o.Detach, StartNetworkHub: o.StartNetworkHub}, kept: ci}
	if err := c.resolveJoined(); err != nil {
		return nil, err
	}
	if err := c.resolveNetwork(); err != nil {
		return nil, err
	}
	if err := c.makeRunDir(); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.useKept(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// RunHere runs a prepared container to completion in this process, as Run
// does, and closes it.
func (c *Container) RunHere(io Stdio) error {
	defer c.Close()
	p, err := c.Start(io, Hooks{})
	if err != nil {
		return err
	}
	return superviseToExit(p)
}

// superviseToExit supervises p and returns how crun-lite ends: nil for an
// exit code 0, else an *ExitError (the code alone, or a failure).
func superviseToExit(p *Process) error {
	code, err := Supervise(p)
	if err != nil {
		return coded(err)
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}
