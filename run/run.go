package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/internal/resident"
	"github.com/crun-lite/crun-lite/internal/timing"
	"github.com/crun-lite/crun-lite/run/spawn"
	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

// Options describe one container run.
type Options struct {
	Image   string   // reference or ID; pulled when missing
	Command []string // replaces the image's Cmd
	Remove  bool     // --rm: nothing of the container remains after it exits
	Name    string   // --name of a kept container
	Network string   // "host" or "none"
	User    string   // --user; "" takes the image's User
	// GroupAdd are supplementary groups (names or numbers) added to the user's.
	GroupAdd    []string
	Interactive bool          // -i: our stdin is the command's
	TTY         bool          // -t: the command gets a terminal of its own
	Init        bool          // --init: a tiny init is pid 1 and the command its child
	StopTimeout time.Duration // after a forwarded SIGTERM, SIGKILL the container this much later

	Env        []string // -e: NAME=VALUE, or NAME for the host's value; after the image's and the files'
	EnvFiles   []string // --env-file
	Workdir    string   // -w; created when missing
	Entrypoint *string  // --entrypoint: nil keeps the image's, "" clears it, a JSON array or one program
	Hostname   string   // --hostname; default: the first 12 hex digits of the ID
	Volumes    []string // -v SOURCE:TARGET[:OPTIONS]
	Mounts     []string // --mount type=...,source=...,target=...
	Tmpfs      []string // --tmpfs PATH[:OPTIONS]
	ReadOnly   bool     // --read-only root filesystem
	// ReadOnlyTmpfs puts tmpfs on /tmp, /var/tmp and /run with --read-only.
	ReadOnlyTmpfs bool
	Userns        string   // --userns: "" or keep-id[:uid=U,gid=G]
	Privileged    bool     // all capabilities, no seccomp, nothing masked
	CapAdd        []string // --cap-add
	CapDrop       []string // --cap-drop
	SecurityOpt   []string // --security-opt

	// Pull fetches a missing image; nil makes a missing image an error.
	// The caller provides it: pulling needs containers/image, which the
	// lean crun-lite binary, the one that runs containers, does not link.
	Pull   func(ctx context.Context, ref string) (*store.Image, error)
	Timing *timing.Recorder
}

// defaultPath is the PATH of a container whose image sets none (Podman's).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ExitError carries the exit code crun-lite must end with when the container
// could not start: 125 (runner), 126 (cannot execute), 127 (not found).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is what crun-lite exits with for this failure.
func (e *ExitError) ExitCode() int { return e.Code }

// container is one run in progress.
type container struct {
	id       string
	opts     Options
	st       *store.Store
	release  func() // the store's read locks, held until the rootfs is mounted
	config   imgspecv1.ImageConfig
	rd       *state.Dir
	kept     *store.ContainerInfo // the stored container, unless --rm
	rootfs   *store.Rootfs
	hostname string
	stdio    *stdio
	cfg      config
	keep     *keepIDState // --userns=keep-id
}

// Run runs a container to completion and returns the command's exit code.
func Run(ctx context.Context, st *store.Store, o Options) (int, error) {
	if o.Network == "" {
		o.Network = "host"
	}
	if o.Network != "host" && o.Network != "none" {
		return 125, hint.Wrap(fmt.Errorf("network %q is not supported yet", o.Network), "use --network host or --network none")
	}
	c := &container{id: state.NewID(), opts: o, st: st, stdio: newStdio(o.TTY, o.Interactive)}
	c.hostname = c.id[:12]
	if o.Hostname != "" {
		c.hostname = o.Hostname
	}
	cfg, err := configure(o, st.RunRoot())
	if err != nil {
		return 125, err
	}
	c.cfg = cfg
	c.opts.Timing.Mark("options")
	defer c.releaseLocks()
	if err := c.loadImage(ctx); err != nil {
		return 125, err
	}
	argv := c.argv()
	if len(argv) == 0 {
		return 125, errors.New("no command: the image has no Entrypoint or Cmd, give one after the image")
	}
	code, err := c.run(argv)
	if err != nil {
		if userns.Rootless() && refusedInNamespace(err) {
			err = userns.DiagnoseRefused(err)
		}
		var se *spawn.StartError
		if errors.As(err, &se) {
			return se.Code, err
		}
		return 125, err
	}
	return code, nil
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
func (c *container) loadImage(ctx context.Context) error {
	if c.opts.Remove && c.st.Driver.Name == "overlay" {
		return c.loadForRun(ctx)
	}
	img, err := c.st.Lookup(c.opts.Image)
	if errors.Is(err, store.ErrImageUnknown) && c.opts.Pull != nil {
		img, err = c.opts.Pull(ctx, c.opts.Image)
	}
	if err != nil {
		return err
	}
	c.opts.Timing.Mark("image lookup")
	cfg, err := img.Config()
	if err != nil {
		return err
	}
	c.config = cfg.Config
	if err := c.prepareRunDir(img.ID); err != nil {
		return err
	}
	return c.createKept(img)
}

func (c *container) loadForRun(ctx context.Context) error {
	ri, release, err := c.st.ForRun(c.opts.Image)
	if errors.Is(err, store.ErrImageUnknown) && c.opts.Pull != nil {
		// By ID: a transport reference (oci-archive:FILE) is not the name
		// the image gets in the store.
		var img *store.Image
		if img, err = c.opts.Pull(ctx, c.opts.Image); err == nil {
			ri, release, err = c.st.ForRun(img.ID)
		}
	}
	if err != nil {
		return err
	}
	c.release = release
	c.config, c.rootfs = ri.Config, ri.Rootfs
	c.opts.Timing.Mark("image lookup")
	return c.prepareRunDir(ri.ID)
}

func (c *container) releaseLocks() {
	if c.release != nil {
		c.release()
		c.release = nil
	}
}

// argv is Entrypoint + Cmd, the command line replacing Cmd. Like Docker and
// Podman, --entrypoint also drops the image's Cmd.
func (c *container) argv() []string {
	entry, cmd := c.config.Entrypoint, c.config.Cmd
	if c.cfg.entrypoint != nil {
		entry, cmd = c.cfg.entrypoint, nil
	}
	if len(c.opts.Command) > 0 {
		cmd = c.opts.Command
	}
	return append(append([]string{}, entry...), cmd...)
}

// prepareRunDir makes the run dir, where the image is recorded for
// LiveImages (rmi must not take layers from under a running --rm container).
func (c *container) prepareRunDir(imageID string) error {
	rd, err := state.Create(c.st.RunsDir(), c.id, state.Record{Image: imageID, MonitorPid: os.Getpid()})
	if err != nil {
		return err
	}
	c.rd = rd
	return c.writeEtc()
}

// createKept records the container in the store with a layer of its own
// (runs without --rm, and every run on vfs, which cannot mount layers).
func (c *container) createKept(img *store.Image) error {
	info, err := c.st.CreateContainer(img, store.ContainerInfo{
		Name: c.opts.Name, Image: c.opts.Image, Command: c.argv(), Status: "created", Volumes: c.volumeNames(),
	})
	if err != nil {
		return err
	}
	c.kept = info
	// Recorded before the container can be running: if we die, GC must
	// delete it (--rm) or mark it exited.
	if c.opts.Remove {
		c.rd.State.TempContainer = info.ID
	} else {
		c.rd.State.Container = info.ID
	}
	if err := c.rd.Save(); err != nil {
		return err
	}
	c.rootfs, err = c.st.ContainerRootfs(info.ID)
	return err
}

// writeEtc writes the files bind-mounted over the image's /etc.
func (c *container) writeEtc() error {
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil || c.opts.Network == "none" {
		resolv = nil
	}
	files := map[string]string{
		"hostname":    c.hostname + "\n",
		"hosts":       "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + c.hostname + "\n",
		"resolv.conf": string(resolv),
	}
	for name, content := range files {
		if err := os.WriteFile(c.rd.Join("etc/"+name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// run mounts, starts and waits for the container, then tears it down.
func (c *container) run(argv []string) (int, error) {
	t := c.opts.Timing
	defer c.teardown()

	if c.cfg.keepID != nil {
		k, err := prepareKeepID(c.cfg.keepID)
		if err != nil {
			return 125, err
		}
		c.keep = k
	}
	first := spawn.List{Timing: t != nil}
	if err := c.stdio.prepare(&first); err != nil {
		return 125, err
	}
	defer c.stdio.finish()
	if err := c.rootfsOps(&first); err != nil {
		return 125, err
	}
	t.Mark("layer lookup")

	// Signals are caught from before the child exists: one sent once the
	// command runs must find the forwarder in place.
	fwd := catchSignals()
	defer fwd.stop()
	runtime.LockOSThread() // the child's parent-death signal follows this thread
	defer runtime.UnlockOSThread()
	ch, err := spawn.Start(&first, c.cloneFlags(), !c.opts.Init)
	if err != nil {
		return 125, err
	}
	fwd.forwardTo(ch.Pid, c.opts.StopTimeout)
	c.stdio.hangup = fwd.hangup
	if err := ch.Next(); err != nil {
		ch.Kill()
		return 125, err
	}
	for _, pt := range ch.Times {
		t.MarkMono(pt.Phase, pt.NS)
	}
	c.stdio.started(ch.Master)
	c.releaseLocks()
	t.Mark("rootfs setup")

	last, err := c.execOps(ch.Pid, argv)
	if err != nil {
		ch.Kill()
		return 125, err
	}
	t.Mark("user and process setup")
	if err := ch.Send(last); err != nil {
		ch.Kill()
		return 125, err
	}
	if err := ch.Finish(); err != nil {
		ch.Wait()
		return 125, err
	}
	t.Mark("exec")
	c.markRunning()
	c.rd.State.Pid = ch.Pid
	running := make(chan struct{})
	go func() {
		// Off the start path: what a later command needs to find the
		// container, then what earlier runs left behind.
		c.rd.State.PidStart = userns.ProcStartTime(ch.Pid)
		_ = c.rd.Save()
		state.CollectGarbage(c.st)
		shrinkWhileWaiting(running)
	}()
	code, err := ch.Wait()
	close(running)
	c.stdio.finish()
	t.Mark("container run")
	c.markExited(code)
	return code, err
}

// shrinkAfter is how long a container runs before its monitor gives back
// the memory it needs only at the start and at the end: a command that ends
// sooner (most --rm runs) pays nothing, not even the minor faults at exit.
const shrinkAfter = 500 * time.Millisecond

// shrinkWhileWaiting drops the monitor's resident pages of its binary and
// libraries once the container has run for shrinkAfter (see
// internal/resident): the monitor then only waits, and its resident set
// goes from about 13 to about 6.5 MiB for the rest of the container's life
// (make bench, "after 2 s"). The page cache keeps the pages.
func shrinkWhileWaiting(running <-chan struct{}) {
	select {
	case <-running:
	case <-time.After(shrinkAfter):
		resident.Shrink() // best effort: nothing depends on it
	}
}

func (c *container) cloneFlags() uintptr {
	f := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC)
	if c.opts.Network == "none" {
		f |= unix.CLONE_NEWNET
	}
	return f
}

// teardown undoes what the run made: the fuse mount, the run dir, and the
// storage container of a --rm run on vfs. Native overlay mounts need no
// unmount: they lived in the container's mount namespace, gone with it.
func (c *container) teardown() {
	c.keep.close()
	if c.rd == nil {
		return
	}
	if c.rd.State.FuseMounted {
		_ = unix.Unmount(c.rd.Join("merged"), unix.MNT_DETACH)
	}
	if c.kept != nil {
		c.st.UnmountContainer(c.kept.ID)
		if c.opts.Remove {
			_ = c.st.DeleteContainer(c.kept.ID)
		}
	}
	_ = c.rd.Remove()
	c.opts.Timing.Mark("teardown")
}

func (c *container) markRunning() {
	if c.kept != nil && !c.opts.Remove {
		c.kept.Status = "running"
		_ = c.st.SaveContainer(c.kept)
	}
}

func (c *container) markExited(code int) {
	if c.kept != nil && !c.opts.Remove {
		c.kept.Status, c.kept.ExitCode = "exited", code
		_ = c.st.SaveContainer(c.kept)
	}
}

// forwardedSignals are passed on to the container, as Podman's --sig-proxy
// does; SIGCHLD, SIGPIPE, SIGURG (the Go runtime's) and SIGWINCH (a resize,
// see terminal.go) are ours.
var forwardedSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGALRM, unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGPWR,
	unix.SIGVTALRM, unix.SIGPROF, unix.SIGIO, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGSYS, unix.SIGTRAP,
}

// forwarder passes our signals on to the container's first process. A pid
// 1 without a handler ignores SIGTERM (the kernel protects namespace inits),
// so after a SIGTERM the container gets stopTimeout to exit before SIGKILL,
// which the kernel delivers to a namespace's init from outside.
type forwarder struct {
	ch   chan os.Signal
	hup  chan struct{} // our terminal hung up
	done chan struct{}
}

// catchSignals starts catching the forwarded signals; they wait in the
// channel until forwardTo knows where to send them.
func catchSignals() *forwarder {
	f := &forwarder{ch: make(chan os.Signal, 16), hup: make(chan struct{}, 1), done: make(chan struct{})}
	signal.Notify(f.ch, forwardedSignals...)
	return f
}

func (f *forwarder) forwardTo(pid int, stopTimeout time.Duration) {
	go func() {
		var kill <-chan time.Time
		for {
			select {
			case s := <-f.ch:
				_ = unix.Kill(pid, s.(unix.Signal))
				if s == unix.SIGTERM && kill == nil && stopTimeout > 0 {
					kill = time.After(stopTimeout)
				}
			case <-f.hup:
				// Like SIGTERM: nobody is left to end the container.
				_ = unix.Kill(pid, unix.SIGHUP)
				if kill == nil && stopTimeout > 0 {
					kill = time.After(stopTimeout)
				}
			case <-kill:
				_ = unix.Kill(pid, unix.SIGKILL)
			case <-f.done:
				return
			}
		}
	}()
}

// hangup tells the container our terminal is gone: SIGHUP, then SIGKILL
// after the stop timeout. A SIGHUP sent to us is only forwarded: a daemon may
// take it as "reload".
func (f *forwarder) hangup() {
	select {
	case f.hup <- struct{}{}:
	default:
	}
}

// stop ends forwarding. The signals stay caught (signal.Stop costs a round
// trip to the runtime's signal goroutine per signal, ~2 ms for all of them,
// and crun-lite is about to exit): one arriving now is dropped instead of
// killing us before we report the container's exit code.
func (f *forwarder) stop() {
	close(f.done)
}

// mountFuse mounts the rootfs with fuse-overlayfs in the holder's mount
// namespace, where the container's mount namespace will find it; the
// fuse-overlayfs daemon stays out of the container's pid namespace.
func (c *container) mountFuse(prog, data, dir string) error {
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
