//go:build !lean

package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
)

func renameCommand() *cli.Command {
	return &cli.Command{
		Name:      "rename",
		Usage:     "give a container another name",
		ArgsUsage: "CONTAINER NEWNAME",
		Description: `Renames CONTAINER (a name, an ID or an ID prefix), running or not, kept or
--rm, to NEWNAME, which no other container may have. Prints nothing.

Examples:
   crun-lite rename web web-old`,
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() != 2 {
				return errors.New("rename needs a CONTAINER and its NEWNAME")
			}
			in, err := run.Lookup(e.store, c.Args().Get(0), true)
			if err != nil {
				return err
			}
			return run.Rename(e.store, in, c.Args().Get(1))
		}),
	}
}

// containerPruneCommand is `container prune`: every exited container goes.
func containerPruneCommand() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove every exited container",
		Description: `Removes every container that is not running (exited, or created and never
started) with its writable layer, and prints the ID of each. Asks first
unless --force.

Examples:
   crun-lite container prune -f`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation", Category: catSafety},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if !c.Bool("force") {
				if yes, err := confirm(c, "This removes every container that is not running."); err != nil || !yes {
					return err
				}
			}
			ids, err := run.Prune(e.store)
			for _, id := range ids {
				fmt.Fprintln(c.App.Writer, id)
			}
			return err
		}),
	}
}
