//go:build !lean

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/run"
	"github.com/crun-lite/crun-lite/run/network"
	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

func systemCommand() *cli.Command {
	return &cli.Command{
		Name:  "system",
		Usage: "manage the store as a whole",
		Description: `Commands for the whole store (--root): how much space it takes, and deleting
everything in it; and for the user namespace all commands share.

Examples:
   crun-lite system df
   crun-lite system reset --force
   crun-lite system migrate`,
		Subcommands: []*cli.Command{
			{
				Name:  "df",
				Usage: "show how much space images and containers take",
				Description: `Shows, for images, containers, and layers that no image uses (what
interrupted pulls leave), how many there are, how many are in use, their size
and how much removing the unused ones would free. Sizes are those of the
unpacked layers, each counted once however many images share it.

Examples:
   crun-lite system df
   crun-lite system df --format json`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "format", Usage: "output `FORMAT`: table or json", Category: catOutput},
				},
				Action: withStore(func(c *cli.Context, e *env) error {
					du, err := e.store.DiskUsage(state.LiveImages(e.store))
					if err != nil {
						return err
					}
					f, err := parseFormat(c.String("format"), dfFormats)
					if err != nil {
						return err
					}
					return f.print(c.App.Writer, du, func(w io.Writer) error { return printDiskUsage(w, du) })
				}),
			},
			{
				Name:  "migrate",
				Usage: "end the user namespace your commands share, so that the next command makes it anew",
				Description: `Ends the holder of the user namespace this command runs in, as podman system
migrate restarts its pause process: the next command makes a new namespace,
in the mode the host gives now. Run it after /etc/subuid and /etc/subgid
changed: a line added gives the full mode to a user of the single-id mode,
a range changed maps other ids. Refuses while containers of the store run
(stop them first): the new namespace could not reach them.

The single-id mode and the full mode have stores of their own: images of
the single-id store (crun-lite --userns=single images lists them) are not
moved, since their files lost their owners; pull them again in the full
mode, then crun-lite --userns=single system reset deletes the old store.

Examples:
   crun-lite system migrate`,
				Action: withStore(func(c *cli.Context, e *env) error {
					if n := state.Running(e.store); n > 0 {
						return hint.Wrap(fmt.Errorf("%d container(s) of %s are running in this user namespace", n, e.store.GraphRoot()),
							"stop them first: crun-lite stop --all")
					}
					pid, err := userns.StopHolder()
					if err != nil {
						return err
					}
					if pid == 0 {
						fmt.Fprintln(c.App.Writer, "no namespace holder was running: the next command makes one")
						return nil
					}
					fmt.Fprintf(c.App.Writer, "ended the namespace holder %d: the next command makes a new one\n", pid)
					return nil
				}),
			},
			{
				Name:  "reset",
				Usage: "delete every image and container of the store",
				Description: `Deletes every image and container of the store (--root) and its runtime state
(--runroot), after asking on the terminal unless --force is given. Running
containers are killed first. The user's network hub stops too when no
container of any store is left on it; the user namespace holder is left
alone.

Examples:
   crun-lite system reset -f
   crun-lite --root /tmp/store system reset -f`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation", Category: catSafety},
				},
				Action: withStore(func(c *cli.Context, e *env) error {
					if !c.Bool("force") {
						yes, err := confirm(c, "This deletes every image and container in "+e.store.GraphRoot()+".")
						if err != nil || !yes {
							return err
						}
					}
					// Running containers first, as Podman does: a
					// detached one's monitor would outlive its store.
					cs, _ := run.Containers(e.store, false)
					for _, in := range cs {
						if in.Running() {
							_ = run.Remove(e.store, in, true)
						}
					}
					run.WaitIdle(e.store, 10*time.Second)
					if err := e.store.Reset(); err != nil {
						return err
					}
					stopIdleHub()
					return nil
				}),
			},
		},
	}
}

// dfFormats: system df has no templates.
var dfFormats = formats{text: "table", advice: "use table or json"}

func printDiskUsage(out io.Writer, du *store.DiskUsage) error {
	w := newTable(out)
	fmt.Fprintln(w, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	for _, row := range []struct {
		name string
		r    store.UsageRow
	}{{"Images", du.Images}, {"Containers", du.Containers}, {"Unused layers", du.UnusedLayers}} {
		pct := 0
		if row.r.Size > 0 {
			pct = int(100 * row.r.Reclaimable / row.r.Size)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s (%d%%)\n", row.name, row.r.Total, row.r.Active,
			units.HumanSizeWithPrecision(float64(row.r.Size), 3),
			units.HumanSizeWithPrecision(float64(row.r.Reclaimable), 3), pct)
	}
	return w.Flush()
}

// confirm asks a yes/no question on the terminal and tells whether the
// answer was yes; scripts must pass -f. Any other answer does nothing and,
// as in Podman, is no failure.
func confirm(c *cli.Context, what string) (bool, error) {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return false, errors.New(what + " Not asking without a terminal: pass -f")
	}
	fmt.Fprintf(c.App.ErrWriter, "%s Continue? [y/N] ", what)
	answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes", nil
}

// stopIdleHub stops the user's network hub once the containers just
// killed are off it (it sees their exit through pidfds, a moment later),
// unless containers of other stores still use it.
func stopIdleHub() {
	uid := userns.HostUID()
	for i := 0; i < 20; i++ {
		if _, err := network.Status(uid); err != nil || network.StopIfIdle(uid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
