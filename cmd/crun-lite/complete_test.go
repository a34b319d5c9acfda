//go:build !lean

package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// fakeSource stands in for the store; the real one is tested against a real
// store in test/integration (TestCompletionBash and friends).
type fakeSource struct{ gotRoot []string }

func (f *fakeSource) images(g globalOpts) []candidate {
	f.gotRoot = g["root"]
	return []candidate{{"localhost/busybox:latest", ""}, {"busybox:latest", ""}, {"127.0.0.1:5000/test/debian:latest", ""}}
}

func (f *fakeSource) containers(globalOpts) []candidate {
	return []candidate{{"web", ""}, {"db", ""}}
}

func (f *fakeSource) devices() []candidate {
	return []candidate{{"/dev/kvm", ""}, {"nvidia.com/gpu=0", ""}, {"nvidia.com/gpu=all", ""}}
}

func values(r completion) []string {
	var v []string
	for _, c := range r.cands {
		v = append(v, c.value)
	}
	return v
}

func TestComplete(t *testing.T) {
	cases := []struct {
		line  string // words, the last one is under the cursor ("" after a space)
		want  []string
		shell string
	}{
		{"ru", []string{"run"}, ""},
		{"", []string{"run", "create", "start", "restart", "exec", "pull", "images", "ps", "rm", "stop", "kill", "pause", "unpause", "wait", "attach", "logs", "inspect", "rename", "top", "cp", "container", "system", "volume", "cdi", "doctor", "completion", "port", "network", "version", "unshare",
			"image", "rmi", "tag", "untag", "import", "load", "save", "login", "logout", "info"}, ""},
		{"inspect ", []string{"web", "db", "localhost/busybox:latest", "busybox:latest", "127.0.0.1:5000/test/debian:latest"}, ""},
		{"container inspect ", []string{"web", "db"}, ""},
		{"top ", []string{"web", "db"}, ""},
		{"rename ", []string{"web", "db"}, ""},
		{"run ", []string{"localhost/busybox:latest", "busybox:latest", "127.0.0.1:5000/test/debian:latest"}, ""},
		{"run --rm bus", []string{"busybox:latest"}, ""},
		{"run busybox:latest ", nil, ""}, // the container's command: nothing to offer
		{"run busybox:latest --r", nil, ""},
		{"run --network ", []string{"bridge", "host", "none", "container:", "ns:"}, ""},
		{"run --device nv", []string{"nvidia.com/gpu=0", "nvidia.com/gpu=all"}, ""},
		{"run --share p", []string{"pulseaudio", "pipewire"}, ""},
		{"run --net n", []string{"none", "ns:"}, ""},
		{"run --network=h", []string{"--network=host"}, ""},
		{"run -u 1000 --n", []string{"--name", "--network", "--net", "--no-hosts"}, ""},
		{"--storage-driver ", []string{"overlay", "vfs"}, ""},
		{"--root ", nil, "dirs"},
		{"--root /x --log-level e", []string{"error"}, ""},
		{"--root /x ps --a", []string{"--all"}, ""},
		{"system ", []string{"df", "migrate", "reset"}, ""},
		{"system reset -", []string{"--force", "-f", "--help", "-h"}, ""},
		{"rm ", []string{"web", "db"}, ""},
		{"rm web ", []string{"db"}, ""},
		{"stop ", []string{"web", "db"}, ""},
		{"logs -f ", []string{"web", "db"}, ""},
		{"container stop w", []string{"web"}, ""},
		{"start ", []string{"web", "db"}, ""},
		{"start -a w", []string{"web"}, ""},
		{"container restart d", []string{"db"}, ""},
		{"create --rm bus", []string{"busybox:latest"}, ""},
		{"completion ", []string{"bash", "zsh", "fish"}, ""},
		{"completion bash ", nil, ""},
		{"doctor --format ", []string{"text", "json"}, ""},
		{"images --format ", []string{"table", "json"}, ""},
		{"save --format o", []string{"oci-archive", "oci-dir"}, ""},
		{"rmi ", []string{"localhost/busybox:latest", "busybox:latest", "127.0.0.1:5000/test/debian:latest"}, ""},
		{"load -i ", nil, "files"},
		{"__comp", nil, ""},                                                         // hidden
		{"run --net ", []string{"bridge", "host", "none", "container:", "ns:"}, ""}, // "--network=h" above must not have changed the choices
	}
	for _, c := range cases {
		words := strings.Split(c.line, " ")
		src := &fakeSource{}
		got := complete(newApp(), words[:len(words)-1], words[len(words)-1], src)
		if !slices.Equal(values(got), c.want) || got.shell != c.shell {
			t.Errorf("crun-lite %s<TAB>: got %q :%s, want %q :%s", c.line, values(got), got.shell, c.want, c.shell)
		}
	}
}

// The store to list is the one the global options typed so far name.
func TestCompleteUsesTypedStore(t *testing.T) {
	src := &fakeSource{}
	complete(newApp(), []string{"--root", "/a", "--root=/b", "run"}, "", src)
	if !slices.Equal(src.gotRoot, []string{"/a", "/b"}) {
		t.Errorf("root options seen: %q", src.gotRoot)
	}
}

func TestCompletionOutput(t *testing.T) {
	var b bytes.Buffer
	completion{cands: []candidate{{"a", "first\nsecond"}, {"b", ""}}, shell: "files"}.print(&b)
	if got := b.String(); got != "a\tfirst\nb\t\n:files\n" {
		t.Errorf("got %q", got)
	}
}
