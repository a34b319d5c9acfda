// Package registry is how crun-lite-full reaches registries: the
// containers/image context built from the registry flags (TLS, auth file,
// credentials, platform), the credentials that login and logout keep in the
// auth file, and a summary of registries.conf for info. Copying images
// through that context is package transfer's.
package registry

import (
	"os"
	"strings"

	"go.podman.io/image/v5/types"
)

// Options are the registry flags of a command.
type Options struct {
	TLSVerify types.OptionalBool // --tls-verify; OptionalBoolUndefined follows registries.conf
	// AuthFile is --authfile; "" means $REGISTRY_AUTH_FILE, else the
	// usual auth.json and ~/.docker/config.json.
	AuthFile string
	// Creds is --creds USER[:PASSWORD], used instead of any auth file.
	Creds string
	// OS, Arch and Variant choose an image from a manifest list
	// (--platform, --os, --arch, --variant); "" is the host's.
	OS, Arch, Variant string
}

// SystemContext returns the containers/image context for these options: it
// reads the user's registries.conf, auth files and policy like Podman does.
func (o Options) SystemContext() *types.SystemContext {
	sys := &types.SystemContext{
		DockerRegistryUserAgent: "crun-lite",
		OSChoice:                o.OS,
		ArchitectureChoice:      o.Arch,
		VariantChoice:           o.Variant,
		AuthFilePath:            authFile(o.AuthFile),
	}
	if o.TLSVerify == types.OptionalBoolFalse {
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
		sys.OCIInsecureSkipTLSVerify = true
	} else if o.TLSVerify == types.OptionalBoolTrue {
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolFalse
	}
	if o.Creds != "" {
		user, pass, _ := strings.Cut(o.Creds, ":")
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: user, Password: pass}
	}
	return sys
}

// authFile is the auth file a command uses: the flag's, else
// $REGISTRY_AUTH_FILE as Podman reads it, else "" for the default list.
func authFile(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("REGISTRY_AUTH_FILE")
}
