//! ServiceAccount (upstream `plugin/pkg/admission/serviceaccount`): a new pod runs as the
//! service account it names, `default` when it names none; that account must exist; its
//! image pull secrets are copied when the pod has none; and unless the pod or the account turn
//! `automountServiceAccountToken` off, every container mounts the projected
//! `kube-api-access-<random>` volume (a bound token valid 3607 s, `kube-root-ca.crt`'s
//! `ca.crt` and the namespace) at `/var/run/secrets/kubernetes.io/serviceaccount`.

use std::time::Duration;

use rudder_api::status::ApiError;
use serde_json::{Value, json};

use super::lookup::SERVICE_ACCOUNTS;
use super::{Attributes, Cluster, Operation, forbidden};

pub(crate) const DEFAULT_SERVICE_ACCOUNT: &str = "default";
pub(crate) const VOLUME_PREFIX: &str = "kube-api-access-";
pub(crate) const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Upstream's `WarnOnlyBoundTokenExpirationSeconds`.
pub(crate) const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

fn applies(attrs: &Attributes<'_>) -> bool {
    attrs.is_core_main("pods") && attrs.operation == Operation::Create
}

fn is_mirror(pod: &Value) -> bool {
    pod.pointer("/metadata/annotations")
        .and_then(|a| a.get(MIRROR_ANNOTATION))
        .is_some()
}

fn service_account_name(pod: &Value) -> &str {
    pod.pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub(super) async fn admit(
    attrs: &Attributes<'_>,
    obj: Option<&mut Value>,
    cluster: &Cluster<'_>,
) -> Result<(), ApiError> {
    let Some(pod) = obj.filter(|_| applies(attrs)) else {
        return Ok(());
    };
    if is_mirror(pod) {
        return Ok(());
    }
    if service_account_name(pod).is_empty()
        && let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.insert("serviceAccountName".into(), json!(DEFAULT_SERVICE_ACCOUNT));
        spec.insert("serviceAccount".into(), json!(DEFAULT_SERVICE_ACCOUNT));
    }
    let name = service_account_name(pod).to_string();
    let Some(account) = find(cluster, attrs.namespace, &name).await? else {
        return Err(forbidden(
            attrs,
            Some(pod),
            format!(
                "error looking up service account {}/{name}: serviceaccount \"{name}\" not found",
                attrs.namespace
            ),
        ));
    };
    mutate(pod, &account, &crate::registry::object::random_suffix());
    Ok(())
}

/// The service account, from the cache or storage. The `default` account is created by the
/// controller-manager right after its namespace, so it is waited for a little (upstream tries
/// ten times, 100–200 ms apart).
async fn find(cluster: &Cluster<'_>, namespace: &str, name: &str) -> Result<Option<Value>, ApiError> {
    let attempts = if name == DEFAULT_SERVICE_ACCOUNT { 10 } else { 1 };
    for attempt in 0..attempts {
        if attempt > 0 {
            let jitter = rand::random_range(0..100u64);
            tokio::time::sleep(Duration::from_millis(100 + jitter)).await;
        }
        if let Some(sa) = cluster.get_live(SERVICE_ACCOUNTS, Some(namespace), name).await? {
            return Ok(Some(sa));
        }
    }
    Ok(None)
}

/// Whether the token is mounted: the pod's choice, else the account's, else yes.
fn automount(account: &Value, pod: &Value) -> bool {
    pod.pointer("/spec/automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| {
            account
                .get("automountServiceAccountToken")
                .and_then(Value::as_bool)
        })
        .unwrap_or(true)
}

/// The projected volume upstream's `TokenVolumeSource` describes.
pub(crate) fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ]
        }
    })
}

/// The pure part of Admit: token volume and mounts, image pull secrets.
pub(super) fn mutate(pod: &mut Value, account: &Value, suffix: &str) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let wants_token = {
        let view =
            json!({"spec": {"automountServiceAccountToken": spec.get("automountServiceAccountToken")}});
        automount(account, &view)
    };
    if wants_token {
        let existing = spec.get("volumes").and_then(Value::as_array).and_then(|vs| {
            vs.iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str))
                .find(|n| n.starts_with(VOLUME_PREFIX))
                .map(str::to_string)
        });
        let volume_name = existing
            .clone()
            .unwrap_or_else(|| format!("{VOLUME_PREFIX}{suffix}"));
        let mount = json!({"name": volume_name, "readOnly": true, "mountPath": MOUNT_PATH});
        let mut needed = false;
        for list in ["initContainers", "containers"] {
            for c in spec
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let Some(c) = c.as_object_mut() else { continue };
                let mounts = c.entry("volumeMounts").or_insert_with(|| json!([]));
                let Some(mounts) = mounts.as_array_mut() else {
                    continue;
                };
                // A mount at the default path already there keeps the token out.
                if mounts
                    .iter()
                    .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(MOUNT_PATH))
                {
                    continue;
                }
                mounts.push(mount.clone());
                needed = true;
            }
        }
        if existing.is_none() && needed {
            let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
            if let Some(volumes) = volumes.as_array_mut() {
                volumes.push(token_volume(&volume_name));
            }
        }
    }
    let has_pull_secrets = spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if !has_pull_secrets
        && let Some(secrets) = account.get("imagePullSecrets").and_then(Value::as_array)
        && !secrets.is_empty()
    {
        let refs: Vec<Value> = secrets
            .iter()
            .filter_map(|s| s.get("name").and_then(Value::as_str))
            .map(|n| json!({"name": n}))
            .collect();
        spec.insert("imagePullSecrets".into(), Value::Array(refs));
    }
}

/// Validate: a pod names a service account; a mirror pod (a kubelet's static pod) names none
/// and references no secrets or token projections.
pub(super) fn validate(attrs: &Attributes<'_>, obj: Option<&Value>) -> Result<(), ApiError> {
    let Some(pod) = obj.filter(|_| applies(attrs)) else {
        return Ok(());
    };
    if is_mirror(pod) {
        if !service_account_name(pod).is_empty() {
            return Err(forbidden(
                attrs,
                Some(pod),
                "a mirror pod may not reference service accounts",
            ));
        }
        if !crate::authz::node::references(pod).secrets.is_empty() {
            return Err(forbidden(
                attrs,
                Some(pod),
                "a mirror pod may not reference secrets",
            ));
        }
        let projects_token = pod
            .pointer("/spec/volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.pointer("/projected/sources").and_then(Value::as_array))
            .flatten()
            .any(|s| s.get("serviceAccountToken").is_some());
        if projects_token {
            return Err(forbidden(
                attrs,
                Some(pod),
                "a mirror pod may not use ServiceAccountToken volume projections",
            ));
        }
        return Ok(());
    }
    if service_account_name(pod).is_empty() {
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(forbidden(
            attrs,
            Some(pod),
            format!("no service account specified for pod {}/{name}", attrs.namespace),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::tests::attrs;

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": spec})
    }

    #[test]
    fn mounts_the_token_volume_in_every_container() {
        let mut p = pod(json!({"serviceAccountName": "default",
            "initContainers": [{"name": "i"}],
            "containers": [{"name": "a"}, {"name": "b", "volumeMounts": [{"name": "x", "mountPath": MOUNT_PATH}]}]}));
        mutate(&mut p, &json!({}), "abcde");
        let spec = &p["spec"];
        assert_eq!(spec["volumes"], json!([token_volume("kube-api-access-abcde")]));
        let mount = json!({"name": "kube-api-access-abcde", "readOnly": true, "mountPath": MOUNT_PATH});
        assert_eq!(spec["initContainers"][0]["volumeMounts"], json!([mount]));
        assert_eq!(spec["containers"][0]["volumeMounts"], json!([mount]));
        // A container with its own mount at the path keeps it.
        assert_eq!(
            spec["containers"][1]["volumeMounts"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(
            spec["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3607
        );
    }

    #[test]
    fn automount_follows_the_pod_then_the_account() {
        let cases = [
            (json!({}), None, true),
            (json!({"automountServiceAccountToken": false}), None, false),
            (json!({"automountServiceAccountToken": false}), Some(true), true),
            (json!({}), Some(false), false),
        ];
        for (account, pod_choice, mounted) in cases {
            let mut spec = json!({"containers": [{"name": "c"}]});
            if let Some(choice) = pod_choice {
                spec["automountServiceAccountToken"] = json!(choice);
            }
            let mut p = pod(spec);
            mutate(&mut p, &account, "zzzzz");
            assert_eq!(
                p["spec"].get("volumes").is_some(),
                mounted,
                "{account} {pod_choice:?}"
            );
        }
    }

    #[test]
    fn copies_pull_secrets_only_when_the_pod_has_none() {
        let account = json!({"imagePullSecrets": [{"name": "reg"}], "automountServiceAccountToken": false});
        let mut p = pod(json!({"containers": [{"name": "c"}]}));
        mutate(&mut p, &account, "x");
        assert_eq!(p["spec"]["imagePullSecrets"], json!([{"name": "reg"}]));
        let mut own = pod(json!({"containers": [{"name": "c"}], "imagePullSecrets": [{"name": "mine"}]}));
        mutate(&mut own, &account, "x");
        assert_eq!(own["spec"]["imagePullSecrets"], json!([{"name": "mine"}]));
    }

    #[test]
    fn mirror_pods_reference_no_accounts_or_secrets() {
        let a = attrs(Operation::Create, "pods", "ns", "p");
        let mirror = |spec: Value| json!({"metadata": {"name": "p", "annotations": {MIRROR_ANNOTATION: "x"}}, "spec": spec});
        let cases = [
            (mirror(json!({"containers": [{"name": "c"}]})), None),
            (
                mirror(json!({"serviceAccountName": "default"})),
                Some("pods \"p\" is forbidden: a mirror pod may not reference service accounts"),
            ),
            (
                mirror(json!({"volumes": [{"name": "s", "secret": {"secretName": "x"}}]})),
                Some("pods \"p\" is forbidden: a mirror pod may not reference secrets"),
            ),
            (
                pod(json!({"containers": []})),
                Some("pods \"p\" is forbidden: no service account specified for pod ns/p"),
            ),
        ];
        for (p, want) in cases {
            let got = validate(&a, Some(&p)).err().map(|e| e.message().to_string());
            assert_eq!(got.as_deref(), want, "{p}");
        }
    }
}
