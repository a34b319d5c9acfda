package userns

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/internal/hostcheck"
)

// These checks run on the host, outside the namespace (crun-lite doctor is
// never joined to it, see nsjoin.c), and call the same functions that
// creating the holder calls, so a check and the error of a failing command
// name the same cause and fix.

// MinSubIDs is the number of subordinate ids images expect: their files may
// belong to any id below 65536 (nobody is 65534).
const MinSubIDs = 65536

func (k Kind) word() string {
	if k == GIDs {
		return "gid"
	}
	return "uid"
}

// UserName returns the login name of a host uid: subordinate ids are
// assigned by name.
func UserName(uid int) (string, error) { return userName(uid) }

// SubIDFix returns the command that gives a user the subordinate ids they
// lack (uids, gids, or both when they have neither or all is well), from a
// range no line of /etc/subuid or /etc/subgid uses.
func SubIDFix(name string, uid int) string {
	var missing []Kind
	for _, k := range []Kind{UIDs, GIDs} {
		if _, err := SubIDs(name, uid, k); err != nil {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		missing = []Kind{UIDs, GIDs}
	}
	return addSubIDsFix(name, missing)
}

// addSubIDsFix is the usermod line that gives name MinSubIDs more ids of
// each kind, from a range that no line of either file uses.
func addSubIDsFix(name string, kinds []Kind) string {
	var lines []ownedRange
	for _, k := range []Kind{UIDs, GIDs} {
		l, _ := owners(k)
		lines = append(lines, l...)
	}
	r := freeRange(lines, MinSubIDs)
	cmd := "sudo usermod"
	for _, k := range kinds {
		cmd += fmt.Sprintf(" --add-sub%ss %s", k.word(), r)
	}
	return cmd + " " + name
}

// CheckSubIDs checks the user's subordinate uids or gids: present, at least
// MinSubIDs of them, and shared with no other user.
func CheckSubIDs(name string, uid int, kind Kind) hostcheck.Check {
	c := hostcheck.Check{ID: "sub" + kind.word(), Title: "subordinate " + kind.word() + "s"}
	ranges, err := SubIDs(name, uid, kind)
	if err != nil {
		c.Status, c.Message, c.Fix = hostcheck.Problem, err.Error(), SubIDFix(name, uid)
		return c
	}
	total := 0
	var list []string
	for _, r := range ranges {
		total += r.Count
		list = append(list, r.String())
	}
	c.Status = hostcheck.OK
	c.Message = fmt.Sprintf("%s has %d %ss: %s", name, total, kind.word(), strings.Join(list, ", "))
	if total < MinSubIDs {
		c.Status = hostcheck.Warning
		c.Message += fmt.Sprintf("; images with files owned by ids at or above %d cannot be used", total+1)
		c.Fix = addSubIDsFix(name, []Kind{kind}) // only what is short
		return c
	}
	if o, mine, ok := overlap(name, uid, kind, ranges); ok {
		c.Status = hostcheck.Warning
		c.Message = fmt.Sprintf("%s's %ss %s overlap %s's %s in %s: each user's containers can read and write the other's files",
			name, kind.word(), mine, o.Owner, o.Range, kind.file())
		others, _ := owners(UIDs)
		more, _ := owners(GIDs)
		c.Fix = fmt.Sprintf("sudo usermod --del-sub%ss %s --add-sub%ss %s %s",
			kind.word(), mine, kind.word(), freeRange(append(others, more...), mine.Count), name)
	}
	return c
}

// overlap finds a line of another user that shares ids with one of ranges.
func overlap(name string, uid int, kind Kind, ranges []Range) (ownedRange, Range, bool) {
	lines, _ := owners(kind)
	for _, l := range lines {
		if l.Owner == name || l.Owner == strconv.Itoa(uid) {
			continue
		}
		for _, r := range ranges {
			if r.overlaps(l.Range) {
				return l, r, true
			}
		}
	}
	return ownedRange{}, Range{}, false
}

// CheckMapTool checks that newuidmap or newgidmap exists and may write id maps.
func CheckMapTool(name string) hostcheck.Check {
	path, err := mapTool(name)
	if err != nil {
		return hostcheck.FromError(name, name, "", err)
	}
	_, how := Privileged(path, mapToolCaps[name])
	return hostcheck.FromError(name, name, path+" "+how, nil)
}

// CheckUserns grades whether the user may create a user namespace and mount
// in it, given the error of trying (nil when it worked).
func CheckUserns(tried error) hostcheck.Check {
	c := hostcheck.Check{ID: "userns", Title: "user namespaces"}
	cause, _ := UsernsBlocker()
	if tried == nil {
		c.Status, c.Message = hostcheck.OK, "an unprivileged user namespace can be created and mount file systems"
		if cause != "" {
			c.Message += " (" + cause + ", but not for crun-lite)"
		}
		return c
	}
	err := DiagnoseUserns(tried)
	c.Status, c.Message, c.Fix = hostcheck.Problem, err.Error(), hint.Of(err)
	return c
}

// CheckNesting reports whether crun-lite runs inside a container and, when
// that container is itself a user namespace, whether the user's subordinate
// ids are mapped in it: newuidmap can only hand out ids the outer namespace has.
func CheckNesting(name string, uid int) hostcheck.Check {
	c := hostcheck.Check{ID: "nested", Title: "container nesting", Status: hostcheck.OK, Message: "not inside a container"}
	where := Container()
	if where == "" {
		return c
	}
	c.Status = hostcheck.Info
	c.Message = "inside a container (" + where + "): rootless containers work only as far as the outer one allows user namespaces"
	inner := parseIDMap(readFile("/proc/self/uid_map"))
	if len(inner) == 0 {
		return c
	}
	ranges, _ := SubIDs(name, uid, UIDs)
	for _, r := range ranges {
		if !covered(r, inner) {
			c.Status = hostcheck.Problem
			c.Message = fmt.Sprintf("subordinate uids %s are not mapped in the user namespace crun-lite runs in (%s)", r, describeMap(inner))
			c.Fix = "give the outer container more ids (e.g. podman run --userns=auto:size=200000), or give " + name + " a range inside its map in /etc/subuid and /etc/subgid"
			return c
		}
	}
	return c
}

// parseIDMap reads the "inside outside count" lines of an id map as ranges
// of ids as seen inside; the identity map of the host gives none.
func parseIDMap(m []byte) []Range {
	if identityMap(m) {
		return nil
	}
	var out []Range
	for _, line := range strings.Split(string(m), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			if r, ok := makeRange(f[0], f[2]); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

func covered(r Range, by []Range) bool {
	for _, b := range by {
		if r.Start >= b.Start && r.End() <= b.End() {
			return true
		}
	}
	return false
}

func describeMap(m []Range) string {
	var s []string
	for _, r := range m {
		s = append(s, r.String())
	}
	return "it maps " + strings.Join(s, ", ")
}

func readFile(p string) []byte {
	b, _ := os.ReadFile(p)
	return b
}

// CheckMode says which user namespace this user gets and why: the full
// mode, or the single-id mode (single.go), with the command an admin runs
// for the full mode. It also says when the namespace in use is not the one
// the host gives now (a subordinate id line added since).
func CheckMode(name string, uid int) hostcheck.Check {
	c := hostcheck.Check{ID: "mode", Title: "namespace mode"}
	full := FullModeError()
	single := SingleHolder()
	if full == nil {
		c.Status = hostcheck.OK
		c.Message = "full: container root is " + name + ", the other ids of a container are " + name + "'s subordinate ids"
		if single.Pid > 0 && !single.Chosen && HolderPid() == 0 {
			c.Status = hostcheck.Warning
			c.Message += fmt.Sprintf("; but the single-id namespace made before (pid %d) is still in use, and every command joins it", single.Pid)
			c.Fix = "stop its containers, then: crun-lite system migrate (the full mode has a store of its own: pull images again there)"
		}
		return c
	}
	c.Status = hostcheck.Warning
	c.Message = "single-id: " + strings.TrimSuffix(oneLine(full.Error()), ".") +
		"; containers run with one id, " + name + "'s: container root and every other user are " + name +
		", files are " + name + "'s, and calls that need other ids are faked"
	c.Fix = hint.Of(full)
	return c
}

// SingleModeWorks turns a check of what the full mode needs into a
// warning: without it, containers still run in the single-id mode.
func SingleModeWorks(c hostcheck.Check) hostcheck.Check {
	if c.Status == hostcheck.Problem {
		c.Status = hostcheck.Warning
		c.Message += " (containers run in the single-id mode)"
	}
	return c
}

// CheckHolder reports on the namespace holder: commands join it while it
// lives, so a fix to the ranges only takes effect once it is restarted.
func CheckHolder(name string, uid int) hostcheck.Check {
	c := hostcheck.Check{ID: "holder", Title: "namespace holder", Status: hostcheck.Info}
	pid := HolderPid()
	if pid == 0 {
		if s := SingleHolder(); s.Pid > 0 {
			how := "made for want of the full mode"
			if s.Chosen {
				how = "made with --userns=single"
			}
			c.Status, c.Message = hostcheck.OK, fmt.Sprintf("pid %d holds the single-id user namespace (%s), mapping 1 uid", s.Pid, how)
			return c
		}
		c.Message = "not running: the next crun-lite command creates it (pid file " + PidFile() + ")"
		return c
	}
	mapped := 0
	for _, r := range parseIDMap(readFile(fmt.Sprintf("/proc/%d/uid_map", pid))) {
		mapped += r.Count
	}
	c.Status, c.Message = hostcheck.OK, fmt.Sprintf("pid %d holds the user namespace, mapping %d uids", pid, mapped)
	want := 1
	ranges, _ := SubIDs(name, uid, UIDs)
	for _, r := range ranges {
		want += r.Count
	}
	if len(ranges) > 0 && mapped != want {
		c.Status = hostcheck.Warning
		c.Message += fmt.Sprintf("; /etc/subuid now gives %d: it was created before the ranges changed", want)
		c.Fix = fmt.Sprintf("stop your running containers, then kill %d (the next command starts a new one)", pid)
	}
	return c
}

// PrivateNamespace makes cmd run as root in a new user and mount namespace
// that maps only the caller's own uid and gid. That needs no newuidmap, so
// it tests what the kernel lets an unprivileged user do, whatever the
// subordinate ranges say. For real root only the mount namespace is new.
func PrivateNamespace(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	a := cmd.SysProcAttr
	a.Cloneflags |= syscall.CLONE_NEWNS
	if os.Geteuid() == 0 {
		return
	}
	a.Cloneflags |= syscall.CLONE_NEWUSER
	a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
	a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	a.GidMappingsEnableSetgroups = false
}
