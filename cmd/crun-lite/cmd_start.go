package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
	"github.com/crun-lite/crun-lite/userns"
)

// create, start and restart: kept containers made now and run later, in
// the lean build as run is (start and restart start containers).

func createCommand() *cli.Command {
	var flags []cli.Flag
	for _, f := range runCommand().Flags {
		switch f.Names()[0] {
		case "detach", "detach-keys", "sig-proxy": // start decides those
		default:
			flags = append(flags, f)
		}
	}
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container without starting it",
		ArgsUsage: "IMAGE [COMMAND [ARG...]]",
		Description: `Makes a kept container from IMAGE as run would, with run's options (pulling
IMAGE first when it is not in the store), starts nothing and prints its ID;
ps -a shows it Created until start runs it. With --rm it is removed once a
start's run of it exits.

Examples:
   crun-lite create --name web IMAGE httpd -f
   crun-lite start web`,
		Flags:  flags,
		Action: withStore(createAction),
	}
}

func createAction(c *cli.Context, e *env) error {
	ro, err := runOptions(c, e)
	if err != nil {
		return err
	}
	id, err := run.Create(e.ctx, e.store, ro)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, id)
	return nil
}

func startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start created or exited containers",
		ArgsUsage: "CONTAINER...",
		Description: `Starts each CONTAINER (created, or exited: it runs its command again on the
same writable layer, so what earlier runs wrote is still there) in the
background, logged by a monitor as run -d's, and prints it as given. A running
CONTAINER is left as it is. With --attach, crun-lite then attaches to it as
attach does, from its first output on: its output is printed here (stdin goes
to it too with --interactive), the detach keys leave it running, and
crun-lite exits with its exit code when it ends. A running CONTAINER is
attached to.

Examples:
   crun-lite start web
   crun-lite start -a job
   crun-lite start -ai shell`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "attach", Aliases: []string{"a"}, Usage: "attach to the container: its output here, its exit code crun-lite's", Category: catContainer},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "with --attach, pass stdin to the container", Category: catContainer},
			&cli.StringFlag{Name: "detach-keys", Value: run.DefaultDetachKeys, Usage: "with --attach, `KEYS` that detach: comma-separated, a character or ctrl-X each (\"\": none)", Category: catContainer},
			&cli.BoolFlag{Name: "sig-proxy", Value: true, Usage: "with --attach, pass the signals crun-lite gets on to the container (without -t)", Category: catContainer},
		},
		Action: withStore(startAction),
	}
}

func startAction(c *cli.Context, e *env) error {
	if c.NArg() == 0 {
		return errors.New("start needs a CONTAINER (name or ID)")
	}
	attach := c.Bool("attach")
	if attach && c.NArg() > 1 {
		return errors.New("you cannot start and attach multiple containers at once")
	}
	var ao run.AttachOptions
	if attach {
		keys, err := run.ParseDetachKeys(c.String("detach-keys"))
		if err != nil {
			return err
		}
		ao = run.AttachOptions{NoStdin: !c.Bool("interactive"), SigProxy: c.Bool("sig-proxy"), DetachKeys: keys}
	}
	if c.NArg() > 1 {
		return eachInChild(c, e, "start")
	}
	ref := c.Args().First()
	if fd := userns.AttachFD(); fd >= 0 {
		return attachHanded(e, fd, ref, ao)
	}
	in, err := run.Lookup(e.store, ref, true)
	if err != nil {
		return err
	}
	forked := userns.DetachFD() >= 0
	if in.Running() {
		switch {
		case attach && forked:
			return in.HandAttach()
		case attach:
			return attachExit(in.Attach(ao, run.HostStdio()))
		}
		fmt.Fprintln(c.App.Writer, ref) // Podman: nothing to do
		return nil
	}
	if attach && !forked {
		// No waiting parent to attach (the constructor could not fork):
		// in the foreground, as run without -d.
		ctr, err := run.PrepareStart(e.store, in, run.StartOptions{StartNetworkHub: startNetworkHub})
		if err != nil {
			return err
		}
		io := run.HostStdio()
		if ao.NoStdin {
			io.In = nil
		}
		return ctr.RunHere(io)
	}
	return startKept(c, e, in, ref, attach)
}

// attachExit is how start -a ends: with the container's exit code, or 0
// when the detach keys left it running.
// attachHanded is the waiting half of start -a and of a run through a
// monitor (userns/detach.c): our child started container ref and sent a
// connection to it, which holds its output and exit code even once it is
// gone (--rm).
func attachHanded(e *env, fd int, ref string, o run.AttachOptions) error {
	in, err := run.Lookup(e.store, ref, true)
	if err != nil {
		in = &run.Info{Name: ref}
	}
	code, err := in.AttachOver(fd, o, run.HostStdio())
	if err == nil {
		in.WaitCleaned(e.store)
	}
	return attachExit(code, err)
}

func attachExit(code int, err error) error {
	switch {
	case errors.Is(err, run.ErrDetached):
		return nil
	case err != nil:
		return err
	case code != 0:
		return exitStatus(code)
	}
	return nil
}

// startKept starts the kept container in in the background; attach: for
// the waiting parent of start -a (userns/detach.c) to attach to.
func startKept(c *cli.Context, e *env, in *run.Info, ref string, attach bool) error {
	ctr, err := run.PrepareStart(e.store, in, run.StartOptions{Detach: true, StartNetworkHub: startNetworkHub})
	if err != nil {
		return err
	}
	return ctr.Detach(run.DetachOptions{
		ID:      c.App.Writer,
		Say:     ref,
		Attach:  attach,
		Cleanup: func(id string) []string { return cleanupArgs(c, e, id) },
	})
}

func restartCommand() *cli.Command {
	return &cli.Command{
		Name:      "restart",
		Usage:     "stop containers, then start them again",
		ArgsUsage: "CONTAINER...",
		Description: `Stops each running CONTAINER as stop does (its stop signal, SIGKILL --time
seconds later), then starts it in the background as start does, and prints it
as given. A CONTAINER that does not run is started.

Examples:
   crun-lite restart web
   crun-lite restart -t 0 web`,
		Flags: []cli.Flag{
			&cli.UintFlag{Name: "time", Aliases: []string{"t"}, Value: 10, Usage: "wait `SECONDS` before SIGKILL", Category: catContainer},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() == 0 {
				return errors.New("restart needs a CONTAINER (name or ID)")
			}
			if c.NArg() > 1 {
				return eachInChild(c, e, "restart", "--time", fmt.Sprint(c.Uint("time")))
			}
			ref := c.Args().First()
			in, err := run.Lookup(e.store, ref, true)
			if err != nil {
				return err
			}
			if err := in.Stop(time.Duration(c.Uint("time")) * time.Second); err != nil {
				return err
			}
			if in, err = run.Lookup(e.store, ref, true); err != nil {
				return err
			}
			return startKept(c, e, in, ref, false)
		}),
	}
}

// eachInChild runs `verb flags... CONTAINER` as a crun-lite of its own for
// each CONTAINER, one after the other: a detached container's monitor
// replaces the process that started it, so one process starts one. It goes
// on after a failure, as Podman does, and fails as the last one did (each
// printed its own error).
func eachInChild(c *cli.Context, e *env, verb string, flags ...string) error {
	var last error
	for _, ref := range c.Args().Slice() {
		args := selfArgs(c, e, append(append([]string{verb}, flags...), "--", ref)...)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = c.App.Writer, c.App.ErrWriter
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, userns.DetachEnv+"=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				return err
			}
			last = exitStatus(ee.ExitCode())
		}
	}
	return last
}
