//! Builders for the Job controller's table tests.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStatus, Pod, PodCondition, PodSpec, PodStatus,
    PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::indexes::COMPLETION_INDEX;
use super::pods::TRACKING_FINALIZER;
use crate::controllers::util::owner;

pub(crate) fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + second).expect("timestamp")
}

pub(crate) fn job(completions: Option<i32>, parallelism: i32) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some("pi".into()),
            namespace: Some("ns".into()),
            uid: Some("job-uid".into()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            completions,
            parallelism: Some(parallelism),
            backoff_limit: Some(6),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(BTreeMap::from([(
                        "batch.kubernetes.io/job-name".into(),
                        "pi".into(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: Some(JobStatus {
            start_time: Some(Time(at(0))),
            ..JobStatus::default()
        }),
    }
}

pub(crate) fn indexed(completions: i32, parallelism: i32) -> Job {
    let mut j = job(Some(completions), parallelism);
    if let Some(s) = j.spec.as_mut() {
        s.completion_mode = Some("Indexed".into());
    }
    j
}

/// A pod of `pi` in `phase`, with the tracking finalizer, ready when Running.
pub(crate) fn pod(name: &str, phase: &str) -> Pod {
    let j = job(None, 1);
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            uid: Some(format!("uid-{name}")),
            finalizers: Some(vec![TRACKING_FINALIZER.into()]),
            owner_references: Some(vec![owner::new_controller_ref(&j)]),
            creation_timestamp: Some(Time(at(0))),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec::default()),
        status: Some(PodStatus {
            phase: Some(phase.into()),
            conditions: (phase == "Running").then(|| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(at(1))),
                    ..PodCondition::default()
                }]
            }),
            ..PodStatus::default()
        }),
    }
}

pub(crate) fn with_index(mut p: Pod, ix: i32) -> Pod {
    p.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(COMPLETION_INDEX.into(), ix.to_string());
    p
}

pub(crate) fn without_finalizer(mut p: Pod) -> Pod {
    p.metadata.finalizers = None;
    p
}

pub(crate) fn deleted(mut p: Pod) -> Pod {
    p.metadata.deletion_timestamp = Some(Time(at(5)));
    p
}

/// A Failed pod whose container `name` exited with `code` at `finished`.
pub(crate) fn failed_with(name: &str, container: &str, code: i32, finished: i64) -> Pod {
    let mut p = pod(name, "Failed");
    if let Some(s) = p.status.as_mut() {
        s.container_statuses = Some(vec![ContainerStatus {
            name: container.into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: code,
                    finished_at: Some(Time(at(finished))),
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        }]);
    }
    p
}
