package userns

import (
	"strconv"
	"strings"
	"testing"
)

// checkRange: a range crun-lite accepts names real host ids, and its end
// does not overflow.
func checkRange(t *testing.T, in string, r Range) {
	t.Helper()
	if r.Start < 0 || r.Count <= 0 || r.End() <= r.Start || r.End() > maxIDs {
		t.Fatalf("%q: range %+v (end %d) is not within the %d ids of a namespace", in, r, r.End(), maxIDs)
	}
}

func FuzzParseSubIDFile(f *testing.F) {
	f.Add("alice:100000:65536\nbob:165536:65536\n# comment\n1000:300000:10\nalice:bad:1\nalice:500000:0\n", "alice", 1000)
	f.Add("alice:4294901760:65535\n", "alice", 1000)
	f.Add("  alice:1:2  \r\nalice:-1:5\nalice:1:2:3\n", "alice", 1000)
	f.Add("1000:9223372036854775807:1\n", "", 1000)
	f.Add("a:1:4000000000\na:4000000001:294967294\n", "a", 1)
	f.Fuzz(func(t *testing.T, data, user string, uid int) {
		got := parseSubIDFile([]byte(data), user, uid)
		n := 0
		for _, l := range strings.Split(data, "\n") {
			f := strings.Split(strings.TrimSpace(l), ":")
			if len(f) == 3 && (f[0] == user || f[0] == strconv.Itoa(uid)) {
				n++
			}
		}
		if len(got) > n {
			t.Fatalf("%q: %d ranges from %d lines of %s/%d", data, len(got), n, user, uid)
		}
		for _, r := range got {
			checkRange(t, data, r)
		}
		// newuidmap's arguments: triples of numbers, container ids
		// contiguous from 0, within the namespace.
		args := MapArgs(uid, got)
		if len(args) > 3*(len(got)+1) || len(args)%3 != 0 {
			t.Fatalf("%q: %d map arguments for %d ranges", data, len(args), len(got))
		}
		next := 0
		for i := 0; i < len(args); i += 3 {
			inside, err1 := strconv.Atoi(args[i])
			count, err2 := strconv.Atoi(args[i+2])
			if err1 != nil || err2 != nil || inside != next || count <= 0 {
				t.Fatalf("%q: map arguments %q", data, args)
			}
			next += count
		}
		if next > maxIDs {
			t.Fatalf("%q: map arguments %q map %d ids, more than exist", data, args, next)
		}
	})
}

func FuzzParseGetsubids(f *testing.F) {
	f.Add("0: alice 100000 65536\n1: alice 300000 1000\n")
	f.Add("0: alice 100000\nx alice 1 2\n0: alice 4294967294 2\n")
	f.Add("0: alice 1 99999999999999999\n")
	f.Fuzz(func(t *testing.T, out string) {
		for _, r := range parseGetsubids([]byte(out)) {
			checkRange(t, out, r)
		}
	})
}

func FuzzParseOwners(f *testing.F) {
	f.Add("alice:100000:65536\nbob:165536:65536\n#x:1:2\n:1:2\n", 65536)
	f.Add("alice:4294900000:65536\n", 65536)
	f.Add("big:9223372036854775000:1000\n", 1)
	f.Fuzz(func(t *testing.T, data string, count int) {
		lines := parseOwners([]byte(data))
		for _, l := range lines {
			checkRange(t, data, l.Range)
			if l.Owner == "" || strings.HasPrefix(l.Owner, "#") || strings.Contains(l.Owner, ":") {
				t.Fatalf("%q: owner %q", data, l.Owner)
			}
		}
		if count <= 0 || count > 1<<24 {
			return
		}
		// What crun-lite proposes to add overlaps no existing line.
		free := freeRange(lines, count)
		if free.Count != count || free.Start < firstSubID {
			t.Fatalf("%q: free range %+v for %d ids", data, free, count)
		}
		for _, l := range lines {
			if free.overlaps(l.Range) {
				t.Fatalf("%q: free range %v overlaps %s's %v", data, free, l.Owner, l.Range)
			}
		}
	})
}
