//! Registry credentials from imagePullSecrets (`kubernetes.io/dockerconfigjson` and the
//! legacy `kubernetes.io/dockercfg`) for CRI PullImage.

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;

use crate::cri::api::AuthConfig;

/// The registry host of an image reference (`docker.io` when it has none).
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => first,
        _ => "docker.io",
    }
}

fn host_of(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = k.split('/').next().unwrap_or(k);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        h => h,
    }
}

/// The first credentials in `secrets` for the image's registry.
pub fn auth_for(image: &str, secrets: &[Secret]) -> Option<AuthConfig> {
    let registry = registry_of(image);
    for s in secrets {
        let data = s.data.clone().unwrap_or_default();
        let auths = if let Some(v) = data.get(".dockerconfigjson") {
            serde_json::from_slice::<serde_json::Value>(&v.0)
                .ok()
                .and_then(|j| j.get("auths").cloned())
        } else if let Some(v) = data.get(".dockercfg") {
            serde_json::from_slice::<serde_json::Value>(&v.0).ok()
        } else {
            None
        };
        let Some(serde_json::Value::Object(auths)) = auths else {
            continue;
        };
        for (key, entry) in auths {
            if host_of(&key) != registry {
                continue;
            }
            let field = |n: &str| {
                entry
                    .get(n)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let (mut username, mut password) = (field("username"), field("password"));
            let auth = field("auth");
            if username.is_empty()
                && !auth.is_empty()
                && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(&auth)
                && let Some((u, p)) = String::from_utf8_lossy(&raw).split_once(':')
            {
                username = u.to_string();
                password = p.to_string();
            }
            return Some(AuthConfig {
                username,
                password,
                auth,
                server_address: registry.to_string(),
                ..Default::default()
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    #[test]
    fn matches_the_registry_and_decodes_auth() {
        let cfg = serde_json::json!({"auths": {"127.0.0.1:5001": {"auth": base64::engine::general_purpose::STANDARD.encode("u:p")},
                                               "https://index.docker.io/v1/": {"username": "d", "password": "x"}}});
        let s = Secret {
            type_: Some("kubernetes.io/dockerconfigjson".into()),
            data: Some(
                [(
                    ".dockerconfigjson".to_string(),
                    ByteString(serde_json::to_vec(&cfg).unwrap()),
                )]
                .into(),
            ),
            ..Default::default()
        };
        let a = auth_for("127.0.0.1:5001/rt/busybox:1", std::slice::from_ref(&s)).unwrap();
        assert_eq!(
            (
                a.username.as_str(),
                a.password.as_str(),
                a.server_address.as_str()
            ),
            ("u", "p", "127.0.0.1:5001")
        );
        let d = auth_for("library/nginx:1", std::slice::from_ref(&s)).unwrap();
        assert_eq!(d.username, "d");
        assert!(auth_for("quay.io/x/y:1", &[s]).is_none());
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("localhost/rudder/pause:1"), "localhost");
    }
}
