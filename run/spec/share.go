package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/userns"
)

// --share: desktop resources, each shared on purpose, named as Flatpak
// names them. Each is one socket of the caller's session, bind-mounted
// into the container's own XDG_RUNTIME_DIR (a tmpfs on /run/user/UID,
// owned by the user) with the variable that names it; nothing else of the
// session's runtime dir, home or /tmp comes along. The servers behind
// those sockets belong to the user and check who connects (D-Bus compares
// the uid a client claims with the socket's peer, PulseAudio trusts its own
// uid), so the process must run as the user: --share implies
// --userns=keep-id when no --userns is given.

// ShareValues are the resources --share knows, for help and completion.
var ShareValues = []string{"wayland", "x11", "fallback-x11", "pulseaudio", "pipewire", "session-bus", "system-bus", "gpu",
	"fonts", "themes", "locale", "timezone"}

// DesktopShares are what --desktop shares: a GUI app's needs.
var DesktopShares = []string{"wayland", "fallback-x11", "pulseaudio", "gpu", "session-bus", "fonts", "locale", "timezone"}

// hostData are the read-only trees of fonts and themes: the host's, bound
// under /usr/local/share, which images leave empty and fontconfig and
// XDG_DATA_DIRS read besides the image's own /usr/share.
var hostData = map[string][][2]string{
	"fonts":  {{"/usr/share/fonts", "/usr/local/share/fonts"}},
	"themes": {{"/usr/share/icons", "/usr/local/share/icons"}, {"/usr/share/themes", "/usr/local/share/themes"}},
}

// DefaultBusNames are the session-bus names a bare --share session-bus
// lets the container talk to: notifications and the desktop portal.
var DefaultBusNames = []string{"org.freedesktop.Notifications", "org.freedesktop.portal.*"}

// Xauth is the X11 cookie a container gets: the entries of Source for
// Display, rewritten to match any host name (FamilyWild), written by the
// run into a file of its run dir and bound on Target.
type Xauth struct {
	Source  string `json:"source"`
	Display string `json:"display"` // the display number
	Target  string `json:"target"`
}

// BusProxy is one bus the container reaches through xdg-dbus-proxy, which
// the run starts with a socket in its run dir, bound on Target.
type BusProxy struct {
	Address string   `json:"address"` // the bus's D-Bus address on the host
	Talk    []string `json:"talk,omitempty"`
	Filter  bool     `json:"filter,omitempty"` // only Talk's names are reachable
	Target  string   `json:"target"`           // the socket inside
	System  bool     `json:"system,omitempty"`
}

// shares is what the --share values decide.
type shares struct {
	mounts   []Mount
	env      []string
	xauth    *Xauth
	proxies  []BusProxy
	devices  []string // --device values (gpu)
	keepGrps bool
}

// splitShares reads --share values: comma-separated resources, where the
// D-Bus names after session-bus= or system-bus= (they hold dots) belong
// to it.
func splitShares(values []string) (map[string][]string, []string, error) {
	set := map[string][]string{}
	var order []string
	last := ""
	for _, v := range values {
		for _, tok := range strings.Split(v, ",") {
			name, arg, hasArg := strings.Cut(tok, "=")
			switch {
			case tok == "":
				continue
			case strings.ContainsAny(tok, ".*") && !hasArg && (last == "session-bus" || last == "system-bus"):
				set[last] = append(set[last], tok)
				continue
			case !slices.Contains(ShareValues, name):
				return nil, nil, BadOption("--share %q: unknown resource %q (choose from %s)", v, name, strings.Join(ShareValues, ", "))
			case hasArg && name != "session-bus" && name != "system-bus":
				return nil, nil, BadOption("--share %s takes no names", name)
			}
			if _, seen := set[name]; !seen {
				order = append(order, name)
				set[name] = nil
			}
			if hasArg && arg != "" {
				set[name] = append(set[name], arg)
			}
			last = name
		}
	}
	return set, order, nil
}

// parseShares resolves the --share values against the caller's session
// for a process running as uid inside. A resource in optional that the
// session lacks (--desktop's) is left out.
func parseShares(values []string, optional map[string]bool, uid int, cdiGPU bool) (*shares, error) {
	set, order, err := splitShares(values)
	if err != nil || len(order) == 0 {
		return nil, err
	}
	runDir := fmt.Sprintf("/run/user/%d", uid)
	sh := &shares{
		mounts: []Mount{{Kind: "tmpfs", Target: runDir, Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=0700,size=65536k", UserOwned: true}},
		env:    []string{"XDG_RUNTIME_DIR=" + runDir},
	}
	hostRun := os.Getenv("XDG_RUNTIME_DIR")
	for _, name := range order {
		err = nil
		_, hasX11 := set["x11"]
		_, hasPulse := set["pulseaudio"]
		switch {
		case name == "fallback-x11" && hasX11, name == "pipewire" && hasPulse:
			continue // the same socket, shared once
		}
		switch name {
		case "wayland":
			err = sh.wayland(hostRun, runDir)
		case "x11":
			err = sh.x11(runDir)
		case "fallback-x11":
			// X11 only when the session has no Wayland compositor, as in
			// Flatpak: an app that can use Wayland then does.
			if (&shares{}).wayland(hostRun, runDir) != nil {
				err = sh.x11(runDir)
			}
		case "pulseaudio", "pipewire":
			err = sh.pulse(hostRun, runDir, name)
		case "session-bus":
			names := set[name]
			if len(names) == 0 {
				names = DefaultBusNames
			}
			err = sh.sessionBus(hostRun, runDir, names)
		case "system-bus":
			err = sh.systemBus(runDir, set[name])
		case "gpu":
			err = sh.gpu(cdiGPU)
		case "fonts", "themes":
			err = sh.readOnlyTrees(name, hostData[name])
		case "locale":
			sh.locale()
		case "timezone":
			err = sh.timezone()
		}
		if err != nil && !optional[name] {
			return nil, err
		}
	}
	return sh, nil
}

// bindSocket shares the socket at host as target.
func (sh *shares) bindSocket(resource, host, target string) error {
	fi, err := os.Stat(host)
	if err != nil {
		return hint.Wrap(BadOption("--share %s: %v", resource, err), "start the "+resource+" server, or run crun-lite from the session that has it")
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return BadOption("--share %s: %s is not a socket", resource, host)
	}
	sh.mounts = append(sh.mounts, Mount{Kind: "bind", Source: host, Target: target})
	return nil
}

func (sh *shares) wayland(hostRun, runDir string) error {
	display := os.Getenv("WAYLAND_DISPLAY")
	if display == "" {
		display = "wayland-0"
	}
	host := display
	if !filepath.IsAbs(host) {
		if hostRun == "" {
			return BadOption("--share wayland: XDG_RUNTIME_DIR is not set, so the compositor's socket %s cannot be found", display)
		}
		host = filepath.Join(hostRun, display)
	}
	if err := sh.bindSocket("wayland", host, runDir+"/wayland-0"); err != nil {
		return err
	}
	sh.env = append(sh.env, "WAYLAND_DISPLAY=wayland-0")
	return nil
}

// displayNumber reads a local X display (":1", ":1.0", "unix:1").
var displayNumber = regexp.MustCompile(`^(?:unix)?:([0-9]+)(?:\.[0-9]+)?$`)

func (sh *shares) x11(runDir string) error {
	display := os.Getenv("DISPLAY")
	m := displayNumber.FindStringSubmatch(display)
	if m == nil {
		return BadOption("--share x11: DISPLAY=%q is not a local display (:N)", display)
	}
	n := m[1]
	if err := sh.bindSocket("x11", "/tmp/.X11-unix/X"+n, "/tmp/.X11-unix/X"+n); err != nil {
		return err
	}
	sh.env = append(sh.env, "DISPLAY=:"+n)
	src := os.Getenv("XAUTHORITY")
	if src == "" {
		if home, err := os.UserHomeDir(); err == nil {
			src = filepath.Join(home, ".Xauthority")
		}
	}
	if _, err := os.Stat(src); err == nil {
		// No file: a server without access control (Xvfb -ac) needs none.
		sh.xauth = &Xauth{Source: src, Display: n, Target: runDir + "/Xauthority"}
		sh.env = append(sh.env, "XAUTHORITY="+runDir+"/Xauthority")
	}
	return nil
}

func (sh *shares) pulse(hostRun, runDir, resource string) error {
	host := ""
	if v := os.Getenv("PULSE_SERVER"); strings.HasPrefix(v, "unix:") {
		host = strings.TrimPrefix(v, "unix:")
	} else if hostRun != "" {
		// PipeWire's pipewire-pulse serves the same socket.
		host = filepath.Join(hostRun, "pulse", "native")
	} else {
		return BadOption("--share %s: neither PULSE_SERVER=unix:PATH nor XDG_RUNTIME_DIR is set", resource)
	}
	target := runDir + "/pulse/native"
	if err := sh.bindSocket(resource, host, target); err != nil {
		return err
	}
	sh.env = append(sh.env, "PULSE_SERVER=unix:"+target)
	return nil
}

func (sh *shares) sessionBus(hostRun, runDir string, names []string) error {
	if err := checkBusNames("session-bus", names); err != nil {
		return err
	}
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" && hostRun != "" {
		if _, err := os.Stat(filepath.Join(hostRun, "bus")); err == nil {
			addr = "unix:path=" + filepath.Join(hostRun, "bus")
		}
	}
	if addr == "" {
		return hint.Wrap(BadOption("--share session-bus: no session bus (DBUS_SESSION_BUS_ADDRESS is not set, no $XDG_RUNTIME_DIR/bus)"),
			"run crun-lite from the desktop session, or start one: dbus-run-session -- crun-lite ...")
	}
	target := runDir + "/bus"
	sh.proxies = append(sh.proxies, BusProxy{Address: addr, Talk: names, Target: target, Filter: true})
	sh.env = append(sh.env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+target)
	return nil
}

var busName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*(\.\*)?$`)

func checkBusNames(resource string, names []string) error {
	for _, n := range names {
		if !busName.MatchString(n) {
			return BadOption("--share %s=%s: %q is not a D-Bus name (org.example.App, or org.example.*)", resource, strings.Join(names, ","), n)
		}
	}
	return nil
}

// systemBus shares the system bus through a proxy: filtered to names when
// given; else unfiltered, under the system bus's own policy, which is
// written for untrusted local users already.
func (sh *shares) systemBus(runDir string, names []string) error {
	if err := checkBusNames("system-bus", names); err != nil {
		return err
	}
	host := "/run/dbus/system_bus_socket"
	if v := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"); strings.HasPrefix(v, "unix:path=") {
		host = strings.TrimPrefix(v, "unix:path=")
	}
	if _, err := os.Stat(host); err != nil {
		return BadOption("--share system-bus: %v", err)
	}
	sh.proxies = append(sh.proxies, BusProxy{Address: "unix:path=" + host, Talk: names, Filter: len(names) > 0, Target: runDir + "/system_bus_socket", System: true})
	sh.env = append(sh.env, "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+runDir+"/system_bus_socket")
	return nil
}

// readOnlyTrees binds the host's trees that exist, read-only.
func (sh *shares) readOnlyTrees(resource string, trees [][2]string) error {
	n := 0
	for _, t := range trees {
		if fi, err := os.Stat(t[0]); err == nil && fi.IsDir() {
			sh.mounts = append(sh.mounts, Mount{Kind: "bind", Source: t[0], Target: t[1], ReadOnly: true})
			n++
		}
	}
	if n == 0 {
		return BadOption("--share %s: the host has no %s", resource, trees[0][0])
	}
	return nil
}

// locale passes the host's LANG, LANGUAGE and LC_* on (the image must
// have the locale for it to take effect).
func (sh *shares) locale() {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); name == "LANG" || name == "LANGUAGE" || strings.HasPrefix(name, "LC_") {
			sh.env = append(sh.env, kv)
		}
	}
}

// timezone binds the host's /etc/localtime (the zone file it links to)
// read-only over the image's, and passes TZ on.
func (sh *shares) timezone() error {
	if _, err := os.Stat("/etc/localtime"); err != nil {
		if tz := os.Getenv("TZ"); tz != "" {
			sh.env = append(sh.env, "TZ="+tz)
			return nil
		}
		return BadOption("--share timezone: the host has no /etc/localtime and no TZ")
	}
	src, err := filepath.EvalSymlinks("/etc/localtime")
	if err != nil {
		return BadOption("--share timezone: %v", err)
	}
	sh.mounts = append(sh.mounts, Mount{Kind: "bind", Source: src, Target: "/etc/localtime", ReadOnly: true})
	if tz := os.Getenv("TZ"); tz != "" {
		sh.env = append(sh.env, "TZ="+tz)
	}
	return nil
}

// gpu shares /dev/dri, and keeps the user's groups (render and video own
// the nodes, as they may a CDI GPU's, which the caller added to Devices).
func (sh *shares) gpu(cdiGPU bool) error {
	if _, err := os.Stat("/dev/dri"); err != nil {
		if cdiGPU {
			sh.keepGrps = true
			return nil
		}
		return hint.Wrap(BadOption("--share gpu: this host has no /dev/dri"), "load the GPU's kernel driver; for a CDI GPU use --device VENDOR/CLASS=NAME (crun-lite cdi list)")
	}
	sh.devices = append(sh.devices, "/dev/dri")
	sh.keepGrps = true
	return nil
}

// applyShares adds what --share decides to s: keep-id unless --userns
// said otherwise (rootless only: as real root the sockets are root's),
// the mounts, env, cookie, proxies, devices and keep-groups.
func (s *Spec) applyShares(o Options) error {
	values := slices.Clone(o.Share)
	optional := map[string]bool{}
	if o.Desktop {
		// What the session lacks is left out, as Flatpak does: a desktop
		// without Wayland, sound or a GPU still runs the app.
		values = append(values, DesktopShares...)
		for _, v := range DesktopShares {
			optional[v] = !slices.Contains(o.Share, v)
		}
	}
	if len(values) == 0 {
		return nil
	}
	uid := 0
	if userns.HostUID() != 0 {
		if s.KeepID == nil {
			s.KeepID = &KeepID{UID: userns.HostUID(), GID: userns.HostGID()}
		}
		uid = s.KeepID.UID
	}
	sh, err := parseShares(values, optional, uid, o.CDIGPU)
	if err != nil || sh == nil {
		return err
	}
	for _, m := range sh.mounts {
		if slices.ContainsFunc(s.Mounts, func(o Mount) bool { return o.Target == m.Target }) {
			return BadOption("--share mounts on %s, which another mount takes", m.Target)
		}
	}
	s.Mounts = append(s.Mounts, sh.mounts...)
	if sh.xauth != nil {
		s.Xauth = sh.xauth
		s.Mounts = append(s.Mounts, Mount{Kind: "bind", Target: sh.xauth.Target, Generated: "xauth"})
	}
	for _, p := range sh.proxies {
		s.BusProxies = append(s.BusProxies, p)
		s.Mounts = append(s.Mounts, Mount{Kind: "bind", Target: p.Target, Generated: "bus:" + p.Target})
	}
	sortMounts(s.Mounts)
	s.settings = append(sh.env, s.settings...) // -e wins
	if sh.keepGrps && len(o.GroupAdd) == 0 {
		s.Process.KeepGroups = true
	}
	ds, err := parseDevices(sh.devices, s.Process.KeepGroups)
	if err != nil {
		return err
	}
	s.Devices = append(s.Devices, ds...)
	return nil
}
