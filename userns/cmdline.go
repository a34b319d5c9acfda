package userns

/*
#include <stdlib.h>
#include "nsjoin.h"
*/
import "C"

import (
	"os"
	"unsafe"
)

// CommandLine is what the constructor (nsjoin.c, crunlite_parse_cmdline)
// found in argv before the Go runtime started. It is the one reading of the
// command line that decides, before urfave/cli parses it, whether the
// process joins the namespace, protects its binary and, in the lean build,
// runs the command itself.
type CommandLine struct {
	// Command is the first argument that is not a global option or its
	// value (or the one after --), "" when there is none; Index is its
	// index in argv, 0 when there is none.
	Command string
	Index   int
	// Sub is the subcommand of `container X` (the first argument after
	// container that does not start with '-'), "" otherwise; SubIndex is
	// its index in argv, 0 when there is none.
	Sub      string
	SubIndex int
	// Help: --help or -h is an argument before any --.
	Help bool
	// Lean: the lean crun-lite runs this command line itself (the table
	// crunlite_lean_commands in nsjoin.c); it hands any other to
	// crun-lite-full.
	Lean bool
	// Single: --userns=single is among the global options or the options
	// of run or create (before the image): the single-id namespace on
	// purpose (single.go).
	Single bool
}

// Command returns what the constructor found in this process's argv
// (os.Args). It reads every process's, also a go test binary's (whose
// -test.* flags are no command) and a re-executed helper's.
func Command() CommandLine {
	return commandLine(&C.crunlite_cmdline, os.Args)
}

// ParseCommandLine reads args (args[0] being the program) as the
// constructor reads argv, with the same C function: for tests, which cannot
// choose the argv of their own process.
func ParseCommandLine(args []string) CommandLine {
	if len(args) == 0 {
		return CommandLine{}
	}
	// The array is C memory: cgo refuses Go memory holding Go pointers.
	argv := unsafe.Slice((**C.char)(C.calloc(C.size_t(len(args)+1), C.size_t(unsafe.Sizeof((*C.char)(nil))))), len(args)+1)
	defer C.free(unsafe.Pointer(&argv[0]))
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	var out C.struct_crunlite_cmdline
	C.crunlite_parse_cmdline(C.int(len(args)), &argv[0], &out)
	return commandLine(&out, args)
}

func commandLine(c *C.struct_crunlite_cmdline, args []string) CommandLine {
	cl := CommandLine{Index: int(c.command), SubIndex: int(c.sub), Help: c.help != 0, Lean: c.lean != 0, Single: c.single != 0}
	if cl.Index > 0 && cl.Index < len(args) {
		cl.Command = args[cl.Index]
	}
	if cl.SubIndex > 0 && cl.SubIndex < len(args) {
		cl.Sub = args[cl.SubIndex]
	}
	return cl
}

// LeanCommands lists the commands the lean crun-lite runs itself
// (crunlite_lean_commands in nsjoin.c).
func LeanCommands() []string {
	var out []string
	for i := C.int(0); C.crunlite_lean_command(i) != nil; i++ {
		out = append(out, C.GoString(C.crunlite_lean_command(i)))
	}
	return out
}

// WantsDetach reads args (args[0] being the program) as the constructor
// does to decide whether to fork for run -d, start or restart (detach.c):
// for tests.
func WantsDetach(args []string) bool { return detachMode(args) != 0 }

// WantsAttach reads args as WantsDetach does and reports whether the
// constructor forks for start -a, whose waiting parent attaches.
func WantsAttach(args []string) bool { return detachMode(args) == 2 }

func detachMode(args []string) int {
	if len(args) == 0 {
		return 0
	}
	argv := unsafe.Slice((**C.char)(C.calloc(C.size_t(len(args)+1), C.size_t(unsafe.Sizeof((*C.char)(nil))))), len(args)+1)
	defer C.free(unsafe.Pointer(&argv[0]))
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	var out C.struct_crunlite_cmdline
	C.crunlite_parse_cmdline(C.int(len(args)), &argv[0], &out)
	return int(C.crunlite_wants_detach(C.int(len(args)), &argv[0], &out))
}
