//! Command-line flags (upstream's names) and the KubeletConfiguration file → `Config`.
//! As upstream, a flag given on the command line wins over the file.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use k8s_openapi::api::core::v1::Taint;
use serde::Deserialize;

use crate::config::{AuthorizationMode, CgroupDriver, Config, Runtime, ServerAuth};
use crate::node::machine::Amounts;
use crate::quantity;

#[derive(Debug, Clone, Parser)]
#[command(name = "kubelet", about = "The node agent: runs the pods bound to this node")]
pub struct Options {
    /// kubeconfig file for the API server.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig with bootstrap credentials, used to obtain a client certificate (written to
    /// --cert-dir, referenced from a new --kubeconfig) when --kubeconfig does not exist.
    #[arg(long)]
    pub bootstrap_kubeconfig: Option<PathBuf>,
    /// Directory of the TLS bootstrap client certificate and key (default <root-dir>/pki).
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,
    /// KubeletConfiguration file (kubelet.config.k8s.io/v1beta1).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub hostname_override: Option<String>,
    #[arg(long)]
    pub root_dir: Option<PathBuf>,
    #[arg(long)]
    pub node_ip: Option<IpAddr>,
    /// Address the kubelet server listens on.
    #[arg(long)]
    pub address: Option<IpAddr>,
    #[arg(long)]
    pub port: Option<u16>,
    /// cgroupfs or systemd.
    #[arg(long)]
    pub cgroup_driver: Option<String>,
    #[arg(long)]
    pub cgroup_root: Option<String>,
    /// `--fail-swap-on=false` to run with swap on.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub fail_swap_on: Option<bool>,
    /// Comma-separated DNS server IPs for pods.
    #[arg(long, value_delimiter = ',')]
    pub cluster_dns: Vec<IpAddr>,
    #[arg(long)]
    pub cluster_domain: Option<String>,
    /// The resolver config for pods with dnsPolicy Default ("" for none).
    #[arg(long)]
    pub resolv_conf: Option<String>,
    #[arg(long)]
    pub container_runtime_endpoint: Option<String>,
    /// Rudder: `remote` (CRI, default) or `simulated` (in-memory, scale tests only).
    #[arg(long, default_value = "remote")]
    pub runtime: String,
    #[arg(long)]
    pub pod_manifest_path: Option<PathBuf>,
    /// `key=value:Effect,...`
    #[arg(long, value_delimiter = ',')]
    pub register_with_taints: Vec<String>,
    /// `key=value,...`
    #[arg(long, value_delimiter = ',')]
    pub node_labels: Vec<String>,
    #[arg(long)]
    pub pod_cidr: Option<String>,
    /// `cpu=100m,memory=100Mi,...`
    #[arg(long)]
    pub kube_reserved: Option<String>,
    #[arg(long)]
    pub system_reserved: Option<String>,
    #[arg(long)]
    pub max_pods: Option<i64>,
    /// `memory.available<100Mi,nodefs.available<10%,...`
    #[arg(long)]
    pub eviction_hard: Option<String>,
    /// The percent of disk usage after which image garbage collection is always run (0-100;
    /// 100 disables image collection). KubeletConfiguration `imageGCHighThresholdPercent`.
    #[arg(long)]
    pub image_gc_high_threshold: Option<i32>,
    /// The percent of disk usage image garbage collection frees down to.
    /// KubeletConfiguration `imageGCLowThresholdPercent`.
    #[arg(long)]
    pub image_gc_low_threshold: Option<i32>,
    /// Minimum age for an unused image before it is garbage collected (Go duration).
    /// KubeletConfiguration `imageMinimumGCAge`.
    #[arg(long)]
    pub minimum_image_ttl_duration: Option<String>,
    /// Rudder: the runtime's CNI config dir, where the kubelet writes its bridge conflist.
    #[arg(long, default_value = "/etc/cni/net.d")]
    pub cni_conf_dir: PathBuf,
    /// Rudder: the CNI bridge device.
    #[arg(long, default_value = "cni0")]
    pub cni_bridge: String,
    /// Rudder: host-local IPAM state dir (default: the plugin's /var/lib/cni/networks).
    #[arg(long)]
    pub cni_ipam_dir: Option<PathBuf>,
    /// CA bundle the client certificates of callers of the kubelet's API must chain to.
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,
    /// Let requests without credentials in as system:anonymous (Rudder's default: false).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub anonymous_auth: Option<bool>,
    /// Check bearer tokens with the apiserver's TokenReview.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub authentication_token_webhook: Option<bool>,
    /// How long TokenReview answers are cached (Go duration).
    #[arg(long)]
    pub authentication_token_webhook_cache_ttl: Option<String>,
    /// AlwaysAllow or Webhook (SubjectAccessReview).
    #[arg(long)]
    pub authorization_mode: Option<String>,
    #[arg(long)]
    pub authorization_webhook_cache_authorized_ttl: Option<String>,
    #[arg(long)]
    pub authorization_webhook_cache_unauthorized_ttl: Option<String>,
    /// The unauthenticated read-only port. Rudder never opens one: only 0 is accepted.
    #[arg(long)]
    pub read_only_port: Option<u32>,
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u8,
}

/// The subset of KubeletConfiguration the kubelet reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KubeletConfiguration {
    address: Option<IpAddr>,
    port: Option<u16>,
    cgroup_driver: Option<String>,
    cgroup_root: Option<String>,
    fail_swap_on: Option<bool>,
    #[serde(rename = "clusterDNS")]
    cluster_dns: Vec<IpAddr>,
    cluster_domain: Option<String>,
    resolv_conf: Option<String>,
    container_runtime_endpoint: Option<String>,
    static_pod_path: Option<PathBuf>,
    register_with_taints: Vec<Taint>,
    #[serde(rename = "podCIDR")]
    pod_cidr: Option<String>,
    kube_reserved: BTreeMap<String, String>,
    system_reserved: BTreeMap<String, String>,
    max_pods: Option<i64>,
    eviction_hard: BTreeMap<String, String>,
    pod_logs_dir: Option<PathBuf>,
    #[serde(rename = "imageGCHighThresholdPercent")]
    image_gc_high_threshold_percent: Option<i32>,
    #[serde(rename = "imageGCLowThresholdPercent")]
    image_gc_low_threshold_percent: Option<i32>,
    #[serde(rename = "imageMinimumGCAge")]
    image_minimum_gc_age: Option<String>,
    authentication: FileAuthentication,
    authorization: FileAuthorization,
    read_only_port: Option<u32>,
}

/// KubeletConfiguration `authentication`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileAuthentication {
    x509: FileX509,
    webhook: FileTokenWebhook,
    anonymous: FileEnabled,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileX509 {
    #[serde(rename = "clientCAFile")]
    client_ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileTokenWebhook {
    enabled: Option<bool>,
    #[serde(rename = "cacheTTL")]
    cache_ttl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileEnabled {
    enabled: Option<bool>,
}

/// KubeletConfiguration `authorization`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileAuthorization {
    mode: Option<String>,
    webhook: FileAuthzWebhook,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileAuthzWebhook {
    #[serde(rename = "cacheAuthorizedTTL")]
    cache_authorized_ttl: Option<String>,
    #[serde(rename = "cacheUnauthorizedTTL")]
    cache_unauthorized_ttl: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("read --config {path}: {source}")]
    ReadConfig { path: PathBuf, source: std::io::Error },
    #[error("parse --config {path}: {message}")]
    ParseConfig { path: PathBuf, message: String },
    #[error("invalid {flag} {value:?}: {why}")]
    Invalid {
        flag: &'static str,
        value: String,
        why: String,
    },
}

fn invalid(flag: &'static str, value: &str, why: &str) -> OptionsError {
    OptionsError::Invalid {
        flag,
        value: value.into(),
        why: why.into(),
    }
}

/// `cpu=100m,memory=1Gi` → amounts (millicores for cpu, base units otherwise).
pub fn parse_reserved(flag: &'static str, pairs: &BTreeMap<String, String>) -> Result<Amounts, OptionsError> {
    let mut out = Amounts::new();
    for (k, v) in pairs {
        let n = if k == "cpu" {
            quantity::milli(v)
        } else {
            quantity::value(v)
        };
        let n = n
            .filter(|n| *n >= 0)
            .ok_or_else(|| invalid(flag, v, "not a quantity"))?;
        out.insert(k.clone(), n);
    }
    Ok(out)
}

fn pairs(flag: &'static str, s: &str) -> Result<BTreeMap<String, String>, OptionsError> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| invalid(flag, p, "want key=value"))
        })
        .collect()
}

/// `key=value:Effect` or `key:Effect` → Taint.
pub fn parse_taint(s: &str) -> Result<Taint, OptionsError> {
    let (kv, effect) = s
        .rsplit_once(':')
        .ok_or_else(|| invalid("--register-with-taints", s, "want key=value:Effect"))?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(invalid(
            "--register-with-taints",
            s,
            "effect must be NoSchedule, PreferNoSchedule or NoExecute",
        ));
    }
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string()).filter(|v| !v.is_empty())),
        None => (kv, None),
    };
    if key.is_empty() {
        return Err(invalid("--register-with-taints", s, "empty key"));
    }
    Ok(Taint {
        key: key.into(),
        value,
        effect: effect.into(),
        time_added: None,
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_else(|_| "localhost".into())
}

impl Options {
    pub fn into_config(self) -> Result<Config, OptionsError> {
        let file = match &self.config {
            None => KubeletConfiguration::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| OptionsError::ReadConfig {
                    path: path.clone(),
                    source,
                })?;
                serde_saphyr::from_str(&text).map_err(|e| OptionsError::ParseConfig {
                    path: path.clone(),
                    message: e.to_string(),
                })?
            }
        };
        let auth = server_auth(&self, &file)?;
        let node_name = self
            .hostname_override
            .clone()
            .unwrap_or_else(hostname)
            .to_lowercase();
        let mut c = Config::new(&node_name);
        c.kubeconfig = self.kubeconfig;
        c.bootstrap_kubeconfig = self.bootstrap_kubeconfig;
        c.cert_dir = self.cert_dir;
        if let Some(d) = self.root_dir {
            c.root_dir = d;
        }
        if let Some(d) = file.pod_logs_dir {
            c.pod_logs_dir = d;
        }
        c.node_ip = self.node_ip;
        c.port = self.port.or(file.port).unwrap_or(10250);
        if let Some(a) = self.address.or(file.address) {
            c.address = a;
        }
        let driver = self
            .cgroup_driver
            .or(file.cgroup_driver)
            .unwrap_or_else(|| "cgroupfs".into());
        c.cgroup_driver = match driver.as_str() {
            "cgroupfs" => CgroupDriver::Cgroupfs,
            "systemd" => CgroupDriver::Systemd,
            other => return Err(invalid("--cgroup-driver", other, "want cgroupfs or systemd")),
        };
        if let Some(r) = self.cgroup_root.or(file.cgroup_root) {
            c.cgroup_root = r;
        }
        c.fail_swap_on = self.fail_swap_on.or(file.fail_swap_on).unwrap_or(true);
        c.cluster_dns = if self.cluster_dns.is_empty() {
            file.cluster_dns
        } else {
            self.cluster_dns
        };
        if let Some(d) = self.cluster_domain.or(file.cluster_domain) {
            c.cluster_domain = d;
        }
        if let Some(r) = self.resolv_conf.or(file.resolv_conf) {
            c.resolv_conf = Some(PathBuf::from(r)).filter(|p| !p.as_os_str().is_empty());
        }
        c.runtime = match self.runtime.as_str() {
            "remote" => Runtime::Remote {
                endpoint: self
                    .container_runtime_endpoint
                    .or(file.container_runtime_endpoint)
                    .unwrap_or_else(|| "unix:///run/containerd/containerd.sock".into()),
            },
            "simulated" => Runtime::Simulated,
            other => return Err(invalid("--runtime", other, "want remote or simulated")),
        };
        c.pod_manifest_path = self.pod_manifest_path.or(file.static_pod_path);
        c.register_with_taints = if self.register_with_taints.is_empty() {
            file.register_with_taints
        } else {
            self.register_with_taints
                .iter()
                .map(|t| parse_taint(t))
                .collect::<Result<_, _>>()?
        };
        for l in &self.node_labels {
            let (k, v) = l
                .split_once('=')
                .ok_or_else(|| invalid("--node-labels", l, "want key=value"))?;
            c.node_labels.insert(k.into(), v.into());
        }
        c.pod_cidr = self.pod_cidr.or(file.pod_cidr).filter(|s| !s.is_empty());
        if let Some(cidr) = &c.pod_cidr {
            validate_cidr(cidr)?;
        }
        let kube = match &self.kube_reserved {
            Some(s) => pairs("--kube-reserved", s)?,
            None => file.kube_reserved,
        };
        let system = match &self.system_reserved {
            Some(s) => pairs("--system-reserved", s)?,
            None => file.system_reserved,
        };
        c.kube_reserved = parse_reserved("--kube-reserved", &kube)?;
        c.system_reserved = parse_reserved("--system-reserved", &system)?;
        c.max_pods = self.max_pods.or(file.max_pods).unwrap_or(110);
        let eviction = match &self.eviction_hard {
            Some(s) => crate::eviction::parse_flag(s).map_err(|why| invalid("--eviction-hard", s, &why))?,
            None => file.eviction_hard,
        };
        c.eviction_hard = crate::eviction::parse(&eviction)
            .map_err(|why| invalid("--eviction-hard", &format!("{eviction:?}"), &why))?;
        c.image_gc = image_gc_policy(
            self.image_gc_high_threshold
                .or(file.image_gc_high_threshold_percent),
            self.image_gc_low_threshold
                .or(file.image_gc_low_threshold_percent),
            self.minimum_image_ttl_duration
                .as_deref()
                .or(file.image_minimum_gc_age.as_deref()),
        )?;
        c.cni.conf_dir = self.cni_conf_dir;
        c.cni.bridge = self.cni_bridge;
        c.cni.ipam_dir = self.cni_ipam_dir;
        c.server_auth = auth;
        Ok(c)
    }
}

/// The kubelet API's authentication and authorization from flags over the file, and the
/// read-only port refused unless 0.
fn server_auth(o: &Options, file: &KubeletConfiguration) -> Result<ServerAuth, OptionsError> {
    if let Some(port) = o.read_only_port.or(file.read_only_port).filter(|p| *p != 0) {
        return Err(invalid(
            "--read-only-port",
            &port.to_string(),
            "Rudder never serves the unauthenticated read-only port; use 0",
        ));
    }
    let (authn, authz) = (&file.authentication, &file.authorization);
    let ttl = |flag: &'static str, value: Option<&String>, default: Duration| match value {
        None => Ok(default),
        Some(v) => {
            rudder_client::duration::parse_go_duration(v).map_err(|e| invalid(flag, v, &e.to_string()))
        }
    };
    let defaults = ServerAuth::default();
    let mode = o.authorization_mode.as_ref().or(authz.mode.as_ref());
    Ok(ServerAuth {
        client_ca_file: o
            .client_ca_file
            .clone()
            .or_else(|| authn.x509.client_ca_file.clone())
            .filter(|p| !p.as_os_str().is_empty()),
        anonymous: o
            .anonymous_auth
            .or(authn.anonymous.enabled)
            .unwrap_or(defaults.anonymous),
        token_webhook: o
            .authentication_token_webhook
            .or(authn.webhook.enabled)
            .unwrap_or(defaults.token_webhook),
        token_webhook_cache_ttl: ttl(
            "--authentication-token-webhook-cache-ttl",
            o.authentication_token_webhook_cache_ttl
                .as_ref()
                .or(authn.webhook.cache_ttl.as_ref()),
            defaults.token_webhook_cache_ttl,
        )?,
        authorization_mode: match mode.map(String::as_str) {
            None => defaults.authorization_mode,
            Some("Webhook") => AuthorizationMode::Webhook,
            Some("AlwaysAllow") => AuthorizationMode::AlwaysAllow,
            Some(other) => {
                return Err(invalid(
                    "--authorization-mode",
                    other,
                    "want AlwaysAllow or Webhook",
                ));
            }
        },
        authorized_cache_ttl: ttl(
            "--authorization-webhook-cache-authorized-ttl",
            o.authorization_webhook_cache_authorized_ttl
                .as_ref()
                .or(authz.webhook.cache_authorized_ttl.as_ref()),
            defaults.authorized_cache_ttl,
        )?,
        unauthorized_cache_ttl: ttl(
            "--authorization-webhook-cache-unauthorized-ttl",
            o.authorization_webhook_cache_unauthorized_ttl
                .as_ref()
                .or(authz.webhook.cache_unauthorized_ttl.as_ref()),
            defaults.unauthorized_cache_ttl,
        )?,
    })
}

/// The image GC policy from flags or file over upstream's defaults (85, 80, 2m), validated.
fn image_gc_policy(
    high: Option<i32>,
    low: Option<i32>,
    min_age: Option<&str>,
) -> Result<crate::gc::images::Policy, OptionsError> {
    let defaults = crate::gc::images::Policy::default();
    let policy = crate::gc::images::Policy {
        high_threshold_percent: high.unwrap_or(defaults.high_threshold_percent),
        low_threshold_percent: low.unwrap_or(defaults.low_threshold_percent),
        min_age: match min_age {
            None => defaults.min_age,
            Some(v) => rudder_client::duration::parse_go_duration(v)
                .map_err(|e| invalid("--minimum-image-ttl-duration", v, &e.to_string()))?,
        },
    };
    policy.validate().map_err(|why| {
        invalid(
            "--image-gc-high-threshold/--image-gc-low-threshold",
            &format!(
                "{}/{}",
                policy.high_threshold_percent, policy.low_threshold_percent
            ),
            &why,
        )
    })?;
    Ok(policy)
}

fn validate_cidr(cidr: &str) -> Result<(), OptionsError> {
    let ok = cidr
        .split_once('/')
        .is_some_and(|(ip, len)| ip.parse::<IpAddr>().is_ok() && len.parse::<u8>().is_ok_and(|l| l <= 128));
    if ok {
        Ok(())
    } else {
        Err(invalid("--pod-cidr", cidr, "not a CIDR"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Options {
        Options::parse_from(std::iter::once("kubelet").chain(args.iter().copied()))
    }

    #[test]
    fn flags_to_config() {
        let c = opts(&[
            "--hostname-override=Node-1",
            "--node-ip=10.0.0.5",
            "--port=10251",
            "--fail-swap-on=false",
            "--cluster-dns=10.96.0.10",
            "--register-with-taints=dedicated=infra:NoSchedule,gpu:NoExecute",
            "--pod-cidr=10.244.1.0/24",
            "--kube-reserved=cpu=100m,memory=256Mi",
            "--system-reserved=cpu=1",
            "--container-runtime-endpoint=unix:///x.sock",
            "--eviction-hard=memory.available<1Gi,nodefs.available<5%",
        ])
        .into_config()
        .unwrap();
        assert_eq!(c.node_name, "node-1");
        assert_eq!(c.port, 10251);
        assert!(!c.fail_swap_on);
        assert_eq!(c.cluster_dns, vec!["10.96.0.10".parse::<IpAddr>().unwrap()]);
        assert_eq!(
            c.eviction_hard.memory_available,
            crate::eviction::Threshold::Bytes(1 << 30)
        );
        assert_eq!(
            c.eviction_hard.nodefs_available,
            crate::eviction::Threshold::Percent(5.0)
        );
        assert_eq!(c.register_with_taints.len(), 2);
        assert_eq!(c.register_with_taints[0].value.as_deref(), Some("infra"));
        assert_eq!(c.register_with_taints[1].key, "gpu");
        assert_eq!(c.register_with_taints[1].effect, "NoExecute");
        assert_eq!(c.kube_reserved["cpu"], 100);
        assert_eq!(c.kube_reserved["memory"], 256 << 20);
        assert_eq!(c.system_reserved["cpu"], 1000);
        assert_eq!(
            c.runtime,
            Runtime::Remote {
                endpoint: "unix:///x.sock".into()
            }
        );
    }

    #[test]
    fn config_file_and_flag_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubelet.yaml");
        std::fs::write(
            &path,
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nport: 10260\n\
             clusterDNS: [10.96.0.10]\nclusterDomain: example.local\nresolvConf: /run/resolv.conf\npodCIDR: 10.244.9.0/24\n\
             cgroupDriver: systemd\nkubeReserved: {memory: 1Gi}\nfailSwapOn: false\n\
             registerWithTaints:\n- {key: a, value: b, effect: NoSchedule}\n",
        )
        .unwrap();
        let p = path.display().to_string();
        let c = opts(&["--config", &p, "--port=10270"]).into_config().unwrap();
        assert_eq!(c.port, 10270, "flag wins");
        assert_eq!(c.cluster_domain, "example.local");
        assert_eq!(
            c.resolv_conf.as_deref(),
            Some(std::path::Path::new("/run/resolv.conf"))
        );
        let none = opts(&["--config", &p, "--resolv-conf="]).into_config().unwrap();
        assert_eq!(none.resolv_conf, None, "an empty --resolv-conf means none");
        assert_eq!(c.pod_cidr.as_deref(), Some("10.244.9.0/24"));
        assert_eq!(c.cgroup_driver, CgroupDriver::Systemd);
        assert_eq!(c.kube_reserved["memory"], 1 << 30);
        assert!(!c.fail_swap_on);
        assert_eq!(c.register_with_taints[0].key, "a");
    }

    #[test]
    fn server_auth_defaults_flags_and_file() {
        let d = opts(&[]).into_config().unwrap().server_auth;
        assert_eq!(d, ServerAuth::default());
        assert!(!d.anonymous, "Rudder's default is no anonymous access");
        assert!(d.token_webhook);
        assert_eq!(d.authorization_mode, AuthorizationMode::Webhook);
        assert_eq!(
            (
                d.token_webhook_cache_ttl,
                d.authorized_cache_ttl,
                d.unauthorized_cache_ttl
            ),
            (
                Duration::from_secs(120),
                Duration::from_secs(300),
                Duration::from_secs(30)
            )
        );

        let f = opts(&[
            "--client-ca-file=/pki/ca.crt",
            "--anonymous-auth",
            "--authentication-token-webhook=false",
            "--authentication-token-webhook-cache-ttl=10s",
            "--authorization-mode=AlwaysAllow",
            "--authorization-webhook-cache-authorized-ttl=1m",
            "--authorization-webhook-cache-unauthorized-ttl=5s",
            "--read-only-port=0",
        ])
        .into_config()
        .unwrap()
        .server_auth;
        assert_eq!(
            f.client_ca_file.as_deref(),
            Some(std::path::Path::new("/pki/ca.crt"))
        );
        assert!(f.anonymous && !f.token_webhook);
        assert_eq!(f.authorization_mode, AuthorizationMode::AlwaysAllow);
        assert_eq!(f.token_webhook_cache_ttl, Duration::from_secs(10));
        assert_eq!(f.authorized_cache_ttl, Duration::from_secs(60));
        assert_eq!(f.unauthorized_cache_ttl, Duration::from_secs(5));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubelet.yaml");
        std::fs::write(
            &path,
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 0\n\
             authentication:\n  anonymous: {enabled: true}\n  webhook: {enabled: false, cacheTTL: 2m0s}\n\
             \x20 x509: {clientCAFile: /etc/kubernetes/pki/ca.crt}\n\
             authorization:\n  mode: AlwaysAllow\n  webhook: {cacheAuthorizedTTL: 1m30s, cacheUnauthorizedTTL: 10s}\n",
        )
        .unwrap();
        let p = path.display().to_string();
        let c = opts(&["--config", &p]).into_config().unwrap().server_auth;
        assert_eq!(
            c.client_ca_file.as_deref(),
            Some(std::path::Path::new("/etc/kubernetes/pki/ca.crt"))
        );
        assert!(c.anonymous && !c.token_webhook);
        assert_eq!(c.authorization_mode, AuthorizationMode::AlwaysAllow);
        assert_eq!(c.authorized_cache_ttl, Duration::from_secs(90));
        assert_eq!(c.unauthorized_cache_ttl, Duration::from_secs(10));
        // Flags win over the file.
        let c = opts(&[
            "--config",
            &p,
            "--anonymous-auth=false",
            "--authorization-mode=Webhook",
        ])
        .into_config()
        .unwrap()
        .server_auth;
        assert!(!c.anonymous);
        assert_eq!(c.authorization_mode, AuthorizationMode::Webhook);
    }

    #[test]
    fn a_read_only_port_is_refused() {
        let err = opts(&["--read-only-port=10255"]).into_config().unwrap_err();
        assert!(
            err.to_string().contains("--read-only-port") && err.to_string().contains("never serves"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubelet.yaml");
        std::fs::write(&path, "readOnlyPort: 10255\n").unwrap();
        let p = path.display().to_string();
        assert!(opts(&["--config", &p]).into_config().is_err());
        assert!(opts(&["--authorization-mode=RBAC"]).into_config().is_err());
        assert!(
            opts(&["--authentication-token-webhook-cache-ttl=2"])
                .into_config()
                .is_err()
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(
            opts(&["--register-with-taints=a=b:Sometimes"])
                .into_config()
                .is_err()
        );
        assert!(opts(&["--kube-reserved=cpu"]).into_config().is_err());
        assert!(opts(&["--kube-reserved=cpu=lots"]).into_config().is_err());
        assert!(opts(&["--pod-cidr=10.0.0.0"]).into_config().is_err());
        assert!(opts(&["--cgroup-driver=foo"]).into_config().is_err());
        assert!(opts(&["--runtime=docker"]).into_config().is_err());
        assert!(
            opts(&["--eviction-hard=memory.available=1Gi"])
                .into_config()
                .is_err()
        );
        assert!(opts(&["--eviction-hard=memory.free<1Gi"]).into_config().is_err());
        assert!(
            opts(&["--eviction-hard=nodefs.available<150%"])
                .into_config()
                .is_err()
        );
    }
}

#[cfg(test)]
mod image_gc_tests {
    use super::*;

    fn config(args: &[&str]) -> Result<Config, OptionsError> {
        let mut argv = vec!["kubelet"];
        argv.extend_from_slice(args);
        Options::parse_from(argv).into_config()
    }

    #[test]
    fn image_gc_defaults_flags_and_file() {
        let d = config(&[]).unwrap().image_gc;
        assert_eq!((d.high_threshold_percent, d.low_threshold_percent), (85, 80));
        assert_eq!(d.min_age, std::time::Duration::from_secs(120));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubelet.yaml");
        std::fs::write(
            &path,
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n\
             imageGCHighThresholdPercent: 70\nimageGCLowThresholdPercent: 60\nimageMinimumGCAge: 5m\n",
        )
        .unwrap();
        let p = path.display().to_string();
        let f = config(&["--config", &p]).unwrap().image_gc;
        assert_eq!((f.high_threshold_percent, f.low_threshold_percent), (70, 60));
        assert_eq!(f.min_age, std::time::Duration::from_secs(300));
        let flag = config(&[
            "--config",
            &p,
            "--image-gc-high-threshold=90",
            "--minimum-image-ttl-duration=30s",
        ])
        .unwrap()
        .image_gc;
        assert_eq!(
            (flag.high_threshold_percent, flag.low_threshold_percent),
            (90, 60)
        );
        assert_eq!(flag.min_age, std::time::Duration::from_secs(30));
        assert!(config(&["--image-gc-high-threshold=50", "--image-gc-low-threshold=60"]).is_err());
        assert!(config(&["--image-gc-high-threshold=101"]).is_err());
        assert!(config(&["--minimum-image-ttl-duration=soon"]).is_err());
    }
}
