// Command probe makes system calls inside a container and prints, per call,
// "name errno" (0 when it succeeded), so tests can tell a seccomp denial
// from the kernel's own answer. It is built statically (CGO_ENABLED=0), so it
// runs in any image.
package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func str(s string) uintptr {
	b, _ := unix.BytePtrFromString(s)
	return uintptr(unsafe.Pointer(b))
}

var calls = map[string]func() syscall.Errno{
	// KEYCTL_GET_KEYRING_ID of the session keyring: succeeds when allowed.
	"keyctl": func() syscall.Errno {
		_, _, e := unix.Syscall(unix.SYS_KEYCTL, 0, uintptr(^uint32(2)), 0) // -3
		return e
	},
	// A key that does not exist: ENOKEY when allowed.
	"request_key": func() syscall.Errno {
		_, _, e := unix.Syscall6(unix.SYS_REQUEST_KEY, str("user"), str("crun-lite-probe"), 0, 0, 0, 0)
		return e
	},
	"add_key": func() syscall.Errno {
		_, _, e := unix.Syscall6(unix.SYS_ADD_KEY, str("no-such-type"), str("d"), 0, 0, uintptr(^uint32(1)), 0)
		return e
	},
	// A NULL attribute: EFAULT when allowed.
	"perf_event_open": func() syscall.Errno {
		_, _, e := unix.Syscall6(unix.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0, 0)
		return e
	},
	"bpf": func() syscall.Errno {
		_, _, e := unix.Syscall(unix.SYS_BPF, 0, 0, 0)
		return e
	},
	"kexec_load": func() syscall.Errno {
		_, _, e := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0, 0, 0)
		return e
	},
	"open_by_handle_at": func() syscall.Errno {
		_, _, e := unix.Syscall(unix.SYS_OPEN_BY_HANDLE_AT, ^uintptr(0), 0, 0)
		return e
	},
	"userfaultfd": func() syscall.Errno {
		_, _, e := unix.Syscall(unix.SYS_USERFAULTFD, 0, 0, 0)
		return e
	},
	// A new user namespace: allowed for anyone without a filter.
	"unshare-user": func() syscall.Errno {
		return errnoOf(unix.Unshare(unix.CLONE_NEWUSER))
	},
	"mount-tmpfs": func() syscall.Errno {
		os.MkdirAll("/tmp/probe-mnt", 0o755)
		return errnoOf(unix.Mount("tmpfs", "/tmp/probe-mnt", "tmpfs", 0, ""))
	},
	"mkdir": func() syscall.Errno {
		return errnoOf(unix.Mkdir("/tmp/probe-dir", 0o755))
	},
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	return err.(syscall.Errno)
}

func main() {
	for _, name := range os.Args[1:] {
		f, ok := calls[name]
		if !ok {
			fmt.Printf("%s unknown\n", name)
			continue
		}
		fmt.Printf("%s %d\n", name, int(f()))
	}
}
