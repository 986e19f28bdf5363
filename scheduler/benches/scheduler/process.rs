//! The release kube-scheduler as a child process: spawn, count bindings by watching, sample
//! its memory, kill it by PID.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::watcher;

use super::setup::NAMESPACE;

pub(crate) struct EndToEnd {
    pub(crate) bound: usize,
    pub(crate) total_rate: f64,
    pub(crate) steady_rate: f64,
    pub(crate) peak_rss_kib: u64,
    pub(crate) log_lines: usize,
}

pub(crate) fn scheduler_binary() -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("release/kube-scheduler");
    anyhow::ensure!(
        bin.exists(),
        "{} not found: build it first (cargo build --release -p rudder-scheduler, as make bench-scheduler does)",
        bin.display()
    );
    Ok(bin)
}

/// Kills the child by PID when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VmHWM` (peak resident set) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn bound(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty())
}

pub(crate) async fn run_end_to_end(
    binary: &PathBuf,
    server: &rudder_testkit::TestApiServer,
    pods: usize,
    timeout: Duration,
) -> anyhow::Result<EndToEnd> {
    let log_dir = tempfile::tempdir().context("log dir")?;
    let log_path = log_dir.path().join("kube-scheduler.log");
    let log = std::fs::File::create(&log_path).context("log file")?;
    // Watch first, so no binding is missed.
    let api: Api<Pod> = Api::namespaced(server.client.clone(), NAMESPACE);
    let mut events = watcher(api, watcher::Config::default()).boxed();
    let start = Instant::now();
    let child = Command::new(binary)
        .arg(format!("--kubeconfig={}", server.kubeconfig.display()))
        .arg("--leader-elect=false")
        .arg("--secure-port=0")
        // Like upstream's scheduler_perf, which raises the client's QPS/burst to 5000: the
        // default 50/100 would measure the client-side limiter, not the scheduler.
        .arg("--kube-api-qps=5000")
        .arg("--kube-api-burst=5000")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("spawn kube-scheduler")?;
    let pid = child.id();
    let _guard = Guard(child);
    let mut seen: HashSet<String> = HashSet::new();
    let mut first_bind: Option<Instant> = None;
    let mut peak = 0;
    let mut last_sample = Instant::now();
    let mut last_report = Instant::now();
    while seen.len() < pods {
        let remaining = timeout.saturating_sub(start.elapsed());
        anyhow::ensure!(
            !remaining.is_zero(),
            "timed out with {} of {pods} pods bound",
            seen.len()
        );
        let Ok(Some(ev)) = tokio::time::timeout(remaining.min(Duration::from_secs(1)), events.next()).await
        else {
            peak = peak.max(peak_rss_kib(pid));
            continue;
        };
        let objs: Vec<Pod> = match ev {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => vec![p],
            Ok(_) => Vec::new(),
            Err(e) => {
                eprintln!("  watch error (retrying): {e}");
                Vec::new()
            }
        };
        for p in objs {
            if bound(&p) && seen.insert(p.metadata.name.clone().unwrap_or_default()) && first_bind.is_none() {
                first_bind = Some(Instant::now());
            }
        }
        if last_sample.elapsed() > Duration::from_millis(250) {
            peak = peak.max(peak_rss_kib(pid));
            last_sample = Instant::now();
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            println!(
                "  ... {} bound after {:.1}s",
                seen.len(),
                start.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    let end = Instant::now();
    peak = peak.max(peak_rss_kib(pid));
    let first = first_bind.unwrap_or(start);
    let total = end.duration_since(start).as_secs_f64();
    let steady = end.duration_since(first).as_secs_f64().max(1e-3);
    println!(
        "  all {pods} bound {total:.1}s after the scheduler started (first bind at {:.1}s)",
        first.duration_since(start).as_secs_f64()
    );
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let log_lines = log.lines().count();
    if let Ok(keep) = std::env::var("RUDDER_BENCH_KEEP_LOG") {
        let _ = std::fs::write(&keep, &log);
    }
    Ok(EndToEnd {
        bound: seen.len(),
        total_rate: pods as f64 / total,
        steady_rate: seen.len().saturating_sub(1) as f64 / steady,
        peak_rss_kib: peak,
        log_lines,
    })
}
