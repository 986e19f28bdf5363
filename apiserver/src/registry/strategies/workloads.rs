//! Workload controllers of apps/v1 (Deployment, ReplicaSet, StatefulSet, DaemonSet) and the core
//! ReplicationController and PodTemplate: upstream apps/v1 and core/v1 defaulting, status reset
//! on create, and `pkg/apis/apps/validation` for the checks users hit (selector vs. template
//! labels, restart policy, strategies, immutable selectors).

use rudder_api::validation::{FieldError, FieldPath};
use serde_json::{Map, Value, json};

use super::podspec::{default_template, validate_template};
use super::util::{at, child, default_field, default_str, each_mut, go_label_selector, unset};
use super::workload_validation::{
    validate_daemonset, validate_deployment, validate_rc, validate_replicaset, validate_statefulset,
    validate_statefulset_update,
};
use crate::registry::strategy::{Strategy, WriteKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    ReplicationController,
    PodTemplate,
}

#[derive(Debug)]
pub(crate) struct Workloads(pub(crate) Workload);

impl Strategy for Workloads {
    fn tracks_generation(&self) -> bool {
        self.0 != Workload::PodTemplate
    }

    fn default(&self, obj: &mut Value) {
        let Some(root) = obj.as_object_mut() else { return };
        if self.0 == Workload::PodTemplate {
            if let Some(t) = child(root, "template") {
                default_template(t);
            }
            return;
        }
        let Some(spec) = child(root, "spec") else { return };
        if let Some(t) = child(spec, "template") {
            default_template(t);
        }
        match self.0 {
            Workload::Deployment => default_deployment(spec),
            Workload::ReplicaSet => default_field(spec, "replicas", json!(1)),
            Workload::StatefulSet => default_statefulset(spec),
            Workload::DaemonSet => default_daemonset(spec),
            Workload::ReplicationController => default_rc(root),
            Workload::PodTemplate => {}
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let status = match self.0 {
            Workload::Deployment => json!({}),
            Workload::ReplicaSet | Workload::ReplicationController => json!({"replicas": 0}),
            Workload::StatefulSet => json!({"availableReplicas": 0, "replicas": 0}),
            Workload::DaemonSet => json!({
                "currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0,
            }),
            Workload::PodTemplate => return,
        };
        if let Some(root) = obj.as_object_mut() {
            root.insert("status".into(), status);
        }
    }

    fn validate(&self, obj: &Value, old: Option<&Value>, write: WriteKind) -> Vec<FieldError> {
        if write == WriteKind::StatusUpdate {
            return Vec::new();
        }
        let spec = at(obj, "spec");
        let path = FieldPath::new("spec");
        let mut errs = match self.0 {
            Workload::Deployment => validate_deployment(spec, &path),
            Workload::ReplicaSet => validate_replicaset(spec, &path),
            Workload::StatefulSet => validate_statefulset(spec, &path),
            Workload::DaemonSet => validate_daemonset(spec, &path),
            Workload::ReplicationController => validate_rc(spec, &path),
            Workload::PodTemplate => validate_template(at(obj, "template"), &FieldPath::new("template")),
        };
        if let Some(old) = old {
            let old_spec = at(old, "spec");
            match self.0 {
                Workload::Deployment | Workload::ReplicaSet | Workload::DaemonSet => {
                    let (n, o) = (at(spec, "selector"), at(old_spec, "selector"));
                    if n != o {
                        errs.push(FieldError::invalid(
                            &path.child("selector"),
                            go_label_selector(n),
                            "field is immutable",
                        ));
                    }
                }
                Workload::StatefulSet => errs.extend(validate_statefulset_update(spec, old_spec)),
                _ => {}
            }
        }
        errs
    }
}

fn default_deployment(spec: &mut Map<String, Value>) {
    default_field(spec, "replicas", json!(1));
    if let Some(strategy) = child(spec, "strategy") {
        default_str(strategy, "type", "RollingUpdate");
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(rolling) = child(strategy, "rollingUpdate")
        {
            default_field(rolling, "maxUnavailable", json!("25%"));
            default_field(rolling, "maxSurge", json!("25%"));
        }
    }
    default_field(spec, "revisionHistoryLimit", json!(10));
    default_field(spec, "progressDeadlineSeconds", json!(600));
}

fn default_statefulset(spec: &mut Map<String, Value>) {
    default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(strategy) = child(spec, "updateStrategy") {
        if unset(strategy.get("type")) || strategy.get("type") == Some(&json!("")) {
            strategy.insert("type".into(), json!("RollingUpdate"));
            default_field(strategy, "rollingUpdate", json!({}));
        }
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(rolling) = strategy.get_mut("rollingUpdate").and_then(Value::as_object_mut)
        {
            default_field(rolling, "partition", json!(0));
        }
    }
    if let Some(policy) = child(spec, "persistentVolumeClaimRetentionPolicy") {
        default_str(policy, "whenDeleted", "Retain");
        default_str(policy, "whenScaled", "Retain");
    }
    default_field(spec, "replicas", json!(1));
    default_field(spec, "revisionHistoryLimit", json!(10));
    each_mut(spec, "volumeClaimTemplates", |pvc| {
        default_str(pvc, "apiVersion", "v1");
        default_str(pvc, "kind", "PersistentVolumeClaim");
        if let Some(meta) = child(pvc, "metadata")
            && !meta.contains_key("creationTimestamp")
        {
            meta.insert("creationTimestamp".into(), Value::Null);
        }
        if let Some(s) = child(pvc, "spec") {
            default_field(s, "volumeMode", json!("Filesystem"));
        }
        if let Some(status) = child(pvc, "status") {
            default_str(status, "phase", "Pending");
        }
    });
}

fn default_daemonset(spec: &mut Map<String, Value>) {
    if let Some(strategy) = child(spec, "updateStrategy") {
        default_str(strategy, "type", "RollingUpdate");
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(rolling) = child(strategy, "rollingUpdate")
        {
            default_field(rolling, "maxUnavailable", json!(1));
            default_field(rolling, "maxSurge", json!(0));
        }
    }
    default_field(spec, "revisionHistoryLimit", json!(10));
}

/// Upstream `SetDefaults_ReplicationController`: selector and labels from the template labels.
fn default_rc(root: &mut Map<String, Value>) {
    let labels = root
        .get("spec")
        .map(|s| at(at(at(s, "template"), "metadata"), "labels").clone());
    if let Some(labels @ Value::Object(_)) = labels {
        if let Some(spec) = child(root, "spec")
            && spec
                .get("selector")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
        {
            spec.insert("selector".into(), labels.clone());
        }
        if let Some(meta) = child(root, "metadata")
            && meta
                .get("labels")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
        {
            meta.insert("labels".into(), labels);
        }
    }
    if let Some(spec) = child(root, "spec") {
        default_field(spec, "replicas", json!(1));
    }
}
