//! Closed-loop create load: N writers, each creating one ConfigMap after the other, through the
//! apiserver (kube-rs or raw HTTP/2) or straight into a store; and the 10,000 pods.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;
use rudder_store::Store;

use crate::process::{Cpu, H2, Pids};

/// Size of the `data` value of every created ConfigMap: the object is about 1 KiB.
pub(crate) const DATA_BYTES: usize = 900;
/// Upper bound of operations per writer and slice, whatever the window.
pub(crate) const MAX_OPS_PER_WRITER: usize = 100_000;

/// Where creates go.
pub(crate) enum Target {
    /// Through the apiserver with kube-rs; writer `w` uses `clients[w % len]`.
    Kube {
        clients: Vec<kube::Client>,
        namespace: String,
    },
    /// Through the apiserver with a bare HTTP/2 client and a pre-serialised body (how much of the
    /// cost is kube-rs on the client side, which shares the machine's CPUs with the server).
    H2 {
        conns: Vec<H2>,
        base_url: String,
        namespace: String,
    },
    /// Straight into a store, keys as the apiserver lays them out.
    Raw {
        store: Arc<dyn Store>,
        namespace: String,
    },
}

impl Target {
    async fn create(&self, writer: usize, name: &str) -> Result<(), String> {
        match self {
            Target::Kube { clients, namespace } => {
                let api: Api<ConfigMap> = Api::namespaced(clients[writer % clients.len()].clone(), namespace);
                let cm = config_map(namespace, name, DATA_BYTES, None);
                api.create(&PostParams::default(), &cm)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Target::H2 {
                conns,
                base_url,
                namespace,
            } => {
                let cm = config_map(namespace, name, DATA_BYTES, None);
                let body = serde_json::to_vec(&cm).map_err(|e| e.to_string())?;
                let uri = format!("{base_url}/api/v1/namespaces/{namespace}/configmaps");
                let request = http::Request::post(uri)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .header(http::header::ACCEPT, "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .map_err(|e| e.to_string())?;
                let mut conn = conns[writer % conns.len()].clone();
                conn.ready().await.map_err(|e| e.to_string())?;
                let response = conn.send_request(request).await.map_err(|e| e.to_string())?;
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                if status != http::StatusCode::CREATED {
                    return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
                }
                Ok(())
            }
            Target::Raw { store, namespace } => {
                let key = format!("/configmaps/{namespace}/{name}");
                store
                    .create(&key, stored_config_map(namespace, name))
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// A ConfigMap with `data_bytes` of data and, for the watch benchmark, the send time.
pub(crate) fn config_map(namespace: &str, name: &str, data_bytes: usize, sent: Option<&str>) -> ConfigMap {
    let labels = [
        ("app.kubernetes.io/name", "bench"),
        ("app.kubernetes.io/part-of", "rudder"),
    ];
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            annotations: sent
                .map(|sent| [(crate::watch::SENT_ANNOTATION.to_string(), sent.to_string())].into()),
            ..ObjectMeta::default()
        },
        data: Some([("config.yaml".to_string(), "x".repeat(data_bytes))].into()),
        ..ConfigMap::default()
    }
}

/// What the apiserver would store for [`config_map`]: the same object with a uid and a creation
/// time.
fn stored_config_map(namespace: &str, name: &str) -> Bytes {
    let mut json = String::with_capacity(DATA_BYTES + 400);
    let _ = write!(
        json,
        r#"{{"apiVersion":"v1","data":{{"config.yaml":"{data}"}},"kind":"ConfigMap","metadata":{{"creationTimestamp":"2026-11-01T00:00:00Z","labels":{{"app.kubernetes.io/name":"bench","app.kubernetes.io/part-of":"rudder"}},"name":"{name}","namespace":"{namespace}","uid":"6f0c1e9a-0000-4b1e-9d1a-3c5e7a2b8f10"}}}}"#,
        data = "x".repeat(DATA_BYTES),
    );
    Bytes::from(json)
}

/// When a slice's operations count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub(crate) warmup: Duration,
    pub(crate) measure: Duration,
}

/// The outcome of one cell (one target at one concurrency), summed over its slices.
#[derive(Debug, Default)]
pub(crate) struct Cell {
    /// Latencies of the operations started inside the measuring windows (sorted by `finish`).
    pub(crate) latencies: Vec<Duration>,
    /// Total measured time.
    pub(crate) elapsed: Duration,
    /// Every operation, warm-up included (what the CPU time was spent on).
    pub(crate) ops: usize,
    pub(crate) cpu: Cpu,
    pub(crate) errors: usize,
    pub(crate) first_error: Option<String>,
}

impl Cell {
    pub(crate) fn add_slice(&mut self, other: Cell) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
        self.ops += other.ops;
        self.cpu.add(other.cpu);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    pub(crate) fn finish(mut self) -> Cell {
        self.latencies.sort_unstable();
        self
    }

    pub(crate) fn throughput(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.latencies.len() as f64 / self.elapsed.as_secs_f64()
        }
    }

    pub(crate) fn p(&self, quantile: f64) -> Option<Duration> {
        percentile(&self.latencies, quantile)
    }

    /// CPU time per operation of (apiserver, benchmark, etcd).
    pub(crate) fn cpu_per_op(&self) -> Option<[Duration; 3]> {
        let ops = u32::try_from(self.ops).ok().filter(|&n| n > 0)?;
        Some(self.cpu.0.map(|d| d / ops))
    }
}

/// Nearest-rank percentile of sorted samples.
pub(crate) fn percentile<T: Copy>(sorted: &[T], quantile: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `writers` tasks creating fresh ConfigMaps named `<tag>-<writer>-<n>` for one slice.
pub(crate) async fn creates(
    target: Arc<Target>,
    writers: usize,
    tag: &str,
    window: Window,
    pids: &Pids,
) -> Cell {
    let cpu_before = pids.sample();
    let start = Instant::now();
    let measure_from = start + window.warmup;
    let deadline = measure_from + window.measure;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let target = target.clone();
            let prefix = format!("{tag}-{w}-");
            tokio::spawn(async move {
                let mut cell = Cell::default();
                let mut last_done = measure_from;
                for i in 0..MAX_OPS_PER_WRITER {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let name = format!("{prefix}{i}");
                    let began = Instant::now();
                    let result = target.create(w, &name).await;
                    let done = Instant::now();
                    cell.ops += 1;
                    match result {
                        Ok(()) if began >= measure_from => {
                            cell.latencies.push(done - began);
                            last_done = done;
                        }
                        Ok(()) => {}
                        Err(err) => {
                            cell.errors += 1;
                            cell.first_error.get_or_insert(err);
                        }
                    }
                }
                (cell, last_done)
            })
        })
        .collect();
    let mut total = Cell::default();
    let mut end = measure_from + window.measure;
    for task in tasks {
        match task.await {
            Ok((cell, last_done)) => {
                end = end.max(last_done);
                total.add_slice(cell);
            }
            Err(err) => {
                total.errors += 1;
                total.first_error.get_or_insert(format!("writer task: {err}"));
            }
        }
    }
    // The slice lasts until the slowest writer's last counted operation completed.
    total.elapsed = end - measure_from;
    total.cpu = pids.sample().since(cpu_before);
    total
}

/// Result of creating the pods.
#[derive(Debug, Default)]
pub(crate) struct PodLoad {
    pub(crate) created: usize,
    pub(crate) elapsed: Duration,
    pub(crate) errors: usize,
    pub(crate) first_error: Option<String>,
}

/// Creates `count` minimal pods (one container, name and image) with `concurrency` tasks.
pub(crate) async fn create_pods(
    client: &kube::Client,
    namespace: &str,
    count: usize,
    concurrency: usize,
) -> PodLoad {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
            let next = next.clone();
            tokio::spawn(async move {
                let mut load = PodLoad::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    match api
                        .create(&PostParams::default(), &pod(&format!("pod-{i:05}")))
                        .await
                    {
                        Ok(_) => load.created += 1,
                        Err(err) => {
                            load.errors += 1;
                            load.first_error.get_or_insert_with(|| err.to_string());
                        }
                    }
                }
                load
            })
        })
        .collect();
    let mut total = PodLoad::default();
    for task in tasks {
        match task.await {
            Ok(load) => {
                total.created += load.created;
                total.errors += load.errors;
                if total.first_error.is_none() {
                    total.first_error = load.first_error;
                }
            }
            Err(err) => {
                total.errors += 1;
                total.first_error.get_or_insert(format!("pod task: {err}"));
            }
        }
    }
    total.elapsed = started.elapsed();
    total
}

fn pod(name: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".to_string(),
                image: Some("busybox:1.36".to_string()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}
