//! Plugin dependencies backed by informer stores: claims and volumes, workload selectors for
//! default topology spreading, pod priorities from PriorityClasses.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::framework::PodInfo;
use crate::framework::selectors::Selector;
use crate::plugins::default_preemption::PdbLister;
use crate::plugins::pod_topology_spread::WorkloadSelectors;
use crate::plugins::volume_binding::VolumeLister;

pub struct StoreVolumes {
    pub claims: Store<PersistentVolumeClaim>,
    pub volumes: Store<PersistentVolume>,
}

impl std::fmt::Debug for StoreVolumes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreVolumes").finish()
    }
}

impl VolumeLister for StoreVolumes {
    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.claims.get(&ObjectRef::new(name).within(namespace))
    }

    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.volumes.get(&ObjectRef::new(name))
    }
}

/// PodDisruptionBudgets from their informer.
pub struct StorePdbs(pub Store<PodDisruptionBudget>);

impl std::fmt::Debug for StorePdbs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorePdbs").finish()
    }
}

impl PdbLister for StorePdbs {
    fn list(&self) -> Vec<Arc<PodDisruptionBudget>> {
        self.0.state()
    }
}

/// Services, ReplicationControllers, ReplicaSets and StatefulSets selecting a pod (upstream
/// `helper.DefaultSelector`): the AND of their selectors.
pub struct StoreWorkloads {
    pub services: Store<Service>,
    pub rcs: Store<ReplicationController>,
    pub replica_sets: Store<ReplicaSet>,
    pub stateful_sets: Store<StatefulSet>,
}

impl std::fmt::Debug for StoreWorkloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWorkloads").finish()
    }
}

impl WorkloadSelectors for StoreWorkloads {
    fn default_selector(&self, pod: &PodInfo) -> Option<Selector> {
        let ns = pod.namespace();
        let labels = pod.labels();
        let mut out: Option<Selector> = None;
        let mut add = |s: Selector| {
            if s.matches(labels) {
                out = Some(match out.take() {
                    Some(o) => o.and(&s),
                    None => s,
                });
            }
        };
        let in_ns = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            m.namespace.as_deref() == Some(ns)
        };
        for s in self.services.state() {
            if let Some(sel) = s
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .filter(|m| !m.is_empty())
                && in_ns(&s.metadata)
            {
                add(Selector::from_map(sel));
            }
        }
        for rc in self.rcs.state() {
            if let Some(sel) = rc
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .filter(|m| !m.is_empty())
                && in_ns(&rc.metadata)
            {
                add(Selector::from_map(sel));
            }
        }
        for rs in self.replica_sets.state() {
            if let Some(spec) = rs.spec.as_ref()
                && in_ns(&rs.metadata)
            {
                add(Selector::from_label_selector(Some(&spec.selector)));
            }
        }
        for ss in self.stateful_sets.state() {
            if let Some(spec) = ss.spec.as_ref()
                && in_ns(&ss.metadata)
            {
                add(Selector::from_label_selector(Some(&spec.selector)));
            }
        }
        out
    }
}

/// A pod's priority: `spec.priority` (set by the apiserver's Priority admission upstream),
/// else its PriorityClass's value, else the global default class, else 0.
pub trait PriorityLookup: Send + Sync {
    fn priority(&self, pod: &Pod) -> i32;
}

pub struct StorePriorities(pub Store<PriorityClass>);

impl std::fmt::Debug for StorePriorities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorePriorities").finish()
    }
}

impl PriorityLookup for StorePriorities {
    fn priority(&self, pod: &Pod) -> i32 {
        let spec = pod.spec.as_ref();
        if let Some(p) = spec.and_then(|s| s.priority) {
            return p;
        }
        if let Some(class) = spec
            .and_then(|s| s.priority_class_name.as_deref())
            .filter(|c| !c.is_empty())
        {
            return self.0.get(&ObjectRef::new(class)).map_or(0, |c| c.value);
        }
        self.0
            .state()
            .iter()
            .find(|c| c.global_default == Some(true))
            .map_or(0, |c| c.value)
    }
}
