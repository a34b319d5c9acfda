package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/pkg/docker/config"
	"go.podman.io/image/v5/types"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// LoginOptions describe a login to a registry.
type LoginOptions struct {
	// Registry is host[:port], optionally with a namespace
	// (host/team) for credentials that apply to that namespace only.
	Registry           string
	Username, Password string
	AuthFile           string // --authfile; "" means $REGISTRY_AUTH_FILE or auth.json
	TLSVerify          types.OptionalBool
}

// registryKey normalizes what users type (https://host/, host/ns) into
// the auth file key and the host to contact.
func registryKey(reg string) (key, host string) {
	key = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(reg, "https://"), "http://"), "/")
	host, _, _ = strings.Cut(key, "/")
	return key, host
}

// Login checks the credentials against the registry and stores them in the
// auth file, which it returns (as Podman: $XDG_RUNTIME_DIR/containers/auth.json
// by default).
func Login(ctx context.Context, o LoginOptions) (string, error) {
	sys := Options{TLSVerify: o.TLSVerify, AuthFile: o.AuthFile}.SystemContext()
	key, host := registryKey(o.Registry)
	if host == "" {
		return "", errors.New("login needs a REGISTRY")
	}
	if err := docker.CheckAuth(ctx, sys, o.Username, o.Password, host); err != nil {
		err = fmt.Errorf("log in to %s: %w", key, err)
		if strings.Contains(err.Error(), "http: server gave HTTP response to HTTPS client") {
			err = hint.Wrap(err, "the registry speaks plain HTTP: add --tls-verify=false, or mark it insecure in registries.conf")
		}
		return "", err
	}
	path, err := config.SetCredentials(sys, key, o.Username, o.Password)
	if err != nil {
		return "", fmt.Errorf("store credentials for %s: %w", key, err)
	}
	return path, nil
}

// LoggedInAs returns the user name stored for a registry, or "".
func LoggedInAs(reg, authFile string) (string, error) {
	sys := Options{AuthFile: authFile}.SystemContext()
	key, _ := registryKey(reg)
	auth, err := config.GetCredentials(sys, key)
	if err != nil {
		return "", err
	}
	return auth.Username, nil
}

// ErrNotLoggedIn means no credentials were stored for a registry.
var ErrNotLoggedIn = errors.New("not logged in")

// Logout removes the credentials of a registry from the auth file (and the
// other files containers/image reads them from), or of every registry with
// reg "".
func Logout(reg, authFile string) error {
	sys := Options{AuthFile: authFile}.SystemContext()
	if reg == "" {
		return config.RemoveAllAuthentication(sys)
	}
	key, _ := registryKey(reg)
	err := config.RemoveAuthentication(sys, key)
	if errors.Is(err, config.ErrNotLoggedIn) {
		return fmt.Errorf("%w to %s", ErrNotLoggedIn, key)
	}
	return err
}
