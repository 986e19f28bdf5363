//! The core group, `v1` (`/api/v1`).

use super::{
    ALL_VERBS, CATEGORY_ALL, CREATE_GET, CREATE_ONLY, GET_PATCH_UPDATE, NAMESPACE_VERBS, PROXY_VERBS,
    ResourceInfo, SubresourceInfo,
};

const fn core_sub(name: &'static str, kind: &'static str, verbs: &'static [&'static str]) -> SubresourceInfo {
    SubresourceInfo {
        name,
        group: "",
        version: "v1",
        kind,
        verbs,
    }
}

pub(super) const NAMESPACES: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    singular: "namespace",
    namespaced: false,
    verbs: NAMESPACE_VERBS,
    short_names: &["ns"],
    categories: &[],
    subresources: &[
        core_sub("finalize", "Namespace", &["update"]),
        SubresourceInfo::status("", "v1", "Namespace"),
    ],
    storage_prefix: "/namespaces",
    field_selectors: &["status.phase"],
};

pub(super) const PODS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
    singular: "pod",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["po"],
    categories: CATEGORY_ALL,
    subresources: &[
        core_sub("attach", "PodAttachOptions", CREATE_GET),
        core_sub("binding", "Binding", CREATE_ONLY),
        core_sub("ephemeralcontainers", "Pod", GET_PATCH_UPDATE),
        SubresourceInfo {
            name: "eviction",
            group: "policy",
            version: "v1",
            kind: "Eviction",
            verbs: CREATE_ONLY,
        },
        core_sub("exec", "PodExecOptions", CREATE_GET),
        core_sub("log", "Pod", &["get"]),
        core_sub("portforward", "PodPortForwardOptions", CREATE_GET),
        core_sub("proxy", "PodProxyOptions", PROXY_VERBS),
        // In-place vertical scaling: beta and on by default in 1.33.
        core_sub("resize", "Pod", GET_PATCH_UPDATE),
        SubresourceInfo::status("", "v1", "Pod"),
    ],
    storage_prefix: "/pods",
    // pkg/apis/core/v1/conversion.go (field labels) and pkg/registry/core/pod/strategy.go.
    field_selectors: &[
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    ],
};

pub(super) const SERVICES: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "Service",
    plural: "services",
    singular: "service",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["svc"],
    categories: CATEGORY_ALL,
    subresources: &[
        core_sub("proxy", "ServiceProxyOptions", PROXY_VERBS),
        SubresourceInfo::status("", "v1", "Service"),
    ],
    storage_prefix: "/services/specs",
    // Selectable since 1.31 (kube-proxy watches `spec.clusterIP!=None`).
    field_selectors: &["spec.clusterIP", "spec.type"],
};

pub(super) const ENDPOINTS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "Endpoints",
    plural: "endpoints",
    singular: "endpoints",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["ep"],
    categories: &[],
    subresources: &[],
    storage_prefix: "/services/endpoints",
    field_selectors: &[],
};

pub(super) const CONFIGMAPS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
    singular: "configmap",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["cm"],
    categories: &[],
    subresources: &[],
    storage_prefix: "/configmaps",
    field_selectors: &[],
};

pub(super) const SECRETS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "Secret",
    plural: "secrets",
    singular: "secret",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &[],
    categories: &[],
    subresources: &[],
    storage_prefix: "/secrets",
    field_selectors: &["type"],
};

pub(super) const SERVICEACCOUNTS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    singular: "serviceaccount",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["sa"],
    categories: &[],
    subresources: &[SubresourceInfo {
        name: "token",
        group: "authentication.k8s.io",
        version: "v1",
        kind: "TokenRequest",
        verbs: CREATE_ONLY,
    }],
    storage_prefix: "/serviceaccounts",
    field_selectors: &[],
};

pub(super) const NODES: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "Node",
    plural: "nodes",
    singular: "node",
    namespaced: false,
    verbs: ALL_VERBS,
    short_names: &["no"],
    categories: &[],
    subresources: &[
        core_sub("proxy", "NodeProxyOptions", PROXY_VERBS),
        SubresourceInfo::status("", "v1", "Node"),
    ],
    storage_prefix: "/minions",
    field_selectors: &["spec.unschedulable"],
};

pub(super) const EVENTS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "Event",
    plural: "events",
    singular: "event",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["ev"],
    categories: &[],
    subresources: &[],
    // Shared with events.k8s.io (cohabiting resources).
    storage_prefix: "/events",
    field_selectors: &[
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ],
};

pub(super) const PERSISTENTVOLUMES: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "PersistentVolume",
    plural: "persistentvolumes",
    singular: "persistentvolume",
    namespaced: false,
    verbs: ALL_VERBS,
    short_names: &["pv"],
    categories: &[],
    subresources: &[SubresourceInfo::status("", "v1", "PersistentVolume")],
    storage_prefix: "/persistentvolumes",
    field_selectors: &[],
};

pub(super) const PERSISTENTVOLUMECLAIMS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "PersistentVolumeClaim",
    plural: "persistentvolumeclaims",
    singular: "persistentvolumeclaim",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["pvc"],
    categories: &[],
    subresources: &[SubresourceInfo::status("", "v1", "PersistentVolumeClaim")],
    storage_prefix: "/persistentvolumeclaims",
    field_selectors: &[],
};

pub(super) const LIMITRANGES: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "LimitRange",
    plural: "limitranges",
    singular: "limitrange",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["limits"],
    categories: &[],
    subresources: &[],
    storage_prefix: "/limitranges",
    field_selectors: &[],
};

pub(super) const RESOURCEQUOTAS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "ResourceQuota",
    plural: "resourcequotas",
    singular: "resourcequota",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["quota"],
    categories: &[],
    subresources: &[SubresourceInfo::status("", "v1", "ResourceQuota")],
    storage_prefix: "/resourcequotas",
    field_selectors: &[],
};

pub(super) const REPLICATIONCONTROLLERS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "ReplicationController",
    plural: "replicationcontrollers",
    singular: "replicationcontroller",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["rc"],
    categories: CATEGORY_ALL,
    subresources: &[
        SubresourceInfo::SCALE,
        SubresourceInfo::status("", "v1", "ReplicationController"),
    ],
    storage_prefix: "/controllers",
    field_selectors: &["status.replicas"],
};

pub(super) const PODTEMPLATES: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    kind: "PodTemplate",
    plural: "podtemplates",
    singular: "podtemplate",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &[],
    categories: &[],
    subresources: &[],
    storage_prefix: "/podtemplates",
    field_selectors: &[],
};
