//! What the replica manager needs from a ReplicaSet or a ReplicationController (upstream runs
//! the RC controller as the RS controller over converted objects; we abstract instead).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{PodTemplateSpec, ReplicationController};
use rudder_client::Object;
use serde_json::{Value, json};

use crate::controllers::util::selector::{self, LabelSelector};

/// The status fields both kinds share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaStatus {
    pub replicas: i32,
    pub fully_labeled_replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub observed_generation: i64,
}

impl ReplicaStatus {
    /// The merge patch body for the status subresource.
    pub fn patch(&self) -> Value {
        json!({"status": {
            "replicas": self.replicas,
            "fullyLabeledReplicas": self.fully_labeled_replicas,
            "readyReplicas": self.ready_replicas,
            "availableReplicas": self.available_replicas,
            "observedGeneration": self.observed_generation,
        }})
    }
}

/// A ReplicaSet-like owner of pods.
pub trait ReplicaOwner:
    Object + serde::Serialize + kube::Resource<Scope = kube::core::NamespaceResourceScope>
{
    /// Upstream's controller name, the event source component.
    const COMPONENT: &'static str;
    /// The work queue's name (labels its metrics).
    const QUEUE: &'static str;
    /// `spec.replicas` (defaults to 1).
    fn replicas(&self) -> i32;
    fn selector(&self) -> LabelSelector;
    fn template(&self) -> Option<&PodTemplateSpec>;
    fn min_ready_seconds(&self) -> i32;
    fn current_status(&self) -> ReplicaStatus;
    fn template_labels(&self) -> Option<&BTreeMap<String, String>> {
        self.template()
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.as_ref())
    }
}

impl ReplicaOwner for ReplicaSet {
    const COMPONENT: &'static str = "replicaset-controller";
    const QUEUE: &'static str = "replicaset";
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn selector(&self) -> LabelSelector {
        selector::matcher(self.spec.as_ref().map(|s| &s.selector))
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref().and_then(|s| s.template.as_ref())
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }
    fn current_status(&self) -> ReplicaStatus {
        let s = self.status.clone().unwrap_or_default();
        ReplicaStatus {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            observed_generation: s.observed_generation.unwrap_or(0),
        }
    }
}

impl ReplicaOwner for ReplicationController {
    const COMPONENT: &'static str = "replicationcontroller-controller";
    const QUEUE: &'static str = "replicationmanager";
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn selector(&self) -> LabelSelector {
        // An RC's selector is a plain map; the apiserver defaults an empty one to the template's
        // labels. An absent or empty selector matches nothing here (never every pod).
        match self.spec.as_ref().and_then(|s| s.selector.as_ref()) {
            Some(set) if !set.is_empty() => LabelSelector::from_set(set.iter()),
            _ => LabelSelector::nothing(),
        }
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref().and_then(|s| s.template.as_ref())
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }
    fn current_status(&self) -> ReplicaStatus {
        let s = self.status.clone().unwrap_or_default();
        ReplicaStatus {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            observed_generation: s.observed_generation.unwrap_or(0),
        }
    }
}
