//! Pods from a PodTemplateSpec (upstream `GetPodFromTemplate`).

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// Upstream's limit for the part of a generated name before the random suffix.
const MAX_GENERATED_NAME_PREFIX: usize = 58;

/// The generateName prefix for pods of `owner_name` (upstream `getPodsPrefix`: `name-`, cut so the
/// apiserver's random suffix still fits in 63 characters).
pub fn pod_name_prefix(owner_name: &str) -> String {
    let mut prefix = format!("{owner_name}-");
    if prefix.len() > MAX_GENERATED_NAME_PREFIX {
        prefix.truncate(MAX_GENERATED_NAME_PREFIX);
    }
    prefix
}

/// A new pod from `template`: its labels, annotations, finalizers and spec, `generateName`
/// from [`pod_name_prefix`], and `controller_ref` as the only owner.
pub fn pod_from_template(
    template: &PodTemplateSpec,
    owner_name: &str,
    controller_ref: OwnerReference,
) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(pod_name_prefix(owner_name)),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![controller_ref]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use std::collections::BTreeMap;

    #[test]
    fn pod_carries_template_and_owner() {
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                name: Some("ignored".into()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some("nginx".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        };
        let owner = OwnerReference {
            uid: "u".into(),
            controller: Some(true),
            ..Default::default()
        };
        let pod = pod_from_template(&template, "web-5d8f", owner.clone());
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-5d8f-"));
        assert_eq!(pod.metadata.name, None);
        assert_eq!(pod.metadata.owner_references, Some(vec![owner]));
        assert_eq!(pod.metadata.labels, template.metadata.and_then(|m| m.labels));
        assert_eq!(pod.spec, template.spec);
        assert_eq!(pod_name_prefix(&"x".repeat(70)).len(), MAX_GENERATED_NAME_PREFIX);
    }
}
