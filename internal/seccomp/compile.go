package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Target describes the container a profile is compiled for.
type Target struct {
	Caps   []string // effective capabilities, "CAP_SYS_ADMIN" style
	Kernel string   // uname release, e.g. "6.18.4"
	// RootEmulation fakes, before any rule of the profile, the calls that
	// need ids a single-id user namespace lacks (emulate.go).
	RootEmulation bool
}

// The one ABI filtered, and its names as profiles spell them. The x32 ABI
// shares its audit arch and is told apart by a bit in the call number.
var (
	native      = arch.X86_64
	nativeNames = []string{"amd64", "x86_64", "SCMP_ARCH_X86_64"}
)

const x32Bit = 0x40000000

// offsets in struct seccomp_data (little-endian: low word first)
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// Compile assembles the profile into a BPF program, as the bytes of the
// kernel's struct sock_filter array. Rules are checked in order and the
// first that matches decides, as in the profiles' own semantics; a rule's
// argument tests load the argument into the accumulator, so the call number
// is loaded again after each of them.
func (p *Profile) Compile(t Target) ([]byte, error) {
	def, err := action(p.DefaultAction, p.DefaultErrnoRet, unix.EPERM)
	if err != nil {
		return nil, fmt.Errorf("defaultAction: %w", err)
	}
	enosys := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	var a asm
	// Calls through another ABI (int 0x80, x32) would skip every rule.
	a.emit(bpf.LoadAbsolute{Off: offArch, Size: 4})
	a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(native.ID), SkipTrue: 1})
	a.emit(bpf.RetConstant{Val: enosys})
	a.emit(bpf.LoadAbsolute{Off: offNr, Size: 4})
	a.emit(bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32Bit, SkipFalse: 1})
	a.emit(bpf.RetConstant{Val: enosys})
	if t.RootEmulation {
		a.rootEmulation()
	}
	for i, r := range p.Syscalls {
		if !r.applies(t) {
			continue
		}
		for _, r := range r.split() {
			if err := a.rule(r); err != nil {
				return nil, fmt.Errorf("rule %d (%s): %w", i, strings.Join(r.names(), ","), err)
			}
		}
	}
	a.emit(bpf.RetConstant{Val: def})
	if len(a.prog) > 4096 {
		return nil, fmt.Errorf("the filter has %d instructions, more than the kernel's 4096", len(a.prog))
	}
	raw, err := bpf.Assemble(a.prog)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 8*len(raw))
	for _, in := range raw {
		out = binary.NativeEndian.AppendUint16(out, in.Op)
		out = append(out, in.Jt, in.Jf)
		out = binary.NativeEndian.AppendUint32(out, in.K)
	}
	return out, nil
}

// asm accumulates instructions; the accumulator holds the call number
// between rules.
type asm struct {
	prog []bpf.Instruction
}

func (a *asm) emit(in bpf.Instruction) { a.prog = append(a.prog, in) }

// rule emits one check per call the native table knows; calls it does not
// know (other ABIs', newer than the table) cannot be made, so skipping
// them changes nothing.
func (a *asm) rule(r Rule) error {
	act, err := action(r.Action, r.ErrnoRet, unix.EPERM)
	if err != nil {
		return err
	}
	for _, a2 := range r.Args {
		if a2.Index > 5 {
			return fmt.Errorf("argument index %d", a2.Index)
		}
		if _, ok := argOps[a2.Op]; !ok {
			return fmt.Errorf("unknown op %q", a2.Op)
		}
	}
	seen := map[string]bool{}
	for _, n := range r.names() {
		nr, ok := native.SyscallNames[n]
		if !ok || seen[n] {
			continue
		}
		seen[n] = true
		if len(r.Args) == 0 {
			a.emit(bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(nr), SkipTrue: 1})
			a.emit(bpf.RetConstant{Val: act})
			continue
		}
		body := argTests(r.Args)
		// If this is not the call, skip the tests, the return and the reload.
		if len(body)+2 > 255 {
			return fmt.Errorf("too many argument tests")
		}
		a.emit(bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(nr), SkipTrue: uint8(len(body) + 2)})
		a.prog = append(a.prog, body...)
		a.emit(bpf.RetConstant{Val: act})
		a.emit(bpf.LoadAbsolute{Off: offNr, Size: 4})
	}
	return nil
}

// argOps lists the comparisons of Podman's format.
var argOps = map[string]bool{
	"SCMP_CMP_EQ": true, "SCMP_CMP_NE": true, "SCMP_CMP_LT": true, "SCMP_CMP_LE": true,
	"SCMP_CMP_GT": true, "SCMP_CMP_GE": true, "SCMP_CMP_MASKED_EQ": true,
}

// argTests emits the tests of all args (they must all hold); a failing test
// jumps to the end of the returned code, where the caller reloads the call
// number and goes on with the next rule.
func argTests(args []Arg) []bpf.Instruction {
	// Built back to front, so every jump's distance to the end is known.
	var code []bpf.Instruction
	for i := len(args) - 1; i >= 0; i-- {
		code = append(argTest(args[i], len(code)), code...)
	}
	return code
}

// argTest compares one 64-bit argument, 32 bits at a time; rest is the
// number of instructions after it up to the return (a failure skips those
// and the return itself).
func argTest(c Arg, rest int) []bpf.Instruction {
	hiOff := uint32(offArgs + 8*c.Index + 4)
	loOff := uint32(offArgs + 8*c.Index)
	hi, lo := uint32(c.Value>>32), uint32(c.Value)
	hi2, lo2 := uint32(c.ValueTwo>>32), uint32(c.ValueTwo)
	ld := func(off uint32) bpf.Instruction { return bpf.LoadAbsolute{Off: off, Size: 4} }
	// fail(n): a jump distance from the instruction with n instructions
	// left in this test to past the return.
	fail := func(left int) uint8 { return uint8(left + rest + 1) }
	switch c.Op {
	case "SCMP_CMP_EQ":
		return []bpf.Instruction{
			ld(hiOff), bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: hi, SkipTrue: fail(2)},
			ld(loOff), bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: lo, SkipTrue: fail(0)},
		}
	case "SCMP_CMP_NE":
		return []bpf.Instruction{
			ld(hiOff), bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: hi, SkipTrue: 2},
			ld(loOff), bpf.JumpIf{Cond: bpf.JumpEqual, Val: lo, SkipTrue: fail(0)},
		}
	case "SCMP_CMP_MASKED_EQ":
		return []bpf.Instruction{
			ld(hiOff), bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: hi}, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: hi2, SkipTrue: fail(3)},
			ld(loOff), bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: lo}, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: lo2, SkipTrue: fail(0)},
		}
	}
	// Orderings: decided by the high words unless they are equal.
	strict, loCond := map[string]bpf.JumpTest{
		"SCMP_CMP_GT": bpf.JumpGreaterThan, "SCMP_CMP_GE": bpf.JumpGreaterThan,
		"SCMP_CMP_LT": bpf.JumpLessThan, "SCMP_CMP_LE": bpf.JumpLessThan,
	}[c.Op], map[string]bpf.JumpTest{
		"SCMP_CMP_GT": bpf.JumpGreaterThan, "SCMP_CMP_GE": bpf.JumpGreaterOrEqual,
		"SCMP_CMP_LT": bpf.JumpLessThan, "SCMP_CMP_LE": bpf.JumpLessOrEqual,
	}[c.Op]
	return []bpf.Instruction{
		ld(hiOff),
		bpf.JumpIf{Cond: strict, Val: hi, SkipTrue: 3}, // decided: holds
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: hi, SkipTrue: fail(2)},
		ld(loOff),
		bpf.JumpIf{Cond: loCond, Val: lo, SkipFalse: fail(0)},
	}
}

// split returns the rules r stands for. Its argument tests must all hold,
// except when two of them test the same argument: then, as in Podman and
// Docker, each test is a rule of its own, and any of them may hold.
func (r Rule) split() []Rule {
	seen := map[uint]bool{}
	shared := false
	for _, a := range r.Args {
		shared = shared || seen[a.Index]
		seen[a.Index] = true
	}
	if !shared {
		return []Rule{r}
	}
	out := make([]Rule, len(r.Args))
	for i, a := range r.Args {
		out[i] = r
		out[i].Args = []Arg{a}
	}
	return out
}

func (r Rule) names() []string {
	if r.Name != "" {
		return append([]string{r.Name}, r.Names...)
	}
	return r.Names
}

// applies evaluates the rule's includes and excludes for the target.
func (r Rule) applies(t Target) bool {
	for _, c := range r.Includes.Caps {
		if !slices.Contains(t.Caps, c) {
			return false
		}
	}
	for _, c := range r.Excludes.Caps {
		if slices.Contains(t.Caps, c) {
			return false
		}
	}
	if len(r.Includes.Arches) > 0 && !anyIn(r.Includes.Arches, nativeNames) {
		return false
	}
	if anyIn(r.Excludes.Arches, nativeNames) {
		return false
	}
	if r.Includes.MinKernel != "" && kernelLess(t.Kernel, r.Includes.MinKernel) {
		return false
	}
	return true
}

func anyIn(list, set []string) bool {
	for _, a := range list {
		if slices.Contains(set, a) {
			return true
		}
	}
	return false
}

// errErrnoRange marks an errno (or trace message) that does not fit the
// action: masked into SECCOMP_RET_DATA it would become another one, 65536
// even 0, a refused call that looks successful.
var errErrnoRange = errors.New("errno out of range")

// maxErrno is the kernel's MAX_ERRNO.
const maxErrno = 4095

func action(name string, errnoRet *uint, defaultErrno unix.Errno) (uint32, error) {
	errno := uint(defaultErrno)
	if errnoRet != nil {
		errno = *errnoRet
	}
	switch name {
	case "SCMP_ACT_ALLOW":
		return unix.SECCOMP_RET_ALLOW, nil
	case "SCMP_ACT_ERRNO":
		if errno > maxErrno {
			return 0, fmt.Errorf("%w: %d, the largest is %d", errErrnoRange, errno, maxErrno)
		}
		return unix.SECCOMP_RET_ERRNO | uint32(errno), nil
	case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD":
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case "SCMP_ACT_KILL_PROCESS":
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case "SCMP_ACT_TRAP":
		return unix.SECCOMP_RET_TRAP, nil
	case "SCMP_ACT_LOG":
		return unix.SECCOMP_RET_LOG, nil
	case "SCMP_ACT_TRACE":
		if errno > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("%w: trace message %d, the largest is %d", errErrnoRange, errno, unix.SECCOMP_RET_DATA)
		}
		return unix.SECCOMP_RET_TRACE | uint32(errno), nil
	}
	return 0, fmt.Errorf("action %q is not supported", name)
}

// kernelLess reports whether release a is older than b ("6.1.0-13-amd64" < "6.2").
func kernelLess(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < 3; i++ {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return false
}

func versionParts(v string) [3]int {
	var out [3]int
	v, _, _ = strings.Cut(v, "-")
	for i, f := range strings.SplitN(v, ".", 3) {
		n, _ := strconv.Atoi(f)
		out[i] = n
	}
	return out
}
