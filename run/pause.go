package run

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// pause and unpause without a cgroup freezer.
//
// Podman pauses through the cgroup freezer, which a rootless user has only
// where systemd delegates a cgroup (not on these cgroup v1 machines:
// Podman 4.3 refuses, "can not pause containers on rootless containers
// with cgroup V1"). crun-lite stops every process of the container with
// SIGSTOP instead, which needs nothing: the container's pid namespace is a
// child of ours, so even its pid 1 takes the SIGSTOP and SIGCONT we send.
// Parents are stopped before their children (by start time) and continued
// after them, so that a shell never sees its foreground job stop and takes
// the terminal back; a process that forks meanwhile is caught by the next
// round, until every one is stopped. What a program can see of it: a
// SIGCONT handler runs on unpause, and a parent waiting with WCONTINUED
// sees its children continued.

// pausedFile marks a paused container in its run dir: the monitor knows
// nothing of it, and it goes with the run.
const pausedFile = "paused"

func (in *Info) pausedPath() string { return filepath.Join(in.run.Dir, pausedFile) }

// Paused reports whether the container was paused and not unpaused.
func (in *Info) Paused() bool {
	if !in.hasRun || in.Status != "running" {
		return false
	}
	_, err := os.Stat(in.pausedPath())
	return err == nil
}

// Pause stops every process of the running container.
func (in *Info) Pause() error {
	if !in.Running() {
		return fmt.Errorf("%q is not running, can't pause: %w", in.Name, ErrRunning)
	}
	if in.Paused() {
		return fmt.Errorf("%q is already paused: %w", in.Name, ErrRunning)
	}
	if err := os.WriteFile(in.pausedPath(), nil, 0o600); err != nil {
		return fmt.Errorf("pause %s: %w", in.Name, err)
	}
	for round := 0; round < 1000; round++ {
		procs, err := in.byStart()
		if err != nil {
			_ = in.signalAll(unix.SIGCONT)
			_ = os.Remove(in.pausedPath())
			return fmt.Errorf("pause %s: %w", in.Name, err)
		}
		running := 0
		for _, p := range procs {
			if p.state != "T" && p.state != "t" && p.state != "Z" && p.state != "X" {
				running++
				_ = unix.Kill(p.hostPid, unix.SIGSTOP)
			}
		}
		if running == 0 {
			return nil
		}
		time.Sleep(time.Millisecond) // a stop takes effect when the process next runs
	}
	_ = in.Unpause()
	return fmt.Errorf("pause %s: its processes did not all stop", in.Name)
}

// Unpause continues every process of the paused container, children first.
func (in *Info) Unpause() error {
	if !in.Paused() {
		return fmt.Errorf("%q is not paused, can't unpause: %w", in.Name, ErrRunning)
	}
	err := in.signalAll(unix.SIGCONT)
	_ = os.Remove(in.pausedPath())
	return err
}

// continueAfter lets a paused container take the signal just sent to it
// (stop, kill): stopped, it would hold it pending for ever.
func (in *Info) continueAfter() {
	if in.Paused() {
		_ = in.Unpause()
	}
}

func (in *Info) signalAll(sig unix.Signal) error {
	procs, err := in.byStart()
	if err != nil {
		return err
	}
	for i := len(procs) - 1; i >= 0; i-- {
		_ = unix.Kill(procs[i].hostPid, sig)
	}
	return nil
}

// byStart lists the container's processes, oldest first.
func (in *Info) byStart() ([]*topProc, error) {
	pids, _, err := in.hostPids()
	if err != nil {
		return nil, err
	}
	var procs []*topProc
	for _, hp := range pids {
		if p, ok := readProc(hp); ok {
			procs = append(procs, p)
		}
	}
	sort.SliceStable(procs, func(i, j int) bool {
		if procs[i].start != procs[j].start {
			return procs[i].start < procs[j].start
		}
		return procs[i].hostPid < procs[j].hostPid
	})
	return procs, nil
}
