//go:build !lean

package main

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"
	"go.podman.io/image/v5/docker/reference"

	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/store/registry"
	"github.com/crun-lite/crun-lite/store/transfer"
)

func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "copy an image into the store",
		ArgsUsage: "IMAGE",
		Description: `Pulls IMAGE from a registry (host[:port]/name[:tag], or a short name resolved
through registries.conf), or from another containers/image transport:
docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, dir:DIR.
Layers are fetched and unpacked in parallel. Progress goes to stderr (a bar per
layer on a terminal, a line per layer otherwise); the image ID goes to stdout.
Pulling an image that is already up to date asks the registry for its manifest
digest and nothing else.

A pull keeps a reserve free on the store's file system, as load and import do:
a small download can unpack to gigabytes (sparse files in layers are written
out in full). It refuses to start with less than the reserve free, and stops,
exiting 125 and removing what it wrote, when free space drops below it. The
reserve is 5% of the file system's size, at most 1 GiB; the global
--storage-opt crunlite.reserve=SIZE sets it (512M, 2G, 10%; 0 turns it off).

Registries are configured as for Podman: registries.conf (unqualified-search
registries, short-name aliases, mirrors, insecure registries; the system's,
~/.config/containers/registries.conf, or $CONTAINERS_REGISTRIES_CONF), and
credentials from crun-lite login ($XDG_RUNTIME_DIR/containers/auth.json,
~/.config/containers/auth.json, ~/.docker/config.json, or $REGISTRY_AUTH_FILE).
An ambiguous short name fails with the candidates when there is no terminal
to ask on.

Examples:
   crun-lite pull --tls-verify=false 127.0.0.1:5000/busybox
   crun-lite pull --platform linux/arm64 docker.io/library/debian
   crun-lite pull oci-archive:busybox.tar`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the image ID, no progress", Category: catOutput},
		}, registryFlags()...),
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() != 1 {
				return errors.New("pull needs exactly one IMAGE")
			}
			o, err := pullOptions(c)
			if err != nil {
				return err
			}
			img, err := transfer.Pull(e.ctx, e.store, c.Args().First(), o)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, img.ID)
			return nil
		}),
	}
}

// registryFlags are the flags of commands that contact registries.
func registryFlags() []cli.Flag {
	return []cli.Flag{
		tlsVerifyFlag(catRegistry),
		&cli.StringFlag{Name: "authfile", Usage: "read credentials from `FILE` (default: $REGISTRY_AUTH_FILE, else auth.json as written by crun-lite login)", Category: catCredentials},
		&cli.StringFlag{Name: "creds", Usage: "use `USER[:PASSWORD]` instead of stored credentials", Category: catCredentials},
		&cli.StringFlag{Name: "platform", Usage: "choose the image for `OS/ARCH[/VARIANT]` from a manifest list", Category: catPlatform},
		&cli.StringFlag{Name: "arch", Usage: "choose the image for `ARCH` from a manifest list", Category: catPlatform},
		&cli.StringFlag{Name: "os", Usage: "choose the image for `OS` from a manifest list", Category: catPlatform},
		&cli.StringFlag{Name: "variant", Usage: "choose the image for `VARIANT` (e.g. v8) from a manifest list", Category: catPlatform},
	}
}

// pullOptions turns the registry flags into pull options.
func pullOptions(c *cli.Context) (transfer.PullOptions, error) {
	o := transfer.PullOptions{
		Options: registry.Options{
			TLSVerify: tlsVerify(c),
			AuthFile:  c.String("authfile"),
			Creds:     c.String("creds"),
		},
		Report: c.App.ErrWriter,
	}
	if c.Bool("quiet") {
		o.Report = nil
	}
	if p := c.String("platform"); p != "" {
		parts := strings.Split(p, "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return o, fmt.Errorf("--platform %q: use OS/ARCH[/VARIANT], e.g. linux/arm64", p)
		}
		o.OS, o.Arch = parts[0], parts[1]
		if len(parts) == 3 {
			o.Variant = parts[2]
		}
	}
	for flag, dst := range map[string]*string{"os": &o.OS, "arch": &o.Arch, "variant": &o.Variant} {
		if v := c.String(flag); v != "" {
			*dst = v
		}
	}
	return o, nil
}

func imagesCommand() *cli.Command {
	return &cli.Command{
		Name:      "images",
		Usage:     "list images in the store",
		ArgsUsage: "[NAME[:TAG]]",
		Description: `Lists the images in the store, newest first: one line per name, or one line
for an image without any. NAME lists only images whose repository is NAME or
ends in /NAME (shell patterns allowed). Sizes are those of the unpacked layers.

Examples:
   crun-lite images
   crun-lite images -q --filter dangling=true
   crun-lite images --format json busybox
   crun-lite images --format '{{.Repository}}:{{.Tag}}'`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only image IDs", Category: catOutput},
			&cli.BoolFlag{Name: "no-trunc", Usage: "print full image IDs", Category: catOutput},
			&cli.BoolFlag{Name: "noheading", Aliases: []string{"n"}, Usage: "leave out the table's header", Category: catOutput},
			&cli.StringFlag{Name: "format", Usage: "output `FORMAT`: table, json, or a Go template of .Repository .Tag .ID .Digest .CreatedAt .CreatedSince .Size", Category: catOutput},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "list only images matching `FILTER`: dangling=true|false, reference=PATTERN", Category: catSelection},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			imgs, err := e.store.Images()
			if err != nil {
				return err
			}
			filters := c.StringSlice("filter")
			if c.NArg() > 0 {
				filters = append(filters, "reference="+c.Args().First())
			}
			if imgs, err = filterImages(imgs, filters); err != nil {
				return err
			}
			if c.Bool("quiet") {
				for _, im := range imgs {
					fmt.Fprintln(c.App.Writer, idColumn(c, im.ID))
				}
				return nil
			}
			f, err := parseFormat(c.String("format"), imagesFormats)
			if err != nil {
				return err
			}
			f.noHeading = c.Bool("noheading")
			rows := imageRows(c, imgs)
			return printRows(c.App.Writer, f, imagesJSON(imgs), rows, func(w io.Writer) error { return printImagesTable(w, rows, !f.noHeading) })
		}),
	}
}

// filterImages keeps the images that match every filter.
func filterImages(imgs []*store.Image, filters []string) ([]*store.Image, error) {
	for _, f := range filters {
		key, val, _ := strings.Cut(f, "=")
		var keep func(*store.Image) bool
		switch key {
		case "dangling":
			if val != "true" && val != "false" {
				return nil, fmt.Errorf("--filter %s: use dangling=true or dangling=false", f)
			}
			keep = func(im *store.Image) bool { return (len(im.Names) == 0) == (val == "true") }
		case "reference":
			keep = func(im *store.Image) bool { return referenceMatches(im.Names, val) }
		default:
			return nil, fmt.Errorf("unknown --filter %q: use dangling=true|false or reference=PATTERN", f)
		}
		var out []*store.Image
		for _, im := range imgs {
			if keep(im) {
				out = append(out, im)
			}
		}
		imgs = out
	}
	return imgs, nil
}

// referenceMatches matches a pattern against a name's repository, its last
// path elements, and, with a tag in the pattern, the tag.
func referenceMatches(names []string, pattern string) bool {
	for _, n := range names {
		repo, tag := splitName(n)
		pr, pt := pattern, ""
		if i := strings.LastIndex(pattern, ":"); i >= 0 && !strings.Contains(pattern[i+1:], "/") {
			pr, pt = pattern[:i], pattern[i+1:] // not the port of host:port/name
		}
		if pt != "" {
			if ok, _ := path.Match(pt, tag); !ok {
				continue
			}
		}
		parts := strings.Split(repo, "/")
		for i := range parts {
			if ok, _ := path.Match(pr, strings.Join(parts[i:], "/")); ok {
				return true
			}
		}
	}
	return false
}

type imageJSON struct {
	ID      string    `json:"id"`
	Names   []string  `json:"names"`
	Digest  string    `json:"digest"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
}

func imagesJSON(imgs []*store.Image) []imageJSON {
	out := make([]imageJSON, 0, len(imgs))
	for _, im := range imgs {
		names := im.Names
		if names == nil {
			names = []string{}
		}
		out = append(out, imageJSON{im.ID, names, im.Digest, im.Created, im.Size})
	}
	return out
}

// imagesFormats: templates see one imageRow per line, as podman images
// --format '{{.Repository}}:{{.Tag}}' does.
var imagesFormats = formats{
	text:      "table",
	templates: bracedTemplates,
	headers:   map[string]string{"ID": "IMAGE ID", "CreatedSince": "CREATED", "Id": "IMAGE ID"},
	advice:    "use table, json or a Go template such as '{{.Repository}}:{{.Tag}}'",
}

// imageRow is one line of images: an image under one of its names. Its
// fields are what --format templates see, with Podman's names.
type imageRow struct {
	Repository, Tag, ID, Digest string
	CreatedAt                   time.Time
	CreatedSince, Size          string

	fullID string
}

// Id is the image's full ID, as {{.Id}} is in Podman's images (where
// {{.ID}} is the short one).
func (r imageRow) Id() string { return r.fullID } //nolint:revive // Podman's name

func imageRows(c *cli.Context, imgs []*store.Image) []imageRow {
	var rows []imageRow
	for _, im := range imgs {
		names := im.Names
		if len(names) == 0 {
			names = []string{"<none>:<none>"}
		}
		for _, n := range names {
			repo, tag := splitName(n)
			rows = append(rows, imageRow{
				Repository: repo, Tag: tag, ID: idColumn(c, im.ID), Digest: im.Digest, fullID: im.ID,
				CreatedAt:    im.Created,
				CreatedSince: units.HumanDuration(time.Since(im.Created)) + " ago",
				Size:         spacedSize(im.Size),
			})
		}
	}
	return rows
}

func printImagesTable(out io.Writer, rows []imageRow, header bool) error {
	w := newTable(out)
	if header {
		fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size)
	}
	return w.Flush()
}

// spacedSize is a size as Podman's images prints it: "2.14 MB", with a
// space before the unit (ps --size has none: "2.14MB").
func spacedSize(n int64) string {
	s := units.HumanSizeWithPrecision(float64(n), 3)
	i := strings.LastIndexAny(s, "0123456789")
	return s[:i+1] + " " + s[i+1:]
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
