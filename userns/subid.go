package userns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Range is a run of subordinate ids on the host: Start .. Start+Count-1.
type Range struct {
	Start, Count int
}

// Kind selects user or group ids.
type Kind int

// The two kinds of subordinate ids.
const (
	UIDs Kind = iota
	GIDs
)

func (k Kind) file() string {
	if k == GIDs {
		return "/etc/subgid"
	}
	return "/etc/subuid"
}

// ErrNoSubIDs means the user has no subordinate range of that kind.
var ErrNoSubIDs = errors.New("no subordinate id range")

// SubIDs returns every subordinate range the user owns. getsubids (shadow)
// is asked first because it also sees ranges served by NSS plugins; without
// it, /etc/subuid or /etc/subgid is read, where a line may name the user or
// their numeric uid.
func SubIDs(user string, uid int, kind Kind) ([]Range, error) {
	if path, err := exec.LookPath("getsubids"); err == nil {
		args := []string{user}
		if kind == GIDs {
			args = []string{"-g", user}
		}
		if out, err := exec.Command(path, args...).Output(); err == nil {
			if r := parseGetsubids(out); len(r) > 0 {
				return r, nil
			}
		}
	}
	data, err := os.ReadFile(kind.file())
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	r := parseSubIDFile(data, user, uid)
	if len(r) == 0 {
		return nil, fmt.Errorf("%w for %s in %s", ErrNoSubIDs, user, kind.file())
	}
	return r, nil
}

// parseSubIDFile reads lines "name-or-uid:start:count".
func parseSubIDFile(data []byte, user string, uid int) []Range {
	var out []Range
	id := strconv.Itoa(uid)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(f) != 3 || (f[0] != user && f[0] != id) {
			continue
		}
		if r, ok := makeRange(f[1], f[2]); ok {
			out = append(out, r)
		}
	}
	return out
}

// parseGetsubids reads getsubids output: "0: name start count" per range.
func parseGetsubids(out []byte) []Range {
	var r []Range
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		if rg, ok := makeRange(f[2], f[3]); ok {
			r = append(r, rg)
		}
	}
	return r
}

// maxIDs is how many ids exist: 0 .. 2^32-2, as (uid_t)-1 is no id.
const maxIDs = 1<<32 - 1

// makeRange reads a range's start and count; one reaching past the last
// id is malformed like a non-number (and Start+Count would overflow int).
func makeRange(start, count string) (Range, bool) {
	s, err1 := strconv.ParseUint(start, 10, 32)
	c, err2 := strconv.ParseUint(count, 10, 32)
	if err1 != nil || err2 != nil || c == 0 || s+c > maxIDs {
		return Range{}, false
	}
	return Range{int(s), int(c)}, true
}

// MapArgs returns the mapping arguments for newuidmap/newgidmap: container id
// 0 is the host id itself, and the subordinate ranges follow from 1 on, in
// order, so the namespace holds every id the user owns.
func MapArgs(hostID int, ranges []Range) []string {
	args := []string{"0", strconv.Itoa(hostID), "1"}
	next := 1
	for _, r := range ranges {
		// The namespace has room for maxIDs ids: the kernel refuses a
		// whole map that goes past it, so the last range is cut instead.
		n := min(r.Count, maxIDs-next)
		if n <= 0 {
			break
		}
		args = append(args, strconv.Itoa(next), strconv.Itoa(r.Start), strconv.Itoa(n))
		next += n
	}
	return args
}

// owners reads every line of /etc/subuid or /etc/subgid: owner (a name or a
// numeric uid) and range. A missing file has no lines.
func owners(kind Kind) ([]ownedRange, error) {
	data, err := os.ReadFile(kind.file())
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return parseOwners(data), nil
}

// ownedRange is one line of a subordinate id file.
type ownedRange struct {
	Owner string
	Range
}

func parseOwners(data []byte) []ownedRange {
	var out []ownedRange
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(f) != 3 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		if r, ok := makeRange(f[1], f[2]); ok {
			out = append(out, ownedRange{f[0], r})
		}
	}
	return out
}

// End returns the first id after the range.
func (r Range) End() int { return r.Start + r.Count }

func (r Range) String() string { return fmt.Sprintf("%d-%d", r.Start, r.End()-1) }

func (r Range) overlaps(o Range) bool { return r.Start < o.End() && o.Start < r.End() }

// firstSubID is where useradd starts allocating (SUB_UID_MIN in login.defs).
const firstSubID = 100000

// freeRange returns count ids that no line of either file uses: after every
// existing range, as useradd would allocate them, and the same for uids and
// gids so one usermod line can add both.
func freeRange(lines []ownedRange, count int) Range {
	start := firstSubID
	for _, l := range lines {
		start = max(start, l.End())
	}
	return Range{start, count}
}
