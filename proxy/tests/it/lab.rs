//! A throw-away network lab: a "node" netns with a bridge, and "pod" netns on it, each running
//! a busybox `nc` server that answers with the pod's name. Dropping the lab kills the servers
//! (by PID) and deletes every namespace it made. The host's tables are never touched.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{Value, json};

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn sh(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn must(args: &[&str]) {
    if let Err(e) = sh(args) {
        panic!("lab setup failed: {e}");
    }
}

#[derive(Debug)]
pub(crate) struct Lab {
    pub node: String,
    pods: Vec<String>,
    servers: Vec<Child>,
}

impl Lab {
    /// A node namespace `rudder-proxy-test-<pid>-<n>` with bridge `br0` (10.200.0.1/24) and routes
    /// for the service ranges onto it (connect() needs a route before DNAT happens).
    pub(crate) fn new() -> Lab {
        assert!(
            sh(&["id", "-u"]).map(|u| u.trim() == "0").unwrap_or(false),
            "these tests need root (network namespaces, iptables, nft)"
        );
        let node = format!(
            "rudder-proxy-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        must(&["ip", "netns", "add", &node]);
        let lab = Lab {
            node,
            pods: Vec::new(),
            servers: Vec::new(),
        };
        let n = lab.node.as_str();
        must(&["ip", "-n", n, "link", "set", "lo", "up"]);
        must(&["ip", "-n", n, "link", "add", "br0", "type", "bridge"]);
        must(&["ip", "-n", n, "addr", "add", "10.200.0.1/24", "dev", "br0"]);
        must(&["ip", "-n", n, "link", "set", "br0", "up"]);
        must(&["ip", "-n", n, "route", "add", "10.96.0.0/12", "dev", "br0"]);
        must(&["ip", "-n", n, "route", "add", "10.0.0.0/24", "dev", "br0"]);
        lab
    }

    /// A pod at 10.200.0.`host` answering `name` on TCP `port`.
    pub(crate) fn add_pod(&mut self, host: u8, name: &str, port: u16) -> String {
        let pod = format!("{}-p{}", self.node, self.pods.len());
        must(&["ip", "netns", "add", &pod]);
        self.pods.push(pod.clone());
        let veth = format!("vp{}", self.pods.len());
        must(&[
            "ip", "link", "add", &veth, "netns", &self.node, "type", "veth", "peer", "name", "eth0", "netns",
            &pod,
        ]);
        must(&[
            "ip", "-n", &self.node, "link", "set", &veth, "master", "br0", "up",
        ]);
        let ip = format!("10.200.0.{host}");
        must(&["ip", "-n", &pod, "link", "set", "lo", "up"]);
        must(&[
            "ip",
            "-n",
            &pod,
            "addr",
            "add",
            &format!("{ip}/24"),
            "dev",
            "eth0",
        ]);
        must(&["ip", "-n", &pod, "link", "set", "eth0", "up"]);
        must(&["ip", "-n", &pod, "route", "add", "default", "via", "10.200.0.1"]);
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &pod,
                "busybox",
                "nc",
                "-ll",
                "-p",
                &port.to_string(),
                "-e",
                "/bin/echo",
                name,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start busybox nc");
        self.servers.push(child);
        // Wait until it listens (connect straight to the pod IP).
        for _ in 0..100 {
            if self.connect(&ip, port).as_deref() == Some(name) {
                return ip;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("pod {name} never answered on {ip}:{port}");
    }

    /// Connect from the node netns; the server's answer, or None if the connection failed.
    pub(crate) fn connect(&self, ip: &str, port: u16) -> Option<String> {
        let out = sh(&[
            "ip",
            "netns",
            "exec",
            &self.node,
            "busybox",
            "nc",
            "-w",
            "2",
            ip,
            &port.to_string(),
        ])
        .ok()?;
        let out = out.trim().to_string();
        (!out.is_empty()).then_some(out)
    }

    pub(crate) fn iptables_save(&self) -> String {
        sh(&["ip", "netns", "exec", &self.node, "iptables-save"]).expect("iptables-save")
    }

    pub(crate) fn nft_table(&self) -> Result<String, String> {
        sh(&[
            "ip",
            "netns",
            "exec",
            &self.node,
            "nft",
            "list",
            "table",
            "ip",
            "kube-proxy",
        ])
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.pods.iter().chain(std::iter::once(&self.node)) {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
    }
}

pub(crate) fn service(ns: &str, name: &str, spec: Value) -> Service {
    serde_json::from_value(json!({"metadata": {"namespace": ns, "name": name}, "spec": spec}))
        .expect("service")
}

/// A slice of `ns/svc` with one named TCP port and ready endpoints `ips` on node `n1`.
pub(crate) fn slice(ns: &str, svc: &str, port_name: &str, port: u16, ips: &[&str]) -> EndpointSlice {
    let endpoints: Vec<Value> = ips
        .iter()
        .map(|ip| json!({"addresses": [ip], "nodeName": "n1", "conditions": {"ready": true}}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": format!("{svc}-abc"), "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        "endpoints": endpoints,
    }))
    .expect("slice")
}
