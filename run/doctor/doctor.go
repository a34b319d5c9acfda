// Package doctor checks the host for what rootless containers need (user
// namespaces, subordinate ids, the map tools, storage, network helpers) and
// words each finding with its fix; crun-lite doctor prints them. Nothing
// that starts containers imports it.
package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/crun-lite/crun-lite/run/network"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rootless-containers/rootlesskit/v3/pkg/network/slirp4netns"
	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hostcheck"
	"github.com/crun-lite/crun-lite/internal/paths"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

// probeTimeout bounds the overlay probe: a graph root on a hung network
// file system must not hang doctor.
const probeTimeout = 20 * time.Second

// Doctor checks the host for everything rootless containers need, for the
// store described by o; optsErr says why there is no store to check (no
// HOME and no --root), which is then the graph root's problem. It must run
// on the host, outside the user namespace (the C constructor never joins it
// for `doctor`): it tests what creating the namespace would meet, not what
// an existing one hides.
func Doctor(o store.Options, optsErr error) []hostcheck.Check {
	uid := userns.HostUID()
	probeDir := o.GraphRoot
	if optsErr != nil {
		// Only for what does not depend on the graph root: creating a
		// namespace, mounting in it, overlay on a tmpfs.
		probeDir = os.TempDir()
	}
	probe, tried, probeErr := probeOverlay(probeDir)
	var checks []hostcheck.Check
	if userns.Rootless() {
		checks = append(checks, namespaceChecks(uid, tried)...)
	} else {
		checks = append(checks, hostcheck.Check{ID: "root", Title: "user", Status: hostcheck.Info,
			Message: "running as real root: no user namespace, subordinate ids or newuidmap needed; run doctor as the user who runs containers"})
	}
	if optsErr != nil {
		checks = append(checks, store.CheckNoGraphRoot(optsErr, probe, probeErr)...)
	} else {
		checks = append(checks, store.CheckStorage(o, probe, probeErr)...)
	}
	return append(checks, paths.CheckRuntimeDir(uid), checkCgroup(uid), checkNetwork(), checkNAT(), checkPorts(), checkHub(uid))
}

// checkNAT: the default network's hub lets containers out through NAT in
// its namespace, set with iptables or nft.
func checkNAT() hostcheck.Check {
	c := hostcheck.Check{ID: "nat", Title: "NAT for the default network", Status: hostcheck.OK}
	for _, tool := range []string{"iptables", "nft"} {
		if p := network.AdminTool(tool); p != "" {
			c.Message = p + " sets the hub's NAT"
			return c
		}
	}
	c.Status, c.Message = hostcheck.Warning, "neither iptables nor nft is installed: containers of the default network cannot reach out (published ports still work)"
	c.Fix = "sudo apt-get install iptables"
	return c
}

// checkPorts: which host ports -p can publish.
func checkPorts() hostcheck.Check {
	start := network.UnprivilegedPortStart()
	c := hostcheck.Check{ID: "ports", Title: "published ports", Status: hostcheck.Info,
		Message: fmt.Sprintf("-p publishes host ports from %d up (net.ipv4.ip_unprivileged_port_start)", start)}
	if userns.Rootless() && start > 80 {
		c.Fix = "to publish port 80 too: sudo sysctl net.ipv4.ip_unprivileged_port_start=80 (and in /etc/sysctl.d to keep it)"
	}
	if !userns.Rootless() {
		c.Message = "-p publishes any host port (real root)"
	}
	return c
}

// checkHub reports the user's network hub: running, or started by the
// first container of the default network.
func checkHub(uid int) hostcheck.Check {
	c := hostcheck.Check{ID: "hub", Title: "network hub", Status: hostcheck.Info}
	l, err := network.Status(uid)
	if err != nil {
		c.Message = "not running: the first container of the default network starts it (log: " + network.HubLog(uid) + ")"
		return c
	}
	way := "through " + l.Host + " (host.containers.internal), DNS " + l.DNS
	if l.Host == "" {
		c.Status, way = hostcheck.Warning, "with no way out (see "+network.HubLog(uid)+")"
		c.Fix = "sudo apt-get install passt; then crun-lite system reset stops the hub, and the next container starts a new one"
	}
	c.Message = fmt.Sprintf("pid %d, bridge %s/%d, %s", l.Pid, l.Gateway, l.Prefix, way)
	return c
}

// namespaceChecks are what creating the per-user namespace needs.
func namespaceChecks(uid int, tried error) []hostcheck.Check {
	name, err := userns.UserName(uid)
	if err != nil {
		return []hostcheck.Check{hostcheck.FromError("user", "user", "", err), userns.CheckUserns(tried)}
	}
	return []hostcheck.Check{
		userns.CheckMode(name, uid),
		userns.SingleModeWorks(userns.CheckSubIDs(name, uid, userns.UIDs)),
		userns.SingleModeWorks(userns.CheckSubIDs(name, uid, userns.GIDs)),
		userns.SingleModeWorks(userns.CheckMapTool("newuidmap")),
		userns.SingleModeWorks(userns.CheckMapTool("newgidmap")),
		userns.CheckUserns(tried),
		userns.CheckNesting(name, uid),
		userns.CheckHolder(name, uid),
	}
}

// probeOverlay runs the store's overlay probe as root in a namespace of
// its own. tried is the error of creating that namespace and mounting in it
// (what the user namespaces check grades); probeErr says why there is no
// probe result.
func probeOverlay(graphRoot string) (p *store.OverlayProbe, tried, probeErr error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := store.OverlayProbeCommand(ctx, graphRoot)
	userns.PrivateNamespace(cmd)
	if userns.Rootless() {
		// What join.go sets in the real namespace: overlay needs userxattr there.
		cmd.Env = append(os.Environ(), "_CONTAINERS_USERNS_CONFIGURED=done")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if cmd.Process == nil { // clone failed: no namespace at all
			err = fmt.Errorf("create user namespace: %w", err)
			return nil, err, errors.New("no user namespace: see user namespaces")
		}
		return nil, nil, fmt.Errorf("overlay probe failed: %v %s", err, strings.TrimSpace(stderr.String()))
	}
	p, err = store.ParseOverlayProbe(out)
	if err != nil {
		return nil, nil, err
	}
	if p.Mount != "" {
		tried = fmt.Errorf("mount in a new user namespace: %w", p.MountErrno)
	}
	return p, tried, nil
}

// checkCgroup reports whether the user may manage a cgroup v2 subtree,
// which resource limits will need; nothing uses it yet.
func checkCgroup(uid int) hostcheck.Check {
	c := hostcheck.Check{ID: "cgroup", Title: "cgroup delegation", Status: hostcheck.Info}
	var fs unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &fs); err != nil || fs.Type != unix.CGROUP2_SUPER_MAGIC {
		c.Message = "cgroup v1 (or hybrid): nothing can be delegated to you; resource limits will not be available"
		c.Fix = "boot with systemd.unified_cgroup_hierarchy=1 (the default since Debian 11)"
		return c
	}
	dir := delegatedCgroup(uid)
	if dir == "" {
		c.Message = "cgroup v2, but no cgroup of yours is delegated to you: resource limits will not be available"
		c.Fix = `sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\nDelegate=cpu cpuset io memory pids\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload (then log in again)`
		return c
	}
	ctrl := strings.TrimSpace(string(readFile(filepath.Join(dir, "cgroup.controllers"))))
	c.Status, c.Message = hostcheck.OK, fmt.Sprintf("%s is yours, with controllers: %s", dir, ctrl)
	return c
}

// delegatedCgroup returns the outermost cgroup above this process that the
// user owns (systemd's user@UID.service), or "".
func delegatedCgroup(uid int) string {
	var rel string
	for _, line := range strings.Split(string(readFile("/proc/self/cgroup")), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			rel = p
		}
	}
	if rel == "" {
		return ""
	}
	found := ""
	for dir := filepath.Join("/sys/fs/cgroup", rel); dir != "/sys/fs/cgroup"; dir = filepath.Dir(dir) {
		var st unix.Stat_t
		if unix.Stat(dir, &st) == nil && int(st.Uid) == uid {
			found = dir
		}
	}
	return found
}

// checkNetwork reports the user-mode network helpers: --network host and
// none need neither. For slirp4netns it reports the version and what that
// version supports, as rootlesskit detects it: the options a network mode
// built on it will depend on.
func checkNetwork() hostcheck.Check {
	c := hostcheck.Check{ID: "network", Title: "network helpers", Status: hostcheck.Info}
	var have []string
	if p, err := exec.LookPath("pasta"); err == nil {
		have = append(have, p)
	}
	if p, err := exec.LookPath("slirp4netns"); err == nil {
		have = append(have, describeSlirp4netns(p))
	}
	tun := "/dev/net/tun is usable"
	if f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0); err != nil {
		tun = "/dev/net/tun is not usable (" + err.Error() + ")"
	} else {
		f.Close()
	}
	if len(have) == 0 {
		c.Message = "neither pasta nor slirp4netns is installed (--network host and none work without them); " + tun
		c.Fix = "sudo apt-get install passt"
		return c
	}
	c.Status, c.Message = hostcheck.OK, strings.Join(have, " and ")+" installed; "+tun
	return c
}

func readFile(p string) []byte {
	b, _ := os.ReadFile(p)
	return b
}

// describeSlirp4netns names a slirp4netns binary with its version and the
// features rootlesskit finds in it, or why it cannot be used.
func describeSlirp4netns(path string) string {
	version := "unknown version"
	if out, err := exec.Command(path, "--version").Output(); err == nil {
		first, _, _ := strings.Cut(string(out), "\n")
		version = strings.TrimSpace(strings.TrimPrefix(first, "slirp4netns version"))
	}
	f, err := slirp4netns.DetectFeatures(path)
	if err != nil {
		return fmt.Sprintf("%s (%s, not usable: %v)", path, version, err)
	}
	return fmt.Sprintf("%s (%s; %s)", path, version, slirp4netnsFeatures(f))
}

// slirp4netnsFeatures lists the options a slirp4netns supports.
func slirp4netnsFeatures(f *slirp4netns.Features) string {
	var have []string
	for _, o := range []struct {
		ok   bool
		name string
	}{
		{f.SupportsEnableIPv6, "--enable-ipv6"},
		{f.SupportsCIDR, "--cidr"},
		{f.SupportsDisableHostLoopback, "--disable-host-loopback"},
		{f.SupportsAPISocket, "--api-socket"},
		{f.SupportsEnableSandbox, "--enable-sandbox"},
		{f.SupportsEnableSeccomp && f.KernelSupportsEnableSeccomp, "--enable-seccomp"},
	} {
		if o.ok {
			have = append(have, o.name)
		}
	}
	if len(have) == 0 {
		return "none of --enable-ipv6, --cidr, --disable-host-loopback, --api-socket, --enable-sandbox, --enable-seccomp"
	}
	return "supports " + strings.Join(have, " ")
}
