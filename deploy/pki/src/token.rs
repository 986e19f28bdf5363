//! Kubelet TLS bootstrap with a bootstrap token (`rudder-pki token`, kubeadm's
//! `kubeadm token create` and its bootstrap-token phase): a token `<id>.<secret>`, the manifest
//! of its Secret and of the ClusterRoleBindings kubeadm makes, and `bootstrap-kubelet.conf`, the
//! kubeconfig a joining kubelet starts with instead of a client certificate of its own.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;

use crate::PkiError;

/// kubeadm's default extra group, bound to the node-bootstrapper and nodeclient roles.
pub const DEFAULT_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";
pub const MANIFEST: &str = "bootstrap-token.yaml";
pub const KUBECONFIG: &str = "bootstrap-kubelet.conf";

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters of `[a-z0-9]`, uniform (bytes of 252 and above are drawn again).
fn random_string(len: usize) -> Result<String, PkiError> {
    let rng = ring::rand::SystemRandom::new();
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut byte = [0u8; 1];
        ring::rand::SecureRandom::fill(&rng, &mut byte).map_err(|_| PkiError::Random)?;
        if byte[0] < 252 {
            out.push(char::from(ALPHABET[usize::from(byte[0] % 36)]));
        }
    }
    Ok(out)
}

/// A new token: (id, secret), `[a-z0-9]{6}` and `[a-z0-9]{16}`.
pub fn generate() -> Result<(String, String), PkiError> {
    Ok((random_string(6)?, random_string(16)?))
}

/// The Secret `kube-system/bootstrap-token-<id>` and kubeadm's bindings: the token's group may
/// post CSRs (`system:node-bootstrapper`) and have node client CSRs auto-approved (`nodeclient`),
/// and nodes may renew their own (`selfnodeclient`).
pub fn manifest(id: &str, secret: &str, expiration: Option<OffsetDateTime>, group: &str) -> String {
    let expiration = expiration
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .map(|t| format!("  expiration: \"{t}\"\n"))
        .unwrap_or_default();
    let binding = |name: &str, role: &str, group: &str| {
        format!(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {name}\n\
             roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: {role}\n\
             subjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: Group\n  name: {group}\n"
        )
    };
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: bootstrap-token-{id}\n  namespace: kube-system\n\
         type: bootstrap.kubernetes.io/token\nstringData:\n  description: \"Rudder kubelet TLS bootstrap\"\n\
         \x20 token-id: \"{id}\"\n  token-secret: \"{secret}\"\n{expiration}\
         \x20 usage-bootstrap-authentication: \"true\"\n  usage-bootstrap-signing: \"true\"\n\
         \x20 auth-extra-groups: \"{group}\"\n{}{}{}",
        binding("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", group),
        binding(
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            group
        ),
        binding(
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            "system:nodes"
        ),
    )
}

/// kubeadm's `bootstrap-kubelet.conf`: the cluster and the token user `tls-bootstrap-token-user`.
pub fn kubeconfig(cluster: &str, server: &str, ca_pem: &str, token: &str) -> String {
    let cluster = format!("\"{}\"", cluster.replace('\\', "\\\\").replace('"', "\\\""));
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {cluster}\n\
         contexts:\n- context:\n    cluster: {cluster}\n    user: tls-bootstrap-token-user\n  name: tls-bootstrap-token-user@kubernetes\n\
         current-context: tls-bootstrap-token-user@kubernetes\npreferences: {{}}\n\
         users:\n- name: tls-bootstrap-token-user\n  user:\n    token: {token}\n",
        ca = STANDARD.encode(ca_pem),
    )
}

/// `key: value` of the first such line of a kubeconfig (`server:`, `name:`).
fn field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().trim_matches('"').to_string())
}

/// Writes the manifest and `bootstrap-kubelet.conf` into `out` (the directory `init` made),
/// with the server and cluster name of its `kube-proxy.conf` (the endpoint workers use).
/// Returns the token.
pub fn create(
    out: &Path,
    ttl: Option<time::Duration>,
    group: &str,
    now: OffsetDateTime,
) -> Result<String, PkiError> {
    let ca_path = out.join("pki").join("ca.crt");
    if !ca_path.exists() {
        return Err(PkiError::MissingCa(ca_path));
    }
    let ca = crate::fsutil::read(&ca_path)?;
    let proxy_path: PathBuf = out.join("kube-proxy.conf");
    let proxy = crate::fsutil::read(&proxy_path)?;
    let missing = |what: &'static str| PkiError::Mismatch {
        path: proxy_path.clone(),
        reason: format!("no {what} line"),
    };
    let server = field(&proxy, "server:").ok_or_else(|| missing("server"))?;
    let cluster = field(&proxy, "cluster:").ok_or_else(|| missing("cluster"))?;
    let (id, secret) = generate()?;
    let token = format!("{id}.{secret}");
    crate::fsutil::write(
        &out.join(MANIFEST),
        &manifest(&id, &secret, ttl.map(|t| now + t), group),
        0o600,
    )?;
    crate::fsutil::write(
        &out.join(KUBECONFIG),
        &kubeconfig(&cluster, &server, &ca, &token),
        0o600,
    )?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_bootstrap_shape_and_differ() {
        let (id, secret) = generate().expect("token");
        let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| ALPHABET.contains(&b));
        assert!(ok(&id, 6) && ok(&secret, 16), "{id}.{secret}");
        assert_ne!(generate().expect("token"), (id, secret));
    }

    #[test]
    fn manifest_names_the_secret_the_groups_and_the_expiry() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let text = manifest("abcdef", "0123456789abcdef", Some(at), DEFAULT_GROUP);
        assert!(text.contains("name: bootstrap-token-abcdef\n  namespace: kube-system\n"));
        assert!(text.contains("type: bootstrap.kubernetes.io/token\n"));
        assert!(text.contains("  token-secret: \"0123456789abcdef\"\n"));
        assert!(
            text.contains("  expiration: \"2027-01-15T08:00:00Z\"\n"),
            "{text}"
        );
        assert!(text.contains(&format!("  auth-extra-groups: \"{DEFAULT_GROUP}\"\n")));
        assert_eq!(text.matches("kind: ClusterRoleBinding").count(), 3);
        assert!(text.contains("name: system:certificates.k8s.io:certificatesigningrequests:selfnodeclient\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: Group\n  name: system:nodes\n"));
        assert!(!manifest("abcdef", "0123456789abcdef", None, DEFAULT_GROUP).contains("expiration"));
    }
}
