//! What rkind needs from the host, checked before anything is created, with the fix named.

use std::path::Path;

use super::RkindError;
use super::spec::{ClusterSpec, ProxyMode};
use super::sys::{is_root, which};

/// The CNI plugin dir (Debian installs them in /usr/lib/cni).
pub fn cni_bin_dir() -> Option<&'static str> {
    ["/usr/lib/cni", "/opt/cni/bin"]
        .into_iter()
        .find(|d| Path::new(d).join("bridge").exists())
}

pub fn require_root() -> Result<(), RkindError> {
    if is_root() {
        Ok(())
    } else {
        Err(RkindError::Preflight(
            "rkind must run as root (it creates network namespaces, a bridge, routes and containerd instances): run it with sudo".into(),
        ))
    }
}

/// Root, and every tool the cluster runs; the error names the Debian packages to install.
pub fn check(spec: &ClusterSpec) -> Result<(), RkindError> {
    require_root()?;
    let mut missing: Vec<&str> = Vec::new();
    let tools: &[(&str, &str)] = &[
        ("containerd", "containerd"),
        ("ctr", "containerd"),
        ("runc", "runc"),
        ("ip", "iproute2"),
        ("nsenter", "util-linux"),
        ("unshare", "util-linux"),
        ("conntrack", "conntrack"),
    ];
    for (bin, pkg) in tools {
        if which(bin).is_none() && !missing.contains(pkg) {
            missing.push(pkg);
        }
    }
    match spec.proxy_mode {
        ProxyMode::Iptables if which("iptables-restore").is_none() => missing.push("iptables"),
        ProxyMode::Nftables if which("nft").is_none() => missing.push("nftables"),
        _ => {}
    }
    if cni_bin_dir().is_none() {
        missing.push("containernetworking-plugins");
    }
    if spec.etcd && which("etcd").is_none() {
        missing.push("etcd-server");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(RkindError::Preflight(format!(
            "missing tools; run: apt-get install -y {} (or scripts/install-deps.sh)",
            missing.join(" ")
        )))
    }
}
