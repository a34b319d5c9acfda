//go:build !lean

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store/inspect"
	"github.com/crun-lite/crun-lite/store/registry"
)

// infoReport is what crun-lite info prints.
type infoReport struct {
	Version    string             `json:"version"`
	Kernel     string             `json:"kernel"`
	Store      *inspect.StoreInfo `json:"store"`
	Registries *registry.Summary  `json:"registries"`
}

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:  "info",
		Usage: "show how crun-lite stores images and where",
		Description: `Shows the store: its graph driver and why it was chosen when the store was
made (native overlay, overlay through fuse-overlayfs, or vfs), where images
and runtime state live, the filesystem under them, and how many images,
containers and layers it holds; and the registries that registries.conf
configures. --format json prints the same as JSON.

Examples:
   crun-lite info
   crun-lite info --format json | jq -r .store.driver`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "output `FORMAT`: text or json", Category: catOutput},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			si, err := inspect.Store(e.store)
			if err != nil {
				return err
			}
			si.Running = state.Running(e.store)
			ri, err := registry.Summarize()
			if err != nil {
				return err
			}
			var u unix.Utsname
			_ = unix.Uname(&u)
			rep := infoReport{Version: version, Kernel: unix.ByteSliceToString(u.Release[:]), Store: si, Registries: ri}
			f, err := parseFormat(c.String("format"), infoFormats)
			if err != nil {
				return err
			}
			return f.print(c.App.Writer, rep, func(w io.Writer) error {
				printInfo(w, &rep)
				return nil
			})
		}),
	}
}

// infoFormats: info has no templates.
var infoFormats = formats{text: "text", advice: "use text or json"}

func printInfo(w io.Writer, r *infoReport) {
	s := r.Store
	driver := s.Driver
	if s.MountProgram != "" {
		driver += " (mount program " + s.MountProgram + ")"
	}
	fmt.Fprintf(w, "version: %s\nkernel: %s\nstore:\n", r.Version, r.Kernel)
	fmt.Fprintf(w, "  driver: %s\n  why: %s\n", driver, s.DriverReason)
	if s.Driver == "overlay" {
		fmt.Fprintf(w, "  volatile mounts: %t\n", s.Volatile)
	}
	mode := "full"
	if s.Userns == "single" {
		mode = "single-id (every file is container root's)"
	}
	fmt.Fprintf(w, "  user namespace: %s\n", mode)
	fmt.Fprintf(w, "  graph root: %s (%s)\n  run root: %s\n", s.GraphRoot, s.GraphFS, s.RunRoot)
	fmt.Fprintf(w, "  images: %d\n  containers: %d stored, %d running\n  layers: %d\n", s.Images, s.Containers, s.Running, s.Layers)
	fmt.Fprintf(w, "registries:\n  search: %s\n", listOrNone(r.Registries.Search))
	fmt.Fprintf(w, "  insecure: %s\n  blocked: %s\n  mirrored: %s\n",
		listOrNone(r.Registries.Insecure), listOrNone(r.Registries.Blocked), listOrNone(r.Registries.Mirrors))
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
