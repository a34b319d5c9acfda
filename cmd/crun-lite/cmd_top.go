//go:build !lean

package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
)

func topCommand() *cli.Command {
	return &cli.Command{
		Name:      "top",
		Usage:     "show the processes of a running container",
		ArgsUsage: "CONTAINER [DESCRIPTOR...]",
		Description: `Lists the processes of CONTAINER as Podman's top does, read from /proc
without running anything inside: pids as the container sees them, users and
groups by the names of its own /etc/passwd and /etc/group. The columns are
USER PID PPID %CPU ELAPSED TTY TIME COMMAND unless DESCRIPTORs name others:
user, ruser, group, rgroup, pid, ppid, pgid, pcpu, etime, time, tty, nice,
vsz, rss, state, comm, args, hpid, huser (the pid and user on the host), or
their AIX codes (%U %p %C %a ...).

Examples:
   crun-lite top web
   crun-lite top web pid,args
   crun-lite top web %U %p %a`,
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() < 1 {
				return errors.New("top needs a CONTAINER (name or ID)")
			}
			in, err := run.Lookup(e.store, c.Args().First(), true)
			if err != nil {
				return err
			}
			rows, err := in.Top(c.Args().Tail())
			if err != nil {
				return err
			}
			// Podman's layout: columns at least 12 wide, two spaces apart.
			w := tabwriter.NewWriter(c.App.Writer, 12, 1, 2, ' ', 0)
			for _, r := range rows {
				fmt.Fprintln(w, strings.Join(r, "\t"))
			}
			return w.Flush()
		}),
	}
}
