//! Which resources the collector watches (API discovery, refreshed for CRDs) and the metadata
//! watches that feed the graph.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::discovery::{ApiResource, Discovery, Scope, verbs};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as watch_stream};
use rudder_component::shutdown::Shutdown;
use tokio::sync::oneshot;

use super::Gc;
use super::graph::{Identity, Observed, ResourceKey};

/// Upstream's default `ignoredResources`: events are never owners or dependents worth tracking.
const IGNORED: &[(&str, &str)] = &[("", "events"), ("events.k8s.io", "events")];

/// A watchable resource: its API address and scope.
#[derive(Debug, Clone)]
pub(crate) struct Watchable {
    pub(crate) ar: ApiResource,
    pub(crate) namespaced: bool,
}

/// Resources that can be listed, watched, patched and deleted, by (group, kind).
pub(crate) async fn discover(
    client: &kube::Client,
) -> Result<HashMap<(String, String), Watchable>, kube::Error> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut out = HashMap::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            let ok = [verbs::LIST, verbs::WATCH, verbs::DELETE, verbs::PATCH]
                .iter()
                .all(|v| caps.supports_operation(v));
            if !ok || IGNORED.contains(&(ar.group.as_str(), ar.plural.as_str())) {
                continue;
            }
            let namespaced = caps.scope == Scope::Namespaced;
            out.insert((ar.group.clone(), ar.kind.clone()), Watchable { ar, namespaced });
        }
    }
    Ok(out)
}

/// The group of an ownerReference's apiVersion (`apps/v1` → `apps`, `v1` → ``).
pub(crate) fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

fn observed(w: &Watchable, m: &PartialObjectMeta<DynamicObject>) -> Observed {
    let meta = &m.metadata;
    Observed {
        id: Identity {
            resource: ResourceKey {
                api_version: w.ar.api_version.clone(),
                kind: w.ar.kind.clone(),
            },
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
        },
        owners: meta.owner_references.clone().unwrap_or_default(),
        deleting: meta.deletion_timestamp.is_some(),
        finalizers: meta.finalizers.clone().unwrap_or_default(),
    }
}

/// Watches one resource's metadata into the graph until `stop` fires; `synced` is sent once the
/// first list is in.
pub(crate) async fn watch(gc: Arc<Gc>, w: Watchable, stop: Shutdown, synced: oneshot::Sender<()>) {
    // `Api<PartialObjectMeta<_>>` lists and watches metadata only.
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(gc.client.clone(), &w.ar);
    let stream = watch_stream(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let key = ResourceKey {
        api_version: w.ar.api_version.clone(),
        kind: w.ar.kind.clone(),
    };
    let mut synced = Some(synced);
    let mut listing: Option<HashSet<String>> = None;
    loop {
        let event = tokio::select! {
            _ = stop.wait() => return,
            e = stream.next() => e,
        };
        let Some(event) = event else { return };
        let work = match event {
            Err(e) => {
                tracing::debug!(resource = %w.ar.plural, error = %e, "garbage collector watch error");
                continue;
            }
            Ok(Event::Init) => {
                listing = Some(HashSet::new());
                continue;
            }
            Ok(Event::InitApply(m)) => {
                let obj = observed(&w, &m);
                if let Some(l) = listing.as_mut() {
                    l.insert(obj.id.uid.clone());
                }
                gc.graph.lock().observe(obj)
            }
            Ok(Event::InitDone) => {
                // Objects that vanished while we were not watching.
                let seen = listing.take().unwrap_or_default();
                let mut graph = gc.graph.lock();
                let gone: Vec<String> = graph
                    .uids_of(&key)
                    .into_iter()
                    .filter(|u| !seen.contains(u))
                    .collect();
                let work = gone.iter().flat_map(|u| graph.remove(u)).collect();
                drop(graph);
                if let Some(tx) = synced.take() {
                    let _ = tx.send(());
                }
                work
            }
            Ok(Event::Apply(m)) => gc.graph.lock().observe(observed(&w, &m)),
            Ok(Event::Delete(m)) => gc
                .graph
                .lock()
                .remove(m.metadata.uid.as_deref().unwrap_or_default()),
        };
        for item in work {
            gc.queue.add(item);
        }
    }
}
