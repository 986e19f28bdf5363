//! ClusterRole aggregation (upstream's `clusterrole-aggregation` controller, here run inside the
//! apiserver so that `admin`/`edit`/`view` are complete whether or not a controller-manager
//! runs): a ClusterRole with an `aggregationRule` gets the rules of every other ClusterRole its
//! selectors match, in name order, without duplicates. Recomputed on every ClusterRole change.

use std::sync::Arc;

use rudder_api::selectors::LabelSelector;
use rudder_component::shutdown::Shutdown;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::registry::Registry;
use crate::registry::write::{SERVER_MANAGER, WriteOptions};

/// The rules each aggregated role should have, for the roles whose rules differ: (name, rules).
pub(crate) fn plan(roles: &[Value]) -> Vec<(String, Vec<Value>)> {
    let mut sorted: Vec<&Value> = roles.iter().collect();
    sorted.sort_by(|a, b| name(a).cmp(name(b)));
    let mut out = Vec::new();
    for role in &sorted {
        let Some(selectors) = role
            .pointer("/aggregationRule/clusterRoleSelectors")
            .and_then(Value::as_array)
        else {
            continue;
        };
        let selectors: Vec<LabelSelector> = selectors
            .iter()
            .filter_map(|s| LabelSelector::from_label_selector(Some(s)).ok())
            .collect();
        let mut rules: Vec<Value> = Vec::new();
        for other in &sorted {
            if name(other) == name(role) {
                continue;
            }
            let labels = other.pointer("/metadata/labels").cloned().unwrap_or(Value::Null);
            if !selectors.iter().any(|s| s.matches_value(&labels)) {
                continue;
            }
            for rule in other["rules"].as_array().into_iter().flatten() {
                if !rules.contains(rule) {
                    rules.push(rule.clone());
                }
            }
        }
        let current = role["rules"].as_array().cloned().unwrap_or_default();
        if current != rules {
            out.push((name(role).to_string(), rules));
        }
    }
    out
}

fn name(v: &Value) -> &str {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Brings every aggregated role up to date once.
pub(crate) async fn reconcile(registry: &Registry) {
    let Some(res) = registry.get_resource("rbac.authorization.k8s.io", "v1", "clusterroles") else {
        return;
    };
    let (objects, _) = res.cache.snapshot();
    let roles: Vec<Value> = objects.iter().map(|o| o.value()).collect();
    for (role, rules) in plan(&roles) {
        let patch = serde_json::json!({ "rules": rules });
        let result = registry
            .patch(
                &res,
                None,
                &role,
                crate::registry::write::PatchType::Merge,
                &patch,
                false,
                &WriteOptions::by(SERVER_MANAGER),
            )
            .await;
        match result {
            Ok(_) => tracing::info!(clusterrole = %role, "aggregated cluster role rules"),
            Err(error) => tracing::warn!(clusterrole = %role, %error, "aggregating cluster role failed"),
        }
    }
}

/// Keeps aggregated roles up to date until shutdown.
pub(crate) fn spawn(registry: Arc<Registry>, shutdown: Shutdown) {
    tokio::spawn(async move {
        let Some(res) = registry.get_resource("rbac.authorization.k8s.io", "v1", "clusterroles") else {
            return;
        };
        let Ok(subscription) = res.cache.subscribe(None) else {
            return;
        };
        let mut live = subscription.live;
        loop {
            reconcile(&registry).await;
            tokio::select! {
                _ = shutdown.wait() => return,
                event = live.recv() => match event {
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        // Take every change queued meanwhile; one pass covers them all.
                        while live.try_recv().is_ok() {}
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aggregates_matching_roles_in_name_order_without_duplicates() {
        let rule = |r: &str| json!({"apiGroups": [""], "resources": [r], "verbs": ["get"]});
        let roles = vec![
            json!({"metadata": {"name": "view"},
                   "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "true"}}]}}),
            json!({"metadata": {"name": "b", "labels": {"agg": "true"}}, "rules": [rule("pods"), rule("secrets")]}),
            json!({"metadata": {"name": "a", "labels": {"agg": "true"}}, "rules": [rule("pods")]}),
            json!({"metadata": {"name": "c"}, "rules": [rule("nodes")]}),
        ];
        let plan = plan(&roles);
        assert_eq!(
            plan,
            vec![("view".to_string(), vec![rule("pods"), rule("secrets")])]
        );
        let mut done = roles.clone();
        done[0]["rules"] = json!([rule("pods"), rule("secrets")]);
        assert!(super::plan(&done).is_empty(), "nothing to do once aggregated");
    }
}
