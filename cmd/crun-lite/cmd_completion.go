//go:build !lean

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
	"github.com/crun-lite/crun-lite/run/cdi"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "SHELL",
		Description: `Prints the completion script for SHELL (bash, zsh or fish). It completes
commands, flags, flag values such as --network and --storage-driver, and the
names of the images and containers in the store. make install puts the same
scripts where the shells look for them; to load one by hand:

Examples:
   source <(crun-lite completion bash)
   crun-lite completion zsh > "${fpath[1]}/_crun-lite"
   crun-lite completion fish > ~/.config/fish/completions/crun-lite.fish`,
		Action: func(c *cli.Context) error {
			script, ok := completionScripts[c.Args().First()]
			if c.NArg() != 1 || !ok {
				return errors.New("completion needs one SHELL: bash, zsh or fish")
			}
			_, err := io.WriteString(c.App.Writer, script)
			return err
		},
	}
}

// completeCommand answers the completion scripts (see complete.go). It
// never fails and never writes to stderr: whatever goes wrong, the shell
// just gets no candidates.
func completeCommand() *cli.Command {
	return &cli.Command{
		Name:            "__complete",
		Usage:           "answer the shell completion scripts",
		Hidden:          true,
		HideHelp:        true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			logrus.SetOutput(io.Discard)
			words := c.Args().Slice()
			cur := ""
			if len(words) > 0 {
				words, cur = words[:len(words)-1], words[len(words)-1]
			}
			complete(c.App, words, cur, storeSource{}).print(c.App.Writer)
			return nil
		},
	}
}

// storeSource reads image and container names from the store, but only from
// an existing store through an existing namespace: a TAB must never create
// the holder or a store, and must not hang the shell.
type storeSource struct{}

// completeTimeout bounds a store lookup (a pull may hold the lock).
const completeTimeout = 2 * time.Second

func (storeSource) images(g globalOpts) []candidate {
	return withStoreFor(g, func(st *store.Store) []candidate {
		imgs, err := st.Images()
		if err != nil {
			return nil
		}
		var out []candidate
		for _, im := range imgs {
			for _, n := range im.Names {
				out = append(out, candidate{n, "image " + im.ID[:12]})
				if short := shortName(n); short != "" {
					out = append(out, candidate{short, "image " + im.ID[:12]})
				}
			}
		}
		return out
	})
}

// commonDevices are the host devices --device offers where they exist.
var commonDevices = []string{"/dev/dri", "/dev/kvm", "/dev/snd", "/dev/fuse", "/dev/net/tun", "/dev/input", "/dev/video0", "/dev/video1"}

// devices offers the host's common devices and the CDI devices of the
// default spec dirs.
func (storeSource) devices() []candidate {
	var out []candidate
	for _, d := range commonDevices {
		if _, err := os.Stat(d); err == nil {
			out = append(out, candidate{d, "host device"})
		}
	}
	names, _ := cdi.List(defaultCDIDirs)
	for _, n := range names {
		out = append(out, candidate{n, "CDI device"})
	}
	return out
}

// shortName is the name store.Lookup also finds an image by, or "".
func shortName(n string) string {
	for _, p := range []string{"docker.io/library/", "localhost/"} {
		if s, ok := strings.CutPrefix(n, p); ok {
			return s
		}
	}
	return ""
}

func (storeSource) containers(g globalOpts) []candidate {
	return withStoreFor(g, func(st *store.Store) []candidate {
		cs, err := run.Containers(st, true)
		if err != nil {
			return nil
		}
		var out []candidate
		for _, c := range cs {
			out = append(out, candidate{c.Name, c.Status + ", " + c.ImageRef})
		}
		return out
	})
}

func withStoreFor(g globalOpts, fn func(*store.Store) []candidate) []candidate {
	if userns.Rootless() && !userns.Inside() {
		return nil // no holder yet: only a real command may create it
	}
	opts, err := store.DefaultOptions(userns.HostUID(), userns.Single())
	if v := g["root"]; len(v) > 0 {
		opts.GraphRoot, err = v[len(v)-1], nil
	}
	if v := g["runroot"]; len(v) > 0 {
		opts.RunRoot = v[len(v)-1]
	}
	if v := g["storage-driver"]; len(v) > 0 {
		opts.Driver = v[len(v)-1]
	}
	if d, _, serr := store.SplitStorageOpts(g["storage-opt"]); serr == nil {
		opts.DriverOpts = d
	}
	if err != nil || !exists(filepath.Join(opts.GraphRoot, "crun-lite-driver.json")) {
		return nil // no store there: opening it would create one
	}
	done := make(chan []candidate, 1)
	go func() {
		st, err := store.Open(opts)
		if err != nil {
			done <- nil
			return
		}
		defer st.Close()
		done <- fn(st)
	}()
	select {
	case c := <-done:
		return c
	case <-time.After(completeTimeout):
		return nil
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// completionScripts are what `completion SHELL` prints and `make docs`
// writes to completions/.
var completionScripts = map[string]string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}

// completionFiles names each script as the shells look for it.
var completionFiles = map[string]string{"bash": "crun-lite.bash", "zsh": "_crun-lite", "fish": "crun-lite.fish"}

// shells lists the shells in a fixed order.
func shells() []string {
	s := make([]string, 0, len(completionScripts))
	for k := range completionScripts {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

const scriptHeader = `%s completion for crun-lite. Generated by ` + "`crun-lite completion %s`" + `: do not edit.
# Every candidate comes from ` + "`crun-lite __complete WORD... CURRENT`" + `, which walks
# the CLI's own definitions and the store, so this script lists nothing itself.
`

var bashCompletion = "# " + fmt.Sprintf(scriptHeader, "bash", "bash") + `
_crun_lite() {
	# COMP_LINE, unlike COMP_WORDS, is not split at ':' and '=' (image
	# names have colons).
	local line=${COMP_LINE:0:COMP_POINT}
	local -a words
	read -r -a words <<<"$line"
	local cur=
	if [[ $line != *[[:space:]] ]]; then
		cur=${words[-1]}
		unset 'words[-1]'
	fi
	local out
	out=$("${words[0]}" __complete "${words[@]:1}" "$cur" 2>/dev/null) || return 0
	local -a lines
	mapfile -t lines <<<"$out"
	local directive=${lines[-1]}
	unset 'lines[-1]'
	# bash replaces only what follows the last ':' or '=' of the word.
	local breaks=${COMP_WORDBREAKS//[^=:]/} prefix=
	if [[ -n $breaks && $cur == *["$breaks"]* ]]; then
		prefix=${cur%"${cur##*["$breaks"]}"}
	fi
	COMPREPLY=()
	local l
	for l in "${lines[@]}"; do
		l=${l%%$'\t'*}
		[[ -n $l ]] && COMPREPLY+=("${l#"$prefix"}")
	done
	case $directive in
	:files)
		compopt -o filenames 2>/dev/null
		mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$cur")
		;;
	:dirs)
		compopt -o filenames 2>/dev/null
		mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "$cur")
		;;
	esac
	return 0
}
complete -F _crun_lite crun-lite
`

var zshCompletion = "#compdef crun-lite\n# " + fmt.Sprintf(scriptHeader, "zsh", "zsh") + `
_crun_lite() {
	local out directive line value desc
	local -a lines cands
	out=$(${words[1]} __complete "${(@Q)words[2,CURRENT-1]}" "${(Q)words[CURRENT]}" 2>/dev/null) || return 1
	lines=("${(@f)out}")
	directive=${lines[-1]}
	for line in "${(@)lines[1,-2]}"; do
		value=${line%%$'\t'*}
		desc=${line#*$'\t'}
		[[ -n $value ]] || continue
		# _describe splits "value:description" at the first unescaped colon.
		cands+=("${value//:/\\:}${desc:+:$desc}")
	done
	local ret=1
	if (( $#cands )); then
		_describe -t values crun-lite cands && ret=0
	fi
	case $directive in
	(:files) _files && ret=0 ;;
	(:dirs) _files -/ && ret=0 ;;
	esac
	return ret
}

# Autoloaded from $fpath as _crun-lite, or sourced by hand.
if [[ $funcstack[1] == _crun-lite ]]; then
	_crun_lite "$@"
else
	compdef _crun_lite crun-lite
fi
`

var fishCompletion = "# " + fmt.Sprintf(scriptHeader, "fish", "fish") + `
function __crun_lite_complete
	set -l words (commandline -opc)
	set -l cur (commandline -ct)
	set -l out ($words[1] __complete $words[2..-1] $cur 2>/dev/null)
	or return
	set -l directive $out[-1]
	set -e out[-1]
	if test (count $out) -gt 0
		printf '%s\n' $out
	end
	switch $directive
		case :files
			__fish_complete_path $cur
		case :dirs
			__fish_complete_directories $cur
	end
end

complete -c crun-lite -f -a '(__crun_lite_complete)'
`
