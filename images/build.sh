#!/usr/bin/env bash
# Builds the test images as OCI tarballs from Debian busybox-static and a pause binary of our
# own; nothing is pulled from anywhere. Idempotent: an image whose inputs did not change is not
# rebuilt (a stamp holds the hash of the inputs).
#
#   images/build.sh [CACHE_DIR]     (default: $RUDDER_IMAGE_CACHE or ~/.cache/rudder/images)
#
# Writes  CACHE_DIR/busybox.tar  localhost/rudder/busybox:1  sh, nc, httpd, ... (CMD httpd on :8080)
#         CACHE_DIR/pause.tar    localhost/rudder/pause:1    /pause (the sandbox image)
# and prints CACHE_DIR.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-${RUDDER_IMAGE_CACHE:-${HOME:-/root}/.cache/rudder/images}}
mkdir -p "$OUT"
# Tests build in parallel: one builder at a time per cache dir.
exec 9>"$OUT/.lock"
flock 9
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || { echo "images/build.sh: $BUSYBOX missing (apt-get install busybox-static)" >&2; exit 1; }
command -v gcc >/dev/null || { echo "images/build.sh: gcc missing (apt-get install gcc libc6-dev)" >&2; exit 1; }

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
fresh() { # fresh NAME STAMP: the tarball exists and was built from these inputs
  [ -s "$OUT/$1.tar" ] && [ "$(cat "$OUT/$1.stamp" 2>/dev/null)" = "$2" ]
}

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# busybox: static busybox plus one symlink per applet, /etc/passwd, a page for httpd.
S=$(stamp_of "$BUSYBOX" "$HERE/mkimage.sh" "$HERE/build.sh")
if ! fresh busybox "$S"; then
  R=$W/rootfs-busybox
  mkdir -p "$R"/{bin,etc,tmp,proc,sys,dev,www,root,var/run}
  cp "$BUSYBOX" "$R/bin/busybox"
  for a in $("$BUSYBOX" --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
  echo 'root:x:0:' > "$R/etc/group"
  echo 'nobody:x:65534:65534:nobody:/:/bin/false' >> "$R/etc/passwd"
  chmod 1777 "$R/tmp"
  echo 'hello from rudder busybox httpd' > "$R/www/index.html"
  "$HERE/mkimage.sh" "$R" localhost/rudder/busybox:1 "$OUT/busybox.tar" \
    '["/bin/httpd","-f","-p","8080","-h","/www"]'
  echo "$S" > "$OUT/busybox.stamp"
fi

# pause: a static C binary alone in its image.
S=$(stamp_of "$HERE/pause.c" "$HERE/mkimage.sh" "$HERE/build.sh")
if ! fresh pause "$S"; then
  R=$W/rootfs-pause
  mkdir -p "$R"
  gcc -Os -static -o "$R/pause" "$HERE/pause.c"
  strip "$R/pause"
  "$HERE/mkimage.sh" "$R" localhost/rudder/pause:1 "$OUT/pause.tar" 'null' '["/pause"]'
  echo "$S" > "$OUT/pause.stamp"
fi
echo "$OUT"
