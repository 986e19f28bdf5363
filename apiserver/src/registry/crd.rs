//! Serving custom resources: a loop that follows CustomResourceDefinitions and, for each, serves
//! its served versions at `/apis/<group>/<version>/<plural>` (stored under `/<group>/<plural>`),
//! reports `NamesAccepted` and `Established` (through `Installing`), and on deletion reports
//! `Terminating` and removes every custom object before letting the definition go (upstream's
//! `customresourcecleanup` finalizer).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;
use rudder_api::resources::{ALL_VERBS, ResourceInfo, SubresourceInfo};
use rudder_api::table::CustomResourceColumns;
use rudder_component::shutdown::Shutdown;
use rudder_store::ListOptions;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::watch_cache::{EventType, Fanout, WatchCache};
use super::write::WriteOptions;
use super::{Registry, Resource, object};
use crate::crd::strategy::{CustomResourceStrategy, VersionConversion, VersionSchema};

/// The finalizer that holds a deleted definition until its objects are gone.
pub(crate) const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// Follows CustomResourceDefinitions until shutdown.
pub(crate) fn spawn(registry: Arc<Registry>, shutdown: Shutdown) {
    tokio::spawn(async move {
        let Some(crds) = registry.get_resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        else {
            return;
        };
        loop {
            let Ok(mut sub) = crds.cache.subscribe(None) else {
                return;
            };
            for crd in &sub.initial {
                reconcile(&registry, &crds, &crd.value()).await;
            }
            loop {
                let received = tokio::select! {
                    _ = shutdown.wait() => return,
                    received = sub.live.recv() => received,
                };
                match received {
                    Ok(Fanout::Event(event)) if event.kind == EventType::Deleted => {
                        let (group, plural) = names(&event.object.value());
                        registry.set_custom(&group, &plural, Vec::new());
                        retry_unaccepted(&registry, &crds, &group).await;
                    }
                    Ok(Fanout::Event(event)) => reconcile(&registry, &crds, &event.object.value()).await,
                    // Fell behind or the cache was rebuilt: start over from the current state.
                    Ok(Fanout::Reset) | Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                }
            }
        }
    });
}

/// Names a deleted definition held are free again: the definitions of its group that were
/// refused them are reconciled again (upstream's naming controller requeues the group).
async fn retry_unaccepted(registry: &Registry, crds: &Resource, group: &str) {
    let waiting: Vec<Value> = crds
        .cache
        .snapshot()
        .0
        .iter()
        .map(|o| o.value())
        .filter(|crd| crd["spec"]["group"] == group)
        .filter(|crd| {
            crd["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "NamesAccepted" && c["status"] == "False")
        })
        .collect();
    for crd in waiting {
        reconcile(registry, crds, &crd).await;
    }
}

fn names(crd: &Value) -> (String, String) {
    let spec = &crd["spec"];
    (
        spec["group"].as_str().unwrap_or_default().to_string(),
        spec["names"]["plural"].as_str().unwrap_or_default().to_string(),
    )
}

async fn reconcile(registry: &Registry, crds: &Resource, crd: &Value) {
    let name = object::name(crd).unwrap_or_default().to_string();
    let (group, plural) = names(crd);
    if group.is_empty() || plural.is_empty() {
        return;
    }
    let span = tracing::info_span!("crd", name = %name);
    let _guard = span.enter();
    if object::is_deleting(crd) {
        registry.set_custom(&group, &plural, Vec::new());
        finalize(registry, crds, crd, &name, &group, &plural).await;
        return;
    }
    let existing = registry
        .custom_resources()
        .into_iter()
        .find(|r| r.info.group == group && r.info.plural == plural);
    let cache = match existing {
        Some(res) => res.cache.clone(),
        None => match WatchCache::start(registry.store.clone(), format!("/{group}/{plural}/")).await {
            Ok(cache) => cache,
            Err(e) => {
                tracing::warn!(error = %e, "starting the watch cache failed");
                return;
            }
        },
    };
    let others: Vec<Value> = crds.cache.snapshot().0.iter().map(|o| o.value()).collect();
    let (status, accepted) = crate::crd::naming::status_for(crd, &others);
    let served = if accepted {
        served_resources(crd, &cache)
    } else {
        Vec::new()
    };
    registry.set_custom(&group, &plural, served);
    // One status write per pass; the write's own event brings the next pass. So a new
    // definition goes `Installing`, then (its resource served) `Established`, as upstream's
    // naming and establishing controllers step it.
    let mut status = status;
    if crd.get("status") == Some(&status) && !crate::crd::naming::establish(&mut status) {
        return;
    }
    write_status(registry, crds, crd, &name, status).await;
}

/// Deleting a definition, as upstream's finalizer controller: `Terminating` with
/// `InstanceDeletionInProgress`, the objects removed, `InstanceDeletionCompleted` (or
/// `InstanceDeletionFailed`, retried on the next change), then the finalizer released. One step
/// per pass, each write bringing the next.
async fn finalize(registry: &Registry, crds: &Resource, crd: &Value, name: &str, group: &str, plural: &str) {
    use crate::crd::naming::{find, set_condition};
    let mut conditions = crd["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let terminating = find(&conditions, "Terminating")
        .and_then(|c| c["reason"].as_str())
        .map(str::to_owned);
    match terminating.as_deref() {
        Some("InstanceDeletionCompleted") => release(registry, crds, crd, name).await,
        Some("InstanceDeletionInProgress" | "InstanceDeletionFailed") => {
            let (state, reason, message) = match remove_objects(registry, group, plural).await {
                Ok(()) => (
                    "False",
                    "InstanceDeletionCompleted",
                    "removed all instances".to_string(),
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "removing custom objects failed; will retry on the next change");
                    (
                        "True",
                        "InstanceDeletionFailed",
                        format!("could not delete instances: {e}"),
                    )
                }
            };
            set_condition(&mut conditions, "Terminating", state, reason, &message);
            let mut status = crd["status"].clone();
            status["conditions"] = Value::Array(conditions);
            write_status(registry, crds, crd, name, status).await;
        }
        _ => {
            set_condition(
                &mut conditions,
                "Terminating",
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
            );
            let mut status = if crd["status"].is_object() {
                crd["status"].clone()
            } else {
                json!({})
            };
            status["conditions"] = Value::Array(conditions);
            write_status(registry, crds, crd, name, status).await;
        }
    }
}

/// Drops the cleanup finalizer so that the definition goes.
async fn release(registry: &Registry, crds: &Resource, crd: &Value, name: &str) {
    let finalizers: Vec<String> = object::finalizers(crd)
        .into_iter()
        .filter(|f| f != CLEANUP_FINALIZER)
        .collect();
    let patch = json!({ "metadata": { "finalizers": finalizers } });
    let result = registry
        .patch(
            crds,
            None,
            name,
            super::write::PatchType::Merge,
            &patch,
            false,
            &WriteOptions::by(super::write::SERVER_MANAGER),
        )
        .await;
    if let Err(e) = result
        .map(drop)
        .or_else(|e| if e.code() == 404 { Ok(()) } else { Err(e) })
    {
        tracing::warn!(error = %e, "releasing the definition failed");
    }
}

/// Writes a definition's status (a conflict means a newer version is on its way: its event
/// brings the next pass).
async fn write_status(registry: &Registry, crds: &Resource, crd: &Value, name: &str, status: Value) {
    let mut body = crd.clone();
    body["status"] = status;
    if let Err(e) = registry
        .update(
            crds,
            None,
            name,
            body,
            true,
            &WriteOptions::by(super::write::SERVER_MANAGER),
        )
        .await
        && !matches!(e.code(), 404 | 409)
    {
        tracing::warn!(error = %e, "updating the definition's status failed");
    }
}

/// One served resource per served version of the definition.
fn served_resources(crd: &Value, cache: &Arc<WatchCache>) -> Vec<Arc<Resource>> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let group = intern(&text(&spec["group"]));
    let kind = intern(&text(&names["kind"]));
    let plural = intern(&text(&names["plural"]));
    let singular = match names["singular"].as_str() {
        Some(s) if !s.is_empty() => intern(s),
        _ => intern(&kind.to_lowercase()),
    };
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let short_names = intern_list(strings(&names["shortNames"]));
    let categories = intern_list(strings(&names["categories"]));
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let storage_prefix = intern(&format!("/{group}/{plural}"));
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let storage_version = versions
        .iter()
        .find(|v| v["storage"].as_bool() == Some(true))
        .and_then(|v| v["name"].as_str());
    versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(false))
        .filter_map(|v| {
            let version = intern(v["name"].as_str().filter(|n| !n.is_empty())?);
            let mut subresources = Vec::new();
            if v["subresources"].get("scale").is_some() {
                subresources.push(SubresourceInfo::SCALE);
            }
            if v["subresources"].get("status").is_some() {
                subresources.push(SubresourceInfo::status(group, version, kind));
            }
            let info = ResourceInfo {
                group,
                version,
                kind,
                plural,
                singular,
                namespaced,
                verbs: ALL_VERBS,
                short_names,
                categories,
                subresources: intern_subresources(subresources),
                storage_prefix,
                field_selectors: &[],
            };
            let api_version = format!("{group}/{version}");
            let schema = Arc::new(VersionSchema::new(
                &api_version,
                kind,
                v.pointer("/schema/openAPIV3Schema"),
            ));
            let needs_conversion =
                storage_version != Some(version) || schema.schema.as_ref().is_some_and(|s| s.has_defaults());
            let conversion: Option<Arc<dyn super::conversion::Conversion>> = needs_conversion.then(|| {
                Arc::new(VersionConversion {
                    storage_api_version: format!("{group}/{}", storage_version.unwrap_or(version)),
                    served: schema.clone(),
                }) as Arc<dyn super::conversion::Conversion>
            });
            Some(Arc::new(Resource {
                info,
                strategy: Arc::new(CustomResourceStrategy { version: schema }),
                cache: cache.clone(),
                conversion,
                printer: Some(Arc::new(CustomResourceColumns::for_crd_version(crd, version))),
            }))
        })
        .collect()
}

/// Deletes every object of a custom resource (all versions share one prefix).
async fn remove_objects(
    registry: &Registry,
    group: &str,
    plural: &str,
) -> Result<(), rudder_store::StoreError> {
    let prefix = format!("/{group}/{plural}/");
    loop {
        let page = registry
            .store
            .list(
                &prefix,
                ListOptions {
                    limit: Some(500),
                    ..Default::default()
                },
            )
            .await?;
        if page.items.is_empty() {
            return Ok(());
        }
        for kv in page.items {
            match registry.store.delete(&kv.key, None).await {
                Ok(_) | Err(rudder_store::StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Names of custom resources live as long as the server: interned so that a definition that is
/// updated again and again does not allocate each time.
fn intern(s: &str) -> &'static str {
    static STRINGS: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Default::default);
    let mut set = STRINGS.lock();
    if let Some(existing) = set.get(s) {
        return existing;
    }
    let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
    set.insert(leaked);
    leaked
}

fn intern_list(items: Vec<String>) -> &'static [&'static str] {
    static LISTS: LazyLock<Mutex<HashMap<Vec<String>, &'static [&'static str]>>> =
        LazyLock::new(Default::default);
    let mut lists = LISTS.lock();
    if let Some(existing) = lists.get(&items) {
        return existing;
    }
    let leaked: &'static [&'static str] = Box::leak(
        items
            .iter()
            .map(|s| intern(s))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    lists.insert(items, leaked);
    leaked
}

fn intern_subresources(items: Vec<SubresourceInfo>) -> &'static [SubresourceInfo] {
    static LISTS: LazyLock<Mutex<Vec<&'static [SubresourceInfo]>>> = LazyLock::new(Default::default);
    let mut lists = LISTS.lock();
    if let Some(existing) = lists.iter().find(|l| **l == items.as_slice()) {
        return existing;
    }
    let leaked: &'static [SubresourceInfo] = Box::leak(items.into_boxed_slice());
    lists.push(leaked);
    leaked
}
