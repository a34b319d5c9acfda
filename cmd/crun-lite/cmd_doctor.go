//go:build !lean

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/internal/hostcheck"
	"github.com/crun-lite/crun-lite/run/doctor"
	"github.com/crun-lite/crun-lite/userns"
)

// doctorCommand checks the host. Its name is known to userns/nsjoin.c,
// which never joins the namespace for it: doctor must see the host as a
// new namespace would.
func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check that this host can run rootless containers, and say how to fix what is missing",
		Description: `Checks everything rootless containers need from the host: subordinate uid and
gid ranges, newuidmap and newgidmap, whether user namespaces are allowed
(sysctls, AppArmor, an outer container), overlay in a user namespace or
fuse-overlayfs, the graph root's file system, XDG_RUNTIME_DIR, and, for
information, cgroup delegation and the network helpers. Each check prints
ok, info, warning or problem and, when something is wrong, the command that
fixes it. The global --root, --storage-driver and --storage-opt select the
store to check. Exits 0 when nothing blocks running a container, 1 otherwise.

Examples:
   crun-lite doctor
   crun-lite doctor --format json | jq -r '.checks[] | select(.status == "problem") | .fix'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "print the checks as `FORMAT`: text or json", Category: catOutput},
		},
		Action: doctorAction,
	}
}

func doctorAction(c *cli.Context) error {
	f, err := parseFormat(c.String("format"), doctorFormats)
	if err != nil {
		return err
	}
	// A store that cannot even be located is one of the problems doctor
	// reports, not a reason to fail without the other checks.
	// The store the next command would use: doctor runs on the host.
	single := userns.Rootless() && userns.WouldBeSingle(globalString(c, "userns") == "single")
	opts, optsErr := storeOptionsFor(c, single)
	checks := doctor.Doctor(opts, optsErr)
	err = f.print(c.App.Writer, checksReport(checks), func(w io.Writer) error {
		printChecks(w, checks)
		return nil
	})
	if err == nil && hostcheck.Blocking(checks) {
		return exitStatus(1)
	}
	return err
}

// doctorFormats: doctor has no templates, and its flag's default is
// "text", so an empty --format is a mistake.
var doctorFormats = formats{text: "text", emptyUnknown: true, advice: "use text or json"}

// checksReport is what doctor --format json prints.
func checksReport(checks []hostcheck.Check) any {
	return struct {
		OK     bool              `json:"ok"`
		Checks []hostcheck.Check `json:"checks"`
	}{!hostcheck.Blocking(checks), checks}
}

// printChecks prints one line per check and an indented fix line under each
// one that has a fix, then a verdict.
func printChecks(w io.Writer, checks []hostcheck.Check) {
	count := map[hostcheck.Status]int{}
	for _, c := range checks {
		count[c.Status]++
		fmt.Fprintf(w, "%-8s %-19s %s\n", c.Status, c.Title, c.Message)
		if c.Fix != "" && c.Status != hostcheck.OK {
			fmt.Fprintf(w, "%-8s %-19s fix: %s\n", "", "", c.Fix)
		}
	}
	fmt.Fprintln(w)
	switch n := count[hostcheck.Problem]; n {
	case 0:
		fmt.Fprint(w, "Nothing blocks rootless containers")
		if n := count[hostcheck.Warning]; n > 0 {
			fmt.Fprintf(w, " (%d warning%s above)", n, strings.Repeat("s", min(n-1, 1)))
		}
		fmt.Fprintln(w, ".")
	case 1:
		fmt.Fprintln(w, "1 problem blocks rootless containers: fix it, then run crun-lite doctor again.")
	default:
		fmt.Fprintf(w, "%d problems block rootless containers: fix them, then run crun-lite doctor again.\n", n)
	}
}
