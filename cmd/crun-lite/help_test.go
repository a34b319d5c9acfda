//go:build !lean

package main

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// allCommands returns every command and subcommand with its path.
func allCommands(cmds []*cli.Command, path string) map[string]*cli.Command {
	out := map[string]*cli.Command{}
	for _, c := range cmds {
		p := strings.TrimSpace(path + " " + c.Name)
		out[p] = c
		for k, v := range allCommands(c.Subcommands, p) {
			out[k] = v
		}
	}
	return out
}

// --help, the man pages and zsh/fish completion all show Usage as one line.
func TestEveryCommandAndFlagHasOneLineUsage(t *testing.T) {
	app := newApp()
	check := func(what, usage string) {
		if usage == "" || strings.Contains(usage, "\n") {
			t.Errorf("%s: usage %q: want one line", what, usage)
		}
	}
	for _, f := range app.Flags {
		check("global --"+f.Names()[0], flagUsage(f))
	}
	for path, c := range allCommands(app.Commands, "") {
		if c.Hidden {
			continue
		}
		check(path, c.Usage)
		for _, f := range c.Flags {
			check(path+" --"+f.Names()[0], flagUsage(f))
		}
	}
}

// The completion choices of a flag must be the ones its usage promises.
func TestFlagChoicesAreDocumented(t *testing.T) {
	cmds := allCommands(newApp().Commands, "")
	for key, choices := range flagChoices {
		var flags []cli.Flag
		if cmd, name, ok := strings.Cut(key, " --"); ok {
			for _, c := range cmds {
				if c.Name == cmd { // flagChoices keys name the command, not its path
					flags = append(flags, matching(c.Flags, name)...)
				}
			}
		} else {
			flags = matching(newApp().Flags, key)
			for _, c := range cmds {
				if _, own := flagChoices[c.Name+" --"+key]; !own {
					flags = append(flags, matching(c.Flags, key)...)
				}
			}
		}
		if len(flags) == 0 {
			t.Errorf("flagChoices[%q]: no such flag", key)
		}
		for _, f := range flags {
			for _, c := range choices {
				if !strings.Contains(flagUsage(f), c.value) {
					t.Errorf("flagChoices[%q] offers %q, which the usage %q does not mention", key, c.value, flagUsage(f))
				}
			}
		}
	}
}

func matching(flags []cli.Flag, name string) []cli.Flag {
	var out []cli.Flag
	for _, f := range flags {
		if f.Names()[0] == name {
			out = append(out, f)
		}
	}
	return out
}
