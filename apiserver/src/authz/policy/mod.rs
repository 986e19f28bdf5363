//! The default RBAC policy, reconciled at start as upstream's `rbac/bootstrap-roles` post-start
//! hook does: missing roles and bindings are created; existing ones get missing rules,
//! subjects, labels and annotations added (never removed), unless annotated
//! `rbac.authorization.kubernetes.io/autoupdate: "false"`.

pub(crate) mod controllers;
pub(crate) mod roles;

use k8s_openapi::api::rbac::v1::PolicyRule;
use rudder_api::status::ApiError;
use serde_json::{Value, json};

use super::rbac::rule;
use crate::registry::Registry;
use crate::registry::write::{SERVER_MANAGER, WriteOptions};

const AUTOUPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";
const BOOTSTRAPPING: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");

/// One policy rule, as static data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub(crate) verbs: &'static [&'static str],
    pub(crate) groups: &'static [&'static str],
    pub(crate) resources: &'static [&'static str],
    pub(crate) names: &'static [&'static str],
    pub(crate) urls: &'static [&'static str],
}

/// A resource rule.
pub(crate) const fn r(
    verbs: &'static [&'static str],
    groups: &'static [&'static str],
    resources: &'static [&'static str],
) -> Rule {
    Rule {
        verbs,
        groups,
        resources,
        names: &[],
        urls: &[],
    }
}

/// A resource rule limited to some names.
pub(crate) const fn named(
    verbs: &'static [&'static str],
    groups: &'static [&'static str],
    resources: &'static [&'static str],
    names: &'static [&'static str],
) -> Rule {
    Rule {
        verbs,
        groups,
        resources,
        names,
        urls: &[],
    }
}

/// A non-resource URL rule.
pub(crate) const fn url(verbs: &'static [&'static str], urls: &'static [&'static str]) -> Rule {
    Rule {
        verbs,
        groups: &[],
        resources: &[],
        names: &[],
        urls,
    }
}

impl Rule {
    pub(crate) fn to_policy(self) -> PolicyRule {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let opt = |v: &[&str]| (!v.is_empty()).then(|| owned(v));
        PolicyRule {
            verbs: owned(self.verbs),
            api_groups: opt(self.groups),
            resources: opt(self.resources),
            resource_names: opt(self.names),
            non_resource_urls: opt(self.urls),
        }
    }
}

/// A default cluster role.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoleSpec {
    pub(crate) name: &'static str,
    pub(crate) labels: &'static [(&'static str, &'static str)],
    /// For aggregated roles: the label that selects the roles whose rules it gathers.
    pub(crate) aggregate_label: Option<&'static str>,
    pub(crate) rules: &'static [Rule],
}

impl RoleSpec {
    pub(crate) const fn rules(name: &'static str, rules: &'static [Rule]) -> Self {
        Self {
            name,
            labels: &[],
            aggregate_label: None,
            rules,
        }
    }

    pub(crate) const fn aggregated(
        name: &'static str,
        labels: &'static [(&'static str, &'static str)],
        selector: &'static str,
    ) -> Self {
        Self {
            name,
            labels,
            aggregate_label: Some(selector),
            rules: &[],
        }
    }
}

/// A binding subject.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject {
    kind: &'static str,
    name: &'static str,
    namespace: &'static str,
}

impl Subject {
    pub(crate) const fn group(name: &'static str) -> Self {
        Self {
            kind: "Group",
            name,
            namespace: "",
        }
    }
    pub(crate) const fn user(name: &'static str) -> Self {
        Self {
            kind: "User",
            name,
            namespace: "",
        }
    }
    pub(crate) const fn service_account(namespace: &'static str, name: &'static str) -> Self {
        Self {
            kind: "ServiceAccount",
            name,
            namespace,
        }
    }

    fn to_json(self) -> Value {
        match self.kind {
            "ServiceAccount" => json!({"kind": self.kind, "name": self.name, "namespace": self.namespace}),
            _ => json!({"apiGroup": "rbac.authorization.k8s.io", "kind": self.kind, "name": self.name}),
        }
    }
}

/// A default cluster role binding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BindingSpec {
    name: &'static str,
    role: &'static str,
    subjects: &'static [Subject],
}

impl BindingSpec {
    pub(crate) const fn new(name: &'static str, role: &'static str, subjects: &'static [Subject]) -> Self {
        Self { name, role, subjects }
    }
}

fn metadata(name: &str, labels: &[(&str, &str)]) -> Value {
    let mut label_map = serde_json::Map::new();
    label_map.insert(BOOTSTRAPPING.0.into(), BOOTSTRAPPING.1.into());
    for (k, v) in labels {
        label_map.insert((*k).into(), (*v).into());
    }
    json!({"name": name, "labels": label_map, "annotations": {AUTOUPDATE: "true"}})
}

/// The ClusterRole object of a spec.
pub(crate) fn cluster_role(spec: &RoleSpec) -> Value {
    let rules: Vec<PolicyRule> = spec.rules.iter().map(|r| r.to_policy()).collect();
    let mut obj = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata(spec.name, spec.labels),
        "rules": rules,
    });
    if let Some(label) = spec.aggregate_label {
        obj["aggregationRule"] = json!({"clusterRoleSelectors": [{"matchLabels": {label: "true"}}]});
    }
    obj
}

/// The ClusterRoleBinding object of a spec.
pub(crate) fn cluster_role_binding(name: &str, role: &str, subjects: Vec<Value>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": metadata(name, &[]),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    })
}

/// Every default cluster role and binding, controllers' included.
pub(crate) fn defaults() -> (Vec<Value>, Vec<Value>) {
    let mut roles: Vec<Value> = roles::CLUSTER_ROLES.iter().map(cluster_role).collect();
    let mut bindings: Vec<Value> = roles::CLUSTER_ROLE_BINDINGS
        .iter()
        .map(|b| cluster_role_binding(b.name, b.role, b.subjects.iter().map(|s| s.to_json()).collect()))
        .collect();
    for (controller, sa, rules) in controllers::CONTROLLER_ROLES {
        let name = format!("system:controller:{controller}");
        let policy: Vec<PolicyRule> = rules.iter().map(|r| r.to_policy()).collect();
        roles.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": metadata(&name, &[]),
            "rules": policy,
        }));
        bindings.push(cluster_role_binding(
            &name,
            &name,
            vec![Subject::service_account("kube-system", sa).to_json()],
        ));
    }
    (roles, bindings)
}

/// What reconciling one existing object changes: `None` when it is up to date or opted out.
pub(crate) fn reconcile_role(existing: &Value, desired: &Value) -> Option<Value> {
    if opted_out(existing) {
        return None;
    }
    let mut merged = existing.clone();
    let mut changed = merge_metadata(&mut merged, desired);
    if let Some(aggregation) = desired.get("aggregationRule") {
        if existing.get("aggregationRule").is_none() {
            merged["aggregationRule"] = aggregation.clone();
            changed = true;
        }
    } else {
        let have: Vec<PolicyRule> = serde_json::from_value(existing["rules"].clone()).unwrap_or_default();
        let want: Vec<PolicyRule> = serde_json::from_value(desired["rules"].clone()).unwrap_or_default();
        let missing: Vec<PolicyRule> = want
            .into_iter()
            .filter(|w| !rule::uncovered(&have, std::slice::from_ref(w)).is_empty())
            .collect();
        if !missing.is_empty() {
            let mut all = have;
            all.extend(missing);
            merged["rules"] = serde_json::to_value(all).unwrap_or(Value::Null);
            changed = true;
        }
    }
    changed.then_some(merged)
}

/// Adds missing subjects, labels and annotations to an existing binding.
pub(crate) fn reconcile_binding(existing: &Value, desired: &Value) -> Option<Value> {
    if opted_out(existing) {
        return None;
    }
    let mut merged = existing.clone();
    let mut changed = merge_metadata(&mut merged, desired);
    let mut subjects = existing["subjects"].as_array().cloned().unwrap_or_default();
    for subject in desired["subjects"].as_array().into_iter().flatten() {
        let same = |s: &Value| {
            s["kind"] == subject["kind"]
                && s["name"] == subject["name"]
                && s.get("namespace") == subject.get("namespace")
        };
        if !subjects.iter().any(same) {
            subjects.push(subject.clone());
            changed = true;
        }
    }
    if changed {
        merged["subjects"] = Value::Array(subjects);
    }
    changed.then_some(merged)
}

fn opted_out(obj: &Value) -> bool {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(AUTOUPDATE))
        .and_then(Value::as_str)
        == Some("false")
}

fn merge_metadata(target: &mut Value, desired: &Value) -> bool {
    let mut changed = false;
    for field in ["labels", "annotations"] {
        let Some(want) = desired["metadata"][field].as_object() else {
            continue;
        };
        let meta = &mut target["metadata"];
        if !meta[field].is_object() {
            meta[field] = json!({});
        }
        for (k, v) in want {
            if meta[field].get(k) != Some(v) {
                meta[field][k] = v.clone();
                changed = true;
            }
        }
    }
    changed
}

/// Creates or updates every default role and binding.
pub(crate) async fn ensure(registry: &Registry) -> Result<(), ApiError> {
    let (roles, bindings) = defaults();
    let by_server = WriteOptions::by(SERVER_MANAGER);
    for (plural, objects, reconcile) in [
        (
            "clusterroles",
            roles,
            reconcile_role as fn(&Value, &Value) -> Option<Value>,
        ),
        ("clusterrolebindings", bindings, reconcile_binding),
    ] {
        let res = registry
            .get_resource("rbac.authorization.k8s.io", "v1", plural)
            .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
        for desired in objects {
            let name = desired["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            match registry.get(&res, None, &name).await {
                Ok(existing) => {
                    if let Some(updated) = reconcile(&existing.value(), &desired) {
                        registry
                            .update(&res, None, &name, updated, false, &by_server)
                            .await?;
                        tracing::info!(%plural, %name, "reconciled default RBAC object");
                    }
                }
                Err(e) if e.code() == 404 => match registry.create(&res, None, desired, &by_server).await {
                    Ok(_) => tracing::debug!(%plural, %name, "created default RBAC object"),
                    Err(e) if e.code() == 409 => {}
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_have_upstream_names_and_labels() {
        let (roles, bindings) = defaults();
        let names: Vec<&str> = roles
            .iter()
            .filter_map(|r| r["metadata"]["name"].as_str())
            .collect();
        for want in [
            "cluster-admin",
            "admin",
            "edit",
            "view",
            "system:basic-user",
            "system:discovery",
            "system:public-info-viewer",
            "system:kube-scheduler",
            "system:kube-controller-manager",
            "system:node",
            "system:node-proxier",
            "system:controller:deployment-controller",
            "system:controller:root-ca-cert-publisher",
        ] {
            assert!(names.contains(&want), "{want} missing");
        }
        let edit = roles
            .iter()
            .find(|r| r["metadata"]["name"] == "edit")
            .expect("edit");
        assert_eq!(edit["metadata"]["labels"][roles::AGGREGATE_TO_ADMIN], "true");
        assert_eq!(
            edit["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"][roles::AGGREGATE_TO_EDIT],
            "true"
        );
        let admin = bindings
            .iter()
            .find(|b| b["metadata"]["name"] == "cluster-admin")
            .expect("binding");
        assert_eq!(admin["subjects"][0]["name"], "system:masters");
        // Every binding names a role that exists.
        for b in &bindings {
            assert!(
                names.contains(&b["roleRef"]["name"].as_str().unwrap_or_default()),
                "{b}"
            );
        }
    }

    #[test]
    fn reconcile_adds_but_never_removes() {
        const RULES: &[Rule] = &[r(&["get"], &[""], &["pods"])];
        let spec = RoleSpec::rules("r", RULES);
        let desired = cluster_role(&spec);
        let mut existing = desired.clone();
        assert!(reconcile_role(&existing, &desired).is_none(), "up to date");
        existing["rules"] = json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]);
        let merged = reconcile_role(&existing, &desired).expect("rule added");
        assert_eq!(merged["rules"].as_array().map(Vec::len), Some(2));
        existing["metadata"]["annotations"][AUTOUPDATE] = json!("false");
        assert!(reconcile_role(&existing, &desired).is_none(), "opted out");

        let want = cluster_role_binding("b", "r", vec![json!({"kind": "Group", "name": "g"})]);
        let mut have = want.clone();
        have["subjects"] = json!([{"kind": "User", "name": "u"}]);
        let merged = reconcile_binding(&have, &want).expect("subject added");
        assert_eq!(merged["subjects"].as_array().map(Vec::len), Some(2));
    }
}
