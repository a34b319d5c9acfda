package spec

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

func BadOption(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadOption, fmt.Sprintf(format, args...))
}

var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// parseVolume reads -v SOURCE:TARGET[:OPTIONS]. A SOURCE that is not a
// path (does not start with / or .) names a volume, as in Podman.
func parseVolume(spec string) (Mount, error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Mount{}, BadOption("-v %q: want SOURCE:TARGET[:OPTIONS]", spec)
	}
	m := Mount{Kind: "bind", Source: parts[0], Target: parts[1], Create: true}
	if !strings.HasPrefix(m.Source, "/") && !strings.HasPrefix(m.Source, ".") {
		if !volumeName.MatchString(m.Source) {
			return m, BadOption("-v %q: %q is neither a path nor a volume name", spec, m.Source)
		}
		m.Kind, m.Volume = "volume", m.Source
	}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro", "readonly":
				m.ReadOnly = true
			case "rw":
				m.ReadOnly = false
			case "z", "Z":
				// SELinux relabelling: no SELinux here, nothing to do.
			case "U":
				m.Chown = true
			case "rbind", "bind", "rprivate", "private", "rslave", "slave":
				// Binds are recursive and private already.
			default:
				return m, BadOption("-v %q: unknown option %q (ro, rw, z, Z, U)", spec, o)
			}
		}
	}
	return m, m.check(spec)
}

// parseMount reads --mount type=bind|tmpfs|volume,source=...,target=...
func parseMount(spec string) (Mount, error) {
	m := Mount{}
	for _, kv := range strings.Split(spec, ",") {
		k, v, hasValue := strings.Cut(kv, "=")
		switch k {
		case "type":
			m.Kind = v
		case "source", "src":
			m.Source = v
		case "target", "destination", "dst":
			m.Target = v
		case "ro", "readonly":
			m.ReadOnly = !hasValue || v == "true" || v == "1"
		case "rw":
			m.ReadOnly = hasValue && (v == "false" || v == "0")
		case "U", "chown":
			m.Chown = !hasValue || v == "true"
		case "z", "Z", "relabel", "bind-propagation", "consistency":
		case "tmpfs-size":
			m.Data = JoinOpts(m.Data, "size="+v)
		case "tmpfs-mode":
			m.Data = JoinOpts(m.Data, "mode="+v)
		default:
			return m, BadOption("--mount %q: unknown key %q", spec, k)
		}
	}
	switch m.Kind {
	case "bind":
		if m.Source == "" {
			return m, BadOption("--mount %q: a bind mount needs source=", spec)
		}
	case "volume":
		if !volumeName.MatchString(m.Source) {
			return m, BadOption("--mount %q: volume name %q", spec, m.Source)
		}
		m.Volume = m.Source
	case "tmpfs":
		m.Flags = unix.MS_NOSUID | unix.MS_NODEV
		if m.ReadOnly {
			m.Flags |= unix.MS_RDONLY
		}
	default:
		return m, BadOption("--mount %q: type must be bind, volume or tmpfs", spec)
	}
	return m, m.check(spec)
}

// parseTmpfs reads --tmpfs PATH[:OPTIONS]; like Podman the default is
// rw,noexec,nosuid,nodev.
func parseTmpfs(spec string) (Mount, error) {
	target, opts, _ := strings.Cut(spec, ":")
	m := Mount{Kind: "tmpfs", Target: target, Flags: unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV}
	flagOf := map[string]uintptr{"noexec": unix.MS_NOEXEC, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV, "ro": unix.MS_RDONLY}
	for _, o := range strings.Split(opts, ",") {
		switch {
		case o == "" || o == "rw":
		case flagOf[o] != 0:
			m.Flags |= flagOf[o]
		case o == "exec" || o == "suid" || o == "dev":
			m.Flags &^= flagOf["no"+o]
		case strings.HasPrefix(o, "size=") || strings.HasPrefix(o, "mode=") || strings.HasPrefix(o, "uid=") ||
			strings.HasPrefix(o, "gid=") || strings.HasPrefix(o, "nr_inodes="):
			m.Data = JoinOpts(m.Data, o)
		default:
			return m, BadOption("--tmpfs %q: unknown option %q", spec, o)
		}
	}
	return m, m.check(spec)
}

// JoinOpts joins comma-separated mount options.
func JoinOpts(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

func (m *Mount) check(spec string) error {
	if !filepath.IsAbs(m.Target) {
		return BadOption("%q: the target %q must be an absolute path", spec, m.Target)
	}
	m.Target = filepath.Clean(m.Target)
	if m.Target == "/" {
		return BadOption("%q: cannot mount over /", spec)
	}
	if m.Kind == "bind" {
		abs, err := filepath.Abs(m.Source)
		if err != nil {
			return err
		}
		m.Source = abs
	}
	return nil
}

// sortMounts orders mounts so that a parent target comes before what is
// mounted inside it.
func sortMounts(ms []Mount) {
	sort.SliceStable(ms, func(i, j int) bool {
		return strings.Count(ms[i].Target, "/") < strings.Count(ms[j].Target, "/")
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
			return nil, BadOption("--entrypoint %q: not a JSON array of strings: %v", s, err)
		}
		return argv, nil
	}
	return []string{s}, nil
}

// maxEnvLine is the longest --env-file line read.
const maxEnvLine = 1 << 20

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
	sc.Buffer(nil, maxEnvLine)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.IndexByte(line, 0) >= 0 {
			return nil, BadOption("--env-file %s: a line holds a NUL byte, which no environment can carry", path)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, BadOption("--env-file %s: %v (lines up to %d KiB)", path, err, maxEnvLine>>10)
	}
	return out, nil
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
				return s, BadOption("--security-opt seccomp needs =unconfined or =FILE.json")
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
			return s, BadOption("--security-opt %q: use no-new-privileges, seccomp=, mask=, unmask=", o)
		}
	}
	return s, nil
}

// parseUserns reads --userns: "" (the default namespace), single (the
// single-id namespace, which the constructor joined already: package
// userns) or keep-id[:uid=U,gid=G].
func parseUserns(s string, hostUID, hostGID int) (*KeepID, error) {
	switch {
	case s == "" || s == "default" || s == "single":
		return nil, nil
	case s == "host":
		return nil, hint.Wrap(BadOption("--userns=host: a rootless container always has a user namespace"),
			"use --userns=keep-id to keep your uid inside the container")
	case s == "keep-id" || strings.HasPrefix(s, "keep-id:"):
	default:
		return nil, BadOption("--userns=%s: only keep-id[:uid=U,gid=G] and single are supported", s)
	}
	k := &KeepID{UID: hostUID, GID: hostGID}
	_, opts, _ := strings.Cut(s, ":")
	for _, o := range strings.Split(opts, ",") {
		if o == "" {
			continue
		}
		name, val, _ := strings.Cut(o, "=")
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return nil, BadOption("--userns=%s: %q is not uid=N or gid=N", s, o)
		}
		switch name {
		case "uid":
			k.UID = n
		case "gid":
			k.GID = n
		default:
			return nil, BadOption("--userns=%s: unknown option %q", s, name)
		}
	}
	return k, nil
}
