#!/usr/bin/env bash
# mkimage.sh ROOTFS_DIR IMAGE_REF OUT_TAR CMD_JSON [ENTRYPOINT_JSON]
# Writes one deterministic, single-layer image tarball that is both an OCI image layout
# (index.json with io.containerd.image.name) and a docker-archive (manifest.json with RepoTags),
# so `ctr images import` and skopeo both take it. No Dockerfile, no daemon, no registry.
set -euo pipefail
ROOTFS=$1 REF=$2 OUT=$3 CMD=${4:-'["/bin/sh"]'} EP=${5:-null}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/blobs/sha256"
TAROPTS=(--sort=name --owner=0 --group=0 --numeric-owner --mtime=@0)
tar "${TAROPTS[@]}" -C "$ROOTFS" -cf "$W/layer.tar" .
L=$(sha256sum "$W/layer.tar" | cut -d' ' -f1); LS=$(stat -c %s "$W/layer.tar")
mv "$W/layer.tar" "$W/blobs/sha256/$L"
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":%s,"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"rudder images/mkimage.sh"}]}' \
  "$EP" "$CMD" "$L" > "$W/config.json"
C=$(sha256sum "$W/config.json" | cut -d' ' -f1); CS=$(stat -c %s "$W/config.json")
mv "$W/config.json" "$W/blobs/sha256/$C"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$C" "$CS" "$L" "$LS" > "$W/manifest.oci"
M=$(sha256sum "$W/manifest.oci" | cut -d' ' -f1); MS=$(stat -c %s "$W/manifest.oci")
mv "$W/manifest.oci" "$W/blobs/sha256/$M"
TAG=${REF##*:}
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$M" "$MS" "$REF" "$TAG" > "$W/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$W/oci-layout"
printf '[{"Config":"blobs/sha256/%s","RepoTags":["%s"],"Layers":["blobs/sha256/%s"]}]' "$C" "$REF" "$L" > "$W/manifest.json"
tar "${TAROPTS[@]}" -C "$W" -cf "$OUT.tmp" oci-layout index.json manifest.json blobs
mv "$OUT.tmp" "$OUT"
