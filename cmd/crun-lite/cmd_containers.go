//go:build !lean

package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store"
)

func psCommand() *cli.Command {
	return &cli.Command{
		Name:  "ps",
		Usage: "list kept containers (those run without --rm)",
		Description: `Lists the containers kept in the store: running ones, and with --all also
those that exited, with their exit status.

Examples:
   crun-lite ps -a
   crun-lite rm $(crun-lite ps -aq)`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "list exited containers too", Category: catSelection},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only container IDs", Category: catOutput},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			cs, err := liveStatus(e.store)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
			if !c.Bool("quiet") {
				fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tNAMES")
			}
			for _, ci := range cs {
				if ci.Status != "running" && !c.Bool("all") {
					continue
				}
				if c.Bool("quiet") {
					fmt.Fprintln(w, ci.ID[:12])
					continue
				}
				status := ci.Status
				if status == "exited" {
					status = fmt.Sprintf("Exited (%d)", ci.ExitCode)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s ago\t%s\t%s\n", ci.ID[:12], ci.Image,
					strings.Join(ci.Command, " "), units.HumanDuration(time.Since(ci.Created)), status, ci.Name)
			}
			return w.Flush()
		}),
	}
}

func rmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "remove kept containers",
		ArgsUsage: "CONTAINER...",
		Description: `Removes each CONTAINER (a name, an ID or an ID prefix) and its writable layer
from the store, and prints its ID. A running container is refused.

Examples:
   crun-lite rm web
   crun-lite rm --all`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every container that is not running", Category: catSelection},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			refs := c.Args().Slice()
			if c.Bool("all") {
				cs, err := liveStatus(e.store)
				if err != nil {
					return err
				}
				for _, ci := range cs {
					if ci.Status != "running" {
						refs = append(refs, ci.ID)
					}
				}
			} else if len(refs) == 0 {
				return errors.New("rm needs a CONTAINER (name or ID) or --all")
			}
			live := state.LiveContainers(e.store)
			for _, ref := range refs {
				ci, err := e.store.Container(ref)
				if err != nil {
					return err
				}
				if ci.Status == "running" && live[ci.ID] {
					return fmt.Errorf("container %s is running", ci.Name)
				}
				if err := e.store.DeleteContainer(ci.ID); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, ci.ID)
			}
			return nil
		}),
	}
}

// liveStatus lists the kept containers with the status the truth gives: a
// container the store says runs but no live monitor runs has exited (its
// monitor was killed, or the disk was too full to record the exit; the
// garbage collector records it once it can).
func liveStatus(st *store.Store) ([]*store.ContainerInfo, error) {
	cs, err := st.Containers()
	if err != nil {
		return nil, err
	}
	live, pending := state.LiveContainers(st), state.PendingExits(st)
	for _, ci := range cs {
		if ci.Status == "running" && !live[ci.ID] {
			code, ok := pending[ci.ID]
			if !ok {
				code = 128 + 9 // its monitor was killed, and the container with it
			}
			ci.Status, ci.ExitCode = "exited", code
		}
	}
	return cs, nil
}
