//! Patch metadata of the built-in Kubernetes types.
//!
//! Transcribed from the `patchStrategy`/`patchMergeKey` struct tags in `k8s.io/api` and
//! `k8s.io/apimachinery` (the same data the OpenAPI document publishes as
//! `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`). Only tagged fields and the
//! structs leading to them are listed; everything else gets default semantics. A few untagged
//! lists that users often ask about (tolerations, taints, readiness gates, RBAC rules, endpoint
//! subsets) are declared with [`SchemaBuilder::atomic_list`] to document that they are
//! replaced whole.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::schema::{PatchSchema, SchemaBuilder};

/// The patch metadata for `kind` in API `group` (`""` for the core group).
///
/// Unknown kinds, which include every custom resource, get [`PatchSchema::untyped`]: objects
/// merge and lists replace, as in a JSON merge patch. Upstream rejects strategic merge patches
/// for custom resources with 415; see [`supports_strategic`].
pub fn schema_for(group: &str, kind: &str) -> PatchSchema {
    table().get(&(group, kind)).cloned().unwrap_or_default()
}

/// Whether `application/strategic-merge-patch+json` is accepted for `kind` in `group`: true for
/// the built-in kinds, false for anything else (custom resources, aggregated APIs).
pub fn supports_strategic(group: &str, kind: &str) -> bool {
    table().contains_key(&(group, kind))
}

/// Every built-in kind with its patch metadata.
fn table() -> &'static BTreeMap<(&'static str, &'static str), PatchSchema> {
    static TABLE: OnceLock<BTreeMap<(&'static str, &'static str), PatchSchema>> = OnceLock::new();
    TABLE.get_or_init(build_table)
}

fn build_table() -> BTreeMap<(&'static str, &'static str), PatchSchema> {
    let mut t = BTreeMap::new();
    // Kinds whose only tagged fields are in ObjectMeta.
    const PLAIN: &[(&str, &[&str])] = &[
        (
            "",
            &["Binding", "ConfigMap", "Event", "LimitRange", "PersistentVolume"],
        ),
        ("", &["ResourceQuota", "Secret"]),
        ("apps", &["ControllerRevision"]),
        ("autoscaling", &["Scale"]),
        ("policy", &["Eviction"]),
        (
            "rbac.authorization.k8s.io",
            &["RoleBinding", "ClusterRoleBinding"],
        ),
        (
            "networking.k8s.io",
            &["Ingress", "IngressClass", "NetworkPolicy", "IPAddress"],
        ),
        (
            "storage.k8s.io",
            &["CSIDriver", "CSIStorageCapacity", "StorageClass"],
        ),
        ("storage.k8s.io", &["VolumeAttachment", "VolumeAttributesClass"]),
        (
            "admissionregistration.k8s.io",
            &["ValidatingAdmissionPolicyBinding"],
        ),
        (
            "admissionregistration.k8s.io",
            &["MutatingAdmissionPolicyBinding"],
        ),
        ("apiextensions.k8s.io", &["CustomResourceDefinition"]),
        (
            "certificates.k8s.io",
            &["CertificateSigningRequest", "ClusterTrustBundle"],
        ),
        ("coordination.k8s.io", &["Lease", "LeaseCandidate"]),
        ("discovery.k8s.io", &["EndpointSlice"]),
        ("events.k8s.io", &["Event"]),
        ("node.k8s.io", &["RuntimeClass"]),
        ("scheduling.k8s.io", &["PriorityClass"]),
        (
            "resource.k8s.io",
            &["DeviceClass", "ResourceClaimTemplate", "ResourceSlice"],
        ),
        ("internal.apiserver.k8s.io", &["StorageVersion"]),
        ("storagemigration.k8s.io", &["StorageVersionMigration"]),
    ];
    for (group, kinds) in PLAIN {
        for kind in *kinds {
            t.insert((*group, *kind), top(None, None));
        }
    }

    let conditions = status_conditions;
    let workload = |status| top(Some(template_spec()), Some(status));

    // core
    t.insert(("", "Pod"), top(Some(pod_spec()), Some(pod_status())));
    t.insert(("", "PodTemplate"), top_with("template", pod_template_spec()));
    t.insert(("", "ReplicationController"), workload(conditions()));
    let service_spec = PatchSchema::builder().merge_list("ports", "port", none()).build();
    t.insert(("", "Service"), top(Some(service_spec), Some(conditions())));
    let service_account = meta_builder()
        .merge_list("secrets", "name", none())
        .atomic_list("imagePullSecrets")
        .build();
    t.insert(("", "ServiceAccount"), service_account);
    let node_spec = PatchSchema::builder()
        .merge_set("podCIDRs")
        .atomic_list("taints")
        .build();
    let node_status = PatchSchema::builder()
        .merge_list("conditions", "type", none())
        .merge_list("addresses", "type", none())
        .build();
    t.insert(("", "Node"), top(Some(node_spec), Some(node_status)));
    t.insert(("", "Namespace"), top(None, Some(conditions())));
    t.insert(("", "PersistentVolumeClaim"), top(None, Some(conditions())));
    t.insert(("", "Endpoints"), meta_builder().atomic_list("subsets").build());
    t.insert(
        ("", "ComponentStatus"),
        meta_builder().merge_list("conditions", "type", none()).build(),
    );

    // apps
    let deployment_spec = template_builder().retain_keys_object("strategy", none()).build();
    t.insert(
        ("apps", "Deployment"),
        top(Some(deployment_spec), Some(conditions())),
    );
    let sts_spec = template_builder().atomic_list("volumeClaimTemplates").build();
    t.insert(("apps", "StatefulSet"), top(Some(sts_spec), Some(conditions())));
    t.insert(("apps", "ReplicaSet"), workload(conditions()));
    t.insert(("apps", "DaemonSet"), workload(conditions()));

    // batch
    t.insert(("batch", "Job"), workload(conditions()));
    let job_template = PatchSchema::builder()
        .object("metadata", object_meta())
        .object("spec", template_spec())
        .build();
    let cron_spec = PatchSchema::builder().object("jobTemplate", job_template).build();
    t.insert(("batch", "CronJob"), top(Some(cron_spec), None));

    // autoscaling, policy
    t.insert(
        ("autoscaling", "HorizontalPodAutoscaler"),
        top(None, Some(conditions())),
    );
    let pdb_spec = PatchSchema::builder().replace_object("selector").build();
    t.insert(
        ("policy", "PodDisruptionBudget"),
        top(Some(pdb_spec), Some(conditions())),
    );

    // rbac
    t.insert(
        ("rbac.authorization.k8s.io", "Role"),
        meta_builder().atomic_list("rules").build(),
    );
    let cluster_role = meta_builder().atomic_list("rules").build();
    t.insert(("rbac.authorization.k8s.io", "ClusterRole"), cluster_role);

    // networking, storage
    t.insert(
        ("networking.k8s.io", "ServiceCIDR"),
        top(None, Some(conditions())),
    );
    let csi_node_spec = PatchSchema::builder()
        .merge_list("drivers", "name", none())
        .build();
    let csi_node_status = PatchSchema::builder()
        .merge_list("storageHealth", "name", none())
        .build();
    t.insert(
        ("storage.k8s.io", "CSINode"),
        top(Some(csi_node_spec), Some(csi_node_status)),
    );

    // admission
    let webhook = PatchSchema::builder()
        .merge_list("matchConditions", "name", none())
        .build();
    for kind in ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"] {
        let config = meta_builder()
            .merge_list("webhooks", "name", webhook.clone())
            .build();
        t.insert(("admissionregistration.k8s.io", kind), config);
    }
    let policy_spec = PatchSchema::builder()
        .merge_list("matchConditions", "name", none())
        .merge_list("variables", "name", none())
        .build();
    for kind in ["ValidatingAdmissionPolicy", "MutatingAdmissionPolicy"] {
        let policy = top(Some(policy_spec.clone()), None);
        t.insert(("admissionregistration.k8s.io", kind), policy);
    }

    // flow control, aggregation, DRA
    for kind in ["FlowSchema", "PriorityLevelConfiguration"] {
        t.insert(
            ("flowcontrol.apiserver.k8s.io", kind),
            top(None, Some(conditions())),
        );
    }
    t.insert(
        ("apiregistration.k8s.io", "APIService"),
        top(None, Some(conditions())),
    );
    let claim_status = PatchSchema::builder()
        .merge_list("reservedFor", "uid", none())
        .build();
    t.insert(
        ("resource.k8s.io", "ResourceClaim"),
        top(None, Some(claim_status)),
    );
    t.insert(
        ("resource.k8s.io", "DeviceTaintRule"),
        top(None, Some(conditions())),
    );
    t
}

fn none() -> PatchSchema {
    PatchSchema::untyped()
}

/// `metav1.ObjectMeta`.
pub(crate) fn object_meta() -> PatchSchema {
    PatchSchema::builder()
        .merge_set("finalizers")
        .merge_list("ownerReferences", "uid", none())
        .atomic_list("managedFields")
        .build()
}

fn meta_builder() -> SchemaBuilder {
    PatchSchema::builder().object("metadata", object_meta())
}

/// A top-level object: `metadata` plus optional `spec` and `status` schemas.
fn top(spec: Option<PatchSchema>, status: Option<PatchSchema>) -> PatchSchema {
    let mut b = meta_builder();
    if let Some(spec) = spec {
        b = b.object("spec", spec);
    }
    if let Some(status) = status {
        b = b.object("status", status);
    }
    b.build()
}

fn top_with(field: &'static str, schema: PatchSchema) -> PatchSchema {
    meta_builder().object(field, schema).build()
}

/// A status whose `conditions` merge by `type`.
fn status_conditions() -> PatchSchema {
    PatchSchema::builder()
        .merge_list("conditions", "type", none())
        .build()
}

/// A spec holding a pod `template` (Deployment, ReplicaSet, Job, ...).
fn template_builder() -> SchemaBuilder {
    PatchSchema::builder().object("template", pod_template_spec())
}

fn template_spec() -> PatchSchema {
    template_builder().build()
}

/// `core/v1.PodTemplateSpec`.
pub(crate) fn pod_template_spec() -> PatchSchema {
    PatchSchema::builder()
        .object("metadata", object_meta())
        .object("spec", pod_spec())
        .build()
}

/// `core/v1.Container` (and `EphemeralContainerCommon`, which has the same tags).
fn container() -> PatchSchema {
    let resources = PatchSchema::builder().atomic_list("claims").build();
    PatchSchema::builder()
        .merge_list("ports", "containerPort", none())
        .merge_list("env", "name", none())
        .merge_list("volumeMounts", "mountPath", none())
        .merge_list("volumeDevices", "devicePath", none())
        .object("resources", resources)
        .atomic_list("resizePolicy")
        .build()
}

/// `core/v1.PodSpec`.
pub(crate) fn pod_spec() -> PatchSchema {
    let c = container();
    PatchSchema::builder()
        .merge_list_retain_keys("volumes", "name", none())
        .merge_list("initContainers", "name", c.clone())
        .merge_list("containers", "name", c.clone())
        .merge_list("ephemeralContainers", "name", c)
        .merge_list("imagePullSecrets", "name", none())
        .merge_list("hostAliases", "ip", none())
        .merge_list("topologySpreadConstraints", "topologyKey", none())
        .merge_list("schedulingGates", "name", none())
        .merge_list_retain_keys("resourceClaims", "name", none())
        .atomic_list("tolerations")
        .atomic_list("readinessGates")
        .build()
}

/// `core/v1.PodStatus`.
fn pod_status() -> PatchSchema {
    PatchSchema::builder()
        .merge_list("conditions", "type", none())
        .merge_list("hostIPs", "ip", none())
        .merge_list("podIPs", "ip", none())
        .merge_list_retain_keys("resourceClaimStatuses", "name", none())
        .atomic_list("containerStatuses")
        .atomic_list("initContainerStatuses")
        .atomic_list("ephemeralContainerStatuses")
        .build()
}
