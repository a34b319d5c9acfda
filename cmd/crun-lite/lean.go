//go:build lean

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

// The lean build is the crun-lite users run. It runs itself the commands
// that start, enter, stop or list containers (run, create, start, restart,
// exec, stop, kill, wait, attach, ps: the ones scripts call in loops), and
// links nothing they do not need: no containers/image transports, whose
// package initialisation alone (OpenPGP, gRPC and protobuf for encryption
// key providers, sigstore, registry reference regexps) cost about 4 ms and
// 600 page faults on every start, and about 10 MiB of resident memory while
// the container runs. Every other
// command, and run's pull of a missing image, is handed to crun-lite-full
// (the full build of this package), with the same arguments.

func commands() []*cli.Command {
	return []*cli.Command{runCommand(), createCommand(), startCommand(), restartCommand(), execCommand(), stopCommand(), killCommand(), waitCommand(), attachCommand(), psCommand()}
}

// delegateIfNeeded replaces this process with crun-lite-full for every
// command line but those the lean build runs itself (commands(), not their --help:
// crun-lite-full knows every command for "see also" and completion hints;
// help and version are delegated too, so that they list all commands).
func delegateIfNeeded(args []string) {
	if handledHere(args) {
		return
	}
	full, err := fullBinary()
	if err != nil {
		printError(os.Stderr, err)
		os.Exit(125)
	}
	err = syscall.Exec(full, append([]string{args[0]}, args[1:]...), os.Environ())
	printError(os.Stderr, fmt.Errorf("run %s: %w", full, err))
	os.Exit(125)
}

// handledHere reports whether the lean build runs the command line args
// itself. The constructor decided that when it read argv, from its table
// (crunlite_lean_commands in userns/nsjoin.c); args other than this
// process's argv (a test's) are read by the same C parser.
func handledHere(args []string) bool {
	if slices.Equal(args, os.Args) {
		return userns.Command().Lean
	}
	return userns.ParseCommandLine(args).Lean
}

// fullBinary finds crun-lite-full beside this binary (a build tree) or in
// ../libexec/crun-lite (an installation): where the binary is, never where
// the environment says, so nobody but the installer chooses what runs.
func fullBinary() (string, error) {
	self, err := userns.Executable()
	if err != nil {
		return "", fmt.Errorf("find crun-lite-full: %w", err)
	}
	dir := filepath.Dir(self)
	for _, p := range []string{
		filepath.Join(dir, "crun-lite-full"),
		filepath.Join(dir, "..", "libexec", "crun-lite", "crun-lite-full"),
	} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", hint.Wrap(fmt.Errorf("crun-lite-full not found beside %s or in %s", dir, filepath.Join(dir, "..", "libexec", "crun-lite")),
		"reinstall with make install: crun-lite hands all commands but run and exec to crun-lite-full")
}

// runPuller pulls a missing image for run with crun-lite-full, which shows
// its progress on our stderr, then finds it in the store.
func runPuller(c *cli.Context, e *env) func(context.Context, string) (*store.Image, error) {
	return func(ctx context.Context, ref string) (*store.Image, error) {
		full, err := fullBinary()
		if err != nil {
			return nil, err
		}
		args := []string{"--root", e.store.GraphRoot(), "--runroot", e.store.RunRoot()}
		for _, o := range c.StringSlice("storage-opt") { // crunlite.reserve, for one
			args = append(args, "--storage-opt", o)
		}
		args = append(args, "pull")
		if c.IsSet("tls-verify") {
			args = append(args, fmt.Sprintf("--tls-verify=%t", c.Bool("tls-verify")))
		}
		cmd := exec.CommandContext(ctx, full, append(args, ref)...)
		cmd.Stderr = c.App.ErrWriter
		// This command has warned about the runtime dir already.
		cmd.Env = append(os.Environ(), quietWarningsEnv+"=1")
		out, err := cmd.Output()
		if err != nil {
			// crun-lite-full printed why; exit as it did.
			if ee, ok := err.(*exec.ExitError); ok {
				return nil, exitStatus(ee.ExitCode())
			}
			return nil, err
		}
		// pull prints the image's ID: a transport reference
		// (oci-archive:FILE) is not the name the image gets.
		return e.store.Lookup(strings.TrimSpace(string(out)))
	}
}

// cdiResolve asks crun-lite-full for what CDI devices add: the CDI library
// and its YAML parser are not linked here, so a run without a CDI device
// does not pay for them (see cdi.go).
func cdiResolve(c *cli.Context, dirs, names []string, gpus bool) (*cdiEdits, error) {
	full, err := fullBinary()
	if err != nil {
		return nil, err
	}
	args := []string{"cdi", "edits"}
	if gpus {
		args = append(args, "--gpus")
	}
	for _, d := range dirs[len(defaultCDIDirs):] {
		args = append(args, "--cdi-spec-dir", d)
	}
	cmd := exec.CommandContext(c.Context, full, append(args, names...)...)
	cmd.Stderr = c.App.ErrWriter
	cmd.Env = append(os.Environ(), quietWarningsEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, exitStatus(ee.ExitCode()) // it printed why
		}
		return nil, err
	}
	var e cdiEdits
	if err := json.Unmarshal(out, &e); err != nil {
		return nil, fmt.Errorf("read crun-lite-full cdi edits: %w", err)
	}
	return &e, nil
}

// hubBinary is the binary that runs the network hub: crun-lite-full,
// which links rootlesskit's port driver.
func hubBinary() (string, error) { return fullBinary() }
