//go:build !lean

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Shell completion. The scripts that `crun-lite completion SHELL` prints are
// thin: on TAB they call
//
//	crun-lite __complete WORD... CURRENT
//
// with the words typed after "crun-lite" and the word under the cursor
// (possibly ""). __complete walks the CLI's own definitions (commands,
// subcommands, flags and their aliases, ArgsUsage) the way urfave/cli parses
// a command line, so completion can never disagree with the binary it runs.
// It prints one candidate per line, "value<TAB>description", then a last
// line for the shell: ":" (nothing more), ":files" or ":dirs" (let the shell
// complete file or directory names).
//
// urfave/cli's own completion (EnableBashCompletion and its hidden
// --generate-bash-completion flag) stays off, so there is one protocol: it
// completes neither flag values nor anything from the store.
//
// What a value or argument completes to comes from the definitions too: an
// ArgsUsage word ending in IMAGE completes image names from the store,
// CONTAINER container names, SHELL the shells; a flag value completes from
// flagChoices, or to files or directories when the flag's placeholder (the
// `WORD` in its usage) is FILE, PATH or DIR.

// candidate is one completion with a description (zsh and fish show it).
type candidate struct{ value, desc string }

// completion is the answer to one TAB.
type completion struct {
	cands []candidate
	shell string // "", "files" or "dirs"
}

func (r completion) print(w io.Writer) {
	for _, c := range r.cands {
		fmt.Fprintf(w, "%s\t%s\n", c.value, oneLine(c.desc))
	}
	fmt.Fprintf(w, ":%s\n", r.shell)
}

// source lists what lives in the store named by the global options typed so
// far; it returns nothing when it cannot look without side effects.
type source interface {
	images(g globalOpts) []candidate
	containers(g globalOpts) []candidate
	devices() []candidate // --device: the host's common devices, CDI names
}

// globalOpts are the store-selecting global options typed before the command.
type globalOpts map[string][]string

// flagChoices completes flag values, by flag name or "COMMAND --flag" for a
// flag whose values depend on the command. Keep in step with the flags'
// usage text (TestFlagChoicesAreDocumented).
var flagChoices = map[string][]candidate{
	"network": {{"bridge", "a private network (the default)"}, {"host", "share the host's network"}, {"none", "loopback only"},
		{"container:", "share a running container's network (container:NAME)"}, {"ns:", "join a network namespace by its file (ns:PATH)"}},
	"share": {{"wayland", "the compositor's socket"}, {"x11", "the X socket and a cookie"}, {"fallback-x11", "X11 when there is no Wayland"},
		{"pulseaudio", "the sound server's socket"}, {"pipewire", "PipeWire's pulse socket"}, {"session-bus", "the session bus, filtered (=NAME,...)"},
		{"system-bus", "the system bus, through a proxy"}, {"gpu", "/dev/dri with your groups"},
		{"fonts", "the host's fonts, read-only"}, {"themes", "the host's icons and themes, read-only"},
		{"locale", "LANG, LANGUAGE, LC_*"}, {"timezone", "/etc/localtime, TZ"}},
	"storage-driver":   {{"overlay", "overlay, native or through fuse-overlayfs"}, {"vfs", "a full copy per layer: slow, works everywhere"}},
	"storage-opt":      {{"overlay.mount_program=/usr/bin/fuse-overlayfs", "mount layers with fuse-overlayfs"}, {"crunlite.reserve=", "free space pulls leave: 512M, 2G, 10%, 0"}},
	"log-level":        {{"debug", ""}, {"info", ""}, {"warn", ""}, {"error", ""}},
	"format":           {{"table", "aligned columns"}, {"json", "a JSON array"}},
	"doctor --format":  {{"text", "one line per check, fixes under them"}, {"json", "an object with ok and checks"}},
	"info --format":    {{"text", "indented fields"}, {"json", "an object with store and registries"}},
	"inspect --format": {{"json", "a JSON array (or give a Go template)"}},
	"version --format": {{"json", "an object with Client (or give a Go template)"}},
	"save --format":    {{"docker-archive", "for docker load and podman load"}, {"oci-archive", "an OCI layout in a tar"}, {"oci-dir", "an OCI layout directory"}},
}

// argChoices completes ArgsUsage words that are neither images nor containers.
var argChoices = map[string][]candidate{
	"SHELL": {{"bash", ""}, {"zsh", ""}, {"fish", ""}},
}

// walk is where the typed words lead: the command and what is left to fill.
type walk struct {
	cmd      *cli.Command // nil at the top level
	flags    []cli.Flag
	subs     []*cli.Command
	args     []string // positional arguments of cmd so far
	globals  globalOpts
	pending  cli.Flag // a flag whose value is the word being completed
	dashdash bool
}

// complete answers a TAB: words are the completed words after the program
// name, cur the word under the cursor.
func complete(app *cli.App, words []string, cur string, src source) completion {
	w := &walk{flags: app.Flags, subs: app.Commands, globals: globalOpts{}}
	for i := 0; i < len(words); i++ {
		i += w.step(words[i], words[i+1:])
	}
	var r completion
	switch {
	case w.pending != nil:
		r = w.values(w.pending, src)
	case len(w.args) == 0 && !w.dashdash && strings.HasPrefix(cur, "-"):
		r = w.flagNames(cur, src)
	case len(w.args) == 0 && len(visible(w.subs)) > 0:
		for _, c := range visible(w.subs) {
			r.cands = append(r.cands, candidate{c.Name, c.Usage})
		}
	default:
		r = w.positional(src)
	}
	r.cands = withPrefix(r.cands, cur)
	return r
}

// step consumes one word (and the value after it when it is a flag that
// takes one); it returns how many more words it used.
func (w *walk) step(word string, rest []string) int {
	switch {
	case len(w.args) > 0 || w.dashdash:
		// urfave/cli stops parsing flags at the first argument.
		w.args = append(w.args, word)
	case word == "--":
		w.dashdash = true
	case strings.HasPrefix(word, "-") && len(word) > 1:
		return w.flag(word, rest)
	default:
		if sub := findCommand(w.subs, word); sub != nil {
			w.cmd, w.flags, w.subs = sub, sub.Flags, sub.Subcommands
			return 0
		}
		w.args = append(w.args, word)
	}
	return 0
}

func (w *walk) flag(word string, rest []string) int {
	name, value, hasValue := strings.Cut(strings.TrimLeft(word, "-"), "=")
	f := findFlag(w.flags, name)
	if f == nil && !strings.HasPrefix(word, "--") && len(name) > 1 {
		f = findFlag(w.flags, name[len(name)-1:]) // -it: the last short option may take a value
	}
	if f == nil || !takesValue(f) {
		return 0
	}
	if hasValue {
		w.record(f, value)
		return 0
	}
	if len(rest) == 0 {
		w.pending = f
		return 0
	}
	w.record(f, rest[0])
	return 1
}

func (w *walk) record(f cli.Flag, value string) {
	if w.cmd == nil {
		n := f.Names()[0]
		w.globals[n] = append(w.globals[n], value)
	}
}

func (w *walk) flagNames(cur string, src source) completion {
	if name, _, ok := strings.Cut(strings.TrimLeft(cur, "-"), "="); ok && strings.HasPrefix(cur, "--") {
		f := findFlag(w.flags, name)
		if f == nil || !takesValue(f) {
			return completion{}
		}
		r := w.values(f, src)
		with := make([]candidate, 0, len(r.cands)) // r.cands may be flagChoices' own
		for _, c := range r.cands {
			with = append(with, candidate{"--" + name + "=" + c.value, c.desc})
		}
		r.cands = with
		return r
	}
	var r completion
	for _, f := range append(visibleFlags(w.flags), cli.HelpFlag) {
		usage := flagUsage(f)
		for _, n := range f.Names() {
			r.cands = append(r.cands, candidate{dashes(n) + n, usage})
		}
	}
	return r
}

func (w *walk) values(f cli.Flag, src source) completion {
	name := f.Names()[0]
	if w.cmd != nil {
		if c, ok := flagChoices[w.cmd.Name+" --"+name]; ok {
			return completion{cands: c}
		}
	}
	if c, ok := flagChoices[name]; ok {
		return completion{cands: c}
	}
	return byKind(placeholder(rawUsage(f)), w.globals, src)
}

// positional completes the next argument from the command's ArgsUsage.
func (w *walk) positional(src source) completion {
	if w.cmd == nil {
		return completion{}
	}
	tokens := argTokens(w.cmd.ArgsUsage)
	i := len(w.args)
	switch {
	case i < len(tokens):
	case len(tokens) > 0 && strings.HasSuffix(tokens[len(tokens)-1], "..."):
		i = len(tokens) - 1
	default:
		return completion{}
	}
	r := byKind(strings.TrimSuffix(tokens[i], "..."), w.globals, src)
	r.cands = slices.DeleteFunc(r.cands, func(c candidate) bool { return slices.Contains(w.args, c.value) })
	return r
}

// byKind completes a value named by a placeholder or ArgsUsage word.
func byKind(kind string, g globalOpts, src source) completion {
	switch {
	case kind == "CONTAINER|IMAGE": // inspect: containers first, as it looks
		return completion{cands: append(src.containers(g), src.images(g)...)}
	case strings.HasSuffix(kind, "IMAGE"):
		return completion{cands: src.images(g)}
	case strings.HasSuffix(kind, "CONTAINER"):
		return completion{cands: src.containers(g)}
	case strings.HasPrefix(kind, "HOST["): // --device
		return completion{cands: src.devices()}
	case kind == "DIR":
		return completion{shell: "dirs"}
	case strings.HasSuffix(kind, "FILE") || kind == "PATH":
		return completion{shell: "files"}
	}
	return completion{cands: argChoices[kind]}
}

// argTokens splits "IMAGE [COMMAND [ARG...]]" into IMAGE, COMMAND, ARG...
func argTokens(usage string) []string {
	return strings.FieldsFunc(usage, func(r rune) bool { return r == ' ' || r == '[' || r == ']' })
}

// placeholder returns the `WORD` of a flag's usage, or "".
func placeholder(usage string) string {
	_, rest, ok := strings.Cut(usage, "`")
	if !ok {
		return ""
	}
	word, _, _ := strings.Cut(rest, "`")
	return word
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range append(flags, cli.HelpFlag) {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	d, ok := f.(cli.DocGenerationFlag)
	return ok && d.TakesValue()
}

func visible(cmds []*cli.Command) []*cli.Command {
	var out []*cli.Command
	for _, c := range cmds {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

func visibleFlags(flags []cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, f := range flags {
		if v, ok := f.(cli.VisibleFlag); (!ok || v.IsVisible()) && f != cli.HelpFlag {
			out = append(out, f)
		}
	}
	return out
}

// rawUsage is a flag's usage as written, with its `placeholder` marks.
func rawUsage(f cli.Flag) string {
	if d, ok := f.(cli.DocGenerationFlag); ok {
		return d.GetUsage()
	}
	return ""
}

// flagUsage is a flag's usage as people read it.
func flagUsage(f cli.Flag) string { return strings.ReplaceAll(rawUsage(f), "`", "") }

func dashes(name string) string {
	if len(name) == 1 {
		return "-"
	}
	return "--"
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.ReplaceAll(s, "\t", " ")
}

func withPrefix(cands []candidate, prefix string) []candidate {
	var out []candidate
	seen := map[string]bool{}
	for _, c := range cands {
		if strings.HasPrefix(c.value, prefix) && !seen[c.value] {
			seen[c.value] = true
			out = append(out, c)
		}
	}
	return out
}
