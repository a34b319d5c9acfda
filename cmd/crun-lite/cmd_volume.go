//go:build !lean

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store"
)

func volumeCommand() *cli.Command {
	return &cli.Command{
		Name:  "volume",
		Usage: "manage named volumes (-v NAME:/path creates them on first use)",
		Description: `A named volume is a directory of the store that outlives the containers that
mount it: run -v NAME:/path (or --mount type=volume,source=NAME,target=/path)
creates it on first use; these commands list, inspect and remove them.

Examples:
   crun-lite run --rm -v cache:/var/cache/apt IMAGE apt-get update
   crun-lite volume ls`,
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "create a named volume", ArgsUsage: "NAME",
				Description: `Creates the volume NAME, empty, and prints its name; run -v NAME:/path would
create it too.

Examples:
   crun-lite volume create cache`,
				Action: withStore(func(c *cli.Context, e *env) error {
					if c.NArg() != 1 {
						return errors.New("volume create needs a NAME")
					}
					if _, err := e.store.VolumePath(c.Args().First(), true); err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, c.Args().First())
					return nil
				}),
			},
			{
				Name: "ls", Aliases: []string{"list"}, Usage: "list named volumes",
				Description: `Lists every named volume with the directory that holds its data.

Examples:
   crun-lite volume ls
   crun-lite volume ls --format json | jq -r '.[].name'`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only names", Category: catOutput},
					&cli.StringFlag{Name: "format", Usage: "output `FORMAT`: table or json", Category: catOutput},
				},
				Action: withStore(func(c *cli.Context, e *env) error {
					vols, err := e.store.Volumes()
					if err != nil {
						return err
					}
					f, err := parseFormat(c.String("format"), volumeFormats)
					if err != nil {
						return err
					}
					if vols == nil {
						vols = []store.Volume{} // JSON: [], not null
					}
					return f.print(c.App.Writer, vols, func(w io.Writer) error {
						if c.Bool("quiet") {
							for _, v := range vols {
								fmt.Fprintln(w, v.Name)
							}
							return nil
						}
						return printVolumes(w, vols)
					})
				}),
			},
			{
				Name: "inspect", Usage: "show volumes as JSON", ArgsUsage: "NAME...",
				Description: `Prints a JSON array with one object per volume NAME: its name, the
directory that holds its data (mountpoint) and when it was created.

Examples:
   crun-lite volume inspect cache`,
				Action: withStore(func(c *cli.Context, e *env) error {
					var out []store.Volume
					for _, n := range c.Args().Slice() {
						v, err := e.store.Volume(n)
						if err != nil {
							return err
						}
						out = append(out, *v)
					}
					if len(out) == 0 {
						return errors.New("volume inspect needs a NAME")
					}
					return encodeJSON(c.App.Writer, out)
				}),
			},
			{
				Name: "rm", Aliases: []string{"remove"}, Usage: "remove named volumes and their data", ArgsUsage: "NAME...",
				Description: `Removes each volume NAME and all its data, and prints its name. A volume
that a kept container mounts is refused unless --force.

Examples:
   crun-lite volume rm cache
   crun-lite volume rm -f cache scratch`,
				Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove even when containers use it", Category: catSafety}},
				Action: withStore(func(c *cli.Context, e *env) error {
					if c.NArg() == 0 {
						return errors.New("volume rm needs a NAME")
					}
					for _, n := range c.Args().Slice() {
						users, err := state.VolumeUsers(e.store, n)
						if err != nil {
							return err
						}
						if len(users) > 0 && !c.Bool("force") {
							return fmt.Errorf("volume %s is used by %s: remove them first, or use -f", n, strings.Join(users, ", "))
						}
						if err := e.store.RemoveVolume(n); err != nil {
							return err
						}
						fmt.Fprintln(c.App.Writer, n)
					}
					return nil
				}),
			},
		},
	}
}

// volumeFormats: volume ls has no templates, and has always printed the
// table for any --format but json (--quiet applies to the table only).
var volumeFormats = formats{text: "table"}

func printVolumes(out io.Writer, vols []store.Volume) error {
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "VOLUME NAME\tMOUNTPOINT")
	for _, v := range vols {
		fmt.Fprintf(w, "%s\t%s\n", v.Name, v.Path)
	}
	return w.Flush()
}
