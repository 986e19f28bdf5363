#!/bin/bash
# make vm-e2e: deploy the HA layout onto machines that really boot systemd (nspawn, vm.sh) with
# deploy/install.sh exactly as onto VMs, then check nodes, a workload, and that the cluster keeps
# serving while one etcd member, one apiserver, the leading scheduler and the leading
# controller-manager are stopped in turn, with no acknowledged write lost. Needs root.
#
# RUDDER_BIN_DIR  binaries to install (default: target/debug of this checkout)
# KEEP=1          leave the machines running at the end (tear down with deploy/vm/vm.sh down)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
VM=$here/vm.sh
BIN_DIR=${RUDDER_BIN_DIR:-$repo/target/debug}
VM_DIR=${RUDDER_VM_DIR:-/work/vmcache}
RUN=$VM_DIR/run
step() { echo; echo "=== [vm-e2e] $*" >&2; }
fail() { echo "vm-e2e: FAILED: $*" >&2; exit 1; }

cleanup() {
    local rc=$?
    if [ "${KEEP:-0}" = 1 ]; then echo "machines kept: deploy/vm/vm.sh down to remove them" >&2
    else "$VM" down || true; fi
    exit $rc
}

"$VM" down
trap cleanup EXIT
step "base tree"
"$VM" rootfs
step "boot 3 control-plane + 1 worker machines"
t0=$(date +%s)
"$VM" up cp1=10.78.0.11 cp2=10.78.0.12 cp3=10.78.0.13 w1=10.78.0.21:worker
echo "booted in $(( $(date +%s) - t0 ))s" >&2

step "test images"
images=$("$repo/images/build.sh")

mkdir -p "$RUN"
cat >"$RUN/containerd.toml" <<'EOF'
version = 2
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "localhost/rudder/pause:1"
    # No CAP_SYS_RESOURCE in the machines (vm-probe.md): containerd must not raise oom_score_adj.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
      max_conf_num = 1
EOF
cat >"$RUN/inventory" <<EOF
TRANSPORT=nsenter
CLUSTER_CIDR=10.244.0.0/16
CGROUP_DRIVER=systemd
CONTAINERD_CONFIG=$RUN/containerd.toml
control-plane cp1 10.78.0.11 $("$VM" pidfile cp1)
control-plane cp2 10.78.0.12 $("$VM" pidfile cp2)
control-plane cp3 10.78.0.13 $("$VM" pidfile cp3)
worker        w1  10.78.0.21 $("$VM" pidfile w1)
EOF

step "install.sh"
t0=$(date +%s)
"$repo/deploy/install.sh" --bin-dir "$BIN_DIR" --pki-dir "$RUN/pki" "$RUN/inventory"
echo "installed in $(( $(date +%s) - t0 ))s" >&2
export KUBECONFIG=$RUN/pki/admin.conf

for img in pause busybox; do
    "$VM" exec w1 sh -c "cat > /tmp/$img.tar" <"$images/$img.tar"
    "$VM" exec w1 ctr -n k8s.io images import "/tmp/$img.tar" >/dev/null
done

step "units active (systemctl, journald)"
for m in cp1 cp2 cp3; do
    for u in etcd kube-apiserver kube-controller-manager kube-scheduler; do
        "$VM" exec "$m" systemctl is-active -q "$u" || { "$VM" exec "$m" journalctl -u "$u" --no-pager -n 40 >&2; fail "$u on $m"; }
    done
done
for u in containerd kubelet kube-proxy; do
    "$VM" exec w1 systemctl is-active -q "$u" || { "$VM" exec w1 journalctl -u "$u" --no-pager -n 40 >&2; fail "$u on w1"; }
done

step "kubectl get nodes"
ok=0
for i in $(seq 1 120); do
    if kubectl get node w1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True; then ok=1; break; fi
    sleep 1
done
kubectl get nodes -o wide >&2 || true
[ $ok = 1 ] || { "$VM" exec w1 journalctl -u kubelet --no-pager -n 60 >&2; fail "node w1 not Ready"; }

# Every acknowledged write is recorded here and checked at the end.
writes=()
write() { # write NAME [KUBECTL ARGS]: create a ConfigMap; recorded only if acknowledged
    local name=$1; shift
    if kubectl "$@" create configmap "$name" --from-literal=at="$(date +%s%N)" >/dev/null 2>&1; then writes+=("$name"); return 0; fi
    return 1
}
scale_and_wait() { # scale_and_wait N
    kubectl scale deployment web --replicas="$1" >/dev/null
    kubectl rollout status deployment/web --timeout=120s >&2
}

step "workload"
kubectl create deployment web --image=localhost/rudder/busybox:1 --replicas=2 >&2
kubectl rollout status deployment/web --timeout=180s >&2 || {
    kubectl get pods -o wide >&2; kubectl describe pods >&2 | tail -40
    "$VM" exec w1 journalctl -u kubelet --no-pager -n 60 >&2; fail "deployment web not available"; }
kubectl get pods -o wide >&2
ip=$(kubectl get pods -l app=web -o jsonpath='{.items[0].status.podIP}')
"$VM" exec w1 curl -fsS -m 5 "http://$ip:8080/" >/dev/null || fail "pod $ip:8080 not serving"
echo "pod $ip serves HTTP" >&2
write before-faults || fail "write before faults"

step "etcd member cp3 stopped"
"$VM" exec cp3 systemctl stop etcd
for i in 1 2 3; do write "etcd-down-$i" || fail "write with cp3's etcd stopped"; done
scale_and_wait 3
"$VM" exec cp3 systemctl start etcd

step "kube-apiserver on cp1 (the kubeconfigs' endpoint) stopped: clients use cp2's"
"$VM" exec cp1 systemctl stop kube-apiserver
cp2=(--server=https://10.78.0.12:6443)
for i in 1 2 3; do write "apiserver-down-$i" "${cp2[@]}" || fail "write through cp2 with cp1's apiserver stopped"; done
kubectl "${cp2[@]}" get nodes >&2
"$VM" exec cp1 systemctl start kube-apiserver
for i in $(seq 1 60); do kubectl get --raw /readyz >/dev/null 2>&1 && break; sleep 1; done

holder_node() { # holder_node LEASE -> the machine whose component holds the lease
    local h
    h=$(kubectl -n kube-system get lease "$1" -o jsonpath='{.spec.holderIdentity}')
    for m in cp1 cp2 cp3; do case $h in "$m"*) echo "$m"; return ;; esac; done
    echo "lease $1 held by '$h', not a control-plane machine" >&2; return 1
}
wait_new_holder() { # wait_new_holder LEASE OLD
    for i in $(seq 1 90); do
        local n; n=$(holder_node "$1" 2>/dev/null || true)
        [ -n "$n" ] && [ "$n" != "$2" ] && { echo "$1 now led from $n" >&2; return 0; }
        sleep 1
    done
    return 1
}

step "leading kube-scheduler stopped"
leader=$(holder_node kube-scheduler) || fail "no scheduler lease"
echo "kube-scheduler leads from $leader" >&2
"$VM" exec "$leader" systemctl stop kube-scheduler
wait_new_holder kube-scheduler "$leader" || fail "no new scheduler leader"
write scheduler-down || fail "write with the scheduler leader stopped"
scale_and_wait 4
"$VM" exec "$leader" systemctl start kube-scheduler

step "leading kube-controller-manager stopped"
leader=$(holder_node kube-controller-manager) || fail "no controller-manager lease"
echo "kube-controller-manager leads from $leader" >&2
"$VM" exec "$leader" systemctl stop kube-controller-manager
wait_new_holder kube-controller-manager "$leader" || fail "no new controller-manager leader"
write cm-down || fail "write with the controller-manager leader stopped"
scale_and_wait 2
"$VM" exec "$leader" systemctl start kube-controller-manager

step "no acknowledged write lost"
for name in "${writes[@]}"; do
    kubectl get configmap "$name" >/dev/null || fail "acknowledged write $name lost"
done
echo "${#writes[@]} acknowledged writes all present" >&2
# Upstream's apiservers keep the kubernetes Service's endpoints listing every live apiserver
# (through their leases); checked last, so a gap here does not hide the results above.
step "the in-cluster kubernetes Service lists every apiserver"
for i in $(seq 1 60); do
    eps=$(kubectl get endpoints kubernetes -o jsonpath='{.subsets[*].addresses[*].ip}' 2>/dev/null || true)
    [[ $eps == *10.78.0.11* && $eps == *10.78.0.12* && $eps == *10.78.0.13* ]] && break
    sleep 1
done
echo "kubernetes endpoints: $eps" >&2
[[ $eps == *10.78.0.11* && $eps == *10.78.0.12* && $eps == *10.78.0.13* ]] || fail "HA gap: the kubernetes Service endpoints ('$eps') do not list all three apiservers (everything before this passed)"

echo "vm-e2e: PASSED" >&2
