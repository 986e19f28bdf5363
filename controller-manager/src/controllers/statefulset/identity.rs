//! Stable identity of StatefulSet pods (upstream `stateful_set_utils.go`): names
//! `<set>-<ordinal>`, hostname and subdomain, the `statefulset.kubernetes.io/pod-name` and
//! `apps.kubernetes.io/pod-index` labels, and PersistentVolumeClaims
//! `<claim>-<set>-<ordinal>` from `volumeClaimTemplates`.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::revision::REVISION_LABEL;
use crate::controllers::util::{owner, template};

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

pub fn set_name(set: &StatefulSet) -> &str {
    set.metadata.name.as_deref().unwrap_or_default()
}

/// The ordinal in a pod's name `<set>-<ordinal>`, if the pod belongs to `set` by name.
pub fn ordinal_of(set_name: &str, pod: &Pod) -> Option<i32> {
    let name = pod.metadata.name.as_deref()?;
    let rest = name.strip_prefix(set_name)?.strip_prefix('-')?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

pub fn pod_name(set_name: &str, ordinal: i32) -> String {
    format!("{set_name}-{ordinal}")
}

pub fn claim_name(claim_template: &str, set_name: &str, ordinal: i32) -> String {
    format!("{claim_template}-{set_name}-{ordinal}")
}

/// The revision label of a pod.
pub fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get(REVISION_LABEL)
        .map(String::as_str)
}

/// A pod for `ordinal` from `tmpl` (the template of `revision`), upstream
/// `newVersionedStatefulSetPod`.
pub fn new_pod(set: &StatefulSet, tmpl: &PodTemplateSpec, ordinal: i32, revision: &str) -> Pod {
    let name = set_name(set);
    let mut pod = template::pod_from_template(tmpl, name, owner::new_controller_ref(set));
    let pname = pod_name(name, ordinal);
    pod.metadata.generate_name = None;
    pod.metadata.name = Some(pname.clone());
    pod.metadata.namespace = set.metadata.namespace.clone();
    let labels = pod.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(POD_NAME_LABEL.into(), pname.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(REVISION_LABEL.into(), revision.to_string());
    let service = set
        .spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .filter(|s| !s.is_empty());
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(pname);
    spec.subdomain = service;
    let claims = set
        .spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.clone())
        .unwrap_or_default();
    let volumes = spec.volumes.get_or_insert_with(Vec::new);
    for c in &claims {
        let cname = c.metadata.name.clone().unwrap_or_default();
        volumes.retain(|v| v.name != cname);
        volumes.push(Volume {
            name: cname.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&cname, name, ordinal),
                read_only: None,
            }),
            ..Volume::default()
        });
    }
    if volumes.is_empty() {
        spec.volumes = None;
    }
    pod
}

/// The claims pod `ordinal` needs (upstream `getPersistentVolumeClaims`): the template's
/// labels plus the set's `matchLabels`.
pub fn claims_for(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let spec = set.spec.clone().unwrap_or_default();
    let name = set_name(set);
    let match_labels = spec.selector.match_labels.clone().unwrap_or_default();
    spec.volume_claim_templates
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let mut labels = t.metadata.labels.clone().unwrap_or_default();
            labels.extend(match_labels.clone());
            let tname = t.metadata.name.clone().unwrap_or_default();
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(&tname, name, ordinal)),
                    namespace: set.metadata.namespace.clone(),
                    labels: Some(labels),
                    annotations: t.metadata.annotations.clone(),
                    ..ObjectMeta::default()
                },
                spec: t.spec.clone(),
                status: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::statefulset::testing::{pod_at, set};

    #[test]
    fn ordinals_parse_only_exact_names() {
        let cases = [
            ("web-0", Some(0)),
            ("web-12", Some(12)),
            ("web-", None),
            ("web-x", None),
            ("webby-1", None),
            ("web-1-2", None),
        ];
        for (name, want) in cases {
            let mut p = pod_at(&set(1), 0, "r");
            p.metadata.name = Some(name.into());
            assert_eq!(ordinal_of("web", &p), want, "{name}");
        }
    }

    #[test]
    fn pod_identity_and_storage() {
        let s = set(3);
        let tmpl = s.spec.clone().unwrap_or_default().template;
        let p = new_pod(&s, &tmpl, 2, "web-abc");
        assert_eq!(p.metadata.name.as_deref(), Some("web-2"));
        let labels = p.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get(POD_NAME_LABEL).map(String::as_str), Some("web-2"));
        assert_eq!(labels.get(POD_INDEX_LABEL).map(String::as_str), Some("2"));
        assert_eq!(labels.get(REVISION_LABEL).map(String::as_str), Some("web-abc"));
        let spec = p.spec.expect("spec");
        assert_eq!(
            (spec.hostname.as_deref(), spec.subdomain.as_deref()),
            (Some("web-2"), Some("nginx"))
        );
        let vol = &spec.volumes.expect("volumes")[0];
        assert_eq!(
            vol.persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.as_str()),
            Some("data-web-2")
        );
        let claims = claims_for(&s, 2);
        assert_eq!(claims[0].metadata.name.as_deref(), Some("data-web-2"));
        assert_eq!(
            claims[0]
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app"))
                .map(String::as_str),
            Some("web")
        );
    }
}
