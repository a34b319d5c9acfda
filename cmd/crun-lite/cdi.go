package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"tags.cncf.io/container-device-interface/pkg/parser"

	"github.com/crun-lite/crun-lite/run/spec"
)

// cdiEdits is what CDI devices add to a container, as crun-lite options
// (run/cdi.Edits, which the lean build must not link: it brings the CDI
// library and a YAML parser; see lean.go's cdiResolve).
type cdiEdits struct {
	Devices  []string `json:"devices,omitempty"`
	Mounts   []string `json:"mounts,omitempty"`
	Env      []string `json:"env,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// defaultCDIDirs are where CDI specs are read from, before --cdi-spec-dir
// (run/cdi.DefaultSpecDirs, which a test compares).
var defaultCDIDirs = []string{"/etc/cdi", "/var/run/cdi"}

// applyCDI replaces the CDI names among opts.Devices (VENDOR/CLASS=NAME)
// by what their specs say: device nodes, bind mounts and environment
// (before the user's -e, which wins), and adds the GPUs of the specs for
// --share gpu and --desktop. A run with neither reads no spec, and one
// with only the latter only lists the spec dirs when they hold no spec.
func applyCDI(c *cli.Context, opts *spec.Options) error {
	var names, plain []string
	for _, d := range opts.Devices {
		if parser.IsQualifiedName(d) {
			names = append(names, d)
		} else {
			plain = append(plain, d)
		}
	}
	dirs := append(slices.Clone(defaultCDIDirs), c.StringSlice("cdi-spec-dir")...)
	gpus := wantsGPU(opts) && hasSpecs(dirs)
	if len(names) == 0 && !gpus {
		return nil
	}
	e, err := cdiResolve(c, dirs, names, gpus)
	if err != nil {
		return err
	}
	opts.CDIGPU = gpus && len(e.Devices) > 0
	for _, w := range e.Warnings {
		fmt.Fprintf(c.App.ErrWriter, "crun-lite: warning: %s\n", w)
	}
	opts.Devices = append(plain, e.Devices...)
	opts.Mounts = append(opts.Mounts, e.Mounts...)
	opts.Env = append(e.Env, opts.Env...)
	return nil
}

// wantsGPU reports whether --share gpu or --desktop asks for the GPUs.
func wantsGPU(opts *spec.Options) bool {
	if opts.Desktop {
		return true
	}
	for _, v := range opts.Share {
		if slices.Contains(strings.Split(v, ","), "gpu") {
			return true
		}
	}
	return false
}

// hasSpecs reports whether a spec dir holds a spec file.
func hasSpecs(dirs []string) bool {
	for _, d := range dirs {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if n := e.Name(); strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".json") {
				return true
			}
		}
	}
	return false
}
