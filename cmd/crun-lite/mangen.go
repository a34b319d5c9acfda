//go:build !lean

package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/urfave/cli/v2"
)

// Man pages are built from the CLI definitions: crun-lite(1) from the app,
// and one page per visible command and subcommand (crun-lite-run(1),
// crun-lite-system-reset(1)) from its Usage, ArgsUsage, Description and
// flags. A Description may end in an "Examples:" paragraph, which becomes
// the EXAMPLES section. The markdown goes through go-md2man. Nothing in a
// page depends on the time or the version, so `make docs` is deterministic
// and TestGeneratedDocs can compare the checked-in pages byte for byte.

// generatedDocs returns every file `make docs` writes, keyed by its path in
// the repository: the man pages and the completion scripts.
func generatedDocs(app *cli.App) map[string][]byte {
	out := map[string][]byte{}
	for name, page := range manPages(app) {
		out["man/"+name] = page
	}
	for _, sh := range shells() {
		out["completions/"+completionFiles[sh]] = []byte(completionScripts[sh])
	}
	return out
}

// manPages returns every page, keyed by file name ("crun-lite-run.1").
func manPages(app *cli.App) map[string][]byte {
	pages := map[string][]byte{app.Name + ".1": md2man.Render([]byte(appPage(app)))}
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range visible(cmds) {
			p := append(slices.Clone(path), c.Name)
			pages[pageName(app, p)+".1"] = md2man.Render([]byte(commandPage(app, p, c)))
			walk(p, c.Subcommands)
		}
	}
	walk(nil, app.Commands)
	return pages
}

func pageName(app *cli.App, path []string) string {
	return strings.Join(append([]string{app.Name}, path...), "-")
}

func title(name string) string {
	return fmt.Sprintf("%% %s 1 \"\" \"crun-lite\" \"User Commands\"\n\n", strings.ToUpper(name))
}

func appPage(app *cli.App) string {
	var b strings.Builder
	b.WriteString(title(app.Name))
	fmt.Fprintf(&b, "# NAME\n%s - %s\n\n", app.Name, mdEscape(app.Usage))
	fmt.Fprintf(&b, "# SYNOPSIS\n**%s** \\[*global options*\\] *command* \\[*options*\\] \\[*arguments*...\\]\n\n", app.Name)
	if app.Description != "" {
		fmt.Fprintf(&b, "# DESCRIPTION\n%s\n\n", mdText(app.Description))
	}
	b.WriteString("# COMMANDS\n")
	for _, c := range visible(app.Commands) {
		fmt.Fprintf(&b, "**%s**\n: %s. See **%s**(1).\n\n", c.Name, mdEscape(c.Usage), pageName(app, []string{c.Name}))
	}
	b.WriteString("# GLOBAL OPTIONS\n")
	b.WriteString("**--help**, **-h**\n: show help; `crun-lite COMMAND --help` shows a command's\n\n")
	b.WriteString("**--version**, **-v**\n: print the version\n\n")
	writeFlags(&b, app.Flags)
	b.WriteString(appSections)
	b.WriteString("# SEE ALSO\n")
	var see []string
	for _, c := range visible(app.Commands) {
		see = append(see, "**"+pageName(app, []string{c.Name})+"**(1)")
	}
	fmt.Fprintf(&b, "%s, **subuid**(5), **subgid**(5), **newuidmap**(1), **fuse-overlayfs**(1)\n", strings.Join(see, ", "))
	return b.String()
}

// appSections describe what every command shares (main.go, internal/paths).
const appSections = `# EXIT STATUS
**0**
: the command succeeded, or the container's command exited 0

**1**
: **crun-lite doctor** found a problem that blocks running containers

**125**
: crun-lite itself failed; the message says why, and a second line starting with hint: says how to fix it when that is known

**126**
: the container's command cannot be executed

**127**
: the container's command was not found

**other**
: the container's own exit status; 128+N when it was killed by signal N

# FILES
*$XDG_DATA_HOME/crun-lite/storage* (default *~/.local/share/crun-lite/storage*)
: images and containers (**--root**); *crun-lite-driver.json* in it remembers the storage driver the store was made with

*$XDG_RUNTIME_DIR/crun-lite* (or */tmp/crun-lite-UID* without XDG_RUNTIME_DIR)
: runtime state (**--runroot**), and *userns.pid*, the process that holds the user namespace all commands of the user share

*/etc/subuid*, */etc/subgid*
: the subordinate ids mapped into that user namespace; **crun-lite doctor** checks them

# ENVIRONMENT
**XDG_DATA_HOME**, **HOME**
: where the store is by default

**XDG_RUNTIME_DIR**
: where runtime state is; it must be a directory the user owns (su sessions often lack it: see **crun-lite-doctor**(1))

`

func commandPage(app *cli.App, path []string, c *cli.Command) string {
	var b strings.Builder
	name := pageName(app, path)
	b.WriteString(title(name))
	fmt.Fprintf(&b, "# NAME\n%s - %s\n\n", name, mdEscape(c.Usage))
	fmt.Fprintf(&b, "# SYNOPSIS\n%s\n\n", synopsis(app, path, c))
	desc, examples := splitExamples(c.Description)
	if desc != "" {
		fmt.Fprintf(&b, "# DESCRIPTION\n%s\n\n", mdText(desc))
	}
	if subs := visible(c.Subcommands); len(subs) > 0 {
		b.WriteString("# COMMANDS\n")
		for _, s := range subs {
			fmt.Fprintf(&b, "**%s**\n: %s. See **%s**(1).\n\n", s.Name, mdEscape(s.Usage), pageName(app, append(slices.Clone(path), s.Name)))
		}
	}
	if flags := visibleFlags(c.Flags); len(flags) > 0 {
		b.WriteString("# OPTIONS\n")
		writeFlags(&b, flags)
	}
	if len(examples) > 0 {
		b.WriteString("# EXAMPLES\n")
		for _, e := range examples {
			fmt.Fprintf(&b, "    %s\n", e)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "# SEE ALSO\n%s\n", seeAlso(app, path, c))
	return b.String()
}

func synopsis(app *cli.App, path []string, c *cli.Command) string {
	s := fmt.Sprintf("**%s** \\[*global options*\\]", app.Name)
	for _, p := range path {
		s += " **" + p + "**"
	}
	if len(visible(c.Subcommands)) > 0 {
		return s + " *command* \\[*options*\\]"
	}
	if len(visibleFlags(c.Flags)) > 0 {
		s += " \\[*options*\\]"
	}
	if c.ArgsUsage != "" {
		s += " " + argsMarkdown(c.ArgsUsage)
	}
	return s
}

// argsMarkdown sets "IMAGE [COMMAND [ARG...]]" with the words in italics.
func argsMarkdown(usage string) string {
	var b strings.Builder
	word := func(w string) {
		if w != "" {
			b.WriteString("*" + w + "*")
		}
	}
	start := 0
	for i, r := range usage {
		if r == '[' || r == ']' || r == ' ' || r == '.' {
			word(usage[start:i])
			start = i + 1
			if r == '[' || r == ']' {
				b.WriteString("\\")
			}
			b.WriteRune(r)
		}
	}
	word(usage[start:])
	return b.String()
}

func seeAlso(app *cli.App, path []string, c *cli.Command) string {
	refs := []string{"**" + app.Name + "**(1)"}
	for i := 1; i < len(path); i++ {
		refs = append(refs, "**"+pageName(app, path[:i])+"**(1)")
	}
	for _, s := range visible(c.Subcommands) {
		refs = append(refs, "**"+pageName(app, append(slices.Clone(path), s.Name))+"**(1)")
	}
	return strings.Join(refs, ", ")
}

// writeFlags lists flags as a definition list, uncategorized ones first,
// then one subsection per category, as --help groups them.
func writeFlags(b *strings.Builder, flags []cli.Flag) {
	groups := map[string][]cli.Flag{}
	var cats []string
	for _, f := range visibleFlags(flags) {
		cat := ""
		if cf, ok := f.(cli.CategorizableFlag); ok {
			cat = cf.GetCategory()
		}
		if _, seen := groups[cat]; !seen {
			cats = append(cats, cat)
		}
		groups[cat] = append(groups[cat], f)
	}
	slices.Sort(cats)
	for _, cat := range cats {
		if cat != "" {
			fmt.Fprintf(b, "### %s\n", mdEscape(cat))
		}
		for _, f := range groups[cat] {
			writeFlag(b, f)
		}
	}
}

func writeFlag(b *strings.Builder, f cli.Flag) {
	var names []string
	for _, n := range f.Names() {
		names = append(names, "**"+dashes(n)+n+"**")
	}
	head := strings.Join(names, ", ")
	if takesValue(f) {
		ph := placeholder(rawUsage(f))
		if ph == "" {
			ph = "VALUE"
		}
		head += "=*" + mdEscape(ph) + "*"
	}
	usage := mdEscape(flagUsage(f))
	if d, ok := f.(cli.DocGenerationFlag); ok {
		if def := strings.Trim(d.GetDefaultText(), `"`); def != "" && def != "false" {
			usage += " (default: " + mdEscape(def) + ")"
		}
	}
	if s, ok := f.(cli.DocGenerationSliceFlag); ok && s.IsSliceFlag() {
		usage += "; may be given more than once"
	}
	fmt.Fprintf(b, "%s\n: %s\n\n", head, usage)
}

// splitExamples cuts a Description at its "Examples:" (or "Example:") line.
func splitExamples(desc string) (text string, examples []string) {
	lines := strings.Split(desc, "\n")
	for i, l := range lines {
		if t := strings.TrimSpace(l); t == "Examples:" || t == "Example:" {
			for _, e := range lines[i+1:] {
				if e = strings.TrimSpace(e); e != "" {
					examples = append(examples, e)
				}
			}
			return strings.TrimSpace(strings.Join(lines[:i], "\n")), examples
		}
	}
	return strings.TrimSpace(desc), nil
}

// mdText escapes plain text made of paragraphs for markdown; lines indented
// by three spaces or more stay as preformatted blocks.
func mdText(s string) string {
	var out []string
	code := false
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "   ") && strings.TrimSpace(l) != "" {
			if !code && len(out) > 0 && out[len(out)-1] != "" {
				out = append(out, "") // a code block needs a blank line before it
			}
			code = true
			out = append(out, "    "+strings.TrimSpace(l))
			continue
		}
		if code && l != "" {
			out = append(out, "")
		}
		code = false
		out = append(out, mdLine(l))
	}
	return strings.Join(out, "\n")
}

// mdLine escapes one line, including what would start a list, a heading or
// a definition at the start of a line.
func mdLine(l string) string {
	l = mdEscape(l)
	t := strings.TrimLeft(l, " ")
	if t == "" {
		return l
	}
	switch t[0] {
	case '#', '+', '-', ':', '%', '>', '=':
		return "\\" + t
	}
	if i := strings.IndexAny(t, ".)"); i > 0 && strings.Trim(t[:i], "0123456789") == "" {
		return t[:i] + "\\" + t[i:]
	}
	return t
}

// mdEscape escapes the characters markdown would read as inline markup.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>|", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
