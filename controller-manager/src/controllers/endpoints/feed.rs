//! Which Services a pod change concerns (upstream `GetPodServiceMemberships`), shared by the
//! endpoints and endpointslice controllers. A pod whose labels changed concerns both the
//! Services it matched before and those it matches now, so the last answer per pod is kept.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::runtime::reflector::Store;
use rudder_client::informer::Change;

use super::pods;
use crate::controllers::util::ObjectKey;

/// The Services in the pod's namespace whose selector matches its labels.
pub(crate) fn services_of(services: &Store<Service>, pod: &Pod) -> BTreeSet<ObjectKey> {
    services
        .state()
        .iter()
        .filter(|s| s.metadata.namespace == pod.metadata.namespace)
        .filter(|s| {
            pods::service_selector(s)
                .is_some_and(|sel| pods::selector_matches(sel, pod.metadata.labels.as_ref()))
        })
        .map(|s| ObjectKey::of(s.as_ref()))
        .collect()
}

/// Remembers each pod's Services between changes.
#[derive(Debug, Default)]
pub(crate) struct Memberships {
    last: HashMap<ObjectKey, BTreeSet<ObjectKey>>,
}

impl Memberships {
    /// The Services to resync for this pod change: those it matched and those it matches.
    pub(crate) fn affected(
        &mut self,
        services: &Store<Service>,
        change: &Change<Pod>,
    ) -> BTreeSet<ObjectKey> {
        let pod = change.object();
        let key = ObjectKey::of(pod.as_ref());
        let now = services_of(services, pod);
        let before = match change {
            Change::Applied(_) => self.last.insert(key, now.clone()),
            Change::Deleted(_) => self.last.remove(&key),
        };
        let mut all = now;
        all.extend(before.unwrap_or_default());
        all
    }
}
