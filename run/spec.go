package run

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// ErrBadOption marks a run option that cannot be honoured as given.
var ErrBadOption = errors.New("bad option")

func badOption(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadOption, fmt.Sprintf(format, args...))
}

// mountSpec is one -v, --mount or --tmpfs.
type mountSpec struct {
	kind     string // "bind", "volume" or "tmpfs"
	source   string // host path, or volume name
	target   string // absolute path in the container
	readOnly bool
	chown    bool   // U: give the source to the container's user
	create   bool   // -v creates a missing host directory, --mount does not
	data     string // tmpfs options for the kernel
	flags    uintptr

	volume      string // the volume's name, for a volume (source becomes its path)
	sourceIsDir bool   // set once the source is opened
}

var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// parseVolume reads -v SOURCE:TARGET[:OPTIONS]. A SOURCE that is not a
// path (does not start with / or .) names a volume, as in Podman.
func parseVolume(spec string) (mountSpec, error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return mountSpec{}, badOption("-v %q: want SOURCE:TARGET[:OPTIONS]", spec)
	}
	m := mountSpec{kind: "bind", source: parts[0], target: parts[1], create: true}
	if !strings.HasPrefix(m.source, "/") && !strings.HasPrefix(m.source, ".") {
		if !volumeName.MatchString(m.source) {
			return m, badOption("-v %q: %q is neither a path nor a volume name", spec, m.source)
		}
		m.kind, m.volume = "volume", m.source
	}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro", "readonly":
				m.readOnly = true
			case "rw":
				m.readOnly = false
			case "z", "Z":
				// SELinux relabelling: no SELinux here, nothing to do.
			case "U":
				m.chown = true
			case "rbind", "bind", "rprivate", "private", "rslave", "slave":
				// Binds are recursive and private already.
			default:
				return m, badOption("-v %q: unknown option %q (ro, rw, z, Z, U)", spec, o)
			}
		}
	}
	return m, m.check(spec)
}

// parseMount reads --mount type=bind|tmpfs|volume,source=...,target=...
func parseMount(spec string) (mountSpec, error) {
	m := mountSpec{}
	for _, kv := range strings.Split(spec, ",") {
		k, v, hasValue := strings.Cut(kv, "=")
		switch k {
		case "type":
			m.kind = v
		case "source", "src":
			m.source = v
		case "target", "destination", "dst":
			m.target = v
		case "ro", "readonly":
			m.readOnly = !hasValue || v == "true" || v == "1"
		case "rw":
			m.readOnly = hasValue && (v == "false" || v == "0")
		case "U", "chown":
			m.chown = !hasValue || v == "true"
		case "z", "Z", "relabel", "bind-propagation", "consistency":
		case "tmpfs-size":
			m.data = joinOpts(m.data, "size="+v)
		case "tmpfs-mode":
			m.data = joinOpts(m.data, "mode="+v)
		default:
			return m, badOption("--mount %q: unknown key %q", spec, k)
		}
	}
	switch m.kind {
	case "bind":
		if m.source == "" {
			return m, badOption("--mount %q: a bind mount needs source=", spec)
		}
	case "volume":
		if !volumeName.MatchString(m.source) {
			return m, badOption("--mount %q: volume name %q", spec, m.source)
		}
		m.volume = m.source
	case "tmpfs":
		m.flags = unix.MS_NOSUID | unix.MS_NODEV
		if m.readOnly {
			m.flags |= unix.MS_RDONLY
		}
	default:
		return m, badOption("--mount %q: type must be bind, volume or tmpfs", spec)
	}
	return m, m.check(spec)
}

// parseTmpfs reads --tmpfs PATH[:OPTIONS]; like Podman the default is
// rw,noexec,nosuid,nodev.
func parseTmpfs(spec string) (mountSpec, error) {
	target, opts, _ := strings.Cut(spec, ":")
	m := mountSpec{kind: "tmpfs", target: target, flags: unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV}
	flagOf := map[string]uintptr{"noexec": unix.MS_NOEXEC, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV, "ro": unix.MS_RDONLY}
	for _, o := range strings.Split(opts, ",") {
		switch {
		case o == "" || o == "rw":
		case flagOf[o] != 0:
			m.flags |= flagOf[o]
		case o == "exec" || o == "suid" || o == "dev":
			m.flags &^= flagOf["no"+o]
		case strings.HasPrefix(o, "size=") || strings.HasPrefix(o, "mode=") || strings.HasPrefix(o, "uid=") ||
			strings.HasPrefix(o, "gid=") || strings.HasPrefix(o, "nr_inodes="):
			m.data = joinOpts(m.data, o)
		default:
			return m, badOption("--tmpfs %q: unknown option %q", spec, o)
		}
	}
	return m, m.check(spec)
}

func joinOpts(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

func (m *mountSpec) check(spec string) error {
	if !filepath.IsAbs(m.target) {
		return badOption("%q: the target %q must be an absolute path", spec, m.target)
	}
	m.target = filepath.Clean(m.target)
	if m.target == "/" {
		return badOption("%q: cannot mount over /", spec)
	}
	if m.kind == "bind" {
		abs, err := filepath.Abs(m.source)
		if err != nil {
			return err
		}
		m.source = abs
	}
	return nil
}

// sortMounts orders mounts so that a parent target comes before what is
// mounted inside it.
func sortMounts(ms []mountSpec) {
	sort.SliceStable(ms, func(i, j int) bool {
		return strings.Count(ms[i].target, "/") < strings.Count(ms[j].target, "/")
	})
}

// parseEntrypoint reads --entrypoint: a JSON array, or one program.
func parseEntrypoint(s string) ([]string, error) {
	if s == "" {
		return []string{}, nil
	}
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var argv []string
		if err := json.Unmarshal([]byte(s), &argv); err != nil {
			return nil, badOption("--entrypoint %q: not a JSON array of strings: %v", s, err)
		}
		return argv, nil
	}
	return []string{s}, nil
}

// envFile reads a --env-file: NAME=VALUE lines, # comments, and bare NAMEs
// that take the host's value.
func envFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --env-file: %v", ErrBadOption, err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

// mergeEnv applies settings (NAME=VALUE, or NAME for the host's value) over
// env: later settings win, and a NAME the host does not have is dropped.
func mergeEnv(env []string, settings []string) []string {
	out := append([]string{}, env...)
	for _, s := range settings {
		name, _, hasValue := strings.Cut(s, "=")
		if !hasValue {
			v, ok := os.LookupEnv(name)
			if !ok {
				continue
			}
			s = name + "=" + v
		}
		replaced := false
		for i, e := range out {
			if strings.HasPrefix(e, name+"=") {
				out[i], replaced = s, true
			}
		}
		if !replaced {
			out = append(out, s)
		}
	}
	return out
}

// securityOpts is what --security-opt and --privileged decide.
type securityOpts struct {
	noNewPrivs  bool
	seccomp     string // "" default, "unconfined", or a profile path
	mask        []string
	unmask      []string // "ALL" unmasks everything
	unmaskedAll bool
}

func parseSecurityOpts(opts []string) (securityOpts, error) {
	var s securityOpts
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		k, v2, _ := strings.Cut(k, ":") // Docker's seccomp:FILE spelling
		if v == "" {
			v = v2
		}
		switch k {
		case "no-new-privileges":
			s.noNewPrivs = v == "" || v == "true"
		case "seccomp":
			if v == "" {
				return s, badOption("--security-opt seccomp needs =unconfined or =FILE.json")
			}
			s.seccomp = v
		case "mask":
			s.mask = append(s.mask, strings.Split(v, ":")...)
		case "unmask":
			for _, p := range strings.Split(v, ":") {
				if p == "ALL" {
					s.unmaskedAll = true
				}
				s.unmask = append(s.unmask, p)
			}
		case "label", "apparmor":
			// No SELinux or AppArmor confinement here: accepted like Podman
			// on hosts without them.
		default:
			return s, badOption("--security-opt %q: use no-new-privileges, seccomp=, mask=, unmask=", o)
		}
	}
	return s, nil
}

// keepID maps the host user to UID:GID inside (--userns=keep-id).
type keepID struct {
	uid, gid int
}

// parseUserns reads --userns: "" (the default namespace) or
// keep-id[:uid=U,gid=G].
func parseUserns(s string, hostUID, hostGID int) (*keepID, error) {
	switch {
	case s == "" || s == "default":
		return nil, nil
	case s == "host":
		return nil, hint.Wrap(badOption("--userns=host: a rootless container always has a user namespace"),
			"use --userns=keep-id to keep your uid inside the container")
	case s == "keep-id" || strings.HasPrefix(s, "keep-id:"):
	default:
		return nil, badOption("--userns=%s: only keep-id[:uid=U,gid=G] is supported", s)
	}
	k := &keepID{uid: hostUID, gid: hostGID}
	_, opts, _ := strings.Cut(s, ":")
	for _, o := range strings.Split(opts, ",") {
		if o == "" {
			continue
		}
		name, val, _ := strings.Cut(o, "=")
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return nil, badOption("--userns=%s: %q is not uid=N or gid=N", s, o)
		}
		switch name {
		case "uid":
			k.uid = n
		case "gid":
			k.gid = n
		default:
			return nil, badOption("--userns=%s: unknown option %q", s, name)
		}
	}
	return k, nil
}
