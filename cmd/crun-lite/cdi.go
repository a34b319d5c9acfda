package main

import (
	"fmt"
	"slices"

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
// (before the user's -e, which wins). A run without one reads no spec.
func applyCDI(c *cli.Context, opts *spec.Options) error {
	var names, plain []string
	for _, d := range opts.Devices {
		if parser.IsQualifiedName(d) {
			names = append(names, d)
		} else {
			plain = append(plain, d)
		}
	}
	if len(names) == 0 {
		return nil
	}
	dirs := append(slices.Clone(defaultCDIDirs), c.StringSlice("cdi-spec-dir")...)
	e, err := cdiResolve(c, dirs, names)
	if err != nil {
		return err
	}
	for _, w := range e.Warnings {
		fmt.Fprintf(c.App.ErrWriter, "crun-lite: warning: %s\n", w)
	}
	opts.Devices = append(plain, e.Devices...)
	opts.Mounts = append(opts.Mounts, e.Mounts...)
	opts.Env = append(e.Env, opts.Env...)
	return nil
}
