//! Builders for the StatefulSet controller's table tests.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, PersistentVolumeClaim, PersistentVolumeClaimSpec, Pod, PodCondition, PodSpec, PodStatus,
    PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};

use super::identity;

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_string(), "web".to_string())])
}

pub(crate) fn set(replicas: i32) -> StatefulSet {
    StatefulSet {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("set-uid".into()),
            generation: Some(1),
            ..ObjectMeta::default()
        },
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some("nginx".into()),
            selector: LabelSelector {
                match_labels: Some(labels()),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels()),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "nginx".into(),
                        image: Some("nginx:v1".into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    ..Default::default()
                }),
                status: None,
            }]),
            ..StatefulSetSpec::default()
        }),
        status: None,
    }
}

pub(crate) fn with_image(mut s: StatefulSet, image: &str) -> StatefulSet {
    if let Some(c) = s
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut())
        .map(|p| &mut p.containers[0])
    {
        c.image = Some(format!("nginx:{image}"));
    }
    s
}

/// A Running and Ready pod at `ordinal` with revision label `revision`.
pub(crate) fn pod_at(s: &StatefulSet, ordinal: i32, revision: &str) -> Pod {
    let tmpl = s.spec.clone().unwrap_or_default().template;
    let mut p = identity::new_pod(s, &tmpl, ordinal, revision);
    p.metadata.uid = Some(format!("uid-{ordinal}"));
    p.status = Some(PodStatus {
        phase: Some("Running".into()),
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(Time(jiff::Timestamp::UNIX_EPOCH)),
            ..PodCondition::default()
        }]),
        ..PodStatus::default()
    });
    p
}

pub(crate) fn not_ready(mut p: Pod) -> Pod {
    if let Some(s) = p.status.as_mut() {
        s.phase = Some("Pending".into());
        s.conditions = None;
    }
    p
}
