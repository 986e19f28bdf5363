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
use super::{PodContext, hooks, names, plan, probe, runtime, spec, status, volumes};

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
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("uid", &self.uid).finish()
    }
}

fn default_pull_policy(image: &str) -> &'static str {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || (last.contains(':') && !last.ends_with(":latest")) {
        "IfNotPresent"
    } else {
        "Always"
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
        }
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
                    match self.sync(&pod).await {
                        Ok(w) => w,
                        Err(e) => {
                            warn!(pod = %names::name(&pod), namespace = %names::namespace(&pod), error = %e, "sync pod");
                            Some(Duration::from_secs(1))
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

    async fn refresh_sources(&mut self, pod: &Pod) {
        let fresh = self
            .sources_at
            .is_some_and(|t| t.elapsed() < self.ctx.config.pod_resync_period);
        if fresh {
            return;
        }
        let (cms, secrets) = env::referenced(pod);
        let ns = names::namespace(pod);
        let mut src = Sources::default();
        let cm_api: Api<ConfigMap> = Api::namespaced(self.ctx.client.clone(), &ns);
        for name in cms {
            match cm_api.get_opt(&name).await {
                Ok(v) => {
                    src.config_maps.insert(name, v);
                }
                Err(e) => {
                    warn!(configmap = %name, error = %e, "get configmap");
                    if let Some(old) = self.sources.config_maps.get(&name) {
                        src.config_maps.insert(name, old.clone());
                    }
                }
            }
        }
        let secret_api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &ns);
        for name in secrets {
            match secret_api.get_opt(&name).await {
                Ok(v) => {
                    src.secrets.insert(name, v);
                }
                Err(e) => {
                    warn!(secret = %name, error = %e, "get secret");
                    if let Some(old) = self.sources.secrets.get(&name) {
                        src.secrets.insert(name, old.clone());
                    }
                }
            }
        }
        src.services = std::mem::take(&mut self.sources.services);
        for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            if let Some(c) = &v.persistent_volume_claim {
                let path = self.claim_path(&ns, &c.claim_name).await;
                src.claims.insert(c.claim_name.clone(), path);
            }
        }
        self.sources = src;
        self.sources_at = Some(tokio::time::Instant::now());
    }

    /// Credentials for the image from the pod's imagePullSecrets, if any match its registry.
    async fn pull_auth(&self, pod: &Pod, image: &str) -> Option<crate::cri::api::AuthConfig> {
        let refs = pod.spec.as_ref()?.image_pull_secrets.clone()?;
        let api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &names::namespace(pod));
        let mut secrets = Vec::new();
        for r in refs {
            match api.get_opt(&r.name).await {
                Ok(Some(s)) => secrets.push(s),
                Ok(None) => warn!(secret = %r.name, "image pull secret not found"),
                Err(e) => warn!(secret = %r.name, error = %e, "get image pull secret"),
            }
        }
        super::pull_secrets::auth_for(image, &secrets)
    }

    /// The host path behind a bound claim (hostPath or local persistent volumes).
    async fn claim_path(&self, ns: &str, claim: &str) -> Result<PathBuf, String> {
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(self.ctx.client.clone(), ns);
        let pvc = pvcs
            .get_opt(claim)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("persistentvolumeclaim \"{claim}\" not found"))?;
        let volume = pvc
            .spec
            .and_then(|s| s.volume_name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("persistentvolumeclaim \"{claim}\" is not bound"))?;
        let pvs: Api<PersistentVolume> = Api::all(self.ctx.client.clone());
        let pv = pvs
            .get_opt(&volume)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("persistentvolume \"{volume}\" not found"))?;
        let spec = pv.spec.unwrap_or_default();
        if let Some(h) = spec.host_path {
            if h.type_.as_deref() == Some("DirectoryOrCreate") {
                std::fs::create_dir_all(&h.path).map_err(|e| format!("{}: {e}", h.path))?;
            }
            return Ok(PathBuf::from(h.path));
        }
        if let Some(l) = spec.local {
            return Ok(PathBuf::from(l.path));
        }
        Err(format!(
            "persistentvolume \"{volume}\" is neither hostPath nor local: not supported"
        ))
    }

    /// Services for the service environment variables; fetched only when containers start.
    async fn load_services(&mut self, pod: &Pod) {
        if self
            .services_at
            .is_some_and(|t| t.elapsed() < self.ctx.config.pod_resync_period)
        {
            return;
        }
        let ns = names::namespace(pod);
        let links = pod
            .spec
            .as_ref()
            .and_then(|s| s.enable_service_links)
            .unwrap_or(true);
        let mut services = Vec::new();
        if links {
            let api: Api<Service> = Api::namespaced(self.ctx.client.clone(), &ns);
            match api.list(&Default::default()).await {
                Ok(l) => services.extend(l.items),
                Err(e) => warn!(namespace = %ns, error = %e, "list services"),
            }
        }
        if !links || ns != "default" {
            let api: Api<Service> = Api::namespaced(self.ctx.client.clone(), "default");
            if let Ok(Some(k)) = api.get_opt("kubernetes").await {
                services.push(k);
            }
        }
        self.sources.services = services;
        self.services_at = Some(tokio::time::Instant::now());
    }

    /// Makes sure the image is there per imagePullPolicy; Err is (reason, message).
    async fn ensure_image(&mut self, pod: &Pod, c: &Container) -> Result<(), (String, String)> {
        let r = self.ensure_image_inner(pod, c).await;
        if let Err((reason, message)) = &r {
            let ev = if reason == "ImagePullBackOff" {
                "BackOff"
            } else {
                "Failed"
            };
            self.ctx.event(pod, Some(&c.name), true, ev, message);
        }
        r
    }

    async fn ensure_image_inner(&mut self, pod: &Pod, c: &Container) -> Result<(), (String, String)> {
        let image = c.image.clone().unwrap_or_default();
        let policy = c
            .image_pull_policy
            .clone()
            .unwrap_or_else(|| default_pull_policy(&image).into());
        let present = matches!(self.ctx.images.image_status(&image).await, Ok(Some(_)));
        match policy.as_str() {
            "Never" if !present => {
                return Err((
                    "ErrImageNeverPull".into(),
                    format!("Container image \"{image}\" is not present with pull policy of Never"),
                ));
            }
            "Never" => return Ok(()),
            "IfNotPresent" if present => {
                self.ctx.event(
                    pod,
                    Some(&c.name),
                    false,
                    "Pulled",
                    &format!("Container image \"{image}\" already present on machine"),
                );
                return Ok(());
            }
            _ => {}
        }
        let key = format!("image:{image}");
        if let Some(failed) = self.image_failures.get(&key)
            && self
                .backoff
                .in_backoff_since(&key, *failed, SystemTime::now())
                .is_some()
        {
            return Err((
                "ImagePullBackOff".into(),
                format!("Back-off pulling image \"{image}\""),
            ));
        }
        self.ctx.event(
            pod,
            Some(&c.name),
            false,
            "Pulling",
            &format!("Pulling image \"{image}\""),
        );
        let started = std::time::Instant::now();
        let auth = self.pull_auth(pod, &image).await;
        match self.ctx.images.pull_image(&image, auth).await {
            Ok(_) => {
                self.ctx.event(
                    pod,
                    Some(&c.name),
                    false,
                    "Pulled",
                    &format!("Successfully pulled image \"{image}\" in {:?}", started.elapsed()),
                );
                self.image_failures.remove(&key);
                self.backoff.forget(&key);
                Ok(())
            }
            Err(e) => {
                let now = SystemTime::now();
                self.backoff.next(&key, now);
                self.image_failures.insert(key, now);
                Err(("ErrImagePull".into(), e.to_string()))
            }
        }
    }

    async fn start_container(
        &mut self,
        pod: &Pod,
        c: &Container,
        obs: &Observed,
    ) -> Result<(), (String, String)> {
        self.ensure_image(pod, c).await?;
        let Some(sandbox) = obs.ready_sandbox() else {
            return Err(("ContainerCreating".into(), String::new()));
        };
        self.load_services(pod).await;
        let env = env::environment(pod, c, &self.sources, &self.ctx.facts, &sandbox.ip)
            .map_err(|m| ("CreateContainerConfigError".to_string(), m))?;
        let vols = self.volumes.clone().unwrap_or_default();
        let mounts = volumes::mounts(c, &vols).map_err(|m| ("CreateContainerConfigError".to_string(), m))?;
        let restart_count = obs.latest(&c.name).map_or(0, |i| i.restart_count + 1);
        let cfg = spec::container_config(
            pod,
            c,
            spec::ContainerInputs {
                restart_count,
                env,
                mounts,
                node_memory: self.ctx.facts.allocatable_memory,
            },
        );
        let sandbox_cfg = spec::sandbox_config(pod, &self.ctx.config, self.sandbox_attempts);
        let id = self
            .ctx
            .runtime
            .create_container(&sandbox.id, cfg, sandbox_cfg)
            .await
            .map_err(|e| ("CreateContainerError".to_string(), e.to_string()))?;
        self.ctx.event(
            pod,
            Some(&c.name),
            false,
            "Created",
            &format!("Created container: {}", c.name),
        );
        if let Err(e) = self.ctx.runtime.start_container(&id).await {
            self.ctx
                .event(pod, Some(&c.name), true, "Failed", &format!("Error: {e}"));
            return Err(("RunContainerError".into(), e.to_string()));
        }
        self.ctx.event(
            pod,
            Some(&c.name),
            false,
            "Started",
            &format!("Started container {}", c.name),
        );
        info!(pod = %names::name(pod), namespace = %names::namespace(pod), container = %c.name, restart_count, "started container");
        if let Some(h) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            // A failing postStart kills the container, which then restarts per policy.
            if !hooks::run(h, c, self.ctx.runtime.as_ref(), &id, &sandbox.ip, 30).await {
                let _ = self.ctx.runtime.stop_container(&id, MIN_GRACE_SECONDS).await;
            }
        }
        Ok(())
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
        let mut obs = runtime::observe(rt.as_ref(), &self.uid).await?;
        let liveness_failed: HashSet<String> = self
            .probes
            .lock()
            .iter()
            .filter(|(_, s)| s.liveness_failed)
            .map(|(id, _)| id.clone())
            .collect();
        let p = plan::plan(pod, &obs, &liveness_failed, &mut self.backoff, SystemTime::now());
        let mut acted = false;
        if !p.remove_sandboxes.is_empty() {
            runtime::remove_sandboxes(&rt, &p.remove_sandboxes).await?;
            acted = true;
        }
        if p.create_sandbox && self.volumes.is_some() {
            std::fs::create_dir_all(spec::sandbox_config(pod, &self.ctx.config, 0).log_directory).ok();
            let cfg = spec::sandbox_config(pod, &self.ctx.config, self.sandbox_attempts);
            self.sandbox_attempts += 1;
            match rt.run_pod_sandbox(cfg).await {
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
                obs = runtime::observe(rt.as_ref(), &self.uid).await?;
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
        for id in &p.remove_containers {
            let _ = rt.remove_container(id).await;
        }
        if acted {
            obs = runtime::observe(rt.as_ref(), &self.uid).await?;
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
        Ok(if acted {
            Some(wake.map_or(soon, |w| w.min(soon)))
        } else {
            wake
        })
    }

    fn forget_probes(&mut self, container_id: &str) {
        if let Some(h) = self.probers.remove(container_id) {
            h.abort();
        }
        self.probes.lock().remove(container_id);
    }

    fn manage_probers(&mut self, pod: &Pod, obs: &Observed) {
        let Some(spec) = &pod.spec else { return };
        let ip = obs.ready_sandbox().map(|s| s.ip.clone()).unwrap_or_default();
        let mut live = HashSet::new();
        for c in &spec.containers {
            let Some(i) = obs.latest(&c.name).filter(|i| i.state == State::Running) else {
                continue;
            };
            if !probe::has_probes(c) {
                continue;
            }
            live.insert(i.id.clone());
            if !self.probers.contains_key(&i.id) {
                let task = tokio::spawn(probe::run(
                    c.clone(),
                    i.id.clone(),
                    ip.clone(),
                    self.ctx.runtime.clone(),
                    self.probes.clone(),
                    self.notify.clone(),
                ));
                self.probers.insert(i.id.clone(), task.abort_handle());
            }
        }
        let gone: Vec<String> = self
            .probers
            .keys()
            .filter(|id| !live.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            self.forget_probes(&id);
        }
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
            Ok(_) => self.last_status = Some(st),
            Err(e) => warn!(pod = %names::name(pod), error = %e, "update pod status"),
        }
    }

    /// Stops everything of the pod: preStop hooks and SIGTERM within `grace` seconds (then
    /// SIGKILL by the runtime), sandbox removal, pod and log directories, cgroups.
    async fn terminate(&mut self, pod: &Pod, grace: i64) {
        let rt = self.ctx.runtime.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(grace.max(0) as u64);
        for id in self.probers.keys().cloned().collect::<Vec<_>>() {
            self.forget_probes(&id);
        }
        let obs = match runtime::observe(rt.as_ref(), &self.uid).await {
            Ok(o) => o,
            Err(e) => {
                warn!(pod = %names::name(pod), error = %e, "observe for termination");
                Observed::default()
            }
        };
        let ip = obs.sandbox().map(|s| s.ip.clone()).unwrap_or_default();
        let containers: Vec<Container> = pod
            .spec
            .iter()
            .flat_map(|s| s.init_containers.iter().flatten().chain(s.containers.iter()))
            .cloned()
            .collect();
        let mut stops = Vec::new();
        for (name, instances) in &obs.containers {
            for i in instances
                .iter()
                .filter(|i| i.state == State::Running || i.state == State::Created)
            {
                let c = containers.iter().find(|c| &c.name == name).cloned();
                let rt = rt.clone();
                let id = i.id.clone();
                let ip = ip.clone();
                stops.push(async move {
                    if let Some(c) = &c
                        && let Some(h) = c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref())
                    {
                        let _ =
                            tokio::time::timeout_at(deadline, hooks::run(h, c, rt.as_ref(), &id, &ip, grace))
                                .await;
                    }
                    let left = deadline
                        .saturating_duration_since(tokio::time::Instant::now())
                        .as_secs() as i64;
                    if let Err(e) = rt.stop_container(&id, left.max(MIN_GRACE_SECONDS)).await
                        && !e.is_not_found()
                    {
                        warn!(container = %id, error = %e, "stop container");
                    }
                });
            }
        }
        futures::future::join_all(stops).await;
        let ids: Vec<String> = obs.sandboxes.iter().map(|s| s.id.clone()).collect();
        if let Err(e) = runtime::remove_sandboxes(&rt, &ids).await {
            warn!(pod = %names::name(pod), error = %e, "remove sandbox");
        }
        cleanup_dirs(&self.ctx, pod);
        info!(pod = %names::name(pod), namespace = %names::namespace(pod), "pod terminated");
    }

    async fn delete_object(&self, pod: &Pod) {
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &names::namespace(pod));
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&names::name(pod), &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => warn!(pod = %names::name(pod), error = %e, "delete pod"),
        }
    }
}

/// Removes the pod's directory (volumes), its log directory and its cgroups.
pub fn cleanup_dirs(ctx: &PodContext, pod: &Pod) {
    let uid = names::uid(pod);
    volumes::teardown(&names::pod_dir(&ctx.config.root_dir, &uid));
    let _ = std::fs::remove_dir_all(names::log_dir(
        &ctx.config.pod_logs_dir,
        &names::namespace(pod),
        &names::name(pod),
        &uid,
    ));
    names::remove_pod_cgroups(&names::cgroup_parent(
        ctx.config.cgroup_driver,
        &ctx.config.cgroup_root,
        names::qos_class(pod),
        &uid,
    ));
}
