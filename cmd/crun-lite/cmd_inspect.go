//go:build !lean

package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
	"github.com/crun-lite/crun-lite/run/spec"
	"github.com/crun-lite/crun-lite/store"
)

// inspectCommand is the top-level inspect: like Podman's, it looks for a
// container of that name or ID first and falls back to an image.
func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show the details of containers or images as JSON",
		ArgsUsage: "CONTAINER|IMAGE...",
		Description: `Prints a JSON array with one object per NAME: a container's (Podman's keys: Id,
Created, Path, Args, State, Image, ImageName, Name, Mounts, Config,
HostConfig) when a container has that name, ID or ID prefix, else an image's
(as crun-lite image inspect prints it). --type container or --type image
looks only for one kind. --format applies a Go template to each object
instead, with the JSON keys as fields.

Examples:
   crun-lite inspect web
   crun-lite inspect --format '{{.State.Status}} {{.State.ExitCode}}' web
   crun-lite inspect --type image busybox`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "print each object through the Go template `TEMPLATE` (default: json, a JSON array)", Category: catOutput},
			&cli.StringFlag{Name: "type", Aliases: []string{"t"}, Value: "all", Usage: "look for `TYPE`: container, image or all", Category: catSelection},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() < 1 {
				return errors.New("inspect needs a CONTAINER or IMAGE")
			}
			kind := c.String("type")
			if kind != "all" && kind != "container" && kind != "image" {
				return fmt.Errorf("--type %q: want container, image or all", kind)
			}
			return inspectEach(c, c.Args().Slice(), func(ref string) (any, error) {
				if kind != "image" {
					in, err := run.Lookup(e.store, ref, true)
					if err == nil {
						return containerDetails(e.store, in)
					}
					if kind == "container" || !errors.Is(err, run.ErrNoSuchContainer) {
						return nil, err
					}
				}
				d, err := imageDetails(e, ref)
				if kind == "all" && errors.Is(err, store.ErrImageUnknown) {
					// Podman's words when neither exists.
					return nil, fmt.Errorf("no such object: %q", ref)
				}
				return d, err
			})
		}),
	}
}

// containerInspectCommand is `container inspect`: containers only.
func containerInspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show the details of containers as JSON",
		ArgsUsage: "CONTAINER...",
		Description: `Prints a JSON array with one object per CONTAINER (a name, an ID or an ID
prefix), in Podman's keys: Id, Created, Path, Args, State (Status, Running,
Pid, ExitCode, StartedAt, FinishedAt, ...), Image, ImageName, Name, Mounts,
Config (Hostname, User, Env, Cmd, Entrypoint, WorkingDir, StopSignal, Tty,
OpenStdin) and HostConfig (AutoRemove, Privileged, CapAdd, CapDrop,
ReadonlyRootfs, NetworkMode). --format applies a Go template to each
container instead.

Examples:
   crun-lite container inspect web
   crun-lite container inspect -f '{{.State.Pid}}' web`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "print each container through the Go template `TEMPLATE` (default: json, a JSON array)", Category: catOutput},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() < 1 {
				return errors.New("container inspect needs a CONTAINER (name or ID)")
			}
			return inspectEach(c, c.Args().Slice(), func(ref string) (any, error) {
				in, err := run.Lookup(e.store, ref, true)
				if err != nil {
					return nil, err
				}
				return containerDetails(e.store, in)
			})
		}),
	}
}

// inspectEach prints what find returns for each ref: a JSON array of those
// found, or each through --format's template as it comes. As Podman's
// inspect, a ref not found does not stop the others: its error is printed
// (the last one returned, for the exit code) after what was found.
func inspectEach(c *cli.Context, refs []string, find func(ref string) (any, error)) error {
	f, err := parseFormat(c.String("format"), inspectFormats)
	if err != nil {
		return err
	}
	out := []any{}
	var errs []error
	for _, ref := range refs {
		d, err := find(ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if f.isTemplate() {
			if err := f.execute(c.App.Writer, d); err != nil {
				return err
			}
			continue
		}
		out = append(out, d)
	}
	if !f.isTemplate() && (len(out) > 0 || len(errs) == 0) {
		if err := f.print(c.App.Writer, out, nil); err != nil {
			return err
		}
	}
	if len(errs) == 0 {
		return nil
	}
	for _, err := range errs[:len(errs)-1] {
		printError(c.App.ErrWriter, err)
	}
	return errs[len(errs)-1]
}

// containerJSON is one container of inspect, in Podman's keys and types
// (those of Podman 4: Config.Entrypoint is one string). Only what
// crun-lite knows is there; the rest of Podman's keys are left out rather
// than filled with made-up values.
type containerJSON struct {
	ID         string            `json:"Id"`
	Created    time.Time         `json:"Created"`
	Path       string            `json:"Path"`
	Args       []string          `json:"Args"`
	State      containerState    `json:"State"`
	Image      string            `json:"Image"`
	ImageName  string            `json:"ImageName"`
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mounts     []containerMount  `json:"Mounts"`
	Config     containerConfig   `json:"Config"`
	HostConfig containerHostConf `json:"HostConfig"`
	// NetworkSettings: the address on the network hub and the published
	// ports, in Podman's shape ("80/tcp": [{"HostIp": ..., "HostPort": ...}]).
	NetworkSettings containerNet `json:"NetworkSettings"`
}

type containerNet struct {
	IPAddress string                        `json:"IPAddress"`
	Ports     map[string][]containerPortMap `json:"Ports"`
}

type containerPortMap struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

type containerState struct {
	Status     string    `json:"Status"`
	Running    bool      `json:"Running"`
	Paused     bool      `json:"Paused"`
	Restarting bool      `json:"Restarting"`
	OOMKilled  bool      `json:"OOMKilled"`
	Dead       bool      `json:"Dead"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
}

type containerMount struct {
	Type        string   `json:"Type"`
	Name        string   `json:"Name,omitempty"`
	Source      string   `json:"Source"`
	Destination string   `json:"Destination"`
	Driver      string   `json:"Driver"`
	Mode        string   `json:"Mode"`
	Options     []string `json:"Options"`
	RW          bool     `json:"RW"`
	Propagation string   `json:"Propagation"`
}

type containerConfig struct {
	Hostname    string   `json:"Hostname"`
	User        string   `json:"User"`
	Tty         bool     `json:"Tty"`
	OpenStdin   bool     `json:"OpenStdin"`
	Env         []string `json:"Env"`
	Cmd         []string `json:"Cmd"`
	Image       string   `json:"Image"`
	WorkingDir  string   `json:"WorkingDir"`
	Entrypoint  string   `json:"Entrypoint"`
	StopSignal  uint     `json:"StopSignal"`
	StopTimeout uint     `json:"StopTimeout"`
}

type containerHostConf struct {
	Binds          []string          `json:"Binds"`
	LogConfig      containerLog      `json:"LogConfig"`
	NetworkMode    string            `json:"NetworkMode"`
	AutoRemove     bool              `json:"AutoRemove"`
	CapAdd         []string          `json:"CapAdd"`
	CapDrop        []string          `json:"CapDrop"`
	GroupAdd       []string          `json:"GroupAdd"`
	Privileged     bool              `json:"Privileged"`
	ReadonlyRootfs bool              `json:"ReadonlyRootfs"`
	Tmpfs          map[string]string `json:"Tmpfs"`
	UsernsMode     string            `json:"UsernsMode"`
	Init           bool              `json:"Init"`
	Devices        []containerDevice `json:"Devices"`
}

// containerDevice is one --device, as Podman's inspect shows it.
type containerDevice struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer"`
	CgroupPermissions string `json:"CgroupPermissions"`
}

type containerLog struct {
	Type string `json:"Type"`
	Path string `json:"Path"`
}

// containerDetails is inspect's object for in, from what Lookup found and
// the spec its monitor wrote (nil for a container that never ran: the
// fields only the spec knows stay empty).
func containerDetails(st *store.Store, in *run.Info) (*containerJSON, error) {
	s, err := in.Spec(st)
	if err != nil {
		return nil, err
	}
	d := &containerJSON{
		ID: in.ID, Created: in.Created, Image: in.ImageID, ImageName: in.ImageRef, Name: in.Name,
		Driver: st.Driver.Name, Mounts: []containerMount{}, Args: []string{},
		State: containerState{
			Status: stateWord(in), Running: stateWord(in) == "running", Paused: in.Paused(), Dead: false, ExitCode: in.ExitCode,
			StartedAt: in.Started, FinishedAt: in.Finished,
		},
	}
	if d.State.Running || d.State.Paused {
		d.State.Pid = in.Pid
	}
	argv := in.Command
	cfg := &d.Config
	hc := &d.HostConfig
	cfg.Image, cfg.StopSignal, cfg.StopTimeout = in.ImageRef, uint(in.StopSignal), uint(in.StopTimeout/time.Second)
	hc.AutoRemove, hc.Binds, hc.Tmpfs, hc.CapAdd, hc.CapDrop, hc.GroupAdd = in.Remove, []string{}, map[string]string{}, []string{}, []string{}, []string{}
	hc.NetworkMode, hc.Devices = "bridge", []containerDevice{}
	d.NetworkSettings = containerNet{IPAddress: in.IP, Ports: map[string][]containerPortMap{}}
	for _, p := range in.Ports {
		ctr, host, ok := strings.Cut(p, " -> ")
		if i := strings.LastIndexByte(host, ':'); ok && i > 0 {
			d.NetworkSettings.Ports[ctr] = append(d.NetworkSettings.Ports[ctr], containerPortMap{HostIP: strings.Trim(host[:i], "[]"), HostPort: host[i+1:]})
		}
	}
	if in.Detached {
		hc.LogConfig = containerLog{Type: "k8s-file", Path: in.LogPath}
	}
	if s != nil {
		p := &s.Process
		argv = p.Args
		cfg.Hostname, cfg.User, cfg.Tty, cfg.OpenStdin, cfg.Env, cfg.WorkingDir = s.Hostname, p.UserSpec, p.Terminal, p.Interactive, p.Env, p.Cwd
		cfg.Cmd, cfg.Entrypoint = s.Cmd, strings.Join(s.Entrypoint, " ")
		if s.StopSignal != 0 {
			cfg.StopSignal = uint(s.StopSignal)
		}
		cfg.StopTimeout = uint(s.StopTimeout / time.Second)
		hc.Privileged, hc.ReadonlyRootfs, hc.NetworkMode, hc.Init = s.Privileged, s.ReadOnlyRoot, s.Network, p.Init
		hc.AutoRemove = s.Remove
		hc.CapAdd, hc.CapDrop = spec.CapDiff(p.Caps)
		if p.GroupAdd != nil {
			hc.GroupAdd = p.GroupAdd
		}
		if s.KeepID != nil {
			hc.UsernsMode = "keep-id"
		}
		for _, m := range s.Mounts {
			d.addMount(m)
		}
		for _, dv := range s.Devices {
			hc.Devices = append(hc.Devices, containerDevice{PathOnHost: dv.Source, PathInContainer: dv.Target, CgroupPermissions: dv.Perms})
		}
	}
	if cfg.Hostname == "" && len(in.ID) >= 12 {
		cfg.Hostname = in.ID[:12]
	}
	if cfg.StopSignal == 0 {
		cfg.StopSignal = 15 // SIGTERM, as Podman shows the default
	}
	if cfg.Env == nil {
		cfg.Env = []string{}
	}
	if cfg.Cmd == nil {
		cfg.Cmd = []string{}
	}
	if len(argv) > 0 {
		d.Path, d.Args = argv[0], append([]string{}, argv[1:]...)
	}
	return d, nil
}

// addMount lists a bind mount or a volume as Podman's Mounts does, and a
// tmpfs in HostConfig.Tmpfs, where Podman has them.
func (d *containerJSON) addMount(m spec.Mount) {
	rw := !m.ReadOnly
	opts := []string{"rbind"}
	switch m.Kind {
	case "tmpfs":
		d.HostConfig.Tmpfs[m.Target] = m.Data
		return
	case "volume":
		d.Mounts = append(d.Mounts, containerMount{Type: "volume", Name: m.Volume, Source: m.Source, Destination: m.Target,
			Driver: "local", Options: []string{"nosuid", "nodev", "rbind"}, RW: rw, Propagation: "rprivate"})
		return
	}
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	d.Mounts = append(d.Mounts, containerMount{Type: "bind", Source: m.Source, Destination: m.Target,
		Options: opts, RW: rw, Propagation: "rprivate"})
	bind := m.Source + ":" + m.Target
	if m.ReadOnly {
		bind += ":ro"
	}
	d.HostConfig.Binds = append(d.HostConfig.Binds, bind)
}
