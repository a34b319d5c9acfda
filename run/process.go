package run

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/crun-lite/crun-lite/run/spawn"
	"github.com/crun-lite/crun-lite/run/spec"
	"github.com/crun-lite/crun-lite/userns"
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
func (c *Container) execOps(pid int) (*spawn.List, error) {
	p := &c.Spec.Process
	extra := p.GroupAdd
	if p.KeepGroups {
		extra = nil
	}
	eu, err := resolveUser(procRoot(pid), p.UserSpec, extra)
	if err != nil {
		return nil, err
	}
	u := &spec.User{UID: eu.UID, GID: eu.GID, Groups: eu.Groups, Home: eu.Home, Name: eu.Name}
	c.Spec.SetUser(u)
	u = c.credUser(u)
	if err := c.chownVolumes(u); err != nil {
		return nil, err
	}
	var l spawn.List
	l.Chdir(p.Cwd, spawn.FlagMkdir) // created as root, like Podman, before dropping privileges
	// The terminal is given away before the switch into keep-id's user
	// namespace, so its owner is written in the holder's terms.
	ttyUID, ttyGID := c.hostIDs(int(u.UID), int(u.GID))
	c.stdio.execOps(&l, uint32(ttyUID), uint32(ttyGID))
	userNS := -1
	if c.keep != nil {
		userNS = c.keep.FD
	}
	c.credentialOps(&l, p, u, userNS)
	if p.Init {
		l.Init()
	}
	l.Exec(p.Args, p.Env)
	return &l, nil
}

// credentialOps adds who the command runs as and what it may do: into
// keep-id's user namespace (userNS, -1 for none), the bounding set,
// no_new_privs, the seccomp filter, groups, gid, uid and the final
// capabilities, in the order execOps explains. run's first process and
// exec's share it.
func (c *Container) credentialOps(l *spawn.List, p *spec.Process, u *spec.User, userNS int) {
	if userNS >= 0 {
		l.SetnsUser(userNS)
	}
	set := spec.CapMask(p.Caps)
	l.Bounding(set)
	if p.NoNewPrivs {
		l.NoNewPrivs()
	}
	if p.Seccomp != nil {
		l.Seccomp(p.Seccomp)
	}
	l.KeepCaps()
	if !p.KeepGroups {
		// With keep-groups, the process keeps the monitor's groups, the
		// caller's of the host; those not mapped in the user namespace
		// read as nogroup inside, but still open what they own.
		c.setgroups(l, u.Groups, u.GID)
	}
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
}

// credUser is who a process of user u runs as. In the single-id mode
// (userns.Single) the namespace has one id, the host user's, which is
// container root: every user of the image would be that same host user,
// so the process runs as container root, with u's HOME, USER and LOGNAME
// (SetUser and exec's userEnv set them), and crun-lite says so. The
// spec keeps u: inspect shows the user asked for.
func (c *Container) credUser(u *spec.User) *spec.User {
	if !userns.Single() {
		return u
	}
	if u.UID != 0 || u.GID != 0 {
		who := strconv.Itoa(int(u.UID))
		if u.Name != "" {
			who += " (" + u.Name + ")"
		}
		c.stdio.warnf("single-id mode: user %s runs as container root, with its HOME and USER: every user of the image is you", who)
	}
	return &spec.User{Home: u.Home, Name: u.Name}
}

// chownVolumes gives the sources of mounts marked U to the command's user.
func (c *Container) chownVolumes(u *spec.User) error {
	for _, m := range c.Spec.Mounts {
		if !m.Chown || m.Kind == "tmpfs" {
			continue
		}
		uid, gid := c.hostIDs(int(u.UID), int(u.GID))
		if err := chownTree(m.Source, uid, gid); err != nil {
			return fmt.Errorf("chown %s for the U option: %w", m.Source, err)
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
