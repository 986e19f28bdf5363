//! What the Job controller asks of a pod, and the pods it creates.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodTemplateSpec};

use super::indexes::{self, COMPLETION_INDEX};
use crate::controllers::util::{owner, pod as podutil, template};

/// The finalizer that keeps a finished pod until the Job counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

/// Env var upstream adds to every container of an Indexed Job's pods.
const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

pub fn has_tracking_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == TRACKING_FINALIZER)
}

pub fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

/// Only Failed pods get replacements (not terminating ones) when the Job says
/// `podReplacementPolicy: Failed`, which a pod failure policy implies.
pub fn only_replace_failed(job: &Job) -> bool {
    let spec = job.spec.as_ref();
    spec.and_then(|s| s.pod_replacement_policy.as_deref()) == Some("Failed")
        || spec.is_some_and(|s| s.pod_failure_policy.is_some())
}

/// Upstream `isPodFailed`: Failed, or (unless only failed pods are replaced) deleted before
/// it succeeded, so orphans that never reach a phase still count.
pub fn is_failed(pod: &Pod, job: &Job) -> bool {
    let phase = podutil::phase(pod);
    if phase == "Failed" {
        return true;
    }
    if only_replace_failed(job) {
        return false;
    }
    pod.metadata.deletion_timestamp.is_some() && phase != "Succeeded"
}

/// Upstream `CountTerminatingPods`: deleted but not yet in a terminal phase.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some() && !podutil::is_terminated(pod)
}

/// Restarts of containers in pods still running (for `restartPolicy: OnFailure`), upstream
/// `pastBackoffLimitOnFailure`.
pub fn past_backoff_limit_on_failure(job: &Job, pods: &[&Pod], backoff_limit: i32) -> bool {
    let restart_policy = job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.restart_policy.as_deref());
    if restart_policy != Some("OnFailure") {
        return false;
    }
    let mut restarts = 0i32;
    for p in pods {
        if matches!(podutil::phase(p), "Running" | "Pending") {
            let status = p.status.as_ref();
            let lists = [
                status.and_then(|s| s.init_container_statuses.as_deref()),
                status.and_then(|s| s.container_statuses.as_deref()),
            ];
            restarts += lists
                .into_iter()
                .flatten()
                .flatten()
                .map(|c| c.restart_count)
                .sum::<i32>();
        }
    }
    if backoff_limit == 0 {
        restarts > 0
    } else {
        restarts >= backoff_limit
    }
}

/// A new pod for the Job: the template with the tracking finalizer and the controllerRef;
/// for Indexed Jobs also the index annotation and label, hostname `<job>-<index>`, the
/// `JOB_COMPLETION_INDEX` env var and generateName `<job>-<index>-`.
pub fn new_pod(job: &Job, index: Option<i32>) -> Pod {
    let name = job.metadata.name.clone().unwrap_or_default();
    let mut tmpl: PodTemplateSpec = job.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    if index.is_some() {
        add_completion_index_env(&mut tmpl);
    }
    let mut pod = template::pod_from_template(&tmpl, &name, owner::new_controller_ref(job));
    let finalizers = pod.metadata.finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == TRACKING_FINALIZER) {
        finalizers.push(TRACKING_FINALIZER.to_string());
    }
    pod.metadata.namespace = job.metadata.namespace.clone();
    if let Some(ix) = index {
        pod.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(COMPLETION_INDEX.into(), ix.to_string());
        pod.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(COMPLETION_INDEX.into(), ix.to_string());
        if let Some(spec) = pod.spec.as_mut() {
            spec.hostname = Some(format!("{name}-{ix}"));
        }
        pod.metadata.generate_name = Some(indexes::generate_name(&name, ix));
    }
    pod
}

fn add_completion_index_env(tmpl: &mut PodTemplateSpec) {
    let Some(spec) = tmpl.spec.as_mut() else { return };
    let containers = spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten());
    for c in containers {
        let env = c.env.get_or_insert_with(Vec::new);
        if env.iter().any(|e| e.name == COMPLETION_INDEX_ENV) {
            continue;
        }
        env.push(EnvVar {
            name: COMPLETION_INDEX_ENV.into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: None,
                    field_path: format!("metadata.annotations['{COMPLETION_INDEX}']"),
                }),
                ..EnvVarSource::default()
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::JobSpec;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn job() -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some("pi".into()),
                namespace: Some("ns".into()),
                uid: Some("job-uid".into()),
                ..ObjectMeta::default()
            },
            spec: Some(JobSpec {
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("batch.kubernetes.io/job-name".to_string(), "pi".to_string())].into()),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "c".into(),
                            ..Container::default()
                        }],
                        ..PodSpec::default()
                    }),
                },
                ..JobSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn plain_pod_has_finalizer_and_owner() {
        let pod = new_pod(&job(), None);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("pi-"));
        assert!(has_tracking_finalizer(&pod));
        let owner = owner::controller_ref(&pod.metadata).expect("controllerRef");
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Job", "job-uid"));
        assert!(pod.metadata.annotations.is_none());
    }

    #[test]
    fn indexed_pod_carries_its_index() {
        let pod = new_pod(&job(), Some(2));
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("pi-2-"));
        assert_eq!(indexes::completion_index(&pod), Some(2));
        assert_eq!(
            pod.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(COMPLETION_INDEX))
                .map(String::as_str),
            Some("2")
        );
        let spec = pod.spec.expect("spec");
        assert_eq!(spec.hostname.as_deref(), Some("pi-2"));
        let env = spec.containers[0].env.as_ref().expect("env");
        assert_eq!(env[0].name, COMPLETION_INDEX_ENV);
    }
}
