package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
)

func portCommand() *cli.Command {
	return &cli.Command{
		Name:      "port",
		Usage:     "list the ports a container publishes",
		ArgsUsage: "CONTAINER [PRIVATE_PORT[/PROTO]]",
		Description: `Prints the ports CONTAINER publishes (-p, run's random host ports
included) as Podman does, one mapping a line: 80/tcp -> 0.0.0.0:8080. With
PRIVATE_PORT, only the host side of that container port: 0.0.0.0:8080.
With --all, the mappings of every running container.

Examples:
   crun-lite port web
   crun-lite port web 80
   curl http://$(crun-lite port web 80)/`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "list the ports of every running container"},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.Bool("all") {
				all, err := run.Containers(e.store, false)
				if err != nil {
					return err
				}
				for _, in := range all {
					if in.Status == "running" {
						printPorts(c, in, "")
					}
				}
				return nil
			}
			if c.NArg() < 1 || c.NArg() > 2 {
				return errors.New("port needs a CONTAINER (name or ID), and at most one PRIVATE_PORT[/PROTO]")
			}
			in, err := run.Lookup(e.store, c.Args().First(), true)
			if err != nil {
				return err
			}
			if in.Status != "running" {
				return fmt.Errorf("container %s is not running: it publishes nothing", c.Args().First())
			}
			want := c.Args().Get(1)
			if want != "" && !strings.Contains(want, "/") {
				want += "/tcp"
			}
			if !printPorts(c, in, want) && want != "" {
				return fmt.Errorf("container %s does not publish %s", c.Args().First(), want)
			}
			return nil
		}),
	}
}

// printPorts prints in's mappings, or with want (80/tcp) the host side of
// that one; it reports whether it printed any.
func printPorts(c *cli.Context, in *run.Info, want string) bool {
	any := false
	for _, p := range in.Ports {
		ctr, host, ok := strings.Cut(p, " -> ")
		if !ok {
			continue
		}
		switch {
		case want == "":
			fmt.Fprintln(c.App.Writer, p)
		case ctr == want:
			fmt.Fprintln(c.App.Writer, host)
		default:
			continue
		}
		any = true
	}
	return any
}
