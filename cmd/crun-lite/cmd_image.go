//go:build !lean

package main

import (
	"errors"
	"fmt"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/store/inspect"
)

// imageCommands are the image commands beside pull and images: the
// top-level ones Podman users type, and the same under "image".
func imageCommands() []*cli.Command {
	return []*cli.Command{
		imageCommand(), rmiCommand(), tagCommand(), untagCommand(),
		importCommand(), loadCommand(), saveCommand(), loginCommand(), logoutCommand(), infoCommand(),
	}
}

func imageCommand() *cli.Command {
	ls := imagesCommand()
	ls.Name, ls.Aliases = "ls", []string{"list"}
	rm := rmiCommand()
	rm.Name = "rm"
	return &cli.Command{
		Name:  "image",
		Usage: "manage images",
		Description: `The image commands, by the names Podman gives them: crun-lite image ls is
crun-lite images, crun-lite image rm is crun-lite rmi, and so on.

Examples:
   crun-lite image ls
   crun-lite image rm localhost/busybox
   crun-lite image prune --all --force`,
		Subcommands: []*cli.Command{
			ls, rm, pullCommand(), tagCommand(), untagCommand(), imageInspectCommand(),
			importCommand(), loadCommand(), saveCommand(), existsCommand(), pruneCommand(),
		},
	}
}

// Exit codes of rmi, as Podman's: 1 when an image is unknown, 2 when one is
// in use.
const (
	exitImageUnknown = 1
	exitImageInUse   = 2
)

func rmiCommand() *cli.Command {
	return &cli.Command{
		Name:      "rmi",
		Usage:     "remove images",
		ArgsUsage: "IMAGE...",
		Description: `Removes each IMAGE (name, ID or ID prefix). A name of an image that has other
names is only untagged; the image and its layers go with its last name. An
image that a container uses stays: --force removes the stopped containers
made from it too, but a running container always keeps its image. Exit code
1 when an IMAGE is not known, 2 when one is in use.

Examples:
   crun-lite rmi localhost/busybox
   crun-lite rmi --all --force`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every image (those containers use only with --force)", Category: catSelection},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove an image with several names, and the stopped containers that use it", Category: catSafety},
			&cli.BoolFlag{Name: "ignore", Aliases: []string{"i"}, Usage: "an IMAGE that is not in the store is not an error", Category: catSafety},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			refs := c.Args().Slice()
			if c.Bool("all") {
				imgs, err := e.store.Images()
				if err != nil {
					return err
				}
				for _, im := range imgs {
					refs = append(refs, im.ID)
				}
			} else if len(refs) == 0 {
				return errors.New("rmi needs an IMAGE or --all")
			}
			o := store.RemoveOptions{Force: c.Bool("force"), AllNames: c.Bool("all"), Busy: state.LiveImages(e.store)}
			var firstErr error
			for _, ref := range refs {
				rep, err := e.store.RemoveImage(ref, o)
				if err != nil && c.Bool("ignore") && errors.Is(err, store.ErrImageUnknown) {
					continue
				}
				if err != nil {
					if firstErr == nil {
						firstErr = err
					} else {
						printError(c.App.ErrWriter, err)
					}
					continue
				}
				for _, n := range rep.Untagged {
					fmt.Fprintf(c.App.Writer, "Untagged: %s\n", n)
				}
				for _, id := range rep.Deleted {
					fmt.Fprintf(c.App.Writer, "Deleted: %s\n", id)
				}
			}
			return rmiExit(firstErr)
		}),
	}
}

// rmiExit gives an rmi failure Podman's exit code.
func rmiExit(err error) error {
	switch {
	case errors.Is(err, store.ErrImageUnknown):
		return &run.ExitError{Code: exitImageUnknown, Err: err}
	case errors.Is(err, store.ErrImageInUse):
		return &run.ExitError{Code: exitImageInUse, Err: err}
	}
	return err
}

func tagCommand() *cli.Command {
	return &cli.Command{
		Name:      "tag",
		Usage:     "add names to an image",
		ArgsUsage: "IMAGE NAME[:TAG]...",
		Description: `Gives IMAGE more names. A NAME without a registry is stored as
localhost/NAME, and without a tag as NAME:latest, as Podman does.

Examples:
   crun-lite tag 127.0.0.1:5000/test/busybox mybox
   crun-lite tag mybox mybox:v1 registry.example/team/mybox:v1`,
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() < 2 {
				return errors.New("tag needs an IMAGE and at least one NAME")
			}
			img, err := e.store.Lookup(c.Args().First())
			if err != nil {
				return err
			}
			return e.store.Tag(img, c.Args().Tail()...)
		}),
	}
}

func untagCommand() *cli.Command {
	return &cli.Command{
		Name:      "untag",
		Usage:     "remove names from an image, keeping the image",
		ArgsUsage: "IMAGE [NAME...]",
		Description: `Removes the NAMEs from IMAGE, or all its names when none is given; the image
stays, without a name if it has none left (crun-lite image prune removes
those).

Examples:
   crun-lite untag mybox localhost/mybox:v1`,
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() < 1 {
				return errors.New("untag needs an IMAGE")
			}
			img, err := e.store.Lookup(c.Args().First())
			if err != nil {
				return err
			}
			removed, err := e.store.Untag(img, c.Args().Tail()...)
			for _, n := range removed {
				fmt.Fprintf(c.App.Writer, "Untagged: %s\n", n)
			}
			return err
		}),
	}
}

// imageInspectCommand is `image inspect`: images only (the top-level
// inspect, cmd_inspect.go, looks for a container first).
func imageInspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show the details of images as JSON",
		ArgsUsage: "IMAGE...",
		Description: `Prints a JSON array with one object per IMAGE, with the keys of Podman's
image inspect: Id, Digest, RepoTags, RepoDigests, Created, Config (Cmd,
Entrypoint, Env, WorkingDir, User, ...), Architecture, Os, Size,
GraphDriver, RootFS (Layers: DiffIDs, base first), Labels, Annotations,
ManifestType, History, NamesHistory. --format applies a Go template to each
image instead: .ID (or .Id), .RepoTags, .RootFS.Layers, .Config.Cmd, ...,
with Podman's functions json, upper, lower, title, join, split, truncate.

Examples:
   crun-lite inspect busybox
   crun-lite inspect --format '{{.ID}} {{.Config.Cmd}}' busybox
   crun-lite image inspect --format '{{json .RepoTags}}' busybox`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "print each image through the Go template `TEMPLATE` (default: json, a JSON array)", Category: catOutput},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() < 1 {
				return errors.New("inspect needs an IMAGE")
			}
			return inspectEach(c, c.Args().Slice(), func(ref string) (any, error) {
				return imageDetails(e, ref)
			})
		}),
	}
}

// imageDetails is what inspect prints of the image ref names.
func imageDetails(e *env, ref string) (*store.ImageDetails, error) {
	img, err := e.store.Lookup(ref)
	if err != nil {
		return nil, rmiExit(err)
	}
	return inspect.Image(e.ctx, e.store, img)
}

// inspectFormats: JSON by default, and any other --format is a template
// applied to each image.
var inspectFormats = formats{templates: anyTemplate, idAlias: true}

func existsCommand() *cli.Command {
	return &cli.Command{
		Name:      "exists",
		Usage:     "tell by the exit code whether an image is in the store",
		ArgsUsage: "IMAGE",
		Description: `Exits 0 when IMAGE is in the store, 1 when it is not, printing nothing.

Examples:
   crun-lite image exists busybox || crun-lite pull busybox`,
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() != 1 {
				return errors.New("image exists needs exactly one IMAGE")
			}
			_, err := e.store.Lookup(c.Args().First())
			if errors.Is(err, store.ErrImageUnknown) {
				return exitStatus(1)
			}
			return err
		}),
	}
}

func pruneCommand() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove images without a name, and layers no image uses",
		Description: `Removes the images that have no name and that no container uses (with --all,
every image no container uses), then the layers no image or container uses,
which interrupted pulls leave behind. Asks first unless --force.

Examples:
   crun-lite image prune -f
   crun-lite image prune --all --force`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every image no container uses, named or not", Category: catSelection},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation", Category: catSafety},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if !c.Bool("force") {
				what := "This removes images without a name that no container uses."
				if c.Bool("all") {
					what = "This removes every image that no container uses."
				}
				if yes, err := confirm(c, what); err != nil || !yes {
					return err
				}
			}
			rep, err := e.store.Prune(c.Bool("all"), state.LiveImages(e.store))
			if rep != nil {
				for _, id := range rep.Images {
					fmt.Fprintln(c.App.Writer, id)
				}
				if rep.LayersKept {
					fmt.Fprintln(c.App.ErrWriter, "Unused layers kept: a pull, load or import is running.")
				}
				fmt.Fprintf(c.App.ErrWriter, "Total reclaimed space: %s\n", units.HumanSizeWithPrecision(float64(rep.Size), 3))
			}
			return err
		}),
	}
}
