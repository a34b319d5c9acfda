#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine (run as root) for the integration tests:
# packages, device permissions, an unprivileged test user with subordinate ids
# and a runtime dir, and offline test images. crun-lite is rootless, so the
# tests must run as a normal user on a machine that looks like a desktop login;
# CI machines have neither logind nor udev rules, so this script does their part.
#
# Idempotent: every step checks whether its result is already there, so
# `make test` can call it on every run. One log line per step on stderr.
#
# Environment:
#   CRUNLITE_TEST_USER  test user name (default crunlite-test)
#   CRUNLITE_FAULT_USER user for the fault tests (default crunlite-fault): test/faults
#                       breaks its subuid line and kills its namespace holder, so
#                       it must not be the test user
#   CRUNLITE_SINGLE_USER user with no subordinate ids (default crunlite-single): the
#                       single-id mode's tests run crun-lite as this user (as root)
#   CRUNLITE_TESTDATA   cache dir for images and the env file (default /var/cache/crun-lite-test)
#   SKIP_DEBIAN=1       do not build the debian and debian-pip images (the demo needs neither)
#   FORCE_IMAGES=1      rebuild all images
#   MIRROR=URL          Debian mirror for debootstrap
#   CRUNLITE_EXTRA_PACKAGES  more Debian packages to install with the rest
#                       (bench/setup.sh passes the harness's tools)
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_USER=${CRUNLITE_TEST_USER:-crunlite-test}
FAULT_USER=${CRUNLITE_FAULT_USER:-crunlite-fault}
SINGLE_USER=${CRUNLITE_SINGLE_USER:-crunlite-single}
TESTDATA=${CRUNLITE_TESTDATA:-/var/cache/crun-lite-test}

PACKAGES=(
	uidmap fuse-overlayfs fuse3 passt slirp4netns docker-registry busybox-static
	# the network hub's NAT (iptables), the DNS test's resolver (dnsmasq-base:
	# the binary without the service, which would take port 53)
	iptables dnsmasq-base
	debootstrap skopeo umoci jq curl tmux bash-completion procps util-linux tar gzip
	ca-certificates apache2-utils zsh fish man-db
	# Podman's seccomp profile, which --security-opt seccomp=FILE must take
	golang-github-containers-common
	# static libc for the tests' syscall probe (gcc -static)
	libc6-dev
	# --share and --device tests: headless servers on the host (weston,
	# Xvfb, dbus-daemon, pulseaudio with a null sink), xdg-dbus-proxy, and
	# the clients build-test-images.sh copies into the desktop image
	weston xvfb xauth dbus dbus-tests xdg-dbus-proxy pulseaudio pulseaudio-utils sox
	wayland-utils x11-utils x11-apps
)
# shellcheck disable=SC2206 # a list of package names, split on spaces
PACKAGES+=(${CRUNLITE_EXTRA_PACKAGES:-})

log() { printf 'test-setup: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
# The name ends up in the env file, which both sh and make read.
[[ $TEST_USER =~ ^[a-z_][a-z0-9_-]*$ ]] || die "CRUNLITE_TEST_USER='$TEST_USER' is not a plain user name"
[[ $FAULT_USER =~ ^[a-z_][a-z0-9_-]*$ ]] || die "CRUNLITE_FAULT_USER='$FAULT_USER' is not a plain user name"
[[ $SINGLE_USER =~ ^[a-z_][a-z0-9_-]*$ ]] || die "CRUNLITE_SINGLE_USER='$SINGLE_USER' is not a plain user name"
[ "$FAULT_USER" != "$TEST_USER" ] || die "the fault user must not be the test user"
[ "$SINGLE_USER" != "$TEST_USER" ] && [ "$SINGLE_USER" != "$FAULT_USER" ] || die "the single-id user must be a user of its own"
[[ $TESTDATA == /* ]] || die "CRUNLITE_TESTDATA must be an absolute path"

# --- packages ----------------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
	[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) == ii* ]] || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
	log "packages: all ${#PACKAGES[@]} installed"
else
	log "packages: installing ${missing[*]}"
	install -d -m 0755 "$TESTDATA" "$TESTDATA/logs"
	aptlog=$TESTDATA/logs/apt.log
	# Only update the lists when needed: it is the slow, network-bound part.
	if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } >"$aptlog" 2>&1; then
		tail -n 30 "$aptlog" >&2
		die "apt failed (full log: $aptlog)"
	fi
fi

# --- docker-registry.service ----------------------------------------------------
# Debian's docker-registry package enables docker-registry.service, which
# serves on :5000 on every interface. The tests start their own registry on
# 127.0.0.1 and nothing this script installs may listen beyond it: stop and
# disable the unit where systemd manages it. Without systemd running (CI
# containers), disabling it still works offline and keeps a later boot from
# starting it; without systemctl there is nothing to do.
disable_registry_service() {
	local unit=docker-registry.service state
	if ! command -v systemctl >/dev/null 2>&1; then
		log "registry service: no systemctl, nothing to disable"
		return
	fi
	if [ -d /run/systemd/system ] && systemctl is-active --quiet "$unit"; then
		systemctl stop "$unit" || die "could not stop $unit"
		log "registry service: stopped $unit (it listened on :5000 on all interfaces)"
	fi
	state=$(systemctl is-enabled "$unit" 2>/dev/null || true)
	case $state in
	enabled | enabled-runtime)
		systemctl disable --quiet "$unit" || die "could not disable $unit"
		log "registry service: disabled $unit"
		;;
	*)
		log "registry service: $unit is ${state:-not installed}"
		;;
	esac
}
disable_registry_service

# --- device nodes --------------------------------------------------------------
# fuse-overlayfs and pasta/slirp4netns open these as the unprivileged user;
# on a desktop, udev makes them 0666. Here they come 0600.
ensure_dev() {
	local path=$1 major=$2 minor=$3
	if [ ! -c "$path" ]; then
		install -d -m 0755 "$(dirname "$path")"
		mknod -m 0666 "$path" c "$major" "$minor"
		log "devices: created $path"
	elif [ "$(stat -c %a "$path")" != 666 ]; then
		chmod 0666 "$path"
		log "devices: $path made 0666"
	else
		log "devices: $path already 0666"
	fi
}
ensure_dev /dev/fuse 10 229
ensure_dev /dev/net/tun 10 200

# --- test users ----------------------------------------------------------------
# The test user runs the integration suite; the fault user is the one whose
# host setup test/faults breaks, one fault at a time, so that a new namespace
# holder meets the fault while the test user's keeps working.
ensure_user() {
	local user=$1
	if id -u "$user" >/dev/null 2>&1; then
		log "user: $user exists"
	else
		# -K SUB_*_COUNT=0: Debian's useradd would otherwise grab the first free
		# subordinate range itself; ensure_subids assigns one deliberately.
		useradd -m -s /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$user"
		log "user: created $user"
	fi
}

# --- subordinate ids -------------------------------------------------------------
# newuidmap/newgidmap only let the user map ranges listed here; the runner maps
# container ids 1..65536 onto this range.
ensure_subids() {
	local file=$1 user=$2 uid max start
	uid=$(id -u "$user")
	[ -e "$file" ] || install -m 0644 /dev/null "$file"
	# Lines may name the user or its numeric id.
	if awk -F: -v u="$user" -v id="$uid" '$1 == u || $1 == id { found = 1 } END { exit !found }' "$file"; then
		log "subids: $user already in $file"
		return
	fi
	# Start after every existing range (rounded up to a 64Ki boundary), so no
	# two users can map the same host ids.
	max=$(awk -F: '$2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { e = $2 + $3; if (e > m) m = e } END { printf "%d\n", m }' "$file")
	start=$(((max + 65535) / 65536 * 65536))
	[ "$start" -ge 300000 ] || start=300000
	printf '%s:%d:65536\n' "$user" "$start" >>"$file"
	log "subids: added $user:$start:65536 to $file"
}

# --- XDG_RUNTIME_DIR -----------------------------------------------------------
# There is no logind here. The runner keeps its runtime state (and the tests
# their sockets) in /run/user/UID, which logind would create as a private tmpfs;
# a tmpfs also means stale state goes away on reboot, as it would on a desktop.
ensure_rundir() {
	local user=$1 uid gid rundir
	uid=$(id -u "$user")
	gid=$(id -g "$user")
	rundir=/run/user/$uid
	[ -d /run/user ] || install -d -m 0755 /run/user
	if [ -d "$rundir" ] && [ "$(stat -c '%u:%g:%a' "$rundir")" = "$uid:$gid:700" ]; then
		log "rundir: $rundir exists"
	else
		install -d -m 0700 -o "$user" -g "$gid" "$rundir"
		log "rundir: created $rundir"
	fi
	if mountpoint -q "$rundir"; then
		log "rundir: $rundir already a mountpoint"
	else
		mount -t tmpfs -o "mode=0700,uid=$uid,gid=$gid,size=10%" tmpfs "$rundir"
		log "rundir: mounted tmpfs on $rundir"
	fi
}

for user in "$TEST_USER" "$FAULT_USER"; do
	ensure_user "$user"
	ensure_subids /etc/subuid "$user"
	ensure_subids /etc/subgid "$user"
	ensure_rundir "$user"
done

# The single-id user has no line in /etc/subuid or /etc/subgid, like an LDAP
# account: its containers run in the single-id mode. A line that an admin (or
# a test that failed mid-way) added is removed, so every run starts the same.
ensure_no_subids() {
	local file=$1 user=$2 uid
	uid=$(id -u "$user")
	[ -e "$file" ] || return 0
	if awk -F: -v u="$user" -v id="$uid" '$1 == u || $1 == id { found = 1 } END { exit !found }' "$file"; then
		sed -i -e "/^$user:/d" -e "/^$uid:/d" "$file"
		log "subids: removed $user's lines from $file (it must have none)"
	else
		log "subids: $user has no line in $file"
	fi
}
ensure_user "$SINGLE_USER"
ensure_no_subids /etc/subuid "$SINGLE_USER"
ensure_no_subids /etc/subgid "$SINGLE_USER"
ensure_rundir "$SINGLE_USER"
TEST_UID=$(id -u "$TEST_USER")
TEST_GID=$(id -g "$TEST_USER")

# --- /dev/kvm for the device tests ----------------------------------------------
# What a desktop's udev does (Debian's 50-udev-default.rules: KERNEL=="kvm",
# GROUP="kvm", MODE="0660") and its admin (the user joins group kvm): the
# test user may then open /dev/kvm only through a supplementary group, so
# --device /dev/kvm needs --group-add keep-groups, which the tests check. The
# fault user stays out of the group.
if [ -c /dev/kvm ]; then
	getent group kvm >/dev/null || { groupadd --system kvm && log "kvm: created group kvm"; }
	if [ "$(stat -c '%G:%a' /dev/kvm)" != kvm:660 ]; then
		chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
		log "kvm: /dev/kvm made root:kvm 0660"
	else
		log "kvm: /dev/kvm already root:kvm 0660"
	fi
	if id -nG "$TEST_USER" | tr ' ' '\n' | grep -qx kvm; then
		log "kvm: $TEST_USER already in group kvm"
	else
		usermod -aG kvm "$TEST_USER" && log "kvm: added $TEST_USER to group kvm"
	fi
else
	log "kvm: no /dev/kvm on this host, the KVM device tests will skip"
fi

# --- small filesystem --------------------------------------------------------------
# The full-disk test needs a store on a filesystem that fills up; mounting
# one needs root, so it is made here: a 48 MiB tmpfs owned by the test user,
# big enough for the busybox image, too small for debian's layer.
smallfs=$TESTDATA/smallfs
install -d -m 0755 "$TESTDATA"
if mountpoint -q "$smallfs"; then
	log "smallfs: $smallfs already mounted"
else
	install -d -m 0755 "$smallfs"
	mount -t tmpfs -o "size=48m,mode=0755,uid=$TEST_UID,gid=$TEST_GID" tmpfs "$smallfs"
	log "smallfs: mounted a 48 MiB tmpfs on $smallfs"
fi

# --- images --------------------------------------------------------------------
install -d -m 0755 "$TESTDATA"
CRUNLITE_TESTDATA=$TESTDATA "$HERE/build-test-images.sh"
log "images: ready in $TESTDATA/images"

# --- env file ------------------------------------------------------------------
# "export NAME=value" lines can be sourced by sh and included by make alike.
envfile=$TESTDATA/env
want=$(printf 'export CRUNLITE_TEST_USER=%s\nexport CRUNLITE_TEST_UID=%s\nexport CRUNLITE_FAULT_USER=%s\nexport CRUNLITE_SINGLE_USER=%s\nexport CRUNLITE_TESTDATA=%s\n' \
	"$TEST_USER" "$TEST_UID" "$FAULT_USER" "$SINGLE_USER" "$TESTDATA")
if [ -f "$envfile" ] && [ "$(cat "$envfile")" = "$want" ]; then
	log "env: $envfile up to date"
else
	printf '%s\n' "$want" >"$envfile.tmp"
	chmod 0644 "$envfile.tmp"
	mv "$envfile.tmp" "$envfile"
	log "env: wrote $envfile"
fi
