//! What to create: `rkind create cluster` flags merged over an optional config file shaped like
//! kind's (`kind: Cluster`, `nodes: [{role: worker}, ...]`, `networking.kubeProxyMode`).
//! Flags given on the command line win over the file, as with kind.

use serde::Deserialize;

use super::plan::MAX_NODES;

pub const DEFAULT_NAME: &str = "rkind";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyMode {
    Iptables,
    Nftables,
}

impl ProxyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyMode::Iptables => "iptables",
            ProxyMode::Nftables => "nftables",
        }
    }
}

impl std::str::FromStr for ProxyMode {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        match s {
            "iptables" => Ok(ProxyMode::Iptables),
            "nftables" => Ok(ProxyMode::Nftables),
            other => Err(SpecError::ProxyMode(other.into())),
        }
    }
}

/// A validated request for a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    pub name: String,
    /// Worker nodes (the control plane runs as host processes, not as a node).
    pub nodes: usize,
    /// A real etcd instead of the apiserver's embedded store.
    pub etcd: bool,
    pub proxy_mode: ProxyMode,
}

/// Flags of `create cluster`, all optional so the file can fill them.
#[derive(Debug, Clone, Default)]
pub struct CreateFlags {
    pub name: Option<String>,
    pub nodes: Option<usize>,
    pub config: Option<String>,
    pub etcd: bool,
    pub proxy_mode: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error(
        "invalid cluster name {0:?}: use 1-32 lower-case letters, digits and '-', starting with a letter"
    )]
    Name(String),
    #[error("--nodes {0}: between 1 and {MAX_NODES} worker nodes are supported")]
    Nodes(usize),
    #[error("invalid proxy mode {0:?}: want iptables or nftables")]
    ProxyMode(String),
    #[error("config file: {0}")]
    Config(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    kind: Option<String>,
    name: Option<String>,
    #[serde(default)]
    nodes: Vec<ConfigNode>,
    #[serde(default)]
    networking: Networking,
    /// rkind's own: a real etcd behind the apiserver.
    #[serde(default)]
    etcd: bool,
}

#[derive(Debug, Deserialize)]
struct ConfigNode {
    role: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Networking {
    kube_proxy_mode: Option<String>,
}

pub fn validate_name(name: &str) -> Result<(), SpecError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(SpecError::Name(name.into()))
    }
}

/// Flags over the config file's text (if any) → a spec. 3 nodes when neither says.
pub fn resolve(flags: &CreateFlags, config_text: Option<&str>) -> Result<ClusterSpec, SpecError> {
    let file: ConfigFile = match config_text {
        Some(text) => serde_saphyr::from_str(text).map_err(|e| SpecError::Config(e.to_string()))?,
        None => ConfigFile::default(),
    };
    if let Some(kind) = &file.kind
        && kind != "Cluster"
    {
        return Err(SpecError::Config(format!("kind {kind:?}: want Cluster")));
    }
    let mut file_workers = 0;
    let mut control_planes = 0;
    for n in &file.nodes {
        match n.role.as_str() {
            "worker" => file_workers += 1,
            "control-plane" => control_planes += 1,
            other => {
                return Err(SpecError::Config(format!(
                    "node role {other:?}: want worker or control-plane"
                )));
            }
        }
    }
    if control_planes > 1 {
        return Err(SpecError::Config(
            "one control-plane only (it runs as processes on the host)".into(),
        ));
    }
    let name = flags
        .name
        .clone()
        .or(file.name)
        .unwrap_or_else(|| DEFAULT_NAME.into());
    validate_name(&name)?;
    let nodes = flags
        .nodes
        .or((file_workers > 0).then_some(file_workers))
        .unwrap_or(3);
    if nodes == 0 || nodes > MAX_NODES {
        return Err(SpecError::Nodes(nodes));
    }
    let proxy_mode = match flags
        .proxy_mode
        .as_deref()
        .or(file.networking.kube_proxy_mode.as_deref())
    {
        Some(m) => m.parse()?,
        None => ProxyMode::Iptables,
    };
    Ok(ClusterSpec {
        name,
        nodes,
        etcd: flags.etcd || file.etcd,
        proxy_mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let s = resolve(&CreateFlags::default(), None).unwrap();
        assert_eq!(
            s,
            ClusterSpec {
                name: "rkind".into(),
                nodes: 3,
                etcd: false,
                proxy_mode: ProxyMode::Iptables
            }
        );
    }

    #[test]
    fn file_then_flags() {
        let text = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: fromfile\nnodes:\n\
                    - role: control-plane\n- role: worker\n- role: worker\n\
                    networking:\n  kubeProxyMode: nftables\n";
        let s = resolve(&CreateFlags::default(), Some(text)).unwrap();
        assert_eq!(
            (s.name.as_str(), s.nodes, s.proxy_mode),
            ("fromfile", 2, ProxyMode::Nftables)
        );
        let flags = CreateFlags {
            name: Some("flag".into()),
            nodes: Some(5),
            proxy_mode: Some("iptables".into()),
            etcd: true,
            ..Default::default()
        };
        let s = resolve(&flags, Some(text)).unwrap();
        assert_eq!(
            (s.name.as_str(), s.nodes, s.proxy_mode, s.etcd),
            ("flag", 5, ProxyMode::Iptables, true)
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let named = |n: &str| CreateFlags {
            name: Some(n.into()),
            ..Default::default()
        };
        for bad in ["", "Upper", "1abc", "a_b", "dash-", &"x".repeat(33)] {
            assert!(
                matches!(resolve(&named(bad), None), Err(SpecError::Name(_))),
                "{bad:?}"
            );
        }
        let nodes = CreateFlags {
            nodes: Some(0),
            ..Default::default()
        };
        assert_eq!(resolve(&nodes, None), Err(SpecError::Nodes(0)));
        let mode = CreateFlags {
            proxy_mode: Some("ipvs".into()),
            ..Default::default()
        };
        assert!(matches!(resolve(&mode, None), Err(SpecError::ProxyMode(_))));
        assert!(matches!(
            resolve(&CreateFlags::default(), Some("kind: Pod\n")),
            Err(SpecError::Config(_))
        ));
        assert!(matches!(
            resolve(&CreateFlags::default(), Some("nodes:\n- role: master\n")),
            Err(SpecError::Config(_))
        ));
        assert!(matches!(
            resolve(&CreateFlags::default(), Some("nodes: [")),
            Err(SpecError::Config(_))
        ));
    }
}
