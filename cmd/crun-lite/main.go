// Command crun-lite runs containers rootless: see README.md.
package main

import (
	"os"

	"go.podman.io/storage/pkg/reexec"
)

func main() {
	// containers/storage re-executes this binary for some helpers (argv[0]
	// names them); they must run before anything else.
	if reexec.Init() {
		return
	}
	os.Exit(Main(os.Args))
}
