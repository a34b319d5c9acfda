package spec

// Fuzz targets of the run options' parsers. `go test` runs their seeds;
// `make fuzz` (or `go test -run '^$' -fuzz '^FuzzName$' ./run/spec/`) explores.
// Each states properties of what a parser accepts, not only that it does
// not panic.

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// checkTarget: every accepted mount has an absolute, clean target that is
// not / itself.
func checkTarget(t *testing.T, spec string, m Mount) {
	t.Helper()
	if !filepath.IsAbs(m.Target) || filepath.Clean(m.Target) != m.Target || m.Target == "/" {
		t.Fatalf("%q: target %q is not an absolute clean path below /", spec, m.Target)
	}
}

// checkBadOption: a refused option is an ErrBadOption, which run reports
// as the user's mistake.
func checkBadOption(t *testing.T, spec string, err error) {
	t.Helper()
	if !errors.Is(err, ErrBadOption) {
		t.Fatalf("%q: error %v is not an ErrBadOption", spec, err)
	}
}

// comparable drops what parsing does not decide (set when the source is
// opened).
func comparable(m Mount) Mount {
	m.SourceIsDir = false
	return m
}

func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{
		"/src:/dst", "/src:/dst:ro", "./rel:/dst:rw,U", "vol:/data:Z", "vol:/data:ro,z,rbind",
		"/a:relative", "/a:/", "/a:/b/../c/./d/", "bad name:/x", ":/x", "/a:", "/a:/b:c:d",
		"/a:/b:bogus", ".:/..//x", "v_1.x-y:/m:U,ro,rw",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := parseVolume(spec)
		if err != nil {
			checkBadOption(t, spec, err)
			return
		}
		checkTarget(t, spec, m)
		switch m.Kind {
		case "bind":
			if !filepath.IsAbs(m.Source) || filepath.Clean(m.Source) != m.Source || m.Volume != "" {
				t.Fatalf("%q: bind source %q is not absolute and clean (volume %q)", spec, m.Source, m.Volume)
			}
		case "volume":
			if m.Volume != m.Source || !volumeName.MatchString(m.Volume) {
				t.Fatalf("%q: volume %q / source %q", spec, m.Volume, m.Source)
			}
		default:
			t.Fatalf("%q: kind %q", spec, m.Kind)
		}
		if !m.Create || m.Data != "" || m.Flags != 0 {
			t.Fatalf("%q: -v must create its source and carry no tmpfs data: %+v", spec, m)
		}
		// Written back in canonical form, it parses to the same mount.
		again := m.Source + ":" + m.Target
		var opts []string
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		if m.Chown {
			opts = append(opts, "U")
		}
		if len(opts) > 0 {
			again += ":" + strings.Join(opts, ",")
		}
		m2, err := parseVolume(again)
		if err != nil || !reflect.DeepEqual(comparable(m), comparable(m2)) {
			t.Fatalf("%q: round trip through %q: %+v, %v; want %+v", spec, again, m2, err, m)
		}
	})
}

func FuzzParseMount(f *testing.F) {
	for _, s := range []string{
		"type=bind,source=/src,target=/dst", "type=bind,src=.,dst=/x,ro", "type=bind,source=/a,destination=/b,readonly=false",
		"type=volume,source=data,target=/data,U", "type=volume,source=,target=/x",
		"type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1777", "type=tmpfs,dst=/t,ro=true",
		"type=tmpfs,target=/t,rw=false", "type=tmpfs,target=relative", "type=nfs,target=/x", "target=/x",
		"type=bind,target=/x", "type=bind,source=/a,target=/b,bind-propagation=rslave,z,consistency=delegated",
		"type=bind,source=/a,target=/b,chown=true,bogus=1", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := parseMount(spec)
		if err != nil {
			checkBadOption(t, spec, err)
			return
		}
		checkTarget(t, spec, m)
		if m.Create {
			t.Fatalf("%q: --mount must not create a missing source", spec)
		}
		parts := []string{"type=" + m.Kind, "target=" + m.Target}
		switch m.Kind {
		case "bind":
			if !filepath.IsAbs(m.Source) || filepath.Clean(m.Source) != m.Source {
				t.Fatalf("%q: bind source %q is not absolute and clean", spec, m.Source)
			}
			parts = append(parts, "source="+m.Source)
		case "volume":
			if m.Volume != m.Source || !volumeName.MatchString(m.Volume) {
				t.Fatalf("%q: volume %q / source %q", spec, m.Volume, m.Source)
			}
			parts = append(parts, "source="+m.Source)
		case "tmpfs":
			want := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
			if m.ReadOnly {
				want |= unix.MS_RDONLY
			}
			if m.Flags != want {
				t.Fatalf("%q: tmpfs flags %#x, want %#x (nosuid, nodev, ro as asked)", spec, m.Flags, want)
			}
			if m.Source != "" {
				parts = append(parts, "source="+m.Source)
			}
		default:
			t.Fatalf("%q: kind %q", spec, m.Kind)
		}
		if m.Data != "" {
			if m.Kind != "tmpfs" {
				// Accepted and ignored, as tmpfs-* keys on other mounts are.
				return
			}
			for _, o := range strings.Split(m.Data, ",") {
				k, v, _ := strings.Cut(o, "=")
				if k != "size" && k != "mode" {
					t.Fatalf("%q: tmpfs data %q holds %q", spec, m.Data, o)
				}
				parts = append(parts, "tmpfs-"+k+"="+v)
			}
		}
		if m.ReadOnly {
			parts = append(parts, "ro")
		}
		if m.Chown {
			parts = append(parts, "U")
		}
		again := strings.Join(parts, ",")
		m2, err := parseMount(again)
		if err != nil || !reflect.DeepEqual(comparable(m), comparable(m2)) {
			t.Fatalf("%q: round trip through %q: %+v, %v; want %+v", spec, again, m2, err, m)
		}
	})
}

func FuzzParseTmpfs(f *testing.F) {
	for _, s := range []string{
		"/t", "/t:", "/t:ro", "/t:rw,size=64m,mode=1777", "/t:exec,suid,dev", "/t:noexec,nosuid,nodev,uid=1,gid=2,nr_inodes=10",
		"relative", "/", "/t:bogus", "/a/../b/:size=1,,ro", "/t:exec,noexec",
	} {
		f.Add(s)
	}
	allowed := uintptr(unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_RDONLY)
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := parseTmpfs(spec)
		if err != nil {
			checkBadOption(t, spec, err)
			return
		}
		checkTarget(t, spec, m)
		if m.Kind != "tmpfs" || m.Source != "" || m.Flags&^allowed != 0 {
			t.Fatalf("%q: %+v", spec, m)
		}
		var opts []string
		if m.Data != "" {
			for _, o := range strings.Split(m.Data, ",") {
				k, _, ok := strings.Cut(o, "=")
				if !ok || !slices.Contains([]string{"size", "mode", "uid", "gid", "nr_inodes"}, k) {
					t.Fatalf("%q: tmpfs data %q holds %q", spec, m.Data, o)
				}
			}
			opts = append(opts, m.Data)
		}
		for _, fl := range []struct {
			name string
			bit  uintptr
		}{{"noexec", unix.MS_NOEXEC}, {"nosuid", unix.MS_NOSUID}, {"nodev", unix.MS_NODEV}} {
			if m.Flags&fl.bit == 0 {
				opts = append(opts, strings.TrimPrefix(fl.name, "no"))
			}
		}
		if m.Flags&unix.MS_RDONLY != 0 {
			opts = append(opts, "ro")
		}
		again := m.Target + ":" + strings.Join(opts, ",")
		m2, err := parseTmpfs(again)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("%q: round trip through %q: %+v, %v; want %+v", spec, again, m2, err, m)
		}
	})
}

func FuzzEnvFile(f *testing.F) {
	for _, s := range []string{
		"", "A=1\n", "# comment\nA=1\n\nB\n  C=spaced  \r\n", "A=1=2\nA=3", "=novalue\n#\n   # indented comment\n",
		"\xff\xfe=binary\n", "no newline at end",
	} {
		f.Add(s)
	}
	path := filepath.Join(f.TempDir(), "env")
	f.Fuzz(func(t *testing.T, content string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := envFile(path)
		if err != nil {
			// Refused: only a NUL byte or a line over 1 MiB, as the
			// user's mistake.
			checkBadOption(t, content, err)
			if !strings.ContainsRune(content, 0) && len(content) < maxEnvLine {
				t.Fatalf("%q: %v", content, err)
			}
			return
		}
		// Exactly the lines that are neither blank nor comments, trimmed,
		// in order.
		var want []string
		for _, l := range strings.FieldsFunc(content, func(r rune) bool { return r == '\n' }) {
			l = strings.TrimSpace(l)
			if l != "" && !strings.HasPrefix(l, "#") {
				want = append(want, l)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q: got %q, want %q", content, got, want)
		}
	})
}

func FuzzMergeEnv(f *testing.F) {
	f.Add("PATH=/bin\nHOME=/root", "HOME=/home\nNEW=1")
	f.Add("A=1\nA=2\nB", "A=3\nA=4")
	f.Add("", "FUZZ_SURELY_UNSET\nHOME")
	f.Add("X=1", "=empty\nX")
	f.Fuzz(func(t *testing.T, envs, sets string) {
		env := strings.Split(envs, "\n")
		settings := strings.Split(sets, "\n")
		out := mergeEnv(env, settings)
		// What each name must end up as: the last setting naming it, a bare
		// name taking the host's value or, when the host has none, changing
		// nothing.
		final := map[string]string{}
		for _, s := range settings {
			name, _, hasValue := strings.Cut(s, "=")
			if !hasValue {
				v, ok := os.LookupEnv(name)
				if !ok {
					continue
				}
				s = name + "=" + v
			}
			final[name] = s
		}
		if len(out) < len(env) {
			t.Fatalf("merge lost entries: %q over %q = %q", settings, env, out)
		}
		for i, e := range out {
			set := ""
			for name, s := range final {
				if strings.HasPrefix(e, name+"=") {
					set = s
				}
			}
			switch {
			case i < len(env) && set == "" && e != env[i]:
				t.Fatalf("entry %d %q changed to %q with no setting for it (%q)", i, env[i], e, settings)
			case set != "" && e != set:
				t.Fatalf("entry %d is %q, want the last setting %q", i, e, set)
			}
		}
		for name, s := range final {
			found := false
			for _, e := range out {
				found = found || e == s
			}
			if !found {
				t.Fatalf("setting %q of %s is missing from %q", s, name, out)
			}
		}
	})
}

func FuzzParseSecurityOpts(f *testing.F) {
	f.Add("no-new-privileges")
	f.Add("no-new-privileges=false\nseccomp=unconfined")
	f.Add("seccomp:/etc/profile.json\nlabel=disable\napparmor=unconfined")
	f.Add("mask=/a:/b\nunmask=ALL")
	f.Add("unmask=/proc/kcore:/sys/firmware\nseccomp")
	f.Add("bogus")
	f.Fuzz(func(t *testing.T, joined string) {
		opts := strings.Split(joined, "\n")
		s, err := parseSecurityOpts(opts)
		if err != nil {
			checkBadOption(t, joined, err)
			// Refused together exactly when one of them alone is refused.
			for _, o := range opts {
				if _, err := parseSecurityOpts([]string{o}); err != nil {
					return
				}
			}
			t.Fatalf("%q: refused together (%v), each accepted alone", opts, err)
		}
		var mask, unmask []string
		all := false
		for _, o := range opts {
			one, err := parseSecurityOpts([]string{o})
			if err != nil {
				t.Fatalf("%q: accepted together, %q alone is refused: %v", opts, o, err)
			}
			mask, unmask = append(mask, one.mask...), append(unmask, one.unmask...)
			all = all || one.unmaskedAll
		}
		if !slices.Equal(s.mask, mask) || !slices.Equal(s.unmask, unmask) || s.unmaskedAll != all {
			t.Fatalf("%q: masks %q/%q/%v, want each option's in order %q/%q/%v", opts, s.mask, s.unmask, s.unmaskedAll, mask, unmask, all)
		}
		if s.unmaskedAll != slices.Contains(s.unmask, "ALL") {
			t.Fatalf("%q: unmaskedAll %v with unmask %q", opts, s.unmaskedAll, s.unmask)
		}
	})
}

func FuzzParseUserns(f *testing.F) {
	for _, s := range []string{"", "default", "host", "keep-id", "keep-id:", "keep-id:uid=1000,gid=1000", "keep-id:uid=5",
		"keep-id:gid=-1", "keep-id:uid=x", "keep-id:size=2", "keep-idx", "auto", "keep-id:uid=+7,,gid=007", "single"} {
		f.Add(s, 1000, 1000)
	}
	f.Fuzz(func(t *testing.T, s string, hostUID, hostGID int) {
		k, err := parseUserns(s, hostUID, hostGID)
		if err != nil {
			checkBadOption(t, s, err)
			return
		}
		if k == nil {
			if s != "" && s != "default" && s != "single" {
				t.Fatalf("%q: accepted as the default namespace", s)
			}
			return
		}
		if !strings.HasPrefix(s, "keep-id") {
			t.Fatalf("%q: keep-id from %q", s, s)
		}
		if hostUID < 0 || hostGID < 0 {
			return // what the host ids are is not parseUserns's to check
		}
		if k.UID < 0 || k.GID < 0 {
			t.Fatalf("%q: negative ids %+v", s, k)
		}
		again := "keep-id:uid=" + strconv.Itoa(k.UID) + ",gid=" + strconv.Itoa(k.GID)
		if k2, err := parseUserns(again, 0, 0); err != nil || *k2 != *k {
			t.Fatalf("%q: round trip through %q: %+v, %v; want %+v", s, again, k2, err, k)
		}
	})
}

func FuzzParseEntrypoint(f *testing.F) {
	for _, s := range []string{"", "/bin/sh", `["/bin/sh","-c","echo hi"]`, `[]`, ` ["a"]`, `["a"`, `[1]`, `null`, "[", `["\u00e9\ud800"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		argv, err := parseEntrypoint(s)
		if err != nil {
			checkBadOption(t, s, err)
			if !strings.HasPrefix(strings.TrimSpace(s), "[") {
				t.Fatalf("%q: only a JSON array can be refused: %v", s, err)
			}
			return
		}
		if argv == nil {
			t.Fatalf("%q: nil argv (empty means: no entrypoint, nil means: the image's)", s)
		}
		switch {
		case s == "":
			if len(argv) != 0 {
				t.Fatalf("%q: %q", s, argv)
			}
		case !strings.HasPrefix(strings.TrimSpace(s), "["):
			if len(argv) != 1 || argv[0] != s {
				t.Fatalf("%q: a program is taken as it is: %q", s, argv)
			}
		default:
			b, _ := json.Marshal(argv)
			again, err := parseEntrypoint(string(b))
			if err != nil || !slices.Equal(again, argv) {
				t.Fatalf("%q: round trip through %s: %q, %v; want %q", s, b, again, err, argv)
			}
		}
	})
}
