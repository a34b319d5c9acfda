//go:build lean

package main

import (
	"slices"
	"testing"

	"github.com/crun-lite/crun-lite/userns"
)

// The constructor's table of what the lean build runs itself must name
// exactly the commands the lean build has: one missing there is handed to
// crun-lite-full, one missing here would fail as unknown.
func TestLeanTableIsLeanCommands(t *testing.T) {
	var have []string
	for _, c := range commands() {
		have = append(have, c.Names()...)
	}
	table := userns.LeanCommands()
	slices.Sort(have)
	slices.Sort(table)
	if !slices.Equal(have, table) {
		t.Fatalf("nsjoin.c's crunlite_lean_commands has %v, the lean build %v", table, have)
	}
}

func TestHandledHere(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"crun-lite", "run", "alpine"}, true},
		{[]string{"crun-lite", "--root", "/r", "run", "alpine"}, true},
		{[]string{"crun-lite", "--root", "run", "alpine"}, false},
		{[]string{"crun-lite", "run", "--help"}, false},
		{[]string{"crun-lite", "run", "-h"}, false},
		{[]string{"crun-lite", "run", "alpine", "--", "ls", "-h"}, true},
		{[]string{"crun-lite", "container", "run", "alpine"}, false},
		{[]string{"crun-lite", "images"}, false},
		{[]string{"crun-lite", "--version"}, false},
		{[]string{"crun-lite"}, false},
	} {
		if got := handledHere(c.args); got != c.want {
			t.Errorf("%q: handled by the lean build %t, want %t", c.args, got, c.want)
		}
	}
}
