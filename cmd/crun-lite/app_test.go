package main

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

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

// go-runewidth before v0.0.31 (pulled in through containers/image's progress
// bars) builds tables in init() and adds ~22 ms to every start.
func TestRunewidthIsFast(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "github.com/mattn/go-runewidth" {
			if patch, err := strconv.Atoi(strings.TrimPrefix(f[1], "v0.0.")); err != nil || patch < 31 {
				t.Fatalf("go-runewidth %s: require v0.0.31 or later", f[1])
			}
			return
		}
	}
	t.Log("go-runewidth is not in the module graph")
}

func TestPrintErrorOneLineAndHint(t *testing.T) {
	var buf bytes.Buffer
	printError(&buf, hint.Wrap(errors.New("first\nsecond"), "do this"))
	if got := buf.String(); got != "crun-lite: first; second\nhint: do this\n" {
		t.Fatalf("got %q", got)
	}
}
