package run

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/crun-lite/crun-lite/run/spec"
)

// TestMatchRef: a ref names a container by full ID, name (its --name, or
// its short ID without one) or unique ID prefix; a full ID or name wins
// over a prefix; an ambiguous prefix is an error.
func TestMatchRef(t *testing.T) {
	kept := &Info{ID: "abc1" + strings.Repeat("1", 60), Name: "web"}
	unnamed := &Info{ID: "abd2" + strings.Repeat("2", 60), Name: "abd2" + strings.Repeat("2", 8)}
	rm := &Info{ID: "f00d" + strings.Repeat("3", 60), Name: "f00d" + strings.Repeat("3", 8)}
	prefixName := &Info{ID: "9999" + strings.Repeat("4", 60), Name: "abc1"}
	cs := []*Info{kept, unnamed, rm, prefixName}
	for _, c := range []struct {
		ref  string
		want *Info // nil: no such container
		err  bool  // another error
	}{
		{"web", kept, false},
		{kept.ID, kept, false},
		{"abc", kept, false},
		{"abc1", prefixName, false}, // a name beats an ID prefix
		{unnamed.ID[:12], unnamed, false},
		{"abd", unnamed, false},
		{"f00d", rm, false},
		{rm.ID, rm, false},
		{"ab", nil, true},
		{"nosuch", nil, false},
	} {
		got, err := matchRef(slices.Clone(cs), c.ref)
		switch {
		case c.err:
			if err == nil || errors.Is(err, ErrNoSuchContainer) {
				t.Errorf("%q: got %v, %v; want an ambiguity error", c.ref, got, err)
			}
		case c.want == nil:
			if !errors.Is(err, ErrNoSuchContainer) {
				t.Errorf("%q: got %v, %v; want no such container", c.ref, got, err)
			}
		case got != c.want || err != nil:
			t.Errorf("%q: got %v, %v; want %s", c.ref, got, err, c.want.ID)
		}
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
