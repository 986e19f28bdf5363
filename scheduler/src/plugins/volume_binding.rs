//! VolumeBinding (basics): every PersistentVolumeClaim a pod mounts must exist and be bound,
//! and the bound PersistentVolume's node affinity must match the node. Unbound claims are not
//! provisioned or bound by the scheduler here.

use std::fmt::Debug;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use crate::framework::selectors::terms_match;
use crate::framework::{
    CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, PreFilterPlugin, Snapshot, Status,
};

use super::names::VOLUME_BINDING;

pub const ERR_REASON_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
pub const ERR_REASON_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const ERR_REASON_PV_MISSING: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";

/// Read access to claims and volumes (informer caches in the binary, maps in tests).
pub trait VolumeLister: Send + Sync + Debug {
    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>>;
    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>>;
}

#[derive(Debug)]
pub struct VolumeBinding {
    pub lister: Arc<dyn VolumeLister>,
}

const STATE_KEY: &str = "PreFilterVolumeBinding";

/// The bound volume names (or `None` when a claim points at a missing volume).
struct Bound(Vec<Option<Arc<PersistentVolume>>>);

/// Claim names the pod uses: `persistentVolumeClaim` volumes and generic ephemeral volumes
/// (whose claim is named `<pod>-<volume>`).
pub fn claim_names(pod: &PodInfo) -> Vec<String> {
    pod.claims.clone()
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        VOLUME_BINDING
    }
}

impl PreFilterPlugin for VolumeBinding {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, _: &Snapshot) -> Status {
        let names = claim_names(pod);
        if names.is_empty() {
            return Status::skip();
        }
        let mut bound = Vec::new();
        for name in names {
            let Some(claim) = self.lister.claim(pod.namespace(), &name) else {
                return Status::unresolvable(format!("persistentvolumeclaim \"{name}\" not found"));
            };
            if claim.metadata.deletion_timestamp.is_some() {
                return Status::unresolvable(format!("persistentvolumeclaim \"{name}\" is being deleted"));
            }
            match claim
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.as_deref())
                .filter(|v| !v.is_empty())
            {
                Some(pv) => bound.push(self.lister.volume(pv)),
                None => return Status::unresolvable(ERR_REASON_UNBOUND_IMMEDIATE),
            }
        }
        state.write(STATE_KEY, Bound(bound));
        Status::success()
    }
}

impl FilterPlugin for VolumeBinding {
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(Bound(volumes)) = state.read::<Bound>(STATE_KEY) else {
            return Status::success();
        };
        for pv in volumes {
            let Some(pv) = pv else {
                return Status::unresolvable(ERR_REASON_PV_MISSING);
            };
            let required = pv
                .spec
                .as_ref()
                .and_then(|s| s.node_affinity.as_ref())
                .and_then(|a| a.required.as_ref());
            if let Some(r) = required
                && !terms_match(&r.node_selector_terms, &node.name, node.labels())
            {
                return Status::unresolvable(ERR_REASON_NODE_CONFLICT);
            }
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::node_info::testing::*;
    use serde_json::json;
    use std::collections::HashMap;

    #[derive(Debug, Default)]
    struct Fake {
        claims: HashMap<String, Arc<PersistentVolumeClaim>>,
        volumes: HashMap<String, Arc<PersistentVolume>>,
    }

    impl VolumeLister for Fake {
        fn claim(&self, ns: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
            self.claims.get(&format!("{ns}/{name}")).cloned()
        }
        fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
            self.volumes.get(name).cloned()
        }
    }

    fn with_claim(claim: &str) -> Arc<PodInfo> {
        pod(
            "p",
            "0",
            json!({"spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}}),
        )
    }

    #[test]
    fn claims_table() {
        let mut fake = Fake::default();
        let bound: PersistentVolumeClaim =
            serde_json::from_value(json!({"metadata": {"name": "bound"}, "spec": {"volumeName": "pv1"}}))
                .expect("pvc");
        let unbound: PersistentVolumeClaim =
            serde_json::from_value(json!({"metadata": {"name": "unbound"}, "spec": {}})).expect("pvc");
        let pv: PersistentVolume = serde_json::from_value(json!({"metadata": {"name": "pv1"}, "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}}}})).expect("pv");
        fake.claims.insert("default/bound".into(), Arc::new(bound));
        fake.claims.insert("default/unbound".into(), Arc::new(unbound));
        fake.volumes.insert("pv1".into(), Arc::new(pv));
        let pl = VolumeBinding {
            lister: Arc::new(fake),
        };
        let snap = Snapshot::default();

        let mut st = CycleState::default();
        assert!(
            pl.pre_filter(&mut st, &pod("none", "0", json!({})), &snap)
                .is_skip()
        );
        let s = pl.pre_filter(&mut st, &with_claim("missing"), &snap);
        assert_eq!(s.reasons, vec!["persistentvolumeclaim \"missing\" not found"]);
        let s = pl.pre_filter(&mut st, &with_claim("unbound"), &snap);
        assert_eq!(s.reasons, vec![ERR_REASON_UNBOUND_IMMEDIATE]);

        let p = with_claim("bound");
        let mut st = CycleState::default();
        assert!(pl.pre_filter(&mut st, &p, &snap).is_success());
        let n1 = node_info(node("n1", "1", "1Gi", json!({})), &[]);
        let n2 = node_info(node("n2", "1", "1Gi", json!({})), &[]);
        assert!(pl.filter(&st, &p, &n1).is_success());
        assert_eq!(pl.filter(&st, &p, &n2).reasons, vec![ERR_REASON_NODE_CONFLICT]);
    }
}
