// Package userns owns the user-namespace boundary of rootless crun-lite.
//
// # Design
//
// Every rootless command runs as root inside one long-lived user namespace
// per host user, in which container 0 is the host user and 1..N are all of
// the user's subordinate ranges (/etc/subuid, /etc/subgid, or getsubids when
// shadow's NSS support provides it). A tiny "holder" process owns that
// namespace and a mount namespace made with it, and does nothing else.
//
// Why a holder: writing the id maps needs the setuid helpers newuidmap and
// newgidmap, which cost 1.6 ms (run side by side) to 3 ms per command; making a
// fresh namespace per command and re-executing to regain capabilities, as
// rootlesskit's parent/child does, measured 43 ms per run on these machines.
// Joining an existing namespace costs a pidfd_open and one setns.
//
// Why C: setns(CLONE_NEWUSER) is refused to a multithreaded process, and the
// Go runtime starts threads before main. nsjoin.c runs as an ELF constructor,
// before the runtime, reads the holder's pid file and joins it. The holder
// itself is the same binary with _CRUNLITE_ROLE=holder, caught by the same
// constructor, so it never starts the Go runtime either.
//
// The pid file's path is built by nsjoin.c alone (crunlite_pidfile_path,
// which PidFile calls): it lives in the runtime dir of internal/paths.RuntimeDir
// (XDG_RUNTIME_DIR/crun-lite, else /tmp/crun-lite-UID) and holds "PID STARTTIME": the start time read
// after pidfd_open rules out a recycled pid. The holder's mount namespace
// is where stored containers and fuse-overlayfs mounts live, so every command
// of the user sees the same mounts; because it belongs to a less privileged
// user namespace, the host's shared mounts arrive in it as slaves and nothing
// mounted in it leaks back to the host.
//
// # Handshake (creating the holder)
//
//	crun-lite (host namespaces)          holder                      newuidmap, newgidmap
//	  flock userns.lock
//	  clone(NEWUSER|NEWNS), exec ------> constructor: role=holder
//	                                       pause() forever
//	  run both side by side -------------------------------------->  write uid_map, gid_map
//	  write userns.pid "PID START"
//	  unlock; exec /proc/self/exe
//	crun-lite (same pid, again)
//	  constructor: pidfd_open(PID), check START, setns(USER|NS) ---> joined
//	  Go main: root in the namespace, cwd restored
//
// # The binary a container can reach
//
// Until it execs, every process that enters a container is a copy of
// crun-lite, and an image whose command is /proc/self/exe runs the binary
// again inside it with the image's loader and LD_PRELOAD (CVE-2019-5736).
// Commands that start containers (run, exec, start, restart) therefore
// re-execute themselves in the constructor, after joining the holder, from
// a detached read-only nosuid bind mount of the binary (exeseal.c); a
// sealed memfd copy is the fallback where the mount API is refused. Go's
// spawn refuses to start a container unless that succeeded (ExeSafe).
// Rootless with a binary owned by root that the user cannot write, nothing
// is needed: root is not mapped in the namespace. Measured by running
// `run --rm busybox true` 200 times with each binary, alternately: a
// user-owned binary costs +0.65 ms median over the unprotected one, a
// root-owned binary +0.0 ms. The re-exec's cost is the exec of the binary
// itself (a plain execve of its path costs the same), not the mount.
//
// When the holder is gone (reboot, kill), the next command finds a stale pid
// file and recreates it transparently. Real root needs none of this: the
// constructor does nothing when euid is 0.
package userns
