package run

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/faults"
	"github.com/crun-lite/crun-lite/internal/timing"
	"github.com/crun-lite/crun-lite/run/spawn"
	"github.com/crun-lite/crun-lite/run/spec"
	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

// exec: a process started in a running container.
//
// The running container is found from the run dirs alone (Lookup, state.Runs:
// a live monitor holds each one's lock; its Record has the container's
// pid and start time, and the spec the monitor wrote), so the common case
// opens no storage; only a name nobody runs is looked up in the store, to
// tell "not running" from "no such container".
//
// The process is started like a container's first one, by package spawn
// (one Go start, the monitor's; see doc.go), but instead of new namespaces
// its ops enter the container's:
//
//	monitor (Go)                                  child (C, spawn.c), CLONE_VM
//	  open /proc/PID/ns/{ipc,uts,net,mnt,user,pid}
//	    (those that are not ours) and /proc/PID/root
//	  resolve -u in /proc/PID/root/etc/{passwd,group}
//	  clone: a helper setns()es pid, clones ----->
//	                                               setns ipc, uts, net, mnt; chroot to the root fd
//	                                               [-t: pty of the container's devpts, master sent, SYNC]
//	  [-t: size the pty like our terminal] -------->
//	                                               cwd, stdio, session, [setns user: keep-id]
//	                                               bounding, no_new_privs, seccomp, ids, caps
//	                                               execve(command)
//	  <-------------------------------------------- EOF
//	  wait4, forward signals, copy the terminal
//
// The user namespace is ours already (the constructor joined the holder;
// as real root there is none) unless the container runs in keep-id's,
// which is entered last, after the mounts' namespace, as run does. The
// pid namespace is entered by the clone itself: setns(CLONE_NEWPID) only
// moves the caller's future children. When the container's pid 1 exits,
// the kernel kills every process of its pid namespace, so an exec'd
// process dies with the container.
//
// While the child runs on our memory it is in the container's pid
// namespace, where the container's processes could ptrace it and so reach
// the monitor's memory: the monitor makes itself non-dumpable first
// (the flag belongs to the memory, shared with the child until execve).

// ExecOptions are what `crun-lite exec` asks.
type ExecOptions struct {
	Container string   // name, ID or ID prefix of a running container
	Command   []string // the program and its arguments

	Interactive bool // -i: our stdin is the command's
	TTY         bool // -t: the command gets a terminal of its own
	Detach      bool // -d: start the command and return
	// Monitor: start it under a monitor and hand our waiting parent
	// (userns/detach.c, exec -it on a terminal) a connection to it, so
	// that the detach keys can leave it running (execmonitor.go).
	Monitor bool

	User       string   // -u USER[:GROUP]; "" is the container's user
	Env        []string // -e NAME=VALUE or NAME, over the container's environment
	EnvFiles   []string // --env-file, before -e
	Workdir    string   // -w; "" is the container's working directory
	Privileged bool     // every capability of the namespace, no seccomp filter

	Timing *timing.Recorder
}

// Exec runs o.Command in a running container and returns like Run: nil
// when it exited 0, else an *ExitError. With o.Detach it returns as soon as
// the command runs.
func Exec(st *store.Store, o ExecOptions, io Stdio) error {
	p, err := StartExec(st, o, io)
	if err != nil || p == nil {
		return err
	}
	return superviseToExit(p)
}

// StartExec starts o.Command in a running container. The Process it
// returns is for Supervise (nil with o.Detach: nobody waits for it), with
// the same thread rule as Start.
func StartExec(st *store.Store, o ExecOptions, io Stdio) (*Process, error) {
	p, err := startExec(st, o, io)
	return p, coded(err)
}

func startExec(st *store.Store, o ExecOptions, io Stdio) (*Process, error) {
	t := o.Timing
	if len(o.Command) == 0 {
		return nil, spec.BadOption("exec needs a COMMAND to run in the container")
	}
	if o.Detach && (o.TTY || o.Interactive) {
		return nil, spec.BadOption("exec -d cannot be combined with -i or -t: nothing would stay to copy the terminal or stdin")
	}
	run, s, err := findRunning(st, o.Container)
	if err != nil {
		return nil, err
	}
	t.Mark("container lookup")
	pid := run.Record.Pid
	// With --init the container's pid 1 is crun-lite's init, a copy of its
	// monitor that never exec'd: not dumpable, so its /proc/PID/ns and
	// root are closed to us (and rightly: its memory is the monitor's).
	// The command, its child, shares all its namespaces.
	via := pid
	if s.Process.Init {
		if child, ok := firstChild(pid); ok {
			via = child
		}
	}

	// The process: the container's, changed by exec's flags.
	c := &Container{Spec: s, opts: Options{Timing: t}, st: st}
	p := &s.Process
	p.Args, p.Terminal, p.Interactive, p.Init, p.PreserveFDs = o.Command, o.TTY, o.Interactive, false, 0
	if p.Env, err = spec.ExecEnv(p.Env, o.EnvFiles, o.Env); err != nil {
		return nil, err
	}
	if o.TTY && !hasEnv(p.Env, "TERM") {
		p.Env = append(p.Env, "TERM="+termOrXterm())
	}
	u := p.User
	if o.User != "" || u == nil {
		userSpec := o.User
		if userSpec == "" {
			userSpec = p.UserSpec
		}
		eu, err := resolveUser(procRoot(via), userSpec, nil)
		if err != nil {
			return nil, err
		}
		nu := &spec.User{UID: eu.UID, GID: eu.GID, Groups: eu.Groups, Home: eu.Home, Name: eu.Name}
		p.Env = userEnv(p.Env, u, nu, o)
		u = nu
	}
	if o.Workdir != "" {
		p.Cwd = o.Workdir
	}
	if o.Privileged {
		p.Caps, p.Seccomp = spec.AllCaps(), nil
		if userns.Single() {
			if p.Seccomp, err = spec.EmulationFilter(st.RunRoot()); err != nil {
				return nil, err
			}
		}
	}
	t.Mark("process")

	ns, err := openNamespaces(via, s.KeepID != nil)
	if err != nil {
		return nil, err
	}
	defer ns.close()
	if run.Record.PidStart != userns.ProcStartTime(pid) {
		return nil, notRunning()
	}

	if o.Detach {
		c.stdio = newStdio(false, false, Stdio{})
	} else if o.Monitor {
		c.stdio = newStdio(o.TTY, o.Interactive, Stdio{Detached: true})
	} else {
		c.stdio = newStdio(o.TTY, o.Interactive, io)
	}
	first := spawn.List{Timing: t != nil}
	if err := c.stdio.prepare(&first); err != nil {
		c.stdio.finish()
		return nil, err
	}
	first.CloseFDs(0, ns.keep()...)
	for _, n := range ns.join {
		first.Setns(n.fd, n.typ, n.name)
	}
	first.Chroot(ns.root)
	if o.TTY {
		first.OpenExecPty()
		first.Sync()
	}
	last := &first
	var second spawn.List
	if o.TTY {
		last = &second
	}
	c.execProcessOps(last, u, via, ns.user, o.Detach)
	t.Mark("ops")

	// The child runs on our memory in the container's pid namespace until
	// it execs: none of the container's processes may ptrace it.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		c.stdio.finish()
		return nil, fmt.Errorf("make crun-lite non-dumpable: %w", err)
	}
	var proc *Process
	if !o.Detach && !o.Monitor {
		proc = &Process{c: c, fwd: catchSignals()}
	}
	runtime.LockOSThread() // the child's parent-death signal follows this thread
	fail := func(err error) (*Process, error) {
		if proc != nil {
			proc.end()
		} else {
			c.stdio.finish()
			runtime.UnlockOSThread()
		}
		return nil, err
	}
	ch, err := spawn.StartJoined(&first, ns.pid, o.Detach)
	if err != nil {
		return fail(err)
	}
	if proc != nil {
		proc.ch, proc.Pid = ch, ch.Pid
		proc.fwd.forwardTo(ch.Pid, s.StopTimeout)
		c.stdio.hangup = proc.fwd.hangup
	}
	if o.TTY {
		if err := ch.Next(); err != nil {
			ch.Kill()
			return fail(err)
		}
		c.stdio.started(ch.Master)
		if err := ch.Send(&second); err != nil {
			ch.Kill()
			return fail(err)
		}
	} else {
		c.stdio.started(nil)
	}
	if err := ch.Finish(); err != nil {
		_, _ = ch.Wait()
		return fail(err)
	}
	for _, pt := range ch.Times {
		t.MarkMono(pt.Phase, pt.NS)
	}
	t.Mark("exec")
	faults.At("exec:started")
	if o.Detach {
		ch.Release()
		runtime.UnlockOSThread()
		return nil, nil
	}
	if o.Monitor {
		err := c.execMonitor(run.Dir, ch.Pid)
		ch.Kill() // no monitor: nobody would reap it
		_, _ = ch.Wait()
		return fail(err)
	}
	return proc, nil
}

// execProcessOps adds what makes the exec'd process the container's: its
// working directory, stdio and session, then (in keep-id's user namespace,
// when the container has one) its user, capabilities, filter and command.
// The working directory must exist, as in Podman: exec creates nothing in
// a running container.
func (c *Container) execProcessOps(l *spawn.List, u *spec.User, pid, userNS int, detach bool) {
	p := &c.Spec.Process
	u = c.credUser(u)
	l.Chdir(p.Cwd, 0)
	ttyUID, ttyGID := u.UID, u.GID
	if userNS >= 0 {
		ttyUID = toOutside(pid, "uid_map", u.UID)
		ttyGID = toOutside(pid, "gid_map", u.GID)
	}
	if detach {
		for fd := 0; fd <= 2; fd++ {
			l.Open("/dev/null", fd)
		}
	}
	c.stdio.execOps(l, ttyUID, ttyGID)
	c.credentialOps(l, p, u, userNS)
	l.Exec(p.Args, p.Env)
}

// userEnv gives the environment the -u user's HOME (and USER and LOGNAME
// where the container's user had them set by run), as Podman does, unless
// exec's -e or --env-file set them.
func userEnv(env []string, old, u *spec.User, o ExecOptions) []string {
	set := func(k, v string) {
		if setByExec(k, o) {
			return
		}
		for i, e := range env {
			if strings.HasPrefix(e, k+"=") {
				if v == "" {
					env = append(env[:i:i], env[i+1:]...)
				} else {
					env[i] = k + "=" + v
				}
				return
			}
		}
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	set("HOME", u.Home)
	if old != nil && old.Name != "" {
		for _, k := range []string{"USER", "LOGNAME"} {
			if hasEnvValue(env, k, old.Name) {
				set(k, u.Name)
			}
		}
	} else if u.Name != "" {
		for _, k := range []string{"USER", "LOGNAME"} {
			if !hasEnv(env, k) {
				set(k, u.Name)
			}
		}
	}
	return env
}

// setByExec reports whether exec's own settings name k (-e K, -e K=V; an
// --env-file is not looked into: its lines were applied already and win
// only if they named k, which hasEnv cannot tell, so HOME from a file is
// replaced too).
func setByExec(k string, o ExecOptions) bool {
	for _, e := range o.Env {
		if name, _, _ := strings.Cut(e, "="); name == k {
			return true
		}
	}
	return false
}

func hasEnv(env []string, k string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, k+"=") {
			return true
		}
	}
	return false
}

func hasEnvValue(env []string, k, v string) bool {
	for _, e := range env {
		if e == k+"="+v {
			return true
		}
	}
	return false
}

func termOrXterm() string {
	if t := os.Getenv("TERM"); t != "" {
		return t
	}
	return "xterm"
}

// findRunning finds the running container ref names (Lookup: a full ID,
// a name, or one ID prefix) among the runs alone. A run that started a
// moment ago may not have written its pid and spec yet: the lookup waits
// for it a little. Only a ref no run answers to is looked up in the store,
// to tell "not running" from "no such container".
func findRunning(st *store.Store, ref string) (*state.Run, *spec.Spec, error) {
	if ref == "" {
		return nil, nil, spec.BadOption("exec needs a CONTAINER (name or ID)")
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		in, err := Lookup(st, ref, false)
		if err != nil && !errors.Is(err, ErrNoSuchContainer) {
			return nil, nil, err
		}
		if err == nil && in.Paused() {
			return nil, nil, fmt.Errorf("cannot exec into %s: it is paused (crun-lite unpause %s): %w", in.Name, in.Name, ErrRunning)
		}
		if err == nil && in.Status == "running" && in.run.Record.SpecPath != "" {
			s, err := spec.Read(in.run.Record.SpecPath)
			if err != nil {
				return nil, nil, fmt.Errorf("container %s: %w", shortID(in.ID), err)
			}
			return &in.run, s, nil
		}
		if err != nil || in.Status == "exited" || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond) // starting
	}
	if _, err := Lookup(st, ref, true); err != nil {
		return nil, nil, err
	}
	return nil, nil, notRunning()
}

func notRunning() error {
	return fmt.Errorf("can only create exec sessions on running containers: %w", ErrRunning)
}

// joinNS is a namespace of the container to enter.
type joinNS struct {
	fd   int
	typ  uintptr
	name string
}

// execNamespaces are the fds the exec'd process enters the container by,
// opened in the monitor; -1 where it shares ours.
type execNamespaces struct {
	join []joinNS // in the order entered: the mount namespace last
	root int      // /proc/PID/root
	user int      // keep-id's user namespace
	pid  int
	all  []int
}

// openNamespaces opens what the exec'd process enters: each namespace of
// the container's pid 1 that is not ours, and its root.
func openNamespaces(pid int, keepID bool) (*execNamespaces, error) {
	ns := &execNamespaces{root: -1, user: -1, pid: -1}
	open := func(path string, flags int) (int, error) {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		ns.all = append(ns.all, fd)
		return fd, nil
	}
	base := "/proc/" + strconv.Itoa(pid)
	differs := func(name string) (bool, error) {
		var mine, theirs unix.Stat_t
		if err := unix.Stat(base+"/ns/"+name, &theirs); err != nil {
			return false, err
		}
		if err := unix.Stat("/proc/self/ns/"+name, &mine); err != nil {
			return false, err
		}
		return mine.Ino != theirs.Ino || mine.Dev != theirs.Dev, nil
	}
	fail := func(err error) (*execNamespaces, error) {
		ns.close()
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("the container's process %d is gone: %w", pid, ErrRunning)
		}
		return nil, fmt.Errorf("open the container's namespaces: %w", err)
	}
	for _, n := range []struct {
		name string
		typ  uintptr
	}{{"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS}, {"net", unix.CLONE_NEWNET}, {"mnt", unix.CLONE_NEWNS}} {
		d, err := differs(n.name)
		if err != nil {
			return fail(err)
		}
		if !d {
			continue
		}
		fd, err := open(base+"/ns/"+n.name, unix.O_RDONLY)
		if err != nil {
			return fail(err)
		}
		what := map[string]string{"ipc": "IPC", "uts": "UTS", "net": "network", "mnt": "mount"}[n.name]
		ns.join = append(ns.join, joinNS{fd: fd, typ: n.typ, name: what})
	}
	var err error
	if ns.root, err = open(base+"/root", unix.O_PATH|unix.O_DIRECTORY); err != nil {
		return fail(err)
	}
	if d, err := differs("pid"); err != nil {
		return fail(err)
	} else if d {
		if ns.pid, err = open(base+"/ns/pid", unix.O_RDONLY); err != nil {
			return fail(err)
		}
	}
	if d, err := differs("user"); err != nil {
		return fail(err)
	} else if d || keepID {
		if ns.user, err = open(base+"/ns/user", unix.O_RDONLY); err != nil {
			return fail(err)
		}
	}
	return ns, nil
}

// keep lists the fds the child's ops use, which its CloseFDs must keep.
func (ns *execNamespaces) keep() []int {
	out := []int{ns.root}
	for _, n := range ns.join {
		out = append(out, n.fd)
	}
	if ns.user >= 0 {
		out = append(out, ns.user)
	}
	return out
}

func (ns *execNamespaces) close() {
	for _, fd := range ns.all {
		unix.Close(fd)
	}
	ns.all = nil
}

// firstChild returns a child of process pid, from its main thread's
// children (/proc/PID/task/PID/children).
func firstChild(pid int) (int, bool) {
	p := strconv.Itoa(pid)
	b, err := os.ReadFile("/proc/" + p + "/task/" + p + "/children")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	child, err := strconv.Atoi(f[0])
	return child, err == nil
}

// toOutside maps id of the container's user namespace (keep-id's) to ours,
// by its pid's map: /proc/PID/{uid,gid}_map as we read them is in our
// namespace's terms.
func toOutside(pid int, file string, id uint32) uint32 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
	if err != nil {
		return id
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		in, e1 := strconv.ParseUint(f[0], 10, 32)
		out, e2 := strconv.ParseUint(f[1], 10, 32)
		n, e3 := strconv.ParseUint(f[2], 10, 32)
		if e1 == nil && e2 == nil && e3 == nil && uint64(id) >= in && uint64(id) < in+n {
			return uint32(out + uint64(id) - in)
		}
	}
	return id
}
