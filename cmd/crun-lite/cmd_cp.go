//go:build !lean

package main

import (
	"errors"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
)

func cpCommand() *cli.Command {
	return &cli.Command{
		Name:      "cp",
		Usage:     "copy files between a container and the host",
		ArgsUsage: "SRC DST",
		Description: `Copies SRC to DST, one of them CONTAINER:PATH (a name, an ID or an ID prefix;
the container may be running or exited), the other a host path, or - for a
tar stream: - as SRC extracts one from stdin into the directory DST, as DST
writes SRC as one to stdout. A directory is copied with all it holds, into
DST when DST is a directory, else as DST; SRC/. copies only what it holds.

Paths in the container are resolved inside its root, symlinks included: a
link to /etc/passwd or ../../host/file names the container's file, never
the host's. Files copied into the container belong to its root, those
copied out to you; modes and modification times are kept.

Examples:
   crun-lite cp web:/etc/os-release .
   crun-lite cp ./site web:/srv/
   crun-lite cp web:/var/log - | tar t`,
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() != 2 {
				return errors.New("cp needs a SRC and a DST, one of them CONTAINER:PATH")
			}
			var ends [2]run.CopyEnd
			for i, arg := range c.Args().Slice() {
				ref, p, inContainer := splitCopyArg(arg)
				ends[i].Path = p
				if inContainer {
					in, err := run.Lookup(e.store, ref, true)
					if err != nil {
						return err
					}
					ends[i].Container = in
				}
			}
			return run.Copy(e.store, ends[0], ends[1], os.Stdin, c.App.Writer, c.App.ErrWriter)
		}),
	}
}

// splitCopyArg reads a cp argument as Podman does: a path starting with /
// or . is the host's, else CONTAINER:PATH names a container's.
func splitCopyArg(arg string) (ref, p string, inContainer bool) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg, false
	}
	if ref, p, ok := strings.Cut(arg, ":"); ok {
		return ref, p, true
	}
	return "", arg, false
}
