//! Core-group volumes and quotas: PersistentVolume, PersistentVolumeClaim, ResourceQuota.

use serde_json::Value;

use super::ColumnDefinition;
use super::quantity::quantity;
use super::util::{
    UNSET, age, age_col, annotation, arr_at, cells, col, get, is_deleting, name, name_col, opt_str, present,
    str_at, wide,
};

/// `helper.GetAccessModesAsString`.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| has(m))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

pub(super) fn pv_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Capacity",
            "string",
            "capacity is the description of the persistent volume's resources and capacity.",
        ),
        col(
            "Access Modes",
            "string",
            "accessModes contains all ways the volume can be mounted.",
        ),
        col(
            "Reclaim Policy",
            "string",
            "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.",
        ),
        col(
            "Status",
            "string",
            "phase indicates if a volume is available, bound to a claim, or released by a claim.",
        ),
        col(
            "Claim",
            "string",
            "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.",
        ),
        col("StorageClass", "string", "StorageClass of the pv"),
        col(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pv",
        ),
        col(
            "Reason",
            "string",
            "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
        ),
        age_col(),
        wide(
            "VolumeMode",
            "string",
            "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.",
        ),
    ]
}

pub(super) fn pv_row(obj: &Value, now: i64) -> Vec<Value> {
    let claim = present(obj, &["spec", "claimRef"]).map_or_else(String::new, |c| {
        format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"]))
    });
    let phase = if is_deleting(obj) {
        "Terminating"
    } else {
        str_at(obj, &["status", "phase"])
    };
    let class =
        annotation(obj, BETA_STORAGE_CLASS).unwrap_or_else(|| str_at(obj, &["spec", "storageClassName"]));
    cells![
        name(obj),
        quantity(get(obj, &["spec", "capacity", "storage"])),
        access_modes(arr_at(obj, &["spec", "accessModes"])),
        // persistentVolumeReclaimPolicy defaults to Retain.
        opt_str(obj, &["spec", "persistentVolumeReclaimPolicy"]).unwrap_or("Retain"),
        phase,
        claim,
        class,
        opt_str(obj, &["spec", "volumeAttributesClassName"]).unwrap_or(UNSET),
        str_at(obj, &["status", "reason"]),
        age(obj, now),
        opt_str(obj, &["spec", "volumeMode"]).unwrap_or(UNSET),
    ]
}

pub(super) fn pvc_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Status",
            "string",
            "phase represents the current phase of PersistentVolumeClaim.",
        ),
        col(
            "Volume",
            "string",
            "volumeName is the binding reference to the PersistentVolume backing this claim.",
        ),
        col(
            "Capacity",
            "string",
            "capacity represents the actual resources of the underlying volume.",
        ),
        col(
            "Access Modes",
            "string",
            "accessModes contains the actual access modes the volume backing the PVC has.",
        ),
        col("StorageClass", "string", "StorageClass of the pvc"),
        col(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pvc",
        ),
        age_col(),
        wide(
            "VolumeMode",
            "string",
            "volumeMode defines what type of volume is required by the claim.",
        ),
    ]
}

pub(super) fn pvc_row(obj: &Value, now: i64) -> Vec<Value> {
    let phase = if is_deleting(obj) {
        "Terminating"
    } else {
        str_at(obj, &["status", "phase"])
    };
    let volume = str_at(obj, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(get(obj, &["status", "capacity", "storage"])),
            access_modes(arr_at(obj, &["status", "accessModes"])),
        )
    };
    let class =
        annotation(obj, BETA_STORAGE_CLASS).unwrap_or_else(|| str_at(obj, &["spec", "storageClassName"]));
    cells![
        name(obj),
        phase,
        volume,
        capacity,
        modes,
        class,
        opt_str(obj, &["spec", "volumeAttributesClassName"]).unwrap_or(UNSET),
        age(obj, now),
        opt_str(obj, &["spec", "volumeMode"]).unwrap_or(UNSET),
    ]
}

pub(super) fn quota_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Request",
            "string",
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        col(
            "Limit",
            "string",
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
        ),
        age_col(),
    ]
}

pub(super) fn quota_row(obj: &Value, now: i64) -> Vec<Value> {
    let mut resources: Vec<&String> = get(obj, &["status", "hard"])
        .and_then(Value::as_object)
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    resources.sort();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for r in resources {
        let used = quantity(get(obj, &["status", "used", r.as_str()]));
        let hard = quantity(get(obj, &["status", "hard", r.as_str()]));
        let entry = format!("{r}: {used}/{hard}");
        let mut pieces = r.split('.');
        let first = pieces.next();
        if first == Some("limits") && pieces.next().is_some() {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    cells![name(obj), requests.join(", "), limits.join(", "), age(obj, now)]
}
