//! An in-memory CRI runtime. Unit tests of the pod logic drive it (make a container exit, fail
//! a pull), and `--runtime=simulated` uses it to make pods Running without containers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::api;
use super::{CriError, ImageService, Result, RuntimeService};

#[derive(Debug, Default)]
struct State {
    sandboxes: BTreeMap<String, (api::PodSandboxConfig, api::PodSandboxState, i64, String)>,
    containers: BTreeMap<String, FakeContainer>,
    images: HashSet<String>,
    unpullable: HashSet<String>,
    /// Container name → exit code: such containers exit at once when started.
    exit_on_start: HashMap<String, i32>,
    /// Container name → exit code of every exec in it.
    exec_exit: HashMap<String, i32>,
    calls: Vec<String>,
}

#[derive(Debug, Clone)]
struct FakeContainer {
    sandbox_id: String,
    config: api::ContainerConfig,
    state: api::ContainerState,
    created_at: i64,
    started_at: i64,
    finished_at: i64,
    exit_code: i32,
    reason: String,
}

/// The fake runtime. Every image is present unless `remove_image` or `set_unpullable` says
/// otherwise.
#[derive(Debug, Default)]
pub struct FakeRuntime {
    state: Mutex<State>,
    next: AtomicU64,
    /// When false, every image counts as present (the simulated runtime).
    track_images: bool,
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

impl FakeRuntime {
    /// A fake where only the given images are present.
    pub fn with_images(images: &[&str]) -> Self {
        let fake = FakeRuntime {
            track_images: true,
            ..Default::default()
        };
        fake.state.lock().images = images.iter().map(|s| s.to_string()).collect();
        fake
    }

    /// Every image present, pulls succeed: the simulated runtime.
    pub fn simulated() -> Self {
        FakeRuntime::default()
    }

    fn id(&self, prefix: &str) -> String {
        format!("{prefix}{:012}", self.next.fetch_add(1, Ordering::Relaxed))
    }

    pub fn set_unpullable(&self, image: &str) {
        self.state.lock().unpullable.insert(image.into());
    }
    pub fn exit_on_start(&self, container_name: &str, code: i32) {
        self.state
            .lock()
            .exit_on_start
            .insert(container_name.into(), code);
    }
    pub fn set_exec_exit(&self, container_name: &str, code: i32) {
        self.state.lock().exec_exit.insert(container_name.into(), code);
    }
    /// Makes every running container with this name exit.
    pub fn exit_container(&self, container_name: &str, code: i32) {
        let mut st = self.state.lock();
        for c in st.containers.values_mut() {
            if c.config.metadata.as_ref().map(|m| m.name.as_str()) == Some(container_name)
                && c.state == api::ContainerState::ContainerRunning
            {
                c.state = api::ContainerState::ContainerExited;
                c.exit_code = code;
                c.finished_at = now_nanos();
                c.reason = if code == 0 { "Completed" } else { "Error" }.into();
            }
        }
    }
    /// How many sandboxes and containers exist.
    pub fn counts(&self) -> (usize, usize) {
        let st = self.state.lock();
        (st.sandboxes.len(), st.containers.len())
    }
    /// The calls made so far, e.g. "StartContainer app".
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().calls.clone()
    }

    fn container_name(c: &FakeContainer) -> String {
        c.config
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default()
    }
}

fn not_found(op: &'static str, what: &str) -> CriError {
    CriError::NotFound {
        op,
        what: what.into(),
    }
}

#[async_trait::async_trait]
impl RuntimeService for FakeRuntime {
    async fn version(&self) -> Result<api::VersionResponse> {
        Ok(api::VersionResponse {
            version: "0.1.0".into(),
            runtime_name: "fake".into(),
            runtime_version: "0.1.0".into(),
            runtime_api_version: "v1".into(),
        })
    }

    async fn status(&self) -> Result<Vec<api::RuntimeCondition>> {
        Ok(["RuntimeReady", "NetworkReady"]
            .iter()
            .map(|t| api::RuntimeCondition {
                r#type: t.to_string(),
                status: true,
                ..Default::default()
            })
            .collect())
    }

    async fn run_pod_sandbox(&self, config: api::PodSandboxConfig) -> Result<String> {
        let id = self.id("sb");
        let n = self.next.load(Ordering::Relaxed);
        let ip = format!("10.88.{}.{}", (n / 250) % 250, n % 250 + 2);
        let mut st = self.state.lock();
        st.calls.push(format!(
            "RunPodSandbox {}",
            config.metadata.as_ref().map(|m| m.name.as_str()).unwrap_or("")
        ));
        st.sandboxes.insert(
            id.clone(),
            (config, api::PodSandboxState::SandboxReady, now_nanos(), ip),
        );
        Ok(id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        let mut st = self.state.lock();
        st.calls.push("StopPodSandbox".into());
        for c in st.containers.values_mut() {
            if c.sandbox_id == id && c.state == api::ContainerState::ContainerRunning {
                c.state = api::ContainerState::ContainerExited;
                c.exit_code = 137;
                c.finished_at = now_nanos();
            }
        }
        if let Some(sb) = st.sandboxes.get_mut(id) {
            sb.1 = api::PodSandboxState::SandboxNotready;
        }
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        let mut st = self.state.lock();
        st.calls.push("RemovePodSandbox".into());
        st.sandboxes.remove(id);
        st.containers.retain(|_, c| c.sandbox_id != id);
        Ok(())
    }

    async fn pod_sandbox_status(&self, id: &str) -> Result<api::PodSandboxStatus> {
        let st = self.state.lock();
        let (config, state, created, ip) = st
            .sandboxes
            .get(id)
            .ok_or_else(|| not_found("PodSandboxStatus", id))?;
        Ok(api::PodSandboxStatus {
            id: id.into(),
            metadata: config.metadata.clone(),
            state: *state as i32,
            created_at: *created,
            network: Some(api::PodSandboxNetworkStatus {
                ip: ip.clone(),
                additional_ips: vec![],
            }),
            labels: config.labels.clone(),
            annotations: config.annotations.clone(),
            ..Default::default()
        })
    }

    async fn list_pod_sandbox(
        &self,
        label_selector: HashMap<String, String>,
    ) -> Result<Vec<api::PodSandbox>> {
        let st = self.state.lock();
        Ok(st
            .sandboxes
            .iter()
            .filter(|(_, (c, ..))| label_selector.iter().all(|(k, v)| c.labels.get(k) == Some(v)))
            .map(|(id, (c, state, created, _))| api::PodSandbox {
                id: id.clone(),
                metadata: c.metadata.clone(),
                state: *state as i32,
                created_at: *created,
                labels: c.labels.clone(),
                annotations: c.annotations.clone(),
                runtime_handler: String::new(),
            })
            .collect())
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: api::ContainerConfig,
        _sandbox_config: api::PodSandboxConfig,
    ) -> Result<String> {
        let id = self.id("c");
        let mut st = self.state.lock();
        if !st.sandboxes.contains_key(sandbox_id) {
            return Err(not_found("CreateContainer", sandbox_id));
        }
        let image = config.image.as_ref().map(|i| i.image.clone()).unwrap_or_default();
        if self.track_images && !st.images.contains(&image) {
            return Err(CriError::Runtime {
                op: "CreateContainer",
                message: format!("image {image} not present"),
            });
        }
        let c = FakeContainer {
            sandbox_id: sandbox_id.into(),
            config,
            state: api::ContainerState::ContainerCreated,
            created_at: now_nanos(),
            started_at: 0,
            finished_at: 0,
            exit_code: 0,
            reason: String::new(),
        };
        st.calls
            .push(format!("CreateContainer {}", Self::container_name(&c)));
        st.containers.insert(id.clone(), c);
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let mut st = self.state.lock();
        let exits = st.exit_on_start.clone();
        let c = st
            .containers
            .get_mut(id)
            .ok_or_else(|| not_found("StartContainer", id))?;
        let name = Self::container_name(c);
        c.started_at = now_nanos();
        match exits.get(&name) {
            Some(code) => {
                c.state = api::ContainerState::ContainerExited;
                c.exit_code = *code;
                c.finished_at = c.started_at;
                c.reason = if *code == 0 { "Completed" } else { "Error" }.into();
            }
            None => c.state = api::ContainerState::ContainerRunning,
        }
        st.calls.push(format!("StartContainer {name}"));
        Ok(())
    }

    async fn stop_container(&self, id: &str, _timeout_seconds: i64) -> Result<()> {
        let mut st = self.state.lock();
        let c = st
            .containers
            .get_mut(id)
            .ok_or_else(|| not_found("StopContainer", id))?;
        if c.state == api::ContainerState::ContainerRunning {
            c.state = api::ContainerState::ContainerExited;
            c.exit_code = 137;
            c.finished_at = now_nanos();
            c.reason = "Error".into();
        }
        let name = Self::container_name(c);
        st.calls.push(format!("StopContainer {name}"));
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        self.state.lock().containers.remove(id);
        Ok(())
    }

    async fn list_containers(&self, sandbox_id: Option<&str>) -> Result<Vec<api::Container>> {
        let st = self.state.lock();
        Ok(st
            .containers
            .iter()
            .filter(|(_, c)| sandbox_id.is_none_or(|s| c.sandbox_id == s))
            .map(|(id, c)| api::Container {
                id: id.clone(),
                pod_sandbox_id: c.sandbox_id.clone(),
                metadata: c.config.metadata.clone(),
                image: c.config.image.clone(),
                image_ref: String::new(),
                state: c.state as i32,
                created_at: c.created_at,
                labels: c.config.labels.clone(),
                annotations: c.config.annotations.clone(),
                image_id: String::new(),
            })
            .collect())
    }

    async fn container_status(&self, id: &str) -> Result<api::ContainerStatus> {
        let st = self.state.lock();
        let c = st
            .containers
            .get(id)
            .ok_or_else(|| not_found("ContainerStatus", id))?;
        Ok(api::ContainerStatus {
            id: id.into(),
            metadata: c.config.metadata.clone(),
            state: c.state as i32,
            created_at: c.created_at,
            started_at: c.started_at,
            finished_at: c.finished_at,
            exit_code: c.exit_code,
            image: c.config.image.clone(),
            image_ref: c
                .config
                .image
                .as_ref()
                .map(|i| i.image.clone())
                .unwrap_or_default(),
            reason: c.reason.clone(),
            labels: c.config.labels.clone(),
            annotations: c.config.annotations.clone(),
            ..Default::default()
        })
    }

    async fn exec_sync(
        &self,
        id: &str,
        _cmd: Vec<String>,
        _timeout_seconds: i64,
    ) -> Result<api::ExecSyncResponse> {
        let st = self.state.lock();
        let c = st.containers.get(id).ok_or_else(|| not_found("ExecSync", id))?;
        let code = st.exec_exit.get(&Self::container_name(c)).copied().unwrap_or(0);
        Ok(api::ExecSyncResponse {
            stdout: vec![],
            stderr: vec![],
            exit_code: code,
        })
    }
}

#[async_trait::async_trait]
impl ImageService for FakeRuntime {
    async fn image_status(&self, image: &str) -> Result<Option<api::Image>> {
        let st = self.state.lock();
        let present = !self.track_images || st.images.contains(image);
        Ok(present.then(|| api::Image {
            id: format!("sha256:{image}"),
            repo_tags: vec![image.into()],
            ..Default::default()
        }))
    }

    async fn pull_image(&self, image: &str, _auth: Option<api::AuthConfig>) -> Result<String> {
        let mut st = self.state.lock();
        st.calls.push(format!("PullImage {image}"));
        if st.unpullable.contains(image) {
            return Err(CriError::Runtime {
                op: "PullImage",
                message: format!("failed to resolve reference \"{image}\": not found"),
            });
        }
        st.images.insert(image.into());
        Ok(format!("sha256:{image}"))
    }

    async fn list_images(&self) -> Result<Vec<api::Image>> {
        let st = self.state.lock();
        Ok(st
            .images
            .iter()
            .map(|i| api::Image {
                id: format!("sha256:{i}"),
                repo_tags: vec![i.clone()],
                ..Default::default()
            })
            .collect())
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        let mut st = self.state.lock();
        st.calls.push(format!("RemoveImage {image}"));
        let name = image.strip_prefix("sha256:").unwrap_or(image).to_string();
        st.images.remove(&name);
        Ok(())
    }
}
