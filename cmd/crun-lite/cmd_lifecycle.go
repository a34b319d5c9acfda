package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
	"github.com/crun-lite/crun-lite/run/spec"
)

// The commands that act on running containers are in the lean build too:
// they must be fast (stop -t 0 in a few milliseconds), and they find
// running containers from their run dirs, without opening the store.

func stopCommand() *cli.Command {
	return &cli.Command{
		Name:      "stop",
		Usage:     "stop running containers",
		ArgsUsage: "CONTAINER...",
		Description: `Sends each CONTAINER its stop signal (--stop-signal of run, else the image's
StopSignal, else SIGTERM), and SIGKILL when it still runs --time seconds later;
prints each CONTAINER as given once its exit is recorded. A container that
does not run is left as it is.

Examples:
   crun-lite stop web
   crun-lite stop -t 0 --all`,
		Flags: []cli.Flag{
			&cli.UintFlag{Name: "time", Aliases: []string{"t"}, Value: 10, Usage: "wait `SECONDS` before SIGKILL", Category: catContainer},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "stop every running container", Category: catSelection},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			refs, err := containerRefs(c, e, "stop")
			if err != nil {
				return err
			}
			timeout := time.Duration(c.Uint("time")) * time.Second
			return eachContainer(c, e, refs, func(in *run.Info, ref string) error {
				if err := in.Stop(timeout); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, ref)
				return nil
			})
		}),
	}
}

func killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "send a signal to running containers",
		ArgsUsage: "CONTAINER...",
		Description: `Sends SIGNAL (default SIGKILL) to the first process of each running CONTAINER
and prints CONTAINER as given.

Examples:
   crun-lite kill web
   crun-lite kill -s HUP web`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "KILL", Usage: "send `SIGNAL` (a name or number)", Category: catContainer},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every running container", Category: catSelection},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			sig, err := spec.ParseSignal(c.String("signal"))
			if err != nil {
				return err
			}
			refs, err := containerRefs(c, e, "kill")
			if err != nil {
				return err
			}
			return eachContainer(c, e, refs, func(in *run.Info, ref string) error {
				if !in.Running() {
					return fmt.Errorf("can only kill running containers. %s is in state %s: container state improper", in.ID, in.Status)
				}
				if err := in.Signal(sig); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, ref)
				return nil
			})
		}),
	}
}

func waitCommand() *cli.Command {
	return &cli.Command{
		Name:      "wait",
		Usage:     "wait for containers to exit and print their exit codes",
		ArgsUsage: "CONTAINER...",
		Description: `Waits until each CONTAINER has exited and prints its exit code, one line per
CONTAINER. With --condition running it waits until each runs instead.

Examples:
   crun-lite wait web`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "condition", Usage: "wait until the container is `STATE`: exited (the default) or running", Category: catContainer},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() == 0 {
				return errors.New("wait needs a CONTAINER (name or ID)")
			}
			cond := "exited"
			for _, v := range c.StringSlice("condition") {
				switch v {
				case "exited", "stopped":
					cond = "exited"
				case "running":
					cond = "running"
				default:
					return fmt.Errorf("unknown --condition %q: use exited or running", v)
				}
			}
			return eachContainer(c, e, c.Args().Slice(), func(in *run.Info, ref string) error {
				if cond == "running" {
					return waitRunning(c, e, ref)
				}
				code, err := in.Wait(e.store)
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, strconv.Itoa(code))
				return nil
			})
		}),
	}
}

// waitRunning polls until the container runs (a created one is started by
// another command).
func waitRunning(c *cli.Context, e *env, ref string) error {
	for {
		in, err := run.Lookup(e.store, ref, true)
		if err != nil {
			return err
		}
		if in.Status == "running" {
			fmt.Fprintln(c.App.Writer, "-1")
			return nil
		}
		if in.Status == "exited" {
			return fmt.Errorf("container %s exited before it was running", ref)
		}
		select {
		case <-e.ctx.Done():
			return e.ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// containerRefs are the command's CONTAINER arguments, or with --all every
// running container's ID.
func containerRefs(c *cli.Context, e *env, verb string) ([]string, error) {
	if !c.Bool("all") {
		if c.NArg() == 0 {
			return nil, fmt.Errorf("%s needs a CONTAINER (name or ID) or --all", verb)
		}
		return c.Args().Slice(), nil
	}
	cs, err := run.Containers(e.store, false)
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, in := range cs {
		if in.Status == "running" {
			refs = append(refs, in.ID)
		}
	}
	return refs, nil
}

// eachContainer looks up every ref (running ones from their run dirs,
// others from the store) and calls fn; it goes on after an error, prints
// each but the last, and returns the last, as Podman does.
func eachContainer(c *cli.Context, e *env, refs []string, fn func(in *run.Info, ref string) error, ignoreMissing ...bool) error {
	var last error
	for _, ref := range refs {
		err := func() error {
			in, err := run.Lookup(e.store, ref, true)
			if errors.Is(err, run.ErrNoSuchContainer) && len(ignoreMissing) > 0 && ignoreMissing[0] {
				return nil
			}
			if err != nil {
				return err
			}
			return fn(in, ref)
		}()
		if err != nil {
			if last != nil {
				printError(c.App.ErrWriter, last)
			}
			last = err
		}
	}
	return last
}

// replaceContainer removes the container named name, if there is one, for
// run --replace: killed first when it runs, as Podman does.
func replaceContainer(c *cli.Context, e *env, name string) error {
	in, err := run.Lookup(e.store, name, true)
	if errors.Is(err, run.ErrNoSuchContainer) {
		return nil
	}
	if err != nil {
		return err
	}
	if in.Name != name {
		return nil // an ID prefix, not the name
	}
	return run.Remove(e.store, in, true)
}

func attachCommand() *cli.Command {
	return &cli.Command{
		Name:      "attach",
		Usage:     "connect the terminal to a detached container",
		ArgsUsage: "CONTAINER",
		Description: `Connects this terminal (or stdin, stdout and stderr) to a container started
with run -d: its output is printed as it comes, what is typed goes to its
stdin, and the window size follows this terminal's. The detach keys (default
Ctrl-P Ctrl-Q) leave it running; otherwise attach ends when the container
exits, with its exit code.

Examples:
   crun-lite run -dit --name shell IMAGE sh
   crun-lite attach shell
   crun-lite attach --no-stdin web`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-stdin", Usage: "do not pass stdin on", Category: catContainer},
			&cli.BoolFlag{Name: "sig-proxy", Value: true, Usage: "pass the signals crun-lite gets on to the container (without -t)", Category: catContainer},
			&cli.StringFlag{Name: "detach-keys", Value: run.DefaultDetachKeys, Usage: "`KEYS` that detach: comma-separated, a character or ctrl-X each (\"\": none)", Category: catContainer},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() != 1 {
				return errors.New("attach needs one CONTAINER (name or ID)")
			}
			keys, err := run.ParseDetachKeys(c.String("detach-keys"))
			if err != nil {
				return err
			}
			in, err := run.Lookup(e.store, c.Args().First(), true)
			if err != nil {
				return err
			}
			code, err := in.Attach(run.AttachOptions{NoStdin: c.Bool("no-stdin"), SigProxy: c.Bool("sig-proxy"), DetachKeys: keys}, run.HostStdio())
			if errors.Is(err, run.ErrDetached) {
				return nil
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return exitStatus(code)
			}
			return nil
		}),
	}
}

// pause and unpause: see run/pause.go for how, without a cgroup freezer.
func pauseCommand(unpause bool) *cli.Command {
	name, usage, desc := "pause", "pause running containers", `Stops every process of each running CONTAINER (SIGSTOP, parents first: a
rootless user has no cgroup freezer here) and prints CONTAINER as given; ps
shows it Paused until unpause. exec refuses a paused container; stop and
kill still end it.

Examples:
   crun-lite pause web
   crun-lite pause --all`
	if unpause {
		name, usage, desc = "unpause", "continue paused containers", `Continues every process of each paused CONTAINER (SIGCONT, children first)
and prints CONTAINER as given.

Examples:
   crun-lite unpause web
   crun-lite unpause --all`
	}
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: "CONTAINER...", Description: desc,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: name + " every running container", Category: catSelection},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			refs, err := containerRefs(c, e, name)
			if err != nil {
				return err
			}
			return eachContainer(c, e, refs, func(in *run.Info, ref string) error {
				if c.Bool("all") && in.Paused() != unpause {
					return nil // --all: those it applies to
				}
				f := in.Pause
				if unpause {
					f = in.Unpause
				}
				if err := f(); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, ref)
				return nil
			})
		}),
	}
}
