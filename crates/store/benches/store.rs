//! `make bench-store`: write throughput, write latency and watch delivery latency of the embedded
//! store against a real etcd, both with fsync on, in one run and one table.
//!
//! Workloads, each at 1, 16 and 64 concurrent writers (one tokio task each):
//! - `create`: fresh keys such as `/bench/configmaps/ns-16-3/obj-42`, ~1 KiB ConfigMap-like values;
//! - `update`: compare-and-swap updates of the keys the same writer just created.
//!
//! Every cell is measured for a fixed time, split into slices that alternate between the two
//! backends, which take turns at going first, so that noise from other processes hits both alike;
//! each slice starts with a short warm-up whose operations are not counted. Then one watcher
//! follows a prefix while one writer creates keys at a steady rate; the delivery latency is the
//! time from just before the write call to the event arriving at the watcher (the send time
//! travels inside the value).
//!
//! `RUDDER_BENCH_SECS` sets the measuring window per cell (default 3 s) and `RUDDER_BENCH_WRITERS`
//! the concurrency levels (default `1,16,64`), for a focused run. Everything listens on
//! 127.0.0.1; etcd is killed by PID and the temporary directories are removed at the end, also on
//! Ctrl-C.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use rudder_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rudder_store::etcd::{EtcdOptions, EtcdStore};
use rudder_store::etcd_process::EtcdProcess;
use rudder_store::{Revision, Store, StoreError, WatchEvent};

/// Size of every value: a small Kubernetes object.
const VALUE_BYTES: usize = 1024;
/// Concurrent writers per cell (unless `RUDDER_BENCH_WRITERS` says otherwise).
const CONCURRENCY: [usize; 3] = [1, 16, 64];
/// Each cell is measured in this many slices, alternating between the backends.
const ROUNDS: u32 = 3;
/// Run before every slice's measuring window; its operations are not counted.
const SLICE_WARMUP: Duration = Duration::from_millis(150);
/// The `round` of the per-backend warm-up's keys.
const WARMUP_ROUND: u32 = 99;
/// Default measuring window per cell.
const DEFAULT_MEASURE: Duration = Duration::from_secs(3);
/// Upper bound of operations per writer and cell, whatever the window (bounds memory too).
const MAX_OPS_PER_WRITER: usize = 100_000;
/// One-off warm-up per backend before the first cell (connections, allocator, page cache).
const BACKEND_WARMUP: Duration = Duration::from_millis(700);
/// Watch benchmark: steady write rate and duration per backend (in [`ROUNDS`] slices).
const WATCH_RATE: u64 = 500;
const WATCH_SECS: u64 = 3;
/// How long the watcher waits for stragglers after the last write.
const WATCH_GRACE: Duration = Duration::from_secs(10);

const SENT_MARK: &str = "\"bench.rudder.dev/sent-ns\":\"";
const SENT_DIGITS: usize = 20;

fn main() {
    let measure = std::env::var("RUDDER_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0 && *s <= 60.0)
        .map_or(DEFAULT_MEASURE, Duration::from_secs_f64);
    let writers: Vec<usize> = std::env::var("RUDDER_BENCH_WRITERS")
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .filter(|&n| (1..=256).contains(&n))
                .collect()
        })
        .filter(|list: &Vec<usize>| !list.is_empty())
        .unwrap_or_else(|| CONCURRENCY.to_vec());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = runtime.block_on(async {
        tokio::select! {
            report = run(measure, &writers) => Some(report),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    // Stores, etcd and temporary directories are gone once `run` returned or was dropped; waits
    // for a blocking etcd start that Ctrl-C interrupted, which drops (kills) that etcd too.
    runtime.shutdown_timeout(Duration::from_secs(10));
    match outcome {
        Some(report) => print!("{report}"),
        None => {
            eprintln!("interrupted; etcd stopped and temporary data removed");
            std::process::exit(130);
        }
    }
}

/// One store under test.
struct Backend {
    name: &'static str,
    store: Arc<dyn Store>,
}

/// Runs every benchmark and returns the printed report.
async fn run(measure: Duration, concurrency: &[usize]) -> String {
    let pressure = io_pressure();
    let dir = tempfile::Builder::new()
        .prefix("rudder-bench-")
        .tempdir()
        .expect("temporary directory");
    eprintln!("starting etcd (fsync on) ...");
    let etcd = tokio::task::spawn_blocking(EtcdProcess::start)
        .await
        .expect("etcd start task");
    let etcd_store = EtcdStore::connect(EtcdOptions {
        endpoints: vec![etcd.client_url().to_string()],
        ..EtcdOptions::default()
    })
    .await
    .expect("connect to etcd");
    let embedded = EmbeddedStore::open(dir.path().join("embedded"), EmbeddedOptions::default())
        .expect("open the embedded store");
    let backends = [
        Backend {
            name: "embedded",
            store: Arc::new(embedded),
        },
        Backend {
            name: "etcd",
            store: Arc::new(etcd_store),
        },
    ];
    eprintln!(
        "etcd pid {} at {}; embedded store in {}",
        etcd.pid(),
        etcd.client_url(),
        dir.path().display()
    );

    for backend in &backends {
        eprintln!("warming up {} ...", backend.name);
        let warm = Window {
            warmup: BACKEND_WARMUP,
            measure: Duration::ZERO,
        };
        let (cell, _) = creates(backend.store.clone(), 16, WARMUP_ROUND, warm).await;
        if let Some(err) = &cell.first_error {
            panic!("{} fails during warm-up: {err}", backend.name);
        }
    }

    // Each cell is measured in ROUNDS slices, embedded and etcd alternating (and taking turns at
    // going first), so that load from other processes that comes and goes, and the background
    // I/O one backend leaves behind, hits both alike.
    let window = Window {
        warmup: SLICE_WARMUP,
        measure: measure / ROUNDS,
    };
    let mut rows = Vec::new();
    for &writers in concurrency {
        let mut cells: [Cell; 2] = Default::default();
        let mut owned: [Vec<Owned>; 2] = [vec![Owned::new(); writers], vec![Owned::new(); writers]];
        eprintln!("create x{writers} ...");
        for round in 0..ROUNDS {
            for b in order(round) {
                let (cell, keys) = creates(backends[b].store.clone(), writers, round, window).await;
                cells[b].add_slice(cell);
                for (mine, new) in owned[b].iter_mut().zip(keys) {
                    mine.extend(new);
                }
            }
        }
        rows.push(Row {
            workload: "create",
            writers,
            cells: cells.map(Cell::finish),
        });
        let mut cells: [Cell; 2] = Default::default();
        eprintln!("update x{writers} ...");
        for round in 0..ROUNDS {
            for b in order(round) {
                let (cell, keys) =
                    updates(backends[b].store.clone(), std::mem::take(&mut owned[b]), window).await;
                cells[b].add_slice(cell);
                owned[b] = keys;
            }
        }
        rows.push(Row {
            workload: "update",
            writers,
            cells: cells.map(Cell::finish),
        });
    }

    eprintln!("watch delivery ...");
    let mut watches: [WatchCell; 2] = Default::default();
    let per_slice = usize::try_from(WATCH_RATE * WATCH_SECS / u64::from(ROUNDS)).expect("write count");
    for round in 0..ROUNDS {
        for b in order(round) {
            let cell = watch_latency(backends[b].store.clone(), round, per_slice).await;
            watches[b].add_slice(cell);
        }
    }
    let watches = watches.map(WatchCell::finish);

    // Clients first, then etcd (killed by PID), then the embedded store's directory.
    drop(backends);
    drop(etcd);
    drop(dir);
    report(measure, pressure.as_deref(), &rows, &watches)
}

/// The backends' order in `round`: embedded first in even rounds, etcd first in odd ones.
fn order(round: u32) -> [usize; 2] {
    if round.is_multiple_of(2) { [0, 1] } else { [1, 0] }
}

/// When a cell's operations count.
#[derive(Clone, Copy, Debug)]
struct Window {
    warmup: Duration,
    measure: Duration,
}

/// The outcome of one (workload, concurrency, backend) cell.
#[derive(Debug, Default)]
struct Cell {
    /// Latencies of the operations started inside the measuring window.
    latencies: Vec<Duration>,
    /// From the start of the measuring window to the last counted operation's completion.
    elapsed: Duration,
    errors: usize,
    first_error: Option<String>,
}

impl Cell {
    /// Adds a concurrent writer's results: the slice lasts as long as its slowest writer.
    fn add_writer(&mut self, other: Cell) {
        let elapsed = self.elapsed.max(other.elapsed);
        self.add_slice(other);
        self.elapsed = elapsed;
    }

    /// Adds a later slice of the same cell: the measured time adds up.
    fn add_slice(&mut self, other: Cell) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn finish(mut self) -> Cell {
        self.latencies.sort_unstable();
        self
    }

    fn throughput(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.latencies.len() as f64 / self.elapsed.as_secs_f64()
        }
    }

    fn p(&self, quantile: f64) -> Option<Duration> {
        percentile(&self.latencies, quantile)
    }

    fn error(&mut self, err: &StoreError) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(err.to_string());
        }
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], quantile: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Times one writer's loop: operations that start inside the measuring window count; the loop
/// ends when the window closes or after [`MAX_OPS_PER_WRITER`] operations.
struct Timer {
    measure_from: Instant,
    deadline: Instant,
    started: usize,
    cell: Cell,
}

impl Timer {
    fn new(start: Instant, window: Window) -> Timer {
        Timer {
            measure_from: start + window.warmup,
            deadline: start + window.warmup + window.measure,
            started: 0,
            cell: Cell::default(),
        }
    }

    /// The index of the next operation, or `None` when the loop is over.
    fn next(&mut self) -> Option<usize> {
        if Instant::now() >= self.deadline || self.started >= MAX_OPS_PER_WRITER {
            return None;
        }
        self.started += 1;
        Some(self.started - 1)
    }

    fn record<T>(&mut self, began: Instant, result: &Result<T, StoreError>) {
        let done = Instant::now();
        match result {
            Ok(_) if began >= self.measure_from => {
                self.cell.latencies.push(done - began);
                self.cell.elapsed = done - self.measure_from;
            }
            Ok(_) => {}
            Err(err) => self.cell.error(err),
        }
    }
}

/// Keys one writer created, with their modification revisions.
type Owned = Vec<(String, Revision)>;

/// `writers` tasks creating fresh keys (`round` keeps them apart from other slices' keys).
/// Returns the slice and each writer's keys.
async fn creates(store: Arc<dyn Store>, writers: usize, round: u32, window: Window) -> (Cell, Vec<Owned>) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            let namespace = format!("ns-{writers}-{w}");
            let prefix = format!("/bench/configmaps/{namespace}/");
            tokio::spawn(async move {
                let mut owned = Owned::new();
                let mut timer = Timer::new(start, window);
                while let Some(i) = timer.next() {
                    let name = format!("obj-{}", round as usize * MAX_OPS_PER_WRITER + i);
                    let key = format!("{prefix}{name}");
                    let value = object(&namespace, &name, 0, None);
                    let began = Instant::now();
                    let result = store.create(&key, value).await;
                    timer.record(began, &result);
                    if let Ok(kv) = result {
                        owned.push((key, kv.mod_revision));
                    }
                }
                (timer.cell, owned)
            })
        })
        .collect();
    let mut total = Cell::default();
    let mut keys = Vec::new();
    for task in tasks {
        let (cell, owned) = task.await.expect("writer task");
        total.add_writer(cell);
        keys.push(owned);
    }
    // A slice in which the disk stalled still took the whole window.
    total.elapsed = total.elapsed.max(window.measure);
    (total, keys)
}

/// One task per key set, each updating its own keys round-robin with compare-and-swap on the
/// revision it last wrote (so there are no conflicts between writers). Returns the slice and the
/// key sets with their new revisions.
async fn updates(store: Arc<dyn Store>, keys: Vec<Owned>, window: Window) -> (Cell, Vec<Owned>) {
    let start = Instant::now();
    let tasks: Vec<_> = keys
        .into_iter()
        .map(|mut owned| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut timer = Timer::new(start, window);
                while !owned.is_empty()
                    && let Some(i) = timer.next()
                {
                    let len = owned.len();
                    let generation = i / len + 1;
                    let (key, revision) = &mut owned[i % len];
                    let (namespace, name) = split_key(key);
                    let value = object(namespace, name, generation, None);
                    let began = Instant::now();
                    let result = store.update(key, value, *revision).await;
                    timer.record(began, &result);
                    if let Ok(kv) = result {
                        *revision = kv.mod_revision;
                    }
                }
                (timer.cell, owned)
            })
        })
        .collect();
    let mut total = Cell::default();
    let mut keys = Vec::new();
    for task in tasks {
        let (cell, owned) = task.await.expect("writer task");
        total.add_writer(cell);
        keys.push(owned);
    }
    // A slice in which the disk stalled still took the whole window.
    total.elapsed = total.elapsed.max(window.measure);
    (total, keys)
}

/// `(namespace, name)` of `/bench/<kind>/<namespace>/<name>`.
fn split_key(key: &str) -> (&str, &str) {
    let mut parts = key.rsplitn(3, '/');
    let name = parts.next().unwrap_or_default();
    let namespace = parts.next().unwrap_or_default();
    (namespace, name)
}

/// A ConfigMap-like JSON object of exactly [`VALUE_BYTES`] bytes. `sent_ns` (nanoseconds since
/// the watch benchmark's start) is stored in an annotation for the watcher to read back.
fn object(namespace: &str, name: &str, generation: usize, sent_ns: Option<u128>) -> Bytes {
    let mut json = String::with_capacity(VALUE_BYTES);
    let _ = write!(
        json,
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"{namespace}","uid":"6f0c1e9a-{generation:04x}-4b1e-9d1a-3c5e7a2b8f10","resourceVersion":"","generation":{generation},"labels":{{"app.kubernetes.io/name":"bench","app.kubernetes.io/part-of":"rudder"}},"annotations":{{{SENT_MARK}{sent:0width$}"}}}},"data":{{"config.yaml":""#,
        sent = sent_ns.unwrap_or(0),
        width = SENT_DIGITS,
    );
    let tail = r#""}}"#;
    let pad = VALUE_BYTES.saturating_sub(json.len() + tail.len());
    json.extend(std::iter::repeat_n('x', pad));
    json.push_str(tail);
    Bytes::from(json)
}

/// The send time stored by [`object`].
fn sent_ns(value: &[u8]) -> Option<u128> {
    let text = std::str::from_utf8(value).ok()?;
    let at = text.find(SENT_MARK)? + SENT_MARK.len();
    text.get(at..at + SENT_DIGITS)?.parse().ok()
}

/// Watch delivery latency of one backend.
#[derive(Debug, Default)]
struct WatchCell {
    /// Delivery latencies (sorted once finished).
    latencies: Vec<Duration>,
    writes: usize,
    /// How long issuing the writes took.
    writing: Duration,
    errors: usize,
    first_error: Option<String>,
}

impl WatchCell {
    fn add_slice(&mut self, other: WatchCell) {
        self.latencies.extend(other.latencies);
        self.writes += other.writes;
        self.writing += other.writing;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn finish(mut self) -> WatchCell {
        self.latencies.sort_unstable();
        self
    }

    /// Writes per second the writer achieved.
    fn rate(&self) -> f64 {
        if self.writing.is_zero() {
            0.0
        } else {
            self.writes as f64 / self.writing.as_secs_f64()
        }
    }
}

/// One watcher on a fresh prefix; one writer creating keys under it at [`WATCH_RATE`] for
/// `writes` writes. Each write is its own task (open loop), so a slow write does not lower the
/// rate.
async fn watch_latency(store: Arc<dyn Store>, round: u32, total: usize) -> WatchCell {
    let namespace = format!("ns-{round}");
    let prefix = format!("/bench/watch/{namespace}/");
    let from = store.current_revision().await.expect("current revision");
    let mut stream = store.watch(&prefix, from).await.expect("open the watch");
    let base = Instant::now();
    let watcher = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(total);
        let mut problem = None;
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(u64::try_from(total).unwrap_or(u64::MAX) * 1000 / WATCH_RATE)
            + WATCH_GRACE;
        while latencies.len() < total {
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(Ok(WatchEvent::Put { kv, .. }))) => {
                    let arrived = base.elapsed().as_nanos();
                    if let Some(sent) = sent_ns(&kv.value) {
                        let nanos = arrived.saturating_sub(sent);
                        latencies.push(Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)));
                    }
                }
                Ok(Some(Ok(WatchEvent::Delete { .. }))) => {}
                Ok(Some(Err(err))) => {
                    problem = Some(format!("watch failed: {err}"));
                    break;
                }
                Ok(None) => {
                    problem = Some("watch ended".to_string());
                    break;
                }
                Err(_) => {
                    problem = Some("timed out waiting for events".to_string());
                    break;
                }
            }
        }
        (latencies, problem)
    });

    let mut ticks = tokio::time::interval(Duration::from_nanos(1_000_000_000 / WATCH_RATE));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut writes = Vec::with_capacity(total);
    let first = Instant::now();
    for i in 0..total {
        ticks.tick().await;
        let store = store.clone();
        let (namespace, prefix) = (namespace.clone(), prefix.clone());
        writes.push(tokio::spawn(async move {
            let name = format!("obj-{i}");
            let key = format!("{prefix}{name}");
            let value = object(&namespace, &name, 0, Some(base.elapsed().as_nanos()));
            store.create(&key, value).await.map(drop)
        }));
    }
    let mut cell = WatchCell {
        writes: total,
        writing: first.elapsed(),
        ..WatchCell::default()
    };
    for write in writes {
        if let Err(err) = write.await.expect("write task") {
            cell.errors += 1;
            cell.first_error.get_or_insert_with(|| err.to_string());
        }
    }
    let (latencies, problem) = watcher.await.expect("watcher task");
    if let Some(problem) = problem {
        cell.first_error.get_or_insert(problem);
    }
    cell.latencies = latencies;
    cell
}

/// One table row: a workload at one concurrency, embedded then etcd.
struct Row {
    workload: &'static str,
    writers: usize,
    cells: [Cell; 2],
}

impl Row {
    /// Embedded throughput over etcd's; `None` when etcd completed nothing (a stalled disk).
    fn ratio(&self) -> Option<f64> {
        let etcd = self.cells[1].throughput();
        (etcd > 0.0).then(|| self.cells[0].throughput() / etcd)
    }
}

fn times(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_string(), |r| format!("{r:.2}x"))
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_string(), |d| format!("{:.2}ms", d.as_secs_f64() * 1e3))
}

/// The machine's I/O pressure (Linux PSI, share of time some task waited for I/O) over the last
/// 10 s and 60 s, e.g. `3%/12%`: other processes' disk load that makes fsync latency noisy.
fn io_pressure() -> Option<String> {
    let psi = std::fs::read_to_string("/proc/pressure/io").ok()?;
    let some = psi.lines().find(|line| line.starts_with("some "))?;
    let field = |name: &str| {
        some.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name))
            .and_then(|v| v.parse::<f64>().ok())
    };
    Some(format!("{:.0}%/{:.0}%", field("avg10=")?, field("avg60=")?))
}

fn report(measure: Duration, pressure: Option<&str>, rows: &[Row], watches: &[WatchCell]) -> String {
    let mut out = String::new();
    let o = &mut out;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "rudder-store benchmark: embedded (temp dir, fsync on) vs etcd (fresh process, fsync on)"
    );
    let _ = writeln!(
        o,
        "{VALUE_BYTES} B values; {:.1} s per cell in {ROUNDS} slices alternating embedded/etcd, each after {} ms warm-up; {cores} CPU(s)",
        measure.as_secs_f64(),
        SLICE_WARMUP.as_millis()
    );
    if let Some(pressure) = pressure {
        let _ = writeln!(
            o,
            "I/O pressure from other processes before the run (PSI some, avg10/avg60): {pressure}; high = noisy fsync"
        );
    }
    let _ = writeln!(o);
    let line = "-".repeat(101);
    let _ = writeln!(
        o,
        "{:<8} {:>7} | {:>12} {:>9} {:>9} | {:>12} {:>9} {:>9} | {:>13}",
        "workload", "writers", "embedded w/s", "p50", "p99", "etcd w/s", "p50", "p99", "emb/etcd w/s"
    );
    let _ = writeln!(o, "{line}");
    for row in rows {
        let [emb, etcd] = [&row.cells[0], &row.cells[1]];
        let _ = writeln!(
            o,
            "{:<8} {:>7} | {:>12.0} {:>9} {:>9} | {:>12.0} {:>9} {:>9} | {:>13}",
            row.workload,
            row.writers,
            emb.throughput(),
            ms(emb.p(0.50)),
            ms(emb.p(0.99)),
            etcd.throughput(),
            ms(etcd.p(0.50)),
            ms(etcd.p(0.99)),
            times(row.ratio())
        );
    }
    let _ = writeln!(o, "{line}");
    let _ = writeln!(
        o,
        "watch delivery: 1 watcher, 1 writer at {WATCH_RATE} creates/s for {WATCH_SECS} s (in {ROUNDS} alternating slices); w/s = achieved"
    );
    let _ = writeln!(
        o,
        "write rate, p50/p99 = time from just before the write call to the event reaching the watcher"
    );
    let [emb, etcd] = [&watches[0], &watches[1]];
    let _ = writeln!(
        o,
        "{:<8} {:>7} | {:>12.0} {:>9} {:>9} | {:>12.0} {:>9} {:>9} | {:>13}",
        "watch",
        1,
        emb.rate(),
        ms(percentile(&emb.latencies, 0.50)),
        ms(percentile(&emb.latencies, 0.99)),
        etcd.rate(),
        ms(percentile(&etcd.latencies, 0.50)),
        ms(percentile(&etcd.latencies, 0.99)),
        if emb.latencies.len() == emb.writes && etcd.latencies.len() == etcd.writes {
            "all events"
        } else {
            "MISSED EVENTS"
        }
    );
    let _ = writeln!(o, "{line}");

    let ratios = |writers: usize| -> Vec<(&'static str, Option<f64>)> {
        rows.iter()
            .filter(|r| r.writers == writers)
            .map(|r| (r.workload, r.ratio()))
            .collect()
    };
    let verdict = |ratios: &[(&str, Option<f64>)], ok: &dyn Fn(f64) -> bool| {
        if ratios.is_empty() {
            return "not measured in this run".to_string();
        }
        let met = ratios.iter().all(|&(_, r)| r.is_some_and(ok));
        let detail: Vec<String> = ratios.iter().map(|&(w, r)| format!("{w} {}", times(r))).collect();
        format!("{} ({})", if met { "MET" } else { "NOT MET" }, detail.join(", "))
    };
    let _ = writeln!(
        o,
        "issue targets: embedded >= etcd at 64 writers: {}",
        verdict(&ratios(64), &|r| r >= 1.0)
    );
    let _ = writeln!(
        o,
        "               embedded >  etcd at 1 writer:   {}",
        verdict(&ratios(1), &|r| r > 1.0)
    );

    let mut problems = Vec::new();
    for row in rows {
        for (backend, cell) in ["embedded", "etcd"].iter().zip(&row.cells) {
            if let Some(err) = &cell.first_error {
                problems.push(format!(
                    "{backend} {} x{}: {} errors, first: {err}",
                    row.workload, row.writers, cell.errors
                ));
            }
        }
    }
    for (backend, cell) in ["embedded", "etcd"].iter().zip(watches) {
        if let Some(err) = &cell.first_error {
            problems.push(format!("{backend} watch: {} write errors; {err}", cell.errors));
        }
        if cell.latencies.len() != cell.writes {
            problems.push(format!(
                "{backend} watch: {} of {} events received",
                cell.latencies.len(),
                cell.writes
            ));
        }
    }
    if !problems.is_empty() {
        let _ = writeln!(o, "\nproblems:");
        for p in problems {
            let _ = writeln!(o, "  {p}");
        }
    }
    out
}
