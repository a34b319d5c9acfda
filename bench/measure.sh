#!/usr/bin/env bash
# The measuring half of `make bench`: run as the unprivileged test user (by
# bench/run.sh, through hack/as-test-user.sh) after bench/setup.sh. Times
# crun-lite and, where installed, the peers on the same images, the same
# store driver and the same machine state, interleaved; writes results.tsv,
# LATEST.md and the raw data to OUT and prints the table. See bench/README.md.
#
#   bench/measure.sh --dir BENCH --reg HOST:PORT --out OUT [--quick] [--groups LIST] CRUN_LITE
#
# Groups: run exec detach net keepid single pull load io rss timing (default: all).
set -euo pipefail
export LC_ALL=C

ALL_GROUPS=run,exec,detach,net,keepid,single,timing,io,pull,load,rss
usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
}

# --- cold stores (hyperfine's --prepare calls this script with --fresh) --------
# fresh KIND ROOT RUNROOT TRASH CRUN_LITE: move the store aside and create an
# empty one in its place. Moving is a rename: deleting the previous pull's
# tens of thousands of files would slow the next one (see bench/README.md,
# "Cold pulls"); run.sh deletes the trash when the bench ends.
fresh() {
	local kind=$1 root=$2 runroot=$3 trash=$4 bin=$5
	if [ -e "$root" ]; then
		mv "$root" "$(mktemp -d "$trash/$(basename "$root").XXXXXX")/"
	fi
	# The run root is on tmpfs and holds only lock and state files.
	if [ -e "$runroot" ]; then
		rm -rf "$runroot" 2>/dev/null || mv "$runroot" "$(mktemp -d "$trash/runroot.XXXXXX")/"
	fi
	case $kind in
	crun-lite) "$bin" --root "$root" --runroot "$runroot" --storage-driver overlay images >/dev/null ;;
	podman) podman --root "$root" --runroot "$runroot" --storage-driver overlay images >/dev/null 2>&1 ;;
	*) return 2 ;;
	esac
	# The previous run's writeback must not be charged to the next.
	sync
}
if [ "${1:-}" = --fresh ]; then
	shift
	fresh "$@"
	exit
fi

# --- arguments --------------------------------------------------------------------
BENCH='' REG='' OUT='' QUICK=0 SEL=$ALL_GROUPS
while [ $# -gt 0 ]; do
	case $1 in
	--dir) BENCH=$2 && shift 2 ;;
	--reg) REG=$2 && shift 2 ;;
	--out) OUT=$2 && shift 2 ;;
	--quick) QUICK=1 && shift ;;
	--groups) SEL=$2 && shift 2 ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
if [ $# -ne 1 ] || [ -z "$BENCH" ] || [ -z "$REG" ] || [ -z "$OUT" ]; then usage; fi
BIN=$(readlink -f "$1")
SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
for g in ${SEL//,/ }; do
	[[ ,$ALL_GROUPS, == *,$g,* ]] || {
		echo "measure: unknown group '$g' (groups: $ALL_GROUPS)" >&2
		exit 2
	}
done
want() { [[ ,$SEL, == *,$1,* ]]; }

# Samples: a start-up case gets ROUNDS rounds of RUNS runs per tool (plus one
# warm-up run per round). A full run measures for about 12-15 minutes on 2
# cores; quick mode for about 2.
if [ "$QUICK" = 1 ]; then
	RUN_ROUNDS=2 RUN_RUNS=2 EXEC_ROUNDS=2 EXEC_RUNS=2 DETACH_ROUNDS=2 DETACH_RUNS=2 KEEPID_ROUNDS=1 KEEPID_RUNS=2 SINGLE_ROUNDS=4 SINGLE_RUNS=10
	NET_ROUNDS=1 NET_SECS=3 NET_CURLS=50
	PULL_ROUNDS=1 PULL_RUNS=1 LOAD_ROUNDS=1 IO_ROUNDS=1 IO_MB=256 RSS_ROUNDS=1 TIMING_RUNS=10
else
	RUN_ROUNDS=10 RUN_RUNS=6 EXEC_ROUNDS=10 EXEC_RUNS=6 DETACH_ROUNDS=5 DETACH_RUNS=4 KEEPID_ROUNDS=5 KEEPID_RUNS=4 SINGLE_ROUNDS=10 SINGLE_RUNS=20
	NET_ROUNDS=3 NET_SECS=10 NET_CURLS=200
	PULL_ROUNDS=6 PULL_RUNS=2 LOAD_ROUNDS=6 IO_ROUNDS=7 IO_MB=1024 RSS_ROUNDS=5 TIMING_RUNS=40
fi

# --- environment --------------------------------------------------------------------
# The peers get a HOME of their own: the integration tests run as the same
# user and must not see the bench's containers.conf.
export HOME=$BENCH/user/home
export CONTAINERS_CONF=$HOME/.config/containers/containers.conf
unset XDG_CONFIG_HOME XDG_DATA_HOME CONTAINERS_STORAGE_CONF CONTAINERS_REGISTRIES_CONF
: "${XDG_RUNTIME_DIR:?measure: XDG_RUNTIME_DIR must be set}"

S=$BENCH/user/stores
RR=$XDG_RUNTIME_DIR/crun-lite-bench # run roots (tmpfs, like a desktop's)
TRASH=$BENCH/user/trash
VOL=$BENCH/user/vol
ROOTFS=$BENCH/rootfs/busybox
ARCHIVE=$BENCH/images/big.tar
FUSE=/usr/bin/fuse-overlayfs
IMG_BB=$REG/bench/busybox:latest
IMG_DEB=$REG/bench/debian:latest
IMG_L16=$REG/bench/layers16:latest
IMG_BIG=$REG/bench/big:latest
mkdir -p "$OUT/raw" "$OUT/cases" "$RR" "$TRASH" "$BENCH/user/bundles"
LOG=$OUT/run.log
RES=$OUT/results.tsv
: >"$RES"
: >"$OUT/case-order"

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" | tee -a "$LOG" >&2; }

# Every tool command line, by tool and store. Stores live in $S, one per tool
# and driver; cold pulls and loads use the "cold" ones, emptied before each run.
CL=("$BIN" --root "$S/cl-overlay" --runroot "$RR/cl-overlay" --storage-driver overlay)
CLF=("$BIN" --root "$S/cl-fuse" --runroot "$RR/cl-fuse" --storage-driver overlay --storage-opt "overlay.mount_program=$FUSE")
# The single-id mode (--userns=single: its own namespace and store).
CLS=("$BIN" --userns=single --root "$S/cl-single" --runroot "$RR/cl-single" --storage-driver overlay)
CLC=("$BIN" --root "$S/cold-cl" --runroot "$RR/cold-cl" --storage-driver overlay)
P=(podman --root "$S/p-overlay" --runroot "$RR/p-overlay" --storage-driver overlay)
PF=(podman --root "$S/p-fuse" --runroot "$RR/p-fuse" --storage-driver overlay --storage-opt "overlay.mount_program=$FUSE")
PC=(podman --root "$S/cold-p" --runroot "$RR/cold-p" --storage-driver overlay)
FRESH_CL="bash $SELF --fresh crun-lite $S/cold-cl $RR/cold-cl $TRASH $BIN"
FRESH_P="bash $SELF --fresh podman $S/cold-p $RR/cold-p $TRASH $BIN"

# --- which tools can run ------------------------------------------------------------
SKIPPED=()
HAVE=()
have() { [[ " ${HAVE[*]} " == *" $1 "* ]]; }
skip() {
	SKIPPED+=("$1 ($2)")
	log "skipped: $1: $2"
}
# CRUNLITE_BENCH_SKIP=podman,crun,... leaves out peers that are installed.
unwanted() { [[ ,${CRUNLITE_BENCH_SKIP:-}, == *,$1,* ]]; }
probe() { # probe NAME CMD...: NAME is usable when CMD succeeds
	local name=$1
	shift
	if unwanted "$name"; then
		skip "$name" "CRUNLITE_BENCH_SKIP"
	elif ! command -v "$1" >/dev/null; then
		skip "$name" "$1 is not installed"
	elif "$@" >"$OUT/probe.out" 2>&1; then
		HAVE+=("$name")
	else
		skip "$name" "$(tail -n 1 "$OUT/probe.out" | cut -c1-120)"
		{
			echo "### probe $name: $*"
			cat "$OUT/probe.out"
		} >>"$LOG"
	fi
}

command -v hyperfine >/dev/null || {
	echo "measure: hyperfine is not installed (bench/setup.sh installs it)" >&2
	exit 1
}
curl -fsS -o /dev/null --max-time 5 "http://$REG/v2/" || {
	echo "measure: no registry on $REG (bench/run.sh starts it)" >&2
	exit 1
}
[ -x "$BIN" ] || {
	echo "measure: $BIN is not executable by $(id -un)" >&2
	exit 1
}

log "crun-lite: $BIN ($("$BIN" --version 2>&1 | head -n 1))"
if unwanted fuse; then
	skip "fuse-overlayfs stores" "CRUNLITE_BENCH_SKIP"
elif [ -x "$FUSE" ]; then
	HAVE+=(fuse)
else
	skip "fuse-overlayfs stores" "$FUSE is not installed"
fi
probe podman podman --root "$S/p-overlay" --runroot "$RR/p-overlay" --storage-driver overlay info
probe unshare unshare -Urmpf true
probe iperf3 iperf3 --version
probe bwrap bwrap --unshare-all --bind "$ROOTFS" / --proc /proc --dev /dev /bin/true

# OCI bundles for the bare runtimes: their own rootless spec, the busybox
# rootfs read-only, `true` as the process; -net adds a network namespace
# (crun's rootless spec has one, runc's has none).
bundle() { # bundle RUNTIME
	local rt=$1 dir=$BENCH/user/bundles/$1
	rm -rf "$dir" "$dir-net"
	mkdir -p "$dir" "$dir-net"
	(cd "$dir" && "$rt" spec --rootless) || return 1
	jq --arg r "$ROOTFS" '.process.terminal = false | .process.args = ["true"] | .root = {path: $r, readonly: true}
		| .linux.namespaces |= map(select(.type != "network"))' "$dir/config.json" >"$dir/c.json"
	mv "$dir/c.json" "$dir/config.json"
	jq '.linux.namespaces += [{type: "network"}]' "$dir/config.json" >"$dir-net/config.json"
	"$rt" run -b "$dir" "bench-probe-$$"
}
for rt in crun runc; do
	if unwanted "$rt"; then
		skip "$rt" "CRUNLITE_BENCH_SKIP"
	elif ! command -v "$rt" >/dev/null; then
		skip "$rt" "not installed"
	elif bundle "$rt" >"$OUT/probe.out" 2>&1; then
		HAVE+=("$rt")
	else
		skip "$rt" "$(tail -n 1 "$OUT/probe.out" | cut -c1-120)"
		cat "$OUT/probe.out" >>"$LOG"
	fi
done

# --- cases and samples -----------------------------------------------------------------
# A case is one thing measured for several tools: $OUT/cases/ID holds its
# label, unit, tools (in order) and one sample file per tool.
case_new() { # case_new ID UNIT LABEL
	local d=$OUT/cases/$1
	mkdir -p "$d"
	printf '%s\n' "$3" >"$d/label"
	printf '%s\n' "$2" >"$d/unit"
	: >"$d/tools"
	echo "$1" >>"$OUT/case-order"
}
tool_file() { printf '%s/cases/%s/%s' "$OUT" "$1" "$(printf '%s' "$2" | tr -c 'A-Za-z0-9._-' '_')"; }
case_tool() { # case_tool ID TOOL: register TOOL (keeps the order of first use)
	grep -qxF -- "$2" "$OUT/cases/$1/tools" || echo "$2" >>"$OUT/cases/$1/tools"
	touch "$(tool_file "$1" "$2")"
}
sample() { # sample ID TOOL VALUE
	case_tool "$1" "$2"
	echo "$3" >>"$(tool_file "$1" "$2")"
}
fail() { # fail ID TOOL WHY
	case_tool "$1" "$2"
	echo "$3" >"$(tool_file "$1" "$2").fail"
	log "FAILED: $(cat "$OUT/cases/$1/label") [$2]: $3"
}
# case_finish ID: one results.tsv line per tool: id label tool unit median min max n status
case_finish() {
	local id=$1 d=$OUT/cases/$1 tool f label unit stats
	label=$(cat "$d/label") unit=$(cat "$d/unit")
	while IFS= read -r tool; do
		f=$(tool_file "$id" "$tool")
		if [ -s "$f" ]; then
			stats=$(sort -g "$f" | awk '{ a[NR] = $1 } END {
				m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
				printf "%s\t%s\t%s\t%d", m, a[1], a[NR], NR }')
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$label" "$tool" "$unit" "$stats" \
				"$([ -f "$f.fail" ] && echo "partial: $(cat "$f.fail")" || echo ok)" >>"$RES"
		else
			printf '%s\t%s\t%s\t%s\t-\t-\t-\t0\t%s\n' "$id" "$label" "$tool" "$unit" \
				"$(cat "$f.fail" 2>/dev/null || echo "no samples")" >>"$RES"
		fi
	done <"$d/tools"
}

# Interleaved hyperfine runs. hyperfine runs all runs of one command in a
# block, so drift in the machine's state (other load, page cache, thermal)
# would land on one tool only. Instead: ROUNDS rounds, each running every
# entry for a few runs (order reversed every other round), samples pooled
# per tool. Entries: case, tool, runs per round, warm-up runs, prepare, command.
E_CASE=() E_TOOL=() E_RUNS=() E_WARM=() E_PREP=() E_CMD=()
entry() {
	E_CASE+=("$1") E_TOOL+=("$2") E_RUNS+=("$3") E_WARM+=("$4") E_PREP+=("$5") E_CMD+=("$6")
	case_tool "$1" "$2"
}
interleave() { # interleave ROUNDS SCALE: SCALE converts seconds to the case's unit
	local rounds=$1 scale=$2 r i n=${#E_CASE[@]} json
	local -a order bad=()
	for ((r = 1; r <= rounds; r++)); do
		order=()
		for ((i = 0; i < n; i++)); do
			if ((r % 2)); then order+=("$i"); else order=("$i" "${order[@]}"); fi
		done
		for i in "${order[@]}"; do
			[ -z "${bad[i]:-}" ] || continue
			json=$OUT/raw/$(basename "$(tool_file "${E_CASE[i]}" "${E_TOOL[i]}")").${E_CASE[i]}.r$r.json
			local -a args=(-N --style basic --runs "${E_RUNS[i]}" --warmup "${E_WARM[i]}" --export-json "$json")
			[ -z "${E_PREP[i]}" ] || args+=(--prepare "${E_PREP[i]}")
			echo "### ${E_CASE[i]} [${E_TOOL[i]}] round $r: ${E_CMD[i]}" >>"$LOG"
			if hyperfine "${args[@]}" "${E_CMD[i]}" >>"$LOG" 2>&1; then
				jq -r --argjson k "$scale" '.results[0].times[] * $k' "$json" >>"$(tool_file "${E_CASE[i]}" "${E_TOOL[i]}")"
			else
				bad[i]=1
				# hyperfine hides the command's output: run it once more for the log.
				[ -z "${E_PREP[i]}" ] || eval "${E_PREP[i]}" >>"$LOG" 2>&1 || true
				local rc=0 msg
				eval "${E_CMD[i]}" >"$OUT/fail.out" 2>&1 || rc=$?
				cat "$OUT/fail.out" >>"$LOG"
				msg=$(tail -n 1 "$OUT/fail.out" | cut -c1-100)
				fail "${E_CASE[i]}" "${E_TOOL[i]}" "round $r: $([ "$rc" = 0 ] && echo "failed under hyperfine, not when run again" || echo "exit status $rc")${msg:+: $msg}"
			fi
		done
		log "  round $r/$rounds done"
	done
	E_CASE=() E_TOOL=() E_RUNS=() E_WARM=() E_PREP=() E_CMD=()
}

ensure_images() { # ensure_images NAME...: pull the run images into the stores of tool NAME
	local t img
	for t in "$@"; do
		for img in "$IMG_BB" "$IMG_DEB" "$IMG_L16"; do
			case $t in
			cl) "${CL[@]}" pull -q --tls-verify=false "$img" ;;
			clf) "${CLF[@]}" pull -q --tls-verify=false "$img" ;;
			cls) "${CLS[@]}" pull -q --tls-verify=false "$img" ;;
			p) "${P[@]}" pull -q --tls-verify=false "$img" ;;
			pf) "${PF[@]}" pull -q --tls-verify=false "$img" ;;
			esac >/dev/null 2>>"$LOG" || {
				log "pull of $img for $t failed (see $LOG)"
				return 1
			}
		done
	done
}

# --- groups --------------------------------------------------------------------------------
group_run() {
	log "group run: run --rm IMAGE true, and the bare floor (${RUN_ROUNDS} rounds x ${RUN_RUNS} runs)"
	ensure_images cl
	have podman && ensure_images p
	have fuse && ensure_images clf
	have fuse && have podman && ensure_images pf
	local w=1 n=$RUN_RUNS
	case_new run-busybox ms "run --rm busybox true"
	entry run-busybox crun-lite "$n" $w "" "${CL[*]} run --rm $IMG_BB true"
	have podman && entry run-busybox podman "$n" $w "" "${P[*]} run --rm $IMG_BB true"
	have crun && entry run-busybox "crun run (bundle)" "$n" $w "" "crun run -b $BENCH/user/bundles/crun bench-$$"
	have runc && entry run-busybox "runc run (bundle)" "$n" $w "" "runc run -b $BENCH/user/bundles/runc bench-$$"
	have bwrap && entry run-busybox bwrap "$n" $w "" "bwrap --unshare-all --share-net --bind $ROOTFS / --proc /proc --dev /dev /bin/true"
	have unshare && entry run-busybox "unshare -Urmpf" "$n" $w "" "unshare -Urmpf true"

	case_new run-busybox-none ms "run --rm --network none busybox true"
	entry run-busybox-none crun-lite "$n" $w "" "${CL[*]} run --rm --network none $IMG_BB true"
	have podman && entry run-busybox-none podman "$n" $w "" "${P[*]} run --rm --network none $IMG_BB true"
	have crun && entry run-busybox-none "crun run (bundle)" "$n" $w "" "crun run -b $BENCH/user/bundles/crun-net bench-$$"
	have runc && entry run-busybox-none "runc run (bundle)" "$n" $w "" "runc run -b $BENCH/user/bundles/runc-net bench-$$"
	have bwrap && entry run-busybox-none bwrap "$n" $w "" "bwrap --unshare-all --bind $ROOTFS / --proc /proc --dev /dev /bin/true"
	have unshare && entry run-busybox-none "unshare -Urmpfn" "$n" $w "" "unshare -Urmpfn true"

	case_new run-debian ms "run --rm --user 1000 debian true"
	entry run-debian crun-lite "$n" $w "" "${CL[*]} run --rm --user 1000 $IMG_DEB true"
	have podman && entry run-debian podman "$n" $w "" "${P[*]} run --rm --user 1000 $IMG_DEB true"

	case_new run-layers16 ms "run --rm layers16 true (16 layers)"
	entry run-layers16 crun-lite "$n" $w "" "${CL[*]} run --rm $IMG_L16 true"
	have podman && entry run-layers16 podman "$n" $w "" "${P[*]} run --rm $IMG_L16 true"

	if have fuse; then
		case_new run-busybox-fuse ms "run --rm busybox true, fuse-overlayfs store"
		entry run-busybox-fuse crun-lite "$n" $w "" "${CLF[*]} run --rm $IMG_BB true"
		have podman && entry run-busybox-fuse podman "$n" $w "" "${PF[*]} run --rm $IMG_BB true"
	fi
	interleave "$RUN_ROUNDS" 1000
	for c in run-busybox run-busybox-none run-debian run-layers16 run-busybox-fuse; do
		[ ! -d "$OUT/cases/$c" ] || case_finish "$c"
	done
}

# group_exec: exec CTR true into a container that sleeps, started for the
# group: a foreground `crun-lite run` in the background of this script,
# `podman run -d`.
group_exec() {
	log "group exec: exec CTR true (${EXEC_ROUNDS} rounds x ${EXEC_RUNS} runs)"
	ensure_images cl
	have podman && ensure_images p
	local n=$EXEC_RUNS ctr=bench-exec-$$ clpid i
	"${CL[@]}" run --name "$ctr" --stop-timeout 1 "$IMG_BB" sleep 100000 >/dev/null 2>>"$LOG" &
	clpid=$!
	for ((i = 0; i < 200; i++)); do
		"${CL[@]}" exec "$ctr" true 2>/dev/null && break
		nap 0.05
	done
	have podman && "${P[@]}" run -d --name "$ctr" "$IMG_BB" sleep 100000 >/dev/null 2>>"$LOG"
	case_new exec-true ms "exec CTR true (busybox sleeping)"
	entry exec-true crun-lite "$n" 1 "" "${CL[*]} exec $ctr true"
	have podman && entry exec-true podman "$n" 1 "" "${P[*]} exec $ctr true"
	interleave "$EXEC_ROUNDS" 1000
	case_finish exec-true
	# SIGTERM, which the sleep as pid 1 ignores: SIGKILL a second later.
	kill "$clpid" 2>/dev/null || true
	wait "$clpid" 2>/dev/null || true
	"${CL[@]}" rm "$ctr" >/dev/null 2>>"$LOG" || true
	have podman && { "${P[@]}" rm -f -t 0 "$ctr" >/dev/null 2>>"$LOG" || true; }
}

# group_detach: the background lifecycle beside Podman's (conmon): run -d
# until the ID is printed, ps with 50 containers (30 running), stop -t 0,
# and the monitor's memory beside a sleeping container.
group_detach() {
	log "group detach: run -d, ps, stop, monitor memory (${DETACH_ROUNDS} rounds x ${DETACH_RUNS} runs)"
	ensure_images cl
	have podman && ensure_images p
	local n=$DETACH_RUNS w=1 i t
	local -a tools=(cl)
	have podman && tools+=(p)
	case_new detach-run ms "run -d --rm busybox sleep 100 (until the ID is printed)"
	entry detach-run crun-lite "$n" $w "" "${CL[*]} run -d --rm $IMG_BB sleep 100"
	have podman && entry detach-run podman "$n" $w "" "${P[*]} run -d --rm $IMG_BB sleep 100"
	interleave "$DETACH_ROUNDS" 1000
	case_finish detach-run
	"${CL[@]}" stop -t 0 --all >/dev/null 2>>"$LOG" || true
	have podman && { "${P[@]}" stop -t 0 --all >/dev/null 2>>"$LOG" || true; }

	case_new detach-stop ms "stop -t 0 CTR (busybox sleeping, started by --prepare)"
	# hyperfine -N runs --prepare without a shell too: give it one.
	entry detach-stop crun-lite "$n" 0 "sh -c '${CL[*]} rm -f bench-stop >/dev/null 2>&1; ${CL[*]} run -d --name bench-stop $IMG_BB sleep 1000'" "${CL[*]} stop -t 0 bench-stop"
	have podman && entry detach-stop podman "$n" 0 "sh -c '${P[*]} rm -f -t 0 bench-stop >/dev/null 2>&1; ${P[*]} run -d --name bench-stop $IMG_BB sleep 1000'" "${P[*]} stop -t 0 bench-stop"
	interleave "$DETACH_ROUNDS" 1000
	case_finish detach-stop
	"${CL[@]}" rm -f bench-stop >/dev/null 2>&1 || true
	have podman && { "${P[@]}" rm -f -t 0 bench-stop >/dev/null 2>&1 || true; }

	# 50 containers, 30 of them running.
	for t in "${tools[@]}"; do
		local -n tc=${t^^}
		for ((i = 0; i < 50; i++)); do
			if ((i < 30)); then
				"${tc[@]}" run -d --name "bench-ps-$i" "$IMG_BB" sleep 100000
			else
				"${tc[@]}" run --name "bench-ps-$i" "$IMG_BB" true
			fi >/dev/null 2>>"$LOG" || log "run bench-ps-$i for $t failed"
		done
	done
	case_new detach-ps ms "ps with 50 containers (30 running)"
	entry detach-ps crun-lite "$n" $w "" "${CL[*]} ps"
	have podman && entry detach-ps podman "$n" $w "" "${P[*]} ps"
	interleave "$DETACH_ROUNDS" 1000

	# Memory of one monitor beside its sleeping container: crun-lite's
	# monitor, Podman's conmon.
	case_new detach-monitor-rss MiB "monitor memory per detached container: VmRSS"
	case_new detach-monitor-pss MiB "monitor memory per detached container: Pss"
	local pid comm
	# Only this bench's: the monitors name their store in their arguments.
	for pid in $(pgrep -u "$(id -u)" -x crun-lite-mon) $(pgrep -u "$(id -u)" -x conmon); do
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE "$S/(cl|p)-overlay" || continue
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
		t=crun-lite
		[ "$comm" = conmon ] && t=podman
		sample detach-monitor-rss "$t" "$(awk '/^VmRSS/ { printf "%.2f", $2 / 1024 }' "/proc/$pid/status")"
		sample detach-monitor-pss "$t" "$(awk '/^Pss:/ { printf "%.2f", $2 / 1024 }' "/proc/$pid/smaps_rollup")"
	done
	for c in detach-ps detach-monitor-rss detach-monitor-pss; do case_finish "$c"; done
	"${CL[@]}" rm -f --all >/dev/null 2>>"$LOG" || true
	have podman && { "${P[@]}" rm -f -t 0 --all >/dev/null 2>>"$LOG" || true; }
}

# ours PID...: those of PIDs started with this run's XDG_RUNTIME_DIR.
ours() {
	local p
	for p in "$@"; do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR" && echo "$p"
	done
	return 0
}

# group_net: the default network beside Podman's (slirp4netns, and
# rootlessport for -p): TCP throughput host -> container through -p and
# container -> a service on the host's loopback (iperf3), the latency of a
# 1 KiB page through -p (curl), and the network helpers' memory while one
# container publishes a port. iperf3 runs in the Debian image with the
# host's binary and libraries bound in (the same Debian release).
group_net() {
	log "group net: iperf3 and curl through the default network (${NET_ROUNDS} rounds, ${NET_SECS} s each)"
	have iperf3 || { skip "group net" "iperf3 is not installed (bench/setup.sh installs it)"; return; }
	ensure_images cl
	have podman && ensure_images p
	local -a tools=(cl) IPERF=(-v /usr/bin/iperf3:/usr/bin/iperf3:ro -v /usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:ro)
	have podman && tools+=(p)
	local t tool r port hport www=$OUT/net-www hpid pids pid sum
	mkdir -p "$www" && printf '%01024d' 0 >"$www/1k" && chmod 0755 "$www"
	case_new net-in Gbit/s "TCP host -> container through -p (iperf3, ${NET_SECS} s)"
	case_new net-out Gbit/s "TCP container -> host loopback service (iperf3, ${NET_SECS} s; Podman: slirp4netns allow_host_loopback)"
	case_new net-curl ms "curl of a 1 KiB page through -p (busybox httpd), median"
	case_new net-rss MiB "network helpers' VmRSS, one container publishing a port"
	hport=$((30000 + RANDOM % 5000))
	iperf3 -s -B 127.0.0.1 -p "$hport" >>"$LOG" 2>&1 &
	hpid=$!
	for t in "${tools[@]}"; do
		local -n tc=${t^^}
		tool=crun-lite
		local out_net=() gw=host.containers.internal
		if [ "$t" = p ]; then tool=podman out_net=(--network slirp4netns:allow_host_loopback=true) gw=10.0.2.2; fi
		port=$((20000 + RANDOM % 10000))
		"${tc[@]}" rm -f bench-net >/dev/null 2>&1 || true
		"${tc[@]}" run -d --name bench-net -p "127.0.0.1:$port:5201" "${IPERF[@]}" "$IMG_DEB" iperf3 -s >/dev/null 2>>"$LOG" ||
			{ fail net-in "$tool" "run -d -p with iperf3 -s failed (see run.log)"; continue; }
		# Until the server answers (iperf3 -c with -n, a few bytes: -t takes whole seconds).
		for ((r = 0; r < 50; r++)); do timeout 5 iperf3 -c 127.0.0.1 -p "$port" -n 1K >/dev/null 2>&1 && break; nap 0.1; done
		# The helpers: crun-lite's hub with its pasta (shared by all
		# containers); Podman's slirp4netns and rootlessport (per container).
		# Only this run's (its XDG_RUNTIME_DIR): the test user may run the
		# hubs and containers of other runtime dirs meanwhile.
		if [ "$t" = cl ]; then
			pids="$(ours $(pgrep -u "$(id -u)" -f 'crun-lite-full network-hub' || true) $(pgrep -u "$(id -u)" -x passt.avx2 || true) $(pgrep -u "$(id -u)" -x pasta.avx2 || true) $(pgrep -u "$(id -u)" -x pasta || true))"
		else
			pids="$(ours $(pgrep -u "$(id -u)" -x slirp4netns || true) $(pgrep -u "$(id -u)" -f rootlessport || true))"
		fi
		sum=0
		for pid in $pids; do
			sum=$(awk -v s="$sum" '/^VmRSS/ { s += $2 / 1024 } END { printf "%.2f", s }' "/proc/$pid/status" 2>/dev/null || echo "$sum")
		done
		sample net-rss "$tool" "$sum"
		for ((r = 0; r < NET_ROUNDS; r++)); do
			timeout $((NET_SECS + 20)) iperf3 -c 127.0.0.1 -p "$port" -t "$NET_SECS" -J >"$OUT/iperf.json" 2>>"$LOG" &&
				sample net-in "$tool" "$(jq '.end.sum_received.bits_per_second / 1e9' "$OUT/iperf.json")" ||
				fail net-in "$tool" "iperf3 through -p failed"
			"${tc[@]}" run --rm "${out_net[@]}" "${IPERF[@]}" "$IMG_DEB" iperf3 -c "$gw" -p "$hport" -t "$NET_SECS" -J >"$OUT/iperf.json" 2>>"$LOG" &&
				sample net-out "$tool" "$(jq '.end.sum_received.bits_per_second / 1e9' "$OUT/iperf.json")" ||
				fail net-out "$tool" "iperf3 to the host failed"
		done
		"${tc[@]}" rm -f bench-net >/dev/null 2>>"$LOG" || true
		"${tc[@]}" rm -f bench-web >/dev/null 2>&1 || true
		"${tc[@]}" run -d --name bench-web -p "127.0.0.1:$((port + 1)):80" -v "$www:/www:ro" "$IMG_BB" httpd -f -p 80 -h /www >/dev/null 2>>"$LOG" ||
			fail net-curl "$tool" "run -d -p with httpd failed (see run.log)"
		for ((r = 0; r < 50; r++)); do curl -fs -o /dev/null "http://127.0.0.1:$((port + 1))/1k" && break; nap 0.1; done
		for ((r = 0; r < NET_CURLS; r++)); do
			sample net-curl "$tool" "$(curl -fs -o /dev/null -w '%{time_total}' "http://127.0.0.1:$((port + 1))/1k" | awk '{ printf "%.3f", $1 * 1000 }')"
		done
		"${tc[@]}" rm -f bench-web >/dev/null 2>>"$LOG" || true
	done
	kill "$hpid" 2>/dev/null || true
	wait "$hpid" 2>/dev/null || true
	for c in net-in net-out net-curl net-rss; do case_finish "$c"; done
}

group_keepid() {
	log "group keepid: --userns=keep-id beside the default mode (${KEEPID_ROUNDS} rounds x ${KEEPID_RUNS} runs)"
	ensure_images cl
	have podman && ensure_images p
	local n=$KEEPID_RUNS
	case_new keepid-default ms "run --rm debian true"
	case_new keepid ms "run --rm --userns=keep-id debian true"
	entry keepid-default crun-lite "$n" 1 "" "${CL[*]} run --rm $IMG_DEB true"
	entry keepid crun-lite "$n" 1 "" "${CL[*]} run --rm --userns=keep-id $IMG_DEB true"
	if have podman; then
		entry keepid-default podman "$n" 1 "" "${P[*]} run --rm $IMG_DEB true"
		entry keepid podman "$n" 1 "" "${P[*]} run --rm --userns=keep-id $IMG_DEB true"
	fi
	# What --share and --desktop add on top of keep-id, against real
	# headless servers started here (the D-Bus proxy's start included).
	local wl="" bus="" pids=()
	if command -v weston >/dev/null && command -v dbus-daemon >/dev/null && command -v xdg-dbus-proxy >/dev/null; then
		wl=crl-bench-wl-$$ bus=$OUT/bench-bus
		XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:?} weston --backend=headless-backend.so --socket="$wl" --idle-time=0 >"$OUT/weston.log" 2>&1 &
		pids+=($!)
		dbus-daemon --session --nofork --address="unix:path=$bus" >"$OUT/dbus.log" 2>&1 &
		pids+=($!)
		for _ in $(seq 50); do [ -S "$XDG_RUNTIME_DIR/$wl" ] && [ -S "$bus" ] && break; sleep 0.1; done
		case_new keepid-share-wayland ms "run --rm --share wayland debian true"
		case_new keepid-desktop ms "run --rm --desktop debian true (weston, a session bus)"
		local share_env="env WAYLAND_DISPLAY=$wl DBUS_SESSION_BUS_ADDRESS=unix:path=$bus"
		entry keepid-share-wayland crun-lite "$n" 1 "" "$share_env ${CL[*]} run --rm --share wayland $IMG_DEB true"
		entry keepid-desktop crun-lite "$n" 1 "" "$share_env ${CL[*]} run --rm --desktop $IMG_DEB true"
	else
		skip keepid-desktop "weston, dbus-daemon or xdg-dbus-proxy missing (hack/test-setup.sh installs them)"
	fi
	interleave "$KEEPID_ROUNDS" 1000
	case_finish keepid-default
	case_finish keepid
	if [ -n "$wl" ]; then
		case_finish keepid-share-wayland
		case_finish keepid-desktop
		kill "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
}

# group_single: start-up in the single-id mode beside the full mode, same
# binary, user and driver (issue 16 asks for it within 10 %). The two differ
# by about 1 % (docs/single-id.md), while on these shared 2-core VMs the
# median of 50 samples moved by up to 8-11 % from run to run: 200 samples a
# tool (about 20 s) make the ratio a measurement of the modes, not of the
# neighbours' load; quick mode still gets 40 (about 3 s).
group_single() {
	log "group single: the single-id mode beside the full mode (${SINGLE_ROUNDS} rounds x ${SINGLE_RUNS} runs)"
	ensure_images cl cls
	local n=$SINGLE_RUNS
	case_new single-busybox ms "run --rm busybox true: full mode, then --userns=single"
	entry single-busybox "crun-lite full mode" "$n" 1 "" "${CL[*]} run --rm $IMG_BB true"
	entry single-busybox "crun-lite single-id" "$n" 1 "" "${CLS[*]} run --rm $IMG_BB true"
	case_new single-debian ms "run --rm debian true: full mode, then --userns=single"
	entry single-debian "crun-lite full mode" "$n" 1 "" "${CL[*]} run --rm $IMG_DEB true"
	entry single-debian "crun-lite single-id" "$n" 1 "" "${CLS[*]} run --rm $IMG_DEB true"
	interleave "$SINGLE_ROUNDS" 1000
	case_finish single-busybox
	case_finish single-debian
}

group_pull() {
	log "group pull: cold pulls from $REG (${PULL_ROUNDS} rounds)"
	local img n
	for img in busybox debian layers16 big; do
		n=$PULL_RUNS
		[ "$img" != big ] || n=1
		case_new "pull-$img" s "cold pull of $img"
		entry "pull-$img" crun-lite "$n" 0 "$FRESH_CL" "${CLC[*]} pull -q --tls-verify=false $REG/bench/$img:latest"
		have podman && entry "pull-$img" podman "$n" 0 "$FRESH_P" "${PC[*]} pull -q --tls-verify=false $REG/bench/$img:latest"
	done
	interleave "$PULL_ROUNDS" 1
	for img in busybox debian layers16 big; do case_finish "pull-$img"; done
}

group_load() {
	log "group load: load -i $(du -h "$ARCHIVE" | cut -f1) oci-archive (${LOAD_ROUNDS} rounds)"
	case_new load-big s "load -i big.tar (oci-archive, $(du -h "$ARCHIVE" | cut -f1)B)"
	entry load-big crun-lite 1 0 "$FRESH_CL" "${CLC[*]} load -q -i $ARCHIVE"
	have podman && entry load-big podman 1 0 "$FRESH_P" "${PC[*]} load -q -i $ARCHIVE"
	interleave "$LOAD_ROUNDS" 1
	case_finish load-big
}

# I/O: GNU dd in the debian image, IO_MB MiB in the container's root
# filesystem (/data, in the container's upper dir) and in a bind mount (/vol,
# a directory on the same disk): write until the data is on the disk (dd
# with conv=fsync, then sync, timed together: --rm containers' overlay is
# volatile for both tools, so fsync alone does nothing there and the time of
# a write into the page cache only says how dirty the cache was), read back
# from the page cache, then with O_DIRECT (from the disk). One container per
# tool and store per round; rounds alternate the order.
# shellcheck disable=SC2016 # expanded in the container
IO_SCRIPT='for d in /data /vol; do
	mkdir -p $d; rm -f $d/f; sync
	t0=$(date +%s%N)
	dd if=/dev/zero of=$d/f bs=1M count=MB conv=fsync 2>/dev/null && sync && t1=$(date +%s%N) || t1=$t0
	w=$(awk -v a="$t0" -v b="$t1" "BEGIN { if (b > a) printf \"%.6f\", (b - a) / 1e9 }")
	r=$(dd if=$d/f of=/dev/null bs=1M 2>&1 | sed -n "s/.*copied, \([0-9.e+-]*\) s.*/\1/p")
	x=$(dd if=$d/f of=/dev/null bs=1M iflag=direct 2>&1 | sed -n "s/.*copied, \([0-9.e+-]*\) s.*/\1/p")
	echo "RES $d ${w:-0} ${r:-0} ${x:-0}"
	rm -f $d/f
done'
group_io() {
	log "group io: ${IO_MB} MiB with dd (${IO_ROUNDS} rounds)"
	ensure_images cl
	have podman && ensure_images p
	have fuse && ensure_images clf
	have fuse && have podman && ensure_images pf
	local stores=(overlay) combos=() r c tool store where op out vals
	have fuse && stores+=(fuse)
	for store in "${stores[@]}"; do
		for where in rootfs bind; do
			for op in write read read-direct; do
				case_new "io-$store-$where-$op" MiB/s "dd $op ${IO_MB} MiB, $([ $where = rootfs ] && echo "rootfs" || echo "bind mount"), $([ "$store" = overlay ] && echo "overlay" || echo "fuse-overlayfs") store"
			done
		done
		combos+=("crun-lite $store")
		have podman && combos+=("podman $store")
	done
	local script=${IO_SCRIPT//count=MB/count=$IO_MB}
	for ((r = 1; r <= IO_ROUNDS; r++)); do
		local order=("${combos[@]}")
		if ((r % 2 == 0)); then
			order=()
			for c in "${combos[@]}"; do order=("$c" "${order[@]}"); done
		fi
		for c in "${order[@]}"; do
			read -r tool store <<<"$c"
			local -a T
			case "$tool $store" in
			"crun-lite overlay") T=("${CL[@]}") ;;
			"crun-lite fuse") T=("${CLF[@]}") ;;
			"podman overlay") T=("${P[@]}") ;;
			"podman fuse") T=("${PF[@]}") ;;
			esac
			mkdir -p "$VOL/$tool-$store"
			echo "### io [$c] round $r" >>"$LOG"
			if ! out=$("${T[@]}" run --rm --network none -v "$VOL/$tool-$store:/vol" "$IMG_DEB" bash -c "$script" 2>>"$LOG"); then
				for where in rootfs bind; do for op in write read read-direct; do
					fail "io-$store-$where-$op" "$tool" "the dd container failed (see run.log)"
				done; done
				continue
			fi
			echo "$out" >>"$LOG"
			for where in rootfs bind; do
				local col=3
				for op in write read read-direct; do
					# MiB/s from dd's seconds; 0 means dd failed
					vals=$(awk -v d="$([ $where = rootfs ] && echo /data || echo /vol)" -v c=$col -v mb="$IO_MB" \
						'$1 == "RES" && $2 == d && $c > 0 { printf "%.1f\n", mb / $c }' <<<"$out")
					if [ -n "$vals" ]; then sample "io-$store-$where-$op" "$tool" "$vals"; else fail "io-$store-$where-$op" "$tool" "dd failed"; fi
					col=$((col + 1))
				done
			done
		done
		log "  round $r/$IO_ROUNDS done"
	done
	for store in "${stores[@]}"; do
		for where in rootfs bind; do
			for op in write read read-direct; do case_finish "io-$store-$where-$op"; done
		done
	done
}

# --- memory --------------------------------------------------------------------------------
# What is counted: the tool's process and all its descendants, plus the
# helpers it leaves running apart from its tree whose command line names the
# bench store (conmon, fuse-overlayfs, crun-lite's background rm), plus the
# per-user namespace keeper (crun-lite's holder, Podman's pause process);
# minus the container's own processes (those in another pid namespace).
# Sampled from /proc with shell builtins only (no fork per sample).
exec {SLEEPFD}<> <(:)
nap() { read -r -t "$1" -u "$SLEEPFD" || true; }
declare -a PP CO
scan_procs() {
	PP=() CO=()
	local d st rest
	for d in /proc/[0-9]*; do
		{ read -r st <"$d/stat"; } 2>/dev/null || continue
		rest=${st##*) }
		rest=${rest#* }
		PP[${d#/proc/}]=${rest%% *}
		st=${st#*(}
		CO[${d#/proc/}]=${st%)*}
	done
}
cmdline_has() { # cmdline_has PID STRING
	local -a a
	{ mapfile -d '' -t a <"/proc/$1/cmdline"; } 2>/dev/null || return 1
	[[ "${a[*]}" == *"$2"* ]]
}
# measured_pids ROOT STORE KEEPER_PIDFILE: the pids counted (see above)
measured_pids() {
	local root=$1 store=$2 keeper=$3 p q ns k
	local -A seen=()
	local -a queue=("$root") out=()
	while [ ${#queue[@]} -gt 0 ]; do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		seen[$p]=1
		for q in "${!PP[@]}"; do
			[ "${PP[q]}" != "$p" ] || [ -n "${seen[$q]:-}" ] || queue+=("$q")
		done
	done
	for q in "${!CO[@]}"; do
		case ${CO[q]} in
		conmon | fuse-overlayfs | rm | slirp4netns | pasta*) cmdline_has "$q" "$store" && seen[$q]=1 ;;
		esac
	done
	if [ -f "$keeper" ]; then
		read -r k _ <"$keeper" || true
		[ -z "$k" ] || [ -z "${CO[k]:-}" ] || seen[$k]=1
	fi
	for p in "${!seen[@]}"; do
		ns=
		{ while read -r key v rest; do [ "$key" != NSpid: ] || ns=$rest; done <"/proc/$p/status"; } 2>/dev/null || continue
		[ -z "$ns" ] || continue # in a container's pid namespace
		[ "${CO[p]:-}" != time ] || continue
		out+=("$p")
	done
	echo "${out[*]}"
}
# mem_of PIDS: "RSS_KB PSS_KB BREAKDOWN"; PSS only when WANT_PSS=1
mem_of() {
	local p key v rss=0 pss=0 r s what=
	for p in "$@"; do
		r=0 s=0
		{ while read -r key v _; do [ "$key" != VmRSS: ] || r=$v; done <"/proc/$p/status"; } 2>/dev/null || continue
		if [ "${WANT_PSS:-0}" = 1 ]; then
			{ while read -r key v _; do [ "$key" != Pss: ] || s=$v; done <"/proc/$p/smaps_rollup"; } 2>/dev/null || true
		fi
		rss=$((rss + r)) pss=$((pss + s))
		what+="${CO[p]:-?}:$((r / 1024))M "
	done
	echo "$rss $pss $what"
}
keeper_of() { case $1 in crun-lite) echo "$XDG_RUNTIME_DIR/crun-lite/userns.pid" ;; *) echo "$XDG_RUNTIME_DIR/libpod/tmp/pause.pid" ;; esac }

# rss_sleep CASE TOOL STORE CMD...: start CMD (a run of `sleep MARK`), wait for
# the container's sleep, sample the tree for two seconds, record the peak
# sums and the last sample (CASE-settled: what a long-lived container costs
# once its start-up is over).
rss_sleep() {
	local id=$1 tool=$2 store=$3 mark=$4
	shift 4
	local pid i found='' p peak=0 peakp=0 peakw='' rss pss what pids last=0
	"$@" >/dev/null 2>>"$LOG" &
	pid=$!
	for ((i = 0; i < 400 && ! found; i++)); do
		nap 0.05
		scan_procs
		for p in "${!CO[@]}"; do
			if [ "${CO[p]}" = sleep ] && cmdline_has "$p" "$mark"; then
				found=1
				break
			fi
		done
		kill -0 "$pid" 2>/dev/null || break
	done
	if [ -z "$found" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		fail "$id" "$tool" "the container did not start"
		return
	fi
	for ((i = 0; i < 20; i++)); do
		scan_procs
		pids=$(measured_pids "$pid" "$store" "$(keeper_of "$tool")")
		# shellcheck disable=SC2086 # a list of pids
		read -r rss pss what <<<"$(WANT_PSS=1 mem_of $pids)"
		((rss <= peak)) || peak=$rss peakw=$what
		((pss <= peakp)) || peakp=$pss
		last=$rss
		nap 0.1
	done
	if wait "$pid"; then
		sample "$id" "$tool" "$(awk -v k="$peak" 'BEGIN { printf "%.1f", k / 1024 }')"
		sample "$id-pss" "$tool" "$(awk -v k="$peakp" 'BEGIN { printf "%.1f", k / 1024 }')"
		sample "$id-settled" "$tool" "$(awk -v k="$last" 'BEGIN { printf "%.1f", k / 1024 }')"
		echo "### $id [$tool]: peak $peak kB: $peakw; last $last kB: $what" >>"$LOG"
	else
		fail "$id" "$tool" "the run failed (see run.log)"
	fi
}

# rss_pull CASE TOOL STORE CMD...: sample the tree of CMD (under
# /usr/bin/time -v) every 50 ms until it exits; record the peak sum, and the
# maximum RSS time -v reports for its direct child.
rss_pull() {
	local id=$1 tool=$2 store=$3
	shift 3
	local pid peak=0 peakw='' rss pss what pids tf=$OUT/time.out
	/usr/bin/time -v -o "$tf" "$@" >/dev/null 2>>"$LOG" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		scan_procs
		pids=$(measured_pids "$pid" "$store" "$(keeper_of "$tool")")
		# shellcheck disable=SC2086 # a list of pids
		read -r rss pss what <<<"$(mem_of $pids)"
		((rss <= peak)) || peak=$rss peakw=$what
		nap 0.05
	done
	if wait "$pid"; then
		sample "$id" "$tool" "$(awk -v k="$peak" 'BEGIN { printf "%.1f", k / 1024 }')"
		sample "$id-time" "$tool" "$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$tf")"
		echo "### $id [$tool]: peak $peak kB: $peakw" >>"$LOG"
	else
		fail "$id" "$tool" "the pull failed (see run.log)"
	fi
}

group_rss() {
	log "group rss: memory while a container sleeps, and during a cold pull of big (${RSS_ROUNDS} rounds)"
	ensure_images cl
	have podman && ensure_images p
	have fuse && ensure_images clf
	have fuse && have podman && ensure_images pf
	local r c tool store mark MARKS=0
	local -a combos=("crun-lite overlay")
	have podman && combos+=("podman overlay")
	have fuse && combos+=("crun-lite fuse")
	have fuse && have podman && combos+=("podman fuse")
	case_new rss-sleep MiB "memory, container sleeping: peak sum of VmRSS"
	case_new rss-sleep-pss MiB "memory, container sleeping: peak sum of Pss"
	case_new rss-sleep-settled MiB "memory, container sleeping, after 2 s: sum of VmRSS"
	if have fuse; then
		case_new rss-sleep-fuse MiB "memory, sleeping, fuse-overlayfs store: peak sum of VmRSS"
		case_new rss-sleep-fuse-pss MiB "memory, sleeping, fuse-overlayfs store: peak sum of Pss"
		case_new rss-sleep-fuse-settled MiB "memory, sleeping, fuse-overlayfs store, after 2 s: sum of VmRSS"
	fi
	case_new rss-pull MiB "memory, cold pull of big: peak sum of VmRSS"
	case_new rss-pull-time MiB "memory, cold pull of big: direct child (time -v)"
	for ((r = 1; r <= RSS_ROUNDS; r++)); do
		for c in "${combos[@]}"; do
			read -r tool store <<<"$c"
			MARKS=$((MARKS + 1))
			mark=3.5$((100 + MARKS))
			local id=rss-sleep
			if [ "$store" != overlay ]; then id="rss-sleep-fuse"; fi
			case "$tool $store" in
			"crun-lite overlay") rss_sleep "$id" crun-lite "$S/cl-overlay" "$mark" "${CL[@]}" run --rm --network none "$IMG_BB" sleep "$mark" ;;
			"crun-lite fuse") rss_sleep "$id" crun-lite "$S/cl-fuse" "$mark" "${CLF[@]}" run --rm --network none "$IMG_BB" sleep "$mark" ;;
			"podman overlay") rss_sleep "$id" podman "$S/p-overlay" "$mark" "${P[@]}" run --rm --network none "$IMG_BB" sleep "$mark" ;;
			"podman fuse") rss_sleep "$id" podman "$S/p-fuse" "$mark" "${PF[@]}" run --rm --network none "$IMG_BB" sleep "$mark" ;;
			esac
		done
		# shellcheck disable=SC2086 # FRESH_* are command lines
		$FRESH_CL >>"$LOG" 2>&1
		rss_pull rss-pull crun-lite "$S/cold-cl" "${CLC[@]}" pull -q --tls-verify=false "$IMG_BIG"
		if have podman; then
			# shellcheck disable=SC2086
			$FRESH_P >>"$LOG" 2>&1
			rss_pull rss-pull podman "$S/cold-p" "${PC[@]}" pull -q --tls-verify=false "$IMG_BIG"
		fi
		log "  round $r/$RSS_ROUNDS done"
	done
	for c in rss-sleep rss-sleep-pss rss-sleep-settled rss-sleep-fuse rss-sleep-fuse-pss rss-sleep-fuse-settled rss-pull rss-pull-time; do
		[ ! -d "$OUT/cases/$c" ] || case_finish "$c"
	done
}

group_timing() {
	log "group timing: crun-lite --timing run --rm busybox true, ${TIMING_RUNS} runs"
	ensure_images cl
	"$HERE/timing.sh" -m -n "$TIMING_RUNS" "${CL[@]}" run --rm "$IMG_BB" true >"$OUT/timing.md" 2>>"$LOG" ||
		log "FAILED: timing (see $LOG)"
}

# --- the run ----------------------------------------------------------------------------------
cpu_snap() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $9 }' /proc/stat; }
read -r CPU_T0 CPU_ST0 < <(cpu_snap)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
START=$SECONDS
log "groups: $SEL$([ "$QUICK" = 1 ] && echo " (quick)")"
for g in ${ALL_GROUPS//,/ }; do
	want "$g" || continue
	"group_$g"
done
read -r CPU_T1 CPU_ST1 < <(cpu_snap)
ELAPSED=$((SECONDS - START))

# --- report -----------------------------------------------------------------------------------
version_of() { # version_of PATTERN CMD...: the version in the first line of CMD's output matching PATTERN
	local pat=$1 out
	shift
	command -v "$1" >/dev/null || {
		echo "-"
		return
	}
	out=$("$@" 2>&1 || true)
	out=$(grep -m1 -E "$pat" <<<"$out" | sed 's/^[^0-9]*//; s/ .*//' || true)
	echo "${out:-?}"
}
driver_line() {
	local cl p=
	cl=$("${CL[@]}" info 2>/dev/null | sed -n 's/^  driver: //p; s/^  volatile mounts: \(.*\)/(volatile mounts: \1)/p' | paste -sd' ' -)
	if have podman; then
		p=$("${P[@]}" info --format '{{.Store.GraphDriverName}} {{.Store.GraphOptions}}' 2>/dev/null | sed 's/ map\[\]$/ (no mount program)/' | tr -d '\n')
	fi
	echo "crun-lite: ${cl:-?}; podman: ${p:--}"
}
{
	echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ), kernel $(uname -r), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
	echo "stores on $(findmnt -no FSTYPE,SOURCE -T "$S" | head -n 1 | tr -s " "); store driver: $(driver_line)"
	v='[0-9]+\.[0-9]+'
	echo "crun-lite $("$BIN" --version 2>&1 | awk '{ print $NF }'), podman $(version_of "$v" podman --version), crun $(version_of "$v" crun --version), runc $(version_of "$v" runc --version), bwrap $(version_of "$v" bwrap --version), fuse-overlayfs $(version_of '^fuse-overlayfs' fuse-overlayfs --version), unshare $(version_of "$v" unshare --version), hyperfine $(version_of "$v" hyperfine --version)"
	echo "load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; CPU steal $(awk -v a=$((CPU_ST1 - CPU_ST0)) -v b=$((CPU_T1 - CPU_T0)) 'BEGIN { printf "%.1f%%", b ? 100 * a / b : 0 }'); $((ELAPSED / 60)) min $((ELAPSED % 60)) s"
} >"$OUT/machine.txt"

# render FORMAT: text or md. Per case, crun-lite first, then the peers with
# the ratio crun-lite median / peer median.
render() {
	awk -F'\t' -v fmt="$1" '
	function num(v, u) {
		if (v == "-") return "-"
		if (u == "s") return sprintf("%.2f", v)
		if (u == "ms") return (v < 100) ? sprintf("%.1f", v) : sprintf("%.0f", v)
		return sprintf("%.1f", v)
	}
	{
		id = $1
		if (!(id in seen)) { seen[id] = 1; ids[++nid] = id; label[id] = $2; unit[id] = $4 }
		k = ++nt[id]; tool[id, k] = $3; med[id, k] = $5; lo[id, k] = $6; hi[id, k] = $7; n[id, k] = $8; st[id, k] = $9
		if ($3 == "crun-lite" && $5 != "-") cl[id] = $5
	}
	END {
		if (fmt == "md") {
			print "| case | tool | median | min | max | n | crun-lite / tool |"
			print "|---|---|---:|---:|---:|---:|---:|"
		} else {
			printf "%-58s %-18s %9s %9s %9s %4s  %s\n", "case", "tool", "median", "min", "max", "n", "crun-lite/tool"
		}
		for (i = 1; i <= nid; i++) {
			id = ids[i]; u = unit[id]
			for (k = 1; k <= nt[id]; k++) {
				r = ""
				if (tool[id, k] != "crun-lite" && (id in cl) && med[id, k] != "-" && med[id, k] > 0)
					r = sprintf("%.2f", cl[id] / med[id, k])
				if (st[id, k] != "ok") r = r (r == "" ? "" : " ") "(" st[id, k] ")"
				c = (k == 1) ? label[id] " [" u "]" : ""
				if (fmt == "md")
					printf "| %s | %s | %s | %s | %s | %d | %s |\n", c, tool[id, k], num(med[id, k], u), num(lo[id, k], u), num(hi[id, k], u), n[id, k], r
				else
					printf "%-58s %-18s %9s %9s %9s %4d  %s\n", substr(c, 1, 58), tool[id, k], num(med[id, k], u), num(lo[id, k], u), num(hi[id, k], u), n[id, k], r
			}
		}
	}' "$RES"
}

{
	echo "# crun-lite benchmarks"
	echo
	echo "Written by \`make bench$([ "$QUICK" = 1 ] && echo " QUICK=1")$([ "$SEL" = "$ALL_GROUPS" ] || echo " GROUPS=$SEL")\` (bench/run.sh); bench/README.md says what each case measures."
	echo
	sed 's/^/- /' "$OUT/machine.txt"
	if [ ${#SKIPPED[@]} -gt 0 ]; then
		printf -- '- skipped: %s\n' "${SKIPPED[@]}"
	fi
	echo
	echo "Medians over all samples of a tool, pooled over interleaved rounds. ratio = crun-lite median / the tool's median:"
	echo "below 1 crun-lite is faster or smaller, except for MiB/s, where above 1 it is faster."
	echo
	render md
	if [ -s "$OUT/timing.md" ]; then
		echo
		echo "## Where the start-up time goes"
		echo
		echo "\`crun-lite --timing run --rm busybox true\`, native overlay, ${TIMING_RUNS} runs (bench/timing.sh):"
		echo
		cat "$OUT/timing.md"
	fi
} >"$OUT/LATEST.md"

echo
cat "$OUT/machine.txt"
[ ${#SKIPPED[@]} -eq 0 ] || printf 'skipped: %s\n' "${SKIPPED[@]}"
echo
render text
if [ -s "$OUT/timing.md" ]; then
	echo
	echo "crun-lite --timing run --rm busybox true (${TIMING_RUNS} runs):"
	cat "$OUT/timing.md"
fi
echo
echo "raw data: $OUT (results.tsv, run.log, raw/, cases/)"
