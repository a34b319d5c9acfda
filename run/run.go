package run

import (
	"context"
	"errors"
	"fmt"
	"github.com/crun-lite/crun-lite/run/network"
	"os"
	"os/exec"
	"strings"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/faults"
	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/internal/timing"
	"github.com/crun-lite/crun-lite/run/spawn"
	"github.com/crun-lite/crun-lite/run/spec"
	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

// Options describe one container run: what the user asked (spec.Options)
// and what the caller provides.
type Options struct {
	spec.Options

	// Pull fetches a missing image; nil makes a missing image an error.
	// The caller provides it: pulling needs containers/image, which the
	// lean crun-lite binary, the one that runs containers, does not link.
	Pull   func(ctx context.Context, ref string) (*store.Image, error)
	Timing *timing.Recorder
	// Detach: Detach, not Run, starts it; its monitor logs its output.
	Detach bool
	// Create makes the kept container (also with --rm, which then applies
	// to its runs) for a later start, and starts nothing: see Create.
	Create bool
	// Prepared runs once the container has its ID and run dir, before it
	// starts (--cidfile); an error stops the run.
	Prepared func(id string) error
	// StartNetworkHub starts the user's network hub (crun-lite-full
	// network-hub) for the first container of the default network.
	StartNetworkHub func() error
}

// ExitError is how every failure of this package ends: with the code
// crun-lite must exit with. Err nil is the container's own non-zero exit
// status, with nothing to print; otherwise the container could not start:
// 125 (runner), 126 (cannot execute), 127 (not found).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is what crun-lite exits with for this failure.
func (e *ExitError) ExitCode() int { return e.Code }

// coded gives err its exit code, once: an error already coded (by spawn's
// child or a helper) keeps its own.
func coded(err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	if userns.Rootless() && refusedInNamespace(err) {
		err = userns.DiagnoseRefused(err)
	}
	code := 125
	var se *spawn.StartError
	if errors.As(err, &se) {
		code = se.Code
		if strings.HasPrefix(se.Op, "change directory") && errors.Is(err, unix.EXDEV) {
			// spawn.c's check after chdir (CVE-2024-21626).
			err = hint.Wrap(fmt.Errorf("%s: that is outside the container's root filesystem: refused", se.Op),
				"give a working directory inside the container (-w); a /proc/self/fd path reaches the host through an open fd")
		}
	}
	return &ExitError{Code: code, Err: err}
}

// Container is a container prepared to start: its Spec, and what holds
// its image and state until Close.
type Container struct {
	Spec *spec.Spec

	opts    Options
	st      *store.Store
	release func() // the store's read locks, held until the rootfs is mounted
	rd      *state.Dir
	kept    *store.ContainerInfo // the stored container, unless --rm
	rootfs  *store.Rootfs
	stdio   *stdio
	keep    *keepIDState // --userns=keep-id
	proxies []*busProxy  // --share session-bus, system-bus
	// keepRunDir leaves the run dir to the garbage collector: it holds an
	// exit status the store could not take.
	keepRunDir bool
	lease      *network.Lease  // its place on the network hub (bridge)
	netnsFD    int             // the namespace container: and ns: join, during Start; -1 otherwise
	joined     *Info           // the container whose namespace container: joins
	netCfg     *network.Config // the user network --network NAME joins
}

// Engine names crun-lite and its version in /run/.containerenv; the
// command sets it.
var Engine = "crun-lite"

// Run runs a container to completion in this process: Prepare, Start and
// Supervise. It returns nil when the command exited 0, else an *ExitError.
func Run(ctx context.Context, st *store.Store, o Options, io Stdio) error {
	c, err := Prepare(ctx, st, o)
	if err != nil {
		return err
	}
	return c.RunHere(io)
}

// Prepare checks the options, finds (or pulls) the image and makes the
// container's run dir, and for a kept container its storage container.
func Prepare(ctx context.Context, st *store.Store, o Options) (*Container, error) {
	s, err := spec.New(state.NewID(), o.Options, st.RunRoot())
	if err != nil {
		return nil, coded(err)
	}
	c := &Container{Spec: s, opts: o, st: st}
	if err := CheckName(st, s.Name); err != nil {
		return nil, coded(err)
	}
	// Before the image lookup takes the store's read locks.
	if err := c.resolveJoined(); err != nil {
		return nil, coded(err)
	}
	if err := c.resolveNetwork(); err != nil {
		return nil, coded(err)
	}
	o.Timing.Mark("options")
	if err := c.loadImage(ctx); err != nil {
		c.Close()
		return nil, coded(err)
	}
	if o.Prepared != nil {
		if err := o.Prepared(s.ID); err != nil {
			c.Close()
			return nil, coded(err)
		}
	}
	faults.At("run:prepared")
	return c, nil
}

// Close undoes what Prepare and Start made and the container left: the
// image's locks, the fuse mount, the run dir, and the storage container of
// a --rm run on vfs. Native overlay mounts need no unmount: they lived in
// the container's mount namespace, gone with it.
func (c *Container) Close() {
	c.releaseLocks()
	c.stopProxies()
	c.keep.close()
	c.keep = nil
	if c.rd == nil {
		return
	}
	if c.rd.State.FuseMounted {
		_ = unix.Unmount(c.rd.Join("merged"), unix.MNT_DETACH)
	}
	if c.kept != nil {
		c.st.UnmountContainer(c.kept.ID)
		if c.temporary() {
			_ = c.st.DeleteContainer(c.kept.ID)
		}
	}
	if c.keepRunDir {
		c.rd.Unlock()
	} else {
		_ = c.rd.Remove()
	}
	c.rd = nil
	c.opts.Timing.Mark("teardown")
}

// mountOps are how run/spawn/ops.go describes the steps that mount: what a kernel
// restricting user namespaces refuses first.
var mountOps = []string{"mount ", "bind mount ", "open mount tree ", "pivot_root "}

// refusedInNamespace reports whether err is a failure of what only works
// with the user namespace's capabilities: cloning the container's
// namespaces, or a mount while setting up its root.
func refusedInNamespace(err error) bool {
	if errors.Is(err, spawn.ErrClone) {
		return true
	}
	var se *spawn.StartError
	if !errors.As(err, &se) {
		return false
	}
	for _, p := range mountOps {
		if strings.HasPrefix(se.Op, p) {
			return true
		}
	}
	return false
}

// loadImage finds (or pulls) the image and prepares the run dir. A --rm
// run on overlay takes the fast way: see store.ForRun and its run cache.
func (c *Container) loadImage(ctx context.Context) error {
	if c.temporary() && c.st.Driver.Name == "overlay" {
		return c.loadForRun(ctx)
	}
	img, err := c.st.Lookup(c.Spec.ImageRef)
	if errors.Is(err, store.ErrImageUnknown) && c.opts.Pull != nil {
		img, err = c.opts.Pull(ctx, c.Spec.ImageRef)
	}
	if err != nil {
		return err
	}
	c.opts.Timing.Mark("image lookup")
	cfg, err := img.Config()
	if err != nil {
		return err
	}
	if err := c.useImage(img.ID, cfg.Config); err != nil {
		return err
	}
	return c.createKept(img)
}

func (c *Container) loadForRun(ctx context.Context) error {
	ri, release, err := c.st.ForRun(c.Spec.ImageRef)
	if errors.Is(err, store.ErrImageUnknown) && c.opts.Pull != nil {
		// By ID: a transport reference (oci-archive:FILE) is not the name
		// the image gets in the store.
		var img *store.Image
		if img, err = c.opts.Pull(ctx, c.Spec.ImageRef); err == nil {
			ri, release, err = c.st.ForRun(img.ID)
		}
	}
	if err != nil {
		return err
	}
	c.release = release
	c.rootfs = ri.Rootfs
	c.opts.Timing.Mark("image lookup")
	return c.useImage(ri.ID, ri.Config)
}

func (c *Container) releaseLocks() {
	if c.release != nil {
		c.release()
		c.release = nil
	}
}

// useImage completes the spec from the image's config and makes the run
// dir, where the image is recorded for LiveImages (rmi must not take
// layers from under a running --rm container).
func (c *Container) useImage(id string, cfg imgspecv1.ImageConfig) error {
	s := c.Spec
	s.Image = id
	s.UseImage(cfg, c.opts.Workdir, c.opts.User)
	if len(s.Process.Args) == 0 {
		return errors.New("no command: the image has no Entrypoint or Cmd, give one after the image")
	}
	if err := s.Process.CheckNUL(); err != nil {
		return fmt.Errorf("image %s: %w", store.ShortID(id), err)
	}
	return c.makeRunDir()
}

// makeRunDir makes the run dir of the container's Spec, locked, and the
// files of its /etc.
func (c *Container) makeRunDir() error {
	s := c.Spec
	rd, err := state.Create(c.st.RunsDir(), s.ID, state.Record{
		Image: s.Image, MonitorPid: os.Getpid(), Name: s.Name, ImageRef: s.ImageRef, Command: s.Process.Args,
		Created: time.Now(), Remove: s.Remove, Detached: c.opts.Detach, TTY: s.Process.Terminal, StopTimeout: s.StopTimeout, StopSignal: s.StopSignal,
	})
	if err != nil {
		return err
	}
	c.rd = rd
	return c.writeEtc()
}

// createKept records the container in the store with a layer of its own
// (runs without --rm, and every run on vfs, which cannot mount layers).
func (c *Container) createKept(img *store.Image) error {
	info, err := c.st.CreateContainer(img, store.ContainerInfo{
		ID: c.Spec.ID, Name: c.Spec.Name, Image: c.Spec.ImageRef, Command: c.Spec.Process.Args, Status: "created", Volumes: c.Spec.VolumeNames(),
	})
	if err != nil {
		return err
	}
	c.kept = info
	if !c.temporary() {
		// What start needs to run it again, as decided now: the run
		// dir's copy goes with the run, and the monitor's spec.json
		// beside it is the last run's, resolved (its user, its volumes'
		// paths), for inspect.
		p, err := c.st.ContainerFile(info.ID, CreateSpecFile)
		if err == nil {
			err = c.Spec.Write(p)
		}
		if err != nil {
			return fmt.Errorf("save the container's spec: %w", err)
		}
	}
	return c.useKept()
}

// useKept records the kept container in the run dir and finds its root
// filesystem.
func (c *Container) useKept() error {
	// Recorded before the container can be running: if we die, GC must
	// delete it (--rm) or mark it exited.
	if c.temporary() {
		c.rd.State.TempContainer = c.kept.ID
	} else {
		c.rd.State.Container = c.kept.ID
	}
	if err := c.rd.Save(); err != nil {
		return err
	}
	var err error
	c.rootfs, err = c.st.ContainerRootfs(c.kept.ID)
	return err
}

// temporary: the container's storage container, if any, goes with this
// run (--rm, but not while create makes it for later runs).
func (c *Container) temporary() bool { return c.Spec.Remove && !c.opts.Create }

// In the single-id mode apt must not drop its privileges to its _apt user:
// root emulation fakes the setresuid, and apt checks that it took effect
// (APT::Sandbox::Verify), failing every download and install. This file,
// mounted read-only into the image's /etc/apt/apt.conf.d, keeps apt root,
// as Charliecloud's ch-image does with -o APT::Sandbox::User=root.
const (
	aptSingleID     = "apt-single-id"
	aptSingleIDFile = "00crun-lite-single-id"
	aptSingleIDConf = `// crun-lite, single-id mode: one id only, so apt stays root instead of
// dropping to _apt, which it could not (see crun-lite-run(1)).
APT::Sandbox::User "root";
`
)

// writeEtc writes the files bind-mounted over the image's /etc.
func (c *Container) writeEtc() error {
	hostname := c.Spec.Hostname
	rootless := 0
	if userns.Rootless() {
		rootless = 1
	}
	files := map[string]string{
		// /run/.containerenv, with Podman's keys (toolbx and many
		// scripts look for the file).
		"containerenv": fmt.Sprintf("engine=%q\nname=%q\nid=%q\nimage=%q\nimageid=%q\nrootless=%d\n",
			Engine, c.Spec.Name, c.Spec.ID, c.Spec.ImageRef, c.Spec.Image, rootless),
		"hostname": hostname + "\n",
	}
	// Where the network decides them (bridge: the hub's address and names;
	// container:, the other container's), start writes them, once.
	if n := c.Spec.Net; n == nil || (n.Mode != "bridge" && n.Mode != "container") {
		files["resolv.conf"] = c.resolvFile()
		if !c.noHosts() {
			files["hosts"] = c.hostsFile()
		}
	}
	if userns.Single() {
		files[aptSingleID] = aptSingleIDConf
	}
	for name, content := range files {
		if err := os.WriteFile(c.rd.Join("etc/"+name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// mountFuse mounts the rootfs with fuse-overlayfs in the holder's mount
// namespace, where the container's mount namespace will find it; the
// fuse-overlayfs daemon stays out of the container's pid namespace.
func (c *Container) mountFuse(prog, data, dir string) error {
	c.rd.State.FuseMounted = true // recorded first: a crash mid-mount still gets cleaned
	if err := c.rd.Save(); err != nil {
		return err
	}
	cmd := exec.Command(prog, "-o", data, c.rd.Join("merged"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("mount rootfs with %s: %s: %w", prog, strings.TrimSpace(string(out)), err)
	}
	return nil
}
