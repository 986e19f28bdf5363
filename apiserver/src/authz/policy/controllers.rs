//! Roles of the controllers in kube-controller-manager, one per controller and bound to its
//! service account in kube-system (upstream `bootstrappolicy/controller_policy.go`), used when
//! the controller-manager runs with `--use-service-account-credentials` (or, while it cannot,
//! bound to its own user by the installer).
//!
//! The rules are upstream's, plus `patch` where upstream's controller updates and ours patches
//! (status subresources, adoption of owned objects, PVC and revision patches).

use super::{Rule, named, r};

const READ: &[&str] = &["get", "list", "watch"];
const EVENTS: Rule = r(
    &["create", "update", "patch"],
    &["", "events.k8s.io"],
    &["events"],
);

/// (controller role name without `system:controller:`, service account, rules).
pub(crate) const CONTROLLER_ROLES: &[(&str, &str, &[Rule])] = &[
    (
        "cronjob-controller",
        "cronjob-controller",
        &[
            r(&["get", "list", "watch", "update"], &["batch"], &["cronjobs"]),
            r(
                &["get", "list", "watch", "create", "update", "delete", "patch"],
                &["batch"],
                &["jobs"],
            ),
            r(&["update", "patch"], &["batch"], &["cronjobs/status"]),
            r(&["update"], &["batch"], &["cronjobs/finalizers"]),
            r(&["list", "delete"], &[""], &["pods"]),
            EVENTS,
        ],
    ),
    (
        "daemon-set-controller",
        "daemon-set-controller",
        &[
            r(READ, &["apps", "extensions"], &["daemonsets"]),
            r(
                &["update", "patch"],
                &["apps", "extensions"],
                &["daemonsets/status"],
            ),
            r(&["update"], &["apps", "extensions"], &["daemonsets/finalizers"]),
            r(READ, &[""], &["nodes"]),
            r(&["list", "watch", "create", "delete", "patch"], &[""], &["pods"]),
            r(&["create"], &[""], &["pods/binding"]),
            r(
                &["get", "list", "watch", "create", "delete", "update", "patch"],
                &["apps"],
                &["controllerrevisions"],
            ),
            EVENTS,
        ],
    ),
    (
        "deployment-controller",
        "deployment-controller",
        &[
            r(
                &["get", "list", "watch", "update", "patch"],
                &["apps", "extensions"],
                &["deployments"],
            ),
            r(
                &["update", "patch"],
                &["apps", "extensions"],
                &["deployments/status"],
            ),
            r(&["update"], &["apps", "extensions"], &["deployments/finalizers"]),
            r(
                &["get", "list", "watch", "create", "update", "patch", "delete"],
                &["apps", "extensions"],
                &["replicasets"],
            ),
            r(&["get", "list", "watch", "update", "patch"], &[""], &["pods"]),
            EVENTS,
        ],
    ),
    (
        "disruption-controller",
        "disruption-controller",
        &[
            r(
                READ,
                &["apps", "extensions"],
                &["deployments", "replicasets", "statefulsets"],
            ),
            r(READ, &[""], &["replicationcontrollers", "pods"]),
            r(READ, &["policy"], &["poddisruptionbudgets"]),
            r(
                &["update", "patch"],
                &["policy"],
                &["poddisruptionbudgets/status"],
            ),
            r(&["get"], &["*"], &["*/scale"]),
            r(&["patch", "update"], &[""], &["pods/status"]),
            EVENTS,
        ],
    ),
    (
        "endpoint-controller",
        "endpoint-controller",
        &[
            r(READ, &[""], &["services", "pods"]),
            r(
                &["get", "list", "create", "update", "delete"],
                &[""],
                &["endpoints"],
            ),
            r(&["create"], &[""], &["endpoints/restricted"]),
            EVENTS,
        ],
    ),
    (
        "endpointslice-controller",
        "endpointslice-controller",
        &[
            r(READ, &[""], &["services", "pods", "nodes"]),
            r(&["update"], &[""], &["services/finalizers"]),
            r(
                &["get", "list", "create", "update", "delete"],
                &["discovery.k8s.io"],
                &["endpointslices"],
            ),
            EVENTS,
        ],
    ),
    (
        "generic-garbage-collector",
        "generic-garbage-collector",
        &[r(
            &["get", "list", "watch", "patch", "update", "delete"],
            &["*"],
            &["*"],
        )],
    ),
    (
        "horizontal-pod-autoscaler",
        "horizontal-pod-autoscaler",
        &[
            r(
                &["get", "list", "watch"],
                &["autoscaling"],
                &["horizontalpodautoscalers"],
            ),
            r(
                &["update"],
                &["autoscaling"],
                &["horizontalpodautoscalers/status"],
            ),
            r(&["get", "update"], &["*"], &["*/scale"]),
            r(&["list"], &[""], &["pods"]),
            r(&["list"], &["metrics.k8s.io"], &["pods"]),
            r(&["get", "list"], &["custom.metrics.k8s.io"], &["*"]),
            r(&["get", "list"], &["external.metrics.k8s.io"], &["*"]),
            EVENTS,
        ],
    ),
    (
        "job-controller",
        "job-controller",
        &[
            r(
                &["get", "list", "watch", "update", "patch"],
                &["batch"],
                &["jobs"],
            ),
            r(&["update", "patch"], &["batch"], &["jobs/status"]),
            r(&["update"], &["batch"], &["jobs/finalizers"]),
            r(&["list", "watch", "create", "delete", "patch"], &[""], &["pods"]),
            EVENTS,
        ],
    ),
    (
        "namespace-controller",
        "namespace-controller",
        &[
            r(&["get", "list", "watch", "delete"], &[""], &["namespaces"]),
            r(
                &["update", "patch"],
                &[""],
                &["namespaces/finalize", "namespaces/status"],
            ),
            r(&["get", "list", "delete", "deletecollection"], &["*"], &["*"]),
        ],
    ),
    (
        "node-controller",
        "node-controller",
        &[
            r(&["get", "list", "update", "delete", "patch"], &[""], &["nodes"]),
            r(&["patch", "update"], &[""], &["nodes/status"]),
            r(&["patch", "update"], &[""], &["pods/status"]),
            r(&["list", "delete"], &[""], &["pods"]),
            EVENTS,
        ],
    ),
    (
        "persistent-volume-binder",
        "persistent-volume-binder",
        &[
            r(
                &["get", "list", "watch", "update", "create", "delete"],
                &[""],
                &["persistentvolumes"],
            ),
            r(&["update", "patch"], &[""], &["persistentvolumes/status"]),
            r(
                &["get", "list", "watch", "update", "patch"],
                &[""],
                &["persistentvolumeclaims"],
            ),
            r(&["update", "patch"], &[""], &["persistentvolumeclaims/status"]),
            r(&["list", "watch", "get", "create", "delete"], &[""], &["pods"]),
            r(READ, &["storage.k8s.io"], &["storageclasses"]),
            r(READ, &[""], &["nodes"]),
            EVENTS,
        ],
    ),
    (
        "pod-garbage-collector",
        "pod-garbage-collector",
        &[
            r(&["list", "watch", "delete"], &[""], &["pods"]),
            r(&["get", "list"], &[""], &["nodes"]),
            r(&["patch"], &[""], &["pods/status"]),
        ],
    ),
    (
        "replicaset-controller",
        "replicaset-controller",
        &[
            r(
                &["get", "list", "watch", "update", "patch"],
                &["apps", "extensions"],
                &["replicasets"],
            ),
            r(
                &["update", "patch"],
                &["apps", "extensions"],
                &["replicasets/status"],
            ),
            r(&["update"], &["apps", "extensions"], &["replicasets/finalizers"]),
            r(&["list", "watch", "patch", "create", "delete"], &[""], &["pods"]),
            EVENTS,
        ],
    ),
    (
        "replication-controller",
        "replication-controller",
        &[
            r(
                &["get", "list", "watch", "update", "patch"],
                &[""],
                &["replicationcontrollers"],
            ),
            r(&["update", "patch"], &[""], &["replicationcontrollers/status"]),
            r(&["update"], &[""], &["replicationcontrollers/finalizers"]),
            r(&["list", "watch", "patch", "create", "delete"], &[""], &["pods"]),
            EVENTS,
        ],
    ),
    (
        "resourcequota-controller",
        "resourcequota-controller",
        &[
            r(&["list", "watch"], &["*"], &["*"]),
            r(&["update", "patch"], &[""], &["resourcequotas/status"]),
            EVENTS,
        ],
    ),
    (
        // csrapproving, csrsigning and csrcleaner share this service account, as upstream.
        "certificate-controller",
        "certificate-controller",
        &[
            r(
                &["get", "list", "watch", "delete"],
                &["certificates.k8s.io"],
                &["certificatesigningrequests"],
            ),
            r(
                &["update"],
                &["certificates.k8s.io"],
                &[
                    "certificatesigningrequests/status",
                    "certificatesigningrequests/approval",
                ],
            ),
            named(
                &["approve"],
                &["certificates.k8s.io"],
                &["signers"],
                &["kubernetes.io/kube-apiserver-client-kubelet"],
            ),
            named(
                &["sign"],
                &["certificates.k8s.io"],
                &["signers"],
                &[
                    "kubernetes.io/legacy-unknown",
                    "kubernetes.io/kube-apiserver-client",
                    "kubernetes.io/kube-apiserver-client-kubelet",
                    "kubernetes.io/kubelet-serving",
                ],
            ),
            r(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews"]),
            EVENTS,
        ],
    ),
    (
        "root-ca-cert-publisher",
        "root-ca-cert-publisher",
        &[r(&["create", "update"], &[""], &["configmaps"]), EVENTS],
    ),
    (
        "service-account-controller",
        "service-account-controller",
        &[r(&["create"], &[""], &["serviceaccounts"]), EVENTS],
    ),
    (
        "statefulset-controller",
        "statefulset-controller",
        &[
            r(&["list", "watch"], &[""], &["pods"]),
            r(&["get", "create", "delete", "update", "patch"], &[""], &["pods"]),
            r(&["get", "list", "watch", "patch"], &["apps"], &["statefulsets"]),
            r(&["update", "patch"], &["apps"], &["statefulsets/status"]),
            r(&["update"], &["apps"], &["statefulsets/finalizers"]),
            r(
                &["get", "create", "delete", "update", "patch", "list", "watch"],
                &["apps"],
                &["controllerrevisions"],
            ),
            r(&["get", "create"], &[""], &["persistentvolumeclaims"]),
            r(&["update", "patch", "delete"], &[""], &["persistentvolumeclaims"]),
            EVENTS,
        ],
    ),
    (
        "ttl-after-finished-controller",
        "ttl-after-finished-controller",
        &[
            r(&["get", "list", "watch", "delete"], &["batch"], &["jobs"]),
            EVENTS,
        ],
    ),
    (
        "node-ipam-controller",
        "node-ipam-controller",
        &[
            r(&["get", "list", "watch"], &[""], &["nodes"]),
            r(&["patch", "update"], &[""], &["nodes"]),
            r(&["patch", "update"], &[""], &["nodes/status"]),
            EVENTS,
        ],
    ),
    (
        "clusterrole-aggregation-controller",
        "clusterrole-aggregation-controller",
        &[r(
            &["escalate", "get", "list", "watch", "update", "patch"],
            &["rbac.authorization.k8s.io"],
            &["clusterroles"],
        )],
    ),
];
