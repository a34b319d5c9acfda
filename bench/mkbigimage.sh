#!/usr/bin/env bash
# Builds the ~500 MB multi-layer image for pull benchmarks and pushes it to a
# loopback registry. Run as root (layer files must keep their owners).
#
#   bench/mkbigimage.sh OUTDIR [REGISTRY]
#
# Layers: the debian test image (built by hack/build-test-images.sh), then the
# Go toolchain's src/, pkg/+bin/, the rest of it (real files: many small,
# compressible ones), then 128 MiB of random bytes (incompressible, like media
# or model files): about 500 MB unpacked, 6 layers. With REGISTRY (host:port,
# plain HTTP) it is pushed as REGISTRY/bench/big:latest, and the debian image
# as REGISTRY/bench/debian:latest.
set -euo pipefail

out=${1:?usage: $0 OUTDIR [REGISTRY]}
reg=${2:-}
debian=${CRUNLITE_TESTDATA:-/var/cache/crun-lite-test}/images/debian
goroot=${GOROOT:-/usr/local/go}
[ -f "$debian/index.json" ] || { echo "no $debian: run hack/test-setup.sh" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
layout=$out/big
rm -rf "$layout"
mkdir -p "$out"
skopeo copy --quiet --insecure-policy "oci:$debian:latest" "oci:$layout:latest"

add() { # add NAME DIR MEMBERS...: one layer holding DIR/MEMBERS under /opt
	local name=$1 dir=$2
	shift 2
	tar -C "$dir" --numeric-owner --owner=0 --group=0 --transform 's,^,opt/,' \
		-cf "$work/$name.tar" "$@"
	umoci raw add-layer --image "$layout:latest" --history.created_by="bench $name" "$work/$name.tar"
	rm -f "$work/$name.tar"
}
rest=()
for f in "$goroot"/* "$goroot"/.[!.]*; do
	[ -e "$f" ] || continue
	case ${f##*/} in
	src | pkg | bin) ;;
	*) rest+=("${f##*/}") ;;
	esac
done
add go-src "$(dirname "$goroot")" "$(basename "$goroot")/src"
add go-pkg "$(dirname "$goroot")" "$(basename "$goroot")/pkg" "$(basename "$goroot")/bin"
add go-rest "$goroot" "${rest[@]}"
mkdir -p "$work/blob/data"
for i in 1 2 3 4 5 6 7 8; do head -c 16M /dev/urandom >"$work/blob/data/part$i.bin"; done
add random "$work/blob" data
umoci gc --layout "$layout"
echo "built $layout: $(skopeo inspect --raw "oci:$layout:latest" | jq '.layers | length') layers, $(du -sh "$layout" | cut -f1) compressed"

if [ -n "$reg" ]; then
	skopeo copy --quiet --insecure-policy --dest-tls-verify=false "oci:$layout:latest" "docker://$reg/bench/big:latest"
	skopeo copy --quiet --insecure-policy --dest-tls-verify=false "oci:$debian:latest" "docker://$reg/bench/debian:latest"
	echo "pushed $reg/bench/big:latest and $reg/bench/debian:latest"
fi
