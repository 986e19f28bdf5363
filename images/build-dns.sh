#!/usr/bin/env bash
# Builds the cluster DNS add-on image from a rudder-dns binary: the binary plus the shared
# libraries it links (found with ldd), nothing pulled from anywhere. Idempotent like build.sh.
#
#   images/build-dns.sh RUDDER_DNS_BINARY [CACHE_DIR]
#
# Writes CACHE_DIR/dns.tar  localhost/rudder/dns:dev  (ENTRYPOINT /bin/rudder-dns) and prints CACHE_DIR.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:?usage: build-dns.sh RUDDER_DNS_BINARY [CACHE_DIR]}
OUT=${2:-${RUDDER_IMAGE_CACHE:-${HOME:-/root}/.cache/rudder/images}}
[ -x "$BIN" ] || { echo "images/build-dns.sh: $BIN is not an executable" >&2; exit 1; }
mkdir -p "$OUT"
exec 9>"$OUT/.lock-dns"
flock 9

S=$(cat "$BIN" "$HERE/mkimage.sh" "$HERE/build-dns.sh" | sha256sum | cut -d' ' -f1)
if [ -s "$OUT/dns.tar" ] && [ "$(cat "$OUT/dns.stamp" 2>/dev/null)" = "$S" ]; then
  echo "$OUT"
  exit 0
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
R=$W/rootfs
mkdir -p "$R"/{bin,etc,tmp}
cp "$BIN" "$R/bin/rudder-dns"
# Debug info is most of a release binary's size; every node imports the image.
strip "$R/bin/rudder-dns"
# The dynamic loader and every library, at the paths the binary asks for.
for lib in $(ldd "$BIN" | grep -o '/[^ ]*'); do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done
echo 'root:x:0:0:root:/:/bin/false' > "$R/etc/passwd"
echo 'root:x:0:' > "$R/etc/group"
chmod 1777 "$R/tmp"
"$HERE/mkimage.sh" "$R" localhost/rudder/dns:dev "$OUT/dns.tar" 'null' '["/bin/rudder-dns"]'
echo "$S" > "$OUT/dns.stamp"
echo "$OUT"
