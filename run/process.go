package run

import (
	"github.com/crun-lite/crun-lite/run/spawn"

	"fmt"
	"os"
	"strings"
)

// execOps builds the last batch: who the command runs as, where, with what
// environment and privileges. It runs after the root filesystem exists,
// because the user is resolved from the image's own /etc/passwd and
// /etc/group.
//
// The order matters: the bounding set is cut while we still hold
// CAP_SETPCAP; the seccomp filter is loaded while we still hold
// CAP_SYS_ADMIN (or no_new_privs is set), so it needs no_new_privs only when
// asked; credentials change with PR_SET_KEEPCAPS so that the final
// capability sets are set after, from what is left.
func (c *container) execOps(pid int, argv []string) (*spawn.List, error) {
	u, err := resolveUser(procRoot(pid), c.userSpec(), c.opts.GroupAdd)
	if err != nil {
		return nil, err
	}
	if err := c.chownVolumes(u); err != nil {
		return nil, err
	}
	wd := c.config.WorkingDir
	if c.opts.Workdir != "" {
		wd = c.opts.Workdir
	}
	if wd == "" {
		wd = "/"
	}
	var l spawn.List
	l.Chdir(wd, spawn.FlagMkdir) // created as root, like Podman, before dropping privileges
	// The terminal is given away before the switch into keep-id's user
	// namespace, so its owner is written in the holder's terms.
	ttyUID, ttyGID := c.hostIDs(int(u.UID), int(u.GID))
	c.stdio.execOps(&l, uint32(ttyUID), uint32(ttyGID))
	if c.keep != nil {
		l.SetnsUser(c.keep.nsFD)
	}
	set := capMask(c.cfg.caps)
	l.Bounding(set)
	if c.cfg.sec.noNewPrivs {
		l.NoNewPrivs()
	}
	if c.cfg.seccomp != nil {
		l.Seccomp(c.cfg.seccomp)
	}
	l.KeepCaps()
	c.setgroups(&l, u)
	l.Setgid(u.GID)
	l.Setuid(u.UID)
	if u.UID == 0 {
		// Inheritable stays empty, as in Podman and runc since
		// CVE-2022-27649: it survives a switch to another user (su,
		// setpriv), and exec of a program whose file carries inheritable
		// capabilities then raises them into that user's permitted set.
		l.Caps(spawn.CapSet{Effective: set, Permitted: set})
	} else {
		// A user other than root keeps no capability (the bounding set
		// still limits what setuid programs can gain).
		l.Caps(spawn.CapSet{})
	}
	if c.opts.Init {
		l.Init()
	}
	l.Exec(argv, c.env(u))
	return &l, nil
}

// userSpec is --user, else the kept host user for keep-id, else the image's.
func (c *container) userSpec() string {
	switch {
	case c.opts.User != "":
		return c.opts.User
	case c.keep != nil:
		return fmt.Sprint(c.keep.uid)
	}
	return c.config.User
}

// chownVolumes gives the sources of mounts marked U to the command's user.
func (c *container) chownVolumes(u *execUser) error {
	for _, m := range c.cfg.mounts {
		if !m.chown || m.kind == "tmpfs" {
			continue
		}
		uid, gid := c.hostIDs(int(u.UID), int(u.GID))
		if err := chownTree(m.source, uid, gid); err != nil {
			return fmt.Errorf("chown %s for the U option: %w", m.source, err)
		}
	}
	return nil
}

// setgroupsAllowed reports whether this user namespace lets us call
// setgroups (a namespace whose gid map was written without privilege says
// "deny"; real root has no such file).
func setgroupsAllowed() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err != nil || strings.TrimSpace(string(b)) == "allow"
}

// env is the image's environment, then --env-file and -e, with what a login
// would add when missing.
func (c *container) env(u *execUser) []string {
	env := mergeEnv(c.config.Env, c.cfg.env)
	setDefault := func(k, v string) {
		for _, e := range env {
			if strings.HasPrefix(e, k+"=") {
				return
			}
		}
		env = append(env, k+"="+v)
	}
	setDefault("PATH", defaultPath)
	if c.opts.TTY {
		t := os.Getenv("TERM")
		if t == "" {
			t = "xterm"
		}
		setDefault("TERM", t)
	}
	setDefault("HOSTNAME", c.hostname)
	setDefault("HOME", u.Home)
	if u.Name != "" {
		setDefault("USER", u.Name)
		setDefault("LOGNAME", u.Name)
	}
	return env
}
