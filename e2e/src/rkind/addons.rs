//! The cluster DNS add-on: dns/deploy/dns.yaml adapted for this cluster (the image rkind built
//! and imported, and a kubeconfig from a Secret, because pods get no service-account tokens yet)
//! and applied with server-side apply.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind, ObjectMeta};
use serde_json::{Value, json};

use super::images::DNS_IMAGE;

const MANIFEST: &str = include_str!("../../../dns/deploy/dns.yaml");
pub const DNS_USER: &str = "system:serviceaccount:kube-system:rudder-dns";
const SECRET: &str = "rudder-dns-kubeconfig";
const MOUNT: &str = "/etc/rudder-dns";

#[derive(Debug, thiserror::Error)]
pub enum AddonError {
    #[error("dns/deploy/dns.yaml: {0}")]
    Manifest(String),
    #[error("apply {kind} {name}: {source}")]
    Apply {
        kind: String,
        name: String,
        source: kube::Error,
    },
}

/// The manifest's documents, adapted (pure).
pub fn dns_documents() -> Result<Vec<Value>, AddonError> {
    let mut docs = Vec::new();
    for text in MANIFEST.split("\n---\n") {
        let mut doc: Value = serde_saphyr::from_str(text).map_err(|e| AddonError::Manifest(e.to_string()))?;
        if doc["kind"] == "Deployment" {
            adapt_deployment(&mut doc)?;
        }
        docs.push(doc);
    }
    Ok(docs)
}

fn adapt_deployment(doc: &mut Value) -> Result<(), AddonError> {
    let pod = doc
        .pointer_mut("/spec/template/spec")
        .ok_or_else(|| AddonError::Manifest("Deployment has no pod template".into()))?;
    let volumes = pod
        .as_object_mut()
        .ok_or_else(|| AddonError::Manifest("pod spec is not an object".into()))?
        .entry("volumes")
        .or_insert_with(|| json!([]));
    if let Some(v) = volumes.as_array_mut() {
        v.push(json!({ "name": "kubeconfig", "secret": { "secretName": SECRET } }));
    }
    let container = pod
        .pointer_mut("/containers/0")
        .ok_or_else(|| AddonError::Manifest("Deployment has no container".into()))?;
    container["image"] = DNS_IMAGE.into();
    if let Some(args) = container["args"].as_array_mut() {
        args.push(format!("--kubeconfig={MOUNT}/kubeconfig").into());
    }
    let mounts = container
        .as_object_mut()
        .ok_or_else(|| AddonError::Manifest("container is not an object".into()))?
        .entry("volumeMounts")
        .or_insert_with(|| json!([]));
    if let Some(m) = mounts.as_array_mut() {
        m.push(json!({ "name": "kubeconfig", "mountPath": MOUNT, "readOnly": true }));
    }
    Ok(())
}

/// A kubeconfig for the DNS pods: bearer token (listed in the apiserver's --token-auth-file as
/// the add-on's service account) and the cluster CA.
pub fn dns_kubeconfig(server: &str, ca_pem: &str, token: &str) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "rudder-dns",
        "clusters": [{ "name": "rkind", "cluster": { "server": server, "certificate-authority-data": ca } }],
        "users": [{ "name": "rudder-dns", "user": { "token": token } }],
        "contexts": [{ "name": "rudder-dns", "context": { "cluster": "rkind", "user": "rudder-dns" } }],
    })
    .to_string()
}

fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

/// Applies the Secret and the add-on's objects.
pub async fn apply_dns(client: &kube::Client, kubeconfig: &str) -> Result<(), AddonError> {
    let pp = PatchParams::apply("rkind").force();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(SECRET.into()),
            namespace: Some("kube-system".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "kubeconfig".to_string(),
            ByteString(kubeconfig.as_bytes().to_vec()),
        )])),
        ..Default::default()
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    let mut secret_doc = serde_json::to_value(&secret).map_err(|e| AddonError::Manifest(e.to_string()))?;
    secret_doc["apiVersion"] = "v1".into();
    secret_doc["kind"] = "Secret".into();
    secrets
        .patch(SECRET, &pp, &Patch::Apply(&secret_doc))
        .await
        .map_err(|source| AddonError::Apply {
            kind: "Secret".into(),
            name: SECRET.into(),
            source,
        })?;
    for doc in dns_documents()? {
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let name = doc["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let ar =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, &kind), &plural(&kind));
        let api: Api<DynamicObject> = match doc["metadata"]["namespace"].as_str() {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::all_with(client.clone(), &ar),
        };
        api.patch(&name, &pp, &Patch::Apply(&doc))
            .await
            .map_err(|source| AddonError::Apply { kind, name, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_uses_the_built_image_and_the_kubeconfig_secret() {
        let docs = dns_documents().unwrap();
        let kinds: Vec<_> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "Deployment",
                "Service"
            ]
        );
        let d = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], DNS_IMAGE);
        assert!(
            c["args"]
                .as_array()
                .unwrap()
                .contains(&json!("--kubeconfig=/etc/rudder-dns/kubeconfig"))
        );
        assert_eq!(c["volumeMounts"][0]["mountPath"], MOUNT);
        assert_eq!(
            d["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"],
            SECRET
        );
        let svc = docs.iter().find(|d| d["kind"] == "Service").unwrap();
        assert_eq!(svc["spec"]["clusterIP"], crate::rkind::plan::DNS_IP.to_string());
        let binding = docs.iter().find(|d| d["kind"] == "ClusterRoleBinding").unwrap();
        // RBAC names are path segments (`:` allowed), as upstream's `system:coredns`.
        assert_eq!(binding["metadata"]["name"], "system:rudder-dns");
        assert_eq!(binding["roleRef"]["name"], "system:rudder-dns");
        let role = docs.iter().find(|d| d["kind"] == "ClusterRole").unwrap();
        assert_eq!(role["metadata"]["name"], "system:rudder-dns");
        assert_eq!(plural("ClusterRoleBinding"), "clusterrolebindings");
        assert_eq!(plural("ServiceAccount"), "serviceaccounts");
    }

    #[test]
    fn kubeconfig_carries_token_and_ca() {
        let k: Value =
            serde_json::from_str(&dns_kubeconfig("https://10.250.0.1:6443", "PEM", "tok")).unwrap();
        assert_eq!(k["users"][0]["user"]["token"], "tok");
        assert_eq!(k["clusters"][0]["cluster"]["server"], "https://10.250.0.1:6443");
        assert_eq!(k["clusters"][0]["cluster"]["certificate-authority-data"], "UEVN");
    }
}
