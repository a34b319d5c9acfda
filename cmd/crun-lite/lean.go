//go:build lean

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

// The lean build is the crun-lite users run. It does one thing itself, run
// a container, and links nothing it does not need for that: no
// containers/image transports, whose package initialisation alone (OpenPGP,
// gRPC and protobuf for encryption key providers, sigstore, registry
// reference regexps) cost about 4 ms and 600 page faults on every start,
// and about 10 MiB of resident memory while the container runs. Every other
// command, and run's pull of a missing image, is handed to crun-lite-full
// (the full build of this package), with the same arguments.

func commands() []*cli.Command {
	return []*cli.Command{runCommand()}
}

// delegateIfNeeded replaces this process with crun-lite-full for every
// command but run (help and version included, so that they list all
// commands).
func delegateIfNeeded(args []string) {
	if commandName(args) == "run" && !wantsHelp(args) {
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

// commandName finds the command as the C constructor does: the first
// argument that is not a global option or its value.
func commandName(args []string) string {
	values := map[string]bool{}
	for _, f := range globalFlags() {
		if _, isBool := f.(*cli.BoolFlag); !isBool {
			for _, n := range f.Names() {
				values["--"+n] = true
			}
		}
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		case !strings.HasPrefix(a, "-"):
			return a
		case !strings.Contains(a, "=") && values[a]:
			i++
		}
	}
	return ""
}

// wantsHelp: `run --help` is answered by crun-lite-full, which knows every
// command for "see also" and completion hints.
func wantsHelp(args []string) bool {
	for _, a := range args[1:] {
		if a == "--" {
			return false
		}
		if a == "--help" || a == "-h" {
			return true
		}
	}
	return false
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
		"reinstall with make install: crun-lite hands all commands but run to crun-lite-full")
}

// runPuller pulls a missing image for run with crun-lite-full, which shows
// its progress on our stderr, then finds it in the store.
func runPuller(c *cli.Context, e *env) func(context.Context, string) (*store.Image, error) {
	return func(ctx context.Context, ref string) (*store.Image, error) {
		full, err := fullBinary()
		if err != nil {
			return nil, err
		}
		args := []string{"--root", e.store.GraphRoot(), "--runroot", e.store.RunRoot(), "pull"}
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
