//! One pod's worker: observes the runtime, plans, acts, and reports status; on deletion it
//! runs preStop hooks, stops containers within the grace period, removes the sandbox and the
//! pod's directories, and deletes the pod object with grace 0.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::{
    ConfigMap, Container, PersistentVolume, PersistentVolumeClaim, Pod, PodStatus, Secret, Service,
};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use tokio::sync::{Notify, watch};
use tokio::task::AbortHandle;
use tracing::{debug, info, warn};

use super::backoff::Backoff;
use super::env::{self, Sources};
use super::observed::{Observed, State};
use super::{PodContext, dns, hooks, names, plan, probe, runtime, spec, status, volumes};

mod evict;
mod images;
mod probers;
mod sources;
mod start;
mod terminate;

pub use terminate::cleanup_dirs;

/// Upstream's floor for a stop's grace period.
const MIN_GRACE_SECONDS: i64 = 2;

pub struct Worker {
    ctx: Arc<PodContext>,
    uid: String,
    backoff: Backoff,
    image_failures: HashMap<String, SystemTime>,
    waiting: HashMap<String, (String, String)>,
    probes: probe::Results,
    notify: Arc<Notify>,
    probers: HashMap<String, AbortHandle>,
    last_status: Option<PodStatus>,
    sources: Sources,
    sources_at: Option<tokio::time::Instant>,
    services_at: Option<tokio::time::Instant>,
    volumes: Option<HashMap<String, PathBuf>>,
    volume_error: Option<String>,
    sandbox_attempts: u32,
    last_backoff: HashMap<String, String>,
    /// When the worker began, and how long each startup step took to finish from then (logged
    /// once when the pod is first reported Running: where pod start latency goes).
    born: tokio::time::Instant,
    startup_marks: Vec<(String, Duration)>,
    reported_running: bool,
    /// Set by the eviction manager; once evicted the pod stays Failed and never runs again.
    evict_slot: EvictSlot,
    evicted: bool,
    /// A slot among the runtime starts in flight, from sandbox creation until the pod's
    /// containers were started.
    start_permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Where the eviction manager leaves the reason to evict a worker's pod.
pub type EvictSlot = Arc<parking_lot::Mutex<Option<crate::eviction::Pressure>>>;

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("uid", &self.uid).finish()
    }
}

impl Worker {
    pub fn new(ctx: Arc<PodContext>, uid: String) -> Self {
        let backoff = Backoff::new(
            ctx.config.crash_loop_backoff_initial,
            ctx.config.crash_loop_backoff_max,
        );
        Worker {
            ctx,
            uid,
            backoff,
            image_failures: HashMap::new(),
            waiting: HashMap::new(),
            probes: Default::default(),
            notify: Arc::new(Notify::new()),
            probers: HashMap::new(),
            last_status: None,
            sources: Sources::default(),
            sources_at: None,
            services_at: None,
            volumes: None,
            volume_error: None,
            sandbox_attempts: 0,
            last_backoff: HashMap::new(),
            born: tokio::time::Instant::now(),
            startup_marks: Vec::new(),
            reported_running: false,
            evict_slot: Default::default(),
            evicted: false,
            start_permit: None,
        }
    }

    /// What the runtime has for the pod. A host-network pod's IP is the node's (the runtime
    /// reports none for it), as upstream.
    async fn observe(&self, pod: &Pod) -> Result<Observed, crate::cri::CriError> {
        let mut obs = runtime::observe(self.ctx.runtime.as_ref(), &self.uid).await?;
        if pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false) {
            for sb in obs.sandboxes.iter_mut().filter(|s| s.ip.is_empty()) {
                sb.ip = self.ctx.facts.ip.to_string();
            }
        }
        Ok(obs)
    }

    /// Wakes the worker for a fresh look (probe results, runtime state changes).
    pub fn waker(&self) -> Arc<Notify> {
        self.notify.clone()
    }

    /// Where to ask this worker to evict its pod (then wake it).
    pub fn evict_slot(&self) -> EvictSlot {
        self.evict_slot.clone()
    }

    fn pod_dir(&self) -> PathBuf {
        names::pod_dir(&self.ctx.config.root_dir, &self.uid)
    }

    /// Runs until the pod is gone (deleted through the API, or terminated after its object
    /// disappeared) or the kubelet shuts down.
    pub async fn run(
        mut self,
        mut updates: watch::Receiver<Option<Arc<Pod>>>,
        shutdown: rudder_component::shutdown::Shutdown,
    ) {
        let mut last_pod: Option<Arc<Pod>> = None;
        loop {
            let current = updates.borrow_and_update().clone();
            let wake = match current {
                None => {
                    // The object is gone (force-deleted): clean up what runs.
                    if let Some(pod) = last_pod.take() {
                        let grace = pod
                            .spec
                            .as_ref()
                            .and_then(|s| s.termination_grace_period_seconds)
                            .unwrap_or(30);
                        self.terminate(&pod, grace).await;
                    }
                    return;
                }
                Some(pod) if pod.metadata.deletion_timestamp.is_some() => {
                    let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(30);
                    self.terminate(&pod, grace).await;
                    self.delete_object(&pod).await;
                    return;
                }
                Some(pod) => {
                    last_pod = Some(pod.clone());
                    let pressure = self.evict_slot.lock().take();
                    if let Some(p) = pressure.filter(|_| !self.evicted) {
                        self.evict(&pod, &p).await;
                    }
                    if self.evicted {
                        // Failed for good: wait for the object's deletion.
                        None
                    } else {
                        match self.sync(&pod).await {
                            Ok(w) => w,
                            Err(e) => {
                                warn!(pod = %names::name(&pod), namespace = %names::namespace(&pod), error = %e, "sync pod");
                                Some(Duration::from_secs(1))
                            }
                        }
                    }
                }
            };
            let wait = wake
                .unwrap_or(self.ctx.config.pod_resync_period)
                .min(self.ctx.config.pod_resync_period);
            tokio::select! {
                r = updates.changed() => if r.is_err() {
                    // The manager dropped us (shutdown); leave the pod running, as upstream.
                    return;
                },
                _ = self.notify.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    fn grace(pod: &Pod) -> i64 {
        pod.spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30)
    }

    /// One round: observe, plan, act, report. Returns when to look again at the latest.
    async fn sync(&mut self, pod: &Pod) -> Result<Option<Duration>, crate::cri::CriError> {
        let rt = self.ctx.runtime.clone();
        if self.startup_marks.is_empty() {
            self.mark("first-sync");
        }
        self.refresh_sources(pod).await;
        let pod_ip_hint = self
            .last_status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .unwrap_or_default();
        match volumes::setup(pod, &self.pod_dir(), &self.sources, &self.ctx.facts, &pod_ip_hint) {
            Ok(v) => {
                self.volumes = Some(v);
                self.volume_error = None;
            }
            Err(e) => {
                if self.volume_error.as_ref() != Some(&e) {
                    warn!(pod = %names::name(pod), error = %e, "volumes not ready");
                }
                self.volume_error = Some(e);
            }
        }
        let mut obs = self.observe(pod).await?;
        let liveness_failed: HashSet<String> = self
            .probes
            .lock()
            .iter()
            .filter(|(_, s)| s.liveness_failed)
            .map(|(id, _)| id.clone())
            .collect();
        let p = plan::plan(pod, &obs, &liveness_failed, &mut self.backoff, SystemTime::now());
        let mut acted = false;
        for id in &p.stop_sandboxes {
            match rt.stop_pod_sandbox(id).await {
                Err(e) if !e.is_not_found() => return Err(e),
                _ => acted = true,
            }
        }
        if p.create_sandbox && self.volumes.is_some() {
            // Old sandboxes stay (stopped) until collected, and a sandbox's name carries its
            // attempt: the new one takes the next (also after a kubelet restart).
            let next = obs.sandboxes.iter().map(|s| s.attempt + 1).max().unwrap_or(0);
            self.sandbox_attempts = self.sandbox_attempts.max(next);
            match self.run_sandbox(pod).await {
                Ok(id) => {
                    debug!(pod = %names::name(pod), sandbox = %id, "started sandbox");
                    // Go straight on to the containers: no status write, no wait in between.
                    return Ok(Some(Duration::ZERO));
                }
                Err(e) => {
                    warn!(pod = %names::name(pod), error = %e, "create sandbox");
                    for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
                        self.waiting
                            .insert(c.name.clone(), ("ContainerCreating".into(), String::new()));
                    }
                }
            }
            acted = true;
        }
        for (id, name, why) in &p.kill {
            info!(pod = %names::name(pod), container = %name, reason = %why, "killing container");
            self.ctx.event(
                pod,
                Some(name),
                false,
                "Killing",
                &format!("Stopping container {name}: {why}"),
            );
            let c = pod
                .spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .find(|c| &c.name == name);
            let grace = c
                .and_then(|c| c.liveness_probe.as_ref())
                .and_then(|p| p.termination_grace_period_seconds)
                .unwrap_or_else(|| Self::grace(pod))
                .max(MIN_GRACE_SECONDS);
            if let Err(e) = rt.stop_container(id, grace).await {
                warn!(container = %name, error = %e, "stop container");
            }
            self.forget_probes(id);
            acted = true;
        }
        if !p.start.is_empty() && self.volumes.is_some() {
            let all: Vec<Container> = pod
                .spec
                .iter()
                .flat_map(|s| s.init_containers.iter().flatten().chain(s.containers.iter()))
                .cloned()
                .collect();
            if !p.kill.is_empty() || p.create_sandbox {
                obs = self.observe(pod).await?;
            }
            for name in &p.start {
                let Some(c) = all.iter().find(|c| &c.name == name) else {
                    continue;
                };
                match self.start_container(pod, c, &obs).await {
                    Ok(()) => {
                        self.waiting.remove(name);
                    }
                    Err((reason, message)) => {
                        debug!(container = %name, %reason, %message, "container not started");
                        self.waiting.insert(name.clone(), (reason, message));
                    }
                }
            }
            acted = true;
        }
        for (name, msg) in &p.backing_off {
            if self.last_backoff.insert(name.clone(), msg.clone()).as_ref() != Some(msg) {
                self.ctx.event(
                    pod,
                    Some(name),
                    true,
                    "BackOff",
                    &format!(
                        "Back-off restarting failed container {name} in pod {}_{}({})",
                        names::name(pod),
                        names::namespace(pod),
                        self.uid
                    ),
                );
            }
        }
        if acted {
            obs = self.observe(pod).await?;
        }
        self.manage_probers(pod, &obs);
        let probes = self.probes.lock().clone();
        // Transition times and startTime carry over from what this worker last wrote (a static
        // pod has no API status of its own).
        let mut for_status = pod.clone();
        if let Some(last) = &self.last_status {
            for_status.status = Some(last.clone());
        }
        let st = status::compute(
            &for_status,
            &status::Inputs {
                observed: &obs,
                probes: &probes,
                waiting: &self.waiting,
                backing_off: &p.backing_off,
                host_ip: self.ctx.facts.ip.to_string(),
            },
            crate::node::now(),
        );
        let terminal = matches!(st.phase.as_deref(), Some("Succeeded" | "Failed"));
        let any_running = obs
            .containers
            .values()
            .any(|v| v.first().is_some_and(|i| i.state == State::Running));
        if terminal && !any_running {
            // A finished pod keeps no sandbox (upstream stops it; containers stay for logs).
            for sb in obs.sandboxes.iter().filter(|s| s.ready) {
                let _ = rt.stop_pod_sandbox(&sb.id).await;
            }
        }
        self.write_status(pod, st).await;
        let wake = p
            .wake_at
            .map(|w| w.duration_since(SystemTime::now()).unwrap_or_default() + Duration::from_millis(50));
        // Containers just started or a sandbox just made: look again soon for their state.
        let soon = Duration::from_millis(200);
        self.start_permit = None;
        Ok(if acted {
            Some(wake.map_or(soon, |w| w.min(soon)))
        } else {
            wake
        })
    }

    async fn write_status(&mut self, pod: &Pod, st: PodStatus) {
        if self.last_status.as_ref() == Some(&st) {
            return;
        }
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &names::namespace(pod));
        let patch = serde_json::json!({ "status": st });
        match api
            .patch_status(&names::name(pod), &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                if !self.reported_running && st.phase.as_deref() == Some("Running") {
                    self.reported_running = true;
                    let steps: Vec<String> = self
                        .startup_marks
                        .iter()
                        .map(|(step, at)| format!("{step}={}ms", at.as_millis()))
                        .collect();
                    info!(
                        pod = %names::name(pod),
                        namespace = %names::namespace(pod),
                        running_reported_ms = self.born.elapsed().as_millis() as u64,
                        steps = %steps.join(" "),
                        "pod reported Running"
                    );
                }
                self.last_status = Some(st);
            }
            Err(e) => warn!(pod = %names::name(pod), error = %e, "update pod status"),
        }
    }

    /// Notes that a startup step finished (only until the pod first runs).
    fn mark(&mut self, step: impl Into<String>) {
        if !self.reported_running {
            self.startup_marks.push((step.into(), self.born.elapsed()));
        }
    }
}
