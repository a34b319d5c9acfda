package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/crun-lite/crun-lite/run/network"
	"github.com/crun-lite/crun-lite/userns"
)

// startNetworkHub starts the user's network hub (crun-lite-full
// network-hub) in a session of its own, and waits until it listens or
// says why it cannot.
func startNetworkHub() error {
	bin, err := hubBinary()
	if err != nil {
		return err
	}
	uid := userns.HostUID()
	if err := network.MkDir(uid); err != nil {
		return fmt.Errorf("make %s: %w", network.Dir(uid), err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(bin, "network-hub")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start the network hub: %w", err)
	}
	w.Close()
	go func() { _ = cmd.Wait() }() // the hub's first process exits once it listens
	line, _ := bufio.NewReader(r).ReadString('\n')
	if line = strings.TrimSpace(line); line != "ok" {
		if line == "" {
			line = "it exited (see " + network.HubLog(uid) + ")"
		}
		return fmt.Errorf("start the network hub: %s", line)
	}
	return nil
}
