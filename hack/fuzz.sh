#!/usr/bin/env bash
# Usage: hack/fuzz.sh FUZZTIME PKG... (make fuzz, make fuzz-short)
#
# Runs every go fuzz target of each PKG in turn, FUZZTIME each: go test
# -fuzz takes exactly one target of one package. GOTAGS are the build
# tags. Stops at the first target that fails; go test then has saved the
# failing input under PKG/testdata/fuzz/NAME/, which the fix commits so
# that every later go test runs it.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 FUZZTIME PKG..." >&2; exit 2; }
time=$1
shift
start=$SECONDS
n=0
for pkg in "$@"; do
	names=$(go test -tags "${GOTAGS:-}" -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	for name in $names; do
		echo "fuzz: $pkg $name for $time"
		go test -tags "${GOTAGS:-}" -run '^$' -fuzz "^${name}\$" -fuzztime "$time" "$pkg"
		n=$((n + 1))
	done
done
echo "fuzz: $n targets in $((SECONDS - start))s"
