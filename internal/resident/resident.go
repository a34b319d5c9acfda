// Package resident shrinks what a long-waiting process keeps in memory.
//
// crun-lite's monitor spends a container's whole life in wait4. Its
// resident set is then mostly pages of its own binary and of libc that it
// touched while starting (about 10 MiB of a 13 MiB RSS on these machines),
// and which it needs again only when the container exits. Those pages are
// shared with the page cache: dropping them from the monitor's mappings
// frees nothing the kernel cannot reread, costs a minor fault per page
// touched again at exit, and leaves the memory the container's life really
// pins at the monitor's heap and stacks.
package resident

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Shrink drops this process's resident pages of read-only, file-backed
// mappings that hold no private copy of a page. It returns how many bytes
// of mappings it dropped.
//
// It leaves the Go heap alone: debug.FreeOSMemory's collection touched more
// than it gave back (peak +0.8 MiB, settled +2 MiB measured with make bench).
//
// Only mappings without write permission and with no anonymous (copy-on-
// write) pages are dropped: MADV_DONTNEED on a private file mapping
// discards private copies, and a read-only segment the dynamic linker
// relocated (RELRO) holds such copies.
func Shrink() (int64, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var dropped int64
	var m mapping
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if isHeader(line) {
			dropped += m.drop()
			m = parseHeader(string(line))
			continue
		}
		if v, ok := bytes.CutPrefix(line, []byte("Anonymous:")); ok {
			m.anon = strings.TrimSpace(strings.TrimSuffix(string(v), "kB")) != "0"
		}
	}
	dropped += m.drop()
	return dropped, sc.Err()
}

// mapping is one entry of /proc/self/smaps, as far as Shrink cares.
type mapping struct {
	start, end uintptr
	droppable  bool // read-only, private, backed by a file
	anon       bool // holds private copies of pages
}

// A header line starts with "START-END PERMS": the field lines start with
// a capitalised name and a colon.
func isHeader(line []byte) bool {
	i := bytes.IndexByte(line, ' ')
	return i > 0 && bytes.IndexByte(line[:i], '-') > 0 && !bytes.HasSuffix(line[:i], []byte(":"))
}

func parseHeader(line string) mapping {
	f := strings.Fields(line)
	if len(f) < 6 {
		return mapping{}
	}
	lo, hi, _ := strings.Cut(f[0], "-")
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil {
		return mapping{}
	}
	perms := f[1]
	return mapping{
		start:     uintptr(start),
		end:       uintptr(end),
		droppable: len(perms) == 4 && perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p' && strings.HasPrefix(f[5], "/"),
	}
}

func (m mapping) drop() int64 {
	if !m.droppable || m.anon || m.end <= m.start {
		return 0
	}
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED)
	if errno != 0 {
		return 0
	}
	return int64(m.end - m.start)
}
