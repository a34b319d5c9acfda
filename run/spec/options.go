package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/internal/seccomp"
	"github.com/crun-lite/crun-lite/userns"
)

// Options are what the user asked for one container: the values of run's
// flags, before anything is checked.
type Options struct {
	Image   string   // reference or ID
	Command []string // replaces the image's Cmd
	Remove  bool     // --rm: nothing of the container remains after it exits
	Name    string   // --name of a kept container
	Network string   // --network: bridge (the default), host, none
	// Publish are -p values, [IP:][HOSTPORT:]CTRPORT[/PROTO].
	Publish    []string
	PublishAll bool     // -P: the image's exposed ports (and --expose's) on free host ports
	Expose     []string // --expose PORT[/PROTO]
	DNS        []string // --dns: nameservers instead of the network's
	DNSSearch  []string // --dns-search
	DNSOption  []string // --dns-option
	AddHost    []string // --add-host NAME:IP
	NoHosts    bool     // --no-hosts: the image's /etc/hosts
	User       string   // --user; "" takes the image's User
	// GroupAdd are supplementary groups (names or numbers) added to the
	// user's, or KeepGroups alone.
	GroupAdd    []string
	Devices     []string      // --device HOST[:CONTAINER][:PERMS]
	Share       []string      // --share RESOURCE[,RESOURCE...] (share.go)
	Desktop     bool          // --desktop: DesktopShares
	CDIGPU      bool          // Devices hold CDI GPUs for --share gpu (the caller resolved them)
	Interactive bool          // -i: our stdin is the command's
	TTY         bool          // -t: the command gets a terminal of its own
	Init        bool          // --init: a tiny init is pid 1 and the command its child
	StopTimeout time.Duration // after a forwarded SIGTERM, SIGKILL the container this much later
	PreserveFDs int           // --preserve-fds: fds 3 .. 3+N-1 go to the command
	StopSignal  string        // --stop-signal: what stop sends first; "" the image's, else SIGTERM
	LogOpts     []string      // --log-opt max-size=SIZE

	Env        []string // -e: NAME=VALUE, or NAME for the host's value; after the image's and the files'
	EnvFiles   []string // --env-file
	EnvHost    bool     // --env-host: the host's environment, under the files and -e
	UnsetEnv   []string // --unsetenv NAME: not in the container's environment, even as a default
	UnsetAll   bool     // --unsetenv-all: only the files' and -e's variables
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
}

// Paths of /proc and /sys hidden or made read-only in every container that
// is not --privileged, as runc and Podman do: they describe or control the
// host, not the container. The lists are Podman's (containers/common's
// defaults), which hold runc's but for /proc/asound, read-only in Podman and
// masked in runc; /sys/dev/block, which older Podman masked, stays.
var (
	defaultMasked = []string{
		"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/proc/interrupts",
		"/sys/firmware", "/sys/fs/selinux", "/sys/dev/block", "/sys/devices/virtual/powercap",
	}
	// defaultMaskedGlobs name one path per CPU: each CPU's thermal
	// throttling counters (Intel's, where the kernel has them), a side
	// channel on what the host runs. One mount per CPU, as in Podman.
	defaultMaskedGlobs = []string{"/sys/devices/system/cpu/cpu*/thermal_throttle"}
	defaultReadonly    = []string{
		"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// New checks the options and resolves what they decide for container id;
// cacheDir keeps compiled seccomp filters. What the image decides comes
// later (UseImage, SetUser).
func New(id string, o Options, cacheDir string) (*Spec, error) {
	net, err := parseNetwork(o)
	if err != nil {
		return nil, err
	}
	s := &Spec{
		Version: Version, ID: id, Hostname: id[:12], ImageRef: o.Image, Name: o.Name, Remove: o.Remove,
		Network: net.Mode, Net: net, ReadOnlyRoot: o.ReadOnly, Privileged: o.Privileged, StopTimeout: o.StopTimeout,
		command: o.Command,
	}
	if o.Hostname != "" {
		s.Hostname = o.Hostname
	}
	p := &s.Process
	p.Terminal, p.Interactive, p.Init, p.GroupAdd = o.TTY, o.Interactive, o.Init, o.GroupAdd
	if slices.Contains(o.GroupAdd, KeepGroups) {
		if len(o.GroupAdd) > 1 {
			return nil, BadOption("--group-add %s keeps the host's groups and cannot be combined with other groups", KeepGroups)
		}
		p.KeepGroups = true
	}
	if p.PreserveFDs = o.PreserveFDs; p.PreserveFDs < 0 || p.PreserveFDs > 1<<16 {
		return nil, BadOption("--preserve-fds %d: want a number of fds", o.PreserveFDs)
	}
	// Only fds crun-lite was given: those it opened itself are all
	// close-on-exec (Go's), and none of them may reach the container.
	for fd := 3; fd < 3+p.PreserveFDs; fd++ {
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC != 0 {
			return nil, BadOption("--preserve-fds %d: fd %d was not passed to crun-lite", p.PreserveFDs, fd)
		}
	}
	if s.Mounts, err = parseMounts(o); err != nil {
		return nil, err
	}
	if p.Caps, err = capSetFor(o.Privileged, o.CapAdd, o.CapDrop); err != nil {
		return nil, err
	}
	sec, err := parseSecurityOpts(o.SecurityOpt)
	if err != nil {
		return nil, err
	}
	p.NoNewPrivs = sec.noNewPrivs
	if p.Seccomp, err = seccompFilter(o.Privileged, sec.seccomp, p.Caps, cacheDir, userns.Single()); err != nil {
		return nil, err
	}
	if s.Devices, err = parseDevices(o.Devices, p.KeepGroups); err != nil {
		return nil, err
	}
	if s.KeepID, err = parseUserns(o.Userns, userns.HostUID(), userns.HostGID()); err != nil {
		return nil, err
	}
	if o.Userns == "single" && !userns.Single() {
		return nil, BadOption("--userns=single: this command does not run in the single-id user namespace (real root has none)")
	}
	if s.KeepID != nil && userns.Single() {
		return nil, hint.Wrap(BadOption("--userns=keep-id needs subordinate ids: in the single-id mode your uid is container root's, and no other id exists"),
			"leave out --userns=keep-id: what the container writes in your directories is yours already")
	}
	if o.Entrypoint != nil {
		if s.entrypoint, err = parseEntrypoint(*o.Entrypoint); err != nil {
			return nil, err
		}
	}
	if o.EnvHost {
		s.settings = append(s.settings, os.Environ()...)
	}
	s.unsetEnv, s.unsetAll = o.UnsetEnv, o.UnsetAll
	for _, f := range o.EnvFiles {
		lines, err := envFile(f)
		if err != nil {
			return nil, err
		}
		s.settings = append(s.settings, lines...)
	}
	s.settings = append(s.settings, o.Env...)
	s.Masked, s.ReadonlyPaths = maskedPaths(o.Privileged, sec)
	if o.StopSignal != "" {
		sig, err := ParseSignal(o.StopSignal)
		if err != nil {
			return nil, err
		}
		s.StopSignal = int(sig)
	}
	if s.LogMaxSize, err = parseLogOpts(o.LogOpts); err != nil {
		return nil, err
	}
	if err := s.applyShares(o); err != nil {
		return nil, err
	}
	return s, nil
}

func parseMounts(o Options) ([]Mount, error) {
	var ms []Mount
	add := func(specs []string, parse func(string) (Mount, error)) error {
		for _, s := range specs {
			m, err := parse(s)
			if err != nil {
				return err
			}
			ms = append(ms, m)
		}
		return nil
	}
	if err := add(o.Volumes, parseVolume); err != nil {
		return nil, err
	}
	if err := add(o.Mounts, parseMount); err != nil {
		return nil, err
	}
	if err := add(o.Tmpfs, parseTmpfs); err != nil {
		return nil, err
	}
	if o.ReadOnly && o.ReadOnlyTmpfs {
		for _, t := range []string{"/tmp", "/var/tmp", "/run"} {
			if !slices.ContainsFunc(ms, func(m Mount) bool { return m.Target == t }) {
				ms = append(ms, Mount{Kind: "tmpfs", Target: t, Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=1777"})
			}
		}
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.Target] {
			return nil, BadOption("two mounts on %s", m.Target)
		}
		seen[m.Target] = true
	}
	sortMounts(ms)
	return ms, nil
}

// parseDevices reads and checks the --device options.
func parseDevices(specs []string, keepGroups bool) ([]Device, error) {
	var ds []Device
	for _, s := range specs {
		d, err := parseDevice(s)
		if err != nil {
			return nil, err
		}
		if err := d.check(keepGroups, userns.HostUID() == 0); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(ds, func(o Device) bool { return o.Target == d.Target }) {
			return nil, BadOption("two devices on %s", d.Target)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// seccompFilter compiles the profile the options ask for: the default one,
// a file, or none (--privileged, seccomp=unconfined). In the single-id mode
// (emulate) every filter fakes the calls that need other ids, and a
// container without confinement gets a filter that does only that
// (seccomp's root emulation).
func seccompFilter(privileged bool, choice string, caps []string, cacheDir string, emulate bool) ([]byte, error) {
	if choice == "unconfined" || (privileged && choice == "") {
		if !emulate {
			return nil, nil
		}
		choice = seccomp.Unconfined
	}
	return compileFilter(choice, caps, cacheDir, emulate)
}

// EmulationFilter is the filter of a process without seccomp confinement
// in the single-id mode (exec --privileged): root emulation alone.
func EmulationFilter(cacheDir string) ([]byte, error) {
	return compileFilter(seccomp.Unconfined, nil, cacheDir, true)
}

func compileFilter(choice string, caps []string, cacheDir string, emulate bool) ([]byte, error) {
	var u unix.Utsname
	_ = unix.Uname(&u)
	t := seccomp.Target{Caps: capPrefixed(caps), Kernel: unix.ByteSliceToString(u.Release[:]), RootEmulation: emulate}
	filter, err := seccomp.CompiledFilter(choice, t, cacheDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadOption, err)
	}
	return filter, nil
}

// maskedPaths applies --privileged and mask=/unmask= to the defaults.
func maskedPaths(privileged bool, sec securityOpts) (masked, readonly []string) {
	if !privileged && !sec.unmaskedAll {
		masked = append(slices.Clone(defaultMasked), globUnder("/", defaultMaskedGlobs)...)
		readonly = slices.Clone(defaultReadonly)
	}
	masked = append(masked, sec.mask...)
	drop := func(p string) bool { return slices.Contains(sec.unmask, p) }
	return slices.DeleteFunc(masked, drop), slices.DeleteFunc(readonly, drop)
}

// globUnder returns the paths matching patterns in the tree at root, as
// absolute paths of that tree.
func globUnder(root string, patterns []string) []string {
	var out []string
	for _, p := range patterns {
		matches, _ := filepath.Glob(filepath.Join(root, p)) // the patterns are valid
		for _, m := range matches {
			rel, err := filepath.Rel(root, m)
			if err == nil {
				out = append(out, "/"+rel)
			}
		}
	}
	return out
}
