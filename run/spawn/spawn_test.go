package spawn

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run the C child without new namespaces, so they need no
// privileges: they check the op interpreter and the handshake themselves.

func startPlain(t *testing.T, last *List) (*Child, error) {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	var first List
	first.Sync()
	c, err := Start(&first, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Next(); err != nil {
		t.Fatalf("first batch: %v", err)
	}
	if err := c.Send(last); err != nil {
		t.Fatal(err)
	}
	return c, c.Finish()
}

func TestOpHeaderSize(t *testing.T) {
	if opHeaderSize != 24 {
		t.Fatalf("cl_op_header is %d bytes, ops.go lays out 24", opHeaderSize)
	}
}

func TestSpawnExitCode(t *testing.T) {
	var l List
	l.Exec([]string{"sh", "-c", "exit 7"}, []string{"PATH=/usr/bin:/bin"})
	c, err := startPlain(t, &l)
	if err != nil {
		t.Fatal(err)
	}
	code, err := c.Wait()
	if err != nil || code != 7 {
		t.Fatalf("got code %d, err %v; want 7", code, err)
	}
}

func TestSpawnNotFound(t *testing.T) {
	var l List
	l.Exec([]string{"no-such-command-here"}, []string{"PATH=/usr/bin:/bin"})
	c, err := startPlain(t, &l)
	var se *StartError
	if !errors.As(err, &se) || se.Code != 127 || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("want StartError 127 ENOENT, got %v", err)
	}
	if !strings.Contains(err.Error(), "exec no-such-command-here") {
		t.Fatalf("error does not name the command: %v", err)
	}
	if code, _ := c.Wait(); code != 127 {
		t.Fatalf("child exit %d, want 127", code)
	}
}

// No PATH in the environment: no default is guessed here (spec.DefaultPath
// is the caller's), so a name without a slash is not found.
func TestSpawnNoPath(t *testing.T) {
	var l List
	l.Exec([]string{"true"}, []string{"FOO=bar"})
	c, err := startPlain(t, &l)
	var se *StartError
	if !errors.As(err, &se) || se.Code != 127 || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("want StartError 127 ENOENT, got %v", err)
	}
	if code, _ := c.Wait(); code != 127 {
		t.Fatalf("child exit %d, want 127", code)
	}
}

func TestSpawnNotExecutable(t *testing.T) {
	f := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var l List
	l.Exec([]string{f}, nil)
	c, err := startPlain(t, &l)
	var se *StartError
	if !errors.As(err, &se) || se.Code != 126 {
		t.Fatalf("want StartError 126, got %v", err)
	}
	c.Wait()
}

func TestSpawnOpsAndEnv(t *testing.T) {
	dir := t.TempDir()
	var l List
	l.Chdir(filepath.Join(dir, "a", "b"), FlagMkdir)
	l.Symlink("target", filepath.Join(dir, "link"))
	l.Exec([]string{"sh", "-c", `pwd > out; echo "$FOO" >> out`}, []string{"PATH=/usr/bin:/bin", "FOO=bar baz"})
	c, err := startPlain(t, &l)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := c.Wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "a", "b", "out"))
	want := filepath.Join(dir, "a", "b") + "\nbar baz\n"
	if string(out) != want {
		t.Fatalf("got %q want %q", out, want)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "link")); l != "target" {
		t.Fatalf("symlink points to %q", l)
	}
}

func TestSpawnFailingOpNamed(t *testing.T) {
	var l List
	l.Chdir("/nonexistent/dir", 0)
	l.Exec([]string{"true"}, nil)
	c, err := startPlain(t, &l)
	if err == nil || !strings.Contains(err.Error(), "change directory to /nonexistent/dir") || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("got %v", err)
	}
	if code, _ := c.Wait(); code != 125 {
		t.Fatalf("exit %d, want 125", code)
	}
}

func TestSpawnOptionalOp(t *testing.T) {
	var l List
	l.add(opChdir, FlagOptional, 0, "optional chdir", "/nonexistent/dir")
	l.Exec([]string{"true"}, []string{"PATH=/usr/bin:/bin"})
	c, err := startPlain(t, &l)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := c.Wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestSpawnWhileThreadsAreBorn spawns children that change credentials while
// other goroutines keep the Go runtime creating and ending threads. glibc's
// own setresuid waits for every thread it believes exists; in a child cloned
// while a thread was being born it waited forever (run/spawn.c uses raw
// system calls for that reason).
func TestSpawnWhileThreadsAreBorn(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	for i := 0; i < 4; i++ {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				done := make(chan struct{})
				go func() {
					// A locked goroutine that ends takes its thread with it,
					// so the runtime keeps making new ones.
					runtime.LockOSThread()
					syscall.Getpid()
					close(done)
				}()
				<-done
			}
		}()
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	for i := 0; i < 100; i++ {
		var l List
		l.Setgid(gid)
		l.Setuid(uid)
		l.Exec([]string{"true"}, []string{"PATH=/usr/bin:/bin"})
		done := make(chan error, 1)
		go func() {
			c, err := startPlain(t, &l)
			if err == nil {
				_, err = c.Wait()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("spawn %d: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("spawn %d hung", i)
		}
	}
}

// The handshake diagram in ops.go sits right above the message constants
// and shows every message spawn.h defines, as NAME{...}.
func TestHandshakeDiagramCoversMessages(t *testing.T) {
	header, err := os.ReadFile("spawn.h")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("ops.go")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`\bCL_MSG_([A-Z]+) =`).FindAllSubmatch(header, -1)
	if len(names) < 4 {
		t.Fatalf("found %d messages in spawn.h", len(names))
	}
	// The comment block and the const block that follows it.
	block := regexp.MustCompile(`(?s)((?:\n//[^\n]*)+)\nconst \(\n(.*?)\n\)`).FindAllSubmatch(src, -1)
	var diagram, consts string
	for _, b := range block {
		if strings.Contains(string(b[2]), "C.CL_MSG_") {
			diagram, consts = string(b[1]), string(b[2])
		}
	}
	if diagram == "" {
		t.Fatal("no comment right above the const block of the CL_MSG_ constants in ops.go")
	}
	for _, n := range names {
		name := string(n[1])
		if !strings.Contains(diagram, name+"{") {
			t.Errorf("the handshake diagram does not show %s", name)
		}
		if !strings.Contains(consts, "C.CL_MSG_"+name) {
			t.Errorf("CL_MSG_%s has no Go constant beside the diagram", name)
		}
	}
}

// A second child that would share our memory waits until the first has
// exec'd: spawn.c's static state is written by each in our memory.
func TestSpawnOneSharedChildInFlight(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var first List
	first.Sync()
	c, err := Start(&first, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Next(); err != nil {
		t.Fatal(err)
	}
	started := make(chan *Child, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var l List
		l.Exec([]string{"true"}, []string{"PATH=/usr/bin:/bin"})
		c2, err := Start(&l, 0, true)
		if err != nil {
			t.Error(err)
			started <- nil
			return
		}
		started <- c2
		if err := c2.Finish(); err != nil {
			t.Error(err)
		}
		c2.Wait()
	}()
	select {
	case <-started:
		t.Fatal("a second sharing child started while the first had not exec'd")
	case <-time.After(200 * time.Millisecond):
	}
	var last List
	last.Exec([]string{"true"}, []string{"PATH=/usr/bin:/bin"})
	if err := c.Send(&last); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the second child did not start after the first exec'd")
	}
	if code, err := c.Wait(); err != nil || code != 0 {
		t.Fatalf("first child: %d %v", code, err)
	}
}
