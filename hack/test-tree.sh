#!/usr/bin/env bash
# Usage (as root): hack/test-tree.sh [--bin] TESTDATA
#
# Prints the directory in which the unprivileged test user runs go test for
# this source tree: the tree itself when the user can read it, else a fresh
# copy under TESTDATA/src, owned by the user. A clone in /root (mode 0700)
# is the usual case: `make test` as root must work from any clone.
#
# The copy holds the working tree's tracked and untracked (not ignored)
# files, as they are now, and with --bin also bin/, the binaries under test.
set -euo pipefail

die() { printf 'test-tree: %s\n' "$*" >&2; exit 1; }

with_bin=
if [ "${1:-}" = --bin ]; then
	with_bin=1
	shift
fi
[ $# -eq 1 ] || die "usage: $0 [--bin] TESTDATA"
[ "$(id -u)" = 0 ] || die "must run as root"
testdata=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
as_user=$here/hack/as-test-user.sh

if "$as_user" test -r "$here/go.mod"; then
	printf '%s\n' "$here"
	exit 0
fi

user=${CRUNLITE_TEST_USER:-crunlite-test}
# One copy per source tree, so that two clones do not test each other.
dest=$testdata/src/$(printf '%s' "$here" | sha256sum | cut -c1-12)
printf 'test-tree: %s cannot read %s: testing a copy in %s\n' "$user" "$here" "$dest" >&2
rm -rf "$dest"
install -d -m 0755 "$testdata/src"
install -d -m 0755 "$dest"
if git -C "$here" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Files deleted in the working tree are still listed (--cached): skip them.
	git -C "$here" ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			if [ -e "$here/$f" ] || [ -L "$here/$f" ]; then
				printf '%s\0' "$f"
			fi
		done |
		tar -C "$here" --null -T - -cf - | tar -C "$dest" -xf -
else
	tar -C "$here" --exclude=./bin -cf - . | tar -C "$dest" -xf -
fi
if [ -n "$with_bin" ] && [ -d "$here/bin" ]; then
	cp -a "$here/bin" "$dest/bin"
fi
chown -R "$user:" "$dest"
printf '%s\n' "$dest"
