//! Pods: the pods bound to this node (a watch with `spec.nodeName=<node>`), one worker per pod
//! driving the runtime toward the pod's spec, and housekeeping that removes whatever the
//! runtime or the disk still has of pods that are gone.

pub mod backoff;
pub mod dns;
pub mod env;
pub mod hooks;
pub mod names;
pub mod observed;
pub mod plan;
pub mod pleg;
pub mod probe;
pub mod pull_secrets;
pub mod runtime;
pub mod service_env;
pub mod spec;
pub mod static_pods;
pub mod status;
pub mod token;
pub mod volumes;
pub mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher;
use rudder_component::shutdown::Shutdown;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::Config;
use crate::cri::{ImageService, RuntimeService};
use crate::node::NodeFacts;

/// What every pod worker shares.
pub struct PodContext {
    pub config: Arc<Config>,
    pub client: kube::Client,
    pub runtime: Arc<dyn RuntimeService>,
    pub images: Arc<dyn ImageService>,
    pub facts: NodeFacts,
    /// core/v1 Events from component "kubelet" (Pulled, Created, Started, Killing, BackOff).
    pub events: Option<rudder_client::events::EventRecorder>,
    /// Bounds the sandbox and container creations in flight (fair, first come first served).
    pub starts: Arc<tokio::sync::Semaphore>,
}

impl PodContext {
    /// Records an event about a container of the pod (fieldPath spec.containers{name}).
    pub fn event(&self, pod: &Pod, container: Option<&str>, warning: bool, reason: &str, message: &str) {
        let Some(rec) = &self.events else { return };
        let mut r = rudder_client::events::object_ref(pod);
        if let Some(c) = container {
            let init = pod
                .spec
                .iter()
                .flat_map(|s| s.init_containers.iter().flatten())
                .any(|x| x.name == c);
            r.field_path = Some(if init {
                format!("spec.initContainers{{{c}}}")
            } else {
                format!("spec.containers{{{c}}}")
            });
        }
        let t = if warning {
            rudder_client::events::EventType::Warning
        } else {
            rudder_client::events::EventType::Normal
        };
        rec.record(&r, t, reason, reason, message);
    }

    /// Records an event about this node (upstream's node reference: the name as uid).
    pub fn node_event(&self, warning: bool, reason: &str, message: &str) {
        let Some(rec) = &self.events else { return };
        let r = k8s_openapi::api::core::v1::ObjectReference {
            kind: Some("Node".into()),
            name: Some(self.facts.name.clone()),
            uid: Some(self.facts.name.clone()),
            ..Default::default()
        };
        let t = if warning {
            rudder_client::events::EventType::Warning
        } else {
            rudder_client::events::EventType::Normal
        };
        rec.record(&r, t, reason, reason, message);
    }
}

impl std::fmt::Debug for PodContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodContext")
            .field("node", &self.facts.name)
            .finish()
    }
}

struct Handle {
    tx: watch::Sender<Option<Arc<Pod>>>,
    /// Wakes the worker when the relist saw its pod's runtime state change.
    wake: Arc<tokio::sync::Notify>,
    evict: worker::EvictSlot,
    task: tokio::task::JoinHandle<()>,
}

/// Watches this node's pods and keeps one worker per pod.
#[derive(Debug)]
pub struct PodManager {
    ctx: Arc<PodContext>,
}

impl PodManager {
    pub fn new(ctx: Arc<PodContext>) -> Self {
        PodManager { ctx }
    }

    fn dispatch(&self, workers: &mut HashMap<String, Handle>, pod: Pod, shutdown: &Shutdown) {
        let uid = names::uid(&pod);
        if uid.is_empty() {
            return;
        }
        let pod = Arc::new(pod);
        if let Some(h) = workers.get(&uid)
            && !h.task.is_finished()
        {
            h.tx.send_replace(Some(pod));
            return;
        }
        let (tx, rx) = watch::channel(Some(pod));
        let w = worker::Worker::new(self.ctx.clone(), uid.clone());
        let wake = w.waker();
        let evict = w.evict_slot();
        let task = tokio::spawn(w.run(rx, shutdown.clone()));
        workers.insert(
            uid,
            Handle {
                tx,
                wake,
                evict,
                task,
            },
        );
    }

    /// Removes what the runtime and the disk hold of pods that have no worker (sandboxes, log
    /// folders, cgroups, pod directories); with `dead_containers`, also dead containers and
    /// empty old sandboxes beyond the container GC policy.
    async fn housekeeping(&self, workers: &mut HashMap<String, Handle>, dead_containers: bool) {
        workers.retain(|_, h| !h.task.is_finished());
        let known: HashSet<String> = workers.keys().cloned().collect();
        if let Err(e) = crate::gc::collect_containers(&self.ctx, &known, dead_containers).await {
            warn!(error = %e, "container garbage collection");
        }
        if let Ok(dirs) = std::fs::read_dir(self.ctx.config.root_dir.join("pods")) {
            for d in dirs.flatten() {
                let uid = d.file_name().to_string_lossy().into_owned();
                if !known.contains(&uid) {
                    volumes::teardown(&d.path());
                }
            }
        }
    }

    /// The eviction manager's round: under a hard threshold, evicts one pod (upstream's
    /// ranking) and remembers it, so each round reclaims from a new pod.
    fn evict_under_pressure(&self, workers: &HashMap<String, Handle>, evicted: &mut HashSet<String>) {
        let machine = crate::node::machine::Machine::read(&self.ctx.config.root_dir);
        let health = crate::node::build::Health::of(&machine, None);
        let signals = crate::eviction::signals(&health, &self.ctx.config.eviction_hard);
        let Some(pressure) = signals.memory.or(signals.disk).or(signals.pid) else {
            return;
        };
        let pods: Vec<Arc<Pod>> = workers
            .iter()
            .filter(|(uid, h)| !evicted.contains(*uid) && !h.task.is_finished())
            .filter_map(|(_, h)| h.tx.borrow().clone())
            .collect();
        let Some(victim) = crate::eviction::victim(pods.iter().map(|p| p.as_ref())) else {
            return;
        };
        let uid = names::uid(victim);
        if let Some(h) = workers.get(&uid) {
            info!(pod = %names::name(victim), namespace = %names::namespace(victim), resource = pressure.resource, "eviction manager: evicting");
            *h.evict.lock() = Some(pressure);
            h.wake.notify_one();
            evicted.insert(uid);
        }
    }

    /// Runs static pods from `--pod-manifest-path` and keeps their mirror pods in the API.
    async fn sync_static(
        &self,
        workers: &mut HashMap<String, Handle>,
        statics: &mut HashMap<String, Arc<Pod>>,
        mirrors: &HashMap<(String, String), Pod>,
        shutdown: &Shutdown,
    ) {
        let Some(dir) = &self.ctx.config.pod_manifest_path else {
            return;
        };
        let current: HashMap<String, Pod> = static_pods::read_dir(dir, &self.ctx.facts.name)
            .into_iter()
            .map(|p| (names::uid(&p), p))
            .collect();
        let gone: Vec<String> = statics
            .keys()
            .filter(|u| !current.contains_key(*u))
            .cloned()
            .collect();
        for uid in gone {
            statics.remove(&uid);
            if let Some(h) = workers.get(&uid) {
                h.tx.send_replace(None);
            }
        }
        for (uid, pod) in current {
            if let std::collections::hash_map::Entry::Vacant(slot) = statics.entry(uid) {
                info!(pod = %names::name(&pod), "static pod");
                self.dispatch(workers, pod.clone(), shutdown);
                slot.insert(Arc::new(pod));
            }
        }
        // Mirror pods: create missing ones, replace outdated or deleted ones, remove orphans.
        let api = |ns: &str| -> Api<Pod> { Api::namespaced(self.ctx.client.clone(), ns) };
        let force = |uid: Option<String>| kube::api::DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(kube::api::Preconditions {
                uid,
                resource_version: None,
            }),
            ..Default::default()
        };
        let node_uid = match Api::<k8s_openapi::api::core::v1::Node>::all(self.ctx.client.clone())
            .get_opt(&self.ctx.facts.name)
            .await
        {
            Ok(Some(n)) => n.metadata.uid,
            _ => None,
        };
        let mut wanted = HashSet::new();
        for sp in statics.values() {
            let key = (names::namespace(sp), names::name(sp));
            wanted.insert(key.clone());
            let hash = sp
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(static_pods::CONFIG_HASH))
                .cloned();
            match mirrors.get(&key) {
                None => {
                    let m = static_pods::mirror_of(sp, &self.ctx.facts.name, node_uid.as_deref());
                    match api(&key.0).create(&kube::api::PostParams::default(), &m).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(s)) if s.code == 409 => {}
                        Err(e) => warn!(pod = %key.1, error = %e, "create mirror pod"),
                    }
                }
                Some(m) => {
                    let outdated = m
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(static_pods::CONFIG_MIRROR))
                        != hash.as_ref();
                    if outdated || m.metadata.deletion_timestamp.is_some() {
                        let _ = api(&key.0).delete(&key.1, &force(m.metadata.uid.clone())).await;
                    }
                }
            }
        }
        for (key, m) in mirrors {
            if !wanted.contains(key) {
                let _ = api(&key.0).delete(&key.1, &force(m.metadata.uid.clone())).await;
            }
        }
    }

    /// Runs until shutdown. Running pods are left running on shutdown, as upstream.
    pub async fn run(self, shutdown: Shutdown) {
        let api: Api<Pod> = Api::all(self.ctx.client.clone());
        let cfg = watcher::Config::default().fields(&format!("spec.nodeName={}", self.ctx.facts.name));
        let mut stream = watcher(api, cfg).boxed();
        let mut workers: HashMap<String, Handle> = HashMap::new();
        let mut synced = false;
        let mut listed: HashSet<String> = HashSet::new();
        // Static pods by uid, and the mirror pods seen in the API by (namespace, name).
        let mut statics: HashMap<String, Arc<Pod>> = HashMap::new();
        let mut mirrors: HashMap<(String, String), Pod> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        let mut relist = tokio::time::interval(self.ctx.config.pleg_relist_period);
        relist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_relist = HashMap::new();
        let mut eviction_tick = tokio::time::interval(self.ctx.config.eviction_monitoring_period);
        eviction_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut evicted: HashSet<String> = HashSet::new();
        // The first ticks fire at once, before the pods are listed, and are skipped then.
        let mut container_gc = tokio::time::interval(self.ctx.config.container_gc_period);
        container_gc.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut image_gc_tick = tokio::time::interval(self.ctx.config.image_gc_period);
        image_gc_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut image_gc = crate::gc::ImageGc::default();
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = eviction_tick.tick() => if synced {
                    evicted.retain(|uid| workers.contains_key(uid));
                    self.evict_under_pressure(&workers, &mut evicted);
                },
                _ = relist.tick() => match pleg::relist(self.ctx.runtime.as_ref()).await {
                    Ok(now) => {
                        for uid in pleg::changed(&last_relist, &now) {
                            if let Some(h) = workers.get(&uid) {
                                h.wake.notify_one();
                            }
                        }
                        last_relist = now;
                    }
                    Err(e) => warn!(error = %e, "relist the runtime"),
                },
                _ = tick.tick() => if synced {
                    self.sync_static(&mut workers, &mut statics, &mirrors, &shutdown).await;
                    self.housekeeping(&mut workers, false).await;
                },
                _ = container_gc.tick() => if synced {
                    self.housekeeping(&mut workers, true).await;
                },
                _ = image_gc_tick.tick() => if synced
                    && let Err(e) = image_gc.collect(&self.ctx).await
                {
                    warn!(error = %e, "image garbage collection");
                    self.ctx.node_event(true, "ImageGCFailed", &e.to_string());
                },
                ev = stream.next() => match ev {
                    None => break,
                    Some(Err(e)) => {
                        warn!(error = %e, "watch pods");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Some(Ok(ev)) => match ev {
                        watcher::Event::Init => listed.clear(),
                        watcher::Event::InitApply(pod) | watcher::Event::Apply(pod) if static_pods::is_mirror(&pod) => {
                            mirrors.insert((names::namespace(&pod), names::name(&pod)), pod);
                        }
                        watcher::Event::Delete(pod) if static_pods::is_mirror(&pod) => {
                            mirrors.remove(&(names::namespace(&pod), names::name(&pod)));
                        }
                        watcher::Event::InitApply(pod) => {
                            listed.insert(names::uid(&pod));
                            self.dispatch(&mut workers, pod, &shutdown);
                        }
                        watcher::Event::InitDone => {
                            // Pods that vanished while we were not watching.
                            for (uid, h) in &workers {
                                if !listed.contains(uid) && !statics.contains_key(uid) {
                                    h.tx.send_replace(None);
                                }
                            }
                            if !synced {
                                synced = true;
                                self.housekeeping(&mut workers, false).await;
                            }
                        }
                        watcher::Event::Apply(pod) => self.dispatch(&mut workers, pod, &shutdown),
                        watcher::Event::Delete(pod) => {
                            if let Some(h) = workers.get(&names::uid(&pod)) {
                                h.tx.send_replace(None);
                            }
                        }
                    },
                },
            }
        }
        for (_, h) in workers {
            drop(h.tx);
            let _ = tokio::time::timeout(Duration::from_secs(5), h.task).await;
        }
    }
}
