package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
	"github.com/crun-lite/crun-lite/userns"
)

func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a command in a running container",
		ArgsUsage: "CONTAINER COMMAND [ARG...]",
		Description: `Runs COMMAND in the running CONTAINER (a name, an ID or an ID prefix; a --rm
container's host name is the first 12 digits of its ID): in its mount, pid,
UTS, IPC and network namespaces and its root directory, with its environment,
working directory, user, capabilities, seccomp filter and no_new_privs, which
the flags below change. crun-lite exits with the command's exit code; 125 when
crun-lite itself failed (no such container, or one that is not running), 126
when the command cannot be executed, 127 when it is not found.

-u resolves names in the container's own /etc/passwd and /etc/group, with the
user's supplementary groups there, and sets HOME to the user's. The working
directory of -w must exist.

The command dies with the container: when the container's first process exits,
the kernel ends every process of its pid namespace. A command started with -d
(its output goes to /dev/null) outlives crun-lite exec; once it ends it is
reaped by the host's init or your session's subreaper. -d cannot be combined
with -i or -t: nothing would stay to copy them. With -it on a terminal, the
command runs under a monitor of its own, as a detached container does: the
detach keys (Ctrl-P Ctrl-Q, --detach-keys) leave it running, and it ends with
the container; its output is not logged.

Examples:
   crun-lite exec web cat /etc/hostname
   crun-lite exec -it -u 1000 web sh
   crun-lite exec -d web touch /tmp/ready`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep stdin open and pass it to the command", Category: catContainer},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the command a terminal of its own (stdout and stderr merge)", Category: catContainer},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "start the command and return at once (its output goes to /dev/null)", Category: catContainer},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run as `USER[:GROUP]` (names or numbers from the container's /etc/passwd and /etc/group)", Category: catSecurity},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set `NAME=VALUE` (or NAME: the host's value) over the container's environment", Category: catContainer},
			&cli.StringSliceFlag{Name: "env-file", Usage: "read environment settings from `FILE` (NAME=VALUE lines)", Category: catContainer},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "run the command in `DIR`, which must exist (default: the container's)", Category: catContainer},
			&cli.BoolFlag{Name: "privileged", Usage: "give the command every capability of the user namespace and no seccomp filter", Category: catSecurity},
			&cli.StringFlag{Name: "detach-keys", Value: run.DefaultDetachKeys, Usage: "with -it on a terminal, `KEYS` that detach, leaving the command running: comma-separated, a character or ctrl-X each (\"\": none)", Category: catContainer},
		},
		Action: withStore(execAction),
	}
}

func execAction(c *cli.Context, e *env) error {
	if c.NArg() < 2 {
		return errors.New("exec needs a CONTAINER and a COMMAND: crun-lite exec [OPTIONS] CONTAINER COMMAND [ARG...]")
	}
	keys, err := run.ParseDetachKeys(c.String("detach-keys"))
	if err != nil {
		return err
	}
	if fd := userns.AttachFD(); fd >= 0 {
		// The waiting half of exec -it on a terminal (userns/detach.c):
		// our child started the command under a monitor.
		in := run.ExecSession(c.Args().First())
		return attachExit(in.AttachOver(fd, run.AttachOptions{SigProxy: true, DetachKeys: keys, TTY: true, Hangup: true}, run.HostStdio()))
	}
	o := run.ExecOptions{
		Container:   c.Args().First(),
		Command:     c.Args().Tail(),
		Interactive: c.Bool("interactive"),
		TTY:         c.Bool("tty"),
		Detach:      c.Bool("detach"),
		User:        c.String("user"),
		Env:         c.StringSlice("env"),
		EnvFiles:    c.StringSlice("env-file"),
		Workdir:     c.String("workdir"),
		Privileged:  c.Bool("privileged"),
		Monitor:     userns.DetachFD() >= 0,
		Timing:      e.timing,
	}
	return run.Exec(e.store, o, run.HostStdio())
}
