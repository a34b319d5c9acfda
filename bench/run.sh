#!/usr/bin/env bash
# `make bench`: crun-lite beside its peers (rootless Podman, crun and runc on
# a bundle, bubblewrap, unshare) on this machine. See bench/README.md.
#
#   bench/run.sh [--quick] [--groups LIST] [CRUN_LITE]     (as root)
#
#   --quick         a few samples per case: checks the harness in a minute or two
#   --groups LIST   comma-separated, out of run,keepid,timing,io,pull,load,rss (default: all)
#   CRUN_LITE       the binary to measure (default: bin/crun-lite of this tree;
#                   crun-lite-full must be beside it)
#
# As root it prepares what the bench needs (bench/setup.sh: the test rig of
# `make test`, images, a registry on 127.0.0.1, a host fix for crun), measures
# as the unprivileged test user (bench/measure.sh via hack/as-test-user.sh),
# then stops the registry and deletes the cold-pull stores. A full run with
# all groups writes bench/results/LATEST.md; other runs write
# bench/results/partial.md. Raw data stays in $CRUNLITE_BENCH_DIR/user/out.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
TESTDATA=${CRUNLITE_TESTDATA:-/var/cache/crun-lite-test}
export CRUNLITE_BENCH_DIR=${CRUNLITE_BENCH_DIR:-$TESTDATA/bench}
BENCH=$CRUNLITE_BENCH_DIR

die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}
usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
}

quick=0 groups=''
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 && shift ;;
	--groups) groups=${2:?--groups needs a list} && shift 2 ;;
	--groups=*) groups=${1#--groups=} && shift ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -le 1 ] || usage
bin=$(readlink -f "${1:-$ROOT/bin/crun-lite}")
[ "$(id -u)" = 0 ] || die "run as root (sudo make bench): it prepares images, a registry and a host fix, then measures as the unprivileged test user"
[ -x "$bin" ] || die "$bin is not executable: run make build"
[ -x "$(dirname "$bin")/crun-lite-full" ] || die "no crun-lite-full beside $bin: run make build"

# Stop what this run started, delete the cold stores, whatever happens.
regpid=''
cleanup() {
	local rc=$?
	if [ -n "$regpid" ] && [ "$(cat "/proc/$regpid/comm" 2>/dev/null)" = docker-registry ]; then
		kill "$regpid" 2>/dev/null || true
		rm -f "$BENCH/registry.pid"
	fi
	# Stores of cold pulls, moved aside during the run (see bench/README.md).
	if [ -d "$BENCH/user/trash" ]; then
		find "$BENCH/user/trash" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# setup.sh prints REG= and REGPID= lines on stdout.
setup_out=$("$HERE/setup.sh")
reg=$(sed -n 's/^REG=//p' <<<"$setup_out")
regpid=$(sed -n 's/^REGPID=//p' <<<"$setup_out")
[ -n "$reg" ] || die "bench/setup.sh named no registry"

# The test user must reach the binary and the scripts.
user=${CRUNLITE_TEST_USER:-crunlite-test}
for f in "$bin" "$HERE/measure.sh"; do
	"$ROOT/hack/as-test-user.sh" test -r "$f" || die "$user cannot read $f (a parent directory is not world-readable?)"
done

out=$BENCH/user/out/$(date +%Y%m%d-%H%M%S)
args=(--dir "$BENCH" --reg "$reg" --out "$out")
[ "$quick" = 0 ] || args+=(--quick)
[ -z "$groups" ] || args+=(--groups "$groups")
"$ROOT/hack/as-test-user.sh" bash "$HERE/measure.sh" "${args[@]}" "$bin"

mkdir -p "$ROOT/bench/results"
dest=$ROOT/bench/results/partial.md
[ "$quick" != 0 ] || [ -n "$groups" ] || dest=$ROOT/bench/results/LATEST.md
cp "$out/LATEST.md" "$dest"
echo "bench: wrote $dest"
