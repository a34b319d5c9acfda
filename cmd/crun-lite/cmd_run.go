package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/crun-lite/crun-lite/run"
	"github.com/crun-lite/crun-lite/run/spec"
	"github.com/crun-lite/crun-lite/userns"
)

const (
	catMounts    = "Mounts"
	catContainer = "Container"
	catSecurity  = "Security"
	catNetwork   = "Network"
	catImage     = "Image"
	catDesktop   = "Desktop"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a command in a new container",
		ArgsUsage: "IMAGE [COMMAND [ARG...]]",
		Description: `Runs COMMAND (default: the image's Entrypoint and Cmd) in a new container made
from IMAGE, pulling IMAGE first when it is not in the store. crun-lite exits with
the command's exit code; 125 when crun-lite itself failed, 126 when the command
cannot be executed, 127 when it is not found, 128+N when it died of signal N.

Signals sent to crun-lite are passed on to the command, whose handlers (a
shell's trap) see them. A command that is pid 1 ignores the signals it has no
handler for (the kernel's rule for namespace inits: sleep as pid 1 ignores
SIGTERM), so after forwarding SIGTERM crun-lite kills the container with SIGKILL
--stop-timeout seconds later and exits 137; the same follows a SIGHUP when the
terminal of -it hangs up (its window closed). --init puts a tiny init in front
that forwards every signal and reaps zombies; with -t the command's process
group, not the init, is the terminal's foreground, so a Ctrl-C reaches the
command once.

Containers get Podman's isolation: root keeps Podman's default capabilities
(other users none), a seccomp filter denies the calls Podman's default profile
denies, and the /proc and /sys paths Podman hides are masked or read-only.
no_new_privs is off by default, as in Podman, so that setuid programs of the
image (su, sudo, ping) keep working; --security-opt no-new-privileges sets it.

In the single-id mode (no subordinate ids, no newuidmap, or --userns=single)
the namespace maps you alone: every user of the image is container root,
--user keeps only the user's HOME and USER, the seccomp filter fakes chown,
set*id and setgroups to other ids and mknod of devices, and images with
/etc/apt/apt.conf.d get a read-only 00crun-lite-single-id there that keeps
apt root (APT::Sandbox::User). See docs/single-id.md.

--device binds the host's device node (or a directory of them: /dev/dri,
/dev/snd) into the container; a user namespace cannot make device nodes. The
node's mode decides who may open it, as with rootless Podman: there is no
device cgroup, so PERMS is checked against what you may open, not enforced.
A device you reach only through a group (kvm, render, audio, video) needs
--group-add keep-groups, which keeps your supplementary groups of the host
instead of setting the image's. What that costs: those groups are not mapped
in the user namespace, so inside they all show as nogroup (65534), files
cannot be given to them (chgrp), and the image's groups of the user are not
set. crun-lite refuses, before starting anything, a device that is missing
or that the container's process could not open, naming the group or udev rule
that would give access.

--share shares one resource of your desktop session at a time, named as in
Flatpak: its socket is bound into the container's own XDG_RUNTIME_DIR (a
tmpfs on /run/user/UID) and the variable naming it set. wayland:
$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY, WAYLAND_DISPLAY. x11: the socket of $DISPLAY
and a copy of its cookie from $XAUTHORITY rewritten to match any host name,
DISPLAY and XAUTHORITY (never xhost +); fallback-x11: x11 only when the session
has no Wayland socket. pulseaudio, pipewire: the pulse socket ($PULSE_SERVER or
$XDG_RUNTIME_DIR/pulse/native), PULSE_SERVER. session-bus[=NAME,...]: the
session bus through xdg-dbus-proxy, which lets the container talk only to the
names given (default org.freedesktop.Notifications and
org.freedesktop.portal.*), DBUS_SESSION_BUS_ADDRESS; system-bus[=NAME,...]: the
system bus through a proxy, filtered to the names given, else under the system
bus's own policy for local users. gpu: /dev/dri and the GPUs of the CDI specs
(each vendor's gpu=all), with --group-add keep-groups.
fonts, themes: the host's /usr/share/fonts, and /usr/share/icons and
/usr/share/themes, read-only under /usr/local/share (where fontconfig and GTK
look besides the image's own); locale: LANG, LANGUAGE and LC_*; timezone: the
host's /etc/localtime, read-only, and TZ. The servers check
who connects, so --share and --desktop run the command as you
(--userns=keep-id, chosen when --userns is not given). Nothing else of the
session (its other sockets, your home) is shared. --desktop shares what a GUI
app needs: wayland, fallback-x11, pulseaudio, gpu, the filtered session bus,
fonts, locale and timezone, each where the session and host have it.

Examples:
   crun-lite run --rm docker.io/library/busybox echo hello
   crun-lite run -it --rm --user 1000 IMAGE sh
   echo hi | crun-lite run -i --rm IMAGE cat
   crun-lite run --rm --device /dev/kvm --group-add keep-groups IMAGE qemu-system-x86_64 -accel kvm ...
   crun-lite run --rm --desktop IMAGE gnome-calculator`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "rm", Usage: "remove the container when it exits", Category: catContainer},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run the container in the background and print its ID; a monitor logs its output (see logs)", Category: catContainer},
			&cli.BoolFlag{Name: "replace", Usage: "with --name, first remove (stopping it if needed) a container of that name", Category: catContainer},
			&cli.StringFlag{Name: "cidfile", Usage: "write the container's ID to `FILE`", Category: catContainer},
			&cli.StringFlag{Name: "stop-signal", Usage: "`SIGNAL` stop sends first (default: the image's StopSignal, else SIGTERM)", Category: catContainer},
			&cli.StringFlag{Name: "detach-keys", Value: run.DefaultDetachKeys, Usage: "`KEYS` that detach from -it, leaving the container running: comma-separated, a character or ctrl-X each (\"\": none)", Category: catContainer},
			&cli.BoolFlag{Name: "sig-proxy", Value: true, Usage: "pass the signals crun-lite gets on to the container (without -t)", Category: catContainer},
			&cli.StringSliceFlag{Name: "log-opt", Usage: "log option `max-size=SIZE`: rotate a detached container's log at SIZE (10mb, 512k)", Category: catContainer},
			&cli.StringFlag{Name: "name", Usage: "name the kept container `NAME` (must be unique)", Category: catContainer},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run as `USER[:GROUP]` (names or numbers from the image's /etc/passwd and /etc/group)", Category: catSecurity},
			&cli.StringSliceFlag{Name: "group-add", Usage: "add supplementary `GROUP` (name from the image's /etc/group, or number), or keep-groups alone: keep your groups of the host (they show as nogroup inside)", Category: catSecurity},
			&cli.StringSliceFlag{Name: "device", Usage: "give the container the host's device `HOST[:CONTAINER][:PERMS]` (a node or a directory of them, bind-mounted), or the CDI device VENDOR/CLASS=NAME (see cdi list)", Category: catSecurity},
			&cli.StringSliceFlag{Name: "share", Usage: "share the desktop's `RESOURCE`: " + strings.Join(spec.ShareValues, ", ") + " (session-bus=NAME,... and system-bus=NAME,...: the only names it may talk to); runs as you (keep-id)", Category: catDesktop},
			&cli.BoolFlag{Name: "desktop", Usage: "share what a GUI app needs: --share " + strings.Join(spec.DesktopShares, ","), Category: catDesktop},
			&cli.StringSliceFlag{Name: "cdi-spec-dir", Usage: "read CDI specs from `DIR` too, after /etc/cdi and /var/run/cdi", Category: catSecurity},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep stdin open and pass it to the command", Category: catContainer},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the command a terminal of its own (stdout and stderr merge)", Category: catContainer},
			&cli.BoolFlag{Name: "init", Usage: "run a tiny init as pid 1 that forwards signals and reaps zombies", Category: catContainer},
			&cli.UintFlag{Name: "preserve-fds", Usage: "pass `N` file descriptors beyond stderr (3 to 3+N-1) on to the command; all others are closed", Category: catContainer},
			&cli.UintFlag{Name: "stop-timeout", Value: 10, Usage: "after forwarding SIGTERM, SIGKILL the container when it is still running `SECONDS` later (0: never)", Category: catContainer},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set `NAME=VALUE` (or NAME: the host's value) in the container's environment", Category: catContainer},
			&cli.StringSliceFlag{Name: "env-file", Usage: "read environment settings from `FILE` (NAME=VALUE lines)", Category: catContainer},
			&cli.BoolFlag{Name: "env-host", Usage: "pass the host's environment to the container, under --env-file and -e", Category: catContainer},
			&cli.StringSliceFlag{Name: "unsetenv", Usage: "leave variable `NAME` out of the container's environment, the image's and the defaults (PATH, TERM, HOSTNAME, container) too", Category: catContainer},
			&cli.BoolFlag{Name: "unsetenv-all", Usage: "leave out every variable of the image and every default: only --env-file and -e", Category: catContainer},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "run the command in `DIR` (created when missing)", Category: catContainer},
			&cli.StringFlag{Name: "entrypoint", Usage: "replace the image's entrypoint with `CMD` (a program or a JSON array; \"\" clears it)", Category: catContainer},
			&cli.StringFlag{Name: "hostname", Usage: "set the container's host name to `NAME`", Category: catContainer},
			&cli.StringSliceFlag{Name: "volume", Aliases: []string{"v"}, Usage: "bind-mount `SOURCE:TARGET[:OPTIONS]` (ro, rw, z, Z, U); a SOURCE that is not a path names a volume", Category: catMounts},
			&cli.StringSliceFlag{Name: "mount", Usage: "mount `type=bind|volume|tmpfs,source=...,target=...[,ro]`", Category: catMounts},
			&cli.StringSliceFlag{Name: "tmpfs", Usage: "mount a tmpfs on `PATH[:OPTIONS]` (default rw,noexec,nosuid,nodev)", Category: catMounts},
			&cli.BoolFlag{Name: "read-only", Usage: "make the root filesystem read-only", Category: catMounts},
			&cli.BoolFlag{Name: "read-only-tmpfs", Value: true, Usage: "with --read-only, keep /tmp, /var/tmp and /run writable (tmpfs)", Category: catMounts},
			&cli.StringFlag{Name: "userns", Usage: "user namespace `MODE`: keep-id[:uid=U,gid=G] keeps your uid and gid inside; single runs in the single-id namespace and its store (as the global --userns=single)", Category: catSecurity},
			&cli.BoolFlag{Name: "privileged", Usage: "give the container every capability of the user namespace, no seccomp filter, nothing masked (still rootless)", Category: catSecurity},
			&cli.StringSliceFlag{Name: "cap-add", Usage: "add capability `CAP` (or ALL)", Category: catSecurity},
			&cli.StringSliceFlag{Name: "cap-drop", Usage: "drop capability `CAP` (or ALL)", Category: catSecurity},
			&cli.StringSliceFlag{Name: "security-opt", Usage: "`OPT`: no-new-privileges (off by default, as in Podman, so setuid programs work), seccomp=unconfined|FILE.json, mask=PATHS, unmask=PATHS|ALL", Category: catSecurity},
			&cli.StringFlag{Name: "network", Aliases: []string{"net"}, Value: "bridge", Usage: "network `MODE`: bridge (a private network of its own, with a way out through the user's network hub), host (share the host's: every service on its loopback and abstract sockets too), none (loopback only), container:NAME (share a running container's), ns:PATH (join a namespace by its file) or the NAME of a user network (network create)", Category: catNetwork},
			&cli.StringSliceFlag{Name: "publish", Aliases: []string{"p"}, Usage: "publish a container's port on the host: `[IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]` (ranges N-M; no HOSTPORT: a free one)", Category: catNetwork},
			&cli.BoolFlag{Name: "publish-all", Aliases: []string{"P"}, Usage: "publish every port the image exposes (EXPOSE) and --expose names, each on a free host port", Category: catNetwork},
			&cli.StringSliceFlag{Name: "expose", Usage: "expose `PORT[-PORT][/tcp|udp]` of the container, for -P", Category: catNetwork},
			&cli.StringSliceFlag{Name: "dns", Usage: "nameserver `IP` in /etc/resolv.conf instead of the network's", Category: catNetwork},
			&cli.StringSliceFlag{Name: "dns-search", Usage: "search `DOMAIN` in /etc/resolv.conf (. for none)", Category: catNetwork},
			&cli.StringSliceFlag{Name: "dns-option", Usage: "resolver `OPTION` in /etc/resolv.conf", Category: catNetwork},
			&cli.StringSliceFlag{Name: "add-host", Usage: "add `NAME:IP` to /etc/hosts", Category: catNetwork},
			&cli.BoolFlag{Name: "no-hosts", Usage: "leave the image's /etc/hosts alone", Category: catNetwork},
			tlsVerifyFlag(catImage),
			&cli.StringFlag{Name: "pull", Value: "missing", Usage: "`POLICY` for pulling IMAGE: missing (when not in the store), always, newer (pull; on failure use the stored one), never", Category: catImage},
		},
		Action: withStore(runAction),
	}
}

func tlsVerifyFlag(category string) cli.Flag {
	return &cli.BoolFlag{Name: "tls-verify", Value: true, Usage: "require HTTPS and verify certificates when contacting registries", Category: category}
}

func runAction(c *cli.Context, e *env) error {
	if fd := userns.AttachFD(); fd >= 0 {
		return attachRun(c, e, fd)
	}
	ro, err := runOptions(c, e)
	if err != nil {
		return err
	}
	if _, err := run.ParseDetachKeys(c.String("detach-keys")); err != nil {
		return err
	}
	// A kept container, or -it on a terminal, goes through a monitor
	// our waiting parent attaches to (userns/detach.c, run_mode): it
	// forked for that, and we are its child.
	attach := !ro.Detach && userns.DetachFD() >= 0
	if !ro.Detach && !attach {
		return run.Run(e.ctx, e.store, ro, run.HostStdio())
	}
	ro.Detach = true
	ctr, err := run.Prepare(e.ctx, e.store, ro)
	if err != nil {
		return err
	}
	return ctr.Detach(run.DetachOptions{
		ID:      c.App.Writer,
		Attach:  attach,
		Cleanup: func(id string) []string { return cleanupArgs(c, e, id) },
	})
}

// attachRun is the waiting half of a run that goes through a monitor: our
// child started the container and sent a connection to it (as start -a's).
func attachRun(c *cli.Context, e *env, fd int) error {
	keys, _ := run.ParseDetachKeys(c.String("detach-keys")) // checked by the child
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		keys = nil // bytes of a pipe or file are data
	}
	return attachHanded(e, fd, userns.AttachID(), run.AttachOptions{NoStdin: !c.Bool("interactive"), SigProxy: c.Bool("sig-proxy"),
		DetachKeys: keys, TTY: c.Bool("tty"), Hangup: true})
}

// runOptions reads the options of run (and create, which has them all but
// -d): it removes the container --replace names, and refuses an existing
// --cidfile.
func runOptions(c *cli.Context, e *env) (run.Options, error) {
	verb := c.Command.Name
	if c.NArg() < 1 {
		return run.Options{}, fmt.Errorf("%s needs an IMAGE: crun-lite %s [OPTIONS] IMAGE [COMMAND [ARG...]]", verb, verb)
	}
	opts := spec.Options{
		Image:         c.Args().First(),
		Command:       c.Args().Tail(),
		Remove:        c.Bool("rm"),
		Name:          c.String("name"),
		Network:       c.String("network"),
		Publish:       c.StringSlice("publish"),
		PublishAll:    c.Bool("publish-all"),
		Expose:        c.StringSlice("expose"),
		DNS:           c.StringSlice("dns"),
		DNSSearch:     c.StringSlice("dns-search"),
		DNSOption:     c.StringSlice("dns-option"),
		AddHost:       c.StringSlice("add-host"),
		NoHosts:       c.Bool("no-hosts"),
		User:          c.String("user"),
		GroupAdd:      c.StringSlice("group-add"),
		Devices:       c.StringSlice("device"),
		Share:         c.StringSlice("share"),
		Desktop:       c.Bool("desktop"),
		Interactive:   c.Bool("interactive"),
		TTY:           c.Bool("tty"),
		Init:          c.Bool("init"),
		StopTimeout:   time.Duration(c.Uint("stop-timeout")) * time.Second,
		PreserveFDs:   int(c.Uint("preserve-fds")),
		StopSignal:    c.String("stop-signal"),
		LogOpts:       c.StringSlice("log-opt"),
		EnvHost:       c.Bool("env-host"),
		UnsetEnv:      c.StringSlice("unsetenv"),
		UnsetAll:      c.Bool("unsetenv-all"),
		Env:           c.StringSlice("env"),
		EnvFiles:      c.StringSlice("env-file"),
		Workdir:       c.String("workdir"),
		Hostname:      c.String("hostname"),
		Volumes:       c.StringSlice("volume"),
		Mounts:        c.StringSlice("mount"),
		Tmpfs:         c.StringSlice("tmpfs"),
		ReadOnly:      c.Bool("read-only"),
		ReadOnlyTmpfs: c.Bool("read-only-tmpfs"),
		Userns:        c.String("userns"),
		Privileged:    c.Bool("privileged"),
		CapAdd:        commaList(c.StringSlice("cap-add")),
		CapDrop:       commaList(c.StringSlice("cap-drop")),
		SecurityOpt:   c.StringSlice("security-opt"),
	}
	if err := applyCDI(c, &opts); err != nil {
		return run.Options{}, err
	}
	if c.IsSet("entrypoint") {
		ep := c.String("entrypoint")
		opts.Entrypoint = &ep
	}
	if c.Bool("replace") {
		if opts.Name == "" {
			return run.Options{}, errors.New("--replace needs --name: it replaces the container of that name")
		}
		if err := replaceContainer(c, e, opts.Name); err != nil {
			return run.Options{}, err
		}
	}
	if cid := c.String("cidfile"); cid != "" {
		// Podman refuses an existing file: it may be another container's.
		if _, err := os.Lstat(cid); err == nil {
			return run.Options{}, fmt.Errorf("container id file %s exists: remove it or choose another --cidfile", cid)
		}
	}
	ro := run.Options{Options: opts, Pull: runPuller(c, e), Timing: e.timing, Detach: c.Bool("detach"), StartNetworkHub: startNetworkHub}
	if err := applyPullPolicy(c, e, &ro); err != nil {
		return run.Options{}, err
	}
	if cid := c.String("cidfile"); cid != "" {
		ro.Prepared = func(id string) error { return writeCIDFile(cid, id) }
	}
	return ro, nil
}

// applyPullPolicy does what --pull asks before the run: never takes the
// puller away (a missing image is then "image not known", exit 125, as
// in Podman), always and newer pull first. newer falls back on the
// stored image when the pull fails, with a warning: "is the registry's
// newer" is answered by the pull itself, which copies nothing when the
// digests agree.
func applyPullPolicy(c *cli.Context, e *env, ro *run.Options) error {
	switch policy := strings.ToLower(c.String("pull")); policy {
	case "", "missing":
	case "never":
		ro.Pull = nil
	case "always", "newer":
		_, err := ro.Pull(e.ctx, ro.Image)
		if err == nil {
			return nil
		}
		if policy == "newer" {
			if _, lerr := e.store.Lookup(ro.Image); lerr == nil {
				fmt.Fprintf(c.App.ErrWriter, "WARN: --pull newer: %v; using the stored %s\n", err, ro.Image)
				return nil
			}
		}
		return err
	default:
		return fmt.Errorf("--pull %q: choose always, missing, never or newer", c.String("pull"))
	}
	return nil
}

func writeCIDFile(path, id string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write --cidfile: %w", err)
	}
	_, err = f.WriteString(id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// cleanupArgs is the command a detached container's monitor runs once it
// exited: container cleanup, with this command's store options.
func cleanupArgs(c *cli.Context, e *env, id string) []string {
	return selfArgs(c, e, "container", "cleanup", id)
}

// selfArgs is the command line of crun-lite running args on this
// command's store.
func selfArgs(c *cli.Context, e *env, args ...string) []string {
	self := []string{os.Args[0], "--root", e.store.GraphRoot(), "--runroot", e.store.RunRoot()}
	if d := c.String("storage-driver"); d != "" {
		self = append(self, "--storage-driver", d)
	}
	for _, o := range c.StringSlice("storage-opt") {
		self = append(self, "--storage-opt", o)
	}
	return append(self, args...)
}

// commaList splits values of options that, as in Podman, take
// comma-separated lists (--cap-add A,B).
func commaList(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, strings.Split(v, ",")...)
	}
	return out
}
