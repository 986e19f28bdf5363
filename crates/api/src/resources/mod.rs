//! The resource table: every built-in resource Rudder serves, with what discovery, routing,
//! storage and selectors need to know about it. Values follow upstream's discovery documents
//! (kube-apiserver 1.33, `api/discovery/*.json`), its etcd key layout
//! (`pkg/kubeapiserver/default_storage_factory_builder.go`) and its field-label conversions.
//!
//! The entries live in one submodule per area; [`RESOURCES`] lists them in upstream's `/apis`
//! group order (core first).

mod access;
mod core_v1;
mod infra;
#[cfg(test)]
mod tests;
mod workloads;

/// A subresource such as `pods/status` or `deployments/scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubresourceInfo {
    /// `status`, `scale`, `binding`, `eviction`, `log`, ...
    pub name: &'static str,
    /// Group, version and kind of the subresource's body (`autoscaling`/`v1`/`Scale` for scale).
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

impl SubresourceInfo {
    /// `<resource>/scale`: an `autoscaling/v1` `Scale`, read and written with get/patch/update.
    pub const SCALE: SubresourceInfo = SubresourceInfo {
        name: "scale",
        group: "autoscaling",
        version: "v1",
        kind: "Scale",
        verbs: GET_PATCH_UPDATE,
    };

    /// `<resource>/status`: the parent object itself, read and written with get/patch/update.
    pub const fn status(group: &'static str, version: &'static str, kind: &'static str) -> SubresourceInfo {
        SubresourceInfo {
            name: "status",
            group,
            version,
            kind,
            verbs: GET_PATCH_UPDATE,
        }
    }

    /// `apps/v1`, or `v1` for the core group: the apiVersion of the subresource's body.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// One resource at one group-version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    /// `""` for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The URL path segment: `pods`, `deployments`.
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [SubresourceInfo],
    /// Key prefix in storage, relative to the store's `/registry` root, as upstream lays it out:
    /// `/pods`, `/services/specs`, `/minions`, `/deployments`. Empty for resources that are
    /// never stored (the create-only review resources).
    pub storage_prefix: &'static str,
    /// Field-selector paths supported besides `metadata.name` and `metadata.namespace`.
    pub field_selectors: &'static [&'static str],
}

impl ResourceInfo {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The kind of a list of this resource: `PodList`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    pub fn subresource(&self, name: &str) -> Option<&'static SubresourceInfo> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Whether discovery lists `verb` for the resource itself.
    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// Whether objects of this resource are persisted (false for the create-only reviews).
    pub fn is_stored(&self) -> bool {
        !self.storage_prefix.is_empty()
    }

    /// Whether `name` is this resource's plural, singular or one of its short names
    /// (ASCII case-insensitive, as kubectl lower-cases what the user typed).
    pub fn answers_to(&self, name: &str) -> bool {
        self.plural.eq_ignore_ascii_case(name)
            || self.singular.eq_ignore_ascii_case(name)
            || self.short_names.iter().any(|s| s.eq_ignore_ascii_case(name))
    }

    /// The storage key of one object: `/pods/default/web` or `/minions/node-1`.
    pub fn storage_key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => format!("{}/{ns}/{name}", self.storage_prefix),
            None => format!("{}/{name}", self.storage_prefix),
        }
    }

    /// The storage prefix that lists this resource, in one namespace or in all.
    pub fn storage_list_prefix(&self, namespace: Option<&str>) -> String {
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => format!("{}/{ns}/", self.storage_prefix),
            None => format!("{}/", self.storage_prefix),
        }
    }
}

/// Verbs of an ordinary resource.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Verbs of namespaces: everything but `deletecollection`.
pub const NAMESPACE_VERBS: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
/// Verbs of a status-like subresource.
pub const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
/// Verbs of the review resources and of `binding`, `eviction` and `token`.
pub const CREATE_ONLY: &[&str] = &["create"];
/// Verbs of `exec`, `attach` and `portforward` (POST for SPDY, GET for WebSocket).
pub const CREATE_GET: &[&str] = &["create", "get"];
/// Verbs of the `proxy` subresources (every HTTP method kube maps to a verb).
pub const PROXY_VERBS: &[&str] = &["create", "delete", "get", "patch", "update"];

/// Categories `kubectl get all` expands.
pub const CATEGORY_ALL: &[&str] = &["all"];
/// Category of the resources that extend the API (CRDs, admission webhooks).
pub const CATEGORY_API_EXTENSIONS: &[&str] = &["api-extensions"];

/// Every built-in resource, core group first, then the groups in upstream's `/apis` order
/// (the aggregator's group priorities). The first version of a group listed here is its
/// preferred version.
pub static RESOURCES: &[ResourceInfo] = &[
    // core/v1
    core_v1::NAMESPACES,
    core_v1::PODS,
    core_v1::SERVICES,
    core_v1::ENDPOINTS,
    core_v1::CONFIGMAPS,
    core_v1::SECRETS,
    core_v1::SERVICEACCOUNTS,
    core_v1::NODES,
    core_v1::EVENTS,
    core_v1::PERSISTENTVOLUMES,
    core_v1::PERSISTENTVOLUMECLAIMS,
    core_v1::LIMITRANGES,
    core_v1::RESOURCEQUOTAS,
    core_v1::REPLICATIONCONTROLLERS,
    core_v1::PODTEMPLATES,
    // apps/v1
    workloads::DEPLOYMENTS,
    workloads::REPLICASETS,
    workloads::STATEFULSETS,
    workloads::DAEMONSETS,
    workloads::CONTROLLERREVISIONS,
    // events.k8s.io/v1
    infra::EVENTS_V1,
    // authentication.k8s.io/v1
    access::SELFSUBJECTREVIEWS,
    access::TOKENREVIEWS,
    // authorization.k8s.io/v1
    access::LOCALSUBJECTACCESSREVIEWS,
    access::SELFSUBJECTACCESSREVIEWS,
    access::SELFSUBJECTRULESREVIEWS,
    access::SUBJECTACCESSREVIEWS,
    // autoscaling/v2 (preferred), autoscaling/v1
    workloads::HORIZONTALPODAUTOSCALERS_V2,
    workloads::HORIZONTALPODAUTOSCALERS_V1,
    // batch/v1
    workloads::JOBS,
    workloads::CRONJOBS,
    // certificates.k8s.io/v1
    access::CERTIFICATESIGNINGREQUESTS,
    // networking.k8s.io/v1
    infra::INGRESSES,
    infra::INGRESSCLASSES,
    infra::NETWORKPOLICIES,
    // policy/v1
    workloads::PODDISRUPTIONBUDGETS,
    // rbac.authorization.k8s.io/v1
    access::ROLES,
    access::ROLEBINDINGS,
    access::CLUSTERROLES,
    access::CLUSTERROLEBINDINGS,
    // storage.k8s.io/v1
    infra::STORAGECLASSES,
    infra::CSIDRIVERS,
    infra::CSINODES,
    infra::VOLUMEATTACHMENTS,
    // admissionregistration.k8s.io/v1
    access::MUTATINGWEBHOOKCONFIGURATIONS,
    access::VALIDATINGWEBHOOKCONFIGURATIONS,
    access::VALIDATINGADMISSIONPOLICIES,
    access::VALIDATINGADMISSIONPOLICYBINDINGS,
    // apiextensions.k8s.io/v1
    access::CUSTOMRESOURCEDEFINITIONS,
    // scheduling.k8s.io/v1
    infra::PRIORITYCLASSES,
    // coordination.k8s.io/v1
    infra::LEASES,
    // node.k8s.io/v1
    infra::RUNTIMECLASSES,
    // discovery.k8s.io/v1
    infra::ENDPOINTSLICES,
];

/// One API group and the versions it serves, preferred version first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupVersions {
    /// `""` for the core group.
    pub name: &'static str,
    pub versions: Vec<&'static str>,
}

impl GroupVersions {
    pub fn preferred_version(&self) -> &'static str {
        self.versions[0]
    }
}

/// Every group in [`RESOURCES`], in table order (core `""` first), each with its versions in
/// table order (preferred first).
pub fn groups() -> Vec<GroupVersions> {
    let mut out: Vec<GroupVersions> = Vec::new();
    for r in RESOURCES {
        match out.iter_mut().find(|g| g.name == r.group) {
            Some(g) if !g.versions.contains(&r.version) => g.versions.push(r.version),
            Some(_) => {}
            None => out.push(GroupVersions {
                name: r.group,
                versions: vec![r.version],
            }),
        }
    }
    out
}

/// The preferred version of `group`, if the group is served.
pub fn preferred_version(group: &str) -> Option<&'static str> {
    RESOURCES.iter().find(|r| r.group == group).map(|r| r.version)
}

/// The resources of one group-version, in table order.
pub fn resources_in<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceInfo> + 'a {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// Resolves what a user may type for a type (`pods`, `pod`, `po`, `Pod`) the way kubectl's
/// REST mapper does: an exact plural or singular wins over a short name, and where several
/// resources answer, the earliest in [`RESOURCES`] wins (core first, preferred version first),
/// so `events` is core `v1` and `hpa` is `autoscaling/v2`.
pub fn find_by_name(name: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.plural.eq_ignore_ascii_case(name) || r.singular.eq_ignore_ascii_case(name))
        .or_else(|| {
            RESOURCES
                .iter()
                .find(|r| r.short_names.iter().any(|s| s.eq_ignore_ascii_case(name)))
        })
}

/// Finds a resource by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a resource by group, version and kind.
pub fn find_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}
