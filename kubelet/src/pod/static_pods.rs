//! Static pods from `--pod-manifest-path`: Pod manifests (YAML or JSON) the kubelet runs
//! without the API, each mirrored into the API as a mirror pod (annotation
//! `kubernetes.io/config.mirror`) that carries its status.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use tracing::warn;

pub const CONFIG_SOURCE: &str = "kubernetes.io/config.source";
pub const CONFIG_HASH: &str = "kubernetes.io/config.hash";
pub const CONFIG_MIRROR: &str = "kubernetes.io/config.mirror";

pub fn is_mirror(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(CONFIG_MIRROR))
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// A stable UID for the manifest content on this node (a new one when the file changes).
fn uid_for(content: &[u8], node: &str) -> String {
    let a = fnv(content);
    let b = fnv(&[content, node.as_bytes()].concat());
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Parses one manifest into the static pod the kubelet runs: name `<name>-<node>`, namespace
/// `default` when unset, bound to this node, with upstream's config annotations.
pub fn prepare(content: &[u8], node: &str) -> Result<Pod, String> {
    let text = std::str::from_utf8(content).map_err(|e| e.to_string())?;
    let mut pod: Pod = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    let uid = uid_for(content, node);
    let name = pod
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or("manifest has no metadata.name")?;
    pod.metadata.name = Some(format!("{name}-{node}"));
    if pod.metadata.namespace.as_deref().is_none_or(str::is_empty) {
        pod.metadata.namespace = Some("default".into());
    }
    pod.metadata.uid = Some(uid.clone());
    let ann = pod.metadata.annotations.get_or_insert_with(BTreeMap::new);
    ann.insert(CONFIG_SOURCE.into(), "file".into());
    ann.insert(CONFIG_HASH.into(), uid);
    let spec = pod.spec.as_mut().ok_or("manifest has no spec")?;
    spec.node_name = Some(node.into());
    Ok(pod)
}

/// Every manifest in `dir` (hidden files skipped; a bad file is logged and skipped).
pub fn read_dir(dir: &Path, node: &str) -> Vec<Pod> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .filter_map(|p| {
            match std::fs::read(&p)
                .map_err(|e| e.to_string())
                .and_then(|c| prepare(&c, node))
            {
                Ok(pod) => Some(pod),
                Err(e) => {
                    warn!(file = %p.display(), error = %e, "static pod manifest");
                    None
                }
            }
        })
        .collect()
}

/// The mirror pod for a static pod: same name, namespace, labels and spec; no UID (the API
/// assigns one); `config.mirror` set to the static pod's hash; owned by the Node.
pub fn mirror_of(pod: &Pod, node: &str, node_uid: Option<&str>) -> Pod {
    let mut m = pod.clone();
    m.metadata.uid = None;
    m.metadata.resource_version = None;
    m.status = None;
    let hash = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CONFIG_HASH))
        .cloned()
        .unwrap_or_default();
    m.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(CONFIG_MIRROR.into(), hash);
    if let Some(uid) = node_uid {
        m.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "v1".into(),
            kind: "Node".into(),
            name: node.into(),
            uid: uid.into(),
            controller: Some(true),
            ..Default::default()
        }]);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: busybox\n";

    #[test]
    fn static_pod_and_mirror() {
        let p = prepare(MANIFEST.as_bytes(), "n1").unwrap();
        assert_eq!(p.metadata.name.as_deref(), Some("web-n1"));
        assert_eq!(p.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(p.spec.as_ref().unwrap().node_name.as_deref(), Some("n1"));
        let uid = p.metadata.uid.clone().unwrap();
        assert_eq!(uid.len(), 36);
        assert_eq!(
            prepare(MANIFEST.as_bytes(), "n1").unwrap().metadata.uid.unwrap(),
            uid,
            "stable"
        );
        assert_ne!(
            prepare(MANIFEST.replace("busybox", "other").as_bytes(), "n1")
                .unwrap()
                .metadata
                .uid
                .unwrap(),
            uid
        );
        let m = mirror_of(&p, "n1", Some("node-uid"));
        assert!(is_mirror(&m));
        assert!(!is_mirror(&p));
        assert_eq!(m.metadata.uid, None);
        assert_eq!(m.metadata.annotations.as_ref().unwrap()[CONFIG_MIRROR], uid);
        assert!(prepare(b"kind: Pod\nspec: {containers: []}\n", "n1").is_err());
    }
}
