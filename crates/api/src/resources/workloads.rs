//! Workload groups: `apps/v1`, `autoscaling/v2` + `v1`, `batch/v1` and `policy/v1`.

use super::{ALL_VERBS, CATEGORY_ALL, ResourceInfo, SubresourceInfo};

pub(super) const DEPLOYMENTS: ResourceInfo = ResourceInfo {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
    singular: "deployment",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["deploy"],
    categories: CATEGORY_ALL,
    subresources: &[
        SubresourceInfo::SCALE,
        SubresourceInfo::status("apps", "v1", "Deployment"),
    ],
    storage_prefix: "/deployments",
    field_selectors: &[],
};

pub(super) const REPLICASETS: ResourceInfo = ResourceInfo {
    group: "apps",
    version: "v1",
    kind: "ReplicaSet",
    plural: "replicasets",
    singular: "replicaset",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["rs"],
    categories: CATEGORY_ALL,
    subresources: &[
        SubresourceInfo::SCALE,
        SubresourceInfo::status("apps", "v1", "ReplicaSet"),
    ],
    storage_prefix: "/replicasets",
    field_selectors: &["status.replicas"],
};

pub(super) const STATEFULSETS: ResourceInfo = ResourceInfo {
    group: "apps",
    version: "v1",
    kind: "StatefulSet",
    plural: "statefulsets",
    singular: "statefulset",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["sts"],
    categories: CATEGORY_ALL,
    subresources: &[
        SubresourceInfo::SCALE,
        SubresourceInfo::status("apps", "v1", "StatefulSet"),
    ],
    storage_prefix: "/statefulsets",
    field_selectors: &[],
};

pub(super) const DAEMONSETS: ResourceInfo = ResourceInfo {
    group: "apps",
    version: "v1",
    kind: "DaemonSet",
    plural: "daemonsets",
    singular: "daemonset",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["ds"],
    categories: CATEGORY_ALL,
    subresources: &[SubresourceInfo::status("apps", "v1", "DaemonSet")],
    storage_prefix: "/daemonsets",
    field_selectors: &[],
};

pub(super) const CONTROLLERREVISIONS: ResourceInfo = ResourceInfo {
    group: "apps",
    version: "v1",
    kind: "ControllerRevision",
    plural: "controllerrevisions",
    singular: "controllerrevision",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &[],
    categories: &[],
    subresources: &[],
    storage_prefix: "/controllerrevisions",
    field_selectors: &[],
};

pub(super) const HORIZONTALPODAUTOSCALERS_V2: ResourceInfo = ResourceInfo {
    group: "autoscaling",
    version: "v2",
    kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers",
    singular: "horizontalpodautoscaler",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["hpa"],
    categories: CATEGORY_ALL,
    subresources: &[SubresourceInfo::status(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
    )],
    storage_prefix: "/horizontalpodautoscalers",
    field_selectors: &[],
};

pub(super) const HORIZONTALPODAUTOSCALERS_V1: ResourceInfo = ResourceInfo {
    version: "v1",
    subresources: &[SubresourceInfo::status(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
    )],
    ..HORIZONTALPODAUTOSCALERS_V2
};

pub(super) const JOBS: ResourceInfo = ResourceInfo {
    group: "batch",
    version: "v1",
    kind: "Job",
    plural: "jobs",
    singular: "job",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &[],
    categories: CATEGORY_ALL,
    subresources: &[SubresourceInfo::status("batch", "v1", "Job")],
    storage_prefix: "/jobs",
    field_selectors: &["status.successful"],
};

pub(super) const CRONJOBS: ResourceInfo = ResourceInfo {
    group: "batch",
    version: "v1",
    kind: "CronJob",
    plural: "cronjobs",
    singular: "cronjob",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["cj"],
    categories: CATEGORY_ALL,
    subresources: &[SubresourceInfo::status("batch", "v1", "CronJob")],
    storage_prefix: "/cronjobs",
    field_selectors: &[],
};

pub(super) const PODDISRUPTIONBUDGETS: ResourceInfo = ResourceInfo {
    group: "policy",
    version: "v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    singular: "poddisruptionbudget",
    namespaced: true,
    verbs: ALL_VERBS,
    short_names: &["pdb"],
    categories: &[],
    subresources: &[SubresourceInfo::status("policy", "v1", "PodDisruptionBudget")],
    storage_prefix: "/poddisruptionbudgets",
    field_selectors: &[],
};
