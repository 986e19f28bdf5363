//! The `storage.k8s.io` group.

use serde_json::Value;

use super::quantity::quantity;
use super::util::{
    NONE, UNSET, age, age_col, annotation, arr_at, bool_at, cells, col, len_at, name, name_col, opt_bool,
    opt_str, present, str_at,
};
use super::{ColumnDefinition, Printer};

pub(super) fn lookup(kind: &str) -> Option<Printer> {
    Some(match kind {
        "StorageClass" => Printer::new(storage_class_columns, storage_class_row),
        "VolumeAttributesClass" => Printer::new(vac_columns, vac_row),
        "CSIDriver" => Printer::new(csi_driver_columns, csi_driver_row),
        "CSINode" => Printer::new(csi_node_columns, csi_node_row),
        "CSIStorageCapacity" => Printer::new(csi_capacity_columns, csi_capacity_row),
        "VolumeAttachment" => Printer::new(volume_attachment_columns, volume_attachment_row),
        _ => return None,
    })
}

fn storage_class_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Provisioner",
            "string",
            "provisioner indicates the type of the provisioner.",
        ),
        col(
            "ReclaimPolicy",
            "string",
            "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.",
        ),
        col(
            "VolumeBindingMode",
            "string",
            "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used.",
        ),
        col(
            "AllowVolumeExpansion",
            "string",
            "allowVolumeExpansion shows whether the storage class allow volume expand.",
        ),
        age_col(),
    ]
}

fn storage_class_row(obj: &Value, now: i64) -> Vec<Value> {
    let is_default = |key: &str| annotation(obj, key) == Some("true");
    let mut class_name = name(obj);
    if is_default("storageclass.kubernetes.io/is-default-class")
        || is_default("storageclass.beta.kubernetes.io/is-default-class")
    {
        class_name.push_str(" (default)");
    }
    cells![
        class_name,
        str_at(obj, &["provisioner"]),
        opt_str(obj, &["reclaimPolicy"]).unwrap_or("Delete"),
        opt_str(obj, &["volumeBindingMode"]).unwrap_or("Immediate"),
        bool_at(obj, &["allowVolumeExpansion"]),
        age(obj, now),
    ]
}

fn vac_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col("DriverName", "string", "Name of the CSI driver"),
        age_col(),
    ]
}

fn vac_row(obj: &Value, now: i64) -> Vec<Value> {
    let mut class_name = name(obj);
    if annotation(obj, "volumeattributesclass.alpha.kubernetes.io/is-default-class") == Some("true") {
        class_name.push_str(" (default)");
    }
    cells![class_name, str_at(obj, &["driverName"]), age(obj, now)]
}

fn csi_driver_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "AttachRequired",
            "boolean",
            "attachRequired indicates this CSI volume driver requires an attach operation.",
        ),
        col(
            "PodInfoOnMount",
            "boolean",
            "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations.",
        ),
        col(
            "StorageCapacity",
            "boolean",
            "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report.",
        ),
        col(
            "TokenRequests",
            "string",
            "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication.",
        ),
        col(
            "RequiresRepublish",
            "boolean",
            "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume.",
        ),
        col(
            "Modes",
            "string",
            "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports.",
        ),
        age_col(),
    ]
}

fn csi_driver_row(obj: &Value, now: i64) -> Vec<Value> {
    let modes = arr_at(obj, &["spec", "volumeLifecycleModes"])
        .iter()
        .map(|m| m.as_str().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(",");
    let modes = if modes.is_empty() { NONE.to_string() } else { modes };
    let token_requests = match present(obj, &["spec", "tokenRequests"]) {
        None => UNSET.to_string(),
        Some(t) => t
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| str_at(r, &["audience"]))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
    };
    cells![
        name(obj),
        opt_bool(obj, &["spec", "attachRequired"]).unwrap_or(true),
        bool_at(obj, &["spec", "podInfoOnMount"]),
        bool_at(obj, &["spec", "storageCapacity"]),
        token_requests,
        bool_at(obj, &["spec", "requiresRepublish"]),
        modes,
        age(obj, now),
    ]
}

fn csi_node_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Drivers",
            "integer",
            "Drivers indicates the number of CSI drivers registered on the node",
        ),
        age_col(),
    ]
}

fn csi_node_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![name(obj), len_at(obj, &["spec", "drivers"]) as i64, age(obj, now)]
}

fn csi_capacity_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "StorageClassName",
            "string",
            "storageClassName represents the name of the StorageClass that the reported capacity applies to.",
        ),
        col(
            "Capacity",
            "string",
            "capacity is the value reported by the CSI driver in its GetCapacityResponse for a GetCapacityRequest with topology and parameters that match the previous fields.",
        ),
    ]
}

fn csi_capacity_row(obj: &Value, _now: i64) -> Vec<Value> {
    let capacity = match present(obj, &["capacity"]) {
        Some(q) => quantity(Some(q)),
        None => UNSET.to_string(),
    };
    cells![name(obj), str_at(obj, &["storageClassName"]), capacity]
}

fn volume_attachment_columns() -> Vec<ColumnDefinition> {
    let mut attacher = col(
        "Attacher",
        "string",
        "attacher indicates the name of the volume driver that MUST handle this request.",
    );
    attacher.format = "name".to_string();
    vec![
        name_col(),
        attacher,
        col(
            "PV",
            "string",
            "persistentVolumeName represents the name of the persistent volume to attach.",
        ),
        col(
            "Node",
            "string",
            "nodeName represents the node that the volume should be attached to.",
        ),
        col(
            "Attached",
            "boolean",
            "attached indicates the volume is successfully attached.",
        ),
        age_col(),
    ]
}

fn volume_attachment_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![
        name(obj),
        str_at(obj, &["spec", "attacher"]),
        str_at(obj, &["spec", "source", "persistentVolumeName"]),
        str_at(obj, &["spec", "nodeName"]),
        bool_at(obj, &["status", "attached"]),
        age(obj, now),
    ]
}
