package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
)

// ps is in the lean build: scripts poll it, and it needs only the run
// dirs and the store's container list.

func psCommand() *cli.Command {
	return &cli.Command{
		Name:  "ps",
		Usage: "list containers",
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
			&cli.BoolFlag{Name: "noheading", Usage: "leave out the table's header", Category: catOutput},
			&cli.IntFlag{Name: "last", Aliases: []string{"n"}, Value: -1, Usage: "list only the `N` newest containers (all states)", Category: catSelection},
			&cli.BoolFlag{Name: "latest", Aliases: []string{"l"}, Usage: "list only the newest container (all states)", Category: catSelection},
			&cli.BoolFlag{Name: "size", Aliases: []string{"s"}, Usage: "show each container's size: what it wrote, and with its image (virtual)", Category: catOutput},
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
			f.noHeading = c.Bool("noheading")
			now := time.Now()
			rows := make([]psRow, len(shown))
			data := make([]psJSON, len(shown))
			for i, in := range shown {
				rows[i] = newPSRow(c, in, now)
				data[i] = newPSJSON(in, now)
				if c.Bool("size") {
					rw, rootfs, err := in.Size(e.store)
					if err != nil {
						return err
					}
					data[i].Size = &psSize{RootFsSize: rootfs, RwSize: rw}
					rows[i].Size = fmt.Sprintf("%s (virtual %s)", units.HumanSizeWithPrecision(float64(rw), 3), units.HumanSizeWithPrecision(float64(rootfs), 3))
				}
			}
			return printRows(c.App.Writer, f, data, rows, func(w io.Writer) error { return printPSTable(w, rows, c.Bool("size"), !f.noHeading) })
		}),
	}
}

var psFormats = formats{
	text:      "table",
	templates: bracedTemplates,
	headers:   map[string]string{"ID": "CONTAINER ID"},
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
		case k == "status" && v != "created" && v != "running" && v != "paused" && v != "exited":
			return nil, fmt.Errorf("--filter status=%s: want created, running, paused or exited", v)
		case k != "status" && k != "name" && k != "id" && k != "ancestor":
			return nil, fmt.Errorf("--filter %q: unknown key %s: use status, name, id or ancestor", f, k)
		}
		byKey[k] = append(byKey[k], v)
	}
	match := func(in *run.Info, k, v string) bool {
		switch k {
		case "status":
			return stateWord(in) == v
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
	Size                                                       string // --size: "12B (virtual 5.86MB)"
}

func newPSRow(c *cli.Context, in *run.Info, now time.Time) psRow {
	return psRow{
		ID: idColumn(c, in.ID), Image: in.ImageRef, Command: strings.Join(in.Command, " "),
		CreatedAt: ago(in.Created, now), Status: statusText(in, now), State: stateWord(in),
		Names: in.Name, ExitCode: in.ExitCode, Pid: in.Pid, Ports: psPorts(in),
	}
}

// psPorts is ps's PORTS, as Podman writes it: 0.0.0.0:8080->80/tcp, ...
func psPorts(in *run.Info) string {
	if in.Status != "running" {
		return ""
	}
	var out []string
	for _, p := range in.Ports {
		if ctr, host, ok := strings.Cut(p, " -> "); ok {
			out = append(out, host+"->"+ctr)
		}
	}
	return strings.Join(out, ", ")
}

// statusText is ps's STATUS: "Up 3 minutes", "Exited (0) 2 seconds ago",
// "Created". Podman 4.3 says "Up 3 minutes ago"; the "ago" of a state that
// still lasts is dropped on purpose, as Docker and later Podman do.
func statusText(in *run.Info, now time.Time) string {
	switch stateWord(in) {
	case "paused":
		return "Paused"
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

// stateWord is Podman's state word: created, running, paused or
// exited.
func stateWord(in *run.Info) string {
	if in.Paused() {
		return "paused"
	}
	return in.Status
}

func ago(t, now time.Time) string { return units.HumanDuration(now.Sub(t)) + " ago" }

func printPSTable(out io.Writer, rows []psRow, size, header bool) error {
	w := newTable(out)
	head := "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES"
	if size {
		head += "\tSIZE"
	}
	if header {
		fmt.Fprintln(w, head)
	}
	for _, r := range rows {
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", r.ID, r.Image, r.Command, r.CreatedAt, r.Status, r.Ports, r.Names)
		if size {
			line += "\t" + r.Size
		}
		fmt.Fprintln(w, line)
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
	Size       *psSize  `json:"Size"` // with --size, else null
}

// psSize is ps --size's, in Podman's keys.
type psSize struct {
	RootFsSize int64 `json:"rootFsSize"`
	RwSize     int64 `json:"rwSize"`
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
		Mounts: []string{}, Names: []string{in.Name}, Pid: pid, StartedAt: unix(in.Started), State: stateWord(in),
		Status: statusText(in, now), Created: unix(in.Created),
	}
}
