//go:build !lean

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
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
					&cli.StringFlag{Name: "format", Usage: "output `FORMAT`: table, json or a Go template such as '{{.Name}} {{.Mountpoint}}'", Category: catOutput},
					&cli.BoolFlag{Name: "noheading", Aliases: []string{"n"}, Usage: "leave out the table's header", Category: catOutput},
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
					f.noHeading = c.Bool("noheading")
					if vols == nil {
						vols = []store.Volume{} // JSON: [], not null
					}
					return printRows(c.App.Writer, f, vols, vols, func(w io.Writer) error {
						if c.Bool("quiet") {
							for _, v := range vols {
								fmt.Fprintln(w, v.Name)
							}
							return nil
						}
						return printVolumes(w, vols, !f.noHeading)
					})
				}),
			},
			{
				Name: "inspect", Usage: "show volumes as JSON", ArgsUsage: "NAME...",
				Description: `Prints a JSON array with one object per volume NAME, with the keys of
Podman's: its name, the directory that holds its data (Mountpoint) and
when it was created (CreatedAt). --format applies a Go template to each.

Examples:
   crun-lite volume inspect cache
   crun-lite volume inspect --format '{{.Mountpoint}}' cache`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "output `FORMAT`: json or a Go template such as '{{.Mountpoint}}'", Category: catOutput},
				},
				Action: withStore(func(c *cli.Context, e *env) error {
					f, err := parseFormat(c.String("format"), inspectFormats)
					if err != nil {
						return err
					}
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
					return printRows(c.App.Writer, f, out, out, nil)
				}),
			},
			{
				Name: "rm", Aliases: []string{"remove"}, Usage: "remove named volumes and their data", ArgsUsage: "NAME...",
				Description: `Removes each volume NAME and all its data, and prints its name. A volume
that a kept container mounts is refused unless --force.

Examples:
   crun-lite volume rm cache
   crun-lite volume rm -f cache scratch`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove even when containers use it", Category: catSafety},
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every volume", Category: catSelection},
				},
				Action: withStore(func(c *cli.Context, e *env) error {
					names := c.Args().Slice()
					if c.Bool("all") {
						vols, err := e.store.Volumes()
						if err != nil {
							return err
						}
						for _, v := range vols {
							names = append(names, v.Name)
						}
					} else if c.NArg() == 0 {
						return errors.New("volume rm needs a NAME or --all")
					}
					for _, n := range names {
						users, err := state.VolumeUsers(e.store, n)
						if err != nil {
							return err
						}
						if len(users) > 0 && !c.Bool("force") {
							return fmt.Errorf("volume %s is used by %s: remove them first, or use -f", n, strings.Join(users, ", "))
						}
						if err := e.store.RemoveVolume(n); err != nil {
							if errors.Is(err, store.ErrVolumeUnknown) {
								return &run.ExitError{Code: 1, Err: err} // Podman's code
							}
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

// volumeFormats: volume ls takes templates over store.Volume; any other
// value but json prints the table, as it always has (--quiet applies to
// the table only).
var volumeFormats = formats{text: "table", templates: bracedTemplates, headers: map[string]string{"Name": "VOLUME NAME"}}

// printVolumes prints Podman's table: the driver and the name.
func printVolumes(out io.Writer, vols []store.Volume, header bool) error {
	w := newTable(out)
	if header {
		fmt.Fprintln(w, "DRIVER\tVOLUME NAME")
	}
	for _, v := range vols {
		fmt.Fprintf(w, "%s\t%s\n", v.Driver, v.Name)
	}
	return w.Flush()
}
