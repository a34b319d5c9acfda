package cdi

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	spec := `cdiVersion: "0.7.0"
kind: example.com/gpu
containerEdits:
  env: [SPEC=1]
  mounts:
  - {hostPath: /usr/lib/x, containerPath: /usr/lib/x, options: [ro, nosuid]}
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - {path: /dev/card0, hostPath: /dev/dri/card1, permissions: rw}
    hooks:
    - {hookName: createContainer, path: /usr/bin/nvidia-ctk}
    additionalGids: [44]
- name: all
  containerEdits:
    env: [ALL=1]
`
	if err := os.WriteFile(filepath.Join(dir, "gpu.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := Resolve([]string{dir}, []string{"example.com/gpu=0", "example.com/gpu=all"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Env, []string{"SPEC=1", "ALL=1"}) || !slices.Equal(e.Devices, []string{"/dev/dri/card1:/dev/card0:rw"}) ||
		!slices.Equal(e.Mounts, []string{"type=bind,source=/usr/lib/x,target=/usr/lib/x,ro"}) || len(e.Warnings) != 2 {
		t.Errorf("Resolve: %+v", e)
	}
	_, err = Resolve([]string{dir}, []string{"example.com/gpu=1"})
	if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "known: example.com/gpu=0, example.com/gpu=all") {
		t.Errorf("unknown name: %v", err)
	}
	if names, err := List([]string{dir, filepath.Join(dir, "none")}); err != nil || len(names) != 2 {
		t.Errorf("List: %v, %v", names, err)
	}
	if g := GPUs([]string{dir}); !slices.Equal(g, []string{"example.com/gpu=all"}) {
		t.Errorf("GPUs: %v, want the vendor's all", g)
	}
}
