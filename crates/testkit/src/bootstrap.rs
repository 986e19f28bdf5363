//! What an installer creates for kubelet TLS bootstrap, as kubeadm does: a bootstrap token
//! Secret in kube-system, and ClusterRoleBindings for the `system:bootstrappers` group.

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use crate::TestApiServer;

/// kubeadm's bindings: bootstrappers may post CSRs, and their node-client CSRs are approved.
pub const KUBEADM_BOOTSTRAP_BINDINGS: &[(&str, &str)] = &[
    ("kubeadm:kubelet-bootstrap", "system:node-bootstrapper"),
    (
        "kubeadm:node-autoapprove-bootstrap",
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
    ),
];

impl TestApiServer {
    /// Stores the bootstrap token `<id>.<secret>` (usable for authentication) and binds each
    /// `(binding name, cluster role)` to the `system:bootstrappers` group. Returns the token.
    pub async fn bootstrap_token(&self, id: &str, secret: &str, bindings: &[(&str, &str)]) -> String {
        let token: Secret = serde_json::from_value(json!({
            "metadata": {"name": format!("bootstrap-token-{id}"), "namespace": "kube-system"},
            "type": "bootstrap.kubernetes.io/token",
            "stringData": {"token-id": id, "token-secret": secret,
                           "usage-bootstrap-authentication": "true"},
        }))
        .expect("token secret");
        Api::<Secret>::namespaced(self.client.clone(), "kube-system")
            .create(&PostParams::default(), &token)
            .await
            .expect("create the bootstrap token secret");
        let api = Api::<ClusterRoleBinding>::all(self.client.clone());
        for (name, role) in bindings {
            let binding: ClusterRoleBinding = serde_json::from_value(json!({
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:bootstrappers"}],
            }))
            .expect("binding");
            api.create(&PostParams::default(), &binding)
                .await
                .expect("create the bootstrappers' binding");
        }
        format!("{id}.{secret}")
    }
}
