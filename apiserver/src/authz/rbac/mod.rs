//! The RBAC authorizer (upstream `plugin/pkg/auth/authorizer/rbac`): a request is allowed when
//! a ClusterRoleBinding, or a RoleBinding in the request's namespace, binds the user (or one of
//! its groups, or its service account) to a role with a rule that allows it. RBAC never denies:
//! without a matching rule it has no opinion.

pub(crate) mod rule;
pub(crate) mod snapshot;

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::PolicyRule;
use parking_lot::{Mutex, RwLock};

use self::snapshot::{BindingRef, Snapshot, SubjectKey};
use super::{Attributes, Authorize, Decision};
use crate::authn::UserInfo;
use crate::registry::Registry;

#[derive(Debug)]
pub(crate) struct RbacAuthorizer {
    registry: Arc<Registry>,
    caches: Option<snapshot::Caches>,
    current: RwLock<Arc<Snapshot>>,
    /// One rebuild at a time; others wait and then use its result.
    rebuilding: Mutex<()>,
}

/// The rules that apply to a user in a namespace, and what could not be resolved.
#[derive(Debug, Default)]
pub(crate) struct UserRules {
    pub(crate) rules: Vec<PolicyRule>,
    pub(crate) errors: Vec<String>,
}

impl RbacAuthorizer {
    pub(crate) fn new(registry: Arc<Registry>) -> Self {
        Self {
            caches: snapshot::Caches::of(&registry),
            registry,
            current: RwLock::new(Arc::new(Snapshot {
                revisions: [-1; 4],
                ..Default::default()
            })),
            rebuilding: Mutex::new(()),
        }
    }

    /// The index for the caches' current state (rebuilt only when they moved on).
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        let Some(revisions) = self.caches.as_ref().map(snapshot::Caches::revisions) else {
            return self.current.read().clone();
        };
        let current = self.current.read().clone();
        if current.revisions == revisions {
            return current;
        }
        let _guard = self.rebuilding.lock();
        let current = self.current.read().clone();
        if current.revisions == revisions {
            return current;
        }
        let fresh = Arc::new(Snapshot::build(&self.registry, revisions));
        *self.current.write() = fresh.clone();
        fresh
    }

    /// Calls `visit` with every binding that applies to `user` in `namespace` (cluster
    /// bindings first), and the key it matched by; stops when `visit` returns true.
    fn visit(
        snap: &Snapshot,
        user: &UserInfo,
        namespace: &str,
        mut visit: impl FnMut(&BindingRef, &SubjectKey) -> bool,
    ) {
        let mut keys = vec![SubjectKey::User(user.name.clone())];
        keys.extend(user.groups.iter().cloned().map(SubjectKey::Group));
        for key in &keys {
            for binding in snap.cluster_bindings.get(key).into_iter().flatten() {
                if visit(binding, key) {
                    return;
                }
            }
        }
        if namespace.is_empty() {
            return;
        }
        for key in keys {
            let entry = (namespace.to_string(), key);
            for binding in snap.namespace_bindings.get(&entry).into_iter().flatten() {
                if visit(binding, &entry.1) {
                    return;
                }
            }
        }
    }

    /// Every rule that applies to `user` in `namespace` (cluster-wide only when empty), as
    /// upstream's `RulesFor` (SelfSubjectRulesReview, escalation checks).
    pub(crate) fn rules_for(&self, user: &UserInfo, namespace: &str) -> UserRules {
        let snap = self.snapshot();
        let mut out = UserRules::default();
        Self::visit(&snap, user, namespace, |binding, _| {
            match snap.role_rules(binding) {
                Ok(rules) => out.rules.extend(rules.iter().cloned()),
                Err(e) => out.errors.push(e),
            }
            false
        });
        out
    }
}

impl Authorize for RbacAuthorizer {
    fn authorize(&self, attrs: &Attributes) -> Decision {
        let snap = self.snapshot();
        let mut reason = None;
        let mut errors = Vec::new();
        Self::visit(&snap, &attrs.user, &attrs.namespace, |binding, key| {
            let rules = match snap.role_rules(binding) {
                Ok(rules) => rules,
                Err(e) => {
                    errors.push(e);
                    return false;
                }
            };
            if rules.iter().any(|r| rule::allows(r, attrs)) {
                let sa = attrs.user.name.starts_with("system:serviceaccount:");
                let namespace = if binding.namespace.is_empty() {
                    String::new()
                } else {
                    format!(" in {:?}", binding.namespace)
                };
                reason = Some(format!(
                    "RBAC: allowed by {} {:?} of {} {:?} to {}{namespace}",
                    binding.kind,
                    binding.name,
                    binding.role_kind,
                    binding.role_name,
                    key.describe(sa)
                ));
                return true;
            }
            false
        });
        match reason {
            Some(reason) => Decision::Allow(reason),
            None if errors.is_empty() => Decision::NoOpinion(String::new()),
            None => Decision::NoOpinion(format!("RBAC: {}", errors.join(", "))),
        }
    }
}
