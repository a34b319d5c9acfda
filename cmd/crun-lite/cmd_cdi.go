//go:build !lean

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/run/cdi"
)

func cdiCommand() *cli.Command {
	dirFlag := &cli.StringSliceFlag{Name: "cdi-spec-dir", Usage: "read CDI specs from `DIR` too, after /etc/cdi and /var/run/cdi"}
	return &cli.Command{
		Name:  "cdi",
		Usage: "list the CDI devices --device can name",
		Description: `CDI (the Container Device Interface) describes devices, GPUs mostly, in spec
files that vendors' tools write into /etc/cdi and /var/run/cdi (nvidia-ctk cdi
generate, for one). run --device VENDOR/CLASS=NAME gives a container the device
nodes, bind mounts and environment its spec lists; crun-lite runs no OCI hooks,
so a spec's hooks are skipped with a warning.

Examples:
   crun-lite cdi list
   crun-lite run --rm --device nvidia.com/gpu=all IMAGE nvidia-smi`,
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "print the names of the CDI devices the specs define, one a line",
				Description: `Prints VENDOR/CLASS=NAME for every device the CDI specs in /etc/cdi,
/var/run/cdi and each --cdi-spec-dir define; a spec that cannot be read is a
warning.

Examples:
   crun-lite cdi list
   crun-lite cdi list --cdi-spec-dir ~/.config/cdi`,
				Flags: []cli.Flag{dirFlag},
				Action: func(c *cli.Context) error {
					names, err := cdi.List(cdiDirs(c))
					for _, n := range names {
						fmt.Fprintln(c.App.Writer, n)
					}
					if err != nil {
						fmt.Fprintf(c.App.ErrWriter, "crun-lite: warning: %v\n", err)
					}
					return nil
				},
			},
			{
				Name:      "edits",
				Usage:     "print, as JSON, what CDI devices add to a container (for crun-lite run)",
				ArgsUsage: "NAME...",
				Hidden:    true,
				Flags:     []cli.Flag{dirFlag, &cli.BoolFlag{Name: "gpus", Usage: "add the GPUs the specs define"}},
				Action: func(c *cli.Context) error {
					e, err := cdiResolve(c, cdiDirs(c), c.Args().Slice(), c.Bool("gpus"))
					if err != nil {
						return err
					}
					return json.NewEncoder(c.App.Writer).Encode(e)
				},
			},
		},
	}
}

func cdiDirs(c *cli.Context) []string {
	return append(slices.Clone(defaultCDIDirs), c.StringSlice("cdi-spec-dir")...)
}

// cdiResolve reads the CDI specs in this process.
func cdiResolve(_ *cli.Context, dirs, names []string, gpus bool) (*cdiEdits, error) {
	if gpus {
		names = append(names, cdi.GPUs(dirs)...)
	}
	e, err := cdi.Resolve(dirs, names)
	if errors.Is(err, cdi.ErrUnknown) {
		return nil, hint.Wrap(err, "crun-lite cdi list shows the known names; a vendor's tool writes specs into /etc/cdi (nvidia-ctk cdi generate), or pass --cdi-spec-dir")
	}
	if err != nil {
		return nil, err
	}
	ce := cdiEdits(*e)
	return &ce, nil
}
