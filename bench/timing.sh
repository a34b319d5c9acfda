#!/usr/bin/env bash
# Per-phase cost of a crun-lite command: runs it RUNS times with --timing
# (after WARMUP untimed runs) and prints, for each phase crun-lite reports,
# the median, min and max over the runs and the median's share of the
# median total.
#
#   bench/timing.sh [-n RUNS] [-w WARMUP] [-m] CRUN_LITE [GLOBAL_OPTION...] COMMAND [ARG...]
#   bench/timing.sh -n 40 bin/crun-lite run --rm busybox true
#
# -m prints a Markdown table. Run it as the user whose store it uses. The
# command's stdout is discarded; a failing run stops the script with its
# stderr.
set -euo pipefail

runs=40 warmup=3 format=text
while getopts "n:w:m" o; do
	case $o in
	n) runs=$OPTARG ;;
	w) warmup=$OPTARG ;;
	m) format=md ;;
	*)
		sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || {
	echo "usage: $0 [-n RUNS] [-w WARMUP] [-m] CRUN_LITE [GLOBAL_OPTION...] COMMAND [ARG...]" >&2
	exit 2
}
[[ $runs =~ ^[1-9][0-9]*$ && $warmup =~ ^[0-9]+$ ]] || {
	echo "timing: RUNS must be a positive number and WARMUP a number" >&2
	exit 2
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$1
shift
: >"$work/samples"
for ((i = 1; i <= warmup + runs; i++)); do
	if ! "$bin" --timing "$@" >/dev/null 2>"$work/err"; then
		echo "timing: run $i failed: $bin --timing $*" >&2
		cat "$work/err" >&2
		exit 1
	fi
	((i > warmup)) || continue
	# --timing lines are "PHASE   1.234 ms"; warnings and the command's
	# own stderr are not.
	sed -n -e 's/^\(.*[^ ]\)  *\([0-9][0-9]*\.[0-9]*\) ms$/\1\t\2/p' "$work/err" >>"$work/samples"
done
[ -s "$work/samples" ] || {
	echo "timing: the command printed no --timing lines" >&2
	exit 1
}

# Phases in the order crun-lite prints them; "total" last.
awk -F'\t' -v fmt="$format" -v runs="$runs" '
	!($1 in n) { order[++np] = $1 }
	{ n[$1]++; v[$1, n[$1]] = $2 }
	function median(p,   k, i, j, t, a) {
		k = n[p]
		for (i = 1; i <= k; i++) a[i] = v[p, i] + 0
		for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		lo = a[1]; hi = a[k]
		return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		total = ("total" in n) ? median("total") : 0
		if (fmt == "md") {
			print "| phase | median ms | min | max | share of total | runs |"
			print "|---|---:|---:|---:|---:|---:|"
		} else {
			printf "%-24s %9s %9s %9s %7s %5s\n", "phase", "median ms", "min", "max", "share", "runs"
		}
		for (i = 1; i <= np; i++) {
			p = order[i]
			m = median(p)
			share = (total > 0 && p != "total") ? sprintf("%.0f%%", 100 * m / total) : ""
			if (fmt == "md")
				printf "| %s | %.3f | %.3f | %.3f | %s | %d |\n", p, m, lo, hi, share, n[p]
			else
				printf "%-24s %9.3f %9.3f %9.3f %7s %5d\n", p, m, lo, hi, share, n[p]
		}
	}' "$work/samples"
