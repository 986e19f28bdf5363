//! An immutable index of the RBAC objects in the watch caches: roles by name, bindings by the
//! subject they name, so that authorizing a request touches only the bindings of its user and
//! groups. Rebuilt when any of the four caches moves on.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject};
use serde::de::DeserializeOwned;

use crate::registry::Registry;

pub(crate) const GROUP: &str = "rbac.authorization.k8s.io";

/// A user or group a binding names (service accounts are their user names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SubjectKey {
    User(String),
    Group(String),
}

impl SubjectKey {
    /// As upstream describes the matched subject in allow reasons.
    pub(crate) fn describe(&self, sa: bool) -> String {
        match self {
            SubjectKey::User(name) if sa => {
                let rest = name.trim_start_matches("system:serviceaccount:");
                let (ns, n) = rest.split_once(':').unwrap_or(("", rest));
                format!("ServiceAccount \"{n}/{ns}\"")
            }
            SubjectKey::User(name) => format!("User {name:?}"),
            SubjectKey::Group(name) => format!("Group {name:?}"),
        }
    }
}

/// One binding, reduced to what evaluation needs.
#[derive(Debug)]
pub(crate) struct BindingRef {
    /// `ClusterRoleBinding` or `RoleBinding`.
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    pub(crate) namespace: String,
    /// `ClusterRole` or `Role`.
    pub(crate) role_kind: String,
    pub(crate) role_name: String,
}

/// The index at one set of cache revisions.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) revisions: [i64; 4],
    pub(crate) cluster_roles: HashMap<String, Arc<Vec<PolicyRule>>>,
    pub(crate) roles: HashMap<(String, String), Arc<Vec<PolicyRule>>>,
    pub(crate) cluster_bindings: HashMap<SubjectKey, Vec<Arc<BindingRef>>>,
    pub(crate) namespace_bindings: HashMap<(String, SubjectKey), Vec<Arc<BindingRef>>>,
}

/// The four resources, in the order of `Snapshot::revisions`.
const RESOURCES: [&str; 4] = ["clusterroles", "roles", "clusterrolebindings", "rolebindings"];

/// The watch caches of the four resources, looked up once.
#[derive(Debug, Clone)]
pub(crate) struct Caches(Vec<std::sync::Arc<crate::registry::watch_cache::WatchCache>>);

impl Caches {
    /// `None` if RBAC is not served (it always is).
    pub(crate) fn of(registry: &Registry) -> Option<Self> {
        RESOURCES
            .iter()
            .map(|plural| {
                registry
                    .get_resource(GROUP, "v1", plural)
                    .map(|r| r.cache.clone())
            })
            .collect::<Option<Vec<_>>>()
            .map(Caches)
    }

    /// Their current revisions, in the order of `Snapshot::revisions`.
    pub(crate) fn revisions(&self) -> [i64; 4] {
        let mut out = [0; 4];
        for (slot, cache) in out.iter_mut().zip(&self.0) {
            *slot = cache.revision();
        }
        out
    }
}

fn objects<T: DeserializeOwned>(registry: &Registry, plural: &str) -> Vec<T> {
    let Some(res) = registry.get_resource(GROUP, "v1", plural) else {
        return Vec::new();
    };
    let (items, _) = res.cache.snapshot();
    items
        .iter()
        .filter_map(|o| match serde_json::from_slice(&o.json) {
            Ok(v) => Some(v),
            Err(error) => {
                tracing::warn!(%plural, %error, "RBAC object that does not decode is ignored");
                None
            }
        })
        .collect()
}

/// The subject key of `subject` in a binding of `binding_namespace` (empty for cluster
/// bindings); `None` for kinds that match nobody.
fn subject_key(subject: &Subject, binding_namespace: &str) -> Option<SubjectKey> {
    match subject.kind.as_str() {
        "User" => Some(SubjectKey::User(subject.name.clone())),
        "Group" => Some(SubjectKey::Group(subject.name.clone())),
        "ServiceAccount" => {
            let ns = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            (!ns.is_empty()).then(|| SubjectKey::User(format!("system:serviceaccount:{ns}:{}", subject.name)))
        }
        _ => None,
    }
}

impl Snapshot {
    pub(crate) fn build(registry: &Registry, revisions: [i64; 4]) -> Snapshot {
        let mut snap = Snapshot {
            revisions,
            ..Default::default()
        };
        for role in objects::<ClusterRole>(registry, "clusterroles") {
            let name = role.metadata.name.unwrap_or_default();
            snap.cluster_roles
                .insert(name, Arc::new(role.rules.unwrap_or_default()));
        }
        for role in objects::<Role>(registry, "roles") {
            let key = (
                role.metadata.namespace.unwrap_or_default(),
                role.metadata.name.unwrap_or_default(),
            );
            snap.roles.insert(key, Arc::new(role.rules.unwrap_or_default()));
        }
        for binding in objects::<ClusterRoleBinding>(registry, "clusterrolebindings") {
            let reference = Arc::new(BindingRef {
                kind: "ClusterRoleBinding",
                name: binding.metadata.name.unwrap_or_default(),
                namespace: String::new(),
                role_kind: binding.role_ref.kind,
                role_name: binding.role_ref.name,
            });
            for subject in binding.subjects.unwrap_or_default() {
                if let Some(key) = subject_key(&subject, "") {
                    snap.cluster_bindings
                        .entry(key)
                        .or_default()
                        .push(reference.clone());
                }
            }
        }
        for binding in objects::<RoleBinding>(registry, "rolebindings") {
            let namespace = binding.metadata.namespace.unwrap_or_default();
            let reference = Arc::new(BindingRef {
                kind: "RoleBinding",
                name: binding.metadata.name.unwrap_or_default(),
                namespace: namespace.clone(),
                role_kind: binding.role_ref.kind,
                role_name: binding.role_ref.name,
            });
            for subject in binding.subjects.unwrap_or_default() {
                if let Some(key) = subject_key(&subject, &namespace) {
                    snap.namespace_bindings
                        .entry((namespace.clone(), key))
                        .or_default()
                        .push(reference.clone());
                }
            }
        }
        snap
    }

    /// The rules a binding grants, or why they cannot be found.
    pub(crate) fn role_rules(&self, binding: &BindingRef) -> Result<Arc<Vec<PolicyRule>>, String> {
        match binding.role_kind.as_str() {
            "ClusterRole" => self
                .cluster_roles
                .get(&binding.role_name)
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "clusterrole.rbac.authorization.k8s.io {:?} not found",
                        binding.role_name
                    )
                }),
            "Role" => self
                .roles
                .get(&(binding.namespace.clone(), binding.role_name.clone()))
                .cloned()
                .ok_or_else(|| format!("role.rbac.authorization.k8s.io {:?} not found", binding.role_name)),
            other => Err(format!("unknown role kind {other:?}")),
        }
    }

    /// The rules a role reference names, for escalation checks on bindings.
    pub(crate) fn rules_of(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Vec<PolicyRule>>, String> {
        self.role_rules(&BindingRef {
            kind: "",
            name: String::new(),
            namespace: namespace.into(),
            role_kind: kind.into(),
            role_name: name.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_subjects_default_to_the_binding_namespace() {
        let sa = Subject {
            kind: "ServiceAccount".into(),
            name: "builder".into(),
            ..Default::default()
        };
        assert_eq!(
            subject_key(&sa, "ci"),
            Some(SubjectKey::User("system:serviceaccount:ci:builder".into()))
        );
        assert_eq!(subject_key(&sa, ""), None);
        assert_eq!(
            SubjectKey::User("system:serviceaccount:ci:builder".into()).describe(true),
            "ServiceAccount \"builder/ci\""
        );
    }
}
