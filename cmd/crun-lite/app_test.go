package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/creack/pty"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/userns"
)

// The C constructor finds the command name in argv by skipping global
// options and their values; it must know every global option that takes one.
func TestConstructorKnowsValueFlags(t *testing.T) {
	var want []string
	for _, f := range globalFlags() {
		if _, isBool := f.(*cli.BoolFlag); isBool {
			continue
		}
		for _, n := range f.Names() {
			want = append(want, "--"+n)
		}
	}
	got := userns.ValueFlagsKnownToC()
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("nsjoin.c knows %v, the CLI has %v", got, want)
	}
}

// The constructor's reading of argv, through the same C function: every
// global option that takes a value has it skipped, in both spellings, and a
// bool option takes none.
func TestConstructorFindsCommand(t *testing.T) {
	for _, f := range globalFlags() {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			cases := map[string][]string{"run": {"--" + n + "=x", "run", "images"}}
			if isBool {
				cases["run"] = []string{"--" + n, "run", "images"}
			} else {
				cases["images"] = []string{"--" + n, "run", "images"}
			}
			for want, args := range cases {
				args = append([]string{"crun-lite"}, args...)
				if got := userns.ParseCommandLine(args).Command; got != want {
					t.Errorf("%q: command %q, want %q", args, got, want)
				}
			}
		}
	}
	for _, c := range []struct {
		args     []string
		cmd, sub string
		help     bool
		leanHere bool
	}{
		{args: []string{"run", "alpine", "true"}, cmd: "run", leanHere: true},
		{args: []string{"--root", "/r", "--storage-opt", "a=b", "run", "-it", "alpine"}, cmd: "run", leanHere: true},
		{args: []string{"run", "--help"}, cmd: "run", help: true},
		{args: []string{"--log-level", "debug", "-h", "run"}, cmd: "run", help: true},
		{args: []string{"run", "alpine", "--", "sh", "-h"}, cmd: "run", leanHere: true},
		{args: []string{"container", "run", "alpine"}, cmd: "container", sub: "run"},
		{args: []string{"--runroot", "/x", "container", "--help", "run"}, cmd: "container", sub: "run", help: true},
		{args: []string{"images"}, cmd: "images"},
		{args: []string{"--version"}},
		{args: nil},
	} {
		args := append([]string{"crun-lite"}, c.args...)
		got := userns.ParseCommandLine(args)
		if got.Command != c.cmd || got.Sub != c.sub || got.Help != c.help || got.Lean != c.leanHere {
			t.Errorf("%q: got %+v, want command %q sub %q help %t lean %t", args, got, c.cmd, c.sub, c.help, c.leanHere)
		}
	}
}

// go-runewidth before v0.0.31 (pulled in through containers/image's progress
// bars) builds tables in init() and adds ~22 ms to every start. The version
// is the one in the build list, which go.mod may not even name.
func TestRunewidthIsFast(t *testing.T) {
	const module, minimum = "github.com/mattn/go-runewidth", "v0.0.31"
	out, err := exec.Command("go", "list", "-m", "-json", module).CombinedOutput()
	if err != nil {
		t.Fatalf("%s is not in the build list (go list: %v): was it dropped on purpose? then drop this test\n%s", module, err, out)
	}
	var m struct {
		Version string
		Replace *struct{ Version string }
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	version := m.Version
	if m.Replace != nil {
		version = m.Replace.Version // "" when replaced by a directory
	}
	if !semverAtLeast(version, minimum) {
		t.Fatalf("%s %q is in the build list: require %s or later", module, version, minimum)
	}
}

func TestSemverAtLeast(t *testing.T) {
	for _, c := range []struct {
		v    string
		want bool
	}{
		{"v0.0.31", true}, {"v0.0.32", true}, {"v0.1.0", true}, {"v0.1.2", true}, {"v1.0.0", true},
		{"v0.0.32-0.20250101120000-0123456789ab", true}, // a pseudo-version after v0.0.31
		{"v0.0.31+incompatible", true},
		{"v0.0.30", false}, {"v0.0.27", false}, {"v0.0.9", false},
		{"v0.0.31-0.20240101120000-0123456789ab", false}, // before v0.0.31: a pre-release of it
		{"v0.0.31-rc.1", false}, {"", false}, {"v0.0", false}, {"0.0.31", false}, {"v0.0.x", false},
	} {
		if got := semverAtLeast(c.v, "v0.0.31"); got != c.want {
			t.Errorf("semverAtLeast(%q, v0.0.31) = %t, want %t", c.v, got, c.want)
		}
	}
	if !semverAtLeast("v1.2.3-beta.11", "v1.2.3-beta.2") || semverAtLeast("v1.2.3-alpha", "v1.2.3-alpha.1") {
		t.Error("pre-release identifiers compare as semver says")
	}
}

// semverAtLeast reports whether v >= min by semver 2.0.0 precedence (Go
// module versions: a leading v, build metadata ignored); a malformed v is
// never enough. golang.org/x/mod/semver does this, but is not a module
// crun-lite requires.
func semverAtLeast(v, min string) bool {
	a, ok1 := parseSemver(v)
	b, ok2 := parseSemver(min)
	return ok1 && ok2 && compareSemver(a, b) >= 0
}

type semver struct {
	core [3]int
	pre  []string
}

func parseSemver(v string) (semver, bool) {
	var s semver
	rest, ok := strings.CutPrefix(v, "v")
	if !ok {
		return s, false
	}
	rest, _, _ = strings.Cut(rest, "+")
	rest, pre, hasPre := strings.Cut(rest, "-")
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return s, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return s, false
		}
		s.core[i] = n
	}
	if hasPre {
		s.pre = strings.Split(pre, ".")
	}
	return s, true
}

func compareSemver(a, b semver) int {
	for i := range a.core {
		if c := cmp.Compare(a.core[i], b.core[i]); c != 0 {
			return c
		}
	}
	switch { // a pre-release comes before its release
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		if c := comparePreID(a.pre[i], b.pre[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.pre), len(b.pre))
}

// comparePreID orders pre-release identifiers: numbers numerically and
// before words, words in ASCII order.
func comparePreID(x, y string) int {
	nx, errx := strconv.Atoi(x)
	ny, erry := strconv.Atoi(y)
	switch {
	case errx == nil && erry == nil:
		return cmp.Compare(nx, ny)
	case errx == nil:
		return -1
	case erry == nil:
		return 1
	}
	return strings.Compare(x, y)
}

func TestPrintErrorOneLineAndHint(t *testing.T) {
	var buf bytes.Buffer
	printError(&buf, hint.Wrap(errors.New("first\nsecond"), "do this"))
	if got := buf.String(); got != "Error: first; second\nhint: do this\n" {
		t.Fatalf("got %q", got)
	}
}

// The constructor forks run -d and exec -it before Go starts
// (userns/detach.c); to find -d, -i and -t among their options it skips the
// values of those that take one, and must know every one of them, long and
// short.
func TestConstructorKnowsRunValueFlags(t *testing.T) {
	for _, tc := range []struct {
		cmd *cli.Command
		c   func() ([]string, string)
	}{{runCommand(), userns.RunValueFlagsKnownToC}, {execCommand(), userns.ExecValueFlagsKnownToC}} {
		var want []string
		var wantShort []byte
		for _, f := range tc.cmd.Flags {
			if _, isBool := f.(*cli.BoolFlag); isBool {
				continue
			}
			for _, n := range f.Names() {
				if len(n) == 1 {
					wantShort = append(wantShort, n[0])
				} else {
					want = append(want, "--"+n)
				}
			}
		}
		got, gotShort := tc.c()
		slices.Sort(want)
		slices.Sort(got)
		slices.Sort(wantShort)
		short := []byte(gotShort)
		slices.Sort(short)
		if !slices.Equal(got, want) || string(short) != string(wantShort) {
			t.Errorf("detach.c knows %v and -%s, %s has %v and -%s", got, short, tc.cmd.Name, want, wantShort)
		}
	}
}

// The constructor reads start's options as flags without a value but
// --detach-keys (detach.c, start_attaches): another value flag would hide
// the first container.
func TestStartFlagsTakeNoValue(t *testing.T) {
	for _, f := range startCommand().Flags {
		if _, ok := f.(*cli.BoolFlag); !ok && f.Names()[0] != "detach-keys" {
			t.Errorf("start's --%s takes a value: teach detach.c's start_attaches to skip it", f.Names()[0])
		}
		if len(f.Names()) > 1 && f.Names()[0] == "detach-keys" {
			t.Errorf("start's --detach-keys has a short name: teach detach.c's start_attaches to skip its value")
		}
	}
}

// Which command lines detach, as the constructor reads them, against what
// urfave/cli makes of the same line.
func TestConstructorFindsDetach(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		detach bool
	}{
		{[]string{"run", "-d", "img"}, true},
		{[]string{"run", "--detach", "img"}, true},
		{[]string{"run", "--detach=true", "img"}, true},
		{[]string{"run", "--rm", "--detach=false", "img"}, false},
		{[]string{"run", "-dit", "img", "sh"}, true},
		{[]string{"run", "-itd", "img", "sh"}, true},
		{[]string{"--root", "/r", "run", "-d", "img"}, true},
		{[]string{"container", "run", "-d", "img"}, true},
		{[]string{"run", "--rm", "img", "-d"}, false},           // the command's option
		{[]string{"run", "--rm", "-e", "-d", "img"}, false},     // -e's value
		{[]string{"run", "--rm", "-e-d", "img"}, false},         // -e's value, joined
		{[]string{"run", "--rm", "--name", "-d", "img"}, false}, // --name's value
		{[]string{"run", "-u", "0", "-d", "img"}, true},         // after a value
		{[]string{"run", "--rm", "--", "-d"}, false},            // after --
		{[]string{"run", "-d", "--help"}, false},                // help
		{[]string{"ps", "-d"}, false},                           // not run
		{[]string{"run", "--log-opt", "max-size=1k", "-d", "i"}, true},
		// start forks always (start -a too: its waiting parent attaches),
		// restart too.
		{[]string{"start", "web"}, true},
		{[]string{"start", "-a", "web"}, true},
		{[]string{"container", "start", "web"}, true},
		{[]string{"start", "--help"}, false},    // help
		{[]string{"start", "-h", "web"}, false}, // help
		{[]string{"restart", "web"}, true},
		{[]string{"restart", "-t", "0", "web"}, true},
		{[]string{"container", "restart", "web"}, true},
		{[]string{"create", "-d", "img"}, false}, // create starts nothing
		{[]string{"exec", "-d", "web", "true"}, false},
		{[]string{"exec", "-it", "web", "sh"}, false}, // stdin is no terminal here
		{[]string{"exec", "web", "true"}, false},
	} {
		got := userns.WantsDetach(append([]string{"crun-lite"}, tc.args...))
		if got != tc.detach {
			t.Errorf("%q: constructor detaches %v, want %v", tc.args, got, tc.detach)
		}
	}
}

// run --rm -it attaches when stdin is a terminal, unless no detach keys
// could be typed.
func TestConstructorAttachesRunOnTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skip("no pty:", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	saved, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Dup2(saved, 0); unix.Close(saved) }()
	if err := unix.Dup2(int(tty.Fd()), 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		attach bool
	}{
		{[]string{"run", "--rm", "-it", "img", "sh"}, true},
		{[]string{"run", "--rm", "-ti", "img", "sh"}, true},
		{[]string{"run", "--rm", "-i", "--tty", "img", "sh"}, true},
		{[]string{"run", "--rm", "--interactive=true", "-t", "img", "sh"}, true},
		{[]string{"run", "--rm", "-it", "--detach-keys", "", "img", "sh"}, false},
		{[]string{"run", "--rm", "-it", "--detach-keys=", "img", "sh"}, false},
		{[]string{"run", "--rm", "-it", "--detach-keys=ctrl-a", "img", "sh"}, true},
		{[]string{"run", "--rm", "-i", "img", "sh"}, false},
		{[]string{"run", "--rm", "-t", "img", "sh"}, false},
		{[]string{"run", "--rm", "--tty=false", "-i", "img", "sh"}, false},
		{[]string{"run", "--rm", "-e", "-it", "img", "sh"}, false}, // -e's value
		{[]string{"run", "--rm", "img", "-it"}, false},             // the command's
		{[]string{"exec", "-it", "web", "sh"}, true},
		{[]string{"exec", "-ti", "-u", "0", "web", "sh"}, true},
		{[]string{"exec", "-u", "-it", "web", "sh"}, false}, // -u's value
		{[]string{"exec", "-it", "--detach-keys=", "web", "sh"}, false},
		{[]string{"exec", "-i", "web", "sh"}, false},
		{[]string{"exec", "web", "-it", "sh"}, false},
		{[]string{"container", "exec", "-it", "web", "sh"}, true},
	} {
		got := userns.WantsAttach(append([]string{"crun-lite"}, tc.args...))
		if got != tc.attach {
			t.Errorf("%q on a terminal: constructor attaches %v, want %v", tc.args, got, tc.attach)
		}
	}
}

// Which start command lines attach (the constructor's waiting parent goes
// on into Go as the attacher), as the constructor reads them.
func TestConstructorFindsAttach(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		attach bool
	}{
		{[]string{"start", "web"}, false},
		{[]string{"start", "a", "b"}, false},
		{[]string{"--root", "/r", "start", "-a", "web"}, true},
		{[]string{"start", "-a", "web"}, true},
		{[]string{"start", "--attach", "web"}, true},
		{[]string{"start", "--attach=true", "web"}, true},
		{[]string{"start", "--attach=false", "web"}, false},
		{[]string{"start", "-ai", "web"}, true},
		{[]string{"start", "-ia", "web"}, true},
		{[]string{"start", "-i", "web"}, false},
		{[]string{"container", "start", "-a", "web"}, true},
		{[]string{"start", "--detach-keys", "-a", "web"}, false}, // --detach-keys' value
		{[]string{"start", "--detach-keys=", "-a", "web"}, true},
		{[]string{"start", "--", "-a"}, false},  // a container named -a
		{[]string{"start", "web", "-a"}, false}, // after the first container: not start's
		{[]string{"start", "-a", "--help"}, false},
		{[]string{"restart", "-a", "web"}, false}, // restart never attaches
		{[]string{"run", "--rm", "-a", "img"}, false},
		// A foreground run of a kept container goes through a monitor
		// it attaches to; a --rm one does not, -it on a terminal aside
		// (TestConstructorAttachesRunOnTerminal).
		{[]string{"run", "img"}, true},
		{[]string{"run", "--rm=false", "img"}, true},
		{[]string{"run", "--name", "web", "-v", "/a:/b", "img", "--rm"}, true},
		{[]string{"run", "--rm", "img"}, false},
		{[]string{"run", "--rm", "-it", "img"}, false}, // stdin is no terminal here
		{[]string{"run", "-d", "img"}, false},
	} {
		got := userns.WantsAttach(append([]string{"crun-lite"}, tc.args...))
		if got != tc.attach {
			t.Errorf("%q: constructor attaches %v, want %v", tc.args, got, tc.attach)
		}
	}
}
