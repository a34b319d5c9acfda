package run

import (
	"os"
	"strings"
)

// allCaps is every capability bit: the kernel ignores the ones it lacks.
const allCaps = ^uint64(0)

// execOps builds the last batch: who the command runs as, where, with what
// environment. It runs after the root filesystem exists, because the user
// is resolved from the image's own /etc/passwd and /etc/group.
func (c *container) execOps(pid int, argv []string) (*opList, error) {
	spec := c.opts.User
	if spec == "" {
		spec = c.config.User
	}
	u, err := resolveUser(procRoot(pid), spec, c.opts.GroupAdd)
	if err != nil {
		return nil, err
	}
	wd := c.config.WorkingDir
	if wd == "" {
		wd = "/"
	}
	var l opList
	l.chdir(wd, fMkdir) // created as root, like Podman, before dropping privileges
	c.stdio.execOps(&l, u)
	if setgroupsAllowed() {
		l.setgroups(u.Groups)
	}
	l.setgid(u.GID)
	l.setuid(u.UID)
	if u.UID != 0 {
		// setuid cleared the effective and permitted sets; the inheritable
		// and ambient ones must go too, or exec could hand them back.
		l.caps(capSet{Bounding: allCaps})
	}
	if c.opts.Init {
		l.init()
	}
	l.exec(argv, c.env(u))
	return &l, nil
}

// setgroupsAllowed reports whether this user namespace lets us call
// setgroups (a namespace whose gid map was written without privilege says
// "deny"; real root has no such file).
func setgroupsAllowed() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err != nil || strings.TrimSpace(string(b)) == "allow"
}

// env is the image's environment with what a login would add when missing.
func (c *container) env(u *execUser) []string {
	env := append([]string{}, c.config.Env...)
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
