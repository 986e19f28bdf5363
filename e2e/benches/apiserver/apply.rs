//! Server-side apply vs a plain update of the same ~50-field Deployment (issue 4): `writers`
//! clients, each on its own Deployment, closed loop over raw HTTP/2 with pre-serialised bodies
//! (so the client's own cost stays small and alike for both), slices alternating apply and update.
//! Every write changes one env value, so each one is stored (no no-op shortcut) and bumps the
//! generation in both cases.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use crate::load::{Cell, Window};
use crate::process::{H2, Pids};

/// Concurrent writers of each kind.
pub(crate) const WRITERS: usize = 16;
const FIELD_MANAGER: &str = "bench-apply";

/// What the apply row measured.
#[derive(Debug, Default)]
pub(crate) struct ApplyOutcome {
    /// Leaf fields of the Deployment written.
    pub(crate) fields: usize,
    pub(crate) apply: Cell,
    pub(crate) update: Cell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Apply,
    Update,
}

impl Op {
    fn tag(self) -> &'static str {
        match self {
            Op::Apply => "apply",
            Op::Update => "update",
        }
    }
}

/// The Deployment each writer writes: about 50 leaf fields; `iteration` is the one value that
/// changes from write to write.
pub(crate) fn deployment(namespace: &str, name: &str, iteration: usize) -> Value {
    let env: Vec<Value> = (0..7)
        .map(|i| json!({"name": format!("SETTING_{i}"), "value": format!("value-{i}")}))
        .chain(std::iter::once(
            json!({"name": "ITERATION", "value": iteration.to_string()}),
        ))
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "bench",
                "app.kubernetes.io/instance": name,
                "app.kubernetes.io/version": "1.0.0",
                "app.kubernetes.io/component": "server",
                "app.kubernetes.io/part-of": "rudder",
            },
            "annotations": {
                "bench.rudder.dev/owner": "apiserver-bench",
                "bench.rudder.dev/purpose": "server-side apply vs update",
                "bench.rudder.dev/tier": "backend",
            },
        },
        "spec": {
            "replicas": 3,
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": 300,
            "minReadySeconds": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "bench", "app.kubernetes.io/instance": name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1},
            },
            "template": {
                "metadata": {
                    "labels": {"app.kubernetes.io/name": "bench", "app.kubernetes.io/instance": name},
                    "annotations": {"bench.rudder.dev/config-hash": "0123456789abcdef"},
                },
                "spec": {
                    "terminationGracePeriodSeconds": 20,
                    "serviceAccountName": "default",
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [{
                        "name": "server",
                        "image": "registry.example/bench/server:1.0.0",
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["--listen=:8080", "--log-level=info"],
                        "ports": [
                            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                            {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                        ],
                        "env": env,
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"cpu": "1", "memory": "256Mi"},
                        },
                        "readinessProbe": {
                            "httpGet": {"path": "/readyz", "port": 8080},
                            "periodSeconds": 5,
                        },
                    }],
                },
            },
        },
    })
}

/// Leaf values (scalars) of a JSON document: the "fields" the row's label counts.
pub(crate) fn leaf_fields(value: &Value) -> usize {
    match value {
        Value::Object(map) => map.values().map(leaf_fields).sum(),
        Value::Array(items) => items.iter().map(leaf_fields).sum(),
        _ => 1,
    }
}

fn object_url(base_url: &str, namespace: &str, name: &str) -> String {
    format!("{base_url}/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
}

fn request(
    op: Op,
    base_url: &str,
    namespace: &str,
    name: &str,
    body: Bytes,
) -> anyhow::Result<http::Request<Full<Bytes>>> {
    let url = object_url(base_url, namespace, name);
    let builder = match op {
        Op::Apply => http::Request::patch(format!("{url}?fieldManager={FIELD_MANAGER}&force=true"))
            .header(http::header::CONTENT_TYPE, "application/apply-patch+yaml"),
        Op::Update => http::Request::put(url).header(http::header::CONTENT_TYPE, "application/json"),
    };
    Ok(builder
        .header(http::header::ACCEPT, "application/json")
        .body(Full::new(body))?)
}

async fn send(conn: &H2, request: http::Request<Full<Bytes>>) -> Result<http::StatusCode, String> {
    let mut conn = conn.clone();
    conn.ready().await.map_err(|e| e.to_string())?;
    let response = conn.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if status.is_success() {
        Ok(status)
    } else {
        Err(format!("{status}: {}", String::from_utf8_lossy(&body)))
    }
}

fn name(op: Op, writer: usize) -> String {
    format!("{}-{writer}", op.tag())
}

/// The benchmark: creates the Deployments (apply's by apply, update's by POST), then measures
/// `rounds` slices of each.
pub(crate) async fn apply_vs_update(
    conns: &[H2],
    base_url: &str,
    namespace: &str,
    window: Window,
    rounds: u32,
    pids: &Pids,
) -> anyhow::Result<ApplyOutcome> {
    anyhow::ensure!(!conns.is_empty(), "no HTTP/2 connections");
    let mut outcome = ApplyOutcome {
        fields: leaf_fields(&deployment(namespace, "x", 0)),
        ..ApplyOutcome::default()
    };
    for w in 0..WRITERS {
        let conn = &conns[w % conns.len()];
        let apply_name = name(Op::Apply, w);
        let body = Bytes::from(serde_json::to_vec(&deployment(namespace, &apply_name, 0))?);
        send(conn, request(Op::Apply, base_url, namespace, &apply_name, body)?)
            .await
            .map_err(|e| anyhow::anyhow!("creating {apply_name} by apply: {e}"))?;
        let update_name = name(Op::Update, w);
        let body = Bytes::from(serde_json::to_vec(&deployment(namespace, &update_name, 0))?);
        let create = http::Request::post(format!(
            "{base_url}/apis/apps/v1/namespaces/{namespace}/deployments"
        ))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(Full::new(body))?;
        send(conn, create)
            .await
            .map_err(|e| anyhow::anyhow!("creating {update_name}: {e}"))?;
    }
    let conns: Arc<Vec<H2>> = Arc::new(conns.to_vec());
    let mut next = 1;
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Op::Apply, Op::Update]
        } else {
            [Op::Update, Op::Apply]
        };
        for op in order {
            let cell = slice(op, &conns, base_url, namespace, window, next, pids).await;
            // Iterations keep growing across slices, so no write repeats the stored value.
            next += crate::load::MAX_OPS_PER_WRITER;
            match op {
                Op::Apply => outcome.apply.add_slice(cell),
                Op::Update => outcome.update.add_slice(cell),
            }
        }
    }
    outcome.apply = std::mem::take(&mut outcome.apply).finish();
    outcome.update = std::mem::take(&mut outcome.update).finish();
    Ok(outcome)
}

/// One slice: every writer writes its own Deployment in a loop.
async fn slice(
    op: Op,
    conns: &Arc<Vec<H2>>,
    base_url: &str,
    namespace: &str,
    window: Window,
    first_iteration: usize,
    pids: &Pids,
) -> Cell {
    let cpu_before = pids.sample();
    let start = Instant::now();
    let measure_from = start + window.warmup;
    let deadline = measure_from + window.measure;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let conns = conns.clone();
            let (base_url, namespace) = (base_url.to_string(), namespace.to_string());
            tokio::spawn(async move {
                let conn = &conns[w % conns.len()];
                let object = name(op, w);
                let mut cell = Cell::default();
                let mut last_done = measure_from;
                for i in first_iteration..first_iteration + crate::load::MAX_OPS_PER_WRITER {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let body = match serde_json::to_vec(&deployment(&namespace, &object, i)) {
                        Ok(body) => Bytes::from(body),
                        Err(err) => {
                            cell.errors += 1;
                            cell.first_error.get_or_insert(err.to_string());
                            break;
                        }
                    };
                    let req = match request(op, &base_url, &namespace, &object, body) {
                        Ok(req) => req,
                        Err(err) => {
                            cell.errors += 1;
                            cell.first_error.get_or_insert(err.to_string());
                            break;
                        }
                    };
                    let began = Instant::now();
                    let result = send(conn, req).await;
                    let done = Instant::now();
                    cell.ops += 1;
                    match result {
                        Ok(_) if began >= measure_from => {
                            cell.latencies.push(done - began);
                            last_done = done;
                        }
                        Ok(_) => {}
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
    let mut end = deadline;
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
    total.elapsed = end - measure_from;
    total.cpu = pids.sample().since(cpu_before);
    total
}

/// Apply's cost over update's: (throughput ratio update/apply, p99 ratio apply/update, apiserver
/// CPU per write ratio apply/update).
pub(crate) fn cost_ratios(outcome: &ApplyOutcome) -> Option<(f64, f64, Option<f64>)> {
    let (apply, update) = (&outcome.apply, &outcome.update);
    let (ta, tu) = (apply.throughput(), update.throughput());
    let (pa, pu) = (apply.p(0.99)?, update.p(0.99)?);
    if ta <= 0.0 || tu <= 0.0 || pu.is_zero() {
        return None;
    }
    let cpu = match (apply.cpu_per_op(), update.cpu_per_op()) {
        (Some([a, ..]), Some([u, ..])) if !u.is_zero() => Some(a.as_secs_f64() / u.as_secs_f64()),
        _ => None,
    };
    Some((tu / ta, pa.as_secs_f64() / pu.as_secs_f64(), cpu))
}

/// A slice's measuring window for this row.
pub(crate) fn window(measure: Duration, rounds: u32) -> Window {
    Window {
        warmup: crate::SLICE_WARMUP,
        measure: measure / rounds,
    }
}
