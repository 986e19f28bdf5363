//! Command lines and config files of every component (pure: plan + layout in, text out).

use std::path::Path;

use super::identity::{self, CONTROLLER_MANAGER_CONF, PROXY_CONF, SCHEDULER_CONF};
use super::layout::{Layout, NodeLayout};
use super::plan::{APISERVER_PORT, CLUSTER_DOMAIN, DNS_IP, NetworkPlan, NodePlan, SERVICE_CIDR};
use super::spec::ProxyMode;

pub const PAUSE_IMAGE: &str = "localhost/rudder/pause:1";

fn s(p: &Path) -> String {
    p.display().to_string()
}

pub fn etcd_args(plan: &NetworkPlan, layout: &Layout) -> Vec<String> {
    let h = plan.host_ip;
    vec![
        "--name=rkind".into(),
        format!("--data-dir={}", s(&layout.etcd_data())),
        format!("--listen-client-urls=http://{h}:2379"),
        format!("--advertise-client-urls=http://{h}:2379"),
        format!("--listen-peer-urls=http://{h}:2380"),
        format!("--initial-advertise-peer-urls=http://{h}:2380"),
        format!("--initial-cluster=rkind=http://{h}:2380"),
        "--log-level=warn".into(),
    ]
}

pub fn apiserver_args(plan: &NetworkPlan, layout: &Layout, etcd: bool) -> Vec<String> {
    let h = plan.host_ip;
    let mut a = vec![
        format!("--bind-address={h}"),
        format!("--advertise-address={h}"),
        format!("--secure-port={APISERVER_PORT}"),
        format!("--cert-dir={}", s(&layout.pki())),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        format!("--token-auth-file={}", s(&layout.tokens())),
    ];
    if etcd {
        a.push(format!("--etcd-servers=http://{h}:2379"));
    } else {
        a.push(format!("--data-dir={}", s(&layout.apiserver_data())));
    }
    a
}

pub fn scheduler_args(plan: &NetworkPlan, layout: &Layout) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", s(&layout.conf().join(SCHEDULER_CONF))),
        // One replica: no election round trip before scheduling starts.
        "--leader-elect=false".into(),
        format!("--bind-address={}", plan.host_ip),
    ]
}

pub fn controller_manager_args(plan: &NetworkPlan, layout: &Layout) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", s(&layout.conf().join(CONTROLLER_MANAGER_CONF))),
        "--leader-elect=false".into(),
        format!("--bind-address={}", plan.host_ip),
        format!("--cluster-cidr={}", plan.cluster_cidr),
        "--allocate-node-cidrs=true".into(),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
    ]
}

pub fn kubelet_args(node: &NodePlan, cluster: &str, i: usize, layout: &Layout) -> Vec<String> {
    let n = layout.node(i);
    let kubeconfig = layout.conf().join(identity::kubelet_conf(&node.name));
    vec![
        format!("--kubeconfig={}", s(&kubeconfig)),
        format!("--config={}", s(&n.kubelet_config())),
        format!("--hostname-override={}", node.name),
        format!("--node-ip={}", node.ip),
        format!("--root-dir={}", s(&n.kubelet_root())),
        format!("--container-runtime-endpoint={}", n.cri_endpoint()),
        // Known before registration, so the CNI config is written at once and the node is
        // Ready without waiting for the controller-manager's allocation.
        format!("--pod-cidr={}", node.pod_cidr),
        format!("--cni-conf-dir={}", s(&n.cni_conf_dir())),
        format!("--cni-ipam-dir={}", s(&n.ipam_dir())),
        format!("--cgroup-root={}", cgroup_root(cluster, i)),
        format!("--cluster-dns={DNS_IP}"),
        format!("--cluster-domain={CLUSTER_DOMAIN}"),
        "--fail-swap-on=false".into(),
        // The kubelet's API: the apiserver's kubelet client certificate is signed by the cluster
        // CA (it generates both in --cert-dir); tokens go through TokenReview, access through
        // SubjectAccessReview; no anonymous callers, no read-only port.
        format!("--client-ca-file={}", s(&layout.pki().join("ca.crt"))),
        "--anonymous-auth=false".into(),
        "--authentication-token-webhook=true".into(),
        "--authorization-mode=Webhook".into(),
        "--read-only-port=0".into(),
    ]
}

/// The cgroup under which one node's pods run (removed on delete).
pub fn cgroup_root(cluster: &str, i: usize) -> String {
    format!("/rkind-{cluster}-n{i}")
}

pub fn kubelet_config(n: &NodeLayout) -> String {
    format!(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n\
         podLogsDir: {}\nfailSwapOn: false\n",
        s(&n.pod_logs())
    )
}

pub fn proxy_args(node: &NodePlan, plan: &NetworkPlan, layout: &Layout, mode: ProxyMode) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", s(&layout.conf().join(PROXY_CONF))),
        format!("--hostname-override={}", node.name),
        format!("--proxy-mode={}", mode.as_str()),
        format!("--cluster-cidr={}", plan.cluster_cidr),
        format!("--healthz-bind-address={}:10256", node.ip),
        "--metrics-bind-address=127.0.0.1:10249".into(),
    ]
}

/// A node's containerd: everything under its node dir, CRI streaming on the node IP, the
/// kubelet's CNI dir, runc state of its own, and `restrict_oom_score_adj` (required on hosts
/// without CAP_SYS_RESOURCE, see runtime-probe.md).
pub fn containerd_config(n: &NodeLayout, node: &NodePlan, cni_bin_dir: &str) -> String {
    format!(
        r#"version = 2
root = "{d}/containerd/root"
state = "{d}/containerd/state"
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = "{d}/containerd/debug.sock"
  level = "warn"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "{PAUSE_IMAGE}"
    restrict_oom_score_adj = true
    stream_server_address = "{ip}"
    stream_server_port = "0"
    enable_selinux = false
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "{d}/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "{cni_bin_dir}"
      conf_dir = "{conf}"
      max_conf_num = 1
  [plugins."io.containerd.internal.v1.opt"]
    path = "{d}/containerd/opt"
"#,
        d = n.dir.display(),
        sock = n.containerd_socket().display(),
        ip = node.ip,
        conf = n.cni_conf_dir().display(),
    )
}

/// `nsenter` into the node's netns (not `ip netns exec`, which remounts /sys and hides the
/// cgroup mounts runc needs), then the command.
pub fn in_node(netns: &str, program: &Path, args: &[String]) -> (String, Vec<String>) {
    let mut a = vec![format!("--net=/run/netns/{netns}"), s(program)];
    a.extend(args.iter().cloned());
    ("nsenter".into(), a)
}

/// containerd in the node's netns with a UTS namespace of its own named after the node, so
/// hostNetwork pods see the node's hostname.
pub fn containerd_command(
    netns: &str,
    hostname: &str,
    containerd: &Path,
    config: &Path,
) -> (String, Vec<String>) {
    (
        "nsenter".into(),
        vec![
            format!("--net=/run/netns/{netns}"),
            "unshare".into(),
            "--uts".into(),
            "sh".into(),
            "-c".into(),
            // Both values come from the validated plan: lower-case names and paths without quotes.
            format!(
                "hostname '{hostname}' && exec '{}' --config '{}'",
                containerd.display(),
                config.display()
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rkind::plan::plan;

    #[test]
    fn control_plane_listens_on_the_bridge_address_only() {
        let p = plan("dev", 2, 2).unwrap();
        let l = Layout::new(Path::new("/var/lib/rkind/dev"));
        let a = apiserver_args(&p, &l, false);
        assert!(a.contains(&"--bind-address=10.250.2.1".to_string()));
        assert!(a.contains(&"--service-cluster-ip-range=10.96.0.0/12".to_string()));
        assert!(a.contains(&"--data-dir=/var/lib/rkind/dev/apiserver-data".to_string()));
        let a = apiserver_args(&p, &l, true);
        assert!(a.contains(&"--etcd-servers=http://10.250.2.1:2379".to_string()));
        assert!(!a.iter().any(|x| x.starts_with("--data-dir")));
        assert!(
            etcd_args(&p, &l)
                .iter()
                .all(|x| !x.contains("0.0.0.0") && !x.contains("127.0.0.1"))
        );
        for args in [scheduler_args(&p, &l), controller_manager_args(&p, &l)] {
            assert!(args.contains(&"--bind-address=10.250.2.1".to_string()));
            assert!(args.contains(&"--leader-elect=false".to_string()));
        }
        assert!(controller_manager_args(&p, &l).contains(&"--cluster-cidr=10.130.0.0/16".to_string()));
    }

    #[test]
    fn node_components() {
        let p = plan("dev", 2, 2).unwrap();
        let l = Layout::new(Path::new("/var/lib/rkind/dev"));
        let k = kubelet_args(&p.nodes[1], "dev", 1, &l);
        for want in [
            "--hostname-override=dev-worker2",
            "--node-ip=10.250.2.11",
            "--pod-cidr=10.130.2.0/24",
            "--container-runtime-endpoint=unix:///var/lib/rkind/dev/nodes/n1/containerd.sock",
            "--cgroup-root=/rkind-dev-n1",
            "--cluster-dns=10.96.0.10",
            "--cluster-domain=cluster.local",
            "--client-ca-file=/var/lib/rkind/dev/pki/ca.crt",
            "--anonymous-auth=false",
            "--authorization-mode=Webhook",
            "--read-only-port=0",
        ] {
            assert!(k.contains(&want.to_string()), "{want} in {k:?}");
        }
        let pr = proxy_args(&p.nodes[0], &p, &l, ProxyMode::Nftables);
        assert!(pr.contains(&"--proxy-mode=nftables".to_string()));
        assert!(pr.contains(&"--healthz-bind-address=10.250.2.10:10256".to_string()));
        let c = containerd_config(&l.node(1), &p.nodes[1], "/usr/lib/cni");
        assert!(c.contains("address = \"/var/lib/rkind/dev/nodes/n1/containerd.sock\""));
        assert!(c.contains("stream_server_address = \"10.250.2.11\""));
        assert!(c.contains("restrict_oom_score_adj = true"));
        assert!(c.contains("conf_dir = \"/var/lib/rkind/dev/nodes/n1/net.d\""));
        let (prog, args) = containerd_command(
            "rkind-dev-worker2",
            "dev-worker2",
            Path::new("/usr/bin/containerd"),
            Path::new("/x.toml"),
        );
        assert_eq!(prog, "nsenter");
        assert_eq!(args[0], "--net=/run/netns/rkind-dev-worker2");
        assert!(args[5].starts_with("hostname 'dev-worker2' && exec '/usr/bin/containerd'"));
        assert!(kubelet_config(&l.node(0)).contains("podLogsDir: /var/lib/rkind/dev/nodes/n0/pod-logs"));
    }
}
