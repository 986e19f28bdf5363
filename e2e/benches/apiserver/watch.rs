//! Watch fan-out: many raw HTTP/2 ConfigMap watches in one namespace while one writer creates
//! ConfigMaps at a steady rate. Each created object carries, in an annotation, the time just
//! before its create call (nanoseconds since a shared base instant); each watcher notes when the
//! chunk holding the event arrived. Two latencies per delivery:
//!
//! - from commit: from the create's acknowledgement (its response arriving at the writer; the
//!   store committed the object before that) to the watcher receiving the event, 0 when the event
//!   came first. This is upstream's notion of watch latency (SIG Scalability's watch latency SLI:
//!   from the object being stored to the event reaching the watchers), seen from outside, and
//!   what the target is judged on.
//! - from send: from just before the create call, so the write path's own latency counts too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::PostParams;
use memchr::memmem;
use tokio::sync::{mpsc, watch};

use crate::load::{config_map, percentile};
use crate::process::{Cpu, H2, Pids, h2_connect};

pub(crate) const SENT_ANNOTATION: &str = "bench.rudder.dev/sent-ns";
const SENT_MARK: &str = "\"bench.rudder.dev/sent-ns\":\"";
/// Objects are named `w-<index>`.
const NAME_MARK: &str = "\"name\":\"w-";
/// Digits of the send time, zero-padded so every object has the same size.
const SENT_DIGITS: usize = 20;
/// How long all watchers may take to be established.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long watchers may take to receive the last events after the last write.
const GRACE: Duration = Duration::from_secs(10);
/// Before writing, wait (at most this long) until the apiserver is done setting the watches up.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);
/// The apiserver counts as settled when it uses less CPU than this share of one core.
const SETTLED_CPU: f64 = 0.10;

/// The workload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WatchPlan {
    pub(crate) watchers: usize,
    pub(crate) connections: usize,
    pub(crate) rate: u64,
    pub(crate) secs: u64,
    /// Size of each object's `data` value.
    pub(crate) data_bytes: usize,
}

impl WatchPlan {
    pub(crate) fn writes(&self) -> usize {
        usize::try_from(self.rate * self.secs).unwrap_or(usize::MAX)
    }
}

/// What the watch benchmark saw.
#[derive(Debug, Default)]
pub(crate) struct WatchOutcome {
    /// Delivery latencies from the create call over all watchers and events, in microseconds,
    /// sorted.
    pub(crate) latencies: Vec<u32>,
    /// Delivery latencies from the create's acknowledgement (0 if the event came first), in
    /// microseconds, sorted; one per delivery of an acknowledged create.
    pub(crate) from_commit: Vec<u32>,
    /// Deliveries expected: successful writes x watchers.
    pub(crate) expected: usize,
    pub(crate) writes_ok: usize,
    /// How long issuing the writes took (the achieved rate is `writes / writing`).
    pub(crate) writing: Duration,
    /// Bytes of watch stream received, over all watchers.
    pub(crate) bytes: u64,
    pub(crate) cpu: Cpu,
    /// Wall time the CPU figures cover (from the first write to the last delivery).
    pub(crate) wall: Duration,
    pub(crate) write_errors: usize,
    /// From the first watch request to all watches answering and the apiserver going quiet.
    pub(crate) setup: Duration,
    /// Latencies of the create calls, sorted.
    pub(crate) write_latencies: Vec<Duration>,
    pub(crate) problems: Vec<String>,
}

impl WatchOutcome {
    pub(crate) fn p(&self, quantile: f64) -> Option<Duration> {
        percentile(&self.latencies, quantile).map(|us| Duration::from_micros(u64::from(us)))
    }

    pub(crate) fn p_commit(&self, quantile: f64) -> Option<Duration> {
        percentile(&self.from_commit, quantile).map(|us| Duration::from_micros(u64::from(us)))
    }
}

/// One watcher's findings.
#[derive(Debug, Default)]
struct Seen {
    latencies: Vec<u32>,
    /// (object index, arrival in ns since the base instant) per event.
    arrivals: Vec<(u32, u64)>,
    bytes: u64,
    problem: Option<String>,
}

/// Runs the plan against the apiserver at `base_url` in `namespace` (which must be empty).
pub(crate) async fn watch_delivery(
    port: u16,
    tls: &Arc<rustls::ClientConfig>,
    writer: kube::Client,
    namespace: &str,
    plan: WatchPlan,
    pids: &Pids,
) -> anyhow::Result<WatchOutcome> {
    let base_url = format!("https://127.0.0.1:{port}");
    let mut conns = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections {
        conns.push(h2_connect(port, tls).await?);
    }
    // As an informer does: list, then watch from the list's resourceVersion.
    let api: Api<ConfigMap> = Api::namespaced(writer.clone(), namespace);
    // (Not `list_metadata`: the apiserver does not serve PartialObjectMetadata yet.)
    let list = api.list(&kube::api::ListParams::default()).await?;
    anyhow::ensure!(list.items.is_empty(), "namespace {namespace} is not empty");
    let rv = list.metadata.resource_version.unwrap_or_default();
    let base = Instant::now();
    let total = plan.writes();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::channel::<Result<(), String>>(plan.watchers);
    let uri = format!(
        "{base_url}/api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=600"
    );
    let watchers: Vec<_> = (0..plan.watchers)
        .map(|i| {
            let conn = conns[i % conns.len()].clone();
            let (uri, ready, stop) = (uri.clone(), ready_tx.clone(), stop_rx.clone());
            tokio::spawn(watcher(conn, uri, total, base, ready, stop))
        })
        .collect();
    drop(ready_tx);
    let mut outcome = WatchOutcome::default();
    let setup_deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
    let mut established = 0;
    while established < plan.watchers {
        match tokio::time::timeout_at(setup_deadline, ready_rx.recv()).await {
            Ok(Some(Ok(()))) => established += 1,
            Ok(Some(Err(err))) => {
                outcome.problems.push(format!("a watch failed to start: {err}"));
                break;
            }
            Ok(None) | Err(_) => {
                outcome
                    .problems
                    .push(format!("only {established} of {} watches started", plan.watchers));
                break;
            }
        }
    }
    if established < plan.watchers {
        let _ = stop_tx.send(true);
        for w in watchers {
            let _ = w.await;
        }
        return Ok(outcome);
    }
    settle(pids.apiserver).await;
    outcome.setup = base.elapsed();

    let cpu_before = pids.sample();
    let first = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_nanos(1_000_000_000 / plan.rate.max(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut writes = Vec::with_capacity(total);
    for i in 0..total {
        ticks.tick().await;
        let api: Api<ConfigMap> = Api::namespaced(writer.clone(), namespace);
        let namespace = namespace.to_string();
        let data_bytes = plan.data_bytes;
        writes.push(tokio::spawn(async move {
            let sent = format!("{:0width$}", base.elapsed().as_nanos(), width = SENT_DIGITS);
            let cm = config_map(&namespace, &format!("w-{i}"), data_bytes, Some(&sent));
            let began = Instant::now();
            api.create(&PostParams::default(), &cm)
                .await
                .map(|_| (began.elapsed(), base.elapsed()))
        }));
    }
    outcome.writing = first.elapsed();
    // When each create was acknowledged (ns since `base`), by object index.
    let mut acked: Vec<Option<u64>> = vec![None; total];
    for (i, write) in writes.into_iter().enumerate() {
        match write.await {
            Ok(Ok((latency, ack))) => {
                outcome.writes_ok += 1;
                outcome.write_latencies.push(latency);
                acked[i] = u64::try_from(ack.as_nanos()).ok();
            }
            Ok(Err(err)) => {
                outcome.write_errors += 1;
                if outcome.write_errors == 1 {
                    outcome.problems.push(format!("create failed: {err}"));
                }
            }
            Err(err) => outcome.problems.push(format!("writer task: {err}")),
        }
    }
    outcome.expected = outcome.writes_ok * plan.watchers;

    // Watchers end on their own once they have every event; the stop signal bounds the wait.
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(GRACE).await;
        let _ = stop_tx.send(true);
    });
    let mut last_problem = None;
    for w in watchers {
        match w.await {
            Ok(seen) => {
                outcome.bytes += seen.bytes;
                outcome.latencies.extend(seen.latencies);
                outcome
                    .from_commit
                    .extend(seen.arrivals.iter().filter_map(|&(i, arrived)| {
                        let ack = acked.get(i as usize).copied().flatten()?;
                        Some(u32::try_from(arrived.saturating_sub(ack) / 1000).unwrap_or(u32::MAX))
                    }));
                if let Some(problem) = seen.problem {
                    last_problem = Some(problem);
                }
            }
            Err(err) => last_problem = Some(format!("watcher task: {err}")),
        }
    }
    stopper.abort();
    outcome.wall = first.elapsed();
    outcome.cpu = pids.sample().since(cpu_before);
    if let Some(problem) = last_problem {
        outcome.problems.push(format!("watcher: {problem}"));
    }
    outcome.latencies.sort_unstable();
    outcome.from_commit.sort_unstable();
    outcome.write_latencies.sort_unstable();
    Ok(outcome)
}

/// Waits until the apiserver's CPU use drops below [`SETTLED_CPU`] (it may still be sending
/// initial events or filtering its cache for new watchers), at most [`SETTLE_TIMEOUT`].
async fn settle(pid: u32) {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let window = Duration::from_millis(300);
    while Instant::now() < deadline {
        let before = crate::process::cpu_time(pid).unwrap_or_default();
        tokio::time::sleep(window).await;
        let used = crate::process::cpu_time(pid)
            .unwrap_or_default()
            .saturating_sub(before);
        if used.as_secs_f64() < window.as_secs_f64() * SETTLED_CPU {
            return;
        }
    }
}

/// One watch: reports to `ready` once the response headers came, then collects `total` events.
async fn watcher(
    mut conn: H2,
    uri: String,
    total: usize,
    base: Instant,
    ready: mpsc::Sender<Result<(), String>>,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen {
        latencies: Vec::with_capacity(total),
        arrivals: Vec::with_capacity(total),
        ..Seen::default()
    };
    let request = match http::Request::get(&uri)
        .header(http::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))
    {
        Ok(request) => request,
        Err(err) => {
            let _ = ready.send(Err(err.to_string())).await;
            return seen;
        }
    };
    let response = async {
        conn.ready().await?;
        conn.send_request(request).await
    };
    let response = tokio::select! {
        response = response => response,
        _ = stop.changed() => return seen,
    };
    let mut body = match response {
        Ok(response) if response.status() == http::StatusCode::OK => {
            let _ = ready.send(Ok(())).await;
            response.into_body()
        }
        Ok(response) => {
            let _ = ready
                .send(Err(format!("watch answered {}", response.status())))
                .await;
            return seen;
        }
        Err(err) => {
            let _ = ready.send(Err(err.to_string())).await;
            return seen;
        }
    };
    drop(ready);
    let finder = memmem::Finder::new(SENT_MARK.as_bytes());
    let name_finder = memmem::Finder::new(NAME_MARK.as_bytes());
    let mut partial: Vec<u8> = Vec::new();
    while seen.latencies.len() < total {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            _ = stop.changed() => {
                seen.problem = Some(format!("{} of {total} events before the deadline", seen.latencies.len()));
                break;
            }
        };
        let data = match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
            Some(Err(err)) => {
                seen.problem = Some(format!("stream failed: {err}"));
                break;
            }
            None => {
                seen.problem = Some(format!(
                    "stream ended after {} of {total} events",
                    seen.latencies.len()
                ));
                break;
            }
        };
        let arrived = base.elapsed().as_nanos();
        seen.bytes += data.len() as u64;
        let mut rest: &[u8] = &data;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let line = if partial.is_empty() {
                &rest[..end]
            } else {
                partial.extend_from_slice(&rest[..end]);
                &partial[..]
            };
            match sent_ns(&finder, line) {
                Some(sent) => {
                    let micros = arrived.saturating_sub(sent) / 1000;
                    seen.latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                    if let (Some(index), Ok(at)) = (object_index(&name_finder, line), u64::try_from(arrived))
                    {
                        seen.arrivals.push((index, at));
                    }
                }
                None if line.starts_with(br#"{"type":"BOOKMARK""#) => {}
                None if seen.problem.is_none() => {
                    let text = String::from_utf8_lossy(&line[..line.len().min(300)]);
                    seen.problem = Some(format!("unexpected watch event: {text}"));
                }
                None => {}
            }
            partial.clear();
            rest = &rest[end + 1..];
        }
        partial.extend_from_slice(rest);
    }
    seen
}

/// The send time recorded in an event line.
fn sent_ns(finder: &memmem::Finder<'_>, line: &[u8]) -> Option<u128> {
    let at = finder.find(line)? + SENT_MARK.len();
    let digits = std::str::from_utf8(line.get(at..at + SENT_DIGITS)?).ok()?;
    digits.parse().ok()
}

/// The `<index>` of an event's object named `w-<index>`.
fn object_index(finder: &memmem::Finder<'_>, line: &[u8]) -> Option<u32> {
    let at = finder.find(line)? + NAME_MARK.len();
    let digits = line.get(at..)?;
    let len = digits.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&digits[..len]).ok()?.parse().ok()
}
