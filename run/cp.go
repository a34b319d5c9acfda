package run

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/run/spec"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

// cp: files between a container and the host, or a tar stream.
//
// Every path of a container is resolved inside its root and never on the
// host: the root is a directory fd (/proc/PID/root of a running
// container, or its storage rootfs mounted in a private mount namespace
// for one that does not run), and lookups are openat2 with
// RESOLVE_IN_ROOT from it, so that a symlink to /etc/passwd or to
// ../../../host/file names the container's file. Within a copied tree
// nothing is followed: symlinks are copied as symlinks, every entry is
// opened by its one name with O_NOFOLLOW, and the dirs a copy creates are
// reached again with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, so a container
// process that swaps a dir for a symlink meanwhile makes the copy fail
// rather than write elsewhere. A tar stream read from stdin gets the same
// treatment: an entry naming ../x or going through a symlink is refused.
//
// The host side goes through the same code with "/" as the root. What a
// copy creates belongs to us, uid 0 of our user namespace: the container's
// root when copying in, the calling user on the host when copying out
// (real root as real root). Modes and modification times are kept.

// CopyEnd is one side of a copy: a container's path, a host path, or "-"
// (a tar stream on stdin or stdout).
type CopyEnd struct {
	Container *Info // nil: the host
	Path      string
}

// Copy copies src to dst as Podman's cp does: a file, or a directory with
// everything in it (into dst when dst is an existing directory, else as
// dst; "SRC/." copies what the directory holds); "-" as src extracts a tar
// stream from stdin into the directory dst, as dst writes src as a tar
// stream to stdout. warn gets what was skipped (devices, sockets).
func Copy(st *store.Store, src, dst CopyEnd, stdin io.Reader, stdout, warn io.Writer) error {
	return coded(copyFiles(st, src, dst, stdin, stdout, warn))
}

func copyFiles(st *store.Store, src, dst CopyEnd, stdin io.Reader, stdout, warn io.Writer) error {
	if src.Path == "" || dst.Path == "" {
		return spec.BadOption("cp needs a SRC and a DST path")
	}
	switch {
	case src.Container != nil && dst.Container != nil:
		return spec.BadOption("cp copies between a container and the host, not between two containers")
	case src.Container == nil && dst.Container == nil:
		return spec.BadOption("cp copies between a container and the host: name a container as CONTAINER:PATH in SRC or DST")
	case src.Container != nil && src.Path == "-", dst.Container != nil && dst.Path == "-":
		return spec.BadOption("cp: - is a tar stream on the host's stdin or stdout, not a path in the container")
	}
	srcRoot, releaseSrc, err := copyRoot(st, src)
	if err != nil {
		return err
	}
	defer releaseSrc()
	dstRoot, releaseDst, err := copyRoot(st, dst)
	if err != nil {
		return err
	}
	defer releaseDst()

	if src.Path == "-" {
		d, err := resolveDir(dstRoot, dst.Path, dst.Container != nil)
		if err != nil {
			return err
		}
		defer unix.Close(d)
		return extractTar(tar.NewReader(stdin), d)
	}
	s, err := openSource(srcRoot, src)
	if err != nil {
		return err
	}
	defer unix.Close(s.fd)
	if dst.Path == "-" {
		tw := tar.NewWriter(stdout)
		w := &walker{warn: warn}
		if err := w.walk(s.fd, s.name, tarSink{tw}); err != nil {
			return err
		}
		return tw.Close()
	}
	sink, err := destination(dstRoot, dst, s)
	if err != nil {
		return err
	}
	defer unix.Close(sink.dir)
	w := &walker{warn: warn}
	if s.contents {
		return w.walkContents(s.fd, "", sink)
	}
	return w.walk(s.fd, sink.top, sink)
}

// copyRoot opens the root that end's paths resolve in: the container's, or
// the host's "/" (nothing for a tar stream, -1).
func copyRoot(st *store.Store, end CopyEnd) (int, func(), error) {
	if end.Container == nil {
		if end.Path == "-" {
			return -1, func() {}, nil
		}
		fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, nil, err
		}
		return fd, func() { unix.Close(fd) }, nil
	}
	return containerRoot(st, end.Container)
}

// containerRoot opens the root directory of in: through /proc while it
// runs, else its storage rootfs, mounted for the copy's length.
func containerRoot(st *store.Store, in *Info) (int, func(), error) {
	if in.Running() {
		via := in.Pid
		if _, err := os.Stat(procRoot(via) + "/"); err != nil {
			// --init: pid 1 is crun-lite's init, not dumpable; its
			// child shares its root.
			if child, ok := firstChild(in.Pid); ok {
				via = child
			}
		}
		fd, err := unix.Open(procRoot(via), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, nil, fmt.Errorf("open the root of container %s: %w", in.Name, err)
		}
		if userns.ProcStartTime(in.Pid) != in.pidStart {
			unix.Close(fd)
			return -1, nil, fmt.Errorf("container %s exited meanwhile: %w", in.Name, ErrRunning)
		}
		return fd, func() { unix.Close(fd) }, nil
	}
	if !in.Kept {
		return -1, nil, fmt.Errorf("container %s is not running and has no filesystem left: %w", in.Name, ErrRunning)
	}
	if in.Status == "created" && in.hasRun {
		return -1, nil, fmt.Errorf("container %s is starting: %w", in.Name, ErrRunning)
	}
	rf, err := st.ContainerRootfs(in.ID)
	if err != nil {
		return -1, nil, err
	}
	if rf.Dir != "" { // vfs: storage's mount is the dir itself
		fd, err := unix.Open(rf.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			st.UnmountContainer(in.ID)
			return -1, nil, err
		}
		return fd, func() { unix.Close(fd); st.UnmountContainer(in.ID) }, nil
	}
	return mountPrivately(rf)
}

// mountPrivately mounts an exited container's overlay in a mount namespace
// of its own, made by one thread for the purpose: nothing is mounted where
// another process could see it, and what the thread mounted goes with it.
// It returns an fd of the mounted root, valid in every thread; release
// unmounts (which also ends a fuse-overlayfs daemon) and lets the thread
// exit, never to run Go code again.
func mountPrivately(rf *store.Rootfs) (int, func(), error) {
	type result struct {
		fd  int
		err error
	}
	res := make(chan result)
	done, unmounted := make(chan struct{}), make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with its namespace
		mnt, err := os.MkdirTemp("", "crun-lite-cp-")
		if err != nil {
			res <- result{-1, err}
			return
		}
		defer os.Remove(mnt)
		empty := filepath.Join(mnt + "-empty")
		if len(rf.Lowers) == 0 {
			if err := os.Mkdir(empty, 0o755); err != nil {
				res <- result{-1, err}
				return
			}
			defer os.Remove(empty)
		}
		fail := func(err error) { res <- result{-1, fmt.Errorf("mount the container's filesystem: %w", err)} }
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			fail(err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			fail(err)
			return
		}
		data, dir := rf.OverlayData(rf.Upper, rf.Work, empty)
		if rf.MountProgram != "" {
			cmd := exec.Command(rf.MountProgram, "-o", data, mnt)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				fail(fmt.Errorf("%s: %s: %w", filepath.Base(rf.MountProgram), strings.TrimSpace(string(out)), err))
				return
			}
		} else {
			if dir != "" {
				if err := unix.Chdir(dir); err != nil {
					fail(err)
					return
				}
			}
			if err := unix.Mount("overlay", mnt, "overlay", 0, data); err != nil {
				fail(err)
				return
			}
		}
		fd, err := unix.Open(mnt, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			_ = unix.Unmount(mnt, unix.MNT_DETACH)
			fail(err)
			return
		}
		res <- result{fd, nil}
		<-done
		// A fuse-overlayfs daemon exits once its mount is gone.
		_ = unix.Unmount(mnt, unix.MNT_DETACH)
		close(unmounted)
	}()
	r := <-res
	if r.err != nil {
		return -1, nil, r.err
	}
	return r.fd, func() {
		unix.Close(r.fd)
		close(done)
		<-unmounted
	}, nil
}

// openHow resolves a path given by the user, in a root.
var (
	inRoot  = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS
	beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS
)

// openat2 is unix.Openat2, retried a few times when a rename raced the
// lookup (EAGAIN).
func openat2(dir int, name string, flags int, resolve uint64) (int, error) {
	how := &unix.OpenHow{Flags: uint64(flags) | unix.O_CLOEXEC, Resolve: resolve}
	for range 16 {
		fd, err := unix.Openat2(dir, name, how)
		if err != unix.EAGAIN && err != unix.EINTR {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// openInRoot opens p (O_PATH, following symlinks) as if root were "/":
// openat2 with RESOLVE_IN_ROOT. With ".." in the path (or in a symlink's
// target) the kernel gives up with EAGAIN whenever any rename happened on
// the system meanwhile (rename_lock), and on fuse-overlayfs, whose lookups
// move dentries, it always does: then the path is walked here instead.
func openInRoot(root int, p string, dirOnly bool) (int, error) {
	flags := unix.O_PATH
	if dirOnly {
		flags |= unix.O_DIRECTORY
	}
	fd, err := openat2(root, p, flags, uint64(inRoot))
	if err != unix.EAGAIN {
		return fd, err
	}
	return walkInRoot(root, p, dirOnly)
}

// walkInRoot resolves p in root one component at a time, each opened by
// its one name with O_NOFOLLOW: a symlink is read and its target walked
// in its place (an absolute one from root), and ".." goes back to the dir
// the walk came from, never above root. No lookup of the kernel's ever
// leaves the dir it starts in, so nothing outside root can be reached.
func walkInRoot(root int, p string, dirOnly bool) (int, error) {
	first, err := unix.Dup(root)
	if err != nil {
		return -1, err
	}
	stack := []int{first} // the dirs from root to where the walk is
	defer func() {
		for _, fd := range stack {
			unix.Close(fd)
		}
	}()
	todo := strings.Split(p, "/")
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				unix.Close(stack[len(stack)-1])
				stack = stack[:len(stack)-1]
			}
			continue
		}
		fd, err := unix.Openat(stack[len(stack)-1], c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		last := !slices.ContainsFunc(todo, func(s string) bool { return s != "" && s != "." })
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFLNK:
			target, err := readlinkat(fd, "")
			unix.Close(fd)
			if err != nil {
				return -1, err
			}
			if links++; links > 40 {
				return -1, unix.ELOOP
			}
			if strings.HasPrefix(target, "/") {
				for _, d := range stack[1:] {
					unix.Close(d)
				}
				stack = stack[:1]
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		case st.Mode&unix.S_IFMT == unix.S_IFDIR:
			stack = append(stack, fd)
			continue
		case !last || dirOnly:
			unix.Close(fd)
			return -1, unix.ENOTDIR
		}
		return fd, nil
	}
	// Ended on a dir: hand it over rather than close it.
	fd := stack[len(stack)-1]
	stack = stack[:len(stack)-1]
	return fd, nil
}

// inRootPath makes a user's path one to resolve in root: a host path
// relative to our working directory becomes absolute.
func inRootPath(p string, container bool) (string, error) {
	if container || filepath.IsAbs(p) {
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return wd + "/" + p, nil
}

// pathError names a path of the copy as the user gave it.
func pathError(p string, container bool, err error) error {
	where := "on the host"
	if container {
		where = "in the container"
	}
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%q could not be found %s: %w", p, where, os.ErrNotExist)
	}
	return fmt.Errorf("%s %s: %w", p, where, err)
}

// source is what is copied: an O_PATH fd of it, its name in the copy, and
// whether only what it holds is copied (SRC/.).
type source struct {
	fd       int
	name     string
	contents bool
	isDir    bool
}

func openSource(root int, end CopyEnd) (*source, error) {
	c := end.Container != nil
	p, err := inRootPath(end.Path, c)
	if err != nil {
		return nil, err
	}
	fd, err := openInRoot(root, p, false)
	if err != nil {
		return nil, pathError(end.Path, c, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, pathError(end.Path, c, err)
	}
	s := &source{fd: fd, name: path.Base(path.Clean("/" + end.Path)), isDir: st.Mode&unix.S_IFMT == unix.S_IFDIR}
	if s.name == "/" {
		s.name = "."
	}
	if s.isDir && (strings.HasSuffix(end.Path, "/.") || end.Path == ".") {
		s.contents = true
	}
	return s, nil
}

// resolveDir opens the directory p (following symlinks, in root) for a
// tar stream to go into.
func resolveDir(root int, p string, container bool) (int, error) {
	rp, err := inRootPath(p, container)
	if err != nil {
		return -1, err
	}
	fd, err := openInRoot(root, rp, true)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return -1, pathError(p, container, errors.New("a tar stream goes into a directory, and this is none"))
		}
		return -1, pathError(p, container, err)
	}
	return fd, nil
}

// destination decides where src goes in dst (Podman's and Docker's rules):
// into an existing directory under src's name; over an existing file; or,
// when dst does not exist, as dst itself, in its existing parent.
func destination(root int, dst CopyEnd, src *source) (*fdSink, error) {
	c := dst.Container != nil
	p, err := inRootPath(dst.Path, c)
	if err != nil {
		return nil, err
	}
	parent, name, st, err := resolveLeaf(root, p)
	if err != nil {
		return nil, pathError(dst.Path, c, err)
	}
	switch {
	case st != nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		d, err := openDirAt(parent, name)
		unix.Close(parent)
		if err != nil {
			return nil, pathError(dst.Path, c, err)
		}
		if src.contents {
			return &fdSink{dir: d}, nil
		}
		return &fdSink{dir: d, top: src.name}, nil
	case st != nil && src.isDir:
		unix.Close(parent)
		return nil, pathError(dst.Path, c, errors.New("cannot copy a directory over a file"))
	case st == nil && strings.HasSuffix(dst.Path, "/") && !src.isDir:
		unix.Close(parent)
		return nil, pathError(dst.Path, c, errors.New("no such directory"))
	}
	if src.contents {
		// Copying what a dir holds to a new path makes that dir first.
		if err := unix.Mkdirat(parent, name, 0o755); err != nil {
			unix.Close(parent)
			return nil, pathError(dst.Path, c, err)
		}
		d, err := openDirAt(parent, name)
		unix.Close(parent)
		if err != nil {
			return nil, pathError(dst.Path, c, err)
		}
		return &fdSink{dir: d}, nil
	}
	return &fdSink{dir: parent, top: name}, nil
}

// resolveLeaf resolves p in root, following symlinks (in root) to the end:
// it returns the parent directory's fd, the last component's name there,
// and its stat when it exists. The kernel resolves every parent
// (openat2, RESOLVE_IN_ROOT); a symlink as last component is read and its
// target resolved the same way, from the parent.
func resolveLeaf(root int, p string) (parent int, name string, st *unix.Stat_t, err error) {
	for range 40 { // the kernel's limit on symlinks in one lookup
		dir, base := splitLast(p)
		if base == "" || base == "." || base == ".." {
			// A directory named by itself: resolve it whole, then
			// its parent is itself reached by "..".
			fd, err := openInRoot(root, p, true)
			if err != nil {
				return -1, "", nil, err
			}
			var s unix.Stat_t
			if err := unix.Fstat(fd, &s); err != nil {
				unix.Close(fd)
				return -1, "", nil, err
			}
			return fd, ".", &s, nil
		}
		pfd, err := openInRoot(root, dir, true)
		if err != nil {
			return -1, "", nil, err
		}
		var s unix.Stat_t
		err = unix.Fstatat(pfd, base, &s, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			return pfd, base, nil, nil
		}
		if err != nil {
			unix.Close(pfd)
			return -1, "", nil, err
		}
		if s.Mode&unix.S_IFMT != unix.S_IFLNK {
			return pfd, base, &s, nil
		}
		target, err := readlinkat(pfd, base)
		unix.Close(pfd)
		if err != nil {
			return -1, "", nil, err
		}
		if strings.HasPrefix(target, "/") {
			p = target
		} else {
			p = dir + "/" + target // resolved by the kernel, ".." included
		}
	}
	return -1, "", nil, unix.ELOOP
}

// splitLast splits p into its dir (as given, "/" or "." when none) and its
// last component, ignoring trailing slashes.
func splitLast(p string) (dir, base string) {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "/", ""
	}
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ".", p
	}
	if i == 0 {
		return "/", p[1:]
	}
	return p[:i], p[i+1:]
}

func readlinkat(dir int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dir, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func openDirAt(dir int, name string) (int, error) {
	return openat2(dir, name, unix.O_PATH|unix.O_DIRECTORY, uint64(beneath))
}

// entry is one file of a copied tree, as a sink gets it.
type entry struct {
	rel    string // slash-separated, relative to the copy's top
	mode   uint32 // permission bits and setuid, setgid, sticky
	mtime  time.Time
	kind   byte // tar's: TypeDir, TypeReg, TypeSymlink
	size   int64
	target string    // symlink's
	r      io.Reader // a file's content
}

// sink is where a copy goes.
type sink interface {
	put(e *entry) error
	done(e *entry) error // a directory's content was all put
}

// walker reads a tree from an fd, following nothing.
type walker struct {
	warn io.Writer
}

// walk copies the file fd (O_PATH) names to s under rel.
func (w *walker) walk(fd int, rel string, s sink) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	e := &entry{rel: rel, mode: st.Mode & 0o7777, mtime: time.Unix(st.Mtim.Unix())}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		e.kind = tar.TypeDir
		if err := s.put(e); err != nil {
			return err
		}
		if err := w.walkContents(fd, rel, s); err != nil {
			return err
		}
		return s.done(e)
	case unix.S_IFREG:
		f, err := reopenFile(fd, rel)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return fmt.Errorf("%s changed while copied", rel)
		}
		e.kind, e.size, e.r = tar.TypeReg, st.Size, io.LimitReader(f, st.Size)
		return s.put(e)
	case unix.S_IFLNK:
		// An O_PATH|O_NOFOLLOW fd of a symlink: readlinkat with "".
		t, err := readlinkat(fd, "")
		if err != nil {
			return err
		}
		e.kind, e.target = tar.TypeSymlink, t
		return s.put(e)
	}
	if w.warn != nil {
		fmt.Fprintf(w.warn, "crun-lite: warning: cp: skipped %s: %s\n", rel, fileKind(st.Mode))
	}
	return nil
}

// walkContents copies what the directory fd holds under rel.
func (w *walker) walkContents(fd int, rel string, s sink) error {
	dfd, err := openat2(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY, uint64(beneath))
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dfd), rel)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		cfd, err := unix.Openat(dfd, n, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", path.Join(rel, n), err)
		}
		err = w.walk(cfd, joinRel(rel, n), s)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

// reopenFile opens the regular file of an O_PATH fd for reading, so that
// nothing can block (a FIFO swapped in) or become our terminal.
func reopenFile(fd int, rel string) (*os.File, error) {
	rfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return os.NewFile(uintptr(rfd), rel), nil
}

// fdSink writes a tree into the directory dir; top is the name the copy's
// top entry gets there ("": the entries go into dir itself).
type fdSink struct {
	dir int
	top string
	// mkParents makes the missing dirs above an entry, as tar does for
	// a stream that names a/b/c without a/ and a/b/.
	mkParents bool
}

// parentOf opens the directory an entry (rel, relative to dir) goes in,
// made by this copy: reached without following anything.
func (s *fdSink) parentOf(rel string) (int, string, error) {
	dir, base := splitLast(rel)
	if dir == "." {
		fd, err := unix.Dup(s.dir)
		return fd, base, err
	}
	fd, err := openat2(s.dir, dir, unix.O_PATH|unix.O_DIRECTORY, uint64(beneath))
	if errors.Is(err, unix.ENOENT) && s.mkParents {
		// One dir at a time, each made in the last, never followed.
		fd, err = unix.Dup(s.dir)
		for _, c := range strings.Split(dir, "/") {
			if err != nil {
				break
			}
			if merr := unix.Mkdirat(fd, c, 0o755); merr != nil && !errors.Is(merr, unix.EEXIST) {
				unix.Close(fd)
				return -1, "", merr
			}
			next, oerr := openDirAt(fd, c)
			unix.Close(fd)
			fd, err = next, oerr
		}
	}
	return fd, base, err
}

func (s *fdSink) put(e *entry) error {
	if e.rel == "" {
		return nil // the contents' dir itself: it exists
	}
	pfd, name, err := s.parentOf(e.rel)
	if err != nil {
		return fmt.Errorf("%s: %w", e.rel, err)
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	exists := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	isDir := exists && st.Mode&unix.S_IFMT == unix.S_IFDIR
	if e.kind == tar.TypeDir {
		if isDir {
			return nil
		}
		if exists {
			if err := unix.Unlinkat(pfd, name, 0); err != nil {
				return fmt.Errorf("%s: %w", e.rel, err)
			}
		}
		if err := unix.Mkdirat(pfd, name, 0o700); err != nil {
			return fmt.Errorf("%s: %w", e.rel, err)
		}
		return nil // mode and time once its content is in (done)
	}
	if isDir {
		return fmt.Errorf("%s: cannot overwrite a directory with a non-directory", e.rel)
	}
	if exists {
		if err := unix.Unlinkat(pfd, name, 0); err != nil {
			return fmt.Errorf("%s: %w", e.rel, err)
		}
	}
	switch e.kind {
	case tar.TypeSymlink:
		if err := unix.Symlinkat(e.target, pfd, name); err != nil {
			return fmt.Errorf("%s: %w", e.rel, err)
		}
		return setTime(pfd, name, e.mtime)
	case tar.TypeReg:
		fd, err := unix.Openat(pfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("%s: %w", e.rel, err)
		}
		f := os.NewFile(uintptr(fd), e.rel)
		_, err = io.Copy(f, e.r)
		if err == nil {
			err = unix.Fchmod(fd, e.mode)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = setTime(pfd, name, e.mtime)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", e.rel, err)
		}
	}
	return nil
}

func (s *fdSink) done(e *entry) error {
	if e.rel == "" {
		return nil
	}
	pfd, name, err := s.parentOf(e.rel)
	if err != nil {
		return fmt.Errorf("%s: %w", e.rel, err)
	}
	defer unix.Close(pfd)
	dfd, err := openDirAt(pfd, name)
	if err != nil {
		return fmt.Errorf("%s: %w", e.rel, err)
	}
	defer unix.Close(dfd)
	// fchmod does not take O_PATH fds: through /proc/self/fd, which is
	// this very inode.
	if err := unix.Chmod("/proc/self/fd/"+strconv.Itoa(dfd), e.mode); err != nil {
		return fmt.Errorf("%s: %w", e.rel, err)
	}
	return setTime(pfd, name, e.mtime)
}

func setTime(dir int, name string, t time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	return unix.UtimesNanoAt(dir, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// tarSink writes a tree as a tar stream, every entry owned by 0:0.
type tarSink struct{ tw *tar.Writer }

func (t tarSink) put(e *entry) error {
	// Whole seconds: a plain ustar header then does, as Podman's streams,
	// with PAX records only where a name or link needs them.
	h := &tar.Header{Name: e.rel, Mode: int64(e.mode), ModTime: e.mtime.Truncate(time.Second), Typeflag: e.kind}
	switch e.kind {
	case tar.TypeDir:
		h.Name += "/"
	case tar.TypeSymlink:
		h.Linkname = e.target
	case tar.TypeReg:
		h.Size = e.size
	}
	if err := t.tw.WriteHeader(h); err != nil {
		return err
	}
	if e.r != nil {
		if _, err := io.Copy(t.tw, e.r); err != nil {
			return fmt.Errorf("%s: %w", e.rel, err)
		}
	}
	return nil
}

func (tarSink) done(*entry) error { return nil }

// extractTar writes a tar stream into the directory dir (an O_PATH fd).
// Its names are the stream's, untrusted: one that leaves dir (../x, an
// absolute name is taken relative to dir) or goes through a symlink is an
// error, as are hard links to outside what the stream made.
func extractTar(tr *tar.Reader, dir int) error {
	s := &fdSink{dir: dir, mkParents: true}
	var dirs []*entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read the tar stream: %w", err)
		}
		rel := strings.Trim(path.Clean("/"+h.Name), "/")
		if rel == "" {
			continue // the stream's "./"
		}
		e := &entry{rel: rel, mode: uint32(h.Mode) & 0o7777, mtime: h.ModTime, kind: h.Typeflag, size: h.Size, target: h.Linkname, r: tr}
		switch h.Typeflag {
		case tar.TypeDir:
			dirs = append(dirs, e)
		case tar.TypeReg, tar.TypeRegA, tar.TypeSymlink:
			if h.Typeflag == tar.TypeRegA {
				e.kind = tar.TypeReg
			}
		case tar.TypeLink:
			if err := s.link(e); err != nil {
				return err
			}
			continue
		default:
			continue // devices, FIFOs: not made by cp
		}
		if err := s.put(e); err != nil {
			return err
		}
	}
	// Modes and times of dirs last: a read-only one still took its files.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := s.done(dirs[i]); err != nil {
			return err
		}
	}
	return nil
}

// link makes a hard link of the stream: both names inside dir.
func (s *fdSink) link(e *entry) error {
	old := strings.Trim(path.Clean("/"+e.target), "/")
	ofd, oname, err := s.parentOf(old)
	if err != nil {
		return fmt.Errorf("%s: link to %s: %w", e.rel, e.target, err)
	}
	defer unix.Close(ofd)
	nfd, nname, err := s.parentOf(e.rel)
	if err != nil {
		return fmt.Errorf("%s: %w", e.rel, err)
	}
	defer unix.Close(nfd)
	_ = unix.Unlinkat(nfd, nname, 0)
	if err := unix.Linkat(ofd, oname, nfd, nname, 0); err != nil {
		return fmt.Errorf("%s: link to %s: %w", e.rel, e.target, err)
	}
	return nil
}
