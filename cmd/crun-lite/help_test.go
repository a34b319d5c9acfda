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

// flagsNeedCategories is the number of visible flags above which a command
// must group all of them under categories in --help and its man page.
const flagsNeedCategories = 1

// --help groups flags by category; with a single uncategorized flag among
// categorized ones, urfave/cli would list that one apart, above the rest.
func TestFlagsHaveCategories(t *testing.T) {
	app := newApp()
	check := func(what string, flags []cli.Flag) {
		var with, without []string
		for _, f := range visibleFlags(flags) {
			if cf, ok := f.(cli.CategorizableFlag); ok && cf.GetCategory() != "" {
				with = append(with, f.Names()[0])
			} else {
				without = append(without, f.Names()[0])
			}
		}
		if len(without) > 0 && (len(with) > 0 || len(without) > flagsNeedCategories) {
			t.Errorf("%s: flags without a category: --%s", what, strings.Join(without, ", --"))
		}
	}
	check("global options", app.Flags)
	for path, c := range allCommands(app.Commands, "") {
		if !c.Hidden {
			check(path, c.Flags)
		}
	}
}

// Every command page of --help and of man has an example: the first thing
// people look for.
func TestEveryCommandHasAnExample(t *testing.T) {
	for path, c := range allCommands(newApp().Commands, "") {
		if c.Hidden {
			continue
		}
		_, examples := splitExamples(c.Description)
		if len(examples) == 0 {
			t.Errorf("%s: no Examples: paragraph in its description", path)
		}
		for _, e := range examples {
			if !strings.Contains(e, "crun-lite ") {
				t.Errorf("%s: example %q does not run crun-lite", path, e)
			}
		}
	}
}

// The categories reach the help output, one heading per category.
func TestHelpGroupsFlags(t *testing.T) {
	var out strings.Builder
	app := newApp()
	app.Writer = &out
	if err := app.Run([]string{"crun-lite", "pull", "--help"}); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	last := -1
	for _, cat := range []string{catCredentials, catOutput, catPlatform, catRegistry} {
		i := strings.Index(help, "\n   "+cat+"\n\n")
		if i < 0 || i < last {
			t.Errorf("pull --help: no heading %q (in order) in:\n%s", cat, help)
		}
		last = i
	}
	if !strings.Contains(help, "\n   --help, -h ") {
		t.Errorf("pull --help does not list --help:\n%s", help)
	}
	if i := strings.Index(help, "\n   --platform "); i < strings.Index(help, "\n   "+catPlatform+"\n") {
		t.Errorf("pull --help: --platform is not under %s:\n%s", catPlatform, help)
	}
}
