package userns

import (
	"os"
	"slices"
	"testing"
)

// The constructor's reading of argv (crunlite_parse_cmdline), through the
// same C function; cmd/crun-lite tests it against the CLI's options.
func TestParseCommandLine(t *testing.T) {
	for _, c := range []struct {
		args       []string
		cmd, sub   string
		help, lean bool
	}{
		{args: []string{"crun-lite"}},
		{args: []string{"crun-lite", "run", "alpine"}, cmd: "run", lean: true},
		{args: []string{"crun-lite", "--root", "/r", "run", "alpine"}, cmd: "run", lean: true},
		{args: []string{"crun-lite", "--root=/r", "images"}, cmd: "images"},
		{args: []string{"crun-lite", "--root", "run", "images"}, cmd: "images"}, // run is --root's value
		{args: []string{"crun-lite", "--timing", "--log-level", "debug", "ps"}, cmd: "ps", lean: true},
		{args: []string{"crun-lite", "--unknown", "run"}, cmd: "run", lean: true},
		{args: []string{"crun-lite", "--", "run"}, cmd: "run", lean: true},
		{args: []string{"crun-lite", "--", "-x"}, cmd: "-x"},
		{args: []string{"crun-lite", "--root", "/r", "--"}},
		{args: []string{"crun-lite", "--root"}},
		{args: []string{"crun-lite", "", "run"}, cmd: ""},
		{args: []string{"crun-lite", "run", "--help"}, cmd: "run", help: true},
		{args: []string{"crun-lite", "-h", "run"}, cmd: "run", help: true},
		{args: []string{"crun-lite", "--root", "-h", "run"}, cmd: "run", help: true},
		{args: []string{"crun-lite", "run", "alpine", "--", "ls", "--help"}, cmd: "run", lean: true},
		{args: []string{"crun-lite", "--help"}, help: true},
		// After run's image, -h is the container command's (httpd -h DIR).
		{args: []string{"crun-lite", "run", "-d", "-p", "80", "busybox", "httpd", "-h", "/www"}, cmd: "run", lean: true},
		{args: []string{"crun-lite", "container", "create", "--name", "x", "busybox", "ls", "-h"}, cmd: "container", sub: "create"},
		{args: []string{"crun-lite", "run", "-p", "80", "--help", "busybox"}, cmd: "run", help: true},
		{args: []string{"crun-lite", "ps", "-a", "-h"}, cmd: "ps", help: true},
		{args: []string{"crun-lite", "--version"}},
		{args: []string{"crun-lite", "container", "run", "alpine"}, cmd: "container", sub: "run"},
		{args: []string{"crun-lite", "--root", "/r", "container", "--rm", "exec"}, cmd: "container", sub: "exec"},
		{args: []string{"crun-lite", "container"}, cmd: "container"},
		{args: []string{"crun-lite", "image", "ls"}, cmd: "image"},
		{args: []string{"crun-lite", "images"}, cmd: "images"}, // not lean: crun-lite-full lists them
		{args: []string{"crun-lite", "doctor"}, cmd: "doctor"},
	} {
		got := ParseCommandLine(c.args)
		if got.Command != c.cmd || got.Sub != c.sub || got.Help != c.help || got.Lean != c.lean {
			t.Errorf("%q: got command %q sub %q help %t lean %t, want %q %q %t %t",
				c.args, got.Command, got.Sub, got.Help, got.Lean, c.cmd, c.sub, c.help, c.lean)
		}
		if got.Index > 0 && c.args[got.Index] != got.Command || got.SubIndex > 0 && c.args[got.SubIndex] != got.Sub {
			t.Errorf("%q: indexes %d, %d name other arguments than %q, %q", c.args, got.Index, got.SubIndex, got.Command, got.Sub)
		}
	}
	if got := ParseCommandLine(nil); got != (CommandLine{}) {
		t.Errorf("no argv: %+v", got)
	}
}

// The constructor reads the argv of go test binaries too: Go must find it
// read.
func TestCommandIsConstructors(t *testing.T) {
	if got, want := Command(), ParseCommandLine(os.Args); got != want {
		t.Errorf("the constructor found %+v in %q, the parser %+v", got, os.Args, want)
	}
	if !slices.Contains(LeanCommands(), "run") {
		t.Errorf("lean commands %v lack run", LeanCommands())
	}
}
