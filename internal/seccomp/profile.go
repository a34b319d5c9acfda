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
)

// Profile is a seccomp profile in Podman's JSON format.
type Profile struct {
	DefaultAction   string `json:"defaultAction"`
	DefaultErrnoRet *uint  `json:"defaultErrnoRet,omitempty"`
	Syscalls        []Rule `json:"syscalls"`
}

// Rule gives an action to some system calls, possibly only for some
// arguments, capabilities, architectures or kernels.
type Rule struct {
	Names    []string `json:"names,omitempty"`
	Name     string   `json:"name,omitempty"` // the older single-name form
	Action   string   `json:"action"`
	ErrnoRet *uint    `json:"errnoRet,omitempty"`
	Args     []Arg    `json:"args,omitempty"`
	Includes Filter   `json:"includes,omitempty"`
	Excludes Filter   `json:"excludes,omitempty"`
	Comment  string   `json:"comment,omitempty"`
}

// Arg compares one argument of a call.
type Arg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo"`
	Op       string `json:"op"`
}

// Filter makes a rule depend on the container's capabilities, the
// architecture or the kernel version.
type Filter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

//go:embed default.json
var defaultJSON []byte

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

// Parse decodes a profile, refusing fields it does not know: a misspelled
// key would otherwise silently weaken the filter.
func Parse(data []byte) (*Profile, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	// Podman's files also carry architecture maps and flags that concern
	// libseccomp only; everything the filter depends on is decoded strictly.
	delete(raw, "archMap")
	delete(raw, "architectures")
	delete(raw, "flags")
	delete(raw, "listenerPath")
	delete(raw, "listenerMetadata")
	delete(raw, "defaultErrno")
	trimmed, _ := json.Marshal(raw)
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if p.DefaultAction == "" {
		return nil, fmt.Errorf("no defaultAction")
	}
	return &p, nil
}

// codegenVersion changes whenever Compile's output for the same input does,
// so that cached filters of an older crun-lite are not used.
const codegenVersion = "1"

// CompiledFilter returns the compiled filter of the profile at path ("" for the
// default one) for t. Compiled filters are kept in cacheDir ("" for none):
// compiling is quick, but on a fresh process the JSON decoder and the
// assembler it needs are cold code, about half a millisecond of page
// faults on every container start.
func CompiledFilter(path string, t Target, cacheDir string) ([]byte, error) {
	src := defaultJSON
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read seccomp profile: %w", err)
		}
		src = b
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%v\x00", codegenVersion, t.Kernel, t.Caps)
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
