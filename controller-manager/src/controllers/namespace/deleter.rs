//! One deletion pass over a Terminating namespace's content, through discovery and the API.

use std::collections::BTreeMap;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PropagationPolicy};
use kube::core::PartialObjectMeta;
use kube::discovery::{Discovery, Scope, verbs};

use super::plan::Pass;

/// Deletes every namespaced resource in `namespace` and reports what is left.
pub(crate) async fn delete_content(client: &kube::Client, namespace: &str) -> Pass {
    let mut pass = Pass::default();
    let discovery = match Discovery::new(client.clone()).run().await {
        Ok(d) => d,
        Err(e) => {
            pass.discovery_failures.push(e.to_string());
            return pass;
        }
    };
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if caps.scope != Scope::Namespaced
                || !caps.supports_operation(verbs::LIST)
                || !caps.supports_operation(verbs::DELETE)
            {
                continue;
            }
            let label = format!("{}.{}", ar.plural, ar.group);
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
            if caps.supports_operation(verbs::DELETE_COLLECTION)
                && let Err(e) = api.delete_collection(&params, &ListParams::default()).await
            {
                pass.delete_failures.push(format!("{label}: {e}"));
                continue;
            }
            let meta: Api<PartialObjectMeta<DynamicObject>> =
                Api::namespaced_with(client.clone(), namespace, &ar);
            let items = match meta.list(&ListParams::default()).await {
                Ok(list) => list.items,
                Err(e) => {
                    pass.delete_failures.push(format!("{label}: {e}"));
                    continue;
                }
            };
            if items.is_empty() {
                continue;
            }
            if !caps.supports_operation(verbs::DELETE_COLLECTION) {
                for item in items.iter().filter(|i| i.metadata.deletion_timestamp.is_none()) {
                    let name = item.metadata.name.clone().unwrap_or_default();
                    match api.delete(&name, &params).await {
                        Ok(_) => {}
                        Err(e) if crate::controllers::util::api::is_not_found(&e) => {}
                        Err(e) => pass.delete_failures.push(format!("{label} {name}: {e}")),
                    }
                }
            }
            *pass.remaining.entry(label).or_default() += items.len();
            let mut finalizers: BTreeMap<String, usize> = BTreeMap::new();
            for f in items.iter().flat_map(|i| i.metadata.finalizers.iter().flatten()) {
                *finalizers.entry(f.clone()).or_default() += 1;
            }
            for (f, n) in finalizers {
                *pass.finalizers.entry(f).or_default() += n;
            }
        }
    }
    pass
}
