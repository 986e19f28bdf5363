//! Cluster-infrastructure groups: `events.k8s.io`, `networking.k8s.io`, `storage.k8s.io`,
//! `scheduling.k8s.io`, `coordination.k8s.io`, `node.k8s.io` and `discovery.k8s.io`, all `v1`.

use super::{ALL_VERBS, ResourceInfo, SubresourceInfo};

/// An object of `group`/`v1` with all verbs, no categories, no subresources and no selectors.
const fn plain(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
    storage_prefix: &'static str,
) -> ResourceInfo {
    ResourceInfo {
        group,
        version: "v1",
        kind,
        plural,
        singular,
        namespaced,
        verbs: ALL_VERBS,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage_prefix,
        field_selectors: &[],
    }
}

const NETWORKING: &str = "networking.k8s.io";
const STORAGE: &str = "storage.k8s.io";

pub(super) const EVENTS_V1: ResourceInfo = ResourceInfo {
    short_names: &["ev"],
    // Shares storage with core events (cohabiting resources); the field labels are the
    // events.k8s.io spellings of the core ones (pkg/apis/events/v1/conversion.go).
    field_selectors: &[
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "regarding.apiVersion",
        "regarding.resourceVersion",
        "regarding.fieldPath",
        "reason",
        "reportingController",
        "source",
        "type",
    ],
    ..plain("events.k8s.io", "Event", "events", "event", true, "/events")
};

pub(super) const INGRESSES: ResourceInfo = ResourceInfo {
    short_names: &["ing"],
    subresources: &[SubresourceInfo::status(NETWORKING, "v1", "Ingress")],
    // Upstream special case: the key is singular.
    ..plain(NETWORKING, "Ingress", "ingresses", "ingress", true, "/ingress")
};

pub(super) const INGRESSCLASSES: ResourceInfo = plain(
    NETWORKING,
    "IngressClass",
    "ingressclasses",
    "ingressclass",
    false,
    "/ingressclasses",
);

pub(super) const NETWORKPOLICIES: ResourceInfo = ResourceInfo {
    short_names: &["netpol"],
    ..plain(
        NETWORKING,
        "NetworkPolicy",
        "networkpolicies",
        "networkpolicy",
        true,
        "/networkpolicies",
    )
};

pub(super) const STORAGECLASSES: ResourceInfo = ResourceInfo {
    short_names: &["sc"],
    ..plain(
        STORAGE,
        "StorageClass",
        "storageclasses",
        "storageclass",
        false,
        "/storageclasses",
    )
};

pub(super) const CSIDRIVERS: ResourceInfo = plain(
    STORAGE,
    "CSIDriver",
    "csidrivers",
    "csidriver",
    false,
    "/csidrivers",
);

pub(super) const CSINODES: ResourceInfo =
    plain(STORAGE, "CSINode", "csinodes", "csinode", false, "/csinodes");

pub(super) const VOLUMEATTACHMENTS: ResourceInfo = ResourceInfo {
    subresources: &[SubresourceInfo::status(STORAGE, "v1", "VolumeAttachment")],
    ..plain(
        STORAGE,
        "VolumeAttachment",
        "volumeattachments",
        "volumeattachment",
        false,
        "/volumeattachments",
    )
};

pub(super) const PRIORITYCLASSES: ResourceInfo = ResourceInfo {
    short_names: &["pc"],
    ..plain(
        "scheduling.k8s.io",
        "PriorityClass",
        "priorityclasses",
        "priorityclass",
        false,
        "/priorityclasses",
    )
};

pub(super) const LEASES: ResourceInfo =
    plain("coordination.k8s.io", "Lease", "leases", "lease", true, "/leases");

pub(super) const RUNTIMECLASSES: ResourceInfo = plain(
    "node.k8s.io",
    "RuntimeClass",
    "runtimeclasses",
    "runtimeclass",
    false,
    "/runtimeclasses",
);

pub(super) const ENDPOINTSLICES: ResourceInfo = plain(
    "discovery.k8s.io",
    "EndpointSlice",
    "endpointslices",
    "endpointslice",
    true,
    "/endpointslices",
);
