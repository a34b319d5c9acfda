//go:build !lean

package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
)

func rmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "remove containers",
		ArgsUsage: "CONTAINER...",
		Description: `Removes each CONTAINER (a name, an ID or an ID prefix) and its writable layer
from the store, and prints its ID. A running container is refused unless
--force, which kills it first.

Examples:
   crun-lite rm web
   crun-lite rm -f web
   crun-lite rm --all`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every container (running ones only with --force)", Category: catSelection},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill a running container first; a missing one is no error", Category: catSelection},
			&cli.BoolFlag{Name: "ignore", Aliases: []string{"i"}, Usage: "a missing container is no error", Category: catSelection},
			&cli.UintFlag{Name: "time", Aliases: []string{"t"}, Value: 10, Usage: "with --force, stop a running container first, SIGKILL after `SECONDS` (0: at once)", Category: catSafety},
			&cli.BoolFlag{Name: "volumes", Aliases: []string{"v"}, Usage: "accepted for Podman's scripts: named volumes are kept, anonymous ones are not made", Category: catSelection},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			refs := c.Args().Slice()
			if c.Bool("all") {
				cs, err := run.Containers(e.store, true)
				if err != nil {
					return err
				}
				for _, in := range cs {
					if in.Status != "running" || c.Bool("force") {
						refs = append(refs, in.ID)
					}
				}
			} else if len(refs) == 0 {
				return errors.New("rm needs a CONTAINER (name or ID) or --all")
			}
			force := c.Bool("force")
			err := eachContainer(c, e, refs, func(in *run.Info, ref string) error {
				if force && c.IsSet("time") && in.Running() {
					// Podman's rm -f -t N: a stop with that timeout first.
					if err := in.Stop(time.Duration(c.Uint("time")) * time.Second); err != nil {
						return err
					}
				}
				if err := run.Remove(e.store, in, force); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, in.ID)
				return nil
			}, force || c.Bool("ignore"))
			if errors.Is(err, run.ErrNoSuchContainer) {
				return &run.ExitError{Code: 1, Err: err} // Podman's code for a missing one
			}
			return err
		}),
	}
}

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print a detached container's output",
		ArgsUsage: "CONTAINER",
		Description: `Prints what CONTAINER wrote to stdout (on stdout) and stderr (on stderr), as
its monitor logged it (k8s-file, Podman's format). A container run in the
foreground is logged by its terminal, not here: only detached containers
(run -d) have logs.

Examples:
   crun-lite logs -f web
   crun-lite logs --tail 20 -t web
   crun-lite logs --since 10m web`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "go on printing new lines until the container exits", Category: catOutput},
			&cli.StringFlag{Name: "since", Usage: "only lines since `TIME` (RFC 3339, a Unix time, or a duration such as 10m before now)", Category: catSelection},
			&cli.StringFlag{Name: "until", Usage: "only lines before `TIME` (as --since)", Category: catSelection},
			&cli.IntFlag{Name: "tail", Value: -1, Usage: "only the last `N` lines (-1: all)", Category: catSelection},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "start each line with its time", Category: catOutput},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() != 1 {
				return errors.New("logs needs one CONTAINER (name or ID)")
			}
			o := run.LogOptions{Follow: c.Bool("follow"), Tail: c.Int("tail"), Timestamps: c.Bool("timestamps")}
			var err error
			if o.Since, err = parseTime(c.String("since"), "--since"); err != nil {
				return err
			}
			if o.Until, err = parseTime(c.String("until"), "--until"); err != nil {
				return err
			}
			in, err := run.Lookup(e.store, c.Args().First(), true)
			if err != nil {
				return err
			}
			return in.Logs(e.store, o, c.App.Writer, os.Stderr)
		}),
	}
}

// parseTime reads --since and --until as Podman does: RFC 3339 (with or
// without time zone), Unix seconds, or a duration before now.
func parseTime(v, flag string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	var sec, nsec int64
	if n, _ := fmt.Sscanf(v, "%d.%d", &sec, &nsec); n >= 1 {
		return time.Unix(sec, nsec), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want a time (2006-01-02T15:04:05Z), Unix seconds or a duration (10m)", flag, v)
}

// containerCommand is Podman's `container` group: the container commands
// under their other names, and cleanup, which a detached container's
// monitor runs when it exited.
func containerCommand() *cli.Command {
	return &cli.Command{
		Name:  "container",
		Usage: "manage containers (the container commands, grouped as in Podman)",
		Description: `The container commands under the names Podman's container group gives them.

Examples:
   crun-lite container ls -a
   crun-lite container stop web`,
		Subcommands: []*cli.Command{
			runCommand(), createCommand(), startCommand(), restartCommand(), containerList(), stopCommand(), killCommand(), pauseCommand(false), pauseCommand(true), waitCommand(), attachCommand(), logsCommand(), rmCommand(), containerInspectCommand(), renameCommand(), containerPruneCommand(), topCommand(), cpCommand(), containerExistsCommand(),
			{
				Name:      "cleanup",
				Usage:     "record a detached container's exit and undo its run (its monitor runs this)",
				ArgsUsage: "ID",
				Hidden:    true,
				Action: withStore(func(c *cli.Context, e *env) error {
					if c.NArg() != 1 {
						return errors.New("container cleanup needs the container's ID")
					}
					return run.Cleanup(e.store, c.Args().First())
				}),
			},
		},
	}
}

// containerExistsCommand is Podman's container exists: the answer in the
// exit code.
func containerExistsCommand() *cli.Command {
	return &cli.Command{
		Name:      "exists",
		Usage:     "tell by the exit code whether a container exists",
		ArgsUsage: "CONTAINER",
		Description: `Exits 0 when CONTAINER (name, ID or ID prefix) exists, 1 when it does not,
printing nothing.

Examples:
   crun-lite container exists web || crun-lite run -d --name web busybox httpd -f`,
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() != 1 {
				return errors.New("container exists needs exactly one CONTAINER")
			}
			_, err := run.Lookup(e.store, c.Args().First(), true)
			if errors.Is(err, run.ErrNoSuchContainer) {
				return exitStatus(1)
			}
			return err
		}),
	}
}

// containerList is ps under the names of Podman's container group.
func containerList() *cli.Command {
	c := psCommand()
	c.Name, c.Aliases = "list", []string{"ls", "ps"}
	return c
}
