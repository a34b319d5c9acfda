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
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || d+"/" == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(d, f)) {
				t.Errorf("the lean build links %s", d)
			}
		}
	}
}
