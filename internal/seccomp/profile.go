// Package seccomp compiles seccomp profiles written in the JSON format of
// Podman and Docker into a BPF program for the native architecture.
//
// Pure Go, no libseccomp (so no cgo dependency and no -dev package at build
// time): golang.org/x/net/bpf, the Go project's BPF assembler, assembles the
// program, and github.com/elastic/go-seccomp-bpf (maintained by Elastic for
// Beats) supplies the system call tables. Its own policy assembler is not
// used: v1.6.0 compiles an argument test followed by further rules wrongly
// (the next rule compares the argument, still in the accumulator, with a
// call number), which this package's tests caught; compile.go generates the
// code itself, a linear list of checks in the profile's order.
//
// The native ABI only is filtered: a profile's rules for other ABIs (i386,
// x32) are dropped and every call made through another ABI fails with
// ENOSYS, which also shuts the classic hole of a deny-list reachable through
// int 0x80 (32-bit binaries cannot make system calls in a container).
package seccomp

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Profile is a seccomp profile in the JSON format of Podman (containers/common)
// and Docker, which both extend the OCI runtime spec's. Every key of that
// format is known, so that a misspelled one can be refused; Compile honours
// what decides a call's fate (actions, errno values, argument tests, and
// rules that depend on capabilities, architecture or kernel version).
type Profile struct {
	DefaultAction   string `json:"defaultAction"`
	DefaultErrnoRet *uint  `json:"defaultErrnoRet,omitempty"`
	// DefaultErrno names the errno ("ENOSYS", or a number); Podman prefers
	// it to DefaultErrnoRet, and so does Parse.
	DefaultErrno string `json:"defaultErrno,omitempty"`
	Syscalls     []Rule `json:"syscalls"`

	// Architectures and ArchMap list the ABIs libseccomp should add to the
	// filter; only the native one is filtered here (see the package doc),
	// so they change nothing.
	Architectures []string  `json:"architectures,omitempty"`
	ArchMap       []ArchMap `json:"archMap,omitempty"`
	// Flags are seccomp(2) flags for libseccomp (SECCOMP_FILTER_FLAG_LOG,
	// _SPEC_ALLOW, _TSYNC, ...): none changes which calls are allowed, so
	// they are accepted and not passed on.
	Flags []string `json:"flags,omitempty"`
	// ListenerPath and ListenerMetadata serve SCMP_ACT_NOTIFY, which
	// Compile refuses.
	ListenerPath     string `json:"listenerPath,omitempty"`
	ListenerMetadata string `json:"listenerMetadata,omitempty"`
}

// ArchMap ties an architecture to the sub-architectures a filter for it
// also covers.
type ArchMap struct {
	Architecture     string   `json:"architecture"`
	SubArchitectures []string `json:"subArchitectures"`
}

// Rule gives an action to some system calls, possibly only for some
// arguments, capabilities, architectures or kernels.
type Rule struct {
	Names    []string `json:"names,omitempty"`
	Name     string   `json:"name,omitempty"` // the older single-name form
	Action   string   `json:"action"`
	ErrnoRet *uint    `json:"errnoRet,omitempty"`
	// Errno names the errno ("EPERM", or a number); it wins over ErrnoRet,
	// as in Podman.
	Errno    string `json:"errno,omitempty"`
	Args     []Arg  `json:"args,omitempty"`
	Includes Filter `json:"includes,omitempty"`
	Excludes Filter `json:"excludes,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// Arg compares one argument of a call.
type Arg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo"`
	Op       string `json:"op"`
}

// Filter makes a rule depend on the container's capabilities, the
// architecture or the kernel version (minKernel is Docker's).
type Filter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

//go:embed default.json
var defaultJSON []byte

// Unconfined, as CompiledFilter's path, is the profile that allows every
// call: with Target.RootEmulation, a filter that only fakes (for a
// container without seccomp confinement in the single-id mode).
const Unconfined = "unconfined"

var allowAllJSON = []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}`)

// Default returns crun-lite's default profile: everything is allowed except
// the calls Podman's default profile also keeps from containers (kernel
// keyrings, module and kexec loading, bpf, perf, userfaultfd, handle-based
// opens, clock and swap changes), and new mounts, namespaces and
// filesystem-context calls unless the container has CAP_SYS_ADMIN.
func Default() *Profile {
	p, err := Parse(defaultJSON)
	if err != nil {
		panic("the embedded default seccomp profile is invalid: " + err.Error())
	}
	return p
}

// Parse decodes a profile, refusing keys it does not know: a misspelled
// key would otherwise silently weaken the filter. Errno names are resolved
// into the ErrnoRet fields here.
func Parse(data []byte) (*Profile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if p.DefaultAction == "" {
		return nil, fmt.Errorf("no defaultAction")
	}
	var err error
	if p.DefaultErrnoRet, err = resolveErrno(p.DefaultErrno, p.DefaultErrnoRet); err != nil {
		return nil, fmt.Errorf("defaultErrno: %w", err)
	}
	for i := range p.Syscalls {
		r := &p.Syscalls[i]
		if r.ErrnoRet, err = resolveErrno(r.Errno, r.ErrnoRet); err != nil {
			return nil, fmt.Errorf("rule %d (%s): %w", i, strings.Join(r.names(), ","), err)
		}
	}
	return &p, nil
}

// resolveErrno returns the errno a rule names ("EPERM" or "1"), else ret.
func resolveErrno(name string, ret *uint) (*uint, error) {
	if name == "" {
		return ret, nil
	}
	if n, err := strconv.ParseUint(name, 10, 12); err == nil {
		v := uint(n)
		return &v, nil
	}
	if e, ok := errnoByName()[name]; ok {
		v := uint(e)
		return &v, nil
	}
	return nil, fmt.Errorf("unknown errno %q", name)
}

// errnoByName maps "EPERM" to 1 for the errnos this platform knows, from
// x/sys/unix's own table (which only maps the other way).
var errnoByName = sync.OnceValue(func() map[string]syscall.Errno {
	m := map[string]syscall.Errno{}
	for e := syscall.Errno(1); e < 4096; e++ {
		if n := unix.ErrnoName(e); n != "" {
			m[n] = e
		}
	}
	// Second names of the same numbers, which the table leaves out.
	m["EWOULDBLOCK"], m["EDEADLOCK"], m["ENOTSUP"] = unix.EWOULDBLOCK, unix.EDEADLOCK, unix.ENOTSUP
	return m
})

// codegenVersion changes whenever Compile's output for the same input does,
// so that cached filters of an older crun-lite are not used.
const codegenVersion = "4"

// CompiledFilter returns the compiled filter of the profile at path ("" for the
// default one) for t. Compiled filters are kept in cacheDir ("" for none):
// compiling is quick, but on a fresh process the JSON decoder and the
// assembler it needs are cold code, about half a millisecond of page
// faults on every container start.
func CompiledFilter(path string, t Target, cacheDir string) ([]byte, error) {
	src := defaultJSON
	if path == Unconfined {
		src = allowAllJSON
	} else if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read seccomp profile: %w", err)
		}
		src = b
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%v\x00%v\x00", codegenVersion, t.Kernel, t.Caps, t.RootEmulation)
	h.Write(src)
	cached := ""
	if cacheDir != "" {
		cached = filepath.Join(cacheDir, "seccomp-"+hex.EncodeToString(h.Sum(nil))+".bpf")
		if b, err := os.ReadFile(cached); err == nil && len(b) > 0 && len(b)%8 == 0 {
			return b, nil
		}
	}
	p, err := Parse(src)
	if err != nil {
		if path != "" {
			return nil, fmt.Errorf("seccomp profile %s: %w", path, err)
		}
		return nil, err
	}
	prog, err := p.Compile(t)
	if err != nil {
		return nil, err
	}
	if cached != "" {
		tmp := fmt.Sprintf("%s.%d.tmp", cached, os.Getpid())
		if os.WriteFile(tmp, prog, 0o600) == nil && os.Rename(tmp, cached) != nil {
			_ = os.Remove(tmp)
		}
	}
	return prog, nil
}
