package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

func systemCommand() *cli.Command {
	return &cli.Command{
		Name:  "system",
		Usage: "manage the store as a whole",
		Subcommands: []*cli.Command{
			{
				Name:  "reset",
				Usage: "delete every image and container of the store",
				Description: `Deletes every image and container of the store (--root) and its runtime state
(--runroot), after asking on the terminal unless --force is given. The user
namespace holder is left alone.

Examples:
   crun-lite system reset -f
   crun-lite --root /tmp/store system reset -f`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
				},
				Action: withStore(func(c *cli.Context, e *env) error {
					if !c.Bool("force") {
						if err := confirm(c, "This deletes every image and container in "+e.store.GraphRoot()+"."); err != nil {
							return err
						}
					}
					return e.store.Reset()
				}),
			},
		},
	}
}

// confirm asks a yes/no question on the terminal; scripts must pass -f.
func confirm(c *cli.Context, what string) error {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return errors.New(what + " Not asking without a terminal: pass -f")
	}
	fmt.Fprintf(c.App.ErrWriter, "%s Continue? [y/N] ", what)
	answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return errors.New("cancelled")
	}
	return nil
}
