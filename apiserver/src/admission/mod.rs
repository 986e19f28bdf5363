//! The admission chain (upstream `k8s.io/apiserver/pkg/admission` with the plugins of
//! `pkg/kubeapiserver/options/plugins.go`), run by the generic store on every write:
//!
//! - after decoding and defaulting, **mutating** plugins (`Admit`) run in upstream's order and
//!   may change the object;
//! - after the strategy has prepared and validated it, **validating** plugins (`Validate`) run
//!   in the same order and may only refuse it (or add warnings);
//! - then the object is stored.
//!
//! Each plugin is a small module with pure decision functions; the async part (reading the
//! cluster objects a plugin needs, through [`lookup::Cluster`]) stays in a thin wrapper.
//! Webhooks ([`webhook`]) and ValidatingAdmissionPolicy ([`policy`]) slot in after the built-in plugins, before ResourceQuota, exactly
//! where upstream's order puts them.

pub(crate) mod lookup;
pub(crate) mod plugins;

mod always;
mod limit_ranger;
mod namespace_lifecycle;
mod node_restriction;
mod pod_security;
mod policy;
mod priority;
mod programs;
mod pvc_resize;
mod resource_quota;
mod runtime_class;
mod service_account;
mod storage_class;
mod taint_nodes;
mod toleration_seconds;
mod webhook;

use rudder_api::resources::ResourceInfo;
use rudder_api::status::ApiError;
use serde_json::Value;

use crate::authn::UserInfo;
pub(crate) use lookup::Cluster;
pub(crate) use plugins::Name;
pub use plugins::{AdmissionConfig, AdmissionFlagError};
/// What the admissionregistration strategies compile CEL expressions against.
pub(crate) use policy::evaluate::NAMES as POLICY_VARIABLES;
pub(crate) use webhook::conditions::VARIABLES as WEBHOOK_VARIABLES;

/// What a request does (upstream `admission.Operation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Create,
    Update,
    Delete,
    /// `pods/exec`, `pods/attach`, `pods/portforward`, proxies: not sent through the chain
    /// yet.
    #[allow(dead_code)]
    Connect,
}

impl Operation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// Everything a plugin may look at besides the object (upstream `admission.Attributes`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attributes<'a> {
    pub(crate) operation: Operation,
    pub(crate) resource: &'a ResourceInfo,
    /// `""`, `status`, `scale`, `binding`, `eviction`, `finalize`, ...
    pub(crate) subresource: &'a str,
    /// `""` for cluster-scoped resources.
    pub(crate) namespace: &'a str,
    /// `""` while a `generateName` create has no name yet.
    pub(crate) name: &'a str,
    /// The stored object on updates and deletes.
    pub(crate) old: Option<&'a Value>,
    pub(crate) user: &'a UserInfo,
    pub(crate) dry_run: bool,
}

impl Attributes<'_> {
    /// Whether this is the core-group resource `plural` (no subresource check).
    pub(crate) fn is_core(&self, plural: &str) -> bool {
        self.resource.group.is_empty() && self.resource.plural == plural
    }

    /// Whether this is the core-group resource `plural` itself, not one of its subresources.
    pub(crate) fn is_core_main(&self, plural: &str) -> bool {
        self.is_core(plural) && self.subresource.is_empty()
    }
}

/// The warnings admission adds to a request (`Warning` headers), shared between the handler
/// and the store's write path.
#[derive(Debug, Clone, Default)]
pub(crate) struct Warnings(std::sync::Arc<parking_lot::Mutex<Vec<String>>>);

impl Warnings {
    pub(crate) fn extend(&self, more: Vec<String>) {
        let mut list = self.0.lock();
        for w in more {
            if !list.contains(&w) {
                list.push(w);
            }
        }
    }

    /// The warnings gathered so far, emptying the list.
    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock())
    }
}

/// Who makes a write, for admission: the authenticated user, or the server itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct Requester {
    pub(crate) user: Option<std::sync::Arc<UserInfo>>,
    pub(crate) warnings: Warnings,
}

impl Requester {
    pub(crate) fn new(user: UserInfo) -> Self {
        Requester {
            user: Some(std::sync::Arc::new(user)),
            warnings: Warnings::default(),
        }
    }

    /// The user, or the server's own identity for internal writes.
    pub(crate) fn user(&self) -> std::borrow::Cow<'_, UserInfo> {
        match &self.user {
            Some(u) => std::borrow::Cow::Borrowed(u),
            None => std::borrow::Cow::Owned(server_user()),
        }
    }
}

/// The user of writes the server makes itself (bootstrap objects, the `kubernetes` Service):
/// upstream's loopback client identity.
pub(crate) fn server_user() -> UserInfo {
    UserInfo {
        name: "system:apiserver".into(),
        uid: String::new(),
        groups: vec!["system:masters".into(), "system:authenticated".into()],
        extra: Default::default(),
    }
}

/// A 403 the way upstream's `admission.NewForbidden` builds it: the request's resource, and the
/// object's name (or its `generateName`, or `Unknown` before either is known).
pub(crate) fn forbidden(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    err: impl std::fmt::Display,
) -> ApiError {
    let meta = |field: &str| {
        obj.and_then(|o| o.pointer(&format!("/metadata/{field}")))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let name = meta("name")
        .or_else(|| meta("generateName"))
        .or_else(|| (!attrs.name.is_empty()).then(|| attrs.name.to_string()))
        .unwrap_or_else(|| "Unknown".to_string());
    ApiError::forbidden(attrs.resource.group, attrs.resource.plural, &name, err)
}

/// The ordered, enabled plugins of one server.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    plugins: Vec<Name>,
}

impl Default for Chain {
    fn default() -> Self {
        Chain::new(&AdmissionConfig::default())
    }
}

impl Chain {
    pub(crate) fn new(config: &AdmissionConfig) -> Self {
        Chain {
            plugins: config.enabled(),
        }
    }

    /// Runs the mutating plugins; `obj` is the new object (`None` on deletes). Returns the
    /// warnings they add (the mutating webhooks').
    pub(crate) async fn admit(
        &self,
        attrs: &Attributes<'_>,
        mut obj: Option<&mut Value>,
        cluster: &Cluster<'_>,
    ) -> Result<Vec<String>, ApiError> {
        let mut warnings = Vec::new();
        for plugin in &self.plugins {
            let span = tracing::trace_span!(
                "admit",
                plugin = plugin.as_str(),
                namespace = attrs.namespace,
                name = attrs.name,
                operation = attrs.operation.as_str()
            );
            let _enter = span.enter();
            match plugin {
                Name::AlwaysDeny => always::deny(attrs, obj.as_deref())?,
                Name::NamespaceLifecycle => {
                    namespace_lifecycle::admit(attrs, obj.as_deref(), cluster).await?
                }
                Name::LimitRanger => limit_ranger::admit(attrs, obj.as_deref_mut(), cluster)?,
                Name::ServiceAccount => service_account::admit(attrs, obj.as_deref_mut(), cluster).await?,
                Name::NodeRestriction => node_restriction::admit(attrs, obj.as_deref(), cluster)?,
                Name::TaintNodesByCondition => taint_nodes::admit(attrs, obj.as_deref_mut()),
                Name::Priority => priority::admit(attrs, obj.as_deref_mut(), cluster)?,
                Name::DefaultTolerationSeconds => toleration_seconds::admit(attrs, obj.as_deref_mut()),
                Name::DefaultStorageClass => storage_class::admit(attrs, obj.as_deref_mut(), cluster)?,
                Name::RuntimeClass => runtime_class::admit(attrs, obj.as_deref_mut(), cluster)?,
                Name::MutatingAdmissionWebhook => {
                    warnings.extend(webhook::admit(attrs, obj.as_deref_mut(), cluster).await?)
                }
                _ => {}
            }
        }
        Ok(warnings)
    }

    /// Runs the validating plugins on the object about to be stored (the stored object on
    /// deletes); returns the warnings they add.
    pub(crate) async fn validate(
        &self,
        attrs: &Attributes<'_>,
        obj: Option<&Value>,
        cluster: &Cluster<'_>,
    ) -> Result<Vec<String>, ApiError> {
        let mut warnings = Vec::new();
        for plugin in &self.plugins {
            match plugin {
                Name::AlwaysDeny => always::deny(attrs, obj)?,
                Name::LimitRanger => limit_ranger::validate(attrs, obj, cluster)?,
                Name::ServiceAccount => service_account::validate(attrs, obj)?,
                Name::PodSecurity => pod_security::validate(attrs, obj, cluster, &mut warnings)?,
                Name::Priority => priority::validate(attrs, obj, cluster)?,
                Name::PersistentVolumeClaimResize => pvc_resize::validate(attrs, obj, cluster)?,
                Name::RuntimeClass => runtime_class::validate(attrs, obj, cluster)?,
                Name::ValidatingAdmissionPolicy => {
                    warnings.extend(policy::validate(attrs, obj, cluster).await?)
                }
                Name::ValidatingAdmissionWebhook => {
                    warnings.extend(webhook::validate(attrs, obj, cluster).await?)
                }
                Name::ResourceQuota => resource_quota::validate(attrs, obj, cluster).await?,
                _ => {}
            }
        }
        Ok(warnings)
    }
}

/// Creates the objects upstream's apiserver keeps for its plugins (the system priority
/// classes), once at start.
pub(crate) async fn ensure_defaults(registry: &crate::registry::Registry) -> Result<(), ApiError> {
    priority::ensure_system_classes(registry).await
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    static ADMIN: std::sync::LazyLock<UserInfo> = std::sync::LazyLock::new(|| UserInfo {
        name: "admin".into(),
        uid: String::new(),
        groups: vec!["system:masters".into()],
        extra: Default::default(),
    });

    /// A resource of the table by group and plural.
    pub(crate) fn info(group: &str, plural: &str) -> &'static ResourceInfo {
        rudder_api::resources::RESOURCES
            .iter()
            .find(|r| r.group == group && r.plural == plural)
            .expect("resource in the table")
    }

    /// Attributes of a request on a core resource by the admin.
    pub(crate) fn attrs(
        op: Operation,
        plural: &str,
        namespace: &'static str,
        name: &'static str,
    ) -> Attributes<'static> {
        attrs_in("", plural, op, namespace, name)
    }

    pub(crate) fn attrs_in(
        group: &str,
        plural: &str,
        op: Operation,
        namespace: &'static str,
        name: &'static str,
    ) -> Attributes<'static> {
        Attributes {
            operation: op,
            resource: info(group, plural),
            subresource: "",
            namespace,
            name,
            old: None,
            user: &ADMIN,
            dry_run: false,
        }
    }

    #[test]
    fn forbidden_names_the_object_or_its_generate_name() {
        let a = attrs(Operation::Create, "pods", "ns", "");
        let named = serde_json::json!({"metadata": {"name": "p"}});
        let generated = serde_json::json!({"metadata": {"generateName": "web-"}});
        assert_eq!(
            forbidden(&a, Some(&named), "no").message(),
            "pods \"p\" is forbidden: no"
        );
        assert_eq!(
            forbidden(&a, Some(&generated), "no").message(),
            "pods \"web-\" is forbidden: no"
        );
        assert_eq!(
            forbidden(&a, None, "no").message(),
            "pods \"Unknown\" is forbidden: no"
        );
    }
}
