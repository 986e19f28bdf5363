//! `make bench-apiserver`: the release `kube-apiserver` binary as a child process, on the embedded
//! store and on a real etcd, measured from outside with kube-rs and raw HTTP/2:
//!
//! 1. ConfigMap creates (~1 KiB) per second and p50/p99 latency at 1, 16 and 64 concurrent clients,
//!    against the raw store (an `EmbeddedStore` in a temp dir / an `EtcdStore` on the same etcd)
//!    with as many writers, in one run; each cell is measured in slices alternating apiserver and
//!    raw store so that noise hits both alike. Target: apiserver >= 70% of the raw store at 64.
//! 2. Watch delivery: 1,000 ConfigMap watches in one namespace over a few HTTP/2 connections
//!    while one writer creates 500 ConfigMaps/s for 5 s; latency from the create's commit
//!    (acknowledgement) to each watcher receiving the event, as upstream's watch latency SLI, and
//!    from just before the create call. Target p99 < 100 ms (from commit).
//! 3. The apiserver's RSS idle after start and after creating 10,000 pods. Targets < 30 MiB and
//!    < 100 MiB.
//! 4. Time from spawning the process to `/readyz` answering 200 (fresh cert and data dirs, so
//!    certificate generation counts). Target < 0.2 s.
//! 5. Server-side apply vs a plain update (PUT) of the same ~50-field Deployment, 16 writers on
//!    raw HTTP/2, slices alternating: writes/s, p50/p99, CPU per write. Target: apply costs at
//!    most 2x an update (throughput and p99).
//!
//! Knobs for focused runs: `RUDDER_BENCH_SECS` (measuring time per create cell, default 3),
//! `RUDDER_BENCH_BACKENDS` (`embedded,etcd`), `RUDDER_BENCH_PODS` (10000),
//! `RUDDER_BENCH_WATCHERS` (1000), `RUDDER_BENCH_WATCH_BYTES` (sizes of the watched objects' data,
//! one watch run each, default `900,64`: as the creates, and small objects), `RUDDER_BENCH_PHASES` (`pods,creates,apply,watch`; the starts and idle
//! memory are always measured). Everything listens on 127.0.0.1; the apiservers and etcd are
//! killed by PID and their temporary directories removed, also on Ctrl-C.

#[path = "apiserver/apply.rs"]
mod apply;
#[path = "apiserver/load.rs"]
mod load;
#[path = "apiserver/process.rs"]
mod process;
#[path = "apiserver/report.rs"]
mod report;
#[path = "apiserver/watch.rs"]
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use rudder_store::Store;
use rudder_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rudder_store::etcd::{EtcdOptions, EtcdStore};
use rudder_store::etcd_process::EtcdProcess;

use load::{Cell, Target, Window};
use process::{ApiProcess, Pids};
use watch::WatchPlan;

/// Cold starts per backend (the last one stays up for the other measurements).
const STARTS: usize = 3;
/// Concurrent clients of the create rows.
const CONCURRENCY: [usize; 3] = [1, 16, 64];
/// Each create cell is measured in this many slices, alternating apiserver and raw store.
const ROUNDS: u32 = 2;
const SLICE_WARMUP: Duration = Duration::from_millis(200);
const DEFAULT_MEASURE: Duration = Duration::from_secs(3);
/// One-off warm-up (connections, allocator, page cache) before the first create cell.
const WARMUP: Duration = Duration::from_millis(600);
const POD_CONCURRENCY: usize = 32;
const WATCH_CONNECTIONS: usize = 20;
const WATCH_RATE: u64 = 500;
const WATCH_SECS: u64 = 5;

const NS_CREATES: &str = "bench";
/// Watch run `i` uses namespace `bench-watch-<i>`.
const NS_WATCH: &str = "bench-watch";
const NS_PODS: &str = "bench-pods";
const NS_APPLY: &str = "bench-apply";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Embedded,
    Etcd,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Etcd => "etcd",
        }
    }
}

/// What this run does.
#[derive(Debug, Clone)]
struct Settings {
    bin: PathBuf,
    measure: Duration,
    backends: Vec<Backend>,
    pods: usize,
    watches: Vec<WatchPlan>,
    phases: Vec<String>,
}

impl Settings {
    fn runs(&self, phase: &str) -> bool {
        self.phases.iter().any(|p| p == phase)
    }
}

/// The create rows, in table order.
const ROWS: [&str; 8] = [
    "api x1 (kube-rs)",
    "api x16 (kube-rs)",
    "api x64 (kube-rs, one shared Client)",
    "api x64 (kube-rs, one Client per writer)",
    "api x64 (raw HTTP/2, 4 connections)",
    "raw store x1",
    "raw store x16",
    "raw store x64",
];
const ROW_API_64: usize = 2;
const ROW_API_64_PER_CLIENT: usize = 3;
const ROW_H2_64: usize = 4;
const ROW_RAW_1: usize = 5;
const ROW_RAW_64: usize = 7;

/// Everything measured on one backend.
#[derive(Debug, Default)]
struct BackendResult {
    name: &'static str,
    startups: Vec<Duration>,
    /// (VmRSS, VmHWM) in KiB.
    idle_memory: Option<(u64, u64)>,
    pods: load::PodLoad,
    pods_memory: Option<(u64, u64)>,
    /// One cell per entry of [`ROWS`].
    cells: Vec<Cell>,
    watches: Vec<watch::WatchOutcome>,
    /// Server-side apply vs update (issue 4).
    apply: Option<apply::ApplyOutcome>,
    final_memory: Option<(u64, u64)>,
    problems: Vec<String>,
}

fn main() {
    let settings = match settings() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("bench-apiserver: {err:#}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = runtime.block_on(async {
        tokio::select! {
            report = run(&settings) => Some(report),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    // Apiservers, etcd and temporary directories are gone once `run` returned or was dropped.
    runtime.shutdown_timeout(Duration::from_secs(10));
    match outcome {
        Some(Ok(report)) => print!("{report}"),
        Some(Err(err)) => {
            eprintln!("bench-apiserver failed: {err:#}");
            std::process::exit(1);
        }
        None => {
            eprintln!("interrupted; processes stopped and temporary data removed");
            std::process::exit(130);
        }
    }
}

fn settings() -> anyhow::Result<Settings> {
    let bin = rudder_e2e::target_dir().join("release").join("kube-apiserver");
    anyhow::ensure!(
        bin.exists(),
        "{} is not built: run `cargo build --release -p rudder-apiserver` (make bench-apiserver does)",
        bin.display()
    );
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let number = |name: &str, default: usize, max: usize| {
        env(name)
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| (1..=max).contains(n))
            .unwrap_or(default)
    };
    let measure = env("RUDDER_BENCH_SECS")
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0 && *s <= 60.0)
        .map_or(DEFAULT_MEASURE, Duration::from_secs_f64);
    let backends = match env("RUDDER_BENCH_BACKENDS") {
        None => vec![Backend::Embedded, Backend::Etcd],
        Some(list) => list
            .split(',')
            .map(|b| match b.trim() {
                "embedded" => Ok(Backend::Embedded),
                "etcd" => Ok(Backend::Etcd),
                other => Err(anyhow::anyhow!(
                    "unknown backend {other:?} in RUDDER_BENCH_BACKENDS"
                )),
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let phases = env("RUDDER_BENCH_PHASES").unwrap_or_else(|| "pods,creates,apply,watch".into());
    Ok(Settings {
        phases: phases.split(',').map(|p| p.trim().to_string()).collect(),
        bin,
        measure,
        backends,
        pods: number("RUDDER_BENCH_PODS", 10_000, 100_000),
        watches: env("RUDDER_BENCH_WATCH_BYTES")
            .unwrap_or_else(|| format!("{},64", load::DATA_BYTES))
            .split(',')
            .filter_map(|b| b.trim().parse::<usize>().ok())
            .filter(|&b| b <= 64 * 1024)
            .map(|data_bytes| WatchPlan {
                watchers: number("RUDDER_BENCH_WATCHERS", 1000, 5000),
                connections: WATCH_CONNECTIONS,
                rate: WATCH_RATE,
                secs: WATCH_SECS,
                data_bytes,
            })
            .collect(),
    })
}

async fn run(settings: &Settings) -> anyhow::Result<String> {
    let started = Instant::now();
    let load_before = report::machine_load();
    let etcd = if settings.backends.contains(&Backend::Etcd) {
        eprintln!("starting etcd (fsync on) ...");
        Some(
            tokio::task::spawn_blocking(EtcdProcess::start)
                .await
                .context("etcd start task")?,
        )
    } else {
        None
    };
    let mut results = Vec::new();
    for &backend in &settings.backends {
        let mut result = BackendResult {
            name: backend.name(),
            ..BackendResult::default()
        };
        if let Err(err) = bench_backend(backend, settings, etcd.as_ref(), &mut result).await {
            result.problems.push(format!("aborted: {err:#}"));
        }
        results.push(result);
    }
    drop(etcd);
    let load = [load_before, report::machine_load()];
    Ok(report::render(settings, &load, &results, started.elapsed()))
}

async fn bench_backend(
    backend: Backend,
    settings: &Settings,
    etcd: Option<&EtcdProcess>,
    result: &mut BackendResult,
) -> anyhow::Result<()> {
    let name = backend.name();
    let etcd = match backend {
        Backend::Embedded => None,
        Backend::Etcd => Some(etcd.context("etcd was not started")?),
    };
    // 4. Cold starts; the last server stays up. Dirty pages the previous backend left behind
    // would otherwise be written back during these starts' fsyncs.
    flush_page_cache().await;
    let mut server: Option<ApiProcess> = None;
    for i in 0..STARTS {
        drop(server.take());
        let prefix = format!("/rudder-bench-{}-{i}", std::process::id());
        let etcd_arg = etcd.map(|e| (e.client_url(), prefix.as_str()));
        let started = ApiProcess::start(&settings.bin, etcd_arg).await?;
        eprintln!(
            "{name}: apiserver pid {} ready after {:?}",
            started.pid, started.ready_after
        );
        result.startups.push(started.ready_after);
        server = Some(started);
    }
    let server = server.context("no apiserver started")?;
    let pids = Pids {
        apiserver: server.pid,
        etcd: etcd.map(EtcdProcess::pid),
    };

    // 3. Memory idle, then with the pods.
    tokio::time::sleep(Duration::from_millis(500)).await;
    result.idle_memory = process::memory_kib(server.pid);
    let client = server.client()?;
    create_namespaces(&client, settings.watches.len()).await?;
    if settings.runs("pods") {
        eprintln!(
            "{name}: creating {} pods with {POD_CONCURRENCY} clients ...",
            settings.pods
        );
        result.pods = load::create_pods(&client, NS_PODS, settings.pods, POD_CONCURRENCY).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        result.pods_memory = process::memory_kib(server.pid);
    }
    if settings.runs("creates") {
        flush_page_cache().await;
        creates(name, &server, &client, &pids, etcd, settings, result).await?;
    }
    if settings.runs("apply") {
        eprintln!(
            "{name}: server-side apply vs update, {} writers ...",
            apply::WRITERS
        );
        let tls = server.h2_tls()?;
        let mut conns = Vec::new();
        for _ in 0..4 {
            conns.push(process::h2_connect(server.port, &tls).await?);
        }
        let window = apply::window(settings.measure, ROUNDS);
        let outcome =
            apply::apply_vs_update(&conns, &server.base_url(), NS_APPLY, window, ROUNDS, &pids).await?;
        result.apply = Some(outcome);
    }
    if settings.runs("watch") {
        let tls = server.h2_tls()?;
        for (i, plan) in settings.watches.iter().enumerate() {
            eprintln!(
                "{name}: watch delivery, {} watchers, {WATCH_RATE} creates/s for {WATCH_SECS} s, {} B of data ...",
                plan.watchers, plan.data_bytes
            );
            let namespace = format!("{NS_WATCH}-{i}");
            let outcome =
                watch::watch_delivery(server.port, &tls, client.clone(), &namespace, *plan, &pids).await?;
            result.watches.push(outcome);
        }
    }
    result.final_memory = process::memory_kib(server.pid);
    Ok(())
}

/// 1. Creates through the apiserver and into the raw store.
async fn creates(
    name: &str,
    server: &ApiProcess,
    client: &kube::Client,
    pids: &Pids,
    etcd: Option<&EtcdProcess>,
    settings: &Settings,
    result: &mut BackendResult,
) -> anyhow::Result<()> {
    let pids = *pids;

    let raw_dir = tempfile::Builder::new().prefix("rudder-bench-raw-").tempdir()?;
    let raw: Arc<dyn Store> = match etcd {
        None => {
            let dir = raw_dir.path().join("embedded");
            let store =
                tokio::task::spawn_blocking(move || EmbeddedStore::open(&dir, EmbeddedOptions::default()))
                    .await
                    .context("opening the raw embedded store")??;
            Arc::new(store)
        }
        Some(etcd) => Arc::new(
            EtcdStore::connect(EtcdOptions {
                endpoints: vec![etcd.client_url().to_string()],
                prefix: format!("/rudder-bench-raw-{}", std::process::id()),
                ..EtcdOptions::default()
            })
            .await
            .context("connecting the raw etcd store")?,
        ),
    };
    let shared = Arc::new(Target::Kube {
        clients: vec![client.clone()],
        namespace: NS_CREATES.into(),
    });
    let per_writer = Arc::new(Target::Kube {
        clients: (0..64).map(|_| server.client()).collect::<anyhow::Result<_>>()?,
        namespace: NS_CREATES.into(),
    });
    let h2_tls = server.h2_tls()?;
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(process::h2_connect(server.port, &h2_tls).await?);
    }
    let h2 = Arc::new(Target::H2 {
        conns,
        base_url: server.base_url(),
        namespace: NS_CREATES.into(),
    });
    let raw = Arc::new(Target::Raw {
        store: raw,
        namespace: NS_CREATES.into(),
    });

    eprintln!("{name}: warming up ...");
    let warm = Window {
        warmup: WARMUP,
        measure: Duration::ZERO,
    };
    for (target, tag) in [
        (&shared, "warm-k"),
        (&per_writer, "warm-p"),
        (&h2, "warm-h"),
        (&raw, "warm-s"),
    ] {
        let cell = load::creates(target.clone(), 64, tag, warm, &pids).await;
        if let Some(err) = cell.first_error {
            anyhow::bail!("{name}: creates fail during warm-up: {err}");
        }
    }
    let window = Window {
        warmup: SLICE_WARMUP,
        measure: settings.measure / ROUNDS,
    };
    let mut cells: Vec<Cell> = ROWS.iter().map(|_| Cell::default()).collect();
    for (i, &writers) in CONCURRENCY.iter().enumerate() {
        eprintln!("{name}: creates x{writers} ...");
        for round in 0..ROUNDS {
            let api = (i, &shared, format!("k{writers}-r{round}"));
            let store = (ROW_RAW_1 + i, &raw, format!("s{writers}-r{round}"));
            let order = if round % 2 == 0 {
                [api, store]
            } else {
                [store, api]
            };
            for (row, target, tag) in order {
                let cell = load::creates(target.clone(), writers, &tag, window, &pids).await;
                cells[row].add_slice(cell);
            }
        }
    }
    eprintln!("{name}: creates x64, one client per writer and raw HTTP/2 ...");
    for round in 0..ROUNDS {
        for (row, target, tag) in [
            (ROW_API_64_PER_CLIENT, &per_writer, "p64"),
            (ROW_H2_64, &h2, "h64"),
        ] {
            let cell = load::creates(target.clone(), 64, &format!("{tag}-r{round}"), window, &pids).await;
            cells[row].add_slice(cell);
        }
    }
    result.cells = cells.into_iter().map(Cell::finish).collect();
    Ok(())
}

/// Runs `sync(1)` (bounded), so that writeback of earlier phases' data does not slow the next
/// phase's fsyncs.
async fn flush_page_cache() {
    let sync = tokio::process::Command::new("sync").kill_on_drop(true).status();
    let _ = tokio::time::timeout(Duration::from_secs(30), sync).await;
}

/// Creates the benchmark's namespaces and waits until the apiserver admits objects into them
/// (its namespace cache follows the store asynchronously).
async fn create_namespaces(client: &kube::Client, watch_runs: usize) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut names: Vec<String> = (0..watch_runs).map(|i| format!("{NS_WATCH}-{i}")).collect();
    names.extend([NS_CREATES.to_string(), NS_APPLY.to_string(), NS_PODS.to_string()]);
    for name in &names {
        let ns = Namespace {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Namespace::default()
        };
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
    }
    // The namespaces were created in order, so once the last one admits objects all do.
    let probe: Api<ConfigMap> = Api::namespaced(client.clone(), NS_PODS);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cm = load::config_map(NS_PODS, "probe", 1, None);
        match probe.create(&PostParams::default(), &cm).await {
            Ok(_) => break,
            Err(err) if Instant::now() > deadline => {
                return Err(err).context("namespaces never admitted objects");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    probe
        .delete("probe", &DeleteParams::default())
        .await
        .context("deleting the probe")?;
    Ok(())
}

/// For the report: the path of the binary relative to the workspace, if it is inside.
fn short_path(path: &Path) -> String {
    let root = rudder_e2e::target_dir();
    let root = root.parent().unwrap_or(Path::new("/"));
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}
