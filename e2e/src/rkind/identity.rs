//! Each component's own credentials, as kubeadm gives them: a client certificate signed by the
//! cluster CA (which the apiserver generated in its `--cert-dir`) in a kubeconfig of its own.
//! scheduler `system:kube-scheduler`, controller-manager `system:kube-controller-manager`,
//! kube-proxy `system:kube-proxy` (bound to `system:node-proxier` by the default policy), each
//! kubelet `system:node:<node>` in `system:nodes` (the Node authorizer). DNS has a token of its
//! service account (see `addons`).
//!
//! kube-controller-manager cannot yet run each controller under its own service account
//! (upstream's `--use-service-account-credentials`, which kubeadm sets), so its identity is bound
//! to every `system:controller:*` role, as `deploy/install.sh` does; those are the roles the
//! per-controller accounts would hold.

use std::path::Path;

use base64::Engine;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleRef, Subject};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use rudder_component::certs::{CertificateAuthority, sign_client_cert};
use serde_json::json;

use super::RkindError;
use super::layout::Layout;
use super::plan::NetworkPlan;

pub const SCHEDULER_USER: &str = "system:kube-scheduler";
pub const CONTROLLER_MANAGER_USER: &str = "system:kube-controller-manager";
pub const PROXY_USER: &str = "system:kube-proxy";
pub const NODES_GROUP: &str = "system:nodes";

/// One component's identity and the file its kubeconfig is written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// File name under [`Layout::conf`].
    pub file: String,
    pub user: String,
    pub groups: Vec<String>,
}

fn id(file: &str, user: &str, groups: &[&str]) -> Identity {
    Identity {
        file: file.into(),
        user: user.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

/// Every identity of a cluster (pure).
pub fn identities(plan: &NetworkPlan) -> Vec<Identity> {
    let mut v = vec![
        id(SCHEDULER_CONF, SCHEDULER_USER, &[]),
        id(CONTROLLER_MANAGER_CONF, CONTROLLER_MANAGER_USER, &[]),
        id(PROXY_CONF, PROXY_USER, &[]),
    ];
    for node in &plan.nodes {
        v.push(id(
            &kubelet_conf(&node.name),
            &format!("system:node:{}", node.name),
            &[NODES_GROUP],
        ));
    }
    v
}

pub const SCHEDULER_CONF: &str = "scheduler.conf";
pub const CONTROLLER_MANAGER_CONF: &str = "controller-manager.conf";
pub const PROXY_CONF: &str = "kube-proxy.conf";

pub fn kubelet_conf(node: &str) -> String {
    format!("kubelet-{node}.conf")
}

/// A kubeconfig with an embedded client certificate (pure).
pub fn kubeconfig(server: &str, ca_pem: &str, user: &str, cert_pem: &str, key_pem: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    json!({
        "apiVersion": "v1", "kind": "Config", "current-context": user,
        "clusters": [{ "name": "rkind", "cluster": {
            "server": server, "certificate-authority-data": b64(ca_pem) } }],
        "users": [{ "name": user, "user": {
            "client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem) } }],
        "contexts": [{ "name": user, "context": { "cluster": "rkind", "user": user } }],
    })
    .to_string()
}

fn fail(path: &Path, message: impl ToString) -> RkindError {
    RkindError::Kubeconfig {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Signs every identity with the cluster CA and writes its kubeconfig (mode 0600).
pub fn write_all(layout: &Layout, plan: &NetworkPlan) -> Result<(), RkindError> {
    let pki = layout.pki();
    let (ca_cert, ca_key) = (pki.join("ca.crt"), pki.join("ca.key"));
    let ca = CertificateAuthority::load(&ca_cert, &ca_key).map_err(|e| fail(&ca_cert, e))?;
    let dir = layout.conf();
    std::fs::create_dir_all(&dir).map_err(|e| fail(&dir, e))?;
    for ident in identities(plan) {
        let path = dir.join(&ident.file);
        let (cert, key) = sign_client_cert(&ca, &ident.user, &ident.groups).map_err(|e| fail(&path, e))?;
        let text = kubeconfig(&plan.apiserver_url(), ca.cert_pem(), &ident.user, &cert, &key);
        write_private(&path, &text).map_err(|e| fail(&path, e))?;
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// Binds every `system:controller:*` ClusterRole to the controller-manager's user (see the
/// module comment). Returns the controllers whose roles were bound.
pub async fn bind_controller_roles(client: &kube::Client) -> Result<Vec<String>, RkindError> {
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let mut bound = Vec::new();
    for role in roles.list(&ListParams::default()).await? {
        let Some(name) = role.metadata.name.as_deref() else {
            continue;
        };
        let Some(short) = name.strip_prefix("system:controller:") else {
            continue;
        };
        let binding = ClusterRoleBinding {
            metadata: ObjectMeta {
                name: Some(format!("rudder:kube-controller-manager:{short}")),
                ..Default::default()
            },
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: name.into(),
            },
            subjects: Some(vec![Subject {
                kind: "User".into(),
                api_group: Some("rbac.authorization.k8s.io".into()),
                name: CONTROLLER_MANAGER_USER.into(),
                namespace: None,
            }]),
        };
        match bindings.create(&PostParams::default(), &binding).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
        bound.push(short.to_string());
    }
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeadm_identities_one_per_kubelet() {
        let plan = crate::rkind::plan::plan("h", 7, 3).unwrap();
        let ids = identities(&plan);
        let users: Vec<(&str, Vec<&str>)> = ids
            .iter()
            .map(|i| (i.user.as_str(), i.groups.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(users[0], ("system:kube-scheduler", vec![]));
        assert_eq!(users[1], ("system:kube-controller-manager", vec![]));
        assert_eq!(users[2], ("system:kube-proxy", vec![]));
        assert_eq!(ids.len(), 3 + plan.nodes.len());
        for (node, id) in plan.nodes.iter().zip(&ids[3..]) {
            assert_eq!(id.user, format!("system:node:{}", node.name));
            assert_eq!(id.groups, vec!["system:nodes".to_string()]);
            assert_eq!(id.file, format!("kubelet-{}.conf", node.name));
        }
    }

    #[test]
    fn kubeconfig_embeds_certificate_and_key() {
        let kc: serde_json::Value =
            serde_json::from_str(&kubeconfig("https://10.250.0.1:6443", "CA", "u", "CERT", "KEY")).unwrap();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(kc["clusters"][0]["cluster"]["server"], "https://10.250.0.1:6443");
        assert_eq!(
            kc["clusters"][0]["cluster"]["certificate-authority-data"],
            b64("CA")
        );
        assert_eq!(kc["users"][0]["user"]["client-certificate-data"], b64("CERT"));
        assert_eq!(kc["users"][0]["user"]["client-key-data"], b64("KEY"));
        assert_eq!(kc["current-context"], "u");
    }
}
