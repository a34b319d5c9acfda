#!/usr/bin/env bash
# Cold pulls from a loopback registry, crun-lite beside rootless podman on
# the same storage driver (native overlay), with hyperfine. Run as the
# unprivileged user whose stores these are, e.g. via hack/as-test-user.sh.
#
#   bench/pull-vs-podman.sh CRUN_LITE [IMAGE...]
#
# IMAGE defaults to "debian big": REG/bench/IMAGE:latest, pushed by
# bench/mkbigimage.sh. Every run starts from an empty store (reset in
# hyperfine's --prepare, then sync, so that writeback of the previous run
# is not charged to the next). Prints each median and crun-lite/podman.
#
# Environment: REG (default 127.0.0.1:5055), RUNS (5), BASE (store dir,
# default $HOME/pull-bench; a tmpfs such as /dev/shm measures the tools
# rather than the disk), OUT (results dir, default $BASE/results), SETTLE
# (seconds to wait after each reset, default 0).
#
# SETTLE: ext4 without a journal will not reuse an inode within 60 s of its
# deletion, and scans past every such inode for each file it creates, which
# makes a pull that follows the deletion of a store quadratic in the number
# of files (perf: half the pull in ext4 recently_deleted()). A user's pull
# does not follow the deletion of 30000 files; SETTLE=61 keeps the benchmark
# from measuring it.
set -euo pipefail

bin=$(readlink -f "${1:?usage: $0 CRUN_LITE [IMAGE...]}")
shift
images=(debian big)
[ $# -eq 0 ] || images=("$@")
REG=${REG:-127.0.0.1:5055}
RUNS=${RUNS:-5}
BASE=${BASE:-$HOME/pull-bench}
OUT=${OUT:-$BASE/results}
run=${XDG_RUNTIME_DIR:?}/pull-bench
mkdir -p "$BASE" "$OUT" "$run"

C="$bin --root $BASE/crun-lite --runroot $run/crun-lite"
P="podman --root $BASE/podman --runroot $run/podman --storage-driver overlay"
SETTLE=${SETTLE:-0}
reset_c="$C rmi -a -f >/dev/null 2>&1; sync; sleep $SETTLE"
reset_p="$P rmi -a -f >/dev/null 2>&1; sync; sleep $SETTLE"

for img in "${images[@]}"; do
	ref=$REG/bench/$img:latest
	json=$OUT/pull-$img.json
	hyperfine --style basic --runs "$RUNS" --export-json "$json" \
		--prepare "$reset_c" -n crun-lite "$C pull -q --tls-verify=false $ref" \
		--prepare "$reset_p" -n podman "$P pull -q --tls-verify=false $ref"
	jq -r --arg img "$img" '
		[.results[] | {(.command): .median}] | add as $m
		| "\($img): crun-lite \($m["crun-lite"] * 1000 | round) ms, podman \($m.podman * 1000 | round) ms, ratio \(($m["crun-lite"] / $m.podman * 100 | round) / 100)"' "$json"
done
