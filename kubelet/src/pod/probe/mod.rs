//! Container probes (exec, HTTP, TCP, gRPC): one task per running container that has any. Startup
//! gates the others; readiness sets `ready`; liveness failing `failureThreshold` times marks
//! the container for a restart. Results go into a shared map the pod worker reads, and the
//! worker is poked whenever a result changes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tracing::debug;

use crate::cri::RuntimeService;

use super::status::ProbeState;

pub mod grpc;

/// The version probes announce in their User-Agent (kube-probe/<major>.<minor>).
pub const PROBE_VERSION: &str = "1.33";

pub type Results = Arc<Mutex<HashMap<String, ProbeState>>>;

fn secs(v: Option<i32>, default: i32) -> Duration {
    Duration::from_secs(v.unwrap_or(default).max(0) as u64)
}

/// Resolves a probe port: a number, or the name of one of the container's ports.
fn port(p: &IntOrString, c: &Container) -> Option<u16> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.name.as_deref() == Some(name))
            .and_then(|cp| u16::try_from(cp.container_port).ok())
            .or_else(|| name.parse().ok()),
    }
}

async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> bool {
    let req = async {
        let mut s = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let mut text = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/{PROBE_VERSION}\r\nAccept: */*\r\nConnection: close\r\n"
        );
        for (k, v) in headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        s.write_all(text.as_bytes()).await.ok()?;
        let mut buf = [0u8; 64];
        let mut got = 0;
        while got < 12 {
            let n = s.read(&mut buf[got..]).await.ok()?;
            if n == 0 {
                break;
            }
            got += n;
        }
        let line = String::from_utf8_lossy(&buf[..got]).to_string();
        let code: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some((200..400).contains(&code))
    };
    matches!(tokio::time::timeout(timeout, req).await, Ok(Some(true)))
}

/// Runs one probe once: success or failure.
pub async fn run_once(
    p: &Probe,
    c: &Container,
    rt: &dyn RuntimeService,
    container_id: &str,
    pod_ip: &str,
) -> bool {
    let timeout = secs(p.timeout_seconds, 1).max(Duration::from_secs(1));
    if let Some(e) = &p.exec {
        let cmd = e.command.clone().unwrap_or_default();
        return match rt.exec_sync(container_id, cmd, timeout.as_secs() as i64).await {
            Ok(r) => r.exit_code == 0,
            Err(e) => {
                debug!(container_id, error = %e, "exec probe");
                false
            }
        };
    }
    if let Some(h) = &p.http_get {
        let Some(port) = port(&h.port, c) else {
            return false;
        };
        let host = h
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| pod_ip.to_string());
        let headers: Vec<(String, String)> = h
            .http_headers
            .iter()
            .flatten()
            .map(|x| (x.name.clone(), x.value.clone()))
            .collect();
        let path = h
            .path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        return http_get(&host, port, &path, &headers, timeout).await;
    }
    if let Some(t) = &p.tcp_socket {
        let Some(port) = port(&t.port, c) else {
            return false;
        };
        let host = t
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| pod_ip.to_string());
        return matches!(
            tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host.as_str(), port))).await,
            Ok(Ok(_))
        );
    }
    if let Some(g) = &p.grpc {
        let Ok(port) = u16::try_from(g.port) else {
            return false;
        };
        let service = g.service.clone().unwrap_or_default();
        return match grpc::check(pod_ip, port, &service, timeout).await {
            Ok(()) => true,
            Err(message) => {
                debug!(container_id, %message, "gRPC probe failed");
                false
            }
        };
    }
    // A probe with no handler (the API rejects it): nothing can pass.
    false
}

/// Per-probe bookkeeping: consecutive results against the thresholds.
#[derive(Debug)]
struct Tracker {
    probe: Probe,
    next: tokio::time::Instant,
    successes: i32,
    failures: i32,
}

impl Tracker {
    fn new(probe: &Probe, start: tokio::time::Instant) -> Self {
        Tracker {
            next: start + secs(probe.initial_delay_seconds, 0),
            probe: probe.clone(),
            successes: 0,
            failures: 0,
        }
    }
    fn period(&self) -> Duration {
        secs(self.probe.period_seconds, 10).max(Duration::from_secs(1))
    }
    /// Records a result; Some(true) on reaching successThreshold, Some(false) on failureThreshold.
    fn record(&mut self, ok: bool) -> Option<bool> {
        self.next += self.period();
        if ok {
            self.failures = 0;
            self.successes += 1;
            (self.successes >= self.probe.success_threshold.unwrap_or(1).max(1)).then_some(true)
        } else {
            self.successes = 0;
            self.failures += 1;
            (self.failures >= self.probe.failure_threshold.unwrap_or(3).max(1)).then_some(false)
        }
    }
}

/// Whether the container has any probe (and so needs a prober).
pub fn has_probes(c: &Container) -> bool {
    c.liveness_probe.is_some() || c.readiness_probe.is_some() || c.startup_probe.is_some()
}

/// Probes one container until aborted or its liveness fails.
pub async fn run(
    c: Container,
    container_id: String,
    pod_ip: String,
    rt: Arc<dyn RuntimeService>,
    results: Results,
    notify: Arc<Notify>,
) {
    let start = tokio::time::Instant::now();
    let mut state = ProbeState {
        ready: false,
        started: c.startup_probe.is_none(),
        liveness_failed: false,
    };
    let publish = |s: ProbeState| {
        let changed = results.lock().insert(container_id.clone(), s) != Some(s);
        if changed {
            notify.notify_one();
        }
    };
    publish(state);
    let mut startup = c.startup_probe.as_ref().map(|p| Tracker::new(p, start));
    let mut readiness: Option<Tracker> = None;
    let mut liveness: Option<Tracker> = None;
    let mut armed = false;
    loop {
        if state.started && !armed {
            // Readiness and liveness count their initial delay from when startup passed.
            let now = tokio::time::Instant::now();
            readiness = c.readiness_probe.as_ref().map(|p| Tracker::new(p, now));
            liveness = c.liveness_probe.as_ref().map(|p| Tracker::new(p, now));
            armed = true;
            if readiness.is_none() {
                state.ready = true;
                publish(state);
            }
        }
        let next = [
            startup.as_ref().filter(|_| !state.started),
            readiness.as_ref(),
            liveness.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|t| t.next)
        .min();
        let Some(next) = next else { return };
        tokio::time::sleep_until(next).await;
        let now = tokio::time::Instant::now();
        if !state.started {
            if let Some(t) = startup.as_mut().filter(|t| t.next <= now) {
                let ok = run_once(&t.probe, &c, rt.as_ref(), &container_id, &pod_ip).await;
                match t.record(ok) {
                    Some(true) => state.started = true,
                    Some(false) => {
                        state.liveness_failed = true;
                        publish(state);
                        return;
                    }
                    None => {}
                }
                publish(state);
            }
            continue;
        }
        if let Some(t) = readiness.as_mut().filter(|t| t.next <= now) {
            let ok = run_once(&t.probe, &c, rt.as_ref(), &container_id, &pod_ip).await;
            if let Some(r) = t.record(ok) {
                state.ready = r;
                publish(state);
            }
        }
        if let Some(t) = liveness.as_mut().filter(|t| t.next <= now) {
            let ok = run_once(&t.probe, &c, rt.as_ref(), &container_id, &pod_ip).await;
            if t.record(ok) == Some(false) {
                state.liveness_failed = true;
                state.ready = false;
                publish(state);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cri::fake::FakeRuntime;
    use k8s_openapi::api::core::v1::ExecAction;

    fn exec_probe(failure_threshold: i32) -> Probe {
        Probe {
            exec: Some(ExecAction {
                command: Some(vec!["true".into()]),
            }),
            period_seconds: Some(1),
            failure_threshold: Some(failure_threshold),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn readiness_then_liveness_failure() {
        let fake = Arc::new(FakeRuntime::with_images(&["img"]));
        let sb = fake.run_pod_sandbox(Default::default()).await.unwrap();
        let cfg = crate::cri::api::ContainerConfig {
            metadata: Some(crate::cri::api::ContainerMetadata {
                name: "c".into(),
                attempt: 0,
            }),
            image: Some(crate::cri::api::ImageSpec {
                image: "img".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = fake.create_container(&sb, cfg, Default::default()).await.unwrap();
        let c = Container {
            name: "c".into(),
            readiness_probe: Some(exec_probe(1)),
            liveness_probe: Some(exec_probe(2)),
            ..Default::default()
        };
        let results: Results = Default::default();
        let notify = Arc::new(Notify::new());
        let task = tokio::spawn(run(
            c,
            id.clone(),
            String::new(),
            fake.clone(),
            results.clone(),
            notify.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(results.lock()[&id].ready);
        fake.set_exec_exit("c", 1);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let s = results.lock()[&id];
        assert!(!s.ready);
        assert!(s.liveness_failed);
        assert!(task.is_finished(), "prober stops after liveness failed");
    }
}
