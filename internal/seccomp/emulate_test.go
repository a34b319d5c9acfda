package seccomp

import (
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// Root emulation fakes exactly the calls the single-id namespace cannot
// make, before the profile's rules, and leaves the rest to them.
func TestRootEmulation(t *testing.T) {
	// A profile that denies chown outright and allows everything else:
	// emulation comes first, so a chown to another owner is still faked.
	prof := `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chown", "kexec_load"], "action": "SCMP_ACT_ERRNO"}]}`
	emu := compileJSON(t, prof, Target{RootEmulation: true})
	plain := compileJSON(t, prof, Target{})
	nr := func(name string) int { return arch.X86_64.SyscallNames[name] }
	const none = 0xffffffff // -1: leave unchanged
	mode := func(kind uint32) uint64 { return uint64(kind | 0o644) }
	for _, c := range []struct {
		call       string
		args       []uint64
		want, orig uint32
	}{
		{"chown", []uint64{0, 1000, 1000}, fake, eperm},
		{"chown", []uint64{0, 0, 0}, eperm, eperm}, // to root: the profile decides
		{"chown", []uint64{0, none, 42}, fake, eperm},
		{"lchown", []uint64{0, 0, none}, allow, allow},
		{"lchown", []uint64{0, 5, none}, fake, allow},
		{"fchown", []uint64{3, none, none}, allow, allow},
		{"fchown", []uint64{3, 0, 100}, fake, allow},
		{"fchownat", []uint64{3, 0, 0, 0, 0}, allow, allow},
		{"fchownat", []uint64{3, 0, 0, 100, 0}, fake, allow},
		{"fchownat", []uint64{3, 0, 7, 0, 0}, fake, allow},
		// the high word of a 32-bit id is not the kernel's to read
		{"fchownat", []uint64{3, 0, 0xdead_0000_0000, 0, 0}, allow, allow},
		{"setuid", []uint64{0}, allow, allow},
		{"setuid", []uint64{100}, fake, allow},
		{"setgid", []uint64{65534}, fake, allow},
		{"setreuid", []uint64{none, 42}, fake, allow},
		{"setregid", []uint64{0, none}, allow, allow},
		{"setresuid", []uint64{42, 42, 42}, fake, allow},
		{"setresuid", []uint64{0, 0, 0}, allow, allow},
		{"setresgid", []uint64{none, none, 9}, fake, allow},
		{"setgroups", []uint64{0, 0}, fake, allow},
		{"setgroups", []uint64{1, 0}, fake, allow},
		{"mknodat", []uint64{3, 0, mode(unix.S_IFCHR), 0x103}, fake, allow},
		{"mknodat", []uint64{3, 0, mode(unix.S_IFBLK), 0x801}, fake, allow},
		{"mknodat", []uint64{3, 0, mode(unix.S_IFIFO), 0}, allow, allow},
		{"mknodat", []uint64{3, 0, mode(unix.S_IFSOCK), 0}, allow, allow},
		{"mknod", []uint64{0, mode(unix.S_IFCHR), 0x103}, fake, allow},
		{"mknod", []uint64{0, mode(unix.S_IFREG), 0}, allow, allow},
		{"capset", []uint64{0, 0}, allow, allow}, // never faked
		{"kexec_load", nil, eperm, eperm},        // the profile's rules still apply after
		{"getuid", nil, allow, allow},
	} {
		if got := run(t, emu, uint32(arch.X86_64.ID), nr(c.call), c.args...); got != c.want {
			t.Errorf("with emulation, %s%v: %#x, want %#x", c.call, c.args, got, c.want)
		}
		if got := run(t, plain, uint32(arch.X86_64.ID), nr(c.call), c.args...); got != c.orig {
			t.Errorf("without emulation, %s%v: %#x, want %#x", c.call, c.args, got, c.orig)
		}
	}
}

// The unconfined filter of the single-id mode fakes and allows the rest;
// compiled filters with and without emulation are cached apart.
func TestUnconfinedEmulation(t *testing.T) {
	dir := t.TempDir()
	emu, err := CompiledFilter(Unconfined, Target{RootEmulation: true}, dir)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := CompiledFilter("", Target{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	x86 := uint32(arch.X86_64.ID)
	setuid := arch.X86_64.SyscallNames["setuid"]
	if got := run(t, emu, x86, setuid, 1000); got != fake {
		t.Errorf("unconfined with emulation, setuid(1000): %#x", got)
	}
	if got := run(t, emu, x86, arch.X86_64.SyscallNames["kexec_load"]); got != allow {
		t.Errorf("unconfined with emulation, kexec_load: %#x, want allowed", got)
	}
	if got := run(t, plain, x86, setuid, 1000); got != allow {
		t.Errorf("default profile without emulation, setuid(1000): %#x (a cached emulating filter?)", got)
	}
	if again, _ := CompiledFilter("", Target{RootEmulation: true}, dir); run(t, again, x86, setuid, 1000) != fake {
		t.Errorf("default profile with emulation from the same cache does not fake setuid(1000)")
	}
}
