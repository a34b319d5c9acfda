//go:build !lean

package main

import (
	"context"
	"os"

	"github.com/urfave/cli/v2"
	"go.podman.io/image/v5/types"

	"github.com/crun-lite/crun-lite/run/network/hub"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/store/registry"
	"github.com/crun-lite/crun-lite/store/transfer"
	"github.com/crun-lite/crun-lite/userns"
)

// The full build has every command; it is crun-lite-full, which the lean
// crun-lite hands every command it does not run itself to (see lean.go), and it also
// works alone under any name.

func commands() []*cli.Command {
	return append([]*cli.Command{runCommand(), createCommand(), startCommand(), restartCommand(), execCommand(), pullCommand(), imagesCommand(), psCommand(), rmCommand(), stopCommand(), killCommand(), pauseCommand(false), pauseCommand(true), waitCommand(), attachCommand(), logsCommand(), inspectCommand(), renameCommand(), topCommand(), cpCommand(), containerCommand(), systemCommand(),
		volumeCommand(), cdiCommand(), doctorCommand(), completionCommand(), completeCommand(), portCommand(), networkCommand(), networkHubCommand(), versionCommand(), unshareCommand()}, imageCommands()...)
}

// delegateIfNeeded: the full build does everything itself.
func delegateIfNeeded([]string) {}

// runPuller pulls a missing image for run, in this process.
func runPuller(c *cli.Context, e *env) func(context.Context, string) (*store.Image, error) {
	o := transfer.PullOptions{Options: registry.Options{TLSVerify: tlsVerify(c)}, Report: c.App.ErrWriter}
	return func(ctx context.Context, ref string) (*store.Image, error) {
		return transfer.Pull(ctx, e.store, ref, o)
	}
}

// tlsVerify maps --tls-verify to containers/image: unset follows registries.conf.
func tlsVerify(c *cli.Context) types.OptionalBool {
	if !c.IsSet("tls-verify") {
		return types.OptionalBoolUndefined
	}
	return types.NewOptionalBool(c.Bool("tls-verify"))
}

// hubBinary is the binary that runs the network hub: this one.
func hubBinary() (string, error) { return userns.Executable() }

// networkHubCommand is the user's network hub (run/network/hub), started
// by the first container of the default network; not for users.
func networkHubCommand() *cli.Command {
	return &cli.Command{
		Name:   "network-hub",
		Hidden: true,
		Usage:  "run the user's network hub (started by run)",
		Action: func(c *cli.Context) error {
			var ready *os.File
			if fi, err := os.Stat("/proc/self/fd/3"); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
				ready = os.NewFile(3, "ready")
			}
			return hub.Serve(userns.HostUID(), ready)
		},
	}
}
