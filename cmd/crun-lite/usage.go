package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Podman's command line, as cobra parses it, differs from urfave/cli's in
// two ways scripts notice: flags may come after the arguments (`rm web -f`,
// `image inspect ID --format ...`), and a bad flag is one line and a
// pointer to --help, not the help page. Both are made so here.

// usageError is a malformed command line: printed as Podman prints it,
//
//	Error: unknown flag: --x
//	See 'crun-lite run --help'
type usageError struct {
	err     error
	command string // "crun-lite run"
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// onUsageError turns urfave/cli's message into Podman's words.
func onUsageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimPrefix(name, "-")
		// urfave/cli says -x for --x too; the command line tells them apart.
		if len(name) == 1 && !typedLong(os.Args, name) {
			msg = "unknown shorthand flag: '" + name + "' in -" + name
		} else {
			msg = "unknown flag: --" + name
		}
	}
	return &usageError{err: errors.New(msg), command: commandPath(c)}
}

// typedLong tells whether --name was on the command line (before a "--").
func typedLong(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			return true
		}
	}
	return false
}

// commandPath is the command being parsed, "volume ls", from the lineage
// of contexts ("" for the app itself).
func commandPath(c *cli.Context) string {
	var names []string
	for _, l := range c.Lineage() {
		if l.Command != nil && l.Command.Name != "" && l.Command.Name != c.App.Name &&
			(len(names) == 0 || names[0] != l.Command.Name) {
			names = append([]string{l.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}

func printUsageHint(w io.Writer, err error) {
	var u *usageError
	if errors.As(err, &u) {
		cmd := "crun-lite"
		if u.command != "" {
			cmd += " " + u.command
		}
		fmt.Fprintf(w, "See '%s --help'\n", cmd)
	}
}

// setUsageErrors gives every command Podman's handling of a bad flag.
func setUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = onUsageError
		setUsageErrors(c.Subcommands)
	}
}

// trailingArgsCommands take everything after their first argument (the
// image, or the container) as the container's command line.
var trailingArgsCommands = []string{"run", "create", "exec"}

// permuteArgs moves the flags that follow a command's arguments before
// them, as cobra reads them: `crun-lite rm web -f` is `crun-lite rm -f
// web`. Global flags before the command stay; after --, nothing moves; run,
// create and exec keep everything after their first argument as it is.
func permuteArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	valueFlag := func(flags []cli.Flag, tok string) bool {
		name := strings.TrimLeft(tok, "-")
		for _, f := range flags {
			if slices.Contains(f.Names(), name) {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
		return false
	}
	// The command path: global flags, then command names.
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if !strings.Contains(args[i], "=") && valueFlag(app.Flags, args[i]) {
			i++
		}
		i++
	}
	if i >= len(args) || args[i] == "--" {
		return args
	}
	cmds := app.Commands
	var cmd *cli.Command
	for i < len(args) {
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(args[i]) {
				next = c
			}
		}
		if next == nil {
			break
		}
		cmd, cmds = next, next.Subcommands
		i++
		if len(cmds) == 0 {
			break
		}
	}
	if cmd == nil || len(cmd.Subcommands) > 0 || cmd.SkipFlagParsing {
		return args // __complete's arguments are another command line
	}
	trailing := slices.Contains(trailingArgsCommands, cmd.Name)
	var flags, positional []string
	dashdash := false
	rest := args[i:]
	for j := 0; j < len(rest); j++ {
		tok := rest[j]
		if tok == "--" || (trailing && len(positional) > 0) {
			// What follows is arguments only: after --, or the
			// container's command line.
			if tok == "--" && !trailing {
				dashdash, j = true, j+1
			}
			positional = append(positional, rest[j:]...)
			break
		}
		if strings.HasPrefix(tok, "-") && tok != "-" {
			flags = append(flags, tok)
			if !strings.Contains(tok, "=") && valueFlag(cmd.Flags, tok) && j+1 < len(rest) {
				flags = append(flags, rest[j+1])
				j++
			}
			continue
		}
		positional = append(positional, tok)
	}
	out := append(slices.Clone(args[:i]), flags...)
	if dashdash {
		// Flag parsing stops at it, and drops it: the arguments after
		// it stay arguments even if they look like flags.
		out = append(out, "--")
	}
	return append(out, positional...)
}
