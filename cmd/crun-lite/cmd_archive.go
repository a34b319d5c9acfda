//go:build !lean

package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/crun-lite/crun-lite/store/transfer"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "make an image from a tarball of a root filesystem",
		ArgsUsage: "FILE [NAME[:TAG]]",
		Description: `Makes a one-layer image whose layer is the root filesystem in the tarball
FILE (plain or compressed: .tar, .tar.gz, .tar.zst, .tar.xz; - reads it from
stdin) and stores it as NAME
(localhost/NAME:latest without registry or tag), or by ID only. --change sets
the image's configuration with Dockerfile instructions, as podman import does:
CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL
(shell form "CMD /app --serve" or exec form 'CMD ["/app", "--serve"]').
Prints the image ID. Keeps the store's reserve free, as pull does
(--storage-opt crunlite.reserve=SIZE; see crun-lite pull).

Examples:
   tar -C rootfs -c . | crun-lite import - myapp
   crun-lite import -c 'CMD ["/bin/sh"]' -c 'ENV LANG=C.UTF-8' -c 'WORKDIR /srv' rootfs.tar.gz myapp:1.0`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "change", Aliases: []string{"c"}, Usage: "apply the Dockerfile `INSTRUCTION` (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL); repeatable", Category: catImageConfig},
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "record `TEXT` as the layer's history comment", Category: catImageConfig},
			&cli.StringFlag{Name: "arch", Usage: "claim `ARCH` as the image's architecture (default: the host's)", Category: catPlatform},
			&cli.StringFlag{Name: "os", Usage: "claim `OS` as the image's system (default: the host's)", Category: catPlatform},
			&cli.StringFlag{Name: "variant", Usage: "claim `VARIANT` as the image's architecture variant", Category: catPlatform},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "show no progress", Category: catOutput},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return errors.New("import needs a ROOTFS tarball and at most one NAME")
			}
			o := transfer.ImportOptions{
				Changes: c.StringSlice("change"),
				Message: c.String("message"),
				OS:      c.String("os"),
				Arch:    c.String("arch"),
				Variant: c.String("variant"),
				Stdin:   os.Stdin,
				Report:  c.App.ErrWriter,
			}
			if c.Bool("quiet") {
				o.Report = nil
			}
			img, err := transfer.Import(e.ctx, e.store, c.Args().First(), c.Args().Get(1), o)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, img.ID)
			return nil
		}),
	}
}

func loadCommand() *cli.Command {
	return &cli.Command{
		Name:  "load",
		Usage: "load images from an oci-archive or docker-archive",
		Description: `Loads every image of an archive written by crun-lite save, podman save, docker
save or skopeo: the format (oci-archive or docker-archive) is read from the
content, which may be compressed. Without --input the archive is read from
stdin. Images keep the names they were saved with. Prints one
"Loaded image: NAME" line per image (its ID when it has no name). Keeps the
store's reserve free, as pull does (--storage-opt crunlite.reserve=SIZE; see
crun-lite pull).

Examples:
   crun-lite load -i busybox.tar
   zcat debian.tar.gz | crun-lite load`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "read the archive from `FILE` (default: stdin)", Category: catArchive},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "show no progress", Category: catOutput},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			file := c.String("input")
			if file == "" && term.IsTerminal(int(os.Stdin.Fd())) {
				return errors.New("load needs --input FILE, or an archive piped to stdin")
			}
			o := transfer.PullOptions{Report: c.App.ErrWriter}
			if c.Bool("quiet") {
				o.Report = nil
			}
			imgs, err := transfer.Load(e.ctx, e.store, file, os.Stdin, o)
			for _, img := range imgs {
				name := img.ID
				if len(img.Names) > 0 {
					name = strings.Join(img.Names, ", ")
				}
				fmt.Fprintf(c.App.Writer, "Loaded image: %s\n", name)
			}
			return err
		}),
	}
}

func saveCommand() *cli.Command {
	return &cli.Command{
		Name:      "save",
		Usage:     "write images to an archive",
		ArgsUsage: "IMAGE...",
		Description: `Writes IMAGE to an archive that crun-lite load, podman load or docker load
read: docker-archive (the default, as in Podman; several IMAGEs allowed),
oci-archive, or oci-dir (an OCI layout directory). An IMAGE given by name is
saved with that name; by ID, without one. Without --output the archive goes
to stdout, which must not be a terminal. The archive appears only when
complete.

Examples:
   crun-lite save -o busybox.tar busybox
   crun-lite save --format oci-archive -o debian.tar debian
   crun-lite save busybox | gzip > busybox.tar.gz`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the archive to `FILE` (default: stdout)", Category: catArchive},
			&cli.StringFlag{Name: "format", Value: "docker-archive", Usage: "archive `FORMAT`: " + strings.Join(transfer.SaveFormats, ", "), Category: catArchive},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() < 1 {
				return errors.New("save needs an IMAGE")
			}
			out := c.String("output")
			if out == "" && term.IsTerminal(int(os.Stdout.Fd())) {
				return errors.New("save needs --output FILE, or stdout redirected away from the terminal")
			}
			return transfer.Save(e.ctx, e.store, c.Args().Slice(), out, c.String("format"), c.App.Writer)
		}),
	}
}
