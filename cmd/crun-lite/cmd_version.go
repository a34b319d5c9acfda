//go:build !lean

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
	"github.com/crun-lite/crun-lite/userns"
)

// versionInfo is what version prints, under Podman's keys: scripts read
// {{.Client.Version}}.
type versionInfo struct {
	Client struct {
		Version   string `json:"Version"`
		GoVersion string `json:"GoVersion"`
		OsArch    string `json:"OsArch"`
		Os        string `json:"Os"`
	} `json:"Client"`
}

var versionFormats = formats{text: "text", templates: anyTemplate}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print crun-lite's version",
		Description: `Prints the version, the Go version it was built with and the platform,
as Podman's version does; --format json or a Go template of .Client.Version,
.Client.GoVersion, .Client.OsArch, .Client.Os.

Examples:
   crun-lite version
   crun-lite version --format '{{.Client.Version}}'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "output `FORMAT`: json or a Go template such as '{{.Client.Version}}'", Category: catOutput},
		},
		Action: func(c *cli.Context) error {
			var v versionInfo
			v.Client.Version, v.Client.GoVersion = version, runtime.Version()
			v.Client.Os, v.Client.OsArch = runtime.GOOS, runtime.GOOS+"/"+runtime.GOARCH
			f, err := parseFormat(c.String("format"), versionFormats)
			if err != nil {
				return err
			}
			return printRows(c.App.Writer, f, v, []versionInfo{v}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Version:      %s\nGo Version:   %s\nOS/Arch:      %s\n", v.Client.Version, v.Client.GoVersion, v.Client.OsArch)
				return err
			})
		},
	}
}

// unshareCommand runs a command in the user namespace crun-lite's
// containers share (the process joined it before Go started, as every
// command does), as Podman's unshare does: files of the store owned by
// subordinate ids are then the command's to change or remove.
func unshareCommand() *cli.Command {
	return &cli.Command{
		Name:      "unshare",
		Usage:     "run a command in crun-lite's user namespace",
		ArgsUsage: "[COMMAND [ARG...]]",
		Description: `Runs COMMAND (default: $SHELL) as root of the user namespace that maps you
and your subordinate ids, the one crun-lite's containers use, with
CONTAINERS_GRAPHROOT and CONTAINERS_RUNROOT naming the store. Inside, files
of the store and of volumes that belong to a container's users can be
changed and removed; outside, they belong to your subordinate ids.
Everything after unshare is the command's, its flags included. As root,
which has no such namespace, it refuses as Podman's does (exit 125).

Examples:
   crun-lite unshare rm -rf ~/old-volume-copy
   crun-lite unshare cat /proc/self/uid_map`,
		SkipFlagParsing: true,
		Action: withStore(func(c *cli.Context, e *env) error {
			args := c.Args().Slice()
			if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
				return cli.ShowCommandHelp(c, "unshare")
			}
			if !userns.Rootless() {
				// Podman's refusal and exit code: root has no namespace to enter.
				return errors.New("please use unshare with rootless: as root, run the command itself")
			}
			if len(args) > 0 && args[0] == "--" {
				args = args[1:]
			}
			if len(args) == 0 {
				sh := os.Getenv("SHELL")
				if sh == "" {
					sh = "/bin/sh"
				}
				args = []string{sh}
			}
			path, err := exec.LookPath(args[0])
			if err != nil {
				return &run.ExitError{Code: 127, Err: fmt.Errorf("%s: command not found in $PATH", args[0])}
			}
			env := append(os.Environ(), "CONTAINERS_GRAPHROOT="+e.store.GraphRoot(), "CONTAINERS_RUNROOT="+e.store.RunRoot())
			err = syscall.Exec(path, args, env)
			if errors.Is(err, syscall.EACCES) {
				return &run.ExitError{Code: 126, Err: fmt.Errorf("%s: %w", args[0], err)}
			}
			return fmt.Errorf("exec %s: %w", args[0], err)
		}),
	}
}
