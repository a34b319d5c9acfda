#!/usr/bin/env bash
# Builds the OCI images the integration tests pull, without any registry:
#
#   $CRUNLITE_TESTDATA/images/busybox      OCI layout, tag "latest"
#   $CRUNLITE_TESTDATA/images/busybox.tar  oci-archive, named localhost/busybox:latest
#   $CRUNLITE_TESTDATA/images/desktop.tar  busybox + the host's wayland-info, xdpyinfo, xeyes, dbus-send, paplay
#   $CRUNLITE_TESTDATA/images/debian       (bookworm minbase, unless SKIP_DEBIAN=1)
#   $CRUNLITE_TESTDATA/images/debian.tar
#   $CRUNLITE_TESTDATA/images/debian-pip   debian + python3-pip, a layer on top of debian's
#   $CRUNLITE_TESTDATA/images/debian-pip.tar
#
# Tests must not depend on a public registry (CI has no network besides the
# package mirrors), so the images are made from Debian packages already on the
# machine: busybox-static for a tiny image whose every byte we control, and
# debootstrap for a "real distro" image.
#
# Run as root (ownership inside the layers must be real, numeric ids) - normally
# via hack/test-setup.sh. Knobs:
#   FORCE_IMAGES=1  rebuild everything
#   SKIP_DEBIAN=1   do not build the debian images (they need minutes and the mirror)
#   MIRROR=URL      Debian mirror for debootstrap (default: the one apt uses)
set -euo pipefail
umask 022

CACHE=${CRUNLITE_TESTDATA:-/var/cache/crun-lite-test}
IMAGES=$CACHE/images
FORCE_IMAGES=${FORCE_IMAGES:-0}
SKIP_DEBIAN=${SKIP_DEBIAN:-0}

# Fixed timestamps and a fixed PATH make the busybox image byte-for-byte
# reproducible, so its digests are stable across machines and reruns.
EPOCH=1970-01-01T00:00:00Z
IMAGE_PATH=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CREATED_BY="crun-lite hack/build-test-images.sh"

log() { printf 'build-test-images: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (layers need files owned by other uids)"
for tool in umoci skopeo tar busybox debootstrap findmnt flock; do
	command -v "$tool" >/dev/null || die "$tool not found; run hack/test-setup.sh (it installs the packages)"
done

install -d -m 0755 "$CACHE" "$IMAGES" "$CACHE/work" "$CACHE/logs"

# test-setup.sh may be run from two shells at once (e.g. make test and make demo);
# without a lock they would clean up each other's work directories.
exec 9>"$CACHE/.build.lock"
flock 9

# A build interrupted mid-debootstrap can leave proc/sys mounted inside its
# rootfs. Unmount before deleting, and never let rm cross into a mount:
# deleting through a stray bind mount of /dev or /sys would hit the host.
unmount_under() {
	local dir=$1 target
	findmnt -rn -o TARGET | awk -v p="$dir/" 'index($0, p) == 1' | sort -r |
		while IFS= read -r target; do
			umount -l "$target" || log "warning: could not unmount $target"
		done
}
remove_tree() {
	[ -e "$1" ] || return 0
	unmount_under "$1"
	rm -rf --one-file-system "$1"
}

# Leftovers of a killed earlier run (we hold the lock, so nobody else owns them).
for stale in "$CACHE"/work/*; do
	[ -e "$stale" ] || continue
	log "removing leftover work dir $stale"
	remove_tree "$stale"
done

WORK=$(mktemp -d "$CACHE/work/build.XXXXXX")
trap 'remove_tree "$WORK"' EXIT

# pack_layer ROOTFS OUT [tar exclude options...]
# GNU tar options chosen for a reproducible layer: sorted names, zero mtimes,
# numeric owners only (the image's /etc/passwd is not the host's), and pax
# extended headers with fixed names (by default they embed the tar PID) and
# without atime/ctime.
pack_layer() {
	local rootfs=$1 out=$2
	shift 2
	# Members are named "bin/...", not "./bin/...", like the layers other
	# tools produce; and there is no entry for "." itself, whose mode would
	# then be applied to the container's / by some unpackers.
	(cd "$rootfs" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort) >"$WORK/toplevel"
	LC_ALL=C tar --create --file="$out" --directory="$rootfs" \
		--numeric-owner --sort=name --mtime=@0 --format=posix \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		"$@" --files-from="$WORK/toplevel"
}

# assemble_image NAME LAYER_TAR CMD
# Produces $WORK/NAME (OCI layout) and $WORK/NAME.tar (oci-archive).
assemble_image() {
	local name=$1 layer=$2 cmd=$3 layout=$WORK/$1
	umoci init --layout "$layout"
	umoci new --image "$layout:latest"
	umoci raw add-layer --image "$layout:latest" \
		--history.created="$EPOCH" --history.created_by="$CREATED_BY" "$layer"
	umoci config --image "$layout:latest" --no-history \
		--created="$EPOCH" --config.cmd="$cmd" --config.env="$IMAGE_PATH" --config.workingdir=/
	# umoci leaves the superseded manifests/configs of each step as blobs.
	umoci gc --layout "$layout"
	# The policy file is host configuration; these are our own images.
	skopeo copy --quiet --insecure-policy "oci:$layout:latest" "oci-archive:$WORK/$name.tar:localhost/$name:latest"
}

# publish NAME: move the finished image into place. The archive is moved last
# because its existence is what marks an image as built.
publish() {
	local name=$1
	rm -f "$IMAGES/$name.tar"
	remove_tree "$IMAGES/$name"
	mv "$WORK/$name" "$IMAGES/$name"
	# Tests run as an unprivileged user and only read these.
	find "$IMAGES/$name" -type d -exec chmod 0755 {} +
	find "$IMAGES/$name" -type f -exec chmod 0644 {} +
	chmod 0644 "$WORK/$name.tar"
	mv "$WORK/$name.tar" "$IMAGES/$name.tar"
	local manifest
	manifest=$(skopeo inspect --raw "oci:$IMAGES/$name:latest")
	log "$name: built, $(du -sh "$IMAGES/$name.tar" | cut -f1) archive, $(jq '.layers | length' <<<"$manifest") layer(s), manifest $(jq -r '.manifests[0].digest' "$IMAGES/$name/index.json")"
}

# ---------------------------------------------------------------------------
# busybox: built in about a second, so instead of "build once" it is rebuilt
# whenever this script changes (recorded in a stamp file). That way a change to
# the test image reaches machines whose cache already has an older one.
recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)
stamp=$IMAGES/.busybox.recipe

build_busybox_rootfs() {
	local r=$1 applet dir target
	install -d -m 0755 "$r"/{bin,etc,home,proc,sys,dev,run,sbin,usr,usr/bin,usr/sbin,var}
	install -d -m 0700 "$r/root"
	install -d -m 1777 "$r/tmp" "$r/var/tmp"
	install -d -m 0755 -o 1000 -g 1000 "$r/home/user"
	install -d -m 0755 -o 1001 -g 1001 "$r/home/app"
	install -m 0755 /bin/busybox "$r/bin/busybox"

	# Relative links keep working wherever the rootfs is mounted (an absolute
	# link would point into the host while the tool inspects an unpacked layer).
	while IFS= read -r applet; do
		[ "$applet" = bin/busybox ] && continue
		case $applet in
		*/*) dir=${applet%/*} ;;
		*) dir= ;;
		esac
		if [ -z "$dir" ]; then
			target=bin/busybox
		elif [ "$dir" = bin ]; then
			target=busybox
		else
			# one "../" per path component of the link's directory
			target=$(printf '%s\n' "$dir" | sed -e 's|[^/][^/]*|..|g')/bin/busybox
		fi
		install -d -m 0755 "$r/$dir"
		ln -s "$target" "$r/$applet"
	done < <("$r/bin/busybox" --list-full)

	# Tests check that ownership inside the image survives the id mapping.
	printf 'mine\n' >"$r/home/user/owned-by-1000"
	chown 1000:1000 "$r/home/user/owned-by-1000"
	chmod 0644 "$r/home/user/owned-by-1000"

	cat >"$r/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		user:x:1000:1000:user:/home/user:/bin/sh
		app:x:1001:1001:app:/home/app:/bin/sh
		nobody:x:65534:65534:nobody:/nonexistent:/bin/false
	EOF
	# Supplementary groups (staff, audio) let tests check --user name lookups
	# and the groups a process gets.
	cat >"$r/etc/group" <<-'EOF'
		root:x:0:
		staff:x:50:user,app
		audio:x:29:user
		user:x:1000:
		app:x:1001:
		nogroup:x:65534:
	EOF
	printf 'hosts: files dns\n' >"$r/etc/nsswitch.conf"
	chmod 0644 "$r/etc/passwd" "$r/etc/group" "$r/etc/nsswitch.conf"
}

if [ "$FORCE_IMAGES" != 1 ] && [ -f "$IMAGES/busybox.tar" ] && [ -f "$IMAGES/busybox/index.json" ] &&
	[ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ]; then
	log "busybox: up to date"
else
	log "busybox: building"
	rootfs=$WORK/busybox-rootfs
	build_busybox_rootfs "$rootfs"
	pack_layer "$rootfs" "$WORK/busybox-layer.tar"
	assemble_image busybox "$WORK/busybox-layer.tar" /bin/sh
	publish busybox
	printf '%s\n' "$recipe" >"$stamp"
	chmod 0644 "$stamp"
fi

# ---------------------------------------------------------------------------
# desktop: busybox plus the host's desktop clients (test-setup installs them)
# and the libraries they load, copied as ldd lists them: a second or two,
# no mirror, unlike a debootstrap with those packages. The --share tests run
# them against headless servers on the host. Rebuilt when this script or a
# tool changes; skipped when a tool is missing.
DESKTOP_TOOLS=(wayland-info xdpyinfo xeyes dbus-send paplay)
desktop_paths=()
for tool in "${DESKTOP_TOOLS[@]}"; do
	p=$(command -v "$tool" || true)
	[ -n "$p" ] && desktop_paths+=("$p")
done
build_desktop_rootfs() {
	local r=$1 bin lib
	build_busybox_rootfs "$r"
	for bin in "${desktop_paths[@]}"; do
		install -m 0755 "$bin" "$r/usr/bin/"
		# "libx.so => /lib/.../libx.so (addr)" and the loader's "/lib64/ld-... (addr)"
		ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
	done | LC_ALL=C sort -u | while IFS= read -r lib; do
		[ -e "$r$lib" ] || install -D -m 0644 "$(readlink -f "$lib")" "$r$lib"
	done
	chmod 0755 "$r"/lib64/ld-linux-*.so.* 2>/dev/null || true
}
desktop_recipe=$( (printf '%s\n' "$recipe"; sha256sum "${desktop_paths[@]}" 2>/dev/null) | sha256sum | cut -d' ' -f1)
desktop_stamp=$IMAGES/.desktop.recipe
if [ ${#desktop_paths[@]} -ne ${#DESKTOP_TOOLS[@]} ]; then
	log "desktop: skipped, missing some of ${DESKTOP_TOOLS[*]} (test-setup installs them)"
elif [ "$FORCE_IMAGES" != 1 ] && [ -f "$IMAGES/desktop.tar" ] && [ "$(cat "$desktop_stamp" 2>/dev/null)" = "$desktop_recipe" ]; then
	log "desktop: up to date"
else
	log "desktop: building from the host's ${DESKTOP_TOOLS[*]}"
	rootfs=$WORK/desktop-rootfs
	build_desktop_rootfs "$rootfs"
	pack_layer "$rootfs" "$WORK/desktop-layer.tar"
	assemble_image desktop "$WORK/desktop-layer.tar" /bin/sh
	publish desktop
	printf '%s\n' "$desktop_recipe" >"$desktop_stamp"
	chmod 0644 "$desktop_stamp"
fi

# ---------------------------------------------------------------------------
# debian: debootstrap needs minutes and the mirror, so once built it is kept
# until FORCE_IMAGES=1 (it is not reproducible anyway: package versions move).
debian_mirror() {
	if [ -n "${MIRROR:-}" ]; then
		printf '%s\n' "$MIRROR"
		return
	fi
	local m=
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		m=$(awk '$1 == "URIs:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
		# deb [opt=val ...] URI suite components
		m=$(awk '$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			print $i; exit
		}' /etc/apt/sources.list)
	fi
	[ -n "$m" ] || die "no Debian mirror found in apt sources; set MIRROR=URL"
	printf '%s\n' "$m"
}

if [ "$SKIP_DEBIAN" = 1 ]; then
	log "debian: skipped (SKIP_DEBIAN=1)"
elif [ "$FORCE_IMAGES" != 1 ] && [ -f "$IMAGES/debian.tar" ] && [ -f "$IMAGES/debian/index.json" ]; then
	log "debian: present (FORCE_IMAGES=1 rebuilds it)"
else
	mirror=$(debian_mirror)
	rootfs=$WORK/debian-rootfs
	dlog=$CACHE/logs/debootstrap.log
	install -d -m 0755 "$CACHE/debootstrap-cache"
	log "debian: debootstrap bookworm from $mirror (takes minutes; log: $dlog)"
	start=$SECONDS
	if ! debootstrap --variant=minbase --cache-dir="$CACHE/debootstrap-cache" \
		bookworm "$rootfs" "$mirror" >"$dlog" 2>&1; then
		tail -n 30 "$dlog" >&2
		die "debootstrap failed (full log: $dlog)"
	fi
	log "debian: debootstrap took $((SECONDS - start))s"
	# A clean environment: the host's locale or proxy variables are not the image's business.
	in_chroot() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$rootfs" "$@"; }
	# uid 1000 with a home and a matching group, like a desktop's first user;
	# tests use it for --user and for ownership inside the layer.
	in_chroot useradd -m -u 1000 -U -s /bin/bash user
	in_chroot apt-get clean
	unmount_under "$rootfs"
	# Mount points and caches stay as empty directories; their content belongs
	# to the build host or is regenerated at run time.
	pack_layer "$rootfs" "$WORK/debian-layer.tar" --anchored \
		--exclude='dev/*' --exclude='proc/*' --exclude='sys/*' \
		--exclude='run/*' --exclude='tmp/*' --exclude='var/lib/apt/lists/*'
	remove_tree "$rootfs"
	assemble_image debian "$WORK/debian-layer.tar" /bin/bash
	publish debian
fi

# ---------------------------------------------------------------------------
# debian-pip: the debian image and one more layer, python3-pip installed
# from the mirror apt uses (issue 16: pip install --user in the single-id
# mode). A layer on top of debian's, with debian's layer blob unchanged, so
# a store that has debian pulls only the new layer. Only the tests that need
# python pull it. Like debian it is kept once built; it is rebuilt when
# debian changes (the base manifest it was made from is in a stamp file).
pip_stamp=$IMAGES/.debian-pip.base
build_debian_pip() {
	local base=$1 mirror bundle=$WORK/debian-pip-bundle rootfs plog=$CACHE/logs/debian-pip.log
	mirror=$(debian_mirror)
	cp -a "$IMAGES/debian" "$WORK/debian-pip"
	umoci unpack --image "$WORK/debian-pip:latest" "$bundle" >/dev/null
	rootfs=$bundle/rootfs
	# The build's resolver and sources only: both are put back before packing.
	cp -a "$rootfs/etc/apt/sources.list" "$WORK/sources.list.image"
	mv "$rootfs/etc/resolv.conf" "$WORK/resolv.conf.image" 2>/dev/null || true
	cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
	printf 'deb %s bookworm main\n' "$mirror" >"$rootfs/etc/apt/sources.list"
	# The image keeps /dev empty (a mount point); apt's tools need null,
	# zero and urandom. Both mounts are gone before packing.
	mount -t proc proc "$rootfs/proc"
	mount -t tmpfs -o mode=0755 tmpfs "$rootfs/dev"
	mknod -m 0666 "$rootfs/dev/null" c 1 3
	mknod -m 0666 "$rootfs/dev/zero" c 1 5
	mknod -m 0666 "$rootfs/dev/urandom" c 1 9
	log "debian-pip: apt-get install python3-pip from $mirror (log: $plog)"
	if ! env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive chroot "$rootfs" \
		sh -c 'apt-get update && apt-get install -y --no-install-recommends python3-pip && apt-get clean' >"$plog" 2>&1; then
		unmount_under "$rootfs"
		tail -n 30 "$plog" >&2
		die "debian-pip: apt-get failed (full log: $plog)"
	fi
	unmount_under "$rootfs"
	rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/tmp/* "$rootfs"/root/.cache
	rm -f "$rootfs/etc/resolv.conf"
	if [ -e "$WORK/resolv.conf.image" ] || [ -L "$WORK/resolv.conf.image" ]; then
		mv "$WORK/resolv.conf.image" "$rootfs/etc/resolv.conf"
	fi
	cp -a "$WORK/sources.list.image" "$rootfs/etc/apt/sources.list"
	umoci repack --image "$WORK/debian-pip:latest" \
		--history.created="$EPOCH" --history.created_by="$CREATED_BY: apt-get install python3-pip" "$bundle"
	umoci gc --layout "$WORK/debian-pip"
	remove_tree "$bundle"
	skopeo copy --quiet --insecure-policy "oci:$WORK/debian-pip:latest" "oci-archive:$WORK/debian-pip.tar:localhost/debian-pip:latest"
	publish debian-pip
	printf '%s\n' "$base" >"$pip_stamp"
	chmod 0644 "$pip_stamp"
}
if [ "$SKIP_DEBIAN" = 1 ]; then
	log "debian-pip: skipped (SKIP_DEBIAN=1)"
else
	pip_base=$(jq -r '.manifests[0].digest' "$IMAGES/debian/index.json")
	if [ "$FORCE_IMAGES" != 1 ] && [ -f "$IMAGES/debian-pip.tar" ] && [ -f "$IMAGES/debian-pip/index.json" ] &&
		[ "$(cat "$pip_stamp" 2>/dev/null)" = "$pip_base" ]; then
		log "debian-pip: present (built on debian $pip_base; FORCE_IMAGES=1 rebuilds it)"
	else
		build_debian_pip "$pip_base"
	fi
fi
