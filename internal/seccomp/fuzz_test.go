package seccomp

import (
	"encoding/json"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// want is what the profile decides for the native call nr with args, from
// its own semantics rather than from the compiled code: the first rule
// (in order, among those that apply to t) naming the call whose argument
// tests all hold decides; tests of one argument repeated are
// alternatives; else the default action.
func want(t *testing.T, p *Profile, tg Target, nr int, args [6]uint64) uint32 {
	t.Helper()
	for _, r := range p.Syscalls {
		if !r.applies(tg) {
			continue
		}
		for _, r := range r.split() {
			named := false
			for _, n := range r.names() {
				named = named || (native.SyscallNames[n] == nr && n != "")
			}
			if !named || !argsHold(r.Args, args) {
				continue
			}
			act, err := action(r.Action, r.ErrnoRet, unix.EPERM)
			if err != nil {
				t.Fatalf("compiled, yet rule action %q: %v", r.Action, err)
			}
			return act
		}
	}
	act, _ := action(p.DefaultAction, p.DefaultErrnoRet, unix.EPERM)
	return act
}

func argsHold(tests []Arg, args [6]uint64) bool {
	for _, c := range tests {
		a := args[c.Index]
		ok := map[string]bool{
			"SCMP_CMP_EQ": a == c.Value, "SCMP_CMP_NE": a != c.Value,
			"SCMP_CMP_LT": a < c.Value, "SCMP_CMP_LE": a <= c.Value,
			"SCMP_CMP_GT": a > c.Value, "SCMP_CMP_GE": a >= c.Value,
			"SCMP_CMP_MASKED_EQ": a&c.Value == c.ValueTwo,
		}[c.Op]
		if !ok {
			return false
		}
	}
	return true
}

// checkCompiled compiles p and, when that succeeds, compares what the
// program decides with want for every call the profile names, with
// arguments at and around each value it tests.
func checkCompiled(t *testing.T, p *Profile, tg Target) {
	t.Helper()
	prog, err := p.Compile(tg)
	if err != nil {
		return
	}
	if len(prog) == 0 || len(prog)%8 != 0 || len(prog)/8 > 4096 {
		t.Fatalf("program of %d bytes", len(prog))
	}
	// Errnos go through as given: the kernel has 4095, and an errno
	// masked to 0 would make a refused call look successful.
	for _, r := range append([]Rule{{Action: p.DefaultAction, ErrnoRet: p.DefaultErrnoRet}}, p.Syscalls...) {
		if r.Action == "SCMP_ACT_ERRNO" && r.ErrnoRet != nil && *r.ErrnoRet > 4095 {
			t.Fatalf("errno %d compiled (the kernel's largest is 4095)", *r.ErrnoRet)
		}
	}
	var values []uint64
	var nrs []int
	for _, r := range p.Syscalls {
		for _, n := range r.names() {
			if nr, ok := native.SyscallNames[n]; ok {
				nrs = append(nrs, nr)
			}
		}
		for _, a := range r.Args {
			values = append(values, a.Value, a.Value-1, a.Value+1, a.ValueTwo, a.Value&a.ValueTwo, a.Value|a.ValueTwo)
		}
	}
	nrs = append(nrs, native.SyscallNames["getpid"])
	values = append(values, 0, 1<<63, ^uint64(0))
	checks := 0
	for _, nr := range nrs {
		for _, v := range values {
			for i := 0; i < 6 && checks < 2000; i++ {
				var args [6]uint64
				args[i] = v
				checks++
				if got, exp := run(t, prog, uint32(native.ID), nr, args[:]...), want(t, p, tg, nr, args); got != exp {
					t.Fatalf("call %d with args %x: program says %#x, the profile %#x", nr, args, got, exp)
				}
			}
		}
	}
	// Another ABI never gets past the first check.
	if got := run(t, prog, uint32(native.ID)+1, 0); got != unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS) {
		t.Fatalf("a call of another ABI: %#x", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(defaultJSON, "6.18.4", true)
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}`), "6.1", false)
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrno":"ENOSYS","syscalls":[{"name":"read","names":["write","nosuchcall"],"action":"SCMP_ACT_ALLOW"}]}`), "5.10.0-13-amd64", false)
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}],"excludes":{"caps":["CAP_SYS_ADMIN"]}}]}`), "6.0", true)
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["personality"],"action":"SCMP_ACT_ERRNO","errno":"EPERM","args":[{"index":0,"value":8,"op":"SCMP_CMP_NE"},{"index":0,"value":131072,"op":"SCMP_CMP_EQ"},{"index":1,"value":5,"op":"SCMP_CMP_GE"}]}]}`), "6.0", false)
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[{"names":["openat"],"action":"SCMP_ACT_LOG","includes":{"minKernel":"6.2","arches":["amd64"]}},{"names":["openat"],"action":"SCMP_ACT_TRAP","args":[{"index":5,"value":18446744073709551615,"op":"SCMP_CMP_LT"}]}]}`), "6.1.0", false)
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO","errnoRet":65536}]}`), "6.0", false)
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","bogus":1}`), "", false)
	f.Fuzz(func(t *testing.T, data []byte, kernel string, sysAdmin bool) {
		p, err := Parse(data)
		if err != nil {
			if p != nil {
				t.Fatalf("a profile with an error: %v", err)
			}
			return
		}
		if p.DefaultAction == "" {
			t.Fatal("no defaultAction accepted")
		}
		// Errno names are resolved: what Compile sees is numbers only.
		var raw struct {
			DefaultErrno string
			Syscalls     []struct{ Errno string }
		}
		if err := json.Unmarshal(data, &raw); err == nil {
			if raw.DefaultErrno != "" && p.DefaultErrnoRet == nil {
				t.Fatalf("defaultErrno %q left unresolved", raw.DefaultErrno)
			}
			for i, r := range raw.Syscalls {
				if i < len(p.Syscalls) && r.Errno != "" && p.Syscalls[i].ErrnoRet == nil {
					t.Fatalf("rule %d: errno %q left unresolved", i, r.Errno)
				}
			}
		}
		tg := Target{Kernel: kernel}
		if sysAdmin {
			tg.Caps = []string{"CAP_SYS_ADMIN"}
		}
		checkCompiled(t, p, tg)
	})
}

// FuzzCompileRule builds profiles rule by rule, which reaches the code
// generator far more often than mutated JSON does.
func FuzzCompileRule(f *testing.F) {
	f.Add("mkdir", "SCMP_ACT_ERRNO", uint(1), uint(0), "SCMP_CMP_EQ", uint64(5), uint64(0), uint(1), "SCMP_CMP_GT", uint64(7), false)
	f.Add("clone", "SCMP_ACT_ALLOW", uint(38), uint(0), "SCMP_CMP_MASKED_EQ", uint64(0x7e020000), uint64(0), uint(0), "SCMP_CMP_NE", uint64(0), true)
	f.Add("read", "SCMP_ACT_KILL", uint(0), uint(5), "SCMP_CMP_LE", uint64(1<<40), uint64(3), uint(5), "SCMP_CMP_GE", uint64(1<<32), false)
	f.Add("personality", "SCMP_ACT_TRACE", uint(7), uint(0), "SCMP_CMP_LT", ^uint64(0), uint64(0), uint(0), "SCMP_CMP_EQ", uint64(0xffffffff), true)
	f.Add("write", "SCMP_ACT_ERRNO", uint(4096), uint(6), "SCMP_CMP_EQ", uint64(0), uint64(0), uint(2), "SCMP_CMP_BOGUS", uint64(0), false)
	f.Fuzz(func(t *testing.T, name, act string, errno, i1 uint, op1 string, v1, v2 uint64, i2 uint, op2 string, v3 uint64, alternatives bool) {
		e := errno
		args := []Arg{{Index: i1, Op: op1, Value: v1, ValueTwo: v2}, {Index: i2, Op: op2, Value: v3}}
		if alternatives {
			args[1].Index = i1
		}
		p := &Profile{DefaultAction: "SCMP_ACT_ALLOW", Syscalls: []Rule{
			{Names: []string{name}, Action: act, ErrnoRet: &e, Args: args},
			{Names: []string{name, "getpid"}, Action: "SCMP_ACT_ERRNO", Args: args[:1]},
			{Names: []string{name}, Action: "SCMP_ACT_LOG"},
		}}
		prog, err := p.Compile(Target{})
		// Refused exactly when something of the rule is unknown or out of
		// range.
		_, actErr := action(act, &e, unix.EPERM)
		valid := actErr == nil && argOps[op1] && argOps[op2] && i1 <= 5 && args[1].Index <= 5
		if (err == nil) != valid {
			t.Fatalf("compile error %v; action error %v, ops %q %q, indexes %d %d", err, actErr, op1, op2, i1, args[1].Index)
		}
		if err != nil {
			return
		}
		if len(prog) == 0 {
			t.Fatal("empty program")
		}
		checkCompiled(t, p, Target{})
	})
}

// TestErrnoOutOfRange: an errno past the kernel's 4095 is refused, not
// masked: errnoRet 65536 compiled to SECCOMP_RET_ERRNO|0, which makes a
// refused call return 0 as if it had succeeded (found writing the
// properties of FuzzCompileRule).
func TestErrnoOutOfRange(t *testing.T) {
	for _, profile := range []string{
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO","errnoRet":65536}]}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":4096}`,
		`{"defaultAction":"SCMP_ACT_TRACE","defaultErrnoRet":65536}`,
	} {
		p, err := Parse([]byte(profile))
		if err == nil {
			_, err = p.Compile(Target{})
		}
		if err == nil || !errors.Is(err, errErrnoRange) {
			t.Errorf("%s: want an errno range error, got %v", profile, err)
		}
	}
	prog := compileJSON(t, `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO","errnoRet":4095}]}`, Target{})
	if got := run(t, prog, uint32(native.ID), native.SyscallNames["mount"]); got != unix.SECCOMP_RET_ERRNO|4095 {
		t.Errorf("errno 4095: %#x", got)
	}
}
