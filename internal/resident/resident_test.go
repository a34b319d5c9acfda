package resident

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

const size = 1 << 20

// mapFile maps a file of size bytes, each byte its offset mod 251.
func mapFile(t *testing.T, prot int) []byte {
	t.Helper()
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i % 251)
	}
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := unix.Mmap(int(f.Fd()), 0, size, prot, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(b) })
	return b
}

// rssOf reads the Rss of the mapping that starts at b from /proc/self/smaps.
func rssOf(t *testing.T, b []byte) int {
	t.Helper()
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&b[0])))
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if isHeader([]byte(line)) {
			in = strings.HasPrefix(line, start)
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); in && ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(v, "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no mapping at %s in /proc/self/smaps", start)
	return 0
}

func touch(b []byte) (sum int) {
	for i := 0; i < len(b); i += os.Getpagesize() {
		sum += int(b[i])
	}
	return sum
}

func TestShrinkDropsReadOnlyFilePages(t *testing.T) {
	b := mapFile(t, unix.PROT_READ)
	touch(b)
	if kb := rssOf(t, b); kb < size/1024/2 {
		t.Fatalf("touched mapping has only %d kB resident", kb)
	}
	dropped, err := Shrink()
	if err != nil {
		t.Fatal(err)
	}
	if dropped < size {
		t.Errorf("Shrink dropped %d bytes of mappings, want at least the %d of the test's", dropped, size)
	}
	if kb := rssOf(t, b); kb != 0 {
		t.Errorf("after Shrink the mapping still has %d kB resident", kb)
	}
	for i := range b { // faults the pages back in from the file
		if b[i] != byte(i%251) {
			t.Fatalf("byte %d reads %d after Shrink, want %d", i, b[i], i%251)
		}
	}
}

// A read-only private mapping with pages written before it was made
// read-only (as the dynamic linker leaves RELRO) must keep them.
func TestShrinkKeepsPrivateCopies(t *testing.T) {
	b := mapFile(t, unix.PROT_READ|unix.PROT_WRITE)
	copy(b, bytes.Repeat([]byte{0xee}, 4096))
	touch(b)
	if err := unix.Mprotect(b, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	if _, err := Shrink(); err != nil {
		t.Fatal(err)
	}
	if kb := rssOf(t, b); kb == 0 {
		t.Errorf("Shrink dropped a mapping that holds a written page")
	}
	if b[0] != 0xee || b[4095] != 0xee {
		t.Fatalf("written page lost: reads %#x, want 0xee", b[0])
	}
}
