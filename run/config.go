package run

import (
	"fmt"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/seccomp"
	"github.com/crun-lite/crun-lite/userns"
)

// config is what the options decide, checked before any image is pulled.
type config struct {
	mounts     []mountSpec
	caps       []string // the container root's capabilities
	sec        securityOpts
	seccomp    []byte   // compiled filter, nil for none
	keepID     *keepID  // --userns=keep-id
	entrypoint []string // nil: the image's
	env        []string // env files, then -e, applied over the image's
	masked     []string
	readonly   []string
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

// configure checks the options; cacheDir keeps compiled seccomp filters.
func configure(o Options, cacheDir string) (config, error) {
	var cfg config
	var err error
	if cfg.mounts, err = parseMounts(o); err != nil {
		return cfg, err
	}
	if cfg.caps, err = capSetFor(o.Privileged, o.CapAdd, o.CapDrop); err != nil {
		return cfg, err
	}
	if cfg.sec, err = parseSecurityOpts(o.SecurityOpt); err != nil {
		return cfg, err
	}
	if cfg.seccomp, err = seccompFilter(o.Privileged, cfg.sec.seccomp, cfg.caps, cacheDir); err != nil {
		return cfg, err
	}
	if cfg.keepID, err = parseUserns(o.Userns, userns.HostUID(), userns.HostGID()); err != nil {
		return cfg, err
	}
	if o.Entrypoint != nil {
		if cfg.entrypoint, err = parseEntrypoint(*o.Entrypoint); err != nil {
			return cfg, err
		}
	}
	for _, f := range o.EnvFiles {
		lines, err := envFile(f)
		if err != nil {
			return cfg, err
		}
		cfg.env = append(cfg.env, lines...)
	}
	cfg.env = append(cfg.env, o.Env...)
	cfg.masked, cfg.readonly = maskedPaths(o.Privileged, cfg.sec)
	return cfg, nil
}

func parseMounts(o Options) ([]mountSpec, error) {
	var ms []mountSpec
	add := func(specs []string, parse func(string) (mountSpec, error)) error {
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
			if !slices.ContainsFunc(ms, func(m mountSpec) bool { return m.target == t }) {
				ms = append(ms, mountSpec{kind: "tmpfs", target: t, flags: unix.MS_NOSUID | unix.MS_NODEV, data: "mode=1777"})
			}
		}
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.target] {
			return nil, badOption("two mounts on %s", m.target)
		}
		seen[m.target] = true
	}
	sortMounts(ms)
	return ms, nil
}

// seccompFilter compiles the profile the options ask for: the default one,
// a file, or none (--privileged, seccomp=unconfined).
func seccompFilter(privileged bool, choice string, caps []string, cacheDir string) ([]byte, error) {
	if choice == "unconfined" || (privileged && choice == "") {
		return nil, nil
	}
	var u unix.Utsname
	_ = unix.Uname(&u)
	t := seccomp.Target{Caps: capPrefixed(caps), Kernel: unix.ByteSliceToString(u.Release[:])}
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
