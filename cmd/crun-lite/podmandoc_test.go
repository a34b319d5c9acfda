//go:build !lean

package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docs/podman.md's tables say, for every flag of podman run and every
// Podman command, whether crun-lite has it. They must agree with the CLI:
// a flag or command marked there is one crun-lite has, one marked "not
// yet" is one it lacks, and every run flag crun-lite has is listed.
func TestPodmanDocTable(t *testing.T) {
	b, err := os.ReadFile("../../docs/podman.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	flagsPart, cmdsPart, ok := strings.Cut(doc[strings.Index(doc, "## `podman run` flags"):], "## Commands")
	if !ok {
		t.Fatal("docs/podman.md: no Commands section after the run flags")
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| ([a-z -]+) \\|")
	have := map[string]bool{}
	for _, f := range runCommand().Flags {
		have["--"+f.Names()[0]] = true // aliases (--net) are not rows
	}
	have["--help"] = true
	listed := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(flagsPart, -1) {
		flag, status := m[1], strings.TrimSpace(m[2])
		listed[flag] = true
		switch status {
		case "same", "different", "crun-lite only":
			if !have[flag] {
				t.Errorf("docs/podman.md says run %s is %q, but run has no such flag", flag, status)
			}
		case "not yet":
			if have[flag] {
				t.Errorf("docs/podman.md says run %s is not there yet, but run has it: say what it does", flag)
			}
		default:
			t.Errorf("docs/podman.md: run %s: unknown status %q", flag, status)
		}
	}
	if len(listed) < 100 {
		t.Errorf("docs/podman.md lists %d run flags; podman run has 131", len(listed))
	}
	for f := range have {
		if !listed[f] {
			t.Errorf("run %s is not in docs/podman.md's run flags table", f)
		}
	}
	app := newApp()
	cmds := map[string]bool{"help": true}
	for _, c := range app.Commands {
		for _, n := range c.Names() {
			cmds[n] = true
		}
	}
	n := 0
	for _, m := range row.FindAllStringSubmatch(cmdsPart, -1) {
		n++
		name, status := m[1], strings.TrimSpace(m[2])
		switch status {
		case "same", "different":
			if !cmds[name] {
				t.Errorf("docs/podman.md says command %s is %q, but crun-lite has no such command", name, status)
			}
		case "not yet":
			if cmds[name] {
				t.Errorf("docs/podman.md says command %s is not there yet, but crun-lite has it", name)
			}
		default:
			t.Errorf("docs/podman.md: command %s: unknown status %q", name, status)
		}
	}
	if n < 50 {
		t.Errorf("docs/podman.md lists %d commands; Podman 4.3.1 has 57", n)
	}
}
