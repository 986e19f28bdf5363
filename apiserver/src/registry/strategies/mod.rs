//! Per-resource strategies. Resources without an entry here use [`Plain`].

mod admission;
mod certificates;
mod config;
mod crds;
mod cron;
mod jobs;
mod namespaces;
mod pods;
mod podspec;
mod rbac;
mod service_alloc;
mod service_validation;
mod services;
mod util;
mod workload_validation;
mod workloads;

#[cfg(test)]
mod tests_core;
#[cfg(test)]
mod tests_services;
#[cfg(test)]
mod tests_workloads;

use std::net::Ipv4Addr;
use std::sync::Arc;

use rudder_api::resources::ResourceInfo;

use self::workloads::{Workload, Workloads};
use super::strategy::{Plain, Strategy};
use super::watch_cache::WatchCache;

/// Server settings some strategies need (address allocation).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Network address and prefix length of `--service-cluster-ip-range`.
    pub(crate) service_range: (Ipv4Addr, u8),
    /// `--service-node-port-range`, inclusive.
    pub(crate) node_port_range: (u16, u16),
}

/// The strategy for a built-in resource. `cache` is the resource's own watch cache (used, for
/// example, to find addresses already allocated).
pub(crate) fn for_resource(
    info: &ResourceInfo,
    settings: &Settings,
    cache: &Arc<WatchCache>,
) -> Arc<dyn Strategy> {
    match (info.group, info.kind) {
        ("", "Namespace") => Arc::new(namespaces::Namespaces),
        ("", "Pod") => Arc::new(pods::Pods),
        ("", "Service") => Arc::new(services::Services::new(settings.clone(), cache.clone())),
        ("", "ConfigMap") => Arc::new(config::ConfigMaps),
        ("", "Secret") => Arc::new(config::Secrets),
        ("", "ReplicationController") => Arc::new(Workloads(Workload::ReplicationController)),
        ("", "PodTemplate") => Arc::new(Workloads(Workload::PodTemplate)),
        ("apps", "Deployment") => Arc::new(Workloads(Workload::Deployment)),
        ("apps", "ReplicaSet") => Arc::new(Workloads(Workload::ReplicaSet)),
        ("apps", "StatefulSet") => Arc::new(Workloads(Workload::StatefulSet)),
        ("apps", "DaemonSet") => Arc::new(Workloads(Workload::DaemonSet)),
        ("batch", "Job") => Arc::new(jobs::Jobs),
        ("batch", "CronJob") => Arc::new(jobs::CronJobs),
        ("certificates.k8s.io", "CertificateSigningRequest") => Arc::new(certificates::Csrs),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => Arc::new(crds::Crds),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            Arc::new(admission::WebhookConfigurations { mutating: true })
        }
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            Arc::new(admission::WebhookConfigurations { mutating: false })
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => Arc::new(admission::Policies),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            Arc::new(admission::PolicyBindings)
        }
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => Arc::new(rbac::Rbac { binding: None }),
        ("rbac.authorization.k8s.io", "RoleBinding") => Arc::new(rbac::Rbac {
            binding: Some("RoleBinding"),
        }),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => Arc::new(rbac::Rbac {
            binding: Some("ClusterRoleBinding"),
        }),
        _ => {
            let has_spec_status = info.subresource("status").is_some();
            Arc::new(Plain {
                generation: has_spec_status,
            })
        }
    }
}
