package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"
	"go.podman.io/image/v5/docker/reference"

	"github.com/crun-lite/crun-lite/store"
)

func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "copy an image into the store",
		ArgsUsage: "IMAGE",
		Description: `Pulls IMAGE from a registry (host[:port]/name[:tag], or a short name resolved
through registries.conf), or from another containers/image transport:
docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, dir:DIR.
Progress goes to stderr (bars on a terminal, a line per layer otherwise); the
image ID goes to stdout.

Examples:
   crun-lite pull --tls-verify=false 127.0.0.1:5000/busybox
   crun-lite pull oci-archive:busybox.tar`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the image ID"},
			tlsVerifyFlag(""),
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() != 1 {
				return errors.New("pull needs exactly one IMAGE")
			}
			o := store.PullOptions{TLSVerify: tlsVerify(c), Report: c.App.ErrWriter}
			if c.Bool("quiet") {
				o.Report = nil
			}
			img, err := e.store.Pull(e.ctx, c.Args().First(), o)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, img.ID)
			return nil
		}),
	}
}

func imagesCommand() *cli.Command {
	return &cli.Command{
		Name:  "images",
		Usage: "list images in the store",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only image IDs"},
			&cli.StringFlag{Name: "format", Usage: "output `FORMAT`: table or json"},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			imgs, err := e.store.Images()
			if err != nil {
				return err
			}
			switch {
			case c.Bool("quiet"):
				for _, im := range imgs {
					fmt.Fprintln(c.App.Writer, im.ID[:12])
				}
				return nil
			case c.String("format") == "json":
				return printImagesJSON(c, imgs)
			case c.String("format") == "" || c.String("format") == "table":
				return printImagesTable(c, imgs)
			}
			return fmt.Errorf("unknown --format %q: use table or json", c.String("format"))
		}),
	}
}

type imageJSON struct {
	ID      string    `json:"id"`
	Names   []string  `json:"names"`
	Digest  string    `json:"digest"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
}

func printImagesJSON(c *cli.Context, imgs []*store.Image) error {
	out := make([]imageJSON, 0, len(imgs))
	for _, im := range imgs {
		names := im.Names
		if names == nil {
			names = []string{}
		}
		out = append(out, imageJSON{im.ID, names, im.Digest, im.Created, im.Size})
	}
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func printImagesTable(c *cli.Context, imgs []*store.Image) error {
	w := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	for _, im := range imgs {
		created := units.HumanDuration(time.Since(im.Created)) + " ago"
		size := units.HumanSizeWithPrecision(float64(im.Size), 3)
		names := im.Names
		if len(names) == 0 {
			names = []string{"<none>:<none>"}
		}
		for _, n := range names {
			repo, tag := splitName(n)
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", repo, tag, im.ID[:12], created, size)
		}
	}
	return w.Flush()
}

func splitName(n string) (repo, tag string) {
	named, err := reference.ParseNormalizedNamed(n)
	if err != nil {
		return n, ""
	}
	tag = "<none>"
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	return named.Name(), tag
}
