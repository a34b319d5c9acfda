//go:build !lean

package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The lean crun-lite, the binary that runs containers, must not link what
// makes the full one slow to start: containers/image's transports and
// signature code bring OpenPGP, gRPC and protobuf (for encryption key
// providers) and sigstore, whose package initialisation alone cost ~4 ms
// and ~600 page faults per start; the man page renderer is for docs only.
func TestLeanBuildDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-buildvcs=false",
		"-tags", "containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs containers_image_docker_daemon_stub lean urfave_cli_no_docs",
		".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list listed %d packages; something is off", len(deps))
	}
	// Packages, or with a trailing slash every package under a path.
	forbidden := []string{
		"go.podman.io/image/v5/copy", "go.podman.io/image/v5/docker", "go.podman.io/image/v5/docker/archive",
		"go.podman.io/image/v5/signature", "go.podman.io/image/v5/storage", "go.podman.io/image/v5/oci/archive",
		"google.golang.org/grpc/", "google.golang.org/protobuf/", "github.com/containers/ocicrypt/",
		"github.com/sigstore/", "github.com/ProtonMail/go-crypto/", "github.com/cpuguy83/go-md2man/",
		"github.com/russross/blackfriday/",
		// rootlesskit is for doctor (and later networking), in crun-lite-full.
		"github.com/rootless-containers/rootlesskit/",
		// CDI specs are read by crun-lite-full (cdi edits) for a run that
		// names a CDI device; no other run pays for the library and YAML.
		"tags.cncf.io/container-device-interface/pkg/cdi", "go.yaml.in/yaml/v3", "github.com/fsnotify/fsnotify",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || d+"/" == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(d, f)) {
				t.Errorf("the lean build links %s", d)
			}
		}
	}
}

// TestImportsFlowOneWay: cmd -> run (and the packages below it) ->
// {userns, store and theirs} -> internal, and only cmd imports urfave/cli.
// Below run/, no package imports run itself, and only state may import
// spawn (for its detached rm); below store/, none imports store's
// siblings but registry.
func TestImportsFlowOneWay(t *testing.T) {
	const mod = "github.com/crun-lite/crun-lite/"
	out, err := exec.Command("go", "list", "-buildvcs=false", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`,
		"-tags", "containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs containers_image_docker_daemon_stub",
		mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	layer := func(p string) int {
		switch p = strings.TrimPrefix(p, mod); {
		case strings.HasPrefix(p, "cmd/"):
			return 3
		case p == "run" || strings.HasPrefix(p, "run/"):
			return 2
		case p == "userns" || p == "store" || strings.HasPrefix(p, "store/"):
			return 1
		}
		return 0 // internal/
	}
	allowed := map[[2]string]bool{
		{"run/state", "run/spawn"}:           true,
		{"store/transfer", "store/registry"}: true,
		{"run/spec", "run/network"}:          true, // a spec's published ports
		{"run/doctor", "run/network"}:        true, // the hub's status
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 10 {
		t.Fatalf("go list listed %d packages", len(lines))
	}
	for _, line := range lines {
		f := strings.Fields(line)
		pkg := f[0]
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, "github.com/urfave/cli") && layer(pkg) != 3 {
				t.Errorf("%s imports urfave/cli: only cmd may", pkg)
			}
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			p, i := strings.TrimPrefix(pkg, mod), strings.TrimPrefix(imp, mod)
			switch {
			case layer(imp) > layer(pkg):
				t.Errorf("%s imports %s: imports run up", p, i)
			case layer(imp) == layer(pkg) && (layer(pkg) == 1 || layer(pkg) == 2):
				// run imports its packages; a package imports the one it is in
				// (run/network/hub, run/network; store/transfer, store).
				parent := (p == "run" && strings.HasPrefix(i, "run/")) || strings.HasPrefix(p, i+"/")
				if !parent && !allowed[[2]string{p, i}] {
					t.Errorf("%s imports %s: sideways in one layer", p, i)
				}
			}
		}
	}
}
