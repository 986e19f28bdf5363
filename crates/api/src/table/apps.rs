//! The `apps` group.

use serde_json::Value;

use super::util::{
    CONTAINERS_DESC, IMAGES_DESC, NONE, age, age_col, arr_at, cells, col, format_label_selector,
    format_labels, get, int_at, label_selector_string, layout_containers, name, name_col, opt_int, str_at,
    wide,
};
use super::{ColumnDefinition, Printer};

pub(super) fn lookup(kind: &str) -> Option<Printer> {
    Some(match kind {
        "Deployment" => Printer::new(deployment_columns, deployment_row),
        "ReplicaSet" => Printer::new(replica_set_columns, replica_set_row),
        "StatefulSet" => Printer::new(stateful_set_columns, stateful_set_row),
        "DaemonSet" => Printer::new(daemon_set_columns, daemon_set_row),
        "ControllerRevision" => Printer::new(controller_revision_columns, controller_revision_row),
        _ => return None,
    })
}

fn template_containers(obj: &Value) -> (String, String) {
    layout_containers(arr_at(obj, &["spec", "template", "spec", "containers"]))
}

/// `spec.replicas`, which defaulting sets to 1.
fn desired(obj: &Value) -> i64 {
    opt_int(obj, &["spec", "replicas"]).unwrap_or(1)
}

fn deployment_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col("Ready", "string", "Number of the pod with ready state"),
        col(
            "Up-to-date",
            "string",
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
        ),
        col(
            "Available",
            "string",
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
        ),
        age_col(),
        wide("Containers", "string", CONTAINERS_DESC),
        wide("Images", "string", IMAGES_DESC),
        wide(
            "Selector",
            "string",
            "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
        ),
    ]
}

fn deployment_row(obj: &Value, now: i64) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    let selector =
        label_selector_string(get(obj, &["spec", "selector"])).unwrap_or_else(|()| "<invalid>".to_string());
    cells![
        name(obj),
        format!("{}/{}", int_at(obj, &["status", "readyReplicas"]), desired(obj)),
        int_at(obj, &["status", "updatedReplicas"]),
        int_at(obj, &["status", "availableReplicas"]),
        age(obj, now),
        names,
        images,
        selector,
    ]
}

fn replica_set_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Desired",
            "integer",
            "Replicas is the number of desired replicas.",
        ),
        col(
            "Current",
            "integer",
            "Replicas is the most recently observed number of replicas.",
        ),
        col(
            "Ready",
            "integer",
            "The number of ready replicas for this replica set.",
        ),
        age_col(),
        wide("Containers", "string", CONTAINERS_DESC),
        wide("Images", "string", IMAGES_DESC),
        wide(
            "Selector",
            "string",
            "Selector is a label query over pods that should match the replica count.",
        ),
    ]
}

fn replica_set_row(obj: &Value, now: i64) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    cells![
        name(obj),
        desired(obj),
        int_at(obj, &["status", "replicas"]),
        int_at(obj, &["status", "readyReplicas"]),
        age(obj, now),
        names,
        images,
        format_label_selector(get(obj, &["spec", "selector"])),
    ]
}

fn stateful_set_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col("Ready", "string", "Number of the pod with ready state"),
        age_col(),
        wide("Containers", "string", CONTAINERS_DESC),
        wide("Images", "string", IMAGES_DESC),
    ]
}

fn stateful_set_row(obj: &Value, now: i64) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    cells![
        name(obj),
        format!("{}/{}", int_at(obj, &["status", "readyReplicas"]), desired(obj)),
        age(obj, now),
        names,
        images,
    ]
}

fn daemon_set_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Desired",
            "integer",
            "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).",
        ),
        col(
            "Current",
            "integer",
            "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
        ),
        col(
            "Ready",
            "integer",
            "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
        ),
        col(
            "Up-to-date",
            "integer",
            "The total number of nodes that are running updated daemon pod",
        ),
        col(
            "Available",
            "integer",
            "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
        ),
        col(
            "Node Selector",
            "string",
            "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node.",
        ),
        age_col(),
        wide("Containers", "string", CONTAINERS_DESC),
        wide("Images", "string", IMAGES_DESC),
        wide(
            "Selector",
            "string",
            "A label query over pods that are managed by the daemon set.",
        ),
    ]
}

fn daemon_set_row(obj: &Value, now: i64) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    cells![
        name(obj),
        int_at(obj, &["status", "desiredNumberScheduled"]),
        int_at(obj, &["status", "currentNumberScheduled"]),
        int_at(obj, &["status", "numberReady"]),
        int_at(obj, &["status", "updatedNumberScheduled"]),
        int_at(obj, &["status", "numberAvailable"]),
        format_labels(get(obj, &["spec", "template", "spec", "nodeSelector"])),
        age(obj, now),
        names,
        images,
        format_label_selector(get(obj, &["spec", "selector"])),
    ]
}

fn controller_revision_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col("Controller", "string", "Controller of the object"),
        col(
            "Revision",
            "string",
            "Revision indicates the revision of the state represented by Data.",
        ),
        age_col(),
    ]
}

/// `formatResourceName(gvk.GroupKind(), name, true)` for the controlling owner reference.
pub(super) fn controller_name(obj: &Value) -> String {
    let Some(owner) = arr_at(obj, &["metadata", "ownerReferences"])
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
    else {
        return NONE.to_string();
    };
    let api_version = str_at(owner, &["apiVersion"]);
    let group = match api_version.split_once('/') {
        Some((g, _)) => g,
        None => "",
    };
    let kind = str_at(owner, &["kind"]);
    let owner_name = str_at(owner, &["name"]);
    if group.is_empty() && kind.is_empty() {
        return owner_name.to_string();
    }
    let group_kind = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    format!("{}/{owner_name}", group_kind.to_lowercase())
}

fn controller_revision_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![
        name(obj),
        controller_name(obj),
        int_at(obj, &["revision"]),
        age(obj, now)
    ]
}
