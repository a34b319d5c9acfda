#!/usr/bin/env bash
# Usage (as root): hack/as-test-user.sh CMD [ARGS...]
#
# Runs CMD as the unprivileged test user made by hack/test-setup.sh, in the
# working directory it was called from, with the environment a fresh login
# would give: crun-lite derives its default paths from HOME and
# XDG_RUNTIME_DIR, so root's values (or the CI job's) must not leak in.
set -euo pipefail

die() { printf 'as-test-user: %s\n' "$*" >&2; exit 1; }

[ $# -gt 0 ] || die "usage: $0 CMD [ARGS...]"
[ "$(id -u)" = 0 ] || die "must run as root (it switches to the test user)"

user=${CRUNLITE_TEST_USER:-crunlite-test}
entry=$(getent passwd "$user") || die "no user '$user'; run hack/test-setup.sh first"
IFS=: read -r name _ uid gid _ home _ <<<"$entry"
# CRUNLITE_TEST_RUNTIME_DIR gives the run a runtime dir of its own (the
# user's, with its own user-namespace holder and network hub): tests and
# benches then run beside others' that use /run/user/UID.
rundir=${CRUNLITE_TEST_RUNTIME_DIR:-/run/user/$uid}
[ -d "$rundir" ] || die "$rundir is missing (e.g. after a reboot); run hack/test-setup.sh"

vars=(
	"HOME=$home"
	"USER=$name"
	"LOGNAME=$name"
	"PATH=/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin"
	"XDG_RUNTIME_DIR=$rundir"
	# Go's caches must be the user's own: root's are not writable for it.
	"GOCACHE=$home/.cache/go-build"
	# -mod=mod lets go add missing go.sum lines instead of failing, and
	# GOTOOLCHAIN=local keeps go from downloading another toolchain.
	"GOFLAGS=-mod=mod"
	"GOTOOLCHAIN=local"
)
# XDG_DATA_HOME and friends are deliberately left unset: tests expect the
# defaults under HOME.
if [ -n "${TERM:-}" ]; then
	vars+=("TERM=$TERM")
fi
# A module cache filled once by root and shared read-only saves every test
# user from downloading modules again.
if [ -n "${GOMODCACHE_SHARED:-}" ]; then
	vars+=("GOMODCACHE=$GOMODCACHE_SHARED")
fi
# CRUNLITE_BIN, CRUNLITE_TESTDATA, CRUNLITE_ALLOW_ROOT ... configure the tests.
while IFS= read -r var; do
	vars+=("$var=${!var}")
done < <(compgen -e | grep '^CRUNLITE_' || true)

exec setpriv --reuid="$uid" --regid="$gid" --init-groups env -i "${vars[@]}" "$@"
