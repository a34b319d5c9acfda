package seccomp

import (
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Root emulation
//
// In a user namespace that maps one id (crun-lite's single-id mode),
// container root cannot give a file to another owner or become another
// user: the kernel answers EINVAL (an id it cannot map) or EPERM
// (setgroups is denied there). Package managers and useradd treat those
// answers as fatal. Charliecloud's answer, which this follows, is a filter
// that makes such calls return success and do nothing ("root emulation",
// ch-image(1), "Root emulation mode seccomp"). Unlike Charliecloud's, this
// filter fakes only what the namespace cannot do, and lets the kernel run
// what it can:
//
//   - chown, lchown, fchown, fchownat: faked when the owner or the group
//     asked for is neither 0 nor -1 (unchanged); to root they run, so a
//     missing file is still ENOENT and chown's clearing of set-user-ID
//     bits still happens.
//   - setuid, setgid, setreuid, setregid, setresuid, setresgid: faked
//     when an id asked for is neither 0 nor -1; the process stays root.
//   - setgroups: always faked (the namespace denies it, whatever the list).
//   - mknod, mknodat: faked for character and block devices, which an
//     unprivileged namespace may not make; FIFOs, sockets and regular files
//     are made by the kernel, which allows them.
//
// Not faked: capset (dropping capabilities works; raising them is refused
// as it should be: crun-lite sets the container's own capabilities after
// this filter is loaded, and a faked capset would leave it all of them),
// and setfsuid/setfsgid, which never fail (they return the old id).
//
// The checks come before every rule of the profile, so a profile that
// allows or denies these calls does not undo them; a faked call does
// nothing, so a profile's refusal loses nothing to it.

// idArgs are the calls faked when an id argument (their indexes) asks for
// an id other than root's or "unchanged".
var idArgs = []struct {
	name string
	args []uint32
}{
	{"chown", []uint32{1, 2}},
	{"lchown", []uint32{1, 2}},
	{"fchown", []uint32{1, 2}},
	{"fchownat", []uint32{2, 3}},
	{"setuid", []uint32{0}},
	{"setgid", []uint32{0}},
	{"setreuid", []uint32{0, 1}},
	{"setregid", []uint32{0, 1}},
	{"setresuid", []uint32{0, 1, 2}},
	{"setresgid", []uint32{0, 1, 2}},
}

// mknodMode is the index of the mode argument of mknod and mknodat.
var mknodMode = []struct {
	name string
	arg  uint32
}{{"mknod", 1}, {"mknodat", 2}}

// FakedCalls lists the calls root emulation may fake, for the docs and
// tests.
func FakedCalls() []string {
	var out []string
	for _, c := range idArgs {
		out = append(out, c.name)
	}
	out = append(out, "setgroups")
	for _, c := range mknodMode {
		out = append(out, c.name)
	}
	return out
}

// fake is the return of a faked call: success (errno 0), nothing done.
const fake = unix.SECCOMP_RET_ERRNO | 0

// rootEmulation emits the checks. Each starts and ends with the call
// number in the accumulator, as rule does.
func (a *asm) rootEmulation() {
	for _, c := range idArgs {
		nr, ok := native.SyscallNames[c.name]
		if !ok {
			continue
		}
		// Per id: load its low word (ids are 32 bits), 0 or -1 go on to the
		// next one, anything else is faked; then reload the call number.
		a.emit(bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(nr), SkipTrue: uint8(4*len(c.args) + 1)})
		for _, i := range c.args {
			a.emit(bpf.LoadAbsolute{Off: offArgs + 8*i, Size: 4})
			a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 2})
			a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xffffffff, SkipTrue: 1})
			a.emit(bpf.RetConstant{Val: fake})
		}
		a.emit(bpf.LoadAbsolute{Off: offNr, Size: 4})
	}
	if nr, ok := native.SyscallNames["setgroups"]; ok {
		a.emit(bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(nr), SkipTrue: 1})
		a.emit(bpf.RetConstant{Val: fake})
	}
	for _, c := range mknodMode {
		nr, ok := native.SyscallNames[c.name]
		if !ok {
			continue
		}
		a.emit(bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(nr), SkipTrue: 6})
		a.emit(bpf.LoadAbsolute{Off: offArgs + 8*c.arg, Size: 4})
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: unix.S_IFMT})
		a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.S_IFCHR, SkipTrue: 1})
		a.emit(bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.S_IFBLK, SkipTrue: 1})
		a.emit(bpf.RetConstant{Val: fake})
		a.emit(bpf.LoadAbsolute{Off: offNr, Size: 4})
	}
}
