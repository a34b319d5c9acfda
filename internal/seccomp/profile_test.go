package seccomp

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// run evaluates a compiled program for one call the way the kernel would.
func run(t *testing.T, prog []byte, archID uint32, nr int, args ...uint64) uint32 {
	t.Helper()
	var raw []bpf.RawInstruction
	for i := 0; i+8 <= len(prog); i += 8 {
		raw = append(raw, bpf.RawInstruction{
			Op: binary.NativeEndian.Uint16(prog[i:]), Jt: prog[i+2], Jf: prog[i+3],
			K: binary.NativeEndian.Uint32(prog[i+4:]),
		})
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("program does not disassemble")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	// struct seccomp_data: nr, arch, instruction_pointer, args[6]. The VM
	// loads big-endian words, so lay the data out for it.
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], uint32(nr))
	binary.BigEndian.PutUint32(data[4:], archID)
	for i, a := range args {
		// little-endian u64: the low word first
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[16+8*i+4:], uint32(a>>32))
	}
	out, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(out)
}

const (
	allow = unix.SECCOMP_RET_ALLOW
	eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
)

// compileJSON parses a profile and compiles it for target, failing the test
// on either error.
func compileJSON(t *testing.T, profile string, target Target) []byte {
	t.Helper()
	p, err := Parse([]byte(profile))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := p.Compile(target)
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

func TestDefaultProfile(t *testing.T) {
	prog, err := Default().Compile(Target{Caps: []string{"CAP_CHOWN", "CAP_SETUID"}, Kernel: "6.18.4"})
	if err != nil {
		t.Fatal(err)
	}
	x86 := uint32(native.ID)
	for name, want := range map[string]uint32{
		"keyctl": eperm, "add_key": eperm, "request_key": eperm, "kexec_load": eperm,
		"open_by_handle_at": eperm, "bpf": eperm, "perf_event_open": eperm, "userfaultfd": eperm,
		"mount": eperm, "unshare": eperm, "read": allow, "openat": allow, "execve": allow,
		"setresuid": allow, "capset": allow,
	} {
		if got := run(t, prog, x86, native.SyscallNames[name]); got != want {
			t.Errorf("%s: got %#x, want %#x", name, got, want)
		}
	}
	clone := native.SyscallNames["clone"]
	if got := run(t, prog, x86, clone, uint64(unix.SIGCHLD)); got != allow {
		t.Errorf("plain clone: %#x", got)
	}
	if got := run(t, prog, x86, clone, unix.CLONE_NEWUSER|uint64(unix.SIGCHLD)); got != eperm {
		t.Errorf("clone(CLONE_NEWUSER): %#x", got)
	}
	if got := run(t, prog, x86, native.SyscallNames["clone3"]); got != unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS) {
		t.Errorf("clone3: %#x", got)
	}
	// The i386 ABI (int 0x80) would bypass every rule: it is refused.
	if got := run(t, prog, 0x40000003, 0); got != unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS) {
		t.Errorf("i386 call: %#x", got)
	}
}

func TestCapsLiftRules(t *testing.T) {
	prog, err := Default().Compile(Target{Caps: []string{"CAP_SYS_ADMIN"}, Kernel: "6.18.4"})
	if err != nil {
		t.Fatal(err)
	}
	x86 := uint32(native.ID)
	if got := run(t, prog, x86, native.SyscallNames["mount"]); got != allow {
		t.Errorf("mount with CAP_SYS_ADMIN: %#x", got)
	}
	if got := run(t, prog, x86, native.SyscallNames["clone"], unix.CLONE_NEWNS); got != allow {
		t.Errorf("clone(CLONE_NEWNS) with CAP_SYS_ADMIN: %#x", got)
	}
	if got := run(t, prog, x86, native.SyscallNames["keyctl"]); got != eperm {
		t.Errorf("keyctl stays denied: %#x", got)
	}
}

// A Podman-style allow-list: default ERRNO, rules with includes, args and
// calls this assembler does not know.
func TestPodmanStyleProfile(t *testing.T) {
	prog := compileJSON(t, `{
		"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
		"archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
		"syscalls": [
			{"names": ["read", "write", "no_such_call_yet"], "action": "SCMP_ACT_ALLOW"},
			{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
			{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
			{"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
			{"names": ["vm86"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["x86"]}}
		]}`, Target{Kernel: "6.1.0-13-amd64"})
	x86, enosys := uint32(native.ID), unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS)
	for _, c := range []struct {
		name string
		args []uint64
		want uint32
	}{
		{"read", nil, allow}, {"write", nil, allow}, {"openat", nil, enosys},
		{"personality", []uint64{8}, allow}, {"personality", []uint64{0x400000}, enosys},
		{"ptrace", nil, allow}, {"mount", nil, enosys},
	} {
		if got := run(t, prog, x86, native.SyscallNames[c.name], c.args...); got != c.want {
			t.Errorf("%s%v: got %#x, want %#x", c.name, c.args, got, c.want)
		}
	}
}

func TestParseRefusesUnknownFields(t *testing.T) {
	if _, err := Parse([]byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscals": []}`)); err == nil {
		t.Fatal("a misspelled key was accepted")
	}
	if _, err := Parse([]byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "argz": []}]}`)); err == nil {
		t.Fatal("a misspelled rule key was accepted")
	}
}

func TestKernelLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{{"6.1.0-13-amd64", "6.2", true}, {"6.18.44-fc", "4.8", false}, {"5.10", "5.10", false}, {"5.9.1", "5.10", true}} {
		if kernelLess(c.a, c.b) != c.less {
			t.Errorf("kernelLess(%q, %q) != %v", c.a, c.b, c.less)
		}
	}
}

// TestArgumentOps checks every comparison against its definition, on 64-bit
// values that differ in the high word, the low word or neither, and that a
// failed test lets later rules see the call number again.
func TestArgumentOps(t *testing.T) {
	values := []uint64{0, 1, 7, 8, 0xffffffff, 0x100000000, 0x100000007, 0xffffffff00000000, ^uint64(0)}
	ops := map[string]func(a, v, v2 uint64) bool{
		"SCMP_CMP_EQ":        func(a, v, _ uint64) bool { return a == v },
		"SCMP_CMP_NE":        func(a, v, _ uint64) bool { return a != v },
		"SCMP_CMP_LT":        func(a, v, _ uint64) bool { return a < v },
		"SCMP_CMP_LE":        func(a, v, _ uint64) bool { return a <= v },
		"SCMP_CMP_GT":        func(a, v, _ uint64) bool { return a > v },
		"SCMP_CMP_GE":        func(a, v, _ uint64) bool { return a >= v },
		"SCMP_CMP_MASKED_EQ": func(a, v, v2 uint64) bool { return a&v == v2 },
	}
	x86 := uint32(native.ID)
	read, write := native.SyscallNames["read"], native.SyscallNames["write"]
	for op, holds := range ops {
		for _, v := range values {
			for _, v2 := range []uint64{0, v, 7} {
				errno := uint(5)
				p := &Profile{DefaultAction: "SCMP_ACT_ALLOW", Syscalls: []Rule{
					{Names: []string{"read"}, Action: "SCMP_ACT_ERRNO", ErrnoRet: &errno,
						Args: []Arg{{Index: 2, Value: v, ValueTwo: v2, Op: op}}},
					{Names: []string{"write"}, Action: "SCMP_ACT_ERRNO"},
				}}
				prog, err := p.Compile(Target{})
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range values {
					want := uint32(allow)
					if holds(a, v, v2) {
						want = unix.SECCOMP_RET_ERRNO | 5
					}
					if got := run(t, prog, x86, read, 0, 0, a); got != want {
						t.Errorf("%s value %#x valueTwo %#x, arg %#x: got %#x, want %#x", op, v, v2, a, got, want)
					}
					// The rule after the argument test still sees the call number.
					if got := run(t, prog, x86, write, 0, 0, a); got != eperm {
						t.Fatalf("write after a %s rule: got %#x", op, got)
					}
				}
			}
		}
	}
}

func TestCompiledFilterCache(t *testing.T) {
	dir := t.TempDir()
	target := Target{Caps: []string{"CAP_CHOWN"}, Kernel: "6.18.4"}
	first, err := CompiledFilter("", target, dir)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := Default().Compile(target)
	if err != nil || !bytes.Equal(first, direct) {
		t.Fatalf("cached compile differs from a direct one: %v", err)
	}
	files, _ := os.ReadDir(dir)
	if len(files) != 1 {
		t.Fatalf("want one cached filter, got %d", len(files))
	}
	// The cache answers: a corrupted entry would be returned as it is, so
	// make it recognisable.
	marker := bytes.Repeat([]byte{7}, 8)
	os.WriteFile(dir+"/"+files[0].Name(), marker, 0o600)
	if again, _ := CompiledFilter("", target, dir); !bytes.Equal(again, marker) {
		t.Fatal("the cached filter was not used")
	}
	// Other capabilities are another filter.
	other, _ := CompiledFilter("", Target{Caps: []string{"CAP_SYS_ADMIN"}, Kernel: "6.18.4"}, dir)
	if bytes.Equal(other, marker) || bytes.Equal(other, first) {
		t.Fatal("a filter for other capabilities came from the cache")
	}
}

// podmanCaps is Podman's default capability set for a container's root.
var podmanCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"}

// TestPodmanProfileFile compiles the profile Podman itself ships (package
// golang-github-containers-common on Debian) and checks the verdicts it
// gives: its errno names, argument tests and capability conditions.
func TestPodmanProfileFile(t *testing.T) {
	const path = "/usr/share/containers/seccomp.json"
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("%s is not installed (package golang-github-containers-common)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	compile := func(caps ...string) []byte {
		prog, err := p.Compile(Target{Caps: caps, Kernel: "6.1.0-13-amd64"})
		if err != nil {
			t.Fatalf("%s with %v: %v", path, caps, err)
		}
		return prog
	}
	def := compile(podmanCaps...)
	x86 := uint32(native.ID)
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	einval := unix.SECCOMP_RET_ERRNO | uint32(unix.EINVAL)
	const afNetlink, netlinkAudit = 16, 9
	for _, c := range []struct {
		name string
		args []uint64
		want uint32
	}{
		{"read", nil, allow}, {"execve", nil, allow}, {"keyctl", nil, allow}, {"mount", nil, allow},
		// not listed: the default action, with its defaultErrno
		{"add_key", nil, enosys}, {"request_key", nil, enosys},
		// "errno": "EPERM" rules
		{"kexec_load", nil, eperm}, {"userfaultfd", nil, eperm}, {"bpf", nil, eperm},
		{"perf_event_open", nil, eperm}, {"open_by_handle_at", nil, eperm},
		// includes caps: CAP_SYS_CHROOT is in the set
		{"chroot", nil, allow},
		// argument tests
		{"personality", []uint64{8}, allow}, {"personality", []uint64{0xffffffff}, allow},
		{"personality", []uint64{1}, enosys},
		// "errno": "EINVAL" for audit sockets without CAP_AUDIT_WRITE
		{"socket", []uint64{afNetlink, 3, netlinkAudit}, einval},
		{"socket", []uint64{afNetlink, 3, 0}, allow}, {"socket", []uint64{2, 1, 0}, allow},
	} {
		if got := run(t, def, x86, native.SyscallNames[c.name], c.args...); got != c.want {
			t.Errorf("%s%v: got %#x, want %#x", c.name, c.args, got, c.want)
		}
	}
	admin := compile(append([]string{"CAP_SYS_ADMIN", "CAP_AUDIT_WRITE"}, podmanCaps...)...)
	for _, c := range []struct {
		name string
		args []uint64
	}{{"bpf", nil}, {"perf_event_open", nil}, {"socket", []uint64{afNetlink, 3, netlinkAudit}}} {
		if got := run(t, admin, x86, native.SyscallNames[c.name], c.args...); got != allow {
			t.Errorf("%s%v with CAP_SYS_ADMIN and CAP_AUDIT_WRITE: got %#x", c.name, c.args, got)
		}
	}
	if got := run(t, compile(), x86, native.SyscallNames["chroot"]); got != eperm {
		t.Errorf("chroot without CAP_SYS_CHROOT: got %#x", got)
	}
	// The i386 ABI stays closed even though the file's archMap lists it.
	if got := run(t, def, 0x40000003, 0); got != enosys {
		t.Errorf("i386 call: %#x", got)
	}
}

func TestErrnoNames(t *testing.T) {
	prog := compileJSON(t, `{
		"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "ENOSYS", "defaultErrnoRet": 1,
		"syscalls": [
			{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errno": "EACCES", "errnoRet": 1},
			{"names": ["write"], "action": "SCMP_ACT_ERRNO", "errno": "22"},
			{"names": ["close"], "action": "SCMP_ACT_ERRNO", "errno": "EWOULDBLOCK"},
			{"names": ["openat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}
		]}`, Target{})
	x86 := uint32(native.ID)
	for name, want := range map[string]unix.Errno{
		"read": unix.EACCES, "write": unix.EINVAL, "close": unix.EAGAIN, "openat": unix.EIO, "getpid": unix.ENOSYS,
	} {
		if got := run(t, prog, x86, native.SyscallNames[name]); got != unix.SECCOMP_RET_ERRNO|uint32(want) {
			t.Errorf("%s: got %#x, want errno %d", name, got, want)
		}
	}
	for _, bad := range []string{
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errno": "EBOGUS"}]}`,
		`{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "NOPE", "syscalls": []}`,
	} {
		if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "unknown errno") {
			t.Errorf("%s: want an unknown errno error, got %v", bad, err)
		}
	}
}

// Two tests of the same argument are alternatives (Podman's and Docker's
// rule); tests of different arguments must all hold.
func TestSameArgumentTestsAreAlternatives(t *testing.T) {
	prog := compileJSON(t, `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [
			{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
		{"names": ["write"], "action": "SCMP_ACT_ERRNO", "args": [
			{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]}]}`, Target{})
	x86 := uint32(native.ID)
	read, write := native.SyscallNames["read"], native.SyscallNames["write"]
	for _, c := range []struct {
		nr   int
		args []uint64
		want uint32
	}{
		{read, []uint64{1}, eperm}, {read, []uint64{2}, eperm}, {read, []uint64{3}, allow},
		{write, []uint64{1, 2}, eperm}, {write, []uint64{1, 3}, allow}, {write, []uint64{3, 2}, allow},
	} {
		if got := run(t, prog, x86, c.nr, c.args...); got != c.want {
			t.Errorf("call %d%v: got %#x, want %#x", c.nr, c.args, got, c.want)
		}
	}
}
