package run

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// top: the processes of a running container, as Podman's top shows them
// without running ps inside (its psgo): read from our /proc, which sees
// every process of the container's pid namespace, a child of ours. A
// process is the container's when its /proc/N/ns/pid is the container's;
// pids are shown as the container sees them (the last NSpid of
// /proc/N/status), users and groups by the names of the container's own
// /etc/passwd and /etc/group, read inside its root (readInRoot: the image
// is not trusted).

// TopDefault are the columns Podman's top shows without descriptors.
var TopDefault = []string{"user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args"}

// topHeaders are the descriptors top knows, with their headers (psgo's
// names); topAIX maps the AIX codes (%U ...) to them.
var (
	topHeaders = map[string]string{
		"user": "USER", "pid": "PID", "ppid": "PPID", "pcpu": "%CPU", "etime": "ELAPSED", "tty": "TTY",
		"time": "TIME", "args": "COMMAND", "comm": "COMMAND", "group": "GROUP", "ruser": "RUSER",
		"rgroup": "RGROUP", "pgid": "PGID", "nice": "NI", "vsz": "VSZ", "rss": "RSS", "state": "STATE",
		"hpid": "HPID", "huser": "HUSER",
	}
	topAIX = map[string]string{
		"%C": "pcpu", "%G": "group", "%P": "ppid", "%U": "user", "%a": "args", "%c": "comm", "%g": "rgroup",
		"%n": "nice", "%p": "pid", "%r": "pgid", "%t": "etime", "%u": "ruser", "%x": "time", "%y": "tty", "%z": "vsz",
	}
)

// topProc is one process of the container, read from /proc.
type topProc struct {
	hostPid, pid, ppid, pgid int
	uid, euid, gid, egid     int // in our user namespace
	hostUID                  int
	state                    string
	nice                     int
	tty                      uint64
	cpu                      time.Duration // user + system
	start                    time.Duration // after boot
	vsz, rss                 uint64        // KiB
	comm                     string
	args                     []string
}

// hostPids lists the container's processes by their pids here: those of
// its pid namespace (pause, top). via is one of them whose /proc links
// we may read.
func (in *Info) hostPids() (pids []int, via int, err error) {
	// With --init the container's pid 1 is crun-lite's init, not
	// dumpable: its ns links are closed to us, its child's are not.
	via = in.Pid
	var ns unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", via), &ns); err != nil {
		child, ok := firstChild(in.Pid)
		if !ok {
			return nil, 0, fmt.Errorf("the container's pid namespace: %w", err)
		}
		via = child
		if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", via), &ns); err != nil {
			return nil, 0, fmt.Errorf("the container's pid namespace: %w", err)
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, 0, err
	}
	for _, e := range entries {
		hp, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if hp != in.Pid {
			var st unix.Stat_t
			if unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", hp), &st) != nil || st.Ino != ns.Ino || st.Dev != ns.Dev {
				continue
			}
		}
		pids = append(pids, hp)
	}
	return pids, via, nil
}

// Top lists the container's processes with the columns descriptors name
// (ps's, Podman's: user, pid, args, %U, ...; none: TopDefault): the header
// first, then one row per process, by pid.
func (in *Info) Top(descriptors []string) ([][]string, error) {
	if !in.Running() {
		return nil, fmt.Errorf("top can only be used on running containers: %s is %s: %w", in.Name, in.Status, ErrRunning)
	}
	cols, err := topColumns(descriptors)
	if err != nil {
		return nil, err
	}
	hostPids, via, err := in.hostPids()
	if err != nil {
		return nil, err
	}
	root := procRoot(via)
	passwd, _ := readInRoot(root, "etc/passwd")
	group, _ := readInRoot(root, "etc/group")
	users, groups := idNames(passwd, true), idNames(group, false)
	// Its ids are ours unless it has a user namespace of its own
	// (keep-id), whose maps, read from outside, say what ours they are.
	var uidMap, gidMap []byte
	var mine, theirs unix.Stat_t
	if unix.Stat("/proc/self/ns/user", &mine) == nil && unix.Stat(fmt.Sprintf("/proc/%d/ns/user", via), &theirs) == nil && mine.Ino != theirs.Ino {
		uidMap, _ = os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", via))
		gidMap, _ = os.ReadFile(fmt.Sprintf("/proc/%d/gid_map", via))
	}

	var procs []*topProc
	byHost := map[int]*topProc{}
	for _, hp := range hostPids {
		p, ok := readProc(hp)
		if !ok {
			continue // gone meanwhile
		}
		procs = append(procs, p)
		byHost[hp] = p
	}
	for _, p := range procs {
		if parent, ok := byHost[p.ppid]; ok {
			p.ppid = parent.pid
		} else {
			p.ppid = 0 // its parent is outside: the monitor
		}
		p.hostUID = p.euid
		p.uid, p.euid = mapInside(uidMap, p.uid), mapInside(uidMap, p.euid)
		p.gid, p.egid = mapInside(gidMap, p.gid), mapInside(gidMap, p.egid)
	}
	sort.Slice(procs, func(i, j int) bool { return procs[i].pid < procs[j].pid })

	var now unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &now)
	uptime := time.Duration(now.Nano())
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = topHeaders[c]
	}
	out := [][]string{header}
	for _, p := range procs {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = p.column(c, uptime, users, groups)
		}
		out = append(out, row)
	}
	return out, nil
}

// topColumns checks the descriptors, which may come as one
// comma-separated argument or several.
func topColumns(descriptors []string) ([]string, error) {
	var cols []string
	for _, d := range descriptors {
		for _, f := range strings.FieldsFunc(d, func(r rune) bool { return r == ',' || r == ' ' }) {
			if c, ok := topAIX[f]; ok {
				f = c
			}
			if _, ok := topHeaders[f]; !ok {
				return nil, fmt.Errorf("unknown descriptor: %s: %w", f, ErrBadTop)
			}
			cols = append(cols, f)
		}
	}
	if len(cols) == 0 {
		return TopDefault, nil
	}
	return cols, nil
}

// ErrBadTop marks a descriptor top does not know.
var ErrBadTop = fmt.Errorf("bad top descriptor")

func (p *topProc) column(c string, uptime time.Duration, users, groups map[int]string) string {
	name := func(m map[int]string, id int) string {
		if n, ok := m[id]; ok {
			return n
		}
		return strconv.Itoa(id)
	}
	elapsed := uptime - p.start
	switch c {
	case "user":
		return name(users, p.euid)
	case "ruser":
		return name(users, p.uid)
	case "group":
		return name(groups, p.egid)
	case "rgroup":
		return name(groups, p.gid)
	case "huser":
		return strconv.Itoa(p.hostUID)
	case "pid":
		return strconv.Itoa(p.pid)
	case "hpid":
		return strconv.Itoa(p.hostPid)
	case "ppid":
		return strconv.Itoa(p.ppid)
	case "pgid":
		return strconv.Itoa(p.pgid)
	case "pcpu":
		pc := 0.0
		if elapsed > 0 {
			pc = 100 * float64(p.cpu) / float64(elapsed)
		}
		return fmt.Sprintf("%.3f", pc)
	case "etime":
		return elapsed.String()
	case "time":
		return p.cpu.String()
	case "tty":
		return ttyName(p.tty)
	case "nice":
		return strconv.Itoa(p.nice)
	case "vsz":
		return strconv.FormatUint(p.vsz, 10)
	case "rss":
		return strconv.FormatUint(p.rss, 10)
	case "state":
		return p.state
	case "comm":
		return p.comm
	}
	if len(p.args) == 0 { // a kernel thread or a zombie: ps shows [comm]
		return "[" + p.comm + "]"
	}
	return strings.Join(p.args, " ")
}

// clockTicks is USER_HZ, the unit of /proc/N/stat's times: 100 on every
// Linux architecture.
const clockTicks = 100

// readProc reads what top shows of process pid (in our pid namespace).
func readProc(pid int) (*topProc, bool) {
	base := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(base + "/stat")
	if err != nil {
		return nil, false
	}
	// pid (comm) state ppid pgrp session tty_nr ...: comm may hold
	// spaces and parentheses, so the fields start after the last ')'.
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return nil, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 22 {
		return nil, false
	}
	num := func(i int) uint64 { n, _ := strconv.ParseUint(f[i], 10, 64); return n }
	inum := func(i int) int { n, _ := strconv.Atoi(f[i]); return n }
	// f[0] is field 3 of proc(5): state.
	p := &topProc{
		hostPid: pid, pid: pid, comm: s[open+1 : end], state: f[0], ppid: inum(1), pgid: inum(2),
		tty: num(4), nice: inum(16),
		cpu:   time.Duration(num(11)+num(12)) * time.Second / clockTicks,
		start: time.Duration(num(19)) * time.Second / clockTicks,
		vsz:   num(20) / 1024,
	}
	status, err := os.ReadFile(base + "/status")
	if err != nil {
		return nil, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v4 := strings.Fields(v)
		switch k {
		case "NSpid":
			if len(v4) > 0 {
				p.pid, _ = strconv.Atoi(v4[len(v4)-1])
			}
		case "NSpgid":
			if len(v4) > 0 {
				p.pgid, _ = strconv.Atoi(v4[len(v4)-1])
			}
		case "Uid":
			if len(v4) >= 2 {
				p.uid, _ = strconv.Atoi(v4[0])
				p.euid, _ = strconv.Atoi(v4[1])
			}
		case "Gid":
			if len(v4) >= 2 {
				p.gid, _ = strconv.Atoi(v4[0])
				p.egid, _ = strconv.Atoi(v4[1])
			}
		case "VmRSS":
			if len(v4) > 0 {
				p.rss, _ = strconv.ParseUint(v4[0], 10, 64)
			}
		}
	}
	if cmd, err := os.ReadFile(base + "/cmdline"); err == nil && len(cmd) > 0 {
		p.args = strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
	}
	return p, true
}

// idNames maps the ids of an /etc/passwd (users) or /etc/group to their
// names; the first entry of an id wins, as in getpwuid.
func idNames(b []byte, users bool) map[int]string {
	m := map[int]string{}
	if b == nil {
		return m
	}
	if users {
		us, _ := user.ParsePasswd(reader(b))
		for _, u := range us {
			if _, ok := m[u.Uid]; !ok {
				m[u.Uid] = u.Name
			}
		}
		return m
	}
	gs, _ := user.ParseGroup(reader(b))
	for _, g := range gs {
		if _, ok := m[g.Gid]; !ok {
			m[g.Gid] = g.Name
		}
	}
	return m
}

// mapInside maps id of our user namespace to the container's by its
// uid_map or gid_map as we read it (inside, outside, count, in our terms):
// only keep-id's namespace differs from ours. An id it does not map is
// the overflow id, as the kernel shows it.
func mapInside(idMap []byte, id int) int {
	if len(idMap) == 0 {
		return id
	}
	for _, line := range strings.Split(string(idMap), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		in, e1 := strconv.Atoi(f[0])
		out, e2 := strconv.Atoi(f[1])
		n, e3 := strconv.Atoi(f[2])
		if e1 == nil && e2 == nil && e3 == nil && id >= out && id < out+n {
			return in + id - out
		}
	}
	return 65534
}

// ttyName names a controlling terminal from /proc/N/stat's tty_nr as ps
// does: pts/N, ttyN, or ? for none.
func ttyName(nr uint64) string {
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case nr == 0:
		return "?"
	case major >= 136 && major <= 143:
		return fmt.Sprintf("pts/%d", minor+(major-136)*256)
	case major == 4 && minor < 64:
		return fmt.Sprintf("tty%d", minor)
	case major == 5 && minor == 1:
		return "console"
	}
	return "?"
}
