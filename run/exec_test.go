package run

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crun-lite/crun-lite/run/spec"
	"github.com/crun-lite/crun-lite/run/state"
)

// liveRun makes a live run as state.LiveRuns reports it, with a spec file
// naming it name ("" for none).
func liveRun(t *testing.T, runID, container, name string) state.LiveRun {
	t.Helper()
	s := &spec.Spec{Version: spec.Version, ID: runID, Name: name}
	path := filepath.Join(t.TempDir(), "spec.json")
	if err := s.Write(path); err != nil {
		t.Fatal(err)
	}
	return state.LiveRun{ID: runID, Record: state.Record{Container: container, Pid: 42, SpecPath: path}}
}

// TestMatchRunning: a ref names a kept container by full ID, name (its
// --name, or its short ID without one) or unique ID prefix, and a --rm run
// by its run ID; a full ID or name wins over a prefix; an ambiguous prefix
// is an error; a run still starting (no spec yet) makes the lookup wait.
func TestMatchRunning(t *testing.T) {
	kept := liveRun(t, "r1"+strings.Repeat("0", 62), "abc1"+strings.Repeat("1", 60), "web")
	unnamed := liveRun(t, "r2"+strings.Repeat("0", 62), "abd2"+strings.Repeat("2", 60), "")
	rm := liveRun(t, "f00d"+strings.Repeat("3", 60), "", "")
	prefixName := liveRun(t, "r4"+strings.Repeat("0", 62), "9999"+strings.Repeat("4", 60), "abc1")
	runs := []state.LiveRun{kept, unnamed, rm, prefixName}
	for _, c := range []struct {
		ref, want string // want: the run ID, "" for no match, "error"
	}{
		{"web", kept.ID},
		{kept.Record.Container, kept.ID},
		{"abc", kept.ID},
		{"abc1", prefixName.ID}, // a name beats an ID prefix
		{unnamed.Record.Container[:12], unnamed.ID},
		{"abd", unnamed.ID},
		{"f00d", rm.ID},
		{rm.ID, rm.ID},
		{"ab", "error"},
		{"r1", ""}, // a kept container's run ID is not its ID
		{"nosuch", ""},
	} {
		r, s, starting, err := matchRunning(slices.Clone(runs), c.ref)
		got := ""
		switch {
		case err != nil:
			got = "error"
		case r != nil:
			got = r.ID
			if s == nil || s.ID != r.ID {
				t.Errorf("%q: the spec read is not the run's: %+v", c.ref, s)
			}
		}
		if got != c.want || starting {
			t.Errorf("%q: got %q (starting %v, err %v), want %q", c.ref, got, starting, err, c.want)
		}
	}
	young := state.LiveRun{ID: "new", Record: state.Record{Container: "cafe"}}
	if r, _, starting, err := matchRunning([]state.LiveRun{young}, "cafe"); r != nil || err != nil || !starting {
		t.Errorf("a run without its spec yet: got %v, %v, starting %v; want no match, starting", r, err, starting)
	}
}

// TestUserEnv: exec -u gives the environment the user's HOME, and the USER
// and LOGNAME run set for the container's user follow; -e wins.
func TestUserEnv(t *testing.T) {
	root := &spec.User{Name: "root", Home: "/root"}
	user := &spec.User{UID: 1000, Name: "user", Home: "/home/user"}
	nameless := &spec.User{UID: 1234, Home: "/"}
	base := []string{"PATH=/bin", "HOME=/root", "USER=root", "LOGNAME=root"}
	for _, c := range []struct {
		old, u *spec.User
		env    []string
		o      ExecOptions
		want   []string
	}{
		{root, user, base, ExecOptions{}, []string{"PATH=/bin", "HOME=/home/user", "USER=user", "LOGNAME=user"}},
		{root, nameless, base, ExecOptions{}, []string{"PATH=/bin", "HOME=/"}},
		{root, user, []string{"PATH=/bin", "HOME=/x", "USER=root", "LOGNAME=root"}, ExecOptions{Env: []string{"HOME=/x"}},
			[]string{"PATH=/bin", "HOME=/x", "USER=user", "LOGNAME=user"}},
		{root, user, []string{"PATH=/bin", "HOME=/root", "USER=me"}, ExecOptions{}, []string{"PATH=/bin", "HOME=/home/user", "USER=me"}},
		{nil, user, []string{"PATH=/bin"}, ExecOptions{}, []string{"PATH=/bin", "HOME=/home/user", "USER=user", "LOGNAME=user"}},
	} {
		got := userEnv(slices.Clone(c.env), c.old, c.u, c.o)
		if !slices.Equal(got, c.want) {
			t.Errorf("userEnv(%v, %+v -> %+v, -e %v) = %v, want %v", c.env, c.old, c.u, c.o.Env, got, c.want)
		}
	}
}
