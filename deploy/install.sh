#!/bin/bash
# Install Rudder on a set of machines described by an inventory (see deploy/inventory.example):
# make the PKI with rudder-pki, lay out binaries, certificates, kubeconfigs, /etc/rudder/node.env
# and the systemd units on every machine, then `systemctl enable --now` what each runs:
#   control-plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
#   worker:        kubelet (with containerd), kube-proxy
#
# usage: deploy/install.sh [--bin-dir DIR] [--pki-dir DIR] [--no-start] INVENTORY
#   --bin-dir  where kube-apiserver, kubelet, ... and rudder-pki are (default: target/release,
#              else target/debug, of this checkout)
#   --pki-dir  where the cluster's PKI is kept on this machine (default: ./rudder-<cluster name>);
#              re-running reuses it, so adding a worker to the inventory only adds its files
#   --no-start copy everything and enable the units, but start nothing
#
# Workers' kubelet credentials (KUBELET_BOOTSTRAP= in the inventory):
#   certs    (default) each kubelet gets its own client certificate from rudder-pki
#   token    TLS bootstrap as kubeadm does it: workers get bootstrap-kubelet.conf with a bootstrap
#            token (rudder-pki token); the kubelet posts a CSR, the controller-manager approves
#            and signs it, and the kubelet writes its own kubelet.conf. The token's Secret and
#            bindings (bootstrap-token.yaml) are applied with kubectl once the apiserver is up
#            (by hand with --no-start).
#
# Transports (TRANSPORT= in the inventory), how files get to a machine and commands run there:
#   ssh      ssh/scp-less: `tar | ssh TARGET tar -x`, `ssh TARGET cmd` (TARGET default root@IP)
#   nsenter  a systemd-nspawn machine on this host: TARGET is a file holding the nspawn PID
#            (its child is the machine's PID 1) or that PID 1 itself; commands run through
#            `nsenter -t PID1 -a` (no machined needed; see the README)
#   dir      TARGET is a directory standing for the machine's root: files are unpacked there and
#            commands are only recorded in TARGET/.rudder-commands (for tests of the layout)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
die() { echo "install.sh: $*" >&2; exit 1; }
log() { echo "[install] $*" >&2; }

bin_dir="" pki_dir="" start=1 inventory=""
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) bin_dir=${2:?--bin-dir needs a value}; shift 2 ;;
        --bin-dir=*) bin_dir=${1#*=}; shift ;;
        --pki-dir) pki_dir=${2:?--pki-dir needs a value}; shift 2 ;;
        --pki-dir=*) pki_dir=${1#*=}; shift ;;
        --no-start) start=0; shift ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) [ -z "$inventory" ] || die "one inventory only"; inventory=$1; shift ;;
    esac
done
[ -n "$inventory" ] || die "usage: install.sh [--bin-dir DIR] [--pki-dir DIR] [--no-start] INVENTORY"
[ -r "$inventory" ] || die "cannot read inventory $inventory"

# --- inventory ----------------------------------------------------------------------------------
CLUSTER_NAME=kubernetes SERVICE_CIDR=10.96.0.0/12 CLUSTER_CIDR=10.244.0.0/16 CLUSTER_DNS=10.96.0.10
CONTROL_PLANE_ENDPOINT="" TRANSPORT=ssh SSH_USER=root SSH_OPTS="" CGROUP_DRIVER=systemd CONTAINERD_CONFIG=""
KUBELET_BOOTSTRAP=certs
cp_names=() cp_ips=() cp_targets=() w_names=() w_ips=() w_targets=()
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    line=${line%%#*}
    read -r -a f <<<"$line" || true
    [ ${#f[@]} -gt 0 ] || continue
    case "${f[0]}" in
        CLUSTER_NAME=*|SERVICE_CIDR=*|CLUSTER_CIDR=*|CLUSTER_DNS=*|CONTROL_PLANE_ENDPOINT=*|TRANSPORT=*|SSH_USER=*|CGROUP_DRIVER=*|CONTAINERD_CONFIG=*|KUBELET_BOOTSTRAP=*)
            key=${f[0]%%=*}; printf -v "$key" '%s' "${f[0]#*=}" ;;
        SSH_OPTS=*) SSH_OPTS=${line#*=} ;;
        control-plane|worker)
            [ ${#f[@]} -ge 3 ] || die "$inventory:$lineno: want '${f[0]} NAME IP [TARGET]'"
            [[ ${f[1]} =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || die "$inventory:$lineno: bad node name ${f[1]}"
            if [ "${f[0]}" = control-plane ]; then
                cp_names+=("${f[1]}"); cp_ips+=("${f[2]}"); cp_targets+=("${f[3]:-}")
            else
                w_names+=("${f[1]}"); w_ips+=("${f[2]}"); w_targets+=("${f[3]:-}")
            fi ;;
        *) die "$inventory:$lineno: unknown line '${f[*]}'" ;;
    esac
done <"$inventory"
[ ${#cp_names[@]} -gt 0 ] || die "$inventory: no control-plane line"
case "$TRANSPORT" in ssh|nsenter|dir) ;; *) die "unknown TRANSPORT=$TRANSPORT (ssh, nsenter or dir)" ;; esac
case "$CGROUP_DRIVER" in systemd|cgroupfs) ;; *) die "unknown CGROUP_DRIVER=$CGROUP_DRIVER (systemd or cgroupfs)" ;; esac
case "$KUBELET_BOOTSTRAP" in certs|token) ;; *) die "unknown KUBELET_BOOTSTRAP=$KUBELET_BOOTSTRAP (certs or token)" ;; esac
[ -z "$CONTAINERD_CONFIG" ] || [ -r "$CONTAINERD_CONFIG" ] || die "cannot read CONTAINERD_CONFIG=$CONTAINERD_CONFIG"
[ -n "$pki_dir" ] || pki_dir=$PWD/rudder-$CLUSTER_NAME

# --- binaries -----------------------------------------------------------------------------------
components=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
if [ -z "$bin_dir" ]; then
    for d in "$repo/target/release" "$repo/target/debug"; do
        if [ -x "$d/kube-apiserver" ] && [ -x "$d/rudder-pki" ]; then bin_dir=$d; break; fi
    done
    [ -n "$bin_dir" ] || die "no binaries in target/release or target/debug: cargo build --release, or --bin-dir"
fi
for b in "${components[@]}" rudder-pki; do
    [ -x "$bin_dir/$b" ] || die "$bin_dir/$b missing or not executable"
done

# --- transport ----------------------------------------------------------------------------------
# target NAME IP TARGET -> the effective target
default_target() { if [ -n "$3" ]; then echo "$3"; elif [ "$TRANSPORT" = ssh ]; then echo "$SSH_USER@$2"; else die "node $1 needs a TARGET for TRANSPORT=$TRANSPORT"; fi; }

leader_pid() {   # nsenter TARGET -> the machine's PID 1 as seen from here
    local t=$1 pid
    if [ -f "$t" ]; then
        pid=$(cat "$t")
        ps -o pid= --ppid "$pid" | head -n1 | tr -d ' '
    else
        echo "$t"
    fi
}

# run TARGET COMMAND... (the command is one shell string, run by sh on the machine)
run() {
    local t=$1; shift
    case "$TRANSPORT" in
        ssh) # shellcheck disable=SC2086
             ssh $SSH_OPTS "$t" -- "$*" ;;
        nsenter) nsenter -t "$(leader_pid "$t")" -a sh -c "$*" ;;
        dir) mkdir -p "$t"; printf '%s\n' "$*" >>"$t/.rudder-commands" ;;
    esac
}

# push TARGET STAGEDIR: copy the tree under STAGEDIR onto the machine's /
push() {
    local t=$1 stage=$2
    case "$TRANSPORT" in
        # shellcheck disable=SC2086
        ssh) tar -C "$stage" -cpf - . | ssh $SSH_OPTS "$t" -- "tar --no-same-owner -C / -xpf -" ;;
        nsenter) tar -C "$stage" -cpf - . | nsenter -t "$(leader_pid "$t")" -a tar --no-same-owner -C / -xpf - ;;
        dir) mkdir -p "$t"; tar -C "$stage" -cpf - . | tar --no-same-owner -C "$t" -xpf - ;;
    esac
}

# Every machine's target, before anything is done, so a bad inventory changes nothing.
cp_t=() w_t=()
for k in "${!cp_names[@]}"; do cp_t+=("$(default_target "${cp_names[$k]}" "${cp_ips[$k]}" "${cp_targets[$k]}")"); done
for k in "${!w_names[@]}"; do w_t+=("$(default_target "${w_names[$k]}" "${w_ips[$k]}" "${w_targets[$k]}")"); done

# --- PKI ----------------------------------------------------------------------------------------
join() { local IFS=,; echo "$*"; }
pairs() { local -n n=$1 i=$2; local out=() k; for k in "${!n[@]}"; do out+=("${n[$k]}=${i[$k]}"); done; join "${out[@]}"; }
pki_args=(init --out "$pki_dir" --control-plane "$(pairs cp_names cp_ips)" --cluster-name "$CLUSTER_NAME" --service-cidr "$SERVICE_CIDR")
[ ${#w_names[@]} -eq 0 ] || pki_args+=(--workers "$(pairs w_names w_ips)")
[ -z "$CONTROL_PLANE_ENDPOINT" ] || pki_args+=(--control-plane-endpoint "$CONTROL_PLANE_ENDPOINT")
log "PKI in $pki_dir"
"$bin_dir/rudder-pki" "${pki_args[@]}" >&2
if [ "$KUBELET_BOOTSTRAP" = token ]; then
    # A fresh token each run (24h, kubeadm's default); older ones expire on their own.
    "$bin_dir/rudder-pki" token --out "$pki_dir" >&2
fi

# unit NAME DEST [FLAG...]: install deploy/systemd/NAME.service at DEST with FLAGs added to its
# ExecStart (each on its own continuation line right after the binary).
unit() {
    local name=$1 dest=$2; shift 2
    local flags="" f
    for f in "$@"; do flags+="\\n    $f \\\\"; done
    if [ -z "$flags" ]; then
        install -m 0644 "$here/systemd/$name.service" "$dest"
    else
        sed "/^ExecStart=/s|\$|$flags|" "$here/systemd/$name.service" >"$dest"
        chmod 0644 "$dest"
    fi
}
# TLS bootstrap needs bootstrap tokens accepted and the cluster CA to sign with.
cp_flags_apiserver=() cp_flags_cm=() w_flags_kubelet=()
if [ "$KUBELET_BOOTSTRAP" = token ]; then
    cp_flags_apiserver=(--enable-bootstrap-token-auth=true)
    cp_flags_cm=(--cluster-signing-cert-file=/etc/kubernetes/pki/ca.crt --cluster-signing-key-file=/etc/kubernetes/pki/ca.key)
    w_flags_kubelet=(--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --cert-dir=/var/lib/kubelet/pki)
fi

etcd_cluster=() etcd_servers=()
for k in "${!cp_names[@]}"; do
    etcd_cluster+=("${cp_names[$k]}=https://${cp_ips[$k]}:2380")
    etcd_servers+=("https://${cp_ips[$k]}:2379")
done

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT

# stage NAME IP ROLE -> a directory holding what goes onto that machine's /
stage() {
    local name=$1 ip=$2 role=$3 s=$staging/$1
    mkdir -p "$s/etc/kubernetes/pki" "$s/etc/rudder" "$s/etc/systemd/system" "$s/usr/local/bin"
    chmod 0755 "$s/etc/kubernetes" "$s/etc/kubernetes/pki"
    cat >"$s/etc/rudder/node.env" <<EOF
NODE_NAME=$name
NODE_IP=$ip
INITIAL_CLUSTER=$(join "${etcd_cluster[@]}")
ETCD_SERVERS=$(join "${etcd_servers[@]}")
SERVICE_CIDR=$SERVICE_CIDR
CLUSTER_CIDR=$CLUSTER_CIDR
CLUSTER_DNS=$CLUSTER_DNS
CGROUP_DRIVER=$CGROUP_DRIVER
EOF
    chmod 0644 "$s/etc/rudder/node.env"
    if [ "$role" = control-plane ]; then
        cp -a "$pki_dir/pki/." "$s/etc/kubernetes/pki/"
        # This member's own etcd server/peer pair replaces the first member's.
        cp -a "$pki_dir/nodes/$name/pki/etcd/." "$s/etc/kubernetes/pki/etcd/"
        for f in admin.conf super-admin.conf controller-manager.conf scheduler.conf; do
            cp -a "$pki_dir/$f" "$s/etc/kubernetes/$f"
        done
        for b in kube-apiserver kube-controller-manager kube-scheduler; do
            install -m 0755 "$bin_dir/$b" "$s/usr/local/bin/$b"
        done
        for u in etcd kube-scheduler; do
            unit "$u" "$s/etc/systemd/system/$u.service"
        done
        unit kube-apiserver "$s/etc/systemd/system/kube-apiserver.service" "${cp_flags_apiserver[@]}"
        unit kube-controller-manager "$s/etc/systemd/system/kube-controller-manager.service" "${cp_flags_cm[@]}"
    else
        cp -a "$pki_dir/pki/ca.crt" "$s/etc/kubernetes/pki/ca.crt"
        if [ "$KUBELET_BOOTSTRAP" = token ]; then
            # The kubelet writes kubelet.conf itself once its CSR is signed.
            cp -a "$pki_dir/bootstrap-kubelet.conf" "$s/etc/kubernetes/bootstrap-kubelet.conf"
        else
            cp -a "$pki_dir/kubelet-$name.conf" "$s/etc/kubernetes/kubelet.conf"
        fi
        cp -a "$pki_dir/kube-proxy.conf" "$s/etc/kubernetes/kube-proxy.conf"
        for b in kubelet kube-proxy; do
            install -m 0755 "$bin_dir/$b" "$s/usr/local/bin/$b"
        done
        unit kubelet "$s/etc/systemd/system/kubelet.service" "${w_flags_kubelet[@]}"
        unit kube-proxy "$s/etc/systemd/system/kube-proxy.service"
        if [ -n "$CONTAINERD_CONFIG" ]; then
            mkdir -p "$s/etc/containerd"
            install -m 0644 "$CONTAINERD_CONFIG" "$s/etc/containerd/config.toml"
        fi
    fi
    echo "$s"
}

# --- control plane ------------------------------------------------------------------------------
for k in "${!cp_names[@]}"; do
    name=${cp_names[$k]} ip=${cp_ips[$k]} t=${cp_t[$k]}
    log "$name ($ip): control plane"
    run "$t" "test -x /usr/bin/etcd || { echo 'etcd is not installed (Debian: apt-get install etcd-server)' >&2; exit 1; }"
    s=$(stage "$name" "$ip" control-plane)
    push "$t" "$s"
    # Debian's etcd package starts its own single-member etcd: ours replaces it, and its data.
    run "$t" "systemctl daemon-reload && systemctl enable etcd kube-apiserver kube-controller-manager kube-scheduler"
done

if [ $start -eq 1 ]; then
    # Every member at once: with Type=notify a member is started only once it has a quorum, so
    # starting them one by one with a blocking start would wait forever on the first.
    for t in "${cp_t[@]}"; do run "$t" "systemctl restart --no-block etcd"; done
    for t in "${cp_t[@]}"; do
        run "$t" "for i in \$(seq 1 120); do systemctl is-active -q etcd && exit 0; sleep 1; done; journalctl -u etcd --no-pager -n 30 >&2; exit 1" \
            || die "etcd did not become active on $t"
    done
    log "etcd: ${#cp_t[@]} members active"
    for t in "${cp_t[@]}"; do
        run "$t" "systemctl restart kube-apiserver kube-controller-manager kube-scheduler"
    done
    for k in "${!cp_t[@]}"; do
        run "${cp_t[$k]}" "for i in \$(seq 1 120); do systemctl is-active -q kube-apiserver && ss -Hltn 'sport = :6443' | grep -q . && exit 0; sleep 1; done; journalctl -u kube-apiserver --no-pager -n 30 >&2; exit 1" \
            || die "kube-apiserver did not come up on ${cp_names[$k]}"
    done
    log "kube-apiserver: listening on every control-plane machine"
    # kubeadm's admin.conf group is bound to cluster-admin by a ClusterRoleBinding that the
    # super-admin (system:masters) creates.
    if command -v kubectl >/dev/null; then
        for i in $(seq 1 60); do
            kubectl --kubeconfig "$pki_dir/super-admin.conf" get --raw /readyz >/dev/null 2>&1 && break
            sleep 1
        done
        sa=(kubectl --kubeconfig "$pki_dir/super-admin.conf")
        "${sa[@]}" get clusterrolebinding kubeadm:cluster-admins >/dev/null 2>&1 \
            || "${sa[@]}" create clusterrolebinding kubeadm:cluster-admins \
                --clusterrole=cluster-admin --group=kubeadm:cluster-admins >&2 \
            || "${sa[@]}" get clusterrolebinding kubeadm:cluster-admins >/dev/null \
            || die "could not create the kubeadm:cluster-admins ClusterRoleBinding"
        # kube-controller-manager cannot yet run each controller under its own service account
        # (upstream's --use-service-account-credentials, which kubeadm sets), so its own identity
        # gets what those accounts would have: every system:controller:* role. Remove these
        # bindings once the flag exists.
        for role in $("${sa[@]}" get clusterroles -o name | sed -n 's|^clusterrole.rbac.authorization.k8s.io/system:controller:||p'); do
            "${sa[@]}" get clusterrolebinding "rudder:kube-controller-manager:$role" >/dev/null 2>&1 \
                || "${sa[@]}" create clusterrolebinding "rudder:kube-controller-manager:$role" \
                    --clusterrole="system:controller:$role" --user=system:kube-controller-manager >/dev/null
        done
        log "RBAC: kubeadm:cluster-admins bound; controller roles bound to system:kube-controller-manager"
        if [ "$KUBELET_BOOTSTRAP" = token ]; then
            "${sa[@]}" apply -f "$pki_dir/bootstrap-token.yaml" >&2 || die "could not apply $pki_dir/bootstrap-token.yaml"
            log "TLS bootstrap: token Secret and bindings applied"
        fi
    else
        log "kubectl not found here: create the kubeadm:cluster-admins ClusterRoleBinding by hand (see README)"
        [ "$KUBELET_BOOTSTRAP" != token ] || log "and kubectl apply -f $pki_dir/bootstrap-token.yaml"
    fi
fi

# --- workers ------------------------------------------------------------------------------------
for k in "${!w_names[@]}"; do
    name=${w_names[$k]} ip=${w_ips[$k]} t=${w_t[$k]}
    log "$name ($ip): worker"
    run "$t" "command -v containerd >/dev/null || { echo 'containerd is not installed (Debian: apt-get install containerd runc)' >&2; exit 1; }"
    s=$(stage "$name" "$ip" worker)
    push "$t" "$s"
    if [ $start -eq 1 ]; then
        # restart: containerd may have been running with the packaged configuration.
        run "$t" "systemctl daemon-reload && systemctl enable containerd kubelet kube-proxy && systemctl restart containerd && systemctl restart kubelet kube-proxy"
    else
        run "$t" "systemctl daemon-reload && systemctl enable containerd kubelet kube-proxy"
    fi
done

if [ "$KUBELET_BOOTSTRAP" = token ] && [ $start -eq 0 ]; then
    log "TLS bootstrap: once the apiserver is up, kubectl --kubeconfig $pki_dir/super-admin.conf apply -f $pki_dir/bootstrap-token.yaml"
fi
log "done. kubectl --kubeconfig $pki_dir/admin.conf get nodes"
