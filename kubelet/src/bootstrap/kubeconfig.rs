//! Reading the bootstrap kubeconfig, checking the current one, writing the bootstrapped one.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use kube::config::Kubeconfig;
use serde_json::{Value, json};

use super::{BootstrapError, io, write_private};

/// The current context's (cluster, user) entries.
fn current(
    kubeconfig: &Kubeconfig,
) -> (
    Option<&kube::config::NamedCluster>,
    Option<&kube::config::NamedAuthInfo>,
) {
    let context = kubeconfig
        .current_context
        .as_deref()
        .and_then(|name| kubeconfig.contexts.iter().find(|c| c.name == name))
        .or_else(|| kubeconfig.contexts.first())
        .and_then(|c| c.context.as_ref());
    let cluster = context
        .and_then(|c| kubeconfig.clusters.iter().find(|n| n.name == c.cluster))
        .or_else(|| kubeconfig.clusters.first());
    let user = context
        .and_then(|c| c.user.as_deref())
        .and_then(|u| kubeconfig.auth_infos.iter().find(|n| n.name == u))
        .or_else(|| kubeconfig.auth_infos.first());
    (cluster, user)
}

/// Upstream `isClientConfigStillValid`: the kubeconfig loads, and the client certificate it
/// names (if any) is within its validity period at `now`. A kubeconfig with other credentials
/// counts as valid.
pub fn client_certificate_valid(path: &Path, now: SystemTime) -> bool {
    let Ok(kubeconfig) = Kubeconfig::read_from(path) else {
        return false;
    };
    let (_, user) = current(&kubeconfig);
    let Some(auth) = user.and_then(|u| u.auth_info.as_ref()) else {
        return false;
    };
    let pem = if let Some(data) = &auth.client_certificate_data {
        let decoded: Result<k8s_openapi::ByteString, _> = serde_json::from_value(json!(data));
        decoded.ok().map(|b| b.0)
    } else if let Some(file) = &auth.client_certificate {
        std::fs::read(resolve(path, file)).ok()
    } else {
        return true;
    };
    let Some(pem) = pem else { return false };
    let Ok(now) = now.duration_since(SystemTime::UNIX_EPOCH) else {
        return false;
    };
    let now = now.as_secs() as i64;
    let Ok((_, block)) = x509_parser::pem::parse_x509_pem(&pem) else {
        return false;
    };
    let Ok(cert) = block.parse_x509() else {
        return false;
    };
    let validity = cert.validity();
    validity.not_before.timestamp() <= now && now <= validity.not_after.timestamp()
}

/// A path in a kubeconfig, relative to the kubeconfig's directory.
fn resolve(kubeconfig: &Path, file: &str) -> PathBuf {
    let file = Path::new(file);
    match kubeconfig.parent() {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file.to_path_buf(),
    }
}

/// Writes `path` (mode 0600) with the bootstrap kubeconfig's cluster and the client pair in
/// `pem` (certificate and key in one file), under upstream's names.
pub(super) fn write(bootstrap: &Path, path: &Path, pem: &Path) -> Result<(), BootstrapError> {
    let invalid = |reason: String| BootstrapError::BootstrapKubeconfig {
        path: bootstrap.to_path_buf(),
        reason,
    };
    let source = Kubeconfig::read_from(bootstrap).map_err(|e| invalid(e.to_string()))?;
    let (cluster, _) = current(&source);
    let cluster = cluster
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| invalid("no cluster".into()))?;
    let mut cluster = serde_json::to_value(cluster).map_err(|e| invalid(e.to_string()))?;
    if let Some(ca) = cluster.get("certificate-authority").and_then(Value::as_str) {
        cluster["certificate-authority"] = json!(resolve(bootstrap, ca).display().to_string());
    }
    let pem = pem.display().to_string();
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default-cluster", "cluster": cluster}],
        "users": [{"name": "default-auth", "user": {"client-certificate": pem, "client-key": pem}}],
        "contexts": [{"name": "default-context",
                      "context": {"cluster": "default-cluster", "user": "default-auth", "namespace": "default"}}],
        "current-context": "default-context",
    });
    // JSON is YAML: every kubeconfig reader takes it.
    let text = serde_json::to_string_pretty(&config).map_err(|e| invalid(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    write_private(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_certless_kubeconfigs() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(!client_certificate_valid(
            &dir.path().join("none"),
            SystemTime::now()
        ));
        let token = dir.path().join("token.conf");
        std::fs::write(
            &token,
            r#"{"apiVersion":"v1","kind":"Config","clusters":[{"name":"c","cluster":{"server":"https://127.0.0.1:1"}}],
               "users":[{"name":"u","user":{"token":"t"}}],
               "contexts":[{"name":"x","context":{"cluster":"c","user":"u"}}],"current-context":"x"}"#,
        )
        .expect("write");
        assert!(client_certificate_valid(&token, SystemTime::now()));
    }

    #[test]
    fn written_kubeconfig_uses_the_pair_and_the_bootstrap_cluster() {
        let dir = tempfile::tempdir().expect("dir");
        let bootstrap = dir.path().join("bootstrap-kubelet.conf");
        std::fs::write(
            &bootstrap,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority: pki/ca.crt\nusers:\n- name: tls-bootstrap-token-user\n  user:\n    token: abcdef.0123456789abcdef\ncontexts:\n- name: b\n  context:\n    cluster: c\n    user: tls-bootstrap-token-user\ncurrent-context: b\n",
        )
        .expect("write");
        // A certificate valid until the start of the year after next, stored as the kubelet
        // stores it.
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(vec!["x".to_string()]).expect("params");
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("time")
            .as_secs();
        let year = 1970 + (secs / 31_556_952) as i32;
        params.not_after = rcgen::date_time_ymd(year + 2, 1, 1);
        let cert = params.self_signed(&key).expect("cert");
        let pair = dir.path().join("kubelet-client-current.pem");
        std::fs::write(&pair, format!("{}{}", cert.pem(), key.serialize_pem())).expect("pair");
        let out = dir.path().join("kubelet.conf");
        write(&bootstrap, &out, &pair).expect("write kubeconfig");
        let written = Kubeconfig::read_from(&out).expect("read back");
        let (cluster, user) = current(&written);
        let cluster = cluster.and_then(|c| c.cluster.as_ref()).expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://10.0.0.1:6443"));
        assert_eq!(
            cluster.certificate_authority.as_deref(),
            Some(dir.path().join("pki/ca.crt").to_str().expect("utf8"))
        );
        let auth = user.and_then(|u| u.auth_info.as_ref()).expect("user");
        assert_eq!(auth.client_certificate.as_deref(), pair.to_str());
        assert_eq!(auth.client_key.as_deref(), pair.to_str());
        assert!(client_certificate_valid(&out, SystemTime::now()));
        let later = SystemTime::now() + std::time::Duration::from_secs(3600 * 24 * 365 * 10);
        assert!(
            !client_certificate_valid(&out, later),
            "an expired certificate is not valid"
        );
    }
}
