//! Builders for the DaemonSet controller's table tests.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::{
    Container, Node, NodeSpec, Pod, PodCondition, PodSpec, PodStatus, PodTemplateSpec, Taint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};

use super::plan::new_pod;

pub(crate) fn ds() -> DaemonSet {
    let labels = BTreeMap::from([("app".to_string(), "agent".to_string())]);
    DaemonSet {
        metadata: ObjectMeta {
            name: Some("agent".into()),
            namespace: Some("kube-system".into()),
            uid: Some("ds-uid".into()),
            generation: Some(1),
            ..ObjectMeta::default()
        },
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "agent".into(),
                        image: Some("agent:v1".into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DaemonSetSpec::default()
        }),
        status: None,
    }
}

pub(crate) fn node(name: &str) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/hostname".to_string(),
                name.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec::default()),
        status: None,
    }
}

pub(crate) fn tainted(mut n: Node, key: &str, effect: &str) -> Node {
    n.spec
        .get_or_insert_with(Default::default)
        .taints
        .get_or_insert_with(Vec::new)
        .push(Taint {
            key: key.into(),
            effect: effect.into(),
            value: None,
            time_added: None,
        });
    n
}

pub(crate) fn labelled(mut n: Node, key: &str, value: &str) -> Node {
    n.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(key.into(), value.into());
    n
}

/// A daemon pod on `node` with `hash`, Running and Ready since the epoch, created at `created`.
pub(crate) fn daemon_pod(d: &DaemonSet, node: &str, hash: &str, name: &str, created: i64) -> Pod {
    let mut p = new_pod(d, node, hash);
    p.metadata.name = Some(name.into());
    p.metadata.creation_timestamp = Some(Time(Timestamp::from_second(created).expect("ts")));
    if let Some(s) = p.spec.as_mut() {
        s.node_name = Some(node.into());
    }
    p.status = Some(PodStatus {
        phase: Some("Running".into()),
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(Time(Timestamp::UNIX_EPOCH)),
            ..PodCondition::default()
        }]),
        ..PodStatus::default()
    });
    p
}

pub(crate) fn unready(mut p: Pod) -> Pod {
    if let Some(s) = p.status.as_mut() {
        s.conditions = None;
    }
    p
}
