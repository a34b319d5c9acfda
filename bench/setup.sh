#!/usr/bin/env bash
# Prepares what `make bench` measures, as root, idempotently, on top of the
# rig `make test` uses (hack/test-setup.sh: the unprivileged test user, its
# subordinate ids and runtime dir, the busybox and debian test images):
#
#   $BENCH/images/layers16        busybox + 15 small layers (16 layers), OCI layout
#   $BENCH/images/big             the ~500 MB image of bench/mkbigimage.sh, OCI layout
#   $BENCH/images/big.tar         the same as an oci-archive, for load
#   $BENCH/rootfs/busybox         the busybox image unpacked, for bwrap and OCI bundles
#   $BENCH/registry/              storage of a docker-registry on 127.0.0.1 (a free
#                                 port, kept in $BENCH/registry.addr), holding
#                                 bench/{busybox,debian,layers16,big}:latest
#   $BENCH/user/                  the test user's: HOME for the peers, stores, results
#
# Usage: bench/setup.sh   (env: CRUNLITE_BENCH_DIR, CRUNLITE_TESTDATA, CRUNLITE_TEST_USER)
#
# Prints "REG=host:port" and "REGPID=pid" on stdout when done (run.sh reads
# them); logs go to stderr. Host changes, each made only when needed:
#   - what hack/test-setup.sh does (packages, /dev/fuse, users, /run/user/UID tmpfs)
#   - crun 1.8 refuses to start on a cgroup v1/v2 hybrid host whose v2
#     hierarchy still has controllers ("cgroups in hybrid mode not supported,
#     drop all controllers from cgroupv2"). On these VMs hugetlb is left on
#     /sys/fs/cgroup/unified; mounting it as a v1 hierarchy, as systemd does,
#     empties the v2 list. Podman runs its containers with crun, so without
#     this no Podman case runs. crun-lite uses no cgroup. CGROUP_FIX=0 skips it.
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
TESTDATA=${CRUNLITE_TESTDATA:-/var/cache/crun-lite-test}
BENCH=${CRUNLITE_BENCH_DIR:-$TESTDATA/bench}
TEST_USER=${CRUNLITE_TEST_USER:-crunlite-test}
IMAGES=$TESTDATA/images

log() { printf 'bench-setup: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
[[ $BENCH == /* ]] || die "CRUNLITE_BENCH_DIR must be an absolute path"

# --- the test rig, what the harness itself needs, and the peers ------------------
# (test-setup.sh installs these with its own packages)
CRUNLITE_TESTDATA=$TESTDATA CRUNLITE_TEST_USER=$TEST_USER \
	CRUNLITE_EXTRA_PACKAGES="hyperfine time jq skopeo umoci docker-registry curl iproute2 procps podman crun bubblewrap iperf3" \
	"$ROOT/hack/test-setup.sh"
TEST_UID=$(id -u "$TEST_USER")
TEST_GID=$(id -g "$TEST_USER")

# --- host fix for crun (see the header) ------------------------------------------
unified=/sys/fs/cgroup/unified
if [ "${CGROUP_FIX:-1}" = 1 ] && command -v crun >/dev/null && [ -f "$unified/cgroup.controllers" ] &&
	[ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ]; then
	read -r -a ctrls <"$unified/cgroup.controllers" || true
	if [ ${#ctrls[@]} -eq 0 ]; then
		log "cgroups: no controller left on the v2 hierarchy (crun runs)"
	fi
	for c in "${ctrls[@]}"; do
		[[ $c =~ ^[a-z_]+$ ]] || continue
		install -d -m 0755 "/sys/fs/cgroup/$c"
		mountpoint -q "/sys/fs/cgroup/$c" || mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"
		log "cgroups: mounted the $c controller as a v1 hierarchy (crun refuses hybrid hosts otherwise)"
	done
fi

# --- directories -----------------------------------------------------------------
install -d -m 0755 "$BENCH" "$BENCH/images" "$BENCH/rootfs" "$BENCH/registry"
# The test user's part: HOME of the peers (their config must not be the one the
# integration tests see in the user's real HOME), stores, bind-mount targets,
# results, and trash (stores of cold pulls, deleted by run.sh at the end).
for d in user user/home user/home/.config user/home/.config/containers user/stores user/vol user/out user/trash; do
	install -d -m 0755 -o "$TEST_UID" -g "$TEST_GID" "$BENCH/$d"
done
# Rootless Podman without systemd and journald: cgroupfs and a file event log.
conf=$BENCH/user/home/.config/containers/containers.conf
want='# written by crun-lite bench/setup.sh: rootless Podman on a host without systemd
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
	printf '%s\n' "$want" >"$conf"
	chown "$TEST_UID:$TEST_GID" "$conf"
	log "podman: wrote $conf"
fi

# --- images ------------------------------------------------------------------------
digest() { jq -r '.manifests[0].digest' "$1/index.json"; }
stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
for n in busybox debian; do
	[ -f "$IMAGES/$n/index.json" ] || die "no $IMAGES/$n: hack/test-setup.sh did not build it"
done

# layers16: many layers, little data, so that pulls and mounts pay per layer.
# The content is derived from the layer number: the image is reproducible.
want="$(digest "$IMAGES/busybox") $(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
if stamp_ok "$BENCH/images/.layers16" "$want"; then
	log "layers16: up to date"
else
	log "layers16: building (busybox + 15 layers)"
	work=$(mktemp -d)
	rm -rf "$BENCH/images/layers16"
	skopeo copy --quiet --insecure-policy "oci:$IMAGES/busybox:latest" "oci:$BENCH/images/layers16:latest"
	for i in $(seq -w 1 15); do
		mkdir -p "$work/l$i/layers"
		head -c 1M < <(yes "layer $i of crun-lite's 16-layer bench image") >"$work/l$i/layers/$i.txt"
		tar -C "$work/l$i" --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -cf "$work/l$i.tar" layers
		umoci raw add-layer --image "$BENCH/images/layers16:latest" \
			--history.created=1970-01-01T00:00:00Z --history.created_by="bench layer $i" "$work/l$i.tar"
	done
	umoci gc --layout "$BENCH/images/layers16"
	rm -rf "$work"
	chmod -R a+rX "$BENCH/images/layers16"
	printf '%s\n' "$want" >"$BENCH/images/.layers16"
fi

# big: bench/mkbigimage.sh (debian + the Go toolchain's files + 128 MiB random).
want="$(digest "$IMAGES/debian") $(sha256sum "$HERE/mkbigimage.sh" | cut -c1-16)"
if stamp_ok "$BENCH/images/.big" "$want" && [ -f "$BENCH/images/big.tar" ]; then
	log "big: up to date"
else
	log "big: building with bench/mkbigimage.sh"
	rm -f "$BENCH/images/big.tar"
	CRUNLITE_TESTDATA=$TESTDATA "$HERE/mkbigimage.sh" "$BENCH/images" >&2
	skopeo copy --quiet --insecure-policy "oci:$BENCH/images/big:latest" "oci-archive:$BENCH/images/big.tar:localhost/bench/big:latest"
	chmod -R a+rX "$BENCH/images/big" "$BENCH/images/big.tar"
	printf '%s\n' "$want" >"$BENCH/images/.big"
	log "big: $(du -sh "$BENCH/images/big.tar" | cut -f1) oci-archive"
fi

# The busybox rootfs for bwrap and the OCI runtimes' bundles (read-only there).
want=$(digest "$IMAGES/busybox")
if stamp_ok "$BENCH/rootfs/.busybox" "$want" && [ -x "$BENCH/rootfs/busybox/bin/busybox" ]; then
	log "rootfs: busybox up to date"
else
	rm -rf "$BENCH/rootfs/busybox"
	umoci raw unpack --image "$IMAGES/busybox:latest" "$BENCH/rootfs/busybox" >"$BENCH/umoci.log" 2>&1 || { cat "$BENCH/umoci.log" >&2; die "umoci unpack failed"; }
	chmod 0755 "$BENCH/rootfs/busybox"
	printf '%s\n' "$want" >"$BENCH/rootfs/.busybox"
	log "rootfs: unpacked busybox in $BENCH/rootfs/busybox"
fi

# --- registry ------------------------------------------------------------------------
# One docker-registry for the whole bench, on loopback only. The port of the
# last run is tried first (stable image names), else the kernel picks one.
reg_up() { curl -fsS -o /dev/null --max-time 2 "http://$1/v2/"; }
port_of() { ss -Htlnp 2>/dev/null | awk -v p="pid=$1," 'index($0, p) { split($4, a, ":"); print a[length(a)]; exit }'; }

regpid='' reg=''
if [ -f "$BENCH/registry.pid" ] && [ -f "$BENCH/registry.addr" ]; then
	pid=$(cat "$BENCH/registry.pid")
	addr=$(cat "$BENCH/registry.addr")
	if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = docker-registry ] && reg_up "$addr"; then
		regpid=$pid reg=$addr
		log "registry: already serving on $reg (pid $regpid)"
	fi
fi
start_registry() { # start_registry PORT
	cat >"$BENCH/registry.yml" <<-EOF
		version: 0.1
		log:
		  level: info
		  accesslog:
		    disabled: true
		storage:
		  filesystem:
		    rootdirectory: $BENCH/registry
		  delete:
		    enabled: true
		http:
		  addr: 127.0.0.1:$1
	EOF
	setsid /usr/bin/docker-registry serve "$BENCH/registry.yml" >"$BENCH/registry.log" 2>&1 </dev/null &
	regpid=$!
	local i port
	for i in $(seq 50); do
		port=$(port_of "$regpid")
		if [ -n "$port" ] && reg_up "127.0.0.1:$port"; then
			reg=127.0.0.1:$port
			return 0
		fi
		kill -0 "$regpid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$regpid" 2>/dev/null || true
	wait "$regpid" 2>/dev/null || true
	regpid=
	return 1
}
if [ -z "$reg" ]; then
	last=$(cut -d: -f2 "$BENCH/registry.addr" 2>/dev/null || true)
	if ! { [ -n "$last" ] && ! ss -Htln "sport = :$last" | grep -q . && start_registry "$last"; }; then
		start_registry 0 || { tail -n 5 "$BENCH/registry.log" >&2; die "docker-registry did not start"; }
	fi
	echo "$regpid" >"$BENCH/registry.pid"
	echo "$reg" >"$BENCH/registry.addr"
	log "registry: started on $reg (pid $regpid, storage $BENCH/registry)"
fi

# skopeo skips blobs the registry has, so a push of an unchanged image is a
# few HEAD requests.
for n in busybox debian layers16 big; do
	src=$IMAGES/$n
	[ -d "$src" ] || src=$BENCH/images/$n
	skopeo copy --quiet --insecure-policy --dest-tls-verify=false "oci:$src:latest" "docker://$reg/bench/$n:latest"
done
log "registry: $reg/bench/{busybox,debian,layers16,big}:latest pushed"

free=$(df -P --block-size=1G "$BENCH/user" | awk 'NR == 2 { print $4 }')
[ "$free" -ge 25 ] || log "warning: only ${free} GB free under $BENCH/user; a full run keeps ~20 GB of cold-pull stores until it ends"

printf 'REG=%s\nREGPID=%s\n' "$reg" "$regpid"
