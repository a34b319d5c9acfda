//go:build !lean

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
)

func psCommand() *cli.Command {
	return &cli.Command{
		Name:    "ps",
		Aliases: []string{"ls", "list"},
		Usage:   "list containers",
		Description: `Lists running containers, detached or in the foreground, --rm or kept; with
--all also those created or exited, with their exit status. Newest first.

Examples:
   crun-lite ps -a
   crun-lite ps --filter status=exited -q
   crun-lite ps --format '{{.Names}} {{.Status}}'
   crun-lite rm $(crun-lite ps -aq)`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "list created and exited containers too", Category: catSelection},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only container IDs", Category: catOutput},
			&cli.BoolFlag{Name: "no-trunc", Usage: "print full container IDs", Category: catOutput},
			&cli.IntFlag{Name: "last", Aliases: []string{"n"}, Value: -1, Usage: "list only the `N` newest containers (all states)", Category: catSelection},
			&cli.BoolFlag{Name: "latest", Aliases: []string{"l"}, Usage: "list only the newest container (all states)", Category: catSelection},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "list only containers matching `FILTER`: status=created|running|exited, name=SUBSTRING, id=PREFIX, ancestor=IMAGE", Category: catSelection},
			&cli.StringFlag{Name: "format", Usage: "output `FORMAT`: table, json, or a Go template of .ID .Image .Command .CreatedAt .Status .State .Names .ExitCode .Pid", Category: catOutput},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			cs, err := run.Containers(e.store, true)
			if err != nil {
				return err
			}
			last := c.Int("last")
			if c.Bool("latest") {
				last = 1
			}
			all := c.Bool("all") || last >= 0
			cs, err = filterContainers(cs, c.StringSlice("filter"))
			if err != nil {
				return err
			}
			var shown []*run.Info
			for _, in := range cs {
				if in.Status == "running" || all || len(c.StringSlice("filter")) > 0 {
					shown = append(shown, in)
				}
			}
			if last >= 0 && len(shown) > last {
				shown = shown[:last]
			}
			if c.Bool("quiet") {
				for _, in := range shown {
					fmt.Fprintln(c.App.Writer, idColumn(c, in.ID))
				}
				return nil
			}
			f, err := parseFormat(c.String("format"), psFormats)
			if err != nil {
				return err
			}
			now := time.Now()
			rows := make([]psRow, len(shown))
			data := make([]psJSON, len(shown))
			for i, in := range shown {
				rows[i] = newPSRow(c, in, now)
				data[i] = newPSJSON(in, now)
			}
			return printRows(c.App.Writer, f, data, rows, func(w io.Writer) error { return printPSTable(w, rows) })
		}),
	}
}

var psFormats = formats{
	text:      "table",
	templates: bracedTemplates,
	advice:    "use table, json or a Go template such as '{{.Names}} {{.Status}}'",
}

// filterContainers keeps the containers that match every filter; values of
// one key repeated match any of them, as in Podman.
func filterContainers(cs []*run.Info, filters []string) ([]*run.Info, error) {
	byKey := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("--filter %q: want KEY=VALUE (status, name, id, ancestor)", f)
		case k == "status" && v != "created" && v != "running" && v != "exited":
			return nil, fmt.Errorf("--filter status=%s: want created, running or exited", v)
		case k != "status" && k != "name" && k != "id" && k != "ancestor":
			return nil, fmt.Errorf("--filter %q: unknown key %s: use status, name, id or ancestor", f, k)
		}
		byKey[k] = append(byKey[k], v)
	}
	match := func(in *run.Info, k, v string) bool {
		switch k {
		case "status":
			return in.Status == v
		case "name":
			return strings.Contains(in.Name, v)
		case "id":
			return strings.HasPrefix(in.ID, v)
		}
		return in.ImageRef == v || strings.HasPrefix(in.ImageID, v) || strings.TrimPrefix(in.ImageRef, "docker.io/library/") == v ||
			strings.TrimPrefix(in.ImageRef, "localhost/") == v || strings.Split(in.ImageRef, ":")[0] == v
	}
	var out []*run.Info
next:
	for _, in := range cs {
		for k, vs := range byKey {
			ok := false
			for _, v := range vs {
				ok = ok || match(in, k, v)
			}
			if !ok {
				continue next
			}
		}
		out = append(out, in)
	}
	return out, nil
}

// psRow is one line of ps, and what its templates see (Podman's names).
type psRow struct {
	ID, Image, Command, CreatedAt, Status, State, Names, Ports string
	ExitCode, Pid                                              int
}

func newPSRow(c *cli.Context, in *run.Info, now time.Time) psRow {
	return psRow{
		ID: idColumn(c, in.ID), Image: in.ImageRef, Command: strings.Join(in.Command, " "),
		CreatedAt: ago(in.Created, now), Status: statusText(in, now), State: in.Status,
		Names: in.Name, ExitCode: in.ExitCode, Pid: in.Pid,
	}
}

// statusText is ps's STATUS: "Up 3 minutes", "Exited (0) 2 seconds ago",
// "Created". Podman 4.3 says "Up 3 minutes ago"; the "ago" of a state that
// still lasts is dropped on purpose, as Docker and later Podman do.
func statusText(in *run.Info, now time.Time) string {
	switch in.Status {
	case "running":
		return "Up " + units.HumanDuration(now.Sub(in.Started))
	case "exited":
		if in.Finished.IsZero() {
			return fmt.Sprintf("Exited (%d)", in.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s", in.ExitCode, ago(in.Finished, now))
	}
	return "Created"
}

func ago(t, now time.Time) string { return units.HumanDuration(now.Sub(t)) + " ago" }

func printPSTable(out io.Writer, rows []psRow) error {
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Image, r.Command, r.CreatedAt, r.Status, r.Ports, r.Names)
	}
	return w.Flush()
}

// psJSON is one container of ps --format json, in Podman's keys.
type psJSON struct {
	AutoRemove bool     `json:"AutoRemove"`
	Command    []string `json:"Command"`
	CreatedAt  string   `json:"CreatedAt"`
	Exited     bool     `json:"Exited"`
	ExitedAt   int64    `json:"ExitedAt"`
	ExitCode   int      `json:"ExitCode"`
	ID         string   `json:"Id"`
	Image      string   `json:"Image"`
	ImageID    string   `json:"ImageID"`
	Mounts     []string `json:"Mounts"`
	Names      []string `json:"Names"`
	Pid        int      `json:"Pid"`
	Ports      []string `json:"Ports"`
	StartedAt  int64    `json:"StartedAt"`
	State      string   `json:"State"`
	Status     string   `json:"Status"`
	Created    int64    `json:"Created"`
}

func newPSJSON(in *run.Info, now time.Time) psJSON {
	unix := func(t time.Time) int64 {
		if t.IsZero() {
			return time.Time{}.Unix() // Podman's value for "never"
		}
		return t.Unix()
	}
	pid := 0
	if in.Status == "running" {
		pid = in.Pid
	}
	return psJSON{
		AutoRemove: in.Remove, Command: in.Command, CreatedAt: ago(in.Created, now), Exited: in.Status == "exited",
		ExitedAt: unix(in.Finished), ExitCode: in.ExitCode, ID: in.ID, Image: in.ImageRef, ImageID: in.ImageID,
		Mounts: []string{}, Names: []string{in.Name}, Pid: pid, StartedAt: unix(in.Started), State: in.Status,
		Status: statusText(in, now), Created: unix(in.Created),
	}
}

func rmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "remove containers",
		ArgsUsage: "CONTAINER...",
		Description: `Removes each CONTAINER (a name, an ID or an ID prefix) and its writable layer
from the store, and prints its ID. A running container is refused unless
--force, which kills it first.

Examples:
   crun-lite rm web
   crun-lite rm -f web
   crun-lite rm --all`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every container (running ones only with --force)", Category: catSelection},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill a running container first; a missing one is no error", Category: catSelection},
			&cli.BoolFlag{Name: "volumes", Aliases: []string{"v"}, Usage: "accepted for Podman's scripts: named volumes are kept, anonymous ones are not made", Category: catSelection},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			refs := c.Args().Slice()
			if c.Bool("all") {
				cs, err := run.Containers(e.store, true)
				if err != nil {
					return err
				}
				for _, in := range cs {
					if in.Status != "running" || c.Bool("force") {
						refs = append(refs, in.ID)
					}
				}
			} else if len(refs) == 0 {
				return errors.New("rm needs a CONTAINER (name or ID) or --all")
			}
			return eachContainer(c, e, refs, func(in *run.Info, ref string) error {
				if err := run.Remove(e.store, in, c.Bool("force")); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, in.ID)
				return nil
			}, c.Bool("force"))
		}),
	}
}

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print a detached container's output",
		ArgsUsage: "CONTAINER",
		Description: `Prints what CONTAINER wrote to stdout (on stdout) and stderr (on stderr), as
its monitor logged it (k8s-file, Podman's format). A container run in the
foreground is logged by its terminal, not here: only detached containers
(run -d) have logs.

Examples:
   crun-lite logs -f web
   crun-lite logs --tail 20 -t web
   crun-lite logs --since 10m web`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "go on printing new lines until the container exits", Category: catOutput},
			&cli.StringFlag{Name: "since", Usage: "only lines since `TIME` (RFC 3339, a Unix time, or a duration such as 10m before now)", Category: catSelection},
			&cli.StringFlag{Name: "until", Usage: "only lines before `TIME` (as --since)", Category: catSelection},
			&cli.IntFlag{Name: "tail", Value: -1, Usage: "only the last `N` lines (-1: all)", Category: catSelection},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "start each line with its time", Category: catOutput},
		},
		Action: withStore(func(c *cli.Context, e *env) error {
			if c.NArg() != 1 {
				return errors.New("logs needs one CONTAINER (name or ID)")
			}
			o := run.LogOptions{Follow: c.Bool("follow"), Tail: c.Int("tail"), Timestamps: c.Bool("timestamps")}
			var err error
			if o.Since, err = parseTime(c.String("since"), "--since"); err != nil {
				return err
			}
			if o.Until, err = parseTime(c.String("until"), "--until"); err != nil {
				return err
			}
			in, err := run.Lookup(e.store, c.Args().First(), true)
			if err != nil {
				return err
			}
			return in.Logs(e.store, o, c.App.Writer, os.Stderr)
		}),
	}
}

// parseTime reads --since and --until as Podman does: RFC 3339 (with or
// without time zone), Unix seconds, or a duration before now.
func parseTime(v, flag string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	var sec, nsec int64
	if n, _ := fmt.Sscanf(v, "%d.%d", &sec, &nsec); n >= 1 {
		return time.Unix(sec, nsec), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want a time (2006-01-02T15:04:05Z), Unix seconds or a duration (10m)", flag, v)
}

// containerCommand is Podman's `container` group: the container commands
// under their other names, and cleanup, which a detached container's
// monitor runs when it exited.
func containerCommand() *cli.Command {
	return &cli.Command{
		Name:  "container",
		Usage: "manage containers (the container commands, grouped as in Podman)",
		Description: `The container commands under the names Podman's container group gives them.

Examples:
   crun-lite container ls -a
   crun-lite container stop web`,
		Subcommands: []*cli.Command{
			runCommand(), psCommand(), stopCommand(), killCommand(), waitCommand(), logsCommand(), rmCommand(), containerInspectCommand(), renameCommand(), containerPruneCommand(), topCommand(), cpCommand(),
			{
				Name:      "cleanup",
				Usage:     "record a detached container's exit and undo its run (its monitor runs this)",
				ArgsUsage: "ID",
				Hidden:    true,
				Action: withStore(func(c *cli.Context, e *env) error {
					if c.NArg() != 1 {
						return errors.New("container cleanup needs the container's ID")
					}
					return run.Cleanup(e.store, c.Args().First())
				}),
			},
		},
	}
}
