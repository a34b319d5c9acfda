//go:build !lean

package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// Flags after arguments move before them, as cobra reads them, except in
// the container's command line of run and exec and after --.
func TestPermuteArgs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"rm web -f", "rm -f web"},
		{"rm -t 0 --all --force --ignore", "rm -t 0 --all --force --ignore"},
		{"image inspect ID --format {{.ID}}", "image inspect --format {{.ID}} ID"},
		{"images busybox --format json", "images --format json busybox"},
		{"--root /r ps -a", "--root /r ps -a"},
		{"--root /r logs web --tail 3 -f", "--root /r logs --tail 3 -f web"},
		{"run --rm img sh -c -x", "run --rm img sh -c -x"}, // the container's
		{"run img --rm", "run img --rm"},                   // the container's too
		{"exec web ls -l", "exec web ls -l"},               // exec's command
		{"container exec -it web sh -x", "container exec -it web sh -x"},
		{"container rm web -f", "container rm -f web"},
		{"rm -- -odd -f", "rm -- -odd -f"}, // after --: arguments
		{"rm a -- -odd", "rm -- a -odd"},
		{"volume rm v --force", "volume rm --force v"},
		{"ps", "ps"},
		{"__complete run img --rm", "__complete run img --rm"}, // words of another line
	} {
		args := append([]string{"crun-lite"}, strings.Fields(c.in)...)
		got := strings.Join(permuteArgs(newApp(), args)[1:], " ")
		if got != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

// A bad flag is two lines, Podman's, and 125; no help page.
func TestUnknownFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ps", "--bogus"}, "Error: unknown flag: --bogus\nSee 'crun-lite ps --help'\n"},
		{[]string{"volume", "ls", "--bogus"}, "Error: unknown flag: --bogus\nSee 'crun-lite volume ls --help'\n"},
		{[]string{"--bogus", "ps"}, "Error: unknown flag: --bogus\nSee 'crun-lite --help'\n"},
		{[]string{"images", "-Z"}, "Error: unknown shorthand flag: 'Z' in -Z\nSee 'crun-lite images --help'\n"},
	} {
		app := newApp()
		var out bytes.Buffer
		app.Writer, app.ErrWriter = &out, &out
		err := app.Run(permuteArgs(app, append([]string{"crun-lite"}, c.args...)))
		var buf bytes.Buffer
		if err != nil {
			printError(&buf, err)
		}
		if out.Len() != 0 || buf.String() != c.want {
			t.Errorf("%v: printed %q and the error %q, want only %q", c.args, out.String(), buf.String(), c.want)
		}
	}
}

// No command: the help on stdout and Podman's error, as Podman 4.3.1 does.
func TestNoCommand(t *testing.T) {
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run([]string{"crun-lite"})
	if err == nil || err.Error() != "missing command 'crun-lite COMMAND'" || errOut.Len() != 0 || !strings.Contains(out.String(), "USAGE") {
		t.Errorf("no command: err %v, stdout %q, stderr %.80q", err, out.String(), errOut.String())
	}
	if !slices.Contains(logLevels, "warn") || setLogLevel("telepathic") == nil {
		t.Errorf("--log-level telepathic was taken")
	}
}
