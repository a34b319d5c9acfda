// Package run starts a container and supervises it.
//
// A run is three calls (run.go, start.go, supervise.go):
//
//	Prepare(ctx, store, Options) (*Container, error)
//	        checks the options into a spec.Spec, finds (or pulls) the
//	        image, makes the run dir (package state) and, for a kept
//	        container, its storage container
//	(*Container).Start(Stdio, Hooks) (*Process, error)
//	        mounts the root filesystem and starts the command through
//	        package spawn; Hooks.Created runs with the container's pid
//	        between "namespaces made" and "exec" (networking, cgroups
//	        plug in there, so run/ never imports them)
//	Supervise(*Process) (exit code, error)
//	        forwards signals, copies the terminal, waits, and meanwhile
//	        writes the resolved spec into the run dir
//	(*Container).Close()
//	        undoes what the run made
//
// The foreground `run` (Run) makes all of them in one process, the
// measured fast path; a detached one (Detach) execs a monitor in place
// once it started. A kept container's spec, as Prepare decided it, is
// saved beside its storage container: Create (`create`) stops there, and
// PrepareStart (`start`, `restart`) prepares another run of it from that
// spec on the same writable layer, started as Prepare's. Exec (exec.go) starts a process in a running
// container the same way, through package spawn and Supervise, with ops
// that enter the container's namespaces instead of making new ones. What
// other commands ask of a container Lookup found is beside it: its spec,
// rename and prune (inspect.go), its processes (top.go), and copies in and
// out that resolve every path inside its root (cp.go). Every error
// returned is an *ExitError with the code crun-lite exits with.
// Output goes only where Stdio says.
//
// The packages below run/ each own one thing: spec (what a container is,
// resolved from options and image), spawn (the child process and its
// operations), state (run dirs, garbage collection, what is in use),
// doctor (host diagnostics, for `crun-lite doctor`). None imports run or
// another of them but spawn (state uses spawn's detached rm).
//
// # Design
//
// The start path (`crun-lite run --rm IMAGE true`, the image stored) is
// the reason for most choices here: the goal is crun's time to run a
// prepared bundle (~9 ms on the test machines). The candidate designs were
// measured there first: rootlesskit's parent/child took 43 ms, a
// containers/storage container created and deleted per run 20 ms, what is
// described here 8-9 ms.
//
// Processes. The crun-lite process is the monitor. It is already root in
// the user's namespace when main runs (package userns joins the holder
// before the Go runtime starts), decides everything in Go (mounts, user,
// capabilities, seccomp, environment), and stays outside the container's
// namespaces to wait for it, forward signals, copy the terminal and report
// its exit code: pivot_root re-roots every process of a mount namespace, so
// the process that waits and cleans up must not share the container's.
//
// The container's first process is cloned by package spawn (spawn.c) in
// new mount, pid, uts and ipc namespaces (and net with --network none), with
// CLONE_VM: it shares the monitor's memory until it execs, like vfork, so no
// page tables are copied (about a millisecond for a Go process). It never
// runs Go code: it interprets lists of operations built in Go (spawn/ops.go),
// then execs the command. Go cannot run code between fork and exec, and the
// usual way out, re-executing the binary as an "init" (runc's nsexec),
// costs a second Go start, about 5 ms. There is none here: one Go start
// per run, the monitor's. The handshake of the two, drawn in spawn/ops.go, has
// two batches because the user is resolved from the image's /etc/passwd,
// readable only once the root filesystem is mounted; errors come back as
// messages naming the op, and the monitor prints them once.
//
// Root filesystem. A --rm run on overlay mounts the image's layer dirs
// directly, with a throwaway upper dir in its run dir, holding
// containers/storage's own read locks on layers and images from the lookup
// until the child reports the mount made (store.ForRun): a concurrent pull
// or rmi waits for them, so no layer goes away in between, and no storage
// container is made and deleted (4 ms). Native overlay is mounted by the
// child in the container's mount namespace and goes with it: no unmount,
// which costs up to 16 ms without overlay's volatile option.
// fuse-overlayfs is mounted by the monitor in the holder's mount namespace,
// so that its daemon stays out of the container's pid namespace. Kept
// containers (no --rm) and vfs stores use storage containers: the writable
// layer must outlive the run.
//
// Run cache. Resolving the image from the store costs about 2 ms, most of it
// opening containers/storage. The store remembers each answer, keyed by the
// last-write tokens storage keeps in its lock files (store/runcache.go), so
// a run of an unchanged store takes the read locks and never opens it.
//
// Run dirs and garbage collection. Each run has a dir in the store's
// RunsDir (package state): its lock file, flock'ed by the monitor for the whole
// run, holds what must be undone if the monitor dies. A mount made directly
// leaves no record in containers/storage, so cleaning up after a crash is
// ours: the next command that opens the store (state/gc.go) takes every unlocked
// run dir for a dead run's, unmounts what it recorded, marks its kept
// container exited and removes it. A run dir therefore only appears under
// its ID already locked. Removing even an empty run's dir costs about a
// millisecond on a journaled disk, so a finished run renames its dir into a
// trash that a detached rm empties while crun-lite exits.
//
// Lean and full binary. This package runs inside the lean crun-lite binary
// (cmd/crun-lite, tag lean), which links no containers/image transports:
// their package initialisation costs about 4 ms and 10 MiB per start.
// Pulling a missing image needs them, so Options.Pull is provided by the
// caller, which hands the pull to crun-lite-full.
//
// As real root nothing changes but the user namespace: there is none, and
// container ids are host ids.
package run
