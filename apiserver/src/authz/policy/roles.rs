//! The default cluster roles and bindings (upstream `bootstrappolicy/policy.go`), as data.

use super::{BindingSpec, RoleSpec, Rule, Subject, named, r, url};

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "delete",
    "deletecollection",
    "patch",
    "update",
];
const READ_UPDATE: &[&str] = &["get", "list", "watch", "update", "patch"];
const EVENTS: Rule = r(
    &["create", "update", "patch"],
    &["", "events.k8s.io"],
    &["events"],
);

pub(crate) const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
pub(crate) const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
pub(crate) const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

const PUBLIC_URLS: &[&str] = &["/livez", "/readyz", "/healthz", "/version", "/version/"];

pub(crate) const CLUSTER_ROLES: &[RoleSpec] = &[
    RoleSpec::rules("cluster-admin", &[r(&["*"], &["*"], &["*"]), url(&["*"], &["*"])]),
    RoleSpec::rules(
        "system:discovery",
        &[url(
            &["get"],
            &[
                "/livez",
                "/readyz",
                "/healthz",
                "/version",
                "/version/",
                "/openapi",
                "/openapi/*",
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
            ],
        )],
    ),
    RoleSpec::rules(
        "system:basic-user",
        &[
            r(&["create"], &["authentication.k8s.io"], &["selfsubjectreviews"]),
            r(
                &["create"],
                &["authorization.k8s.io"],
                &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            ),
        ],
    ),
    RoleSpec::rules("system:public-info-viewer", &[url(&["get"], PUBLIC_URLS)]),
    RoleSpec::aggregated("admin", &[], AGGREGATE_TO_ADMIN),
    RoleSpec::aggregated("edit", &[(AGGREGATE_TO_ADMIN, "true")], AGGREGATE_TO_EDIT),
    RoleSpec::aggregated("view", &[(AGGREGATE_TO_EDIT, "true")], AGGREGATE_TO_VIEW),
    RoleSpec {
        labels: &[(AGGREGATE_TO_ADMIN, "true")],
        ..RoleSpec::rules(
            "system:aggregate-to-admin",
            &[
                r(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["localsubjectaccessreviews"],
                ),
                r(
                    READ_WRITE,
                    &["rbac.authorization.k8s.io"],
                    &["roles", "rolebindings"],
                ),
            ],
        )
    },
    RoleSpec {
        labels: &[(AGGREGATE_TO_EDIT, "true")],
        ..RoleSpec::rules(
            "system:aggregate-to-edit",
            &[
                r(
                    READ,
                    &[""],
                    &[
                        "pods/attach",
                        "pods/proxy",
                        "pods/exec",
                        "pods/portforward",
                        "secrets",
                        "services/proxy",
                    ],
                ),
                r(&["impersonate"], &[""], &["serviceaccounts"]),
                r(
                    WRITE,
                    &[""],
                    &[
                        "pods",
                        "pods/attach",
                        "pods/proxy",
                        "pods/exec",
                        "pods/portforward",
                    ],
                ),
                r(&["create"], &[""], &["pods/eviction"]),
                r(
                    WRITE,
                    &[""],
                    &[
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                        "persistentvolumeclaims",
                        "configmaps",
                        "secrets",
                        "events",
                    ],
                ),
                r(&["create"], &[""], &["serviceaccounts/token"]),
                r(
                    WRITE,
                    &["apps"],
                    &[
                        "statefulsets",
                        "statefulsets/scale",
                        "daemonsets",
                        "deployments",
                        "deployments/scale",
                        "deployments/rollback",
                        "replicasets",
                        "replicasets/scale",
                    ],
                ),
                r(WRITE, &["autoscaling"], &["horizontalpodautoscalers"]),
                r(WRITE, &["batch"], &["jobs", "cronjobs"]),
                r(WRITE, &["policy"], &["poddisruptionbudgets"]),
                r(WRITE, &["networking.k8s.io"], &["networkpolicies", "ingresses"]),
                r(WRITE, &["coordination.k8s.io"], &["leases"]),
            ],
        )
    },
    RoleSpec {
        labels: &[(AGGREGATE_TO_VIEW, "true")],
        ..RoleSpec::rules(
            "system:aggregate-to-view",
            &[
                r(
                    READ,
                    &[""],
                    &[
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "configmaps",
                    ],
                ),
                r(
                    READ,
                    &[""],
                    &[
                        "limitranges",
                        "resourcequotas",
                        "bindings",
                        "events",
                        "pods/status",
                        "resourcequotas/status",
                        "namespaces/status",
                        "replicationcontrollers/status",
                        "pods/log",
                    ],
                ),
                r(READ, &[""], &["namespaces"]),
                r(READ, &["discovery.k8s.io"], &["endpointslices"]),
                r(
                    READ,
                    &["apps"],
                    &[
                        "controllerrevisions",
                        "statefulsets",
                        "statefulsets/status",
                        "statefulsets/scale",
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/status",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/status",
                        "replicasets/scale",
                    ],
                ),
                r(
                    READ,
                    &["autoscaling"],
                    &["horizontalpodautoscalers", "horizontalpodautoscalers/status"],
                ),
                r(
                    READ,
                    &["batch"],
                    &["jobs", "cronjobs", "cronjobs/status", "jobs/status"],
                ),
                r(
                    READ,
                    &["policy"],
                    &["poddisruptionbudgets", "poddisruptionbudgets/status"],
                ),
                r(
                    READ,
                    &["networking.k8s.io"],
                    &["networkpolicies", "ingresses", "ingresses/status"],
                ),
                r(READ, &["coordination.k8s.io"], &["leases"]),
            ],
        )
    },
    RoleSpec::rules(
        "system:node",
        &[
            r(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
            r(
                &["create"],
                &["authorization.k8s.io"],
                &["subjectaccessreviews", "localsubjectaccessreviews"],
            ),
            r(READ, &[""], &["services"]),
            r(&["create", "get", "list", "watch"], &[""], &["nodes"]),
            r(&["update", "patch"], &[""], &["nodes/status"]),
            r(&["update", "patch"], &[""], &["nodes"]),
            r(
                &["create", "update", "patch"],
                &["", "events.k8s.io"],
                &["events"],
            ),
            r(READ, &[""], &["pods"]),
            r(&["create", "delete"], &[""], &["pods"]),
            r(&["update", "patch"], &[""], &["pods/status"]),
            r(&["create"], &[""], &["pods/eviction"]),
            r(READ, &[""], &["secrets", "configmaps"]),
            r(&["get"], &[""], &["persistentvolumeclaims", "persistentvolumes"]),
            r(&["get"], &[""], &["endpoints"]),
            r(
                &["create", "get", "list", "watch"],
                &["certificates.k8s.io"],
                &["certificatesigningrequests"],
            ),
            r(
                &["get", "create", "update", "patch", "delete"],
                &["coordination.k8s.io"],
                &["leases"],
            ),
            r(&["get"], &["storage.k8s.io"], &["volumeattachments"]),
            r(
                &["get", "update", "patch"],
                &[""],
                &["persistentvolumeclaims/status"],
            ),
            r(&["create"], &[""], &["serviceaccounts/token"]),
            r(READ, &["storage.k8s.io"], &["csidrivers"]),
            r(
                &["get", "create", "update", "patch", "delete"],
                &["storage.k8s.io"],
                &["csinodes"],
            ),
            r(READ, &["node.k8s.io"], &["runtimeclasses"]),
        ],
    ),
    RoleSpec::rules(
        "system:node-proxier",
        &[
            r(&["list", "watch"], &[""], &["services", "endpoints"]),
            r(READ, &[""], &["nodes"]),
            EVENTS,
            r(&["list", "watch"], &["discovery.k8s.io"], &["endpointslices"]),
        ],
    ),
    RoleSpec::rules(
        "system:node-bootstrapper",
        &[r(
            &["create", "get", "list", "watch"],
            &["certificates.k8s.io"],
            &["certificatesigningrequests"],
        )],
    ),
    // Bound by the installer (kubeadm's kubeadm:node-autoapprove-bootstrap and
    // kubeadm:node-autoapprove-certificate-rotation): csrapproving asks for these.
    RoleSpec::rules(
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        &[r(
            &["create"],
            &["certificates.k8s.io"],
            &["certificatesigningrequests/nodeclient"],
        )],
    ),
    RoleSpec::rules(
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        &[r(
            &["create"],
            &["certificates.k8s.io"],
            &["certificatesigningrequests/selfnodeclient"],
        )],
    ),
    RoleSpec::rules(
        "system:certificates.k8s.io:kube-apiserver-client-approver",
        &[named(
            &["approve"],
            &["certificates.k8s.io"],
            &["signers"],
            &["kubernetes.io/kube-apiserver-client"],
        )],
    ),
    RoleSpec::rules(
        "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
        &[named(
            &["approve"],
            &["certificates.k8s.io"],
            &["signers"],
            &["kubernetes.io/kube-apiserver-client-kubelet"],
        )],
    ),
    RoleSpec::rules(
        "system:certificates.k8s.io:kubelet-serving-approver",
        &[named(
            &["approve"],
            &["certificates.k8s.io"],
            &["signers"],
            &["kubernetes.io/kubelet-serving"],
        )],
    ),
    RoleSpec::rules(
        "system:certificates.k8s.io:legacy-unknown-approver",
        &[named(
            &["approve"],
            &["certificates.k8s.io"],
            &["signers"],
            &["kubernetes.io/legacy-unknown"],
        )],
    ),
    RoleSpec::rules(
        "system:auth-delegator",
        &[
            r(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
            r(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews"]),
        ],
    ),
    RoleSpec::rules(
        "system:kubelet-api-admin",
        &[
            r(READ, &[""], &["nodes"]),
            r(&["proxy"], &[""], &["nodes"]),
            r(
                &["*"],
                &[""],
                &[
                    "nodes/proxy",
                    "nodes/metrics",
                    "nodes/spec",
                    "nodes/stats",
                    "nodes/log",
                ],
            ),
        ],
    ),
    RoleSpec::rules(
        "system:kube-controller-manager",
        &[
            EVENTS,
            r(&["create"], &["coordination.k8s.io"], &["leases"]),
            named(
                &["get", "update"],
                &["coordination.k8s.io"],
                &["leases"],
                &["kube-controller-manager"],
            ),
            r(&["create"], &[""], &["secrets", "serviceaccounts"]),
            r(&["delete"], &[""], &["secrets"]),
            r(
                &["get"],
                &[""],
                &["namespaces", "secrets", "serviceaccounts", "configmaps"],
            ),
            r(&["update"], &[""], &["secrets", "serviceaccounts"]),
            r(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
            r(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews"]),
            r(&["list", "watch"], &["*"], &["*"]),
            r(&["create"], &[""], &["serviceaccounts/token"]),
        ],
    ),
    RoleSpec::rules(
        "system:kube-scheduler",
        &[
            EVENTS,
            r(&["create"], &["coordination.k8s.io"], &["leases"]),
            named(
                &["get", "update"],
                &["coordination.k8s.io"],
                &["leases"],
                &["kube-scheduler"],
            ),
            r(READ, &[""], &["nodes"]),
            r(&["get", "list", "watch", "delete"], &[""], &["pods"]),
            r(&["create"], &[""], &["pods/binding", "bindings"]),
            r(&["patch", "update"], &[""], &["pods/status"]),
            r(READ, &[""], &["services", "replicationcontrollers"]),
            r(READ, &["apps", "extensions"], &["replicasets"]),
            r(READ, &["apps"], &["statefulsets"]),
            r(READ, &["policy"], &["poddisruptionbudgets"]),
            r(READ, &[""], &["persistentvolumeclaims", "persistentvolumes"]),
            r(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
            r(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews"]),
            r(
                READ,
                &["storage.k8s.io"],
                &["csinodes", "csidrivers", "csistoragecapacities"],
            ),
            r(READ, &[""], &["namespaces"]),
            r(
                READ,
                &["resource.k8s.io"],
                &["resourceclaims", "resourceslices", "deviceclasses"],
            ),
            // Rudder's scheduler resolves priorities from PriorityClasses itself.
            r(READ, &["scheduling.k8s.io"], &["priorityclasses"]),
        ],
    ),
    RoleSpec::rules(
        "system:volume-scheduler",
        &[
            r(READ_UPDATE, &[""], &["persistentvolumes"]),
            r(READ, &["storage.k8s.io"], &["storageclasses"]),
            r(READ_UPDATE, &[""], &["persistentvolumeclaims"]),
        ],
    ),
    RoleSpec::rules(
        "system:kube-dns",
        &[r(&["list", "watch"], &[""], &["endpoints", "services"])],
    ),
    RoleSpec::rules(
        "system:service-account-issuer-discovery",
        &[url(
            &["get"],
            &["/.well-known/openid-configuration", "/openid/v1/jwks"],
        )],
    ),
    RoleSpec::rules(
        "system:monitoring",
        &[url(
            &["get"],
            &[
                "/metrics",
                "/metrics/slis",
                "/livez",
                "/readyz",
                "/healthz",
                "/livez/*",
                "/readyz/*",
                "/healthz/*",
            ],
        )],
    ),
];

const MASTERS: &[Subject] = &[Subject::group("system:masters")];
const AUTHENTICATED: &[Subject] = &[Subject::group("system:authenticated")];

pub(crate) const CLUSTER_ROLE_BINDINGS: &[BindingSpec] = &[
    BindingSpec::new("cluster-admin", "cluster-admin", MASTERS),
    BindingSpec::new("system:discovery", "system:discovery", AUTHENTICATED),
    BindingSpec::new("system:basic-user", "system:basic-user", AUTHENTICATED),
    BindingSpec::new(
        "system:public-info-viewer",
        "system:public-info-viewer",
        &[
            Subject::group("system:authenticated"),
            Subject::group("system:unauthenticated"),
        ],
    ),
    BindingSpec::new(
        "system:node-proxier",
        "system:node-proxier",
        &[Subject::user("system:kube-proxy")],
    ),
    BindingSpec::new(
        "system:kube-controller-manager",
        "system:kube-controller-manager",
        &[Subject::user("system:kube-controller-manager")],
    ),
    BindingSpec::new(
        "system:kube-dns",
        "system:kube-dns",
        &[Subject::service_account("kube-system", "kube-dns")],
    ),
    BindingSpec::new(
        "system:kube-scheduler",
        "system:kube-scheduler",
        &[Subject::user("system:kube-scheduler")],
    ),
    BindingSpec::new(
        "system:volume-scheduler",
        "system:volume-scheduler",
        &[Subject::user("system:kube-scheduler")],
    ),
    BindingSpec::new(
        "system:service-account-issuer-discovery",
        "system:service-account-issuer-discovery",
        &[Subject::group("system:serviceaccounts")],
    ),
    BindingSpec::new(
        "system:monitoring",
        "system:monitoring",
        &[Subject::group("system:monitoring")],
    ),
    // Upstream keeps this binding with no subjects: the Node authorizer grants nodes their
    // access, through system:node's rules.
    BindingSpec::new("system:node", "system:node", &[]),
];
