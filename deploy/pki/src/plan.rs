//! What a cluster's PKI consists of: kubeadm's tree (`cmd/kubeadm/app/phases/certs/certlist.go`
//! and the kubeconfig phase), computed from a [`ClusterSpec`] without touching the disk.
//!
//! The top-level `pki/` is what `kubeadm init` writes on the first control-plane node. etcd's
//! server and peer certificates name one member (CN = node name, as kubeadm), so every
//! control-plane node also gets its own pair under `nodes/<name>/pki/etcd/`, as upstream's
//! "set up a HA etcd cluster with kubeadm" guide lays out one directory per host.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::inventory::{ClusterSpec, Node};

/// The three certificate authorities kubeadm makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaId {
    Kubernetes,
    FrontProxy,
    Etcd,
}

impl CaId {
    pub const ALL: [CaId; 3] = [CaId::Kubernetes, CaId::FrontProxy, CaId::Etcd];

    /// Path of the CA's files without extension, relative to the output directory.
    pub fn base(self) -> &'static str {
        match self {
            CaId::Kubernetes => "pki/ca",
            CaId::FrontProxy => "pki/front-proxy-ca",
            CaId::Etcd => "pki/etcd/ca",
        }
    }

    /// kubeadm's CA common names.
    pub fn common_name(self) -> &'static str {
        match self {
            CaId::Kubernetes => "kubernetes",
            CaId::FrontProxy => "front-proxy-ca",
            CaId::Etcd => "etcd-ca",
        }
    }

    /// Which CA signed the leaf at `base` (a path relative to the output directory); used by
    /// `renew`, which re-issues whatever it finds.
    pub fn for_leaf(base: &str) -> CaId {
        let in_etcd_dir = base.starts_with("pki/etcd/") || base.contains("/pki/etcd/");
        if in_etcd_dir || base == "pki/apiserver-etcd-client" {
            CaId::Etcd
        } else if base == "pki/front-proxy-client" {
            CaId::FrontProxy
        } else {
            CaId::Kubernetes
        }
    }
}

/// Extended key usages of a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Server,
    Client,
    /// etcd's server and peer certificates are used both ways (kubeadm's comment: etcd 3.2
    /// requires clientAuth on the server certificate).
    ServerAndClient,
}

/// One leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSpec {
    /// `pki/apiserver` → `pki/apiserver.crt` + `pki/apiserver.key`.
    pub base: String,
    pub ca: CaId,
    pub common_name: String,
    pub organization: Option<String>,
    pub usage: Usage,
    pub dns_names: Vec<String>,
    pub ips: Vec<IpAddr>,
}

/// One kubeconfig with an embedded client certificate signed by the cluster CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeconfigSpec {
    /// File name relative to the output directory, e.g. `admin.conf`.
    pub file: String,
    /// The kubeconfig's user name (kubeadm uses the certificate's CN).
    pub user: String,
    pub common_name: String,
    pub organization: Option<String>,
    /// `https://host:port` of the apiserver.
    pub server: String,
}

/// Everything `init` writes besides the CAs and the service-account key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub leaves: Vec<LeafSpec>,
    pub kubeconfigs: Vec<KubeconfigSpec>,
}

/// Group that kubeadm ≥ 1.29 puts in admin.conf; it is bound to `cluster-admin` by a
/// ClusterRoleBinding (the installer creates it with super-admin.conf).
pub const CLUSTER_ADMINS_GROUP: &str = "kubeadm:cluster-admins";
pub const MASTERS_GROUP: &str = "system:masters";
pub const NODES_GROUP: &str = "system:nodes";

pub fn plan(spec: &ClusterSpec) -> Plan {
    let mut leaves = vec![
        leaf(
            "pki/apiserver",
            CaId::Kubernetes,
            "kube-apiserver",
            None,
            Usage::Server,
        )
        .with_sans(apiserver_dns(spec), apiserver_ips(spec)),
        leaf(
            "pki/apiserver-kubelet-client",
            CaId::Kubernetes,
            "kube-apiserver-kubelet-client",
            Some(MASTERS_GROUP),
            Usage::Client,
        ),
        leaf(
            "pki/front-proxy-client",
            CaId::FrontProxy,
            "front-proxy-client",
            None,
            Usage::Client,
        ),
        leaf(
            "pki/etcd/healthcheck-client",
            CaId::Etcd,
            "kube-etcd-healthcheck-client",
            Some(MASTERS_GROUP),
            Usage::Client,
        ),
        leaf(
            "pki/apiserver-etcd-client",
            CaId::Etcd,
            "kube-apiserver-etcd-client",
            Some(MASTERS_GROUP),
            Usage::Client,
        ),
    ];
    // The top-level etcd pair belongs to the first member, as after `kubeadm init` on it.
    if let Some(first) = spec.control_plane.first() {
        leaves.extend(etcd_member_leaves("pki/etcd", first));
    }
    for node in &spec.control_plane {
        leaves.extend(etcd_member_leaves(&format!("nodes/{}/pki/etcd", node.name), node));
    }

    let endpoint = format!("https://{}", spec.endpoint);
    // One controller-manager.conf/scheduler.conf serves every control-plane node: they talk to
    // the apiserver on their own machine, as kubeadm's (which name the local advertise address).
    let local = format!("https://127.0.0.1:{}", spec.apiserver_port);
    let mut kubeconfigs = vec![
        kubeconfig(
            "admin.conf",
            "kubernetes-admin",
            Some(CLUSTER_ADMINS_GROUP),
            &endpoint,
        ),
        kubeconfig(
            "super-admin.conf",
            "kubernetes-super-admin",
            Some(MASTERS_GROUP),
            &endpoint,
        ),
        kubeconfig(
            "controller-manager.conf",
            "system:kube-controller-manager",
            None,
            &local,
        ),
        kubeconfig("scheduler.conf", "system:kube-scheduler", None, &local),
        kubeconfig("kube-proxy.conf", "system:kube-proxy", None, &endpoint),
    ];
    for node in spec.control_plane.iter().chain(&spec.workers) {
        kubeconfigs.push(kubeconfig(
            &format!("kubelet-{}.conf", node.name),
            &format!("system:node:{}", node.name),
            Some(NODES_GROUP),
            &endpoint,
        ));
    }
    Plan { leaves, kubeconfigs }
}

/// kubeadm's `GetAPIServerAltNames`: the service names, the first service IP, the advertise
/// addresses (here: every control-plane node) and the endpoint host; plus loopback, because
/// the shared controller-manager/scheduler kubeconfigs point at `127.0.0.1`.
fn apiserver_dns(spec: &ClusterSpec) -> Vec<String> {
    let mut names = vec![
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
        format!("kubernetes.default.svc.{}", spec.dns_domain),
        "localhost".to_string(),
    ];
    names.extend(spec.control_plane.iter().map(|n| n.name.clone()));
    let host = endpoint_host(&spec.endpoint);
    if host.parse::<IpAddr>().is_err() && !names.iter().any(|n| n == host) {
        names.push(host.to_string());
    }
    names
}

fn apiserver_ips(spec: &ClusterSpec) -> Vec<IpAddr> {
    let mut ips = vec![spec.first_service_ip];
    ips.extend(spec.control_plane.iter().map(|n| n.ip));
    ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if let Ok(ip) = endpoint_host(&spec.endpoint).parse::<IpAddr>() {
        ips.push(ip);
    }
    dedup(ips)
}

/// kubeadm's `GetEtcdAltNames`/`GetEtcdPeerAltNames`: the member's name and address and loopback.
fn etcd_member_leaves(dir: &str, node: &Node) -> [LeafSpec; 2] {
    let dns = vec![node.name.clone(), "localhost".to_string()];
    let ips = dedup(vec![
        node.ip,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ]);
    [
        leaf(
            &format!("{dir}/server"),
            CaId::Etcd,
            &node.name,
            None,
            Usage::ServerAndClient,
        )
        .with_sans(dns.clone(), ips.clone()),
        leaf(
            &format!("{dir}/peer"),
            CaId::Etcd,
            &node.name,
            None,
            Usage::ServerAndClient,
        )
        .with_sans(dns, ips),
    ]
}

/// The host part of `host:port`, `[v6]:port` or a bare host.
pub fn endpoint_host(endpoint: &str) -> &str {
    if let Some(rest) = endpoint.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match endpoint.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
        _ => endpoint,
    }
}

fn dedup(ips: Vec<IpAddr>) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::with_capacity(ips.len());
    for ip in ips {
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

fn leaf(base: &str, ca: CaId, cn: &str, org: Option<&str>, usage: Usage) -> LeafSpec {
    LeafSpec {
        base: base.to_string(),
        ca,
        common_name: cn.to_string(),
        organization: org.map(str::to_string),
        usage,
        dns_names: Vec::new(),
        ips: Vec::new(),
    }
}

impl LeafSpec {
    fn with_sans(mut self, dns_names: Vec<String>, ips: Vec<IpAddr>) -> Self {
        self.dns_names = dns_names;
        self.ips = ips;
        self
    }
}

fn kubeconfig(file: &str, cn: &str, org: Option<&str>, server: &str) -> KubeconfigSpec {
    KubeconfigSpec {
        file: file.to_string(),
        user: cn.to_string(),
        common_name: cn.to_string(),
        organization: org.map(str::to_string),
        server: server.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    fn spec() -> ClusterSpec {
        let node = |name: &str, ip: &str| Node {
            name: name.into(),
            ip: ip.parse().expect("ip"),
        };
        ClusterSpec {
            cluster_name: "kubernetes".into(),
            control_plane: vec![node("cp1", "10.77.0.11"), node("cp2", "10.77.0.12")],
            workers: vec![node("w1", "10.77.0.21")],
            first_service_ip: "10.96.0.1".parse().expect("ip"),
            dns_domain: "cluster.local".into(),
            endpoint: "10.77.0.11:6443".into(),
            apiserver_port: 6443,
            cert_validity: Duration::days(365),
        }
    }

    fn find<'a>(plan: &'a Plan, base: &str) -> &'a LeafSpec {
        plan.leaves
            .iter()
            .find(|l| l.base == base)
            .unwrap_or_else(|| panic!("{base} planned"))
    }

    #[test]
    fn leaves_have_kubeadms_subjects_and_issuers() {
        let plan = plan(&spec());
        let cases = [
            (
                "pki/apiserver",
                CaId::Kubernetes,
                "kube-apiserver",
                None,
                Usage::Server,
            ),
            (
                "pki/apiserver-kubelet-client",
                CaId::Kubernetes,
                "kube-apiserver-kubelet-client",
                Some("system:masters"),
                Usage::Client,
            ),
            (
                "pki/front-proxy-client",
                CaId::FrontProxy,
                "front-proxy-client",
                None,
                Usage::Client,
            ),
            (
                "pki/etcd/healthcheck-client",
                CaId::Etcd,
                "kube-etcd-healthcheck-client",
                Some("system:masters"),
                Usage::Client,
            ),
            (
                "pki/apiserver-etcd-client",
                CaId::Etcd,
                "kube-apiserver-etcd-client",
                Some("system:masters"),
                Usage::Client,
            ),
            ("pki/etcd/server", CaId::Etcd, "cp1", None, Usage::ServerAndClient),
            ("pki/etcd/peer", CaId::Etcd, "cp1", None, Usage::ServerAndClient),
            (
                "nodes/cp2/pki/etcd/server",
                CaId::Etcd,
                "cp2",
                None,
                Usage::ServerAndClient,
            ),
            (
                "nodes/cp2/pki/etcd/peer",
                CaId::Etcd,
                "cp2",
                None,
                Usage::ServerAndClient,
            ),
        ];
        for (base, ca, cn, org, usage) in cases {
            let leaf = find(&plan, base);
            assert_eq!(leaf.ca, ca, "{base}");
            assert_eq!(CaId::for_leaf(base), ca, "{base}: renew finds the same CA");
            assert_eq!(leaf.common_name, cn, "{base}");
            assert_eq!(leaf.organization.as_deref(), org, "{base}");
            assert_eq!(leaf.usage, usage, "{base}");
        }
        assert_eq!(plan.leaves.len(), 5 + 2 + 2 * 2);
    }

    #[test]
    fn apiserver_names_every_control_plane_address_and_the_service_ip() {
        let plan = plan(&spec());
        let api = find(&plan, "pki/apiserver");
        for name in [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "cp1",
            "cp2",
        ] {
            assert!(api.dns_names.iter().any(|n| n == name), "{name}");
        }
        assert!(
            !api.dns_names.iter().any(|n| n == "w1"),
            "workers are not apiservers"
        );
        let ips: Vec<String> = api.ips.iter().map(ToString::to_string).collect();
        assert_eq!(ips, ["10.96.0.1", "10.77.0.11", "10.77.0.12", "127.0.0.1"]);

        let etcd = find(&plan, "nodes/cp2/pki/etcd/peer");
        assert_eq!(etcd.dns_names, ["cp2", "localhost"]);
        let ips: Vec<String> = etcd.ips.iter().map(ToString::to_string).collect();
        assert_eq!(ips, ["10.77.0.12", "127.0.0.1", "::1"]);
    }

    #[test]
    fn endpoint_name_is_a_san() {
        let mut s = spec();
        s.endpoint = "api.example.test:6443".into();
        let plan = plan(&s);
        let api = find(&plan, "pki/apiserver");
        assert!(api.dns_names.iter().any(|n| n == "api.example.test"));
        let admin = plan
            .kubeconfigs
            .iter()
            .find(|k| k.file == "admin.conf")
            .expect("admin");
        assert_eq!(admin.server, "https://api.example.test:6443");
    }

    #[test]
    fn kubeconfigs_have_upstream_identities() {
        let plan = plan(&spec());
        let got: Vec<(&str, &str, Option<&str>, &str)> = plan
            .kubeconfigs
            .iter()
            .map(|k| {
                (
                    k.file.as_str(),
                    k.common_name.as_str(),
                    k.organization.as_deref(),
                    k.server.as_str(),
                )
            })
            .collect();
        let ep = "https://10.77.0.11:6443";
        let local = "https://127.0.0.1:6443";
        assert_eq!(
            got,
            vec![
                (
                    "admin.conf",
                    "kubernetes-admin",
                    Some("kubeadm:cluster-admins"),
                    ep
                ),
                (
                    "super-admin.conf",
                    "kubernetes-super-admin",
                    Some("system:masters"),
                    ep
                ),
                (
                    "controller-manager.conf",
                    "system:kube-controller-manager",
                    None,
                    local
                ),
                ("scheduler.conf", "system:kube-scheduler", None, local),
                ("kube-proxy.conf", "system:kube-proxy", None, ep),
                ("kubelet-cp1.conf", "system:node:cp1", Some("system:nodes"), ep),
                ("kubelet-cp2.conf", "system:node:cp2", Some("system:nodes"), ep),
                ("kubelet-w1.conf", "system:node:w1", Some("system:nodes"), ep),
            ]
        );
    }

    #[test]
    fn endpoint_hosts() {
        for (input, want) in [
            ("10.0.0.1:6443", "10.0.0.1"),
            ("api:6443", "api"),
            ("[fd00::1]:6443", "fd00::1"),
            ("fd00::1", "fd00::1"),
            ("api", "api"),
        ] {
            assert_eq!(endpoint_host(input), want, "{input}");
        }
    }
}
