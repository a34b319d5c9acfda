package run

// FuzzResolveUser: the run package's parser of the image's user files.
// `go test` runs its seeds; `make fuzz` explores. The options' parsers'
// targets are in run/spec.

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/sys/user"
)

// FuzzResolveUser resolves a --user against generated /etc/passwd and
// /etc/group files.
func FuzzResolveUser(f *testing.F) {
	f.Add(testPasswd, testGroup, "user", "")
	f.Add(testPasswd, testGroup, "1000:29", "audio,4000")
	f.Add(testPasswd, testGroup, "app:staff", "staff")
	f.Add(testPasswd, testGroup, "4242", "")
	f.Add(testPasswd, testGroup, "nobody-here", "")
	f.Add("x:x:1:1::/home/x:/bin/sh\nx:x:2:2::/y:/bin/sh\n", "g:x:1:x,x\ng:x:1:x\n", "x", "g,1")
	f.Add("nohome:x:7:7:::\n", "", "nohome", "")
	f.Add("root:x:0:0:root:/root:/bin/sh\n", "root:x:0:\n", "2147483648", "")
	f.Add("#comment\n\n:::::\nbad:line\n", "::\n:x:-1:\n", "0:0", "-1")
	root := f.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, passwd, group, spec, groupAdd string) {
		for name, content := range map[string]string{"passwd": passwd, "group": group} {
			if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var extra []string
		if groupAdd != "" {
			extra = strings.Split(groupAdd, ",")
		}
		u, err := resolveUser(root, spec, extra)
		uidPart, gidPart, hasGroup := strings.Cut(spec, ":")
		uid, uidErr := strconv.ParseUint(uidPart, 10, 31)
		gid, gidErr := strconv.ParseUint(gidPart, 10, 31)
		if err != nil {
			if !errors.Is(err, ErrBadUser) {
				t.Fatalf("%q: error %v is not an ErrBadUser", spec, err)
			}
			// A numeric uid (and gid) needs no entry: only --group-add
			// names may fail then.
			if uidErr == nil && (!hasGroup || gidErr == nil) && len(extra) == 0 {
				t.Fatalf("%q: numeric ids refused: %v", spec, err)
			}
			return
		}
		if uidErr == nil && u.UID != uint32(uid) {
			t.Fatalf("%q: uid %d", spec, u.UID)
		}
		if hasGroup && gidErr == nil && u.GID != uint32(gid) {
			t.Fatalf("%q: gid %d", spec, u.GID)
		}
		if u.Home == "" {
			t.Fatalf("%q: empty HOME", spec)
		}
		// The name, if any, is the one of an entry with that uid.
		if u.Name != "" {
			users, _ := user.ParsePasswdFilter(strings.NewReader(passwd), func(p user.User) bool { return p.Name == u.Name && p.Uid == int(u.UID) })
			if len(users) == 0 {
				t.Fatalf("%q: name %q has no passwd entry with uid %d", spec, u.Name, u.UID)
			}
		}
		// Numeric --group-add ids are all there.
		for _, g := range extra {
			if n, err := strconv.ParseUint(g, 10, 31); err == nil && !slices.Contains(u.Groups, uint32(n)) {
				t.Fatalf("%q --group-add %q: groups %v lack %d", spec, groupAdd, u.Groups, n)
			}
		}
	})
}
