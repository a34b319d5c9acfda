#!/usr/bin/env bash
# The offline demo behind `make demo`: run as root on a fresh Debian 12 machine.
# It prepares the machine (without the slow debian image), then, as an ordinary
# user, pulls the busybox test image from a local oci-archive and runs
# containers from it - no network, no registry, no root inside the tool.
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
BIN=${CRUNLITE_BIN:-$REPO/bin/crun-lite}
DEMO_DIR=/tmp/crun-lite-demo

# The archive's index names the image localhost/busybox:latest, which pull
# keeps (as Podman does); the short name finds it locally.
DEMO_IMAGE=${DEMO_IMAGE:-busybox}

die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it sets up the machine, then drops to the test user)"
[ -x "$BIN" ] || die "no crun-lite binary at $BIN; build it first (make build) or set CRUNLITE_BIN"

SKIP_DEBIAN=1 "$HERE/test-setup.sh"
# shellcheck source=/dev/null
. "${CRUNLITE_TESTDATA:-/var/cache/crun-lite-test}/env"

# The repo may sit where the test user cannot read (it usually belongs to
# root), so give the user its own copy of the binary.
install -d -m 0755 -o root -g root "$DEMO_DIR"
install -m 0755 "$BIN" "$DEMO_DIR/crun-lite"
# crun-lite runs containers; every other command is crun-lite-full's.
install -m 0755 "$(dirname "$BIN")/crun-lite-full" "$DEMO_DIR/crun-lite-full"

# show_and_run CMD...: print the command as a user would type it, then run it
# as the test user. Commands name the binary "crun-lite", as if on PATH.
show_and_run() {
	local shown
	printf -v shown ' %q' "$@"
	printf '+%s\n' "$shown"
	"$HERE/as-test-user.sh" "$DEMO_DIR/$1" "${@:2}"
}

cd "$DEMO_DIR" # a directory the test user can enter: as-test-user.sh keeps it

show_and_run crun-lite pull "oci-archive:$CRUNLITE_TESTDATA/images/busybox.tar"
# Inside, uid 1000 is "user" from the image's /etc/passwd, with its groups.
show_and_run crun-lite run --rm --user 1000 "$DEMO_IMAGE" id
# Root in the container is the test user outside; ids 1..65536 come from
# its range in /etc/subuid.
show_and_run crun-lite run --rm "$DEMO_IMAGE" cat /proc/self/uid_map

if [ -t 0 ]; then
	echo "Starting an interactive shell in the container as uid 1000; leave it with 'exit'." >&2
	show_and_run crun-lite run -it --rm --user 1000 "$DEMO_IMAGE" sh
fi
