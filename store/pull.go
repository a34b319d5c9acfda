package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker/reference"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/pkg/shortnames"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
)

// PullOptions tune a pull.
type PullOptions struct {
	TLSVerify types.OptionalBool // --tls-verify; OptionalBoolUndefined follows registries.conf
	Report    io.Writer          // progress: bars on a terminal, a line per layer otherwise; nil for none
}

// SystemContext returns the containers/image context for these options: it
// reads the user's registries.conf, auth files and policy like Podman does.
func (o PullOptions) SystemContext() *types.SystemContext {
	sys := &types.SystemContext{DockerRegistryUserAgent: "crun-lite"}
	if o.TLSVerify == types.OptionalBoolFalse {
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
		sys.OCIInsecureSkipTLSVerify = true
	} else if o.TLSVerify == types.OptionalBoolTrue {
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolFalse
	}
	return sys
}

// Pull copies an image into the store and returns it. ref is a registry
// reference (host/name:tag, a short name resolved through registries.conf)
// or any containers/image transport: docker://, oci:, oci-archive:,
// docker-archive:, dir:.
func (st *Store) Pull(ctx context.Context, ref string, o PullOptions) (*Image, error) {
	sys := o.SystemContext()
	policy, err := policyContext(sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = policy.Destroy() }()

	if transportOf(ref) != "" {
		src, err := alltransports.ParseImageName(ref)
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		return st.copyFrom(ctx, sys, policy, src, ref, o.Report)
	}

	resolved, err := shortnames.Resolve(sys, ref)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	var errs []error
	for _, cand := range resolved.PullCandidates {
		src, err := alltransports.ParseImageName("docker://" + cand.Value.String())
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		img, err := st.copyFrom(ctx, sys, policy, src, ref, o.Report)
		if err == nil {
			_ = cand.Record()
			return img, nil
		}
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, fmt.Errorf("pull %s: %w", ref, resolved.FormatPullErrors(errs))
}

// transportOf returns the containers/image transport named at the start of
// ref, or "" for a plain registry reference (whose "host:port" must not be
// read as a transport).
func transportOf(ref string) string {
	name, _, ok := strings.Cut(ref, ":")
	if !ok || transports.Get(name) == nil {
		return ""
	}
	return name
}

func (st *Store) copyFrom(ctx context.Context, sys *types.SystemContext, policy *signature.PolicyContext,
	src types.ImageReference, userRef string, report io.Writer) (*Image, error) {
	dest, err := st.destination(ctx, sys, src)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", userRef, err)
	}
	_, err = copy.Image(ctx, policy, dest, src, &copy.Options{
		ReportWriter:   report,
		SourceCtx:      sys,
		DestinationCtx: sys,
	})
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", userRef, err)
	}
	_, img, err := istorage.ResolveReference(dest)
	if err != nil {
		return nil, fmt.Errorf("pull %s: find the stored image: %w", userRef, err)
	}
	return st.wrap(img), nil
}

// destination names the stored image the way Podman does, so that scripts
// written for one work with the other: registry images keep their name,
// oci:DIR becomes localhost/DIR:TAG, an oci-archive takes the name in its
// index annotation, and images without any name are stored by ID.
func (st *Store) destination(ctx context.Context, sys *types.SystemContext, src types.ImageReference) (types.ImageReference, error) {
	var name string
	switch src.Transport().Name() {
	case "docker":
		if dr := src.DockerReference(); dr != nil {
			name = reference.TagNameOnly(dr).String()
		}
	case "oci", "dir":
		path, tag, _ := strings.Cut(src.StringWithinTransport(), ":")
		if tag == "" {
			tag = "latest"
		}
		name = localName(strings.TrimPrefix(path, "/") + ":" + tag)
	case "oci-archive":
		desc, err := ociarchive.LoadManifestDescriptorWithContext(sys, src)
		if err == nil {
			name = localName(desc.Annotations["org.opencontainers.image.ref.name"])
		}
	default:
		if dr := src.DockerReference(); dr != nil {
			name = reference.TagNameOnly(dr).String()
		}
	}
	if name != "" {
		named, err := reference.ParseNormalizedNamed(name)
		if err == nil {
			return istorage.Transport.NewStoreReference(st.s, named, "")
		}
	}
	id, err := configID(ctx, sys, src)
	if err != nil {
		return nil, err
	}
	return istorage.Transport.NewStoreReference(st.s, nil, id)
}

// localName turns a name without a registry into Podman's localhost/NAME,
// with :latest when untagged.
func localName(n string) string {
	if n == "" {
		return ""
	}
	first := strings.SplitN(n, "/", 2)[0]
	if !strings.Contains(n, "/") || !(strings.ContainsAny(first, ".:") || first == "localhost") {
		n = "localhost/" + n
	}
	named, err := reference.ParseNormalizedNamed(strings.ToLower(n))
	if err != nil {
		return ""
	}
	return reference.TagNameOnly(named).String()
}

// configID is the ID containers/image gives an image stored without a
// name: the hex of its config digest.
func configID(ctx context.Context, sys *types.SystemContext, src types.ImageReference) (string, error) {
	img, err := src.NewImage(ctx, sys)
	if err != nil {
		return "", err
	}
	defer img.Close()
	return img.ConfigInfo().Digest.Encoded(), nil
}

// policyContext applies the user's or the system's policy.json; without
// either, images are accepted as they are, as a fresh Podman install does.
func policyContext(sys *types.SystemContext) (*signature.PolicyContext, error) {
	p, err := signature.DefaultPolicy(sys)
	if err != nil {
		p = &signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}}
	}
	return signature.NewPolicyContext(p)
}
