// Package spec owns the resolved description of one container: what its
// options and its image decide (process, user, groups, environment, working
// directory, capabilities, seccomp filter, masked paths, mounts,
// namespaces), checked before anything is pulled or mounted.
//
// A Spec is built in three steps, each filling in what only it can know:
//
//	New(Options)      the options, checked: mounts, caps, seccomp, masks,
//	                  keep-id, entrypoint and env settings
//	(*Spec).UseImage  the image's config: argv, env, cwd, user spec
//	(*Spec).SetUser   the user resolved from the image's /etc/passwd and
//	                  /etc/group, once the root filesystem is mounted
//
// Once the container runs, its monitor writes the Spec as JSON into the
// container's run dir (Write, Record.SpecPath in package state), so that a
// later command (exec, inspect, a detached monitor) reads it (Read) instead
// of parsing flags again. The file format is versioned (Version).
package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Version of the JSON written by Write; Read refuses others.
const Version = 1

// DefaultPath is the PATH of a container whose image sets none (Podman's),
// written down only here: the child's exec (run/spawn/spawn.c) searches
// the PATH of the environment it is given, which always has one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Spec is one container, resolved.
type Spec struct {
	Version  int    `json:"version"`
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	ImageRef string `json:"image_ref"`       // as the user named it
	Image    string `json:"image,omitempty"` // its ID, once found
	Name     string `json:"name,omitempty"`  // --name of a kept container
	Remove   bool   `json:"remove,omitempty"`

	Process Process `json:"process"`

	Mounts  []Mount  `json:"mounts,omitempty"`  // sorted: parents first
	Devices []Device `json:"devices,omitempty"` // --device
	// Xauth and BusProxies are what --share x11 and session-bus or
	// system-bus make per run: a cookie file, xdg-dbus-proxy processes.
	Xauth         *Xauth     `json:"xauth,omitempty"`
	BusProxies    []BusProxy `json:"bus_proxies,omitempty"`
	Masked        []string   `json:"masked,omitempty"`         // paths hidden
	ReadonlyPaths []string   `json:"readonly_paths,omitempty"` // of /proc and /sys
	ReadOnlyRoot  bool       `json:"readonly_root,omitempty"`
	Privileged    bool       `json:"privileged,omitempty"`

	Network string  `json:"network"`           // bridge, host or none
	Net     *Net    `json:"net,omitempty"`     // what else the network options say
	KeepID  *KeepID `json:"keep_id,omitempty"` // --userns=keep-id

	StopTimeout time.Duration `json:"stop_timeout,omitempty"`
	// StopSignal is what stop sends first: --stop-signal, else the
	// image's StopSignal, else 0 (SIGTERM).
	StopSignal int `json:"stop_signal,omitempty"`
	// LogMaxSize caps a detached container's log (-1: no cap).
	LogMaxSize int64 `json:"log_max_size,omitempty"`
	// Entrypoint and Cmd are the two parts of Process.Args as UseImage
	// chose them, for inspect (Config.Entrypoint, Config.Cmd).
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`

	// What New read from the options for UseImage.
	command    []string
	entrypoint []string // nil: the image's
	settings   []string // env files, then -e, applied over the image's env
	unsetEnv   []string // --unsetenv
	unsetAll   bool     // --unsetenv-all
}

// Process is the container's first process.
type Process struct {
	Args        []string `json:"args"`
	Env         []string `json:"env"`
	Cwd         string   `json:"cwd"`
	Terminal    bool     `json:"terminal,omitempty"`
	Interactive bool     `json:"interactive,omitempty"`
	Init        bool     `json:"init,omitempty"`         // a tiny init is pid 1
	PreserveFDs int      `json:"preserve_fds,omitempty"` // fds 3 .. 3+N-1 of the monitor's caller go to the command

	// UserSpec is --user, keep-id's uid, or the image's User; User is what
	// it resolved to in the image (nil until SetUser).
	UserSpec string   `json:"user_spec"`
	GroupAdd []string `json:"group_add,omitempty"`
	// KeepGroups: --group-add keep-groups, no setgroups: the process keeps
	// the caller's supplementary groups of the host.
	KeepGroups bool  `json:"keep_groups,omitempty"`
	User       *User `json:"user,omitempty"`

	Caps       []string `json:"caps"` // of the container's root, without CAP_
	NoNewPrivs bool     `json:"no_new_privs,omitempty"`
	Seccomp    []byte   `json:"seccomp,omitempty"` // the compiled filter; nil: none
}

// User is who the command runs as, in the container's ids.
type User struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
	Home   string   `json:"home"`
	Name   string   `json:"name,omitempty"` // "" when the uid has no passwd entry
}

// Mount is one -v, --mount or --tmpfs.
type Mount struct {
	Kind     string  `json:"kind"`   // "bind", "volume" or "tmpfs"
	Source   string  `json:"source"` // host path (a volume's, once opened); "" for tmpfs
	Target   string  `json:"target"` // absolute and clean, in the container
	ReadOnly bool    `json:"readonly,omitempty"`
	Chown    bool    `json:"chown,omitempty"`  // U: give the source to the container's user
	Create   bool    `json:"create,omitempty"` // -v creates a missing host directory, --mount does not
	Data     string  `json:"data,omitempty"`   // tmpfs options for the kernel
	Flags    uintptr `json:"flags,omitempty"`  // MS_* for tmpfs
	Volume   string  `json:"volume,omitempty"` // the volume's name

	SourceIsDir bool `json:"source_is_dir,omitempty"` // set once the source is opened
	// UserOwned: a tmpfs owned by the container's user (keep-id's ids),
	// the XDG_RUNTIME_DIR of --share.
	UserOwned bool `json:"user_owned,omitempty"`
	// Generated names what the run makes as the source of a bind:
	// "xauth" (Spec.Xauth's cookie) or "bus:TARGET" (that BusProxy's socket).
	Generated string `json:"generated,omitempty"`
}

// KeepID maps the host user to UID:GID inside (--userns=keep-id).
type KeepID struct {
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// UseImage fills in what the image's config decides: argv is Entrypoint +
// Cmd, the command line replacing Cmd (like Docker and Podman, --entrypoint
// also drops the image's Cmd); the environment is the image's with the
// settings over it, plus PATH, TERM and HOSTNAME when missing; the working
// directory (o.Workdir first) and the user spec.
func (s *Spec) UseImage(cfg imgspecv1.ImageConfig, workdir, user string) {
	entry, cmd := cfg.Entrypoint, cfg.Cmd
	if s.entrypoint != nil {
		entry, cmd = s.entrypoint, nil
	}
	if len(s.command) > 0 {
		cmd = s.command
	}
	if s.StopSignal == 0 && cfg.StopSignal != "" {
		if sig, err := ParseSignal(cfg.StopSignal); err == nil {
			s.StopSignal = int(sig)
		}
	}
	s.publishExposed(cfg.ExposedPorts)
	p := &s.Process
	s.Entrypoint, s.Cmd = entry, cmd
	p.Args = append(append([]string{}, entry...), cmd...)
	if s.unsetAll {
		// Podman's --unsetenv-all: none of the image's variables nor the
		// defaults below, only those the user gave.
		p.Env = mergeEnv(nil, s.settings)
	} else {
		p.Env = mergeEnv(cfg.Env, s.settings)
		p.setDefault("PATH", DefaultPath)
		if p.Terminal {
			t := os.Getenv("TERM")
			if t == "" {
				t = "xterm"
			}
			p.setDefault("TERM", t)
		}
		p.setDefault("HOSTNAME", s.Hostname)
		// What systemd and scripts read to tell they run in a container;
		// "oci" is the value systemd documents for a generic OCI runtime.
		p.setDefault("container", "oci")
	}
	p.Env = slices.DeleteFunc(p.Env, func(e string) bool {
		name, _, _ := strings.Cut(e, "=")
		return slices.Contains(s.unsetEnv, name)
	})
	p.Cwd = cfg.WorkingDir
	if workdir != "" {
		p.Cwd = workdir
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	switch {
	case user != "":
		p.UserSpec = user
	case s.KeepID != nil:
		p.UserSpec = fmt.Sprint(s.KeepID.UID)
	default:
		p.UserSpec = cfg.User
	}
}

// CheckNUL refuses a NUL byte in the command, the environment or the
// working directory, which only an image's config can hold (JSON "\u0000"):
// exec and chdir take C strings, which end there, so the container would
// run other arguments, in another dir, than the image and inspect say
// ("echo a\u0000b" printed "a", "C=a\u0000b" became "C=a").
func (p *Process) CheckNUL() error {
	for i, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("argument %d of the command, %q, holds a NUL byte, which exec cannot pass", i, a)
		}
	}
	for _, e := range p.Env {
		if strings.IndexByte(e, 0) >= 0 {
			return fmt.Errorf("environment entry %q holds a NUL byte, which exec cannot pass", e)
		}
	}
	if strings.IndexByte(p.Cwd, 0) >= 0 {
		return fmt.Errorf("working directory %q holds a NUL byte, which no path can", p.Cwd)
	}
	return nil
}

// SetUser records the resolved user and adds what a login would set when
// missing: HOME, and USER and LOGNAME for a user with a name.
func (s *Spec) SetUser(u *User) {
	p := &s.Process
	p.User = u
	set := func(k, v string) {
		if !s.unsetAll && !slices.Contains(s.unsetEnv, k) {
			p.setDefault(k, v)
		}
	}
	set("HOME", u.Home)
	if u.Name != "" {
		set("USER", u.Name)
		set("LOGNAME", u.Name)
	}
}

func (p *Process) setDefault(k, v string) {
	for _, e := range p.Env {
		if strings.HasPrefix(e, k+"=") {
			return
		}
	}
	p.Env = append(p.Env, k+"="+v)
}

// VolumeNames lists the volumes the container mounts.
func (s *Spec) VolumeNames() []string {
	var out []string
	for _, m := range s.Mounts {
		if m.Kind == "volume" {
			out = append(out, m.Volume)
		}
	}
	return out
}

// Write saves the spec as JSON at path, through a temporary file: a reader
// never sees half of it.
func (s *Spec) Write(path string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ErrVersion marks a spec file written by another version of crun-lite.
var ErrVersion = errors.New("spec file of another crun-lite version")

// Read loads a spec written by Write.
func Read(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if s.Version != Version {
		return nil, fmt.Errorf("%w: %s has version %d, this crun-lite reads %d", ErrVersion, path, s.Version, Version)
	}
	if s.Net == nil {
		// Written before networks had options: host or none.
		s.Net = &Net{Mode: s.Network}
	}
	return &s, nil
}
