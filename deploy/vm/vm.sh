#!/bin/bash
# Machines that really boot systemd, on this host: Debian trees booted with systemd-nspawn on a
# bridge (see ../shared/reference/vm-probe.md for why each flag is there). Needs root.
#
#   vm.sh rootfs                 build the Debian base tree once (cached in $RUDDER_VM_DIR)
#   vm.sh up NAME=IP[:worker] ...   boot machines (overlay over the base tree) on the bridge
#   vm.sh pidfile NAME           the file holding NAME's nspawn PID (install.sh's nsenter target)
#   vm.sh exec NAME CMD...       run a command in a machine
#   vm.sh down                   stop every machine (by PID), remove overlays, cgroups, bridge
#
# RUDDER_VM_DIR (default /work/vmcache) holds rootfs/ (cached) and run/ (this run's machines).
# The bridge is $RUDDER_VM_BRIDGE (default rudvm0) with 10.78.0.1/24; nothing leaves the host
# (no uplink, ip_forward untouched).
set -euo pipefail
VM_DIR=${RUDDER_VM_DIR:-/work/vmcache}
BRIDGE=${RUDDER_VM_BRIDGE:-rudvm0}
BRIDGE_CIDR=${RUDDER_VM_BRIDGE_CIDR:-10.78.0.1/24}
ROOTFS=$VM_DIR/rootfs
RUN=$VM_DIR/run
PACKAGES="systemd-sysv dbus iproute2 iptables procps curl ca-certificates etcd-server containerd runc containernetworking-plugins conntrack"
die() { echo "vm.sh: $*" >&2; exit 1; }
log() { echo "[vm] $*" >&2; }
[ "$(id -u)" = 0 ] || die "needs root"

rootfs() {
    if [ -f "$ROOTFS/.rudder-ready" ]; then log "base tree cached in $ROOTFS"; return; fi
    command -v debootstrap >/dev/null && command -v systemd-nspawn >/dev/null \
        || apt-get install -y systemd-container debootstrap >&2
    local mirror
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
    rm -rf "$ROOTFS.tmp"
    log "debootstrap bookworm into $ROOTFS (once)"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2,iptables \
        bookworm "$ROOTFS.tmp" "$mirror" >&2
    # Packages' maintainer scripts must not start services in the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$ROOTFS.tmp/usr/sbin/policy-rc.d"; chmod +x "$ROOTFS.tmp/usr/sbin/policy-rc.d"
    chroot "$ROOTFS.tmp" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES && apt-get clean" >&2
    rm -f "$ROOTFS.tmp/usr/sbin/policy-rc.d"
    # The installer decides what runs where; Debian's single-member etcd leaves no data behind.
    chroot "$ROOTFS.tmp" systemctl disable etcd containerd >&2 || true
    rm -rf "$ROOTFS.tmp/var/lib/etcd/default"
    chroot "$ROOTFS.tmp" systemctl enable systemd-networkd >&2
    # v1 controllers are mounted read-only in a machine; runc needs them writable. Only ever
    # remount,bind (a plain remount flips the shared superblock, host-wide).
    cat >"$ROOTFS.tmp/etc/systemd/system/rudder-cgroup-rw.service" <<'EOF'
[Unit]
Description=Make the cgroup v1 controller mounts writable for runc (nspawn test machines)
DefaultDependencies=no
Before=containerd.service
After=local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for m in /sys/fs/cgroup/*; do mountpoint -q $m && findmnt -no OPTIONS $m | grep -q "^ro" && mount -o remount,bind,rw $m; done; true'

[Install]
WantedBy=containerd.service
EOF
    chroot "$ROOTFS.tmp" systemctl enable rudder-cgroup-rw.service >&2
    # Every machine gets its own machine-id at first boot.
    : >"$ROOTFS.tmp/etc/machine-id"
    rm -f "$ROOTFS.tmp/var/lib/dbus/machine-id"; ln -s /etc/machine-id "$ROOTFS.tmp/var/lib/dbus/machine-id"
    touch "$ROOTFS.tmp/.rudder-ready"
    mv "$ROOTFS.tmp" "$ROOTFS"
}

# Put this shell into its own cgroup in every hierarchy, so nspawn --keep-unit makes its
# supervisor/payload split there (not at the host's root) and runc in the machine can write
# its own controllers.
enter_cgroups() {
    local name=$1 h cur base d
    for h in cpu cpuacct cpuset memory devices freezer blkio pids systemd unified; do
        case $h in
            unified) cur=$(awk -F: '$1=="0"{print $3}' /proc/self/cgroup) ;;
            systemd) cur=$(awk -F: '$2=="name=systemd"{print $3}' /proc/self/cgroup) ;;
            *) cur=$(awk -F: -v c=$h '$2==c{print $3}' /proc/self/cgroup) ;;
        esac
        base=/sys/fs/cgroup/$h${cur%/}
        [ -d "$base" ] || continue
        for d in "$base/rudvm" "$base/rudvm/$name"; do
            mkdir -p "$d"
            if [ $h = cpuset ]; then
                cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus"
                cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems"
            fi
        done
        echo "$BASHPID" >"$base/rudvm/$name/cgroup.procs"
    done
}

# boot NAME ROOT LOG ARGS...: runs nspawn until the machine powers off (restarting it on reboot:
# with --keep-unit a reboot makes nspawn exit 133).
boot() {
    local name=$1 root=$2 logf=$3; shift 3
    enter_cgroups "$name"
    local child rc
    trap 'kill -TERM $child 2>/dev/null; wait $child; exit 0' TERM INT
    while :; do
        systemd-nspawn -b -D "$root" -M "$name" --register=no --keep-unit "$@" >>"$logf" 2>&1 </dev/null &
        child=$!; echo $child >"$RUN/$name.nspawn.pid"
        rc=0; wait $child || rc=$?
        echo "[vm.sh] nspawn exited rc=$rc" >>"$logf"
        [ $rc -eq 133 ] || exit $rc
    done
}

leader() { local p; p=$(cat "$RUN/$1.nspawn.pid" 2>/dev/null) || return 1; ps -o pid= --ppid "$p" | head -n1 | tr -d ' '; }

up() {
    [ -f "$ROOTFS/.rudder-ready" ] || rootfs
    mkdir -p "$RUN"
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link add "$BRIDGE" type bridge
        ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
        ip link set "$BRIDGE" up
    fi
    # /run here is not a tmpfs: nspawn's propagation dir must be (vm-probe.md).
    mkdir -p /run/systemd/nspawn
    mountpoint -q /run/systemd/nspawn || mount -t tmpfs -o mode=755,size=16m rudvm-nspawn /run/systemd/nspawn
    local hosts="" spec name ip
    for spec in "$@"; do spec=${spec%:worker}; hosts+="${spec#*=} ${spec%%=*}"$'\n'; done
    for spec in "$@"; do
        local worker=0
        [[ $spec == *:worker ]] && worker=1 && spec=${spec%:worker}
        name=${spec%%=*} ip=${spec#*=}
        local d=$RUN/$name
        mkdir -p "$d/upper" "$d/work" "$d/root" "$d/containerd"
        mountpoint -q "$d/root" || mount -t overlay overlay \
            -o "lowerdir=$ROOTFS,upperdir=$d/upper,workdir=$d/work" "$d/root"
        echo "$name" >"$d/root/etc/hostname"
        printf '127.0.0.1 localhost\n%s' "$hosts" >"$d/root/etc/hosts"
        mkdir -p "$d/root/etc/systemd/network"
        printf '[Match]\nName=host0\n[Network]\nAddress=%s/24\nGateway=%s\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' \
            "$ip" "${BRIDGE_CIDR%/*}" >"$d/root/etc/systemd/network/10-host0.network"
        local args=(--network-bridge="$BRIDGE")
        # containerd+runc inside: keyctl for runc, all capabilities for privileged pods, and
        # containerd's overlay snapshots on a plain directory (not on the machine's overlay).
        [ $worker -eq 0 ] || args+=(--system-call-filter=@keyring --capability=all --bind="$d/containerd:/var/lib/containerd")
        log "booting $name ($ip)$([ $worker -eq 1 ] && echo ' worker')"
        # Its own output goes to the log: an inherited stdout would keep a caller's pipe open.
        ( boot "$name" "$d/root" "$d/console.log" "${args[@]}" ) >>"$d/console.log" 2>&1 </dev/null &
        echo $! >"$RUN/$name.boot.pid"
        disown
    done
    for spec in "$@"; do
        spec=${spec%:worker}; name=${spec%%=*}
        local state="" deadline=$(( $(date +%s) + 180 ))
        while [ "$(date +%s)" -lt $deadline ]; do
            local l; l=$(leader "$name" || true)
            if [ -n "$l" ]; then
                state=$(nsenter -t "$l" -a systemctl is-system-running 2>/dev/null || true)
                case $state in running|degraded) break ;; esac
            fi
            sleep 0.2
        done
        case $state in running|degraded) log "$name: $state" ;; *) die "$name did not boot (state '$state'; see $RUN/$name/console.log)" ;; esac
    done
}

down() {
    [ -d "$RUN" ] || return 0
    local f name p
    for f in "$RUN"/*.boot.pid; do
        [ -e "$f" ] || continue
        name=$(basename "$f" .boot.pid)
        p=$(cat "$RUN/$name.nspawn.pid" 2>/dev/null || true)
        # nspawn turns SIGTERM into a clean poweroff of the machine.
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; fi
    done
    for f in "$RUN"/*.boot.pid; do
        [ -e "$f" ] || continue
        name=$(basename "$f" .boot.pid)
        p=$(cat "$RUN/$name.nspawn.pid" 2>/dev/null || true)
        for _ in $(seq 1 100); do { [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; } && break; sleep 0.1; done
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
        p=$(cat "$f"); kill -TERM "$p" 2>/dev/null || true
        rm -f "$f" "$RUN/$name.nspawn.pid"
    done
    for d in "$RUN"/*/root; do
        [ -d "$d" ] || continue
        mountpoint -q "$d" && { umount "$d" || umount -l "$d"; }
    done
    local h base
    for h in cpu cpuacct cpuset memory devices freezer blkio pids systemd unified; do
        for base in /sys/fs/cgroup/$h/rudvm /sys/fs/cgroup/$h/*/rudvm; do
            [ -d "$base" ] && find "$base" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        done
    done
    ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE" || true
    mountpoint -q /run/systemd/nspawn && umount /run/systemd/nspawn || true
    # Keep the consoles of the last run for a post-mortem.
    rm -rf "$VM_DIR/last-logs"; mkdir -p "$VM_DIR/last-logs"
    for d in "$RUN"/*/console.log; do [ -e "$d" ] && cp "$d" "$VM_DIR/last-logs/$(basename "$(dirname "$d")").console.log"; done
    rm -rf "$RUN"
    log "machines stopped, overlays, cgroups and bridge removed"
}

cmd=${1:-}; shift || true
case "$cmd" in
    rootfs) rootfs ;;
    up) [ $# -gt 0 ] || die "up NAME=IP[:worker] ..."; up "$@" ;;
    down) down ;;
    pidfile) echo "$RUN/${1:?name}.nspawn.pid" ;;
    exec) name=${1:?name}; shift; l=$(leader "$name") || die "$name is not running"; nsenter -t "$l" -a "$@" ;;
    *) die "usage: vm.sh rootfs | up NAME=IP[:worker]... | pidfile NAME | exec NAME CMD... | down" ;;
esac
