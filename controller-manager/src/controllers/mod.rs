//! The controllers, the table that names them, and what every controller is started with.
//!
//! How to add a controller: see `README.md` beside this file. In short, a controller lives in its
//! own folder, exports `pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()>`, and gets
//! one line in [`starters`] below. Its `--controllers` name (and upstream alias) is already in
//! [`KNOWN`].

pub mod deployment;
pub mod garbagecollector;
pub mod namespace;
pub mod podgc;
pub mod replicaset;
pub mod replicationcontroller;
pub mod serviceaccount;
pub mod ttlafterfinished;
pub mod util;

pub mod cronjob;
pub mod csr;
pub mod csrapproving;
pub mod csrcleaner;
pub mod csrsigning;
pub mod daemonset;
pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
pub mod job;
pub mod nodeipam;
pub mod nodelifecycle;
pub mod podautoscaler;
pub mod pvbinder;
pub mod resourcequota;
pub mod rootcacertpublisher;
pub mod statefulset;

mod context;
mod selection;

pub use context::{ControllerContext, ControllersConfig};
pub use selection::{Selection, SelectionError};

use futures::future::BoxFuture;

/// The one signature every controller starts with: run until `ctx.shutdown` fires, then return.
/// Errors are handled (logged, retried) inside the controller.
pub type StartFn = fn(ControllerContext) -> BoxFuture<'static, ()>;

/// A controller upstream knows: canonical name (`names.DeploymentController`), the alias its
/// `--controllers` flag has always accepted, and whether `*` enables it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownController {
    pub name: &'static str,
    pub alias: &'static str,
    pub enabled_by_default: bool,
}

const fn known(name: &'static str, alias: &'static str, enabled_by_default: bool) -> KnownController {
    KnownController {
        name,
        alias,
        enabled_by_default,
    }
}

/// Every controller name `--controllers` accepts (upstream `cmd/kube-controller-manager/names` and
/// the aliases from `NewControllerDescriptors`). Names without a starter are accepted and
/// reported as not implemented, so upstream command lines (kubeadm passes
/// `--controllers=*,bootstrapsigner,tokencleaner`) keep working.
pub const KNOWN: &[KnownController] = &[
    known("namespace-controller", "namespace", true),
    known("serviceaccount-controller", "serviceaccount", true),
    known("garbage-collector-controller", "garbagecollector", true),
    known("replicaset-controller", "replicaset", true),
    known("replicationcontroller-controller", "replicationcontroller", true),
    known("deployment-controller", "deployment", true),
    known("pod-garbage-collector-controller", "podgc", true),
    known("ttl-after-finished-controller", "ttl-after-finished", true),
    known("statefulset-controller", "statefulset", true),
    known("daemonset-controller", "daemonset", true),
    known("job-controller", "job", true),
    known("cronjob-controller", "cronjob", true),
    known("endpoints-controller", "endpoint", true),
    known("endpointslice-controller", "endpointslice", true),
    known(
        "endpointslice-mirroring-controller",
        "endpointslicemirroring",
        true,
    ),
    known("node-lifecycle-controller", "nodelifecycle", true),
    known("node-ipam-controller", "nodeipam", true),
    known("disruption-controller", "disruption", true),
    known("resourcequota-controller", "resourcequota", true),
    known(
        "horizontal-pod-autoscaler-controller",
        "horizontalpodautoscaling",
        true,
    ),
    known(
        "persistentvolume-binder-controller",
        "persistentvolume-binder",
        true,
    ),
    known("serviceaccount-token-controller", "serviceaccount-token", true),
    known("ttl-controller", "ttl", true),
    known("taint-eviction-controller", "taint-eviction-controller", true),
    known("persistentvolume-attach-detach-controller", "attachdetach", true),
    known(
        "persistentvolume-expander-controller",
        "persistentvolume-expander",
        true,
    ),
    known(
        "persistentvolumeclaim-protection-controller",
        "pvc-protection",
        true,
    ),
    known("persistentvolume-protection-controller", "pv-protection", true),
    known(
        "clusterrole-aggregation-controller",
        "clusterrole-aggregation",
        true,
    ),
    known(
        "root-ca-certificate-publisher-controller",
        "root-ca-cert-publisher",
        true,
    ),
    known("ephemeral-volume-controller", "ephemeral-volume", true),
    known("certificatesigningrequest-signing-controller", "csrsigning", true),
    known(
        "certificatesigningrequest-approving-controller",
        "csrapproving",
        true,
    ),
    known("certificatesigningrequest-cleaner-controller", "csrcleaner", true),
    known("bootstrap-signer-controller", "bootstrapsigner", false),
    known("token-cleaner-controller", "tokencleaner", false),
    known(
        "legacy-serviceaccount-token-cleaner-controller",
        "legacy-service-account-token-cleaner",
        true,
    ),
    known(
        "validatingadmissionpolicy-status-controller",
        "validatingadmissionpolicy-status",
        true,
    ),
];

/// The controllers Rudder implements, by canonical name. One line per controller; the commented
/// slots belong to the helpers writing those controllers.
// One push per line keeps each controller's registration a one-line change.
#[allow(clippy::vec_init_then_push)]
pub fn starters() -> Vec<(&'static str, StartFn)> {
    #[allow(unused_mut)]
    let mut table: Vec<(&'static str, StartFn)> = Vec::new();
    table.push(("namespace-controller", namespace::start));
    table.push(("serviceaccount-controller", serviceaccount::start));
    table.push(("garbage-collector-controller", garbagecollector::start));
    table.push(("replicaset-controller", replicaset::start));
    table.push(("replicationcontroller-controller", replicationcontroller::start));
    table.push(("deployment-controller", deployment::start));
    table.push(("pod-garbage-collector-controller", podgc::start));
    table.push(("ttl-after-finished-controller", ttlafterfinished::start));
    table.push(("statefulset-controller", statefulset::start));
    table.push(("daemonset-controller", daemonset::start));
    table.push(("job-controller", job::start));
    table.push(("cronjob-controller", cronjob::start));
    table.push(("endpoints-controller", endpoints::start));
    table.push(("endpointslice-controller", endpointslice::start));
    table.push(("node-lifecycle-controller", nodelifecycle::start));
    table.push(("node-ipam-controller", nodeipam::start));
    table.push(("disruption-controller", disruption::start));
    table.push(("resourcequota-controller", resourcequota::start));
    table.push(("horizontal-pod-autoscaler-controller", podautoscaler::start));
    table.push(("persistentvolume-binder-controller", pvbinder::start));
    table.push(("certificatesigningrequest-signing-controller", csrsigning::start));
    table.push((
        "certificatesigningrequest-approving-controller",
        csrapproving::start,
    ));
    table.push(("certificatesigningrequest-cleaner-controller", csrcleaner::start));
    table.push((
        "root-ca-certificate-publisher-controller",
        rootcacertpublisher::start,
    ));
    table
}

/// Looks a `--controllers` word up by canonical name or alias.
pub fn lookup(name: &str) -> Option<&'static KnownController> {
    KNOWN.iter().find(|k| k.name == name || k.alias == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for k in KNOWN {
            assert!(seen.insert(k.name), "{}", k.name);
            if k.alias != k.name {
                assert!(seen.insert(k.alias), "{}", k.alias);
            }
        }
    }

    #[test]
    fn every_starter_is_a_known_canonical_name() {
        for (name, _) in starters() {
            assert!(
                KNOWN.iter().any(|k| k.name == name),
                "{name} is not a canonical name"
            );
        }
    }
}
