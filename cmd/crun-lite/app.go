package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/internal/timing"
	"github.com/crun-lite/crun-lite/run"
	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// Flag categories shown in --help and the man pages. One vocabulary for
// all commands, so that the same kind of flag is under the same heading
// everywhere (run adds its own in cmd_run.go).
const (
	catStorage     = "Storage"
	catOutput      = "Output"         // what is printed and how: --quiet, --format, --no-trunc
	catSelection   = "Selection"      // which objects a command acts on: --all, --filter
	catSafety      = "Safety"         // --force: override a check or a confirmation
	catRegistry    = "Registry"       // how registries are contacted
	catCredentials = "Credentials"    // who logs in, and where credentials are kept
	catPlatform    = "Platform"       // OS, architecture, variant
	catArchive     = "Archive"        // the file an archive is read from or written to
	catImageConfig = "Image settings" // what import writes into the image's configuration
)

func newApp() *cli.App {
	app := &cli.App{
		Name:                   "crun-lite",
		Usage:                  "run containers rootless, fast",
		Description:            appDescription,
		Version:                version,
		UseShortOptionHandling: true,
		// -e A=1,2 and -v SRC:DST:ro,z carry commas: no splitting of values
		// (the few lists that take commas are split where they are read).
		DisableSliceFlagSeparator: true,
		HideHelpCommand:           true,
		Suggest:                   true,
		Flags:                     globalFlags(),
		Commands:                  commands(),
		// Errors are printed once, by Main.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		// No command: the help on stdout, and Podman's error and code.
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("unrecognized command `crun-lite %s`: try 'crun-lite --help' for the commands", c.Args().First())
			}
			_ = cli.ShowAppHelp(c)
			return errors.New("missing command 'crun-lite COMMAND'")
		},
	}
	setUsageErrors(app.Commands)
	// urfave/cli groups a top-level command's flags by category before it
	// appends --help to them: without this, --help is missing from the
	// help of every command whose flags have categories.
	for _, c := range app.Commands {
		if !c.HideHelp && len(c.Flags) > 0 {
			c.Flags = append(c.Flags, cli.HelpFlag)
		}
	}
	return app
}

// appDescription opens --help and crun-lite(1).
const appDescription = `crun-lite runs OCI images as an unprivileged user. All commands of a user
share one user namespace, kept by a small holder process, that maps the user
to root and their subordinate ids (/etc/subuid, /etc/subgid) to the other ids
of the images; images are pulled with containers/image into a
containers/storage store on native overlay, fuse-overlayfs or vfs. A user
without subordinate ids or newuidmap gets the single-id mode instead: a
namespace and a store that map the user alone (--userns=single chooses it).
When the host lacks something rootless containers need, crun-lite doctor
says what and how to fix it.`

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "root", Usage: "store images and containers in `DIR` (default $XDG_DATA_HOME/crun-lite/storage)", Category: catStorage},
		&cli.StringFlag{Name: "runroot", Usage: "keep runtime state in `DIR` (default $XDG_RUNTIME_DIR/crun-lite)", Category: catStorage},
		&cli.StringFlag{Name: "storage-driver", Usage: "use graph driver `NAME` (overlay, vfs) for a new store", Category: catStorage},
		&cli.StringSliceFlag{Name: "storage-opt", Usage: "graph driver option `OPT`, e.g. overlay.mount_program=/usr/bin/fuse-overlayfs; crunlite.reserve=SIZE keeps SIZE (512M, 2G, 10%) free on the store's file system during pulls, loads and imports (default 5%, at most 1G; 0: none)", Category: catStorage},
		&cli.StringFlag{Name: "userns", Usage: "`single`: use the single-id user namespace and its store, which map you alone, even though you have subordinate ids (the default is the full mode when you have them; run and create take --userns=single too)", Category: catStorage},
		&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "log `LEVEL` of the image and storage libraries (debug, info, warn, error)", Category: catOutput},
		&cli.BoolFlag{Name: "timing", Usage: "print how long each phase took, on stderr, when the command ends", Category: catOutput},
	}
}

// Main runs the CLI and returns the process exit code: 0, the container's
// code, or 125 when crun-lite itself failed, as Podman does.
func Main(args []string) int {
	delegateIfNeeded(args)
	run.Engine = "crun-lite-" + version
	app := newApp()
	err := app.Run(permuteArgs(app, args))
	if err == nil {
		return 0
	}
	// Every code but 125 is one of crun-lite's own ExitErrors: an
	// *exec.ExitError of a helper deep in the chain has an exit code too,
	// and is not ours to exit with. One without an error is a command's
	// own exit status, with nothing to print.
	var re *run.ExitError
	if errors.As(err, &re) && re.Err == nil {
		return re.Code
	}
	printError(os.Stderr, err)
	if re != nil {
		return re.Code
	}
	return 125
}

// exitStatus ends crun-lite with code and prints nothing.
func exitStatus(code int) error { return &run.ExitError{Code: code} }

// printError prints err on one line and its hint, if any, on the next.
func printError(w io.Writer, err error) {
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	fmt.Fprintf(w, "Error: %s\n", msg)
	if h := hint.Of(err); h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
	printUsageHint(w, err)
}

// env is what every store command gets.
type env struct {
	ctx    context.Context
	store  *store.Store
	timing *timing.Recorder
}

// withStore wraps a command that needs the store: it enters the user
// namespace (re-executing once if the holder had to be created), opens the
// store and collects what crashed runs left behind.
func withStore(fn func(c *cli.Context, e *env) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		var rec *timing.Recorder
		if c.Bool("timing") {
			rec = timing.New(userns.StartTime())
			defer rec.Print(os.Stderr)
		}
		if err := checkGlobalUserns(c); err != nil {
			return err
		}
		if err := userns.Ensure(); err != nil {
			return err
		}
		rec.Mark("user namespace")
		warnRuntimeDir(c.App.ErrWriter)
		if c.Command.Name != "migrate" { // the way to move is this command
			warnFullModeNow(c.App.ErrWriter)
		}
		if err := setLogLevel(c.String("log-level")); err != nil {
			return err
		}
		opts, err := storeOptions(c)
		if err != nil {
			return err
		}
		open := store.Open
		fast := c.Command.Name == "run" || c.Command.Name == "exec"
		if fast {
			// run's cache often spares opening storage; exec finds a
			// running container from run dirs alone.
			open = store.OpenLazy
		}
		st, err := open(opts)
		if err != nil {
			return err
		}
		defer st.Close()
		if st.Created && !c.Bool("quiet") {
			// Once per store, on stderr: scripts see it once (never with
			// -q, which promises nothing but the answer), info keeps saying it.
			fmt.Fprintf(c.App.ErrWriter, "crun-lite: new store in %s: %s\n", st.GraphRoot(), st.Driver.Reason)
			if userns.Single() {
				fmt.Fprintf(c.App.ErrWriter, "crun-lite: %s\n", userns.SingleModeLine())
			} else if old := store.SingleStoreBeside(opts); old != "" && c.String("root") == "" {
				fmt.Fprintf(c.App.ErrWriter, "crun-lite: the images of the single-id mode stay in %s (crun-lite --userns=single images lists them): pull them again here; crun-lite --userns=single system reset deletes them\n", old)
			}
		}
		rec.Mark("store open")
		if !fast { // run collects in the background; exec leaves it to the others
			state.CollectGarbage(st)
		}
		ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer cancel()
		return fn(c, &env{ctx: ctx, store: st, timing: rec})
	}
}

// quietWarningsEnv is set for a crun-lite-full started by crun-lite, which
// has printed its warnings already.
const quietWarningsEnv = "_CRUNLITE_QUIET_WARNINGS"

// warnRuntimeDir warns, with the fix, when this command keeps its runtime
// state apart from the user's login sessions (see userns.RuntimeDirWarning).
func warnRuntimeDir(w io.Writer) {
	if os.Getenv(quietWarningsEnv) != "" {
		return
	}
	if warning, fix := userns.RuntimeDirWarning(); warning != "" {
		fmt.Fprintf(w, "crun-lite: warning: %s\nhint: %s\n", warning, fix)
	}
}

// warnFullModeNow says, on every command of a single-id namespace made for
// want of the full mode, that the host gives the full mode now and how to
// move to it (userns.FullModeNow).
func warnFullModeNow(w io.Writer) {
	if os.Getenv(quietWarningsEnv) != "" {
		return
	}
	if msg := userns.FullModeNow(); msg != "" {
		fmt.Fprintf(w, "crun-lite: %s\n", msg)
	}
}

// checkGlobalUserns refuses a global --userns other than single; the
// constructor has read it already (it chose the namespace to join).
func checkGlobalUserns(c *cli.Context) error {
	v := globalString(c, "userns")
	if v == "" || v == "single" {
		return nil
	}
	return hint.Wrap(fmt.Errorf("--userns=%s before the command: the global option takes single only", v),
		"put run's and create's --userns=keep-id after the command: crun-lite run --userns=keep-id IMAGE")
}

// globalString is the value of a global option, also where the command
// has an option of the same name (run's --userns): read from the arguments
// before the command, as the constructor reads them.
func globalString(_ *cli.Context, name string) string {
	cl := userns.Command()
	end := cl.Index
	if end == 0 {
		end = len(os.Args)
	}
	v := ""
	for i := 1; i < end; i++ {
		a := os.Args[i]
		if val, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			v = val
		} else if a == "--"+name && i+1 < end {
			v = os.Args[i+1]
			i++
		}
	}
	return v
}

func storeOptions(c *cli.Context) (store.Options, error) {
	return storeOptionsFor(c, userns.Single())
}

// storeOptionsFor is storeOptions for a command in the single-id mode or
// not (doctor runs on the host, and says what the next command would get).
func storeOptionsFor(c *cli.Context, single bool) (store.Options, error) {
	o, err := store.DefaultOptions(userns.HostUID(), single)
	o.Single = single
	if err != nil && c.String("root") == "" {
		return o, err
	}
	if v := c.String("root"); v != "" {
		o.GraphRoot = v
	}
	if v := c.String("runroot"); v != "" {
		o.RunRoot = v
	}
	o.Driver = c.String("storage-driver")
	o.DriverOpts, o.Reserve, err = store.SplitStorageOpts(c.StringSlice("storage-opt"))
	return o, err
}

// logLevels are the --log-level values, Podman's.
var logLevels = []string{"trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"}

func setLogLevel(level string) error {
	l, err := logrus.ParseLevel(level)
	if err != nil || !slices.Contains(logLevels, level) {
		return fmt.Errorf("log level %q is not supported, choose from: %s", level, strings.Join(logLevels, ", "))
	}
	logrus.SetLevel(l)
	return nil
}
