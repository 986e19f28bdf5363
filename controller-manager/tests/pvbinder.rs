//! PersistentVolume binder against a real in-process apiserver: a claim binds to the smallest
//! matching volume, both become Bound; deleting the claim releases (Retain) or deletes (Delete)
//! the volume.

mod common;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, DeleteParams, PostParams};
use rudder_testkit::eventually;
use serde_json::json;

fn volume(name: &str, size: &str, policy: &str) -> PersistentVolume {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": format!("/tmp/{name}")}}
    }))
    .expect("pv")
}

fn claim(name: &str, size: &str) -> PersistentVolumeClaim {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "resources": {"requests": {"storage": size}}}
    }))
    .expect("pvc")
}

fn volume_phase(v: &PersistentVolume) -> Option<&str> {
    v.status.as_ref()?.phase.as_deref()
}

#[tokio::test]
async fn claim_binds_to_smallest_matching_volume() {
    let cluster = common::start(&["persistentvolume-binder"]).await;
    let client = cluster.client.clone();
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    pvs.create(&PostParams::default(), &volume("small", "1Gi", "Retain"))
        .await
        .expect("pv");
    pvs.create(&PostParams::default(), &volume("medium", "5Gi", "Retain"))
        .await
        .expect("pv");
    pvs.create(&PostParams::default(), &volume("large", "10Gi", "Delete"))
        .await
        .expect("pv");
    eventually("volumes Available", common::WAIT, || {
        let pvs = pvs.clone();
        async move {
            let list = pvs.list(&Default::default()).await.ok()?;
            list.items
                .iter()
                .all(|v| volume_phase(v) == Some("Available"))
                .then_some(())
        }
    })
    .await;

    pvcs.create(&PostParams::default(), &claim("data", "3Gi"))
        .await
        .expect("pvc");
    let bound = eventually("claim bound", common::WAIT, || {
        let pvcs = pvcs.clone();
        async move {
            let c = pvcs.get("data").await.ok()?;
            (c.status.as_ref()?.phase.as_deref() == Some("Bound")).then_some(c)
        }
    })
    .await;
    assert_eq!(
        bound.spec.as_ref().and_then(|s| s.volume_name.as_deref()),
        Some("medium")
    );
    let ann = bound.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        ann.get("pv.kubernetes.io/bind-completed").map(String::as_str),
        Some("yes")
    );
    assert_eq!(
        ann.get("pv.kubernetes.io/bound-by-controller")
            .map(String::as_str),
        Some("yes")
    );
    let status = bound.status.clone().expect("status");
    assert_eq!(status.capacity.expect("capacity")["storage"].0, "5Gi");
    let medium = eventually("volume bound", common::WAIT, || {
        let pvs = pvs.clone();
        async move {
            let v = pvs.get("medium").await.ok()?;
            (volume_phase(&v) == Some("Bound")).then_some(v)
        }
    })
    .await;
    let claim_ref = medium
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.clone())
        .expect("claimRef");
    assert_eq!(
        (claim_ref.namespace.as_deref(), claim_ref.name.as_deref()),
        (Some("default"), Some("data"))
    );
    assert_eq!(claim_ref.uid, bound.metadata.uid);
    assert_eq!(
        volume_phase(&pvs.get("small").await.expect("small")),
        Some("Available")
    );

    // A claim too big for anything stays Pending.
    pvcs.create(&PostParams::default(), &claim("huge", "100Gi"))
        .await
        .expect("pvc");
    // A claim for the large (Delete policy) volume; deleting it deletes the volume.
    pvcs.create(&PostParams::default(), &claim("scratch", "8Gi"))
        .await
        .expect("pvc");
    eventually("scratch bound to large", common::WAIT, || {
        let pvcs = pvcs.clone();
        async move {
            let c = pvcs.get("scratch").await.ok()?;
            (c.spec.as_ref()?.volume_name.as_deref() == Some("large")
                && c.status.as_ref()?.phase.as_deref() == Some("Bound"))
            .then_some(())
        }
    })
    .await;
    let huge = pvcs.get("huge").await.expect("huge");
    assert!(
        huge.spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .is_none_or(str::is_empty)
    );

    pvcs.delete("data", &DeleteParams::default())
        .await
        .expect("delete pvc");
    pvcs.delete("scratch", &DeleteParams::default())
        .await
        .expect("delete pvc");
    eventually("retained volume Released, deleted one gone", common::WAIT, || {
        let pvs = pvs.clone();
        async move {
            let medium = pvs.get("medium").await.ok()?;
            let large = pvs.get_opt("large").await.ok()?;
            (volume_phase(&medium) == Some("Released") && large.is_none()).then_some(())
        }
    })
    .await;
}
